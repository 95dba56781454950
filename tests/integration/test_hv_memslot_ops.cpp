// Memslot operations in simulated time end to end (issue 12): kvm_set_memslot's
// swaps and SRCU grace periods, a moved slot's old GPAs exiting as MMIO, the
// MMU notifier's unmaps, and memslot_perf_test's host side.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

using namespace vmxsim::test;

namespace {
const std::string kStudy = kSrc + "/configs/studies/memslots/";

// `vmxsim run` on a shipped study config with `extra` options.
RunResult run_study(const std::string& name, const std::string& extra = "") {
  const std::string st = tmp("stats.json");
  std::remove(st.c_str());
  const CliResult c = run_cli("run " + kStudy + name + " --quiet --stats " + st + " " + extra);
  RunResult r{c.rc, json::object(), c.err};
  if (r.rc == 0 || r.rc == 3) r.stats = json::parse(slurp(st));
  return r;
}
}  // namespace

TEST(HvMemslotOps, MoveActiveExitsAsMmioAndLosesNoDirtyPage) {
  // memslot_perf_test's move-active case at 10 slots, with dirty logging and
  // the oracle on: the guest keeps writing 50 pages across the last slot's
  // start while it moves away and back.
  const std::string base = "0x" + [] {
    // The last of 9 slots over 131073 pages: 14563 pages each.
    char b[32];
    std::snprintf(b, sizeof b, "%llx", 0x10000000ull + 8ull * 14563 * 4096 - 25 * 4096);
    return std::string(b);
  }();
  const RunResult r =
      run_study("move_active.json", "--set vmm.memslot_perf.slots=10 --set workload.generator.base=" + base +
                                        " --set vmm.dirty_log.enabled=true --set vmm.dirty_log.start_cycles=400000000"
                                        " --set vmm.dirty_log.period_cycles=100000 --set check.dirty_log=true"
                                        " --fail-on-violation");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  EXPECT_EQ(s["vmm.memslot_perf.iterations"], 10);
  EXPECT_EQ(s["hv.memslot_ops.moves"], 20);
  EXPECT_EQ(s["hv.memslot_ops.creates"], 9);
  // Creates swap once, moves twice: 9 + 2 × 20.
  EXPECT_EQ(s["hv.memslot_ops.swaps"], 49);
  EXPECT_EQ(s["hv.srcu.syncs"], 49);
  EXPECT_GT(s["hv.mmio.vacated_faults"].get<int>(), 0);  // writes while the slot was away
  EXPECT_GT(s["hv.memslot_ops.zapped_leaves"].get<int>(), 0);
  EXPECT_EQ(s["check.dirty_lost"], 0);
  EXPECT_GT(s["check.dirty_written"].get<int>(), 0);
}

TEST(HvMemslotOps, MoveInactiveTakesNoMmioExit) {
  const RunResult r = run_study("move_inactive.json");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.stats["hv.mmio.vacated_faults"], 0);
  EXPECT_EQ(r.stats["hv.memslot_retries"], 0);
  EXPECT_EQ(r.stats["hv.memslot_ops.moves"], 20);
}

TEST(HvMemslotOps, UnmapCutsRequestsAtSlotBoundaries) {
  for (const char* impl : {"array", "tree"}) {
    const RunResult r4k = run_study("unmap.json", std::string("--set hv.memslots_impl=") + impl);
    ASSERT_EQ(r4k.rc, 0) << r4k.err;
    EXPECT_EQ(r4k.stats["vmm.memslot_perf.host_ops"], 32768) << impl;  // 128 MiB in 4 KiB requests
    EXPECT_EQ(r4k.stats["hv.memslot_ops.unmaps"], 32768);
    // 2 MiB requests over 508 slots of 64 pages (the last 321), offset by
    // the sync page: each request is cut into 8 or 9 pieces.
    const RunResult r2m = run_study("unmap_chunked.json", std::string("--set hv.memslots_impl=") + impl);
    ASSERT_EQ(r2m.rc, 0) << r2m.err;
    const int ops = r2m.stats["vmm.memslot_perf.host_ops"].get<int>();
    EXPECT_GE(ops, 64 * 8);
    EXPECT_LE(ops, 64 * 9);
  }
}

