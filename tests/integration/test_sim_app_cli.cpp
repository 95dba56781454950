// End-to-end tests: the real vmxsim binary, as a user runs it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

json stats_of(const std::string& args, const std::string& file = "stats.json") {
  const std::string path = tmp(file);
  const CliResult r = run_cli(args + " --quiet --stats " + path);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "");  // --quiet
  return json::parse(slurp(path));
}

}  // namespace

TEST(Cli, HandMadeTraceGivesExactCounts) {
  const json s = stats_of("run " + kData + "/handmade.json");
  EXPECT_EQ(s["sim.accesses"], 8);
  // vCPU0: 5 accesses, 6 translations (one access crosses a page).
  EXPECT_EQ(s["vcpu0.accesses"], 5);
  EXPECT_EQ(s["vcpu0.tlb.l1.hits"], 3);
  EXPECT_EQ(s["vcpu0.tlb.l1.misses"], 3);
  EXPECT_EQ(s["vcpu0.tlb.l2.hits"], 0);
  EXPECT_EQ(s["vcpu0.tlb.l2.misses"], 3);
  EXPECT_EQ(s["vcpu0.walks"], 6);
  EXPECT_EQ(s["vcpu0.walk.refs"], 1 + 4 + 4 + 4 + 4 + 4);
  EXPECT_EQ(s["vcpu0.exits.ept_violation"], 3);
  EXPECT_EQ(s["vcpu0.walk.hit_rewalks"], 0);
  // vCPU1: 3 accesses on 2 MiB pages.
  EXPECT_EQ(s["vcpu1.accesses"], 3);
  EXPECT_EQ(s["vcpu1.tlb.l1.hits"], 1);
  EXPECT_EQ(s["vcpu1.tlb.l1.misses"], 2);
  EXPECT_EQ(s["vcpu1.walks"], 4);
  EXPECT_EQ(s["vcpu1.walk.refs"], 1 + 3 + 3 + 3);
  EXPECT_EQ(s["vcpu1.exits.ept_violation"], 2);
  // The hypervisor: 3 leaves of 4 KiB, 2 of 2 MiB; root + PDPT + PD + one PT.
  EXPECT_EQ(s["hv.mmu.maps_4k"], 3);
  EXPECT_EQ(s["hv.mmu.maps_2m"], 2);
  EXPECT_EQ(s["hv.mmu.maps_1g"], 0);
  EXPECT_EQ(s["hv.mmu.tables_allocated"], 4);
  EXPECT_EQ(s["hv.ept_violations"], 5);
  // Both vCPUs' first exits reach mmu_lock at the same cycle. With the
  // default reader-writer lock (KVM's TDP MMU) both hold it for read at once.
  EXPECT_EQ(s["hv.lock.mmu_lock.acquisitions"], 5);
  EXPECT_EQ(s["hv.lock.mmu_lock.read_acquisitions"], 5);
  EXPECT_EQ(s["hv.lock.mmu_lock.contended"], 0);
  // As a spinlock, one of them waits for the other's handoff; the counts of
  // everything else are the same.
  const json t = stats_of("run " + kData + "/handmade.json --set hv.mmu_lock=spin", "spin.json");
  EXPECT_EQ(t["hv.lock.mmu_lock.contended"], 1);
  EXPECT_GT(t["hv.lock.mmu_lock.wait_cycles"].get<double>(), 0);
  EXPECT_EQ(t["vcpu1.walk.refs"], s["vcpu1.walk.refs"]);
  const auto hyp = [](const json& x) {
    return x["vcpu0.cycles.hypervisor"].get<double>() + x["vcpu1.cycles.hypervisor"].get<double>();
  };
  EXPECT_GT(hyp(t), hyp(s));  // the wait is hypervisor time
  // Time splits exactly into guest and hypervisor cycles.
  for (const char* v : {"vcpu0", "vcpu1"}) {
    const std::string p = v;
    EXPECT_GT(s[p + ".cycles.hypervisor"].get<double>(), 0);
    EXPECT_GT(s[p + ".cycles.guest"].get<double>(), 0);
  }
  EXPECT_EQ(s["sim.cycles"].get<std::uint64_t>(),
            std::max(s["vcpu0.cycles.guest"].get<std::uint64_t>() + s["vcpu0.cycles.hypervisor"].get<std::uint64_t>(),
                     s["vcpu1.cycles.guest"].get<std::uint64_t>() + s["vcpu1.cycles.hypervisor"].get<std::uint64_t>()));
}

