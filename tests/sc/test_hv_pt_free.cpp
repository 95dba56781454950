// Page-table freeing policies (hv::PtFreePolicy, docs/pt-freeing.md) on
// hand-timed cases under the real SystemC kernel: which readers delay a
// free, when the bound stalls the freer, what ipi_wait waits for, and the
// use-after-free oracle. Each test elaborates once, in its own process.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "hv/check/pt_free_oracle.hpp"
#include "hv/pt_free.hpp"
#include "hv/rcu.hpp"
#include "hv/requests.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/sim_thread.hpp"

using namespace vmxsim;
using sim::SimThread;

namespace {

void run_threads(std::vector<std::function<void()>> bodies) {
  for (std::size_t i = 0; i < bodies.size(); ++i) sc_core::sc_spawn(bodies[i], ("t" + std::to_string(i)).c_str());
  sc_core::sc_start();
}

// One policy over a PhysMem, an RCU and a Requests with no vCPU attached (so
// the remote flush costs nothing and waits for nobody); frees are logged.
struct World {
  World(const std::string& policy, const std::string& pt_free_json = "{}", Cycles gp = 0)
      : tracker(json::parse(pt_free_json), "pt_free.json"), root(tracker), rcu(mem, rcu_params(gp)) {
    auto maker = hv::PtFreeRegistry::instance().configure(policy, "hv.pt_free.policy", root, SystemInfo{});
    pt = maker(env);
    rcu.on_free([this](Addr p, Cycles t) {
      frees.push_back({p, t});
      oracle.freed(p, t);
    });
  }
  static hv::RcuParams rcu_params(Cycles gp) {
    hv::RcuParams p;
    p.gp_cycles = gp;
    return p;
  }
  ConfigTracker tracker;
  Cfg root;
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Rcu rcu;
  hv::Requests requests{0, 0};
  hv::PtFreeEnv env{rcu, requests, /*ipi_send=*/10};
  std::unique_ptr<hv::PtFreePolicy> pt;
  hv::PtFreeOracle oracle{true};
  std::vector<std::pair<Addr, Cycles>> frees;
};

// call_rcu: a reader inside at the commit delays the free until it leaves; a
// reader that began after the commit does not; the freer never waits.
TEST(PtFree, CallRcuWaitsForReadersThatWereInsideOnly) {
  static World* w = new World("call_rcu");
  static SimThread v0(0, 1000), v1(1, 1000), vmm(2, 1000);
  static Addr page;
  static Cycles returned;
  page = w->mem.alloc_table();
  run_threads({[] {
                 v0.charge(50);
                 w->pt->reader_begin(v0);  // 50 .. 2050
                 v0.charge(2000);
                 w->pt->reader_end(v0);
               },
               [] {
                 v1.charge(700);
                 w->pt->reader_begin(v1);  // 700 .. 5700: began after the commit
                 v1.charge(5000);
                 w->pt->reader_end(v1);
               },
               [] {
                 vmm.charge(500);
                 w->pt->commit(vmm, {page}, true, "zap");
                 returned = vmm.now();
               }});
  EXPECT_EQ(returned, 500u);  // call_rcu returns at once
  ASSERT_EQ(w->frees.size(), 1u);
  EXPECT_EQ(w->frees[0], std::make_pair(page, Cycles{2050}));
  EXPECT_EQ(w->rcu.wait_cycles, 2050u - 500);
  EXPECT_EQ(w->rcu.longest_waited, 2000u);
  EXPECT_EQ(w->rcu.max_pending, 1u);
}

// hv.rcu.gp_cycles: with no reader the grace period still lasts gp_cycles;
// the callback runs at the first RCU event after it.
TEST(PtFree, CallRcuGracePeriodHasItsOwnLatency) {
  static World* w = new World("call_rcu", "{}", /*gp=*/3000);
  static SimThread v0(0, 1000), vmm(1, 1000);
  static Addr page;
  page = w->mem.alloc_table();
  run_threads({[] {
                 vmm.charge(500);
                 w->pt->commit(vmm, {page}, true, "zap");  // ends at 3500
               },
               [] {
                 v0.charge(3000);
                 w->pt->reader_begin(v0);  // 3000: too early
                 v0.charge(1000);
                 w->pt->reader_end(v0);  // 4000: the callbacks run
               }});
  ASSERT_EQ(w->frees.size(), 1u);
  EXPECT_EQ(w->frees[0].second, 4000u);
  EXPECT_EQ(w->rcu.gp_hist.max, 3000u);
  EXPECT_EQ(w->rcu.pending_pages(), 0u);
}

// call_rcu_bounded: the freer stalls exactly when a commit would pass
// max_pending, for one grace period, and then nothing is pending.
TEST(PtFree, BoundStallsTheFreerExactlyWhenReached) {
  static World* w = new World("call_rcu_bounded", R"({"max_pending": 2})");
  static SimThread v0(0, 1000), vmm(1, 1000);
  static std::vector<Cycles> returned;
  static std::vector<std::uint64_t> pending;
  run_threads({[] {
                 v0.charge(10);
                 w->pt->reader_begin(v0);  // 10 .. 10010
                 v0.charge(10000);
                 w->pt->reader_end(v0);
               },
               [] {
                 for (Cycles at : {100, 200, 300}) {
                   vmm.charge(at - vmm.now());
                   w->pt->commit(vmm, {w->mem.alloc_table()}, true, "zap");
                   returned.push_back(vmm.now());
                   pending.push_back(w->rcu.pending_pages());
                 }
               }});
  EXPECT_EQ(returned, (std::vector<Cycles>{100, 200, 10011}));  // the third waits for the reader
  EXPECT_EQ(pending, (std::vector<std::uint64_t>{1, 2, 0}));
  EXPECT_EQ(w->frees.size(), 3u);
  EXPECT_EQ(w->rcu.max_pending, 2u);
}

// synchronize: every commit waits for a grace period, readers or not.
TEST(PtFree, SynchronizeWaitsAGracePeriodPerCommit) {
  static World* w = new World("synchronize", "{}", /*gp=*/4000);
  static SimThread vmm(0, 1000);
  static Cycles returned;
  static Addr page;
  page = w->mem.alloc_table();
  run_threads({[] {
    vmm.charge(100);
    w->pt->commit(vmm, {page}, true, "zap");
    returned = vmm.now();
  }});
  EXPECT_EQ(returned, 4100u);
  ASSERT_EQ(w->frees.size(), 1u);
  EXPECT_EQ(w->frees[0].second, 4100u);
  EXPECT_EQ(w->rcu.max_pending, 0u);  // nothing ever waits queued
}

// ipi_wait: the commit's IPI cannot complete while a walker has interrupts
// off: the freer waits for the walker in progress (not for one that began
// later), with no RCU latency, and frees at once.
TEST(PtFree, IpiWaitWaitsForTheWalkerInProgress) {
  static World* w = new World("ipi_wait", "{}", /*gp=*/1000000);  // RCU latency does not apply
  static SimThread v0(0, 1000), v1(1, 1000), vmm(2, 1000);
  static Addr page;
  static Cycles returned;
  page = w->mem.alloc_table();
  run_threads({[] {
                 v0.charge(100);
                 w->pt->reader_begin(v0);  // 100 .. 5000
                 v0.charge(4900);
                 w->pt->reader_end(v0);
               },
               [] {
                 v1.charge(2000);
                 w->pt->reader_begin(v1);  // 2000 .. 9000
                 v1.charge(7000);
                 w->pt->reader_end(v1);
               },
               [] {
                 vmm.charge(1000);
                 w->pt->commit(vmm, {page}, true, "zap");
                 returned = vmm.now();
               }});
  EXPECT_EQ(returned, 5001u);  // woken one cycle after the walker's end
  ASSERT_EQ(w->frees.size(), 1u);
  EXPECT_EQ(w->frees[0].second, 5001u);
}

// unsafe_immediate frees under a walker; the oracle names the walker, the
// page and the three times. A safe policy never lets that happen.
TEST(PtFree, UnsafeImmediateIsCaughtByTheOracle) {
  static World* w = new World("unsafe_immediate");
  static SimThread v0(0, 1000), vmm(1, 1000);
  static Addr page;
  page = w->mem.alloc_table();
  run_threads({[] {
                 v0.charge(100);
                 w->pt->reader_begin(v0);
                 const hv::PtHold h = w->oracle.hold(page + 8, v0.now());  // read the pointer at 100
                 v0.charge(4900);
                 v0.sync();
                 EXPECT_FALSE(w->oracle.use(h, v0.thread_id(), "test walker", v0.now()));  // at 5000
                 w->pt->reader_end(v0);
               },
               [] {
                 vmm.charge(1000);
                 w->pt->commit(vmm, {page}, true, "zap");
               }});
  ASSERT_EQ(w->oracle.violations().size(), 1u);
  const auto& v = w->oracle.violations()[0];
  EXPECT_EQ(v.walker, "test walker");
  EXPECT_EQ(v.page, page);
  EXPECT_EQ(v.held_at, 100u);
  EXPECT_EQ(v.freed_at, 1000u);
  EXPECT_EQ(v.used_at, 5000u);
}

}  // namespace
