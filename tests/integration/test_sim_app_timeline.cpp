// `vmxsim run --timeline FILE` through the real binary: the file is Chrome
// trace-event JSON (one track per simulated thread, sorted, non-negative
// times), its spans agree with the stats (exits per vCPU and reason, guest
// and hypervisor cycles), lost writes found by the dirty-log oracle are
// instants, two runs give the same bytes, a bad path fails early, and without
// the option nothing is written and the stats are unchanged.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

const char* const kReasons[] = {"ept_violation", "external_interrupt", "pml_full"};

// Checks the format every timeline must have, and returns its events.
json check_format(const std::string& path) {
  const std::string text = slurp(path);
  EXPECT_FALSE(text.empty()) << path;
  const json doc = json::parse(text);  // throws (fails the test) if not JSON
  EXPECT_TRUE(doc.is_object());
  EXPECT_EQ(doc.value("displayTimeUnit", ""), "ns");
  EXPECT_TRUE(doc.contains("otherData"));
  EXPECT_EQ(doc["otherData"].value("dropped_events", -1), 0);
  const json& ev = doc.at("traceEvents");
  EXPECT_TRUE(ev.is_array());
  double last = 0;
  std::size_t n = 0;
  for (const json& e : ev) {
    EXPECT_EQ(e.at("pid"), 1);
    const std::string ph = e.at("ph");
    EXPECT_TRUE(ph == "M" || ph == "X" || ph == "i") << e.dump();
    const double ts = e.at("ts");
    EXPECT_GE(ts, last) << "not sorted by ts at event " << n << ": " << e.dump();
    last = ts;
    if (ph == "X") {
      EXPECT_GE(ts, 0) << e.dump();
      EXPECT_GE(e.at("dur").get<double>(), 0) << e.dump();
      EXPECT_TRUE(e.at("args").contains("cycle")) << e.dump();
      EXPECT_TRUE(e.at("args").contains("cycles")) << e.dump();
    }
    if (ph == "i") {
      EXPECT_EQ(e.at("s"), "t");
      EXPECT_TRUE(e.at("args").contains("cycle")) << e.dump();
    }
    ++n;
  }
  return ev;
}

std::map<unsigned, std::string> thread_names(const json& ev) {
  std::map<unsigned, std::string> m;
  for (const json& e : ev)
    if (e["ph"] == "M" && e["name"] == "thread_name") m[e["tid"].get<unsigned>()] = e["args"]["name"];
  return m;
}

// Number of events named `name` on track `tid`.
std::size_t count(const json& ev, unsigned tid, const std::string& name) {
  std::size_t n = 0;
  for (const json& e : ev) n += e["tid"] == tid && e["name"] == name;
  return n;
}

json without_host_stats(json s) {
  for (auto it = s.begin(); it != s.end();) {
    if (it.key().find("host_") != std::string::npos) it = s.erase(it);
    else ++it;
  }
  return s;
}

}  // namespace

TEST(Timeline, DirtyLoggingRunGivesSortedTracksThatAgreeWithTheStats) {
  const std::string tl = tmp("timeline.json");
  const RunResult r = run_config(dirty_log_config("wp", 4, 8000), "--timeline " + tl);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json ev = check_format(tl);

  const auto names = thread_names(ev);
  EXPECT_EQ(names,
            (std::map<unsigned, std::string>{{0, "vcpu0"}, {1, "vcpu1"}, {2, "vcpu2"}, {3, "vcpu3"}, {1000, "vmm"}}));

  const json& s = r.stats;
  for (unsigned v = 0; v < 4; ++v) {
    const std::string p = "vcpu" + std::to_string(v);
    for (const char* reason : kReasons)
      EXPECT_EQ(count(ev, v, std::string("exit:") + reason), s[p + ".exits." + reason].get<std::size_t>())
          << p << " " << reason;
    // Guest runs and exits tile the vCPU's time.
    std::uint64_t guest = 0, hyp = 0;
    for (const json& e : ev) {
      if (e["tid"] != v || e["ph"] != "X") continue;
      const std::string n = e["name"];
      if (n == "guest run") guest += e["args"]["cycles"].get<std::uint64_t>();
      if (n.rfind("exit:", 0) == 0) hyp += e["args"]["cycles"].get<std::uint64_t>();
    }
    EXPECT_EQ(guest, s[p + ".cycles.guest"].get<std::uint64_t>()) << p;
    EXPECT_EQ(hyp, s[p + ".cycles.hypervisor"].get<std::uint64_t>()) << p;
  }
  EXPECT_GT(s["vcpu0.exits.ept_violation"].get<int>(), 0);
  EXPECT_GT(count(ev, 0, "guest run"), 0u);
  EXPECT_GT(count(ev, 0, "guest #PF"), 0u);
  EXPECT_GT(count(ev, 0, "mmu_lock hold"), 0u);
  EXPECT_GT(count(ev, 0, "map"), 0u);
  EXPECT_EQ(count(ev, 1000, "enable dirty log"), 1u);
  EXPECT_EQ(count(ev, 1000, "GET"), s["vmm.rounds"].get<std::size_t>());
  EXPECT_EQ(count(ev, 1000, "CLEAR"), s["vmm.rounds"].get<std::size_t>());
  EXPECT_GT(count(ev, 1000, "mmu_lock hold"), 0u);
  // Every contended acquisition waited, on the waiter's own track.
  std::size_t waits = 0;
  for (unsigned tid : {0u, 1u, 2u, 3u, 1000u}) waits += count(ev, tid, "mmu_lock wait");
  EXPECT_EQ(waits, s["hv.lock.mmu_lock.contended"].get<std::size_t>());
  EXPECT_GT(waits, 0u);
  // An EPT-violation exit names its GPA and qualification.
  for (const json& e : ev)
    if (e["name"] == "exit:ept_violation") {
      EXPECT_EQ(e["args"]["gpa"].get<std::string>().rfind("0x", 0), 0u) << e.dump();
      EXPECT_EQ(e["args"]["qual"].get<std::string>().rfind("0x", 0), 0u) << e.dump();
      break;
    }
}

