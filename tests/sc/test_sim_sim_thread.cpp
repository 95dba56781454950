// The time model (docs/architecture.md, "Time") under the real SystemC kernel: shared-state
// accesses replay in (cycle, thread id) order whatever the quantum, a lone
// thread never waits in the kernel, and the simulated lock hands over in FIFO
// order at the right times. Each test elaborates once, in its own process.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <systemc>

#include "hv/lock.hpp"
#include "hv/srcu.hpp"
#include "sim/sim_thread.hpp"

using namespace vmxsim;
using sim::SimThread;

namespace {

struct Event {
  Cycles cycle;
  unsigned thread;
  std::string what;
  bool operator==(const Event& o) const { return cycle == o.cycle && thread == o.thread && what == o.what; }
};

// Runs each body in its own SC_THREAD and returns after sc_start.
void run_threads(std::vector<std::function<void()>> bodies) {
  for (std::size_t i = 0; i < bodies.size(); ++i) sc_core::sc_spawn(bodies[i], ("t" + std::to_string(i)).c_str());
  sc_core::sc_start();
}

// Two threads log shared accesses at chosen cycles. Returns the log order.
std::vector<Event> interleave(Cycles quantum) {
  std::vector<Event> log;
  static SimThread* a;
  static SimThread* b;
  a = new SimThread(1, quantum);
  b = new SimThread(0, quantum);
  auto step = [&log](SimThread& t, Cycles at, const char* what) {
    while (t.now() < at) {  // private work, one cycle at a time
      t.charge(1);
      t.maybe_yield();
    }
    t.sync();
    log.push_back({t.now(), t.thread_id(), what});
  };
  run_threads({[&] {
                 step(*a, 100, "a1");
                 step(*a, 300, "a2");
                 step(*a, 500, "a3");
               },
               [&] {
                 step(*b, 200, "b1");
                 step(*b, 300, "b2");  // same cycle as a2: thread 0 goes first
                 step(*b, 450, "b3");
               }});
  return log;
}

}  // namespace

TEST(TimeModel, SharedAccessesReplayInCycleThenThreadOrder) {
  const auto log = interleave(1000);
  const std::vector<Event> want = {{100, 1, "a1"}, {200, 0, "b1"}, {300, 0, "b2"},
                                   {300, 1, "a2"}, {450, 0, "b3"}, {500, 1, "a3"}};
  EXPECT_EQ(log, want);
}

TEST(TimeModel, OrderIsTheSameWithAQuantumOfOneCycle) {
  const auto log = interleave(1);
  const std::vector<Event> want = {{100, 1, "a1"}, {200, 0, "b1"}, {300, 0, "b2"},
                                   {300, 1, "a2"}, {450, 0, "b3"}, {500, 1, "a3"}};
  EXPECT_EQ(log, want);
}

TEST(TimeModel, ALoneThreadNeverWaitsInTheKernel) {
  static SimThread t(0, 10);
  run_threads({[] {
    for (int i = 0; i < 100000; ++i) {
      t.charge(3);
      t.maybe_yield();
      if (i % 7 == 0) t.sync();
    }
  }});
  EXPECT_EQ(t.kernel_waits, 0u);
  EXPECT_EQ(t.now(), 300000u);
}

TEST(TimeModel, TwoThreadsWaitOnlyWhenTheOtherIsBehind) {
  static SimThread a(0, 1000), b(1, 1000);
  run_threads({[] {
                 for (int i = 0; i < 10000; ++i) {
                   a.charge(1);
                   a.maybe_yield();
                 }
               },
               [] {
                 for (int i = 0; i < 10000; ++i) {
                   b.charge(1);
                   b.maybe_yield();
                 }
               }});
  // Each yields about once per quantum while the other is behind it.
  EXPECT_GT(a.kernel_waits + b.kernel_waits, 5u);
  EXPECT_LE(a.kernel_waits + b.kernel_waits, 22u);
  EXPECT_EQ(a.now(), 10000u);
  EXPECT_EQ(b.now(), 10000u);
}

