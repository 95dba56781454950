// `vmxsim list` (every registry and variant) and `vmxsim stats list` (every
// stat a config's run would emit), run as a user runs them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

/// The names `stats list --json` gives for CONFIG (with `extra` options).
std::set<std::string> listed_names(const std::string& config, const std::string& extra = "") {
  const CliResult r = run_cli("stats list " + config + " --json " + extra);
  EXPECT_EQ(r.rc, 0) << r.err;
  std::set<std::string> names;
  for (const auto& row : json::parse(r.out)) names.insert(row["name"].get<std::string>());
  return names;
}

/// A key of a run's stats as `stats list` names it: vcpu3 -> vcpu<N>, round 2 -> <N>, a histogram bucket -> <bucket>.
std::string pattern_of(const std::string& key) {
  static const std::regex vcpu(R"((^|\.)vcpu[0-9]+(\.|$))"), round(R"(^vmm\.round\.[0-9]+\.)"),
      bucket(R"(_hist\.([0-9]+(-[0-9]+|\+)?)$)");
  std::string k = std::regex_replace(key, vcpu, "$1vcpu<N>$2");
  k = std::regex_replace(k, round, "vmm.round.<N>.");
  return std::regex_replace(k, bucket, "_hist.<bucket>");
}

}  // namespace

TEST(List, PrintsEveryRegistryAndItsVariants) {
  const CliResult r = run_cli("list");
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* line : {
           "hv.fault_path  fault paths: how the hypervisor resolves an EPT violation",
           "  fast     KVM's fast_page_fault: lockless walk, one cmpxchg setting W",
           "  slow     every fault takes mmu_lock (kvm_tdp_mmu_map)",
           "  spte_id  the 2012 proposal: identify, barrier, check the write-protect flag, exchange",
           "  unsafe   check, mark dirty, plain store: a demonstrator of the bug class",
           "pml.variant  PML engines: the hardware half of page-modification logging",
           "  intel  Intel PML as the SDM specifies it: one 4 KiB log of 512 GPAs, PML-full exit 62",
           "  sized  the SDM rules with a log of pml.log_entries entries (a study variant)",
           "tlb.<level>.replacement, pwc.<cache>.replacement, mem.<level>.replacement  replacement policies of "
           "set-associative arrays",
           "  fifo    first in, first out: the oldest fill is the victim",
           "  lru     true least-recently-used: hits and fills count as uses",
           "  random  a SplitMix64 stream seeded per array (from sim.seed) picks the victim way",
           "traces  trace formats: chosen by a trace file's name (workload.trace, vmxsim trace ...)",
           "  text  text v1, one access a line: <vcpu> <R|W|X> <hex addr> [size] [gap_cycles]; any name no other "
           "format claims",
           "  vtr   binary v1 (zstd-compressed, delta-encoded records): files ending in .vtr",
       })
    EXPECT_TRUE(has_line(r.out, line)) << "missing line: " << line << "\n" << r.out;
  // Registries in key order: a header line starts at column 0.
  std::vector<std::string> keys;
  for (const auto& l : lines_of(r.out))
    if (!l.empty() && l[0] != ' ') keys.push_back(l.substr(0, l.find("  ")));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end())) << r.out;
}

TEST(List, JsonHasTheSameRegistries) {
  const CliResult r = run_cli("list --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  std::set<std::string> keys;
  for (const auto& reg : j) keys.insert(reg["key"].get<std::string>());
  for (const char* k : {"hv.fault_path", "pml.variant",
                        "tlb.<level>.replacement, pwc.<cache>.replacement, mem.<level>.replacement", "traces"})
    EXPECT_TRUE(keys.count(k)) << k;
  for (const auto& reg : j)
    if (reg["key"] == "traces") {
      ASSERT_EQ(reg["variants"].size(), 2u);
      EXPECT_EQ(reg["variants"][0]["name"], "text");
      EXPECT_EQ(reg["variants"][1]["name"], "vtr");
      EXPECT_EQ(reg["variants"][1]["description"],
                "binary v1 (zstd-compressed, delta-encoded records): files ending in .vtr");
    }
}

TEST(List, RejectsArguments) {
  const CliResult r = run_cli("list pml");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("vmxsim: unexpected argument 'pml'"), std::string::npos) << r.err;
}

