// Dirty logging end to end through the real binary: the PML 512/513 boundary
// (and the same boundary for the `sized` variant), what is and is not
// logged, huge-page splitting on the write fault, and the dirty-log oracle
// clean on multi-vCPU workloads in both modes — and catching losses when the
// model is broken on purpose.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

// Guest-physical trace: read n+1 pages (mapping them, clean), write the
// first n, then write page n (the one that overflows an n-entry log), then
// write page 0 again (already dirty: not logged).
std::string boundary_trace(unsigned n) {
  const std::string path = tmp("boundary.trace");
  std::ofstream t(path);
  for (unsigned i = 0; i <= n; ++i) t << "0 R 0x" << std::hex << (0x100000 + i * 0x1000) << std::dec << "\n";
  for (unsigned i = 0; i <= n; ++i) t << "0 W 0x" << std::hex << (0x100000 + i * 0x1000) << std::dec << "\n";
  t << "0 W 0x100000\n";
  return path;
}

std::string pml_config(const std::string& trace, const std::string& pml) {
  return R"({"cpu": {"vcpus": 1},
    "hv": {"dirty_log": {"mode": "pml"}, "memslots": [{"gpa": 0, "size": "64MiB"}]},
    "pml": )" +
         pml + R"(,
    "vmm": {"dirty_log": {"enabled": true, "period_cycles": 1000000000000}},
    "check": {"dirty_log": true},
    "workload": {"paging": "off", "trace": ")" +
         trace + R"("}})";
}

void expect_boundary(unsigned n, const std::string& pml) {
  const RunResult r = run_config(pml_config(boundary_trace(n), pml));
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  // n first writes fill the log with no exit; the (n+1)-th write's D update
  // finds the log full: one PML-full exit (reason 62), then it is logged.
  EXPECT_EQ(s["vcpu0.exits.pml_full"], 1);
  EXPECT_EQ(s["vcpu0.pml.full"], 1);
  EXPECT_EQ(s["vcpu0.pml.logged"], n + 1);  // reads and the re-write of a dirty page log nothing
  EXPECT_EQ(s["hv.pml.drained"], n + 1);
  EXPECT_EQ(s["vmm.pages_reported"], n + 1);
  EXPECT_EQ(s["vmm.rounds"], 1);  // the final collection only
  EXPECT_EQ(s["check.dirty_lost"], 0);
  // The EPT-violation exits were the n+1 first reads (mapping), nothing else.
  EXPECT_EQ(s["vcpu0.exits.ept_violation"], n + 1);
}

}  // namespace

TEST(DirtyLog, IntelPmlFullExitComesOnThe513thLoggedWrite) { expect_boundary(512, R"({"variant": "intel"})"); }

TEST(DirtyLog, SizedPmlVariantHasItsBoundaryAtItsSize) {
  expect_boundary(8, R"({"variant": "sized", "log_entries": 8})");
  expect_boundary(1000, R"({"variant": "sized", "log_entries": 1000})");
}

TEST(DirtyLog, OracleCleanOnMultiVcpuWorkloadsInBothModes) {
  for (const char* mode : {"wp", "pml"}) {
    const RunResult r = run_config(dirty_log_config(mode, 4, 60000), "--fail-on-violation");
    ASSERT_EQ(r.rc, 0) << mode << ": " << r.err;
    const json& s = r.stats;
    EXPECT_EQ(s["check.dirty_lost"], 0) << mode;
    EXPECT_GT(s["vmm.rounds"].get<int>(), 10) << mode;
    EXPECT_GT(s["vmm.pages_reported"].get<int>(), 1000) << mode;
    EXPECT_EQ(s["hv.dirty_log.bitmap_set"], s["vmm.pages_reported"]) << mode;  // every bit set is reported once
    if (std::string(mode) == "pml") {
      EXPECT_GT(s["vcpu0.pml.logged"].get<int>(), 0);
      EXPECT_EQ(s["hv.wp_faults"].get<int>(), s["hv.mmu.splits"].get<int>() ? s["hv.wp_faults"].get<int>() : 0);
    } else {
      EXPECT_GT(s["hv.wp_faults"].get<int>(), 1000);
    }
    EXPECT_GT(s["vcpu0.cycles.dirty_logging"].get<int>(), 0) << mode;
  }
}