TEST(Timeline, PmlFullExitsMatchTheirStat) {
  const std::string tl = tmp("timeline.json");
  const RunResult r = run_config(
      dirty_log_config("pml", 2, 8000, "", R"( "pml": {"variant": "sized", "log_entries": 16},)"), "--timeline " + tl);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json ev = check_format(tl);
  std::size_t full = 0;
  for (unsigned v = 0; v < 2; ++v) {
    const std::string p = "vcpu" + std::to_string(v);
    for (const char* reason : kReasons)
      EXPECT_EQ(count(ev, v, std::string("exit:") + reason), r.stats[p + ".exits." + reason].get<std::size_t>())
          << p << " " << reason;
    full += count(ev, v, "exit:pml_full");
  }
  EXPECT_GT(full, 0u);
  EXPECT_GT(count(ev, 0, "pml drain"), 0u);
  EXPECT_GT(count(ev, 1000, "GET"), 0u);
  EXPECT_GT(count(ev, 1000, "CLEAR"), 0u);
}

TEST(Timeline, OracleLostWritesAreInstantsOnTheWritersTrack) {
  // Fault injection (CLEAR skips its flush): the oracle finds lost writes.
  const std::string tl = tmp("timeline.json");
  const RunResult r = run_config(dirty_log_config("wp", 4, 8000, R"(, "clear_flush": false)"), "--timeline " + tl);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json ev = check_format(tl);
  std::size_t lost = 0;
  for (const json& e : ev) {
    if (e["name"] != "oracle: lost write") continue;
    ++lost;
    EXPECT_EQ(e["ph"], "i");
    EXPECT_LT(e["tid"].get<unsigned>(), 4u) << e.dump();
    EXPECT_TRUE(e["args"].contains("gpa"));
    EXPECT_EQ(e["args"]["write_cycle"], e["args"]["cycle"]);
    EXPECT_TRUE(e["args"].contains("copy_cycle"));
  }
  EXPECT_GT(lost, 0u);
  EXPECT_EQ(lost, r.stats["check.dirty_lost"].get<std::size_t>());
}

TEST(Timeline, TwoRunsGiveByteIdenticalFiles) {
  const std::string a = tmp("a.json"), b = tmp("b.json");
  const std::string cfg = dirty_log_config("pml", 4, 8000);
  ASSERT_EQ(run_config(cfg, "--timeline " + a).rc, 0);
  ASSERT_EQ(run_config(cfg, "--timeline " + b).rc, 0);
  const std::string ta = slurp(a), tb = slurp(b);
  EXPECT_GT(ta.size(), 1000u);
  EXPECT_TRUE(ta == tb) << "timelines differ: " << a << " " << b;
}

TEST(Timeline, BadPathFailsBeforeTheRun) {
  const std::string bad = tmp("no_such_dir") + "/t.json";
  const RunResult r = run_config(dirty_log_config("wp", 1, 8000), "--timeline " + bad);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(bad + ": cannot write timeline file"), std::string::npos) << r.err;
}

TEST(Timeline, OffWritesNothingAndLeavesTheStatsUnchanged) {
  namespace fs = std::filesystem;
  const std::string dir = tmp("cwd");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cfg = dirty_log_config("pml", 2, 8000);
  const RunResult off = run_config(cfg, "", "cd " + dir + " && ");
  ASSERT_EQ(off.rc, 0) << off.err;
  EXPECT_TRUE(fs::is_empty(dir)) << "a run without --timeline wrote into its working directory";
  const std::string tl = tmp("timeline.json");
  const RunResult on = run_config(cfg, "--timeline " + tl);
  ASSERT_EQ(on.rc, 0) << on.err;
  EXPECT_EQ(without_host_stats(off.stats), without_host_stats(on.stats));
}

TEST(Timeline, NoVmmTrackWithoutTheVmm) {
  const std::string tl = tmp("timeline.json");
  const RunResult r = run_config(R"({"cpu": {"vcpus": 2},
    "workload": {"generator": {"accesses_per_vcpu": 2000, "working_set_bytes": "4MiB", "seed": 3}}})",
                                 "--timeline " + tl);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json ev = check_format(tl);
  EXPECT_EQ(thread_names(ev), (std::map<unsigned, std::string>{{0, "vcpu0"}, {1, "vcpu1"}}));
  EXPECT_EQ(count(ev, 0, "exit:ept_violation"), r.stats["vcpu0.exits.ept_violation"].get<std::size_t>());
  EXPECT_GT(count(ev, 0, "guest run"), 0u);
}
