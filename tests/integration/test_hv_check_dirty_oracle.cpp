// The dirty-log oracle's list of what each GET_DIRTY_LOG reported
// (`check.dirty_log_gets`, docs/config.md and docs/inspect.md), end to end.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

TEST(DirtyLogGets, TheFileListsEachGetsPagesAsTheStatsCountThem) {
  for (const char* mode : {"wp", "pml"}) {
    SCOPED_TRACE(mode);
    const std::string gets = tmp(std::string("gets_") + mode + ".json");
    const RunResult r = run_config(dirty_log_config(mode, 2, 8000), "--set check.dirty_log_gets=" + gets);
    ASSERT_EQ(r.rc, 0) << r.err;
    const json g = json::parse(slurp(gets));
    EXPECT_EQ(g["format"], "vmxsim-dirty-log-gets");
    EXPECT_EQ(g["version"], 1);
    const json& list = g["gets"];
    // One GET per collection, the final one included; each as many pages as
    // the round's stat says.
    ASSERT_EQ(list.size(), r.stats["vmm.rounds"].get<std::size_t>());
    ASSERT_GT(list.size(), 2u);
    std::uint64_t total = 0, last_end = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json& x = list[i];
      EXPECT_EQ(x["get"], i + 1);
      EXPECT_EQ(x["count"], x["pages"].size());
      EXPECT_EQ(x["count"], r.stats["vmm.round." + std::to_string(i + 1) + ".pages"]) << i;
      EXPECT_LE(x["start_cycle"].get<std::uint64_t>(), x["end_cycle"].get<std::uint64_t>());
      EXPECT_GE(x["start_cycle"].get<std::uint64_t>(), last_end);
      last_end = x["end_cycle"];
      std::uint64_t prev = 0;
      for (const json& p : x["pages"]) {  // 4 KiB GPAs, ascending, each once
        const std::uint64_t gpa = std::stoull(p.get<std::string>(), nullptr, 16);
        EXPECT_EQ(gpa % 4096, 0u);
        if (&p != &x["pages"][0]) {
          EXPECT_GT(gpa, prev);
        }
        prev = gpa;
      }
      total += x["count"].get<std::uint64_t>();
    }
    EXPECT_EQ(total, r.stats["vmm.pages_reported"]);
    EXPECT_GT(total, 0u);
    EXPECT_EQ(r.stats["check.dirty_lost"], 0);
  }
}

TEST(DirtyLogGets, BadInputIsAClearError) {
  const std::string cfg = write_file("dl.json", dirty_log_config("pml", 1, 100));
  struct Case {
    std::string set;
    std::string message;
  };
  const Case cases[] = {
      {"--set check.dirty_log=false --set check.dirty_log_gets=" + tmp("g.json"),
       "--set check.dirty_log_gets=" + tmp("g.json") + ": needs check.dirty_log: true"},
      {"--set check.dirty_log_gets=/nonexistent-dir/g.json",
       "check.dirty_log_gets: /nonexistent-dir/g.json: cannot write file"},
      {"--set check.dirty_log_gets=5", "--set check.dirty_log_gets=5: expected a string, got integer 5"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_cli("run " + cfg + " --quiet " + c.set);
    EXPECT_EQ(r.rc, 1) << c.set;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.set << ": " << r.err;
  }
  // Without the key nothing is written and the oracle runs as before.
  const CliResult r = run_cli("run " + cfg + " --quiet");
  EXPECT_EQ(r.rc, 0) << r.err;
}