TEST(HvMemslotOps, DeleteLeavesItsGpasToMmioAndBadOpsAreClearErrors) {
  const std::string trace = write_file("t.trace", "0 W 0x10000000\n0 W 0x10000000 8 2000000\n");
  const std::string cfg = R"({"cpu": {"vcpus": 1},
    "hv": {"memslots": [{"gpa": 0, "size": "16MiB"}, {"gpa": "256MiB", "size": "2MiB"}]},
    "vmm": {"memslot_ops": [{"at_cycles": 1000000, "op": "delete", "id": 1}]},
    "workload": {"paging": "off", "trace": ")" +
                          trace + R"("}})";
  const RunResult r = run_config(cfg);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.stats["hv.memslot_ops.deletes"], 1);
  EXPECT_EQ(r.stats["hv.memslot_ops.swaps"], 2);
  EXPECT_EQ(r.stats["hv.memslot_ops.zapped_leaves"], 1);
  EXPECT_EQ(r.stats["hv.mmio.vacated_faults"], 1);  // the second write: the slot is gone

  // An op on a deleted slot names its key path.
  std::string bad = cfg;
  bad.replace(bad.find("]},\n    \"workload\""), 2,
              R"(, {"at_cycles": 2000000, "op": "move", "id": 1, "to_gpa": "512MiB"}]})");
  const RunResult e = run_config(bad);
  EXPECT_EQ(e.rc, 1) << e.err;
  EXPECT_NE(e.err.find("vmm.memslot_ops[1].id: no slot has id 1 at cycle 2000000"), std::string::npos) << e.err;
  // A move onto another slot is a clear error at its time.
  std::string overlap = cfg;
  overlap.replace(overlap.find(R"("op": "delete", "id": 1)"), 23, R"("op": "move", "id": 1, "to_gpa": "8MiB")");
  const RunResult o = run_config(overlap);
  EXPECT_EQ(o.rc, 1) << o.err;
  EXPECT_NE(o.err.find("overlaps"), std::string::npos) << o.err;
}

TEST(HvMemslotOps, PerfConfigErrorsNameTheKeyPath) {
  const RunResult r = run_study("unmap.json", "--set vmm.memslot_perf.slots=40000");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("vmm.memslot_perf.slots"), std::string::npos) << r.err;
}

TEST(HvMemslotOps, MapMeetsTheGuestAtTheSyncPageTwiceAnIteration) {
  const RunResult r = run_study("map.json", "--set vmm.memslot_perf.slots=100");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  EXPECT_EQ(s["vmm.memslot_perf.iterations"], 2);
  // Four sync writes: the first installs the doorbell's MMIO entry, the
  // rest are misconfiguration exits served from it.
  EXPECT_EQ(s["hv.mmio.emulated"], 4);
  EXPECT_EQ(s["hv.mmio.faults"], 1);
  EXPECT_EQ(s["hv.mmio.hits"], 3);
  // Every page of the area faults in each iteration (the host unmapped it):
  // 2 × 8192, plus the doorbell's first write.
  EXPECT_EQ(s["vcpu0.exits.ept_violation"], 2 * 8192 + 1);
  // The second half had nothing mapped in the first iteration's first phase.
  EXPECT_EQ(s["hv.memslot_ops.zapped_leaves"], 8192 + 4096);
  // A guest that is not the test's is an error before the run, not a hang.
  const RunResult e = run_study("map.json", "--set workload.generator.accesses_per_vcpu=100");
  EXPECT_EQ(e.rc, 1);
  // The --set gave the bad value: it is named, with what it gave.
  EXPECT_NE(e.err.find("--set workload.generator.accesses_per_vcpu=100: expected vmm.memslot_perf.iterations × 8194 = "
                       "16388 (two phases and two syncs an iteration), got 100"),
            std::string::npos)
      << e.err;
}

TEST(HvMemslotOps, RwMeetsTheGuestTwiceAnIterationWithEitherImplementation) {
  // No memslot operation: a control. Both sides meet twice an iteration.
  const RunResult a = run_study("rw.json",
                                "--set vmm.memslot_perf.slots=50 --set vmm.memslot_perf.iterations=1"
                                " --set workload.generator.accesses_per_vcpu=262146");
  const RunResult t = run_study("rw.json",
                                "--set vmm.memslot_perf.slots=50 --set vmm.memslot_perf.iterations=1"
                                " --set workload.generator.accesses_per_vcpu=262146 --set hv.memslots_impl=tree");
  ASSERT_EQ(a.rc, 0) << a.err;
  ASSERT_EQ(t.rc, 0) << t.err;
  EXPECT_EQ(a.stats["hv.mmio.emulated"], 2);
  EXPECT_EQ(a.stats["vcpu0.exits.ept_violation"], 131072 + 1);  // every page's first touch, the doorbell
  EXPECT_EQ(a.stats["vmm.memslot_perf.host_ops"], 0);
  EXPECT_GT(a.stats["vmm.memslot_perf.best_iteration_cycles"].get<double>(), 0);
}
