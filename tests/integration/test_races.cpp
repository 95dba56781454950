// The shipped race scenarios (configs/races/): the broken fault paths fail
// their oracle deterministically, the correct ones stay clean across jittered
// seeds, and every scenario replays identically at any quantum.
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "hv/fault_path.hpp"
#include "hv/pt_free.hpp"

namespace vmxsim::test {
namespace {

const std::string kRaces = kSrc + "/configs/races";

json stats_of(const std::string& config, const std::string& sets, int* rc = nullptr, std::string* err = nullptr,
              const std::string& name = "stats.json") {
  const std::string st = tmp(name), e = tmp("race_err.txt");
  std::remove(st.c_str());
  const int status = std::system(("timeout 300 " + kBin + " run " + kRaces + "/" + config +
                                  " --quiet --fail-on-violation --stats " + st + " " + sets + " 2>" + e)
                                     .c_str());
  if (rc) *rc = WEXITSTATUS(status);
  if (err) *err = slurp(e);
  const std::string text = slurp(st);
  return text.empty() ? json::object() : json::parse(text);
}

TEST(Races, UnsafePathLosesTheRacedPageToAClear) {
  int rc = 0;
  std::string err;
  const json s = stats_of("clear_race_unsafe.json", "", &rc, &err);
  EXPECT_EQ(rc, 3) << err;
  EXPECT_GE(s.value("check.dirty_lost", 0), 1);
  EXPECT_NE(err.find("vcpu0 wrote GPA 0x10000"), std::string::npos) << err;
  // The same scenario with today's fast path loses nothing, and it did take
  // the lockless path on the raced page.
  const json f = stats_of("clear_race.json", "", &rc, &err, "fast.json");
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(f["check.dirty_lost"], 0);
  EXPECT_GE(f.value("hv.fault.fast_fixed", 0), 1);
}

TEST(Races, SharedIdentificationBitLetsAWriteBypassTheTrack) {
  int rc = 0;
  std::string err;
  const json s = stats_of("track_race_shared_id.json", "", &rc, &err);
  EXPECT_EQ(rc, 3) << err;
  EXPECT_GE(s.value("check.track_bypassed", 0), 1);
  EXPECT_NE(err.find("write-track oracle: vcpu0 wrote GPA 0x10000"), std::string::npos) << err;
  // A unique identification (the vCPU id) makes vCPU0's exchange fail: the
  // write is emulated instead.
  const json u = stats_of("track_race.json", "", &rc, &err, "unique.json");
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(u["check.track_bypassed"], 0);
  EXPECT_GE(u.value("hv.fault.fast_retries", 0), 1);
  EXPECT_GE(u.value("hv.page_track.emulated_writes", 0), 1);
}

TEST(Races, UnsafePathAlsoBypassesTheTrack) {
  const json s = stats_of("track_race.json", "--set hv.fault_path=unsafe");
  EXPECT_GE(s.value("check.track_bypassed", 0), 1);
}

// Correct fault paths: no violation across many jittered seeds. The seed
// count is VMXSIM_RACE_SEEDS (default 200); docs/fault-paths.md gives the
// longer sweep's command.
struct Sweep {
  std::string config;
  std::string fault_path;
};
void PrintTo(const Sweep& s, std::ostream* os) { *os << s.config << " with hv.fault_path=" << s.fault_path; }

// Every registered fault path but the demonstrators of the bug class (which
// the tests above show failing) must stay clean: a new variant is swept
// without editing this list.
const std::set<std::string> kDemonstrators = {"unsafe"};
std::vector<Sweep> clean_sweeps() {
  std::vector<Sweep> out;
  for (const char* config : {"clear_race.json", "track_race.json"})
    for (const std::string& path : hv::FaultPathRegistry::instance().names())
      if (!kDemonstrators.count(path)) out.push_back({config, path});
  return out;
}
class CleanAcrossSeeds : public ::testing::TestWithParam<Sweep> {};

TEST_P(CleanAcrossSeeds, NoViolation) {
  const Sweep p = GetParam();
  const char* env = std::getenv("VMXSIM_RACE_SEEDS");
  const int seeds = env ? std::atoi(env) : 200;
  ASSERT_GT(seeds, 0);
  std::set<std::uint64_t> ends;
  int retried = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    int rc = 0;
    std::string err;
    const json s = stats_of(p.config,
                            std::string("--set hv.fault_path=") + p.fault_path +
                                " --set sim.jitter_cycles=5000 --set sim.seed=" + std::to_string(seed),
                            &rc, &err);
    ASSERT_EQ(rc, 0) << p.config << " " << p.fault_path << " seed " << seed << ": " << err;
    ASSERT_EQ(s["check.dirty_lost"], 0) << "seed " << seed;
    ASSERT_EQ(s["check.track_bypassed"], 0) << "seed " << seed;
    ends.insert(s["sim.cycles"].get<std::uint64_t>());
    retried += s.value("hv.fault.fast_retries", 0) > 0;
  }
  // The jitter really moved the threads: the runs' lengths differ.
  EXPECT_GT(ends.size(), std::size_t(seeds) / 2);
  if (p.config == "track_race.json" && p.fault_path != "slow" && seeds >= 100) {
    EXPECT_GT(retried, 0) << "no seed hit the race window";
  }
}

INSTANTIATE_TEST_SUITE_P(Races, CleanAcrossSeeds, ::testing::ValuesIn(clean_sweeps()),
                         [](const ::testing::TestParamInfo<Sweep>& i) {
                           return i.param.config.substr(0, i.param.config.find('.')) + "_" + i.param.fault_path;
                         });

json drop_host(json s) {
  for (auto it = s.begin(); it != s.end();)
    if (it.key().rfind("sim.host_", 0) == 0 || it.key() == "sim.accesses_per_host_second" ||
        it.key().find(".host.") != std::string::npos)
      it = s.erase(it);
    else ++it;
  return s;
}

class QuantumInvariance : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantumInvariance, StatsAndEventOrderMatchAtQuantumOne) {
  const std::string cfg = GetParam();
  std::string order[2];
  json stats[2];
  for (int q = 0; q < 2; ++q) {
    const std::string tl = tmp("tl" + std::to_string(q) + ".json");
    stats[q] = drop_host(stats_of(
        cfg, (q ? "" : "--set sim.quantum_cycles=1 ") + std::string("--set sim.jitter_cycles=3000 --timeline ") + tl,
        nullptr, nullptr, "q" + std::to_string(q) + ".json"));
    // Event order: every span and instant, as (thread, name, start) in file order.
    const json t = json::parse(slurp(tl));
    for (const json& e : t["traceEvents"])
      if (e["ph"] != "M")
        order[q] += std::to_string(e["tid"].get<int>()) + " " + e["name"].get<std::string>() + " " +
                    std::to_string(e["ts"].get<double>()) + "\n";
  }
  ASSERT_FALSE(stats[0].empty());
  EXPECT_GT(stats[0]["hv.remote_flushes"].get<int>(), 0);  // cross-thread requests really happen
  EXPECT_EQ(stats[0], stats[1]);
  EXPECT_EQ(order[0], order[1]);
  EXPECT_GT(order[0].size(), 100u);
}