TEST(Cli, StatsContainEveryRequiredName) {
  const json s = stats_of("run " + kData + "/handmade.json");
  for (const char* k : {"sim.accesses", "sim.cycles", "sim.host_seconds", "sim.accesses_per_host_second"})
    EXPECT_TRUE(s.contains(k)) << k;
  for (const char* v : {"vcpu0", "vcpu1"})
    for (const char* k : {".accesses", ".tlb.l1.hits", ".tlb.l1.misses", ".tlb.l2.hits", ".tlb.l2.misses", ".walks",
                          ".walk.refs", ".exits.ept_violation", ".cycles.guest", ".cycles.hypervisor"})
      EXPECT_TRUE(s.contains(std::string(v) + k)) << v << k;
  for (const auto& kv : s.items()) EXPECT_TRUE(kv.value().is_number()) << kv.key();
}

TEST(Cli, SameConfigAndSeedGiveIdenticalStats) {
  const std::string args = "run " + kSrc + "/configs/quickstart.json --set workload.generator.accesses_per_vcpu=200000";
  json a = stats_of(args, "a.json");
  json b = stats_of(args, "b.json");
  for (json* s : {&a, &b})
    for (const char* k : {"sim.host_seconds", "sim.accesses_per_host_second"}) s->erase(k);
  EXPECT_EQ(a, b);
  EXPECT_GT(a["hv.ept_violations"].get<int>(), 0);
  // A different generator seed changes the run.
  json c = stats_of(args + " --set workload.generator.seed=43", "c.json");
  EXPECT_NE(a["vcpu0.tlb.l1.hits"], c["vcpu0.tlb.l1.hits"]);
}

TEST(Cli, SummaryGoesToStdout) {
  const CliResult r = run_cli("run " + kData + "/handmade.json");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("vmxsim: 2 vCPU(s), 8 accesses"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vcpu1:"), std::string::npos);
  EXPECT_EQ(r.err, "");  // no SystemC banner, no warnings
}

TEST(Cli, SetOverridesAndConfigShowPrintsEveryDefault) {
  const CliResult r = run_cli("config show " + kData + "/handmade.json --set cpu.vcpus=3 --set hv.costs.vm_exit=900");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json e = json::parse(r.out);
  EXPECT_EQ(e["cpu"]["vcpus"], 3);
  EXPECT_EQ(e["hv"]["costs"]["vm_exit"], 900);
  EXPECT_EQ(e["hv"]["costs"]["vm_entry"], 700);  // a default
  EXPECT_EQ(e["tlb"]["l1"]["arrays"]["4k"]["entries"], 64);
  EXPECT_EQ(e["workload"]["generator"]["pattern"], "uniform");
  EXPECT_EQ(e["hv"]["memslots"][1]["backing"], "2M");
  // With 3 vCPUs the trace (vCPUs 0-1) is still valid; running applies overrides too.
  const json s = stats_of("run " + kData + "/handmade.json --set cpu.vcpus=3");
  EXPECT_EQ(s["vcpu2.accesses"], 0);
}

TEST(Cli, HelpAndVersion) {
  for (const char* args : {"--help", "run --help", "config --help", "config show --help"}) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.rc, 0) << args << r.err;
    EXPECT_NE(r.out.find("usage: vmxsim"), std::string::npos) << args;
  }
  const CliResult v = run_cli("--version");
  EXPECT_EQ(v.rc, 0);
  EXPECT_NE(v.out.find("vmxsim 0.1.0"), std::string::npos);
  EXPECT_EQ(run_cli("").rc, 2);
  EXPECT_EQ(run_cli("frobnicate").rc, 2);
  EXPECT_EQ(run_cli("run").rc, 2);
  EXPECT_EQ(run_cli("run x.json --bogus").rc, 2);
}

TEST(Cli, AbbreviatedOptionsAreUnknownNotGuessed) {
  // Boost would take `--stat` for `--stats`: a typo must not run with another meaning.
  const std::string q = kSrc + "/configs/quickstart.json";
  const struct {
    std::string args, err;
  } cases[] = {
      {"run " + q + " --stat s.json", "vmxsim: unrecognised option '--stat'\n(see vmxsim --help)\n"},
      {"config show " + q + " --se cpu.vcpus=2", "vmxsim: unrecognised option '--se'\n(see vmxsim --help)\n"},
      {"sweep spec.json --job 2", "vmxsim: sweep: unrecognised option '--job'\n(see vmxsim sweep --help)\n"},
  };
  for (const auto& c : cases) {
    const CliResult r = run_cli(c.args);
    EXPECT_EQ(r.rc, 2) << c.args;
    EXPECT_EQ(r.err, c.err) << c.args;
  }
  for (const std::string& args : {std::string("list --js"), std::string("trace info x.trace --jso")}) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.rc, 2) << args;
    EXPECT_EQ(r.err.rfind("vmxsim: unrecognised option '--js", 0), 0u) << args << ": " << r.err;
  }
  // Short options still work.
  EXPECT_EQ(run_cli("run " + kData + "/handmade.json -q").rc, 0);
}

// ---- bad input: one clear line on stderr, exit 1, never a crash or hang ----