TEST(DirtyLog, OracleCatchesLossesWhenClearSkipsItsFlush) {
  // Fault injection: CLEAR re-protects but does not flush TLBs, so vCPUs keep
  // writing through stale dirty translations after the copy.
  for (const char* mode : {"wp", "pml"}) {
    const RunResult r =
        run_config(dirty_log_config(mode, 4, 60000, R"(, "clear_flush": false)"), "--fail-on-violation");
    EXPECT_EQ(r.rc, 3) << mode << ": " << r.err;
    EXPECT_GT(r.stats["check.dirty_lost"].get<int>(), 0) << mode;
    EXPECT_NE(r.err.find("dirty-log oracle: vcpu"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("the write is lost"), std::string::npos);
  }
}

TEST(DirtyLog, HugePageIsWriteProtectedAndSplitOnWrite) {
  for (const char* mode : {"wp", "pml"}) {
    const std::string trace = tmp(std::string(mode) + ".trace");
    // Map a 2 MiB page before logging starts (cycle 100000), write into it after.
    std::ofstream(trace) << "0 R 0x200000\n0 W 0x201000 8 200000\n0 W 0x3ff000\n";
    const RunResult r =
        run_config(R"({"cpu": {"vcpus": 1},
      "hv": {"eager_split": {"enabled": false}, "dirty_log": {"mode": ")" +
                   std::string(mode) + R"("}, "memslots": [{"gpa": 0, "size": "64MiB", "backing": "2M"}]},
      "vmm": {"dirty_log": {"enabled": true, "start_cycles": 100000, "period_cycles": 1000000000}},
      "check": {"dirty_log": true},
      "workload": {"paging": "off", "trace": ")" +
                   trace + R"("}})");
    ASSERT_EQ(r.rc, 0) << mode << ": " << r.err;
    const json& s = r.stats;
    EXPECT_EQ(s["hv.mmu.maps_2m"], 1) << mode;
    EXPECT_EQ(s["hv.mmu.splits"], 1) << mode;                                 // split once, on the first write
    EXPECT_EQ(s["hv.wp_faults"], std::string(mode) == "wp" ? 2 : 1) << mode;  // wp: each 4 KiB child faults once
    EXPECT_EQ(s["vmm.pages_reported"], 2) << mode;                            // exactly the two written 4 KiB pages
    EXPECT_EQ(s["check.dirty_lost"], 0) << mode;
  }
}

TEST(DirtyLog, OneGigPageSplitsDownToFourKAndLosesNothing) {
  // Regression: a 1 GiB leaf splits into 2 MiB children; under PML those must
  // stay write-protected (and split again on write), or only the first 4 KiB
  // page written in each would be logged.
  for (const char* mode : {"wp", "pml"}) {
    const std::string trace = tmp(std::string(mode) + ".trace");
    std::ofstream(trace) << "0 R 0x0\n0 W 0x200000 8 200000\n0 W 0x400000\n0 W 0x401000\n0 W 0x3ff000\n";
    const RunResult r =
        run_config(R"({"cpu": {"vcpus": 1},
      "hv": {"eager_split": {"enabled": false}, "dirty_log": {"mode": ")" +
                       std::string(mode) + R"("}, "memslots": [{"gpa": 0, "size": "1GiB", "backing": "1G"}]},
      "vmm": {"dirty_log": {"enabled": true, "start_cycles": 100000, "period_cycles": 1000000000}},
      "check": {"dirty_log": true},
      "workload": {"paging": "off", "trace": ")" +
                       trace + R"("}})",
                   "--fail-on-violation");
    ASSERT_EQ(r.rc, 0) << mode << ": " << r.err;
    const json& s = r.stats;
    EXPECT_EQ(s["hv.mmu.maps_1g"], 1) << mode;
    EXPECT_EQ(s["hv.mmu.splits"], 3) << mode;  // 1G -> 2M once, then the two 2 MiB regions written
    EXPECT_EQ(s["vmm.pages_reported"], 4) << mode;
    EXPECT_EQ(s["check.dirty_lost"], 0) << mode;
  }
}