INSTANTIATE_TEST_SUITE_P(Races, QuantumInvariance,
                         ::testing::Values("clear_race.json", "clear_race_unsafe.json", "track_race.json",
                                           "track_race_shared_id.json", "zap_race.json", "zap_storm.json",
                                           "unmap_storm.json"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n = i.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(Races, TimelineShowsTheExchangesAndTheBypass) {
  const std::string tl = tmp("tl.json");
  stats_of("track_race_shared_id.json", "--timeline " + tl);
  const json t = json::parse(slurp(tl));
  std::set<std::string> names, threads;
  for (const json& e : t["traceEvents"]) {
    names.insert(e["name"].get<std::string>());
    if (e["ph"] == "M" && e["name"] == "thread_name") threads.insert(e["args"]["name"].get<std::string>());
  }
  for (const char* n : {"cmpxchg ok", "oracle: track bypassed", "page-track add", "emulate write"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  for (const char* th : {"vcpu0", "vcpu1", "vcpu2", "vmm", "vmm page-track"}) EXPECT_TRUE(threads.count(th)) << th;
  const std::string tl2 = tmp("tl2.json");
  stats_of("track_race.json", "--timeline " + tl2, nullptr, nullptr, "u.json");
  EXPECT_NE(slurp(tl2).find("\"cmpxchg fail\""), std::string::npos);
}

}  // namespace
}  // namespace vmxsim::test

namespace vmxsim::test {
namespace {

TEST(Races, ZappedTablesWaitForTheLocklessFaultsGracePeriod) {
  int rc = 0;
  std::string err;
  const json s = stats_of("zap_race.json", "", &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_GE(s["hv.mmu.zapped"].get<int>(), 1);
  EXPECT_EQ(s["hv.rcu.freed_pages"], s["hv.mmu.zapped"]);  // one 4 KiB table under each zapped 2 MiB entry
  EXPECT_EQ(s["hv.rcu.pending_pages"], 0);
  EXPECT_GE(s["hv.rcu.callbacks_waited"].get<int>(), 1);  // a lockless fault was in flight
  EXPECT_GT(s["hv.rcu.wait_cycles"].get<int>(), 0);
  EXPECT_GE(s["hv.fault.fast_retries"].get<int>(), 1);                       // its exchange met a frozen entry
  EXPECT_GT(s["hv.mmu.maps_2m"].get<int>(), s["hv.mmu.splits"].get<int>());  // huge pages came back
  // Without the stall, no fault is in flight at the zap: nothing waits.
  const json q = stats_of("zap_race.json", "--set hv.lockless_delay_cycles=0", &rc, &err, "nodelay.json");
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(q["hv.rcu.callbacks_waited"], 0);
  EXPECT_EQ(q["hv.rcu.freed_pages"], q["hv.mmu.zapped"]);
}

}  // namespace
}  // namespace vmxsim::test

namespace vmxsim::test {
namespace {

TEST(PageTrack, HugePagesAreSplitAroundATrackedPageAndItsWritesEmulated) {
  // vCPU0 maps 2 MiB at 0x200000 and 0x600000, then 0x201000 (in the first)
  // and 0x401000 (in an unmapped region) become tracked; later writes.
  const std::string trace =
      write_file("huge.trace",
                 "0 W 200000 8 0\n"
                 "0 W 600000 8 0\n"
                 "0 W 201000 8 200000\n"  // tracked (the add and its 2 MiB split are done): emulated
                 "0 W 202000 8 0\n"       // same 2 MiB, untracked: no exit
                 "0 R 401000 8 0\n"       // maps 4 KiB read-only
                 "0 W 401000 8 0\n"       // emulated
                 "0 W 402000 8 0\n"       // maps 4 KiB (its 2 MiB holds a tracked page)
                 "0 W 601000 8 0\n");     // untouched 2 MiB page
  const RunResult r = run_config(R"({"cpu": {"vcpus": 1},
      "hv": {"memslots": [{"gpa": 0, "size": "16MiB", "backing": "2M"}],
             "page_track": [{"gpa": "0x201000", "add_cycles": 20000}, {"gpa": "0x401000", "add_cycles": 20000}]},
      "workload": {"paging": "off", "trace": ")" +
                                     trace + R"("}})",
                                 "--fail-on-violation");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.stats["hv.mmu.maps_2m"], 2);
  EXPECT_EQ(r.stats["hv.mmu.splits"], 1);   // the 2 MiB leaf over 0x201000, at the add
  EXPECT_EQ(r.stats["hv.mmu.maps_4k"], 2);  // 0x401000 read-only, 0x402000
  EXPECT_EQ(r.stats["hv.page_track.emulated_writes"], 2);
  EXPECT_EQ(r.stats["hv.page_track.adds"], 2);
  EXPECT_EQ(r.stats["check.track_bypassed"], 0);
  // 2 maps at 2 MiB, 2 emulated writes, 2 faults in the untracked region around 0x401000 (read, then 0x402000).
  EXPECT_EQ(r.stats["hv.ept_violations"], 6);
}

}  // namespace
}  // namespace vmxsim::test