TEST(StatsList, DescribesTheStatsOfAConfig) {
  const CliResult r = run_cli("stats list " + kData + "/handmade.json --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  json by_name = json::object();
  for (const auto& row : json::parse(r.out)) by_name[row["name"].get<std::string>()] = row;
  const json acc = by_name["vcpu<N>.accesses"];
  EXPECT_EQ(acc["kind"], "counter");
  EXPECT_EQ(acc["unit"], "accesses");
  EXPECT_EQ(acc["description"], "accesses this vCPU retired from its stream");
  EXPECT_EQ(by_name["sim.accesses_per_simulated_second"]["kind"], "value");
  EXPECT_EQ(by_name["sim.accesses_per_simulated_second"]["unit"], "accesses/s");
  for (const char* k : {".count", ".sum", ".max", ".<bucket>"})
    EXPECT_EQ(by_name[std::string("vcpu<N>.walk.refs_hist") + k]["kind"], "histogram") << k;
  for (const auto& kv : by_name.items()) EXPECT_EQ(kv.key().find("vcpu0"), std::string::npos) << kv.key();
  // No dirty logging configured: no per-round VMM stats.
  EXPECT_FALSE(by_name.contains("vmm.round.<N>.pages"));
}

TEST(StatsList, MarkdownAndTextFormats) {
  const CliResult md = run_cli("stats list " + kData + "/handmade.json --markdown");
  ASSERT_EQ(md.rc, 0) << md.err;
  const auto lines = lines_of(md.out);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "| stat | kind | unit | description |");
  EXPECT_EQ(lines[1], "|---|---|---|---|");
  EXPECT_TRUE(has_line(md.out, "| `sim.vcpus` | value | vcpus | vCPUs simulated (cpu.vcpus) |")) << md.out;
  const CliResult text = run_cli("stats list " + kData + "/handmade.json");
  ASSERT_EQ(text.rc, 0) << text.err;
  EXPECT_EQ(text.out.substr(0, 4), "NAME");
  EXPECT_EQ(run_cli("stats list " + kData + "/handmade.json --json --markdown").rc, 2);
}

TEST(StatsList, DefaultsToQuickstartAndTakesSet) {
  // The default config is configs/quickstart.json in the current folder.
  const std::string out = tmp("default.json");
  ASSERT_EQ(std::system(("cd " + kSrc + " && timeout 300 " + kBin + " stats list --json >" + out).c_str()), 0);
  std::set<std::string> names;
  for (const auto& row : json::parse(slurp(out))) names.insert(row["name"].get<std::string>());
  EXPECT_TRUE(names.count("guest.page_faults"));  // quickstart has guest paging on
  EXPECT_FALSE(names.count("vcpu<N>.pml.logged"));
  const auto pml =
      listed_names(kSrc + "/configs/quickstart.json", "--set hv.dirty_log.mode=pml --set vmm.dirty_log.enabled=true");
  EXPECT_TRUE(pml.count("vcpu<N>.pml.logged"));
  EXPECT_TRUE(pml.count("vmm.round.<N>.pages"));
  EXPECT_TRUE(pml.count("vmm.round.<N>.cycles"));
}

// Every key a run writes is one `stats list` announced before the run.
TEST(StatsList, ListsEveryStatARunWrites) {
  const std::string cfg = write_file("dirty.json", dirty_log_config("pml", 2, 3000));
  for (const std::string& config : {kData + "/handmade.json", cfg}) {
    const std::set<std::string> listed = listed_names(config);
    const std::string st = tmp("stats.json");
    const CliResult r = run_cli("run " + config + " --quiet --stats " + st);
    ASSERT_EQ(r.rc, 0) << r.err;
    const json stats = json::parse(slurp(st));
    for (const auto& kv : stats.items()) {
      EXPECT_TRUE(listed.count(pattern_of(kv.key())))
          << config << ": " << kv.key() << " (as " << pattern_of(kv.key()) << ") is not in stats list";
    }
  }
}

TEST(StatsList, UndescribedListsOnlyPlaceholders) {
  const CliResult r = run_cli("stats list " + kData + "/handmade.json --json --undescribed");
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const auto& row : json::parse(r.out)) {
    EXPECT_EQ(row["unit"], "?") << row.dump();
    EXPECT_NE(row["name"], "sim.accesses");
  }
}

TEST(StatsList, ErrorsNameTheConfig) {
  const CliResult r = run_cli("stats list /nonexistent/c.json");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("/nonexistent/c.json"), std::string::npos) << r.err;
  const CliResult bad = run_cli("stats list " + kData + "/handmade.json --set cpu.vcpus=0");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("cpu.vcpus"), std::string::npos) << bad.err;
  EXPECT_EQ(run_cli("stats show").rc, 2);
}
