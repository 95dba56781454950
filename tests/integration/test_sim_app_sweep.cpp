// `vmxsim sweep` end to end: the real binary runs a spec's points as child
// processes. The base config is the hand-made trace (8 accesses), so a point
// takes milliseconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;
namespace fs = std::filesystem;

namespace {

// A fresh folder for the test's spec and results.
std::string fresh_dir(const std::string& name) {
  const std::string d = tmp(name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A spec over the hand-made config: `body` is spliced after "base".
std::string write_spec(const std::string& dir, const std::string& body) {
  const std::string path = dir + "/spec.json";
  std::ofstream(path) << R"({"base": ")" + kData + R"(/handmade.json", )" + body + "}";
  return path;
}

const std::string kGrid3x2 =
    R"("grid": {"hv.costs.vm_exit": [1000, 1500, 2000], "hv.mmu_lock": ["rw", "spin"]}, "stats": ["sim.cycles", "hv.lock.mmu_lock.contended"])";

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// results.csv as rows of fields (no quoted commas in these tests).
std::vector<std::vector<std::string>> csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : lines(slurp(path))) {
    std::vector<std::string> f;
    std::istringstream in(l);
    for (std::string x; std::getline(in, x, ',');) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

// A shell command line (several commands), capturing stdout and stderr.
CliResult run_sh(const std::string& script) {
  const std::string out = tmp("sh_out.txt"), err = tmp("sh_err.txt");
  const int status = std::system(("( " + script + " ) >" + out + " 2>" + err).c_str());
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

std::string sweep_cmd(const std::string& args) { return "timeout 300 " + kBin + " sweep " + args; }

std::map<std::string, fs::file_time_type> mtimes(const std::string& dir) {
  std::map<std::string, fs::file_time_type> m;
  for (const auto& e : fs::directory_iterator(dir + "/points")) m[e.path().string()] = fs::last_write_time(e);
  return m;
}

}  // namespace

TEST(Sweep, GridRunsEveryPointWithItsParameters) {
  const std::string d = fresh_dir("grid");
  const CliResult r = run_cli("sweep " + write_spec(d, kGrid3x2) + " --out " + d + "/out --jobs 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");  // not a terminal: no progress line
  EXPECT_NE(r.out.find("6 point(s): 6 run, 0 already complete, 0 failed"), std::string::npos) << r.out;
  const auto rows = csv(d + "/out/results.csv");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"point", "id", "repeat", "hv.costs.vm_exit", "hv.mmu_lock", "status",
                                               "exit_code", "error", "sim.cycles", "hv.lock.mmu_lock.contended"}));
  std::map<std::string, long> cycles;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 10u);
    EXPECT_EQ(rows[i][0], std::to_string(i - 1));
    EXPECT_EQ(rows[i][5], "ok");
    cycles[rows[i][3] + "/" + rows[i][4]] = std::stol(rows[i][8]);
    EXPECT_EQ(rows[i][9], rows[i][4] == "spin" ? "1" : "0");  // the lock kind reached the run
  }
  EXPECT_EQ(cycles.size(), 6u);
  EXPECT_LT(cycles["1000/rw"], cycles["1500/rw"]);  // and so did the exit cost
  EXPECT_LT(cycles["1500/rw"], cycles["2000/rw"]);
  // Each point's stats match a plain `vmxsim run` with the same --set.
  const std::string plain = tmp("plain.json");
  const CliResult pr = run_cli("run " + kData + "/handmade.json --quiet --stats " + plain +
                               " --set hv.costs.vm_exit=1500 --set hv.mmu_lock=spin");
  ASSERT_EQ(pr.rc, 0) << pr.err;
  EXPECT_EQ(json::parse(slurp(plain))["sim.cycles"].get<long>(), cycles["1500/spin"]);
  // The JSON lines carry every stat; provenance is kept.
  const auto jl = lines(slurp(d + "/out/results.jsonl"));
  ASSERT_EQ(jl.size(), 6u);
  EXPECT_GT(json::parse(jl[3])["stats"].size(), 20u);
  EXPECT_EQ(json::parse(slurp(d + "/out/base_config.json"))["cpu"]["vcpus"], 2);
  EXPECT_EQ(slurp(d + "/out/spec.json"), slurp(d + "/spec.json"));
}