TEST(DirtyLog, FastPathFixesWriteProtectFaultsLocklesslyAndLosesNothing) {
  // KVM's fast_page_fault: write faults on MMU-writable entries are fixed by
  // one compare-and-exchange without mmu_lock, then marked dirty.
  const RunResult slow = run_config(dirty_log_config("wp", 4, 60000, R"(, "clear_flush": true)"),
                                    "--fail-on-violation --set hv.fault_path=slow");
  const RunResult fast = run_config(dirty_log_config("wp", 4, 60000, R"(, "clear_flush": true)"),
                                    "--fail-on-violation --set hv.fault_path=fast");
  ASSERT_EQ(slow.rc, 0) << slow.err;
  ASSERT_EQ(fast.rc, 0) << fast.err;
  EXPECT_FALSE(slow.stats.contains("hv.fault.fast_fixed")) << "the lockless counters belong to the lockless paths";
  EXPECT_GT(fast.stats["hv.fault.fast_fixed"].get<int>(), 1000);
  EXPECT_EQ(fast.stats["check.dirty_lost"], 0);
  // The lock is taken only by faults the fast path cannot fix.
  EXPECT_LT(fast.stats["hv.lock.mmu_lock.acquisitions"].get<int>(),
            slow.stats["hv.lock.mmu_lock.acquisitions"].get<int>() / 2);
  // Fewer cycles per dirty-logging write fault.
  const auto per_fault = [](const json& s) {
    double cycles = 0;
    const std::string suffix = ".cycles.dirty_logging";
    for (auto it = s.begin(); it != s.end(); ++it)
      if (it.key().size() > suffix.size() &&
          it.key().compare(it.key().size() - suffix.size(), suffix.size(), suffix) == 0)
        cycles += it.value().get<double>();
    EXPECT_GT(cycles, 0);
    const double fixed = s.contains("hv.fault.fast_fixed") ? s["hv.fault.fast_fixed"].get<double>() : 0.0;
    return cycles / (s["hv.wp_faults"].get<double>() + fixed);
  };
  EXPECT_LT(per_fault(fast.stats), per_fault(slow.stats));
}

// Eager page splitting (hv.eager_split.enabled, KVM's eager_page_split):
// enabling logging splits the huge page up front, so the later writes fault
// only for write protection (wp) or not at all (pml), never to split.
TEST(DirtyLog, EagerSplitSplitsAtEnableAndLosesNothing) {
  for (const char* mode : {"wp", "pml"}) {
    const std::string trace = tmp(std::string(mode) + ".trace");
    // (enabling takes ≈ 48 M cycles here: 514 splits of 300 + 512 × 160,
    // then 263,168 leaves protected at 20; the writes come after it)
    std::ofstream(trace) << "0 R 0x200000\n0 R 0x40000000\n0 W 0x201000 8 100000000\n0 W 0x3ff000\n0 W 0x40001000\n";
    const RunResult r = run_config(R"({"cpu": {"vcpus": 1},
      "hv": {"dirty_log": {"mode": ")" +
                                       std::string(mode) + R"("}, "eager_split": {"enabled": true},
             "memslots": [{"gpa": 0, "size": "64MiB", "backing": "2M"}, {"gpa": "1GiB", "size": "1GiB", "backing": "1G"}]},
      "vmm": {"dirty_log": {"enabled": true, "start_cycles": 100000, "period_cycles": 1000000000}},
      "check": {"dirty_log": true},
      "workload": {"paging": "off", "trace": ")" +
                                       trace + R"("}})",
                                   "--fail-on-violation");
    ASSERT_EQ(r.rc, 0) << mode << ": " << r.err;
    const json& s = r.stats;
    EXPECT_EQ(s["hv.mmu.maps_2m"], 1) << mode;
    EXPECT_EQ(s["hv.mmu.maps_1g"], 1) << mode;
    // Pre-order: the 2 MiB page once; the 1 GiB page into 512 2 MiB ones,
    // each of those into 4 KiB: 1 + 1 + 512.
    EXPECT_EQ(s["hv.eager_split.splits"], 514) << mode;
    EXPECT_EQ(s["hv.mmu.splits"], 514) << mode;  // none on the write faults
    EXPECT_EQ(s["hv.wp_faults"], std::string(mode) == "wp" ? 3 : 0) << mode;
    EXPECT_EQ(s["vmm.pages_reported"], 3) << mode;
    EXPECT_EQ(s["check.dirty_lost"], 0) << mode;
  }
}

