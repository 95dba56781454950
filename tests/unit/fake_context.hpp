// A kernel-free ExecContext for unit tests of hypervisor code: time is a
// plain counter and there is no other thread to synchronise with.
#pragma once
#include <stdexcept>

#include "sim/exec_context.hpp"

namespace vmxsim::test {

class FakeContext : public ExecContext {
 public:
  Cycles now() const override { return t; }
  void charge(Cycles c) override { t += c; }
  void sync() override { ++syncs; }
  unsigned thread_id() const override { return id; }
  void block() override { throw std::logic_error("FakeContext cannot block"); }
  void wake(Cycles) override { throw std::logic_error("FakeContext cannot be woken"); }
  Cycles t = 0;
  unsigned syncs = 0;
  unsigned id = 0;
};

}  // namespace vmxsim::test