namespace {
void expect_error(const std::string& args, const std::string& message) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.rc, 1) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << "expected: " << message << "\ngot: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
}  // namespace

TEST(CliErrors, MissingConfig) { expect_error("run /nonexistent.json", "/nonexistent.json: cannot open config file"); }

TEST(CliErrors, MalformedJson) {
  const std::string p = write_file("bad.json", "{\n \"cpu\": { \"vcpus\": 2 \n}\n");
  expect_error("run " + p, p + ": parse error at line 4");
}

TEST(CliErrors, UnknownKey) {
  const std::string p = write_file("unknown.json", R"({"cpu": {"vcpus": 1}, "tlb": {"l1": {"arays": {}}}})");
  expect_error(
      "run " + p,
      "unknown key 'tlb.l1.arays' (known keys here: arrays, hit_cycles, lru, replacement)");  // lru: the chosen policy's own section
  expect_error("run " + p + " --set tlb.l1.arrays.4k.entrys=3", "unknown key 'tlb.l1.arays'");
  const std::string q = write_file("unknown2.json", R"({"cpu": {"vcpus": 1}})");
  expect_error("run " + q + " --set sim.quantum=5",
               "unknown key 'sim.quantum' (known keys here: jitter_cycles, quantum_cycles, seed)");
}

TEST(CliErrors, WrongType) {
  const std::string p = write_file("type.json", R"({"cpu": {"vcpus": "2"}})");
  expect_error("run " + p, "cpu.vcpus: expected a non-negative integer, got string \"2\"");
  expect_error("run " + kData + "/handmade.json --set sim.quantum_cycles=fast",
               "--set sim.quantum_cycles=fast: expected a non-negative integer, got string \"fast\"");
}

TEST(CliErrors, MissingTrace) {
  const std::string p = write_file("notrace.json", R"({"workload": {"trace": "/nonexistent.trace"}})");
  expect_error("run " + p, "/nonexistent.trace: cannot open trace file");
}

TEST(CliErrors, TraceVcpuBeyondConfig) {
  expect_error("run " + kData + "/handmade.json --set cpu.vcpus=1",
               "handmade.trace:5: vCPU 1 is out of range (cpu.vcpus is 1)");
}

TEST(CliErrors, MalformedTraceLine) {
  const std::string t = write_file("bad.trace", "0 R 0x1000\n0 Q 0x2000\n");
  const std::string p = write_file("badtrace.json", "{\"workload\": {\"paging\": \"off\", \"trace\": \"" + t + "\"}}");
  expect_error("run " + p, t + ":2: expected access type R, W or X, got 'Q'");
}

TEST(CliErrors, AddressNoMemslotCovers) {
  const std::string t = write_file("hole.trace", "0 R 0x1000\n0 W 0x40000000\n");
  const std::string p = write_file(
      "hole.json",
      "{\"hv\": {\"memslots\": [{\"gpa\": 0, \"size\": \"1GiB\"}]}, \"workload\": {\"paging\": \"off\", \"trace\": \"" +
          t + "\"}}");
  expect_error("run " + p, "vcpu0: EPT violation on write of GPA 0x40000000 (exit qualification 0x182)");
  expect_error("run " + p, "no memslot covers this GPA");
}

TEST(CliErrors, UnwritableStatsFile) {
  expect_error("run " + kData + "/handmade.json --stats /nonexistent/dir/s.json",
               "/nonexistent/dir/s.json: cannot write stats file");
}

TEST(CliErrors, RaceAndTrackingKeysAreValidated) {
  const std::string r = kSrc + "/configs/races/";
  expect_error(
      "run " + r + "track_race.json --set 'hv.page_track=[{\"gpa\":4096,\"add_cycles\":500,\"remove_cycles\":100}]'",
      "hv.page_track[0].remove_cycles: expected 0 (never) or later than add_cycles");
  expect_error("run " + r + "track_race.json --set 'hv.page_track=[{\"gpa\":100}]'",
               "hv.page_track[0].gpa: expected a multiple of 4 KiB");
  expect_error("run " + r + "track_race.json --set cpu.vcpus=32",
               "hv.spte_id.unique: true identifies a fault by vCPU id + 1");
  expect_error("run " + r + "zap_race.json --set vmm.dirty_log.rounds=0",
               "vmm.dirty_log.disable: true needs rounds of at least 1");
  expect_error("run " + r + "zap_race.json --set check.dirty_log=true",
               "vmm.dirty_log.disable: true cannot go with check.dirty_log");
  expect_error("run " + r + "clear_race.json --set hv.fault_path=quick", "hv.fault_path");
  expect_error("run " + r + "clear_race.json --set cpu.interrupt_window_cycles=0",
               "--set cpu.interrupt_window_cycles=0: expected at least 1, got 0");
}