// The oracle over eager splitting: 1 and 4 vCPUs, both modes, jittered seeds.
TEST(DirtyLog, OracleCleanWithEagerSplitAcrossModesVcpusAndSeeds) {
  for (const char* mode : {"wp", "pml"})
    for (unsigned vcpus : {1u, 4u})
      for (const char* seed : {"1", "7"}) {
        const RunResult r = run_config(dirty_log_config(mode, vcpus, 30000),
                                       std::string("--fail-on-violation --set hv.eager_split.enabled=true"
                                                   " --set sim.jitter_cycles=200 --set sim.seed=") +
                                           seed +
                                           // all guest RAM on 2 MiB host pages, so its EPT has huge leaves
                                           R"( --set 'hv.memslots=[{"gpa": 0, "size": "2GiB", "backing": "2M"}]')");
        ASSERT_EQ(r.rc, 0) << mode << " " << vcpus << " " << seed << ": " << r.err;
        EXPECT_EQ(r.stats["check.dirty_lost"], 0) << mode << " " << vcpus << " " << seed;
        EXPECT_GT(r.stats["hv.eager_split.splits"].get<int>(), 0) << mode;
        // Every split happened at enable: none on a fault.
        EXPECT_EQ(r.stats["hv.mmu.splits"], r.stats["hv.eager_split.splits"]) << mode;
      }
}

// hv.fault_split: in_place (KVM since 6.2) splits the write-protected huge
// page where it stands, so the rest of it stays mapped; zap (the older way)
// drops it with a remote flush, and every later access to it refaults.
TEST(DirtyLog, FaultSplitInPlaceKeepsTheRangeMappedZapRefaults) {
  for (const char* mode : {"wp", "pml"})
    for (const char* split : {"in_place", "zap"}) {
      const std::string trace = tmp(std::string(mode) + split + ".trace");
      std::ofstream(trace) << "0 R 0x200000\n0 W 0x201000 8 200000\n0 W 0x3ff000\n0 R 0x300000\n";
      const RunResult r = run_config(R"({"cpu": {"vcpus": 1},
        "hv": {"eager_split": {"enabled": false}, "dirty_log": {"mode": ")" +
                                         std::string(mode) + R"("}, "fault_split": ")" + split +
                                         R"(", "memslots": [{"gpa": 0, "size": "64MiB", "backing": "2M"}]},
        "vmm": {"dirty_log": {"enabled": true, "start_cycles": 100000, "period_cycles": 1000000000}},
        "check": {"dirty_log": true},
        "workload": {"paging": "off", "trace": ")" +
                                         trace + R"("}})",
                                     "--fail-on-violation");
      ASSERT_EQ(r.rc, 0) << mode << " " << split << ": " << r.err;
      const json& s = r.stats;
      const bool zap = std::string(split) == "zap", wp = std::string(mode) == "wp";
      EXPECT_EQ(s["hv.mmu.splits"], zap ? 0 : 1) << mode << split;
      EXPECT_EQ(s["hv.fault.huge_zaps"], zap ? 1 : 0) << mode << split;
      // Exits: the first read; the write fault; then in_place: the wp fault
      // on the second 4 KiB child (wp only); zap: the retried write and the
      // other two accesses each refault.
      EXPECT_EQ(s["vcpu0.exits.ept_violation"], zap ? 5 : (wp ? 3 : 2)) << mode << split;
      EXPECT_EQ(s["vmm.pages_reported"], 2) << mode << split;
      EXPECT_EQ(s["check.dirty_lost"], 0) << mode << split;
    }
}

// The oracle over the zap split: wp/pml × 1 and 4 vCPUs, jittered.
TEST(DirtyLog, OracleCleanWithZapSplit) {
  for (const char* mode : {"wp", "pml"})
    for (unsigned vcpus : {1u, 4u}) {
      const RunResult r = run_config(dirty_log_config(mode, vcpus, 30000),
                                     std::string("--fail-on-violation --set hv.fault_split=zap --set "
                                                 "hv.eager_split.enabled=false --set sim.jitter_cycles=200") +
                                         R"( --set 'hv.memslots=[{"gpa": 0, "size": "2GiB", "backing": "2M"}]')");
      ASSERT_EQ(r.rc, 0) << mode << " " << vcpus << ": " << r.err;
      EXPECT_EQ(r.stats["check.dirty_lost"], 0) << mode << " " << vcpus;
      EXPECT_GT(r.stats["hv.fault.huge_zaps"].get<int>(), 0) << mode << " " << vcpus;
      EXPECT_EQ(r.stats["hv.mmu.splits"], 0) << mode << " " << vcpus;
    }
}