// Page-table freeing (docs/pt-freeing.md): freeing an unlinked table while a
// lockless walker holds a pointer into it is caught by check.pt_free, and
// deterministically; the safe policies never let it happen.
namespace vmxsim::test {
namespace {

TEST(Races, UnsafeImmediateFreeIsAUseAfterFreeInEveryZapScenario) {
  for (const char* cfg : {"zap_race.json", "zap_storm.json", "unmap_storm.json"}) {
    int rc = 0;
    std::string err;
    const json a = drop_host(stats_of(cfg, "--set hv.pt_free.policy=unsafe_immediate", &rc, &err));
    EXPECT_EQ(rc, 3) << cfg << ": " << err;
    EXPECT_GE(a.value("check.pt_free_violations", 0), 1) << cfg;
    EXPECT_NE(err.find("use after free"), std::string::npos) << err;
    EXPECT_NE(err.find("read its pointer to table 0x"), std::string::npos) << err;
    const json b = drop_host(stats_of(cfg, "--set hv.pt_free.policy=unsafe_immediate", nullptr, nullptr, "again.json"));
    EXPECT_EQ(a, b) << cfg << ": the race replays identically";
  }
}

// Every registered policy but the demonstrator stays clean across jittered
// seeds (VMXSIM_PT_FREE_SEEDS, default 20; configs/races/*_storm_seeds.json
// are the 1,000-seed sweeps of docs/pt-freeing.md).
struct PtSweep {
  std::string config, policy;
};
void PrintTo(const PtSweep& s, std::ostream* os) { *os << s.config << " with hv.pt_free.policy=" << s.policy; }
std::vector<PtSweep> pt_free_sweeps() {
  std::vector<PtSweep> out;
  for (const char* config : {"zap_race.json", "zap_storm.json", "unmap_storm.json"})
    for (const std::string& p : hv::PtFreeRegistry::instance().names())
      if (p != "unsafe_immediate") out.push_back({config, p});
  return out;
}
class PtFreeCleanAcrossSeeds : public ::testing::TestWithParam<PtSweep> {};

TEST_P(PtFreeCleanAcrossSeeds, NoUseAfterFree) {
  const PtSweep p = GetParam();
  const char* env = std::getenv("VMXSIM_PT_FREE_SEEDS");
  const int seeds = env ? std::atoi(env) : 20;
  ASSERT_GT(seeds, 0);
  std::set<std::uint64_t> ends;
  std::uint64_t preempted = 0, bound_stalls = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    int rc = 0;
    std::string err;
    const json s = stats_of(p.config,
                            "--set hv.pt_free.policy=" + p.policy +
                                " --set hv.pt_free.max_pending=1 --set hv.dirty_log.lockless_preempt_cycles=100000"
                                " --set sim.jitter_cycles=5000 --set sim.seed=" +
                                std::to_string(seed),
                            &rc, &err);
    ASSERT_EQ(rc, 0) << p.config << " " << p.policy << " seed " << seed << ": " << err;
    ASSERT_EQ(s["check.pt_free_violations"], 0) << "seed " << seed;
    ASSERT_EQ(s["check.dirty_lost"], 0) << "seed " << seed;
    ends.insert(s["sim.cycles"].get<std::uint64_t>());
    preempted += s.value("hv.dirty_log.lockless_preempted", 0);
    bound_stalls += s.value("hv.pt_free.bound_stalls", 0);
  }
  EXPECT_GT(ends.size(), std::size_t(seeds) / 2);  // the jitter really moved the threads
  if (p.config != "zap_race.json") {
    EXPECT_GT(preempted, 0u) << "no reader was ever descheduled holding a pointer";
    if (p.policy == "call_rcu_bounded") {
      EXPECT_GT(bound_stalls, 0u) << "the bound never stalled the freer";
    }
  }
}

// The timeline shows every commit with its policy, the zaps, the descheduled
// reader, and the pages pending free as a counter track.
TEST(Races, TimelineShowsCommitsAndThePendingCounter) {
  const std::string tl = tmp("zap_storm_tl.json");
  int rc = 0;
  std::string err;
  stats_of("zap_storm.json", "--timeline " + tl, &rc, &err, "zs.json");
  ASSERT_EQ(rc, 0) << err;
  const json t = json::parse(slurp(tl));
  std::set<std::string> names;
  std::uint64_t most_pending = 0;
  bool commit_args = false;
  for (const json& e : t["traceEvents"]) {
    names.insert(e["name"].get<std::string>());
    if (e["ph"] == "C" && e["name"] == "pt pages pending free") {
      ASSERT_TRUE(e["args"].contains("pages")) << e.dump();
      EXPECT_FALSE(e["args"].contains("cycle")) << "a counter's args are its series only";
      most_pending = std::max(most_pending, e["args"]["pages"].get<std::uint64_t>());
    }
    if (e["name"] == "zap storm: commit")
      commit_args =
          e["args"]["policy"] == "call_rcu" && e["args"].contains("tables") && e["args"].contains("stall_cycles");
  }
  for (const char* n : {"zap", "zap storm: commit", "lockless protect preempted", "pt pages pending free", "CLEAR"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_TRUE(commit_args);
  EXPECT_GE(most_pending, 1u);
}

INSTANTIATE_TEST_SUITE_P(Races, PtFreeCleanAcrossSeeds, ::testing::ValuesIn(pt_free_sweeps()),
                         [](const ::testing::TestParamInfo<PtSweep>& i) {
                           return i.param.config.substr(0, i.param.config.find('.')) + "_" + i.param.policy;
                         });

}  // namespace
}  // namespace vmxsim::test