TEST(Sweep, ShardsIntoOneFolderCoverEveryPointOnceAndReRunsDoNoWork) {
  const std::string d = fresh_dir("shards");
  const std::string spec = write_spec(d, kGrid3x2), out = d + "/out";
  // Both shards at once, as a job array would run them.
  const CliResult r = run_sh(sweep_cmd(spec + " --out " + out + " --shard 0/2 --jobs 1") + " & " +
                             sweep_cmd(spec + " --out " + out + " --shard 1/2 --jobs 1") + " && wait $!");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("(shard 0/2): 3 point(s): 3 run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(shard 1/2): 3 point(s): 3 run"), std::string::npos) << r.out;
  const auto rows = csv(out + "/results.csv");
  ASSERT_EQ(rows.size(), 7u);
  std::set<std::string> seen;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][5], "ok");
    seen.insert(rows[i][0]);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1", "2", "3", "4", "5"}));
  const auto before = mtimes(out);
  EXPECT_EQ(before.size(), 12u);  // a record and a log per point, no temp files left
  // A re-run, whole or sharded, finds every point complete.
  const CliResult again = run_cli("sweep " + spec + " --out " + out);
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_NE(again.out.find("6 point(s): 0 run, 6 already complete, 0 failed"), std::string::npos) << again.out;
  const CliResult shard = run_cli("sweep " + spec + " --out " + out + " --shard 1/2");
  EXPECT_NE(shard.out.find("3 point(s): 0 run, 3 already complete"), std::string::npos) << shard.out;
  EXPECT_EQ(mtimes(out), before);
  EXPECT_EQ(csv(out + "/results.csv"), rows);
}

