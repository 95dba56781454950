// A thread of its own for benchmarks: time passes only by charges; nothing
// synchronises or blocks.
#pragma once
#include "sim/exec_context.hpp"

namespace vmxsim {

class NullContext : public ExecContext {
 public:
  Cycles now() const override { return t_; }
  void charge(Cycles c) override { t_ += c; }
  void sync() override {}
  unsigned thread_id() const override { return 0; }
  void block() override {}
  void wake(Cycles) override {}

 private:
  Cycles t_ = 0;
};

}  // namespace vmxsim
