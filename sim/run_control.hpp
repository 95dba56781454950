// sim::RunControl — how simulated threads report the end of their work, or an
// error, to the Simulation. An exception in one thread stops the kernel and is
// rethrown from Simulation::run(), so bad input never hangs or crashes a run.
#pragma once
#include <algorithm>
#include <exception>

#include <systemc>

#include "sim/types.hpp"

namespace vmxsim::sim {

class RunControl {
 public:
  void fail(std::exception_ptr e) {
    if (!error_) error_ = e;
    stopping_ = true;
    sc_core::sc_stop();
  }
  bool stopping() const { return stopping_; }
  void finished(unsigned /*thread*/, Cycles t) {
    end_ = std::max(end_, t);
    ++finished_;
  }
  unsigned finished_count() const { return finished_; }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }
  Cycles end() const { return end_; }

 private:
  std::exception_ptr error_;
  bool stopping_ = false;
  Cycles end_ = 0;
  unsigned finished_ = 0;
};

}  // namespace vmxsim::sim