TEST(Sweep, AFailedPointIsRecordedTheOthersCompleteAndARerunRetriesIt) {
  // A trace that is not there: the point's config is valid (so the sweep
  // starts), its run is not.
  const std::string d = fresh_dir("fail");
  const std::string good = "\"" + kData + "/handmade.trace\"";
  const std::string spec =
      write_spec(d, R"("grid": {"workload.trace": [)" + good + R"(, "/nonexistent/bogus", )" + good + "]}");
  const CliResult r = run_cli("sweep " + spec + " --out " + d + "/out --jobs 2");
  EXPECT_EQ(r.rc, 4) << r.err;
  EXPECT_NE(r.err.find("point 1 ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/bogus: cannot open trace file"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 run, 0 already complete, 1 failed"), std::string::npos) << r.out;
  const auto jl = lines(slurp(d + "/out/results.jsonl"));
  ASSERT_EQ(jl.size(), 3u);
  EXPECT_EQ(json::parse(jl[0])["status"], "ok");
  const json bad = json::parse(jl[1]);
  EXPECT_EQ(bad["status"], "failed");
  EXPECT_EQ(bad["exit_code"], 1);
  EXPECT_NE(bad["error"].get<std::string>().find("exit 1: vmxsim: error: "), std::string::npos) << bad;
  EXPECT_EQ(json::parse(jl[2])["status"], "ok");
  EXPECT_EQ(lines(slurp(d + "/out/results.csv"))[2].find("1," + bad["id"].get<std::string>() +
                                                         ",0,/nonexistent/bogus,failed,1,exit 1: "),
            0u);
  // Failed points are retried; complete ones are not.
  const CliResult again = run_cli("sweep " + spec + " --out " + d + "/out");
  EXPECT_EQ(again.rc, 4);
  EXPECT_NE(again.out.find("1 run, 2 already complete, 1 failed"), std::string::npos) << again.out;
}

TEST(Sweep, CheckerViolationsFailTheirPoint) {
  // Exit 3 from `run --fail-on-violation` is a failed point, its stats kept.
  // A CLEAR that skips its TLB flush loses writes (DirtyLog tests).
  const std::string d = fresh_dir("violation");
  std::ofstream(d + "/base.json") << dirty_log_config("wp", 2, 3000);
  std::ofstream(d + "/spec.json") << R"({"base": "base.json", "grid": {"hv.dirty_log.clear_flush": [true, false]}})";
  const CliResult r = run_cli("sweep " + d + "/spec.json --out " + d + "/out --jobs 2");
  EXPECT_EQ(r.rc, 4) << r.err;
  const auto jl = lines(slurp(d + "/out/results.jsonl"));
  ASSERT_EQ(jl.size(), 2u);
  const json ok = json::parse(jl[0]), lost = json::parse(jl[1]);
  EXPECT_EQ(ok["status"], "ok") << ok["error"];
  EXPECT_EQ(lost["status"], "failed");
  EXPECT_EQ(lost["exit_code"], 3);
  EXPECT_NE(lost["error"].get<std::string>().find("lost page(s)"), std::string::npos) << lost["error"];
  EXPECT_GT(lost["stats"]["check.dirty_lost"].get<int>(), 0);
}

TEST(Sweep, SpecErrorsAreClearAndRunNothing) {
  const std::string d = fresh_dir("errors");
  const CliResult zip =
      run_cli("sweep " + write_spec(d, R"("zip": {"cpu.vcpus": [2, 3], "sim.seed": [1]})") + " --out " + d + "/out");
  EXPECT_EQ(zip.rc, 1);
  EXPECT_EQ(zip.err, "vmxsim: error: " + d +
                         "/spec.json: zip.sim.seed: has 1 values but zip.cpu.vcpus has 2 "
                         "(zipped lists step together, so their lengths must be equal)\n");
  EXPECT_FALSE(fs::exists(d + "/out"));
  const CliResult unknown = run_cli("sweep " + write_spec(d, R"("grid": {"cpu.vcpus": [2]}, "repeats": 2)"));
  EXPECT_EQ(unknown.rc, 1);
  EXPECT_NE(unknown.err.find("spec.json: unknown key 'repeats' (known keys: "), std::string::npos) << unknown.err;
  // A broken base config is reported once, before any point runs.
  std::ofstream(d + "/bad.json") << R"({"base": "missing.json", "grid": {"cpu.vcpus": [2]}})";
  const CliResult base = run_cli("sweep " + d + "/bad.json --out " + d + "/out2");
  EXPECT_EQ(base.rc, 1);
  EXPECT_NE(base.err.find("bad.json: base config "), std::string::npos) << base.err;
  EXPECT_NE(base.err.find("missing.json (with the spec's \"set\"): "), std::string::npos) << base.err;
  EXPECT_NE(base.err.find("missing.json: cannot open config file\n"), std::string::npos) << base.err;
}

TEST(Sweep, EveryPointIsValidatedBeforeAnyRuns) {
  // A misspelt grid key fails at point 0, an impossible value at its own
  // point: each names the point and the parameter, exits 1 and runs nothing.
  const std::string d = fresh_dir("validate");
  const CliResult key = run_cli("sweep " + write_spec(d, R"("grid": {"cpu.vcpu": [2, 4]})") + " --out " + d + "/out");
  EXPECT_EQ(key.rc, 1);
  EXPECT_EQ(key.err, "vmxsim: error: " + d +
                         "/spec.json: sweep point 0 (grid cpu.vcpu=2): unknown key 'cpu.vcpu' (known keys here: "
                         "access_cycles, freq_ghz, interrupt_window_cycles, max_exits_per_access, "
                         "max_retries_per_access, vcpus) (no point was run)\n");
  EXPECT_FALSE(fs::exists(d + "/out/points")) << "no point may run";
  const CliResult value =
      run_cli("sweep " + write_spec(d, R"("grid": {"sim.seed": [1, 2]}, "zip": {"cpu.vcpus": [2, 600]})") + " --out " +
              d + "/out");
  EXPECT_EQ(value.rc, 1);
  EXPECT_EQ(value.err, "vmxsim: error: " + d +
                           "/spec.json: sweep point 1 (zip cpu.vcpus=600): expected 1 to 512, got 600 "
                           "(no point was run)\n");
  EXPECT_FALSE(fs::exists(d + "/out/points")) << "no point may run";
  // A value valid alone but not with the base config names the whole point.
  const CliResult clash =
      run_cli("sweep " + write_spec(d, R"("grid": {"vmm.dlpt.enabled": [false, true]})") + " --out " + d + "/out");
  EXPECT_EQ(clash.rc, 1);
  EXPECT_EQ(clash.err, "vmxsim: error: " + d + "/spec.json: sweep point 1 (grid vmm.dlpt.enabled=true): " + kData +
                           "/handmade.json: workload.trace: vmm.dlpt runs its own guest (each vCPU touches its pages "
                           "in order, then syncs); remove it (no point was run)\n");
  EXPECT_FALSE(fs::exists(d + "/out/points")) << "no point may run";
}

TEST(Sweep, UsageErrorsExit2) {
  const std::string d = fresh_dir("usage");
  const std::string spec = write_spec(d, R"("grid": {"cpu.vcpus": [2]})");
  for (const std::string& args :
       {std::string("sweep"), "sweep " + spec + " --shard 2/2", "sweep " + spec + " --shard x",
        "sweep " + spec + " --jobs 0", "sweep " + spec + " --jobs -1", "sweep " + spec + " --jobs many",
        "sweep " + spec + " --bogus"}) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.rc, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("(see vmxsim sweep --help)"), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(d + "/spec.sweep"));
  const CliResult help = run_cli("sweep --help");
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("usage: vmxsim sweep SPEC"), std::string::npos);
  // The default --out is the spec's name + ".sweep" in the current folder.
  const CliResult def = run_sh("cd " + d + " && " + sweep_cmd("spec.json --jobs 1"));
  EXPECT_EQ(def.rc, 0) << def.err;
  EXPECT_NE(def.out.find("spec.sweep/results.csv has 1 of 1"), std::string::npos) << def.out;
}