TEST(TimeModel, LockHandsOverFifoAtReleasePlusHandoff) {
  hv::LockCosts c;
  c.acquire = 10;
  c.release = 5;
  c.handoff = 60;
  static hv::Lock* lock;
  lock = new hv::Lock("mmu_lock", c);
  static SimThread t0(0, 1000), t1(1, 1000), t2(2, 1000);
  static std::vector<Event> log;
  auto body = [](SimThread& t, Cycles start, Cycles hold) {
    return [&t, start, hold] {
      t.charge(start);
      lock->acquire(t);
      log.push_back({t.now(), t.thread_id(), "got"});
      t.charge(hold);
      lock->release(t);
      log.push_back({t.now(), t.thread_id(), "released"});
    };
  };
  run_threads({body(t0, 100, 1000), body(t1, 200, 50), body(t2, 150, 50)});
  // Every acquire and release is an atomic on the lock word's line: the
  // handoff's 60 when the line comes from another thread, else acquire's 10
  // or release's 5, one at a time. t0 takes the line at 100 (160); t2's
  // atomic waits for it (160..220), t1's for t2's (220..280), so t0's
  // release at 1160 fetches the line back (1220); t2 gets the lock at
  // 1220 + 60 and releases locally (+5), t1 after t2.
  const std::vector<Event> want = {{160, 0, "got"},       {1220, 0, "released"}, {1280, 2, "got"},
                                   {1335, 2, "released"}, {1395, 1, "got"},      {1450, 1, "released"}};
  EXPECT_EQ(log, want);
  EXPECT_EQ(lock->acquisitions, 3u);
  EXPECT_EQ(lock->contended, 2u);
  EXPECT_EQ(lock->wait_cycles, (1280u - 150) + (1395u - 200));
  EXPECT_EQ(lock->hold_cycles, (1220u - 160) + (1335u - 1280) + (1450u - 1395));
}

TEST(TimeModel, ReaderWriterLockSharesReadersAndQueuesFairly) {
  hv::LockCosts c;
  c.acquire = 10;
  c.release = 5;
  c.handoff = 60;
  static hv::Lock* lock;
  lock = new hv::Lock("mmu_lock", c, hv::LockKind::kRw);
  static SimThread r0(0, 1000), r1(1, 1000), w2(2, 1000), r3(3, 1000);
  static std::vector<Event> log;
  auto body = [](SimThread& t, Cycles start, Cycles hold, hv::LockMode m) {
    return [&t, start, hold, m] {
      t.charge(start);
      lock->acquire(t, m);
      log.push_back({t.now(), t.thread_id(), "got"});
      t.charge(hold);
      lock->release(t);
    };
  };
  // r0 and r1 read together; w2 waits for both; r3 arrives after w2 is
  // queued, so it waits behind the writer (no writer starvation).
  run_threads({body(r0, 100, 1000, hv::LockMode::kRead), body(r1, 150, 500, hv::LockMode::kRead),
               body(w2, 200, 300, hv::LockMode::kWrite), body(r3, 250, 100, hv::LockMode::kRead)});
  // Readers share the lock but not its line: each atomic moves it (60).
  // r0 holds 160..1220, r1 220..780 (shared); w2's and r3's atomics queue
  // for the line (220..280, 280..340). w2 gets the lock at 1220 + 60 = 1280,
  // releases at 1280 + 300 + 5 = 1585; r3 gets it at 1645, releases at 1750.
  const std::vector<Event> want = {{160, 0, "got"}, {220, 1, "got"}, {1280, 2, "got"}, {1645, 3, "got"}};
  EXPECT_EQ(log, want);
  EXPECT_EQ(lock->acquisitions, 4u);
  EXPECT_EQ(lock->read_acquisitions, 3u);
  EXPECT_EQ(lock->contended, 2u);
  EXPECT_EQ(lock->wait_cycles, (1280u - 200) + (1645u - 250));
  EXPECT_EQ(lock->hold_cycles, (1220u - 160) + (780u - 220) + (1585u - 1280) + (1750u - 1645));
}

// SRCU (hv::Srcu): a memslot swap's grace period waits for a vCPU inside an
// exit handler, and only for readers that were inside when it began.
TEST(TimeModel, SrcuGracePeriodWaitsForAReaderInsideAnExitHandler) {
  static hv::Srcu* srcu;
  srcu = new hv::Srcu(/*sync_cycles=*/100);
  static SimThread vcpu(0, 1000), vmm(1, 1000), late(2, 1000);
  static std::vector<Event> log;
  run_threads({[] {
                 vcpu.charge(50);
                 srcu->read_lock(vcpu);  // a VM exit at 50
                 vcpu.charge(2000);      // the handler runs until 2050
                 srcu->read_unlock(vcpu);
                 log.push_back({vcpu.now(), 0, "entry"});
               },
               [] {
                 vmm.charge(500);
                 srcu->synchronize(vmm);  // waits for the vCPU's section (50..2050)
                 log.push_back({vmm.now(), 1, "synced"});
               },
               [] {
                 late.charge(700);
                 srcu->read_lock(late);  // enters after the grace period began: not waited for
                 late.charge(5000);
                 srcu->read_unlock(late);
               }});
  // Woken one cycle after the last old reader left, then the grace period's own cost.
  const std::vector<Event> want = {{2050, 0, "entry"}, {2151, 1, "synced"}};
  EXPECT_EQ(log, want);
  EXPECT_EQ(srcu->syncs, 1u);
  EXPECT_EQ(srcu->waited, 1u);
  EXPECT_EQ(srcu->wait_cycles, 2051u - 500);
}