TEST(Sweep, InterruptStopsTheChildrenAndKeepsCompletedPoints) {
  // Point 0 takes milliseconds, point 1 a minute: SIGINT arrives while point 1 runs.
  const std::string d = fresh_dir("sigint");
  std::ofstream(d + "/spec.json") << R"({"base": ")" + kSrc + R"(/configs/quickstart.json",
      "grid": {"workload.generator.accesses_per_vcpu": [1000, 50000000]}})";
  const std::string out = d + "/out";
  // --foreground: timeout passes SIGINT to the sweep alone (by default it signals its whole
  // process group, points included), so the test sees whether the sweep stops its points.
  const CliResult r =
      run_sh("timeout --foreground 20 " + kBin + " sweep " + d + "/spec.json --out " + out + " --jobs 1 & pid=$!; " +
             "for i in $(seq 200); do ls " + out + "/points/*.json >/dev/null 2>&1 && break; sleep 0.05; done; " +
             "sleep 0.3; kill -INT $pid; wait $pid; echo rc=$?; pgrep -f '[-]-stats " + out +
             "' || echo no-children");  // [-]: not this shell's own line
  EXPECT_NE(r.out.find("rc=130\nno-children"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("interrupted: 1 point(s) finished and are kept"), std::string::npos) << r.err;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(out + "/points")) files.push_back(e.path().extension().string());
  std::sort(files.begin(), files.end());
  // Point 0's record and log, point 1's log; no record for point 1, no temp files.
  EXPECT_EQ(files, (std::vector<std::string>{".json", ".log", ".log"}));
  const auto jl = lines(slurp(out + "/results.jsonl"));
  ASSERT_EQ(jl.size(), 1u);
  EXPECT_EQ(json::parse(jl[0])["status"], "ok");
}

TEST(Sweep, AddedValuesReuseFinishedPointsAndAChangedBaseReRunsThem) {
  const std::string d = fresh_dir("edit");
  const std::string out = " --out " + d + "/out";
  const CliResult a = run_cli("sweep " + write_spec(d, R"("grid": {"hv.costs.vm_exit": [1000, 1500]})") + out);
  EXPECT_NE(a.out.find("2 point(s): 2 run, 0 already complete"), std::string::npos) << a.out << a.err;
  // A new value: only its point runs, whatever its index now.
  const CliResult b = run_cli("sweep " + write_spec(d, R"("grid": {"hv.costs.vm_exit": [500, 1000, 1500]})") + out);
  EXPECT_NE(b.out.find("3 point(s): 1 run, 2 already complete"), std::string::npos) << b.out << b.err;
  EXPECT_EQ(lines(slurp(d + "/out/results.jsonl")).size(), 3u);
  // A different fixed override changes every run: the old records are stale.
  const CliResult c = run_cli(
      "sweep " + write_spec(d, R"("grid": {"hv.costs.vm_exit": [500, 1000, 1500]}, "set": {"hv.mmu_lock": "spin"})") +
      out);
  EXPECT_NE(c.out.find("3 point(s): 3 run, 0 already complete"), std::string::npos) << c.out << c.err;
  const auto jl = lines(slurp(d + "/out/results.jsonl"));
  ASSERT_EQ(jl.size(), 3u);
  for (const auto& l : jl) EXPECT_EQ(json::parse(l)["stats"]["hv.lock.mmu_lock.contended"], 1) << l;
  EXPECT_EQ(json::parse(slurp(d + "/out/base_config.json"))["hv"]["mmu_lock"], "spin");
}
