// End-to-end tests of `vmxsim trace ...` and of binary traces in `vmxsim run`.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

const std::string kLackeySample = kSrc + "/tests/data/lackey_true.lackey";

json stats_of_run(const std::string& args, const std::string& file) {
  const std::string path = tmp(file);
  const CliResult r = run_cli("run " + args + " --quiet --stats " + path);
  EXPECT_EQ(r.rc, 0) << r.err;
  json s = json::parse(slurp(path));
  for (const char* k : {"sim.host_seconds", "sim.accesses_per_host_second"}) s.erase(k);
  return s;
}

void expect_usage_error(const std::string& args, const std::string& message, const std::string& usage) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.rc, 2) << args << "\n" << r.err;
  EXPECT_NE(r.err.find("vmxsim: " + message), std::string::npos) << "expected: " << message << "\ngot: " << r.err;
  EXPECT_NE(r.err.find(usage), std::string::npos) << "expected the usage '" << usage << "'\ngot: " << r.err;
}

}  // namespace

TEST(TraceCli, ConvertRoundTripsAndBinaryReplaysLikeText) {
  // The hand-made workload, its trace converted to canonical text, to .vtr and back.
  const std::string canon = tmp("canon.trace"), bin = tmp("h.vtr"), back = tmp("back.trace");
  for (const auto& [in, out] : {std::pair{kData + "/handmade.trace", canon}, {canon, bin}, {bin, back}}) {
    const CliResult r = run_cli("trace convert " + in + " " + out);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out + r.err, "");
  }
  EXPECT_EQ(slurp(back), slurp(canon));
  EXPECT_EQ(slurp(canon).substr(0, 15), "0 R 0x1000 8 0\n");
  // The same run from the text and the binary trace, stat for stat.
  const json text = stats_of_run(kData + "/handmade.json", "text.json");
  const json binary = stats_of_run(kData + "/handmade.json --set workload.trace=" + bin, "bin.json");
  EXPECT_EQ(text, binary);
  EXPECT_EQ(binary["sim.accesses"], 8);
}

TEST(TraceCli, GenThenReplayEqualsTheGenerator) {
  const std::string cfg = kSrc + "/configs/quickstart.json --set workload.generator.accesses_per_vcpu=20000";
  const std::string bin = tmp("gen.vtr");
  const CliResult g = run_cli("trace gen " + cfg + " " + bin);
  ASSERT_EQ(g.rc, 0) << g.err;
  const json gen = stats_of_run(cfg, "gen.json");
  const json replay = stats_of_run(cfg + " --set workload.trace=" + bin, "replay.json");
  EXPECT_EQ(gen, replay);
  EXPECT_EQ(replay["sim.accesses"], 40000);
}

TEST(TraceCli, InfoOnAKnownFile) {
  const std::string bin = tmp("info.vtr");
  ASSERT_EQ(run_cli("trace convert " + kData + "/handmade.trace " + bin).rc, 0);
  const CliResult r = run_cli("trace info " + bin);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, bin +
                       ": vtr v1 trace, header declares 2 vCPU(s)\n"
                       "accesses:     8 (64 bytes)\n"
                       "reads:        5 (62.5%)\n"
                       "writes:       2 (25.0%)\n"
                       "execs:        1 (12.5%)\n"
                       "unique pages: 6 of 4 KiB (24 KiB)\n"
                       "addresses:    0x1000 to 0x1200007 (first to last byte)\n"
                       "vcpu0:        5\n"
                       "vcpu1:        3\n");
  const CliResult j = run_cli("trace info --json " + kData + "/handmade.trace");
  ASSERT_EQ(j.rc, 0) << j.err;
  const json s = json::parse(j.out);
  EXPECT_EQ(s["format"], "text v1");
  EXPECT_EQ(s["accesses"], 8);
  EXPECT_EQ(s["per_vcpu"], json::parse("[5, 3]"));
  EXPECT_EQ(s["unique_pages_4k"], 6);
}

TEST(TraceCli, LackeySampleImportsAndRuns) {
  const std::string bin = tmp("true.vtr");
  const CliResult i = run_cli("trace import --from lackey " + kLackeySample + " " + bin);
  ASSERT_EQ(i.rc, 0) << i.err;
  const CliResult info = run_cli("trace info --json " + bin);
  const json s = json::parse(info.out);
  EXPECT_EQ(s["execs"], 304);
  EXPECT_EQ(s["reads"], 57);
  EXPECT_EQ(s["writes"], 42);
  // A user program's guest-virtual addresses (valgrind's layout: 0x4000000 for
  // ld.so, 0x1fff000000 for the stack) run with guest paging on, the default.
  const std::string cfg = write_file("empty.json", "{}");
  const json run = stats_of_run(cfg + " --set workload.trace=" + bin, "run.json");
  EXPECT_EQ(run["sim.accesses"], 403);
  EXPECT_EQ(run["guest.page_faults"], 6);  // its 6 pages: ld.so code and data, one stack page
  // Two copies merged: vCPU 0 and vCPU 1, by guest time.
  const std::string two = tmp("two.vtr");
  ASSERT_EQ(run_cli("trace import --from lackey --interleave gap --gap-cycles 3 " + kLackeySample + " " +
                    kLackeySample + " " + two)
                .rc,
            0);
  const json both = stats_of_run(cfg + " --set cpu.vcpus=2 --set workload.trace=" + two, "two.json");
  EXPECT_EQ(both["vcpu0.accesses"], 403);
  EXPECT_EQ(both["vcpu1.accesses"], 403);
}

TEST(TraceCli, UsageErrorsExit2WithUsage) {
  expect_usage_error("trace", "missing trace command", "usage: vmxsim trace <command>");
  expect_usage_error("trace frob", "unknown trace command 'frob'", "usage: vmxsim trace <command>");
  expect_usage_error("trace convert a.trace", "missing arguments", "usage: vmxsim trace convert IN OUT");
  expect_usage_error("trace convert a b c", "too many arguments: 'c'", "usage: vmxsim trace convert");
  expect_usage_error("trace info", "missing arguments", "usage: vmxsim trace info FILE");
  expect_usage_error("trace gen " + kData + "/handmade.json", "missing arguments", "usage: vmxsim trace gen");
  expect_usage_error("trace import a b", "missing --from (known: lackey)", "usage: vmxsim trace import");
  expect_usage_error("trace import --from pin a b", "unknown --from 'pin' (known: lackey)",
                     "usage: vmxsim trace import");
  expect_usage_error("trace import --from lackey a", "missing arguments", "usage: vmxsim trace import");
  expect_usage_error("trace import --from lackey --interleave zip a b", "unknown --interleave 'zip'",
                     "usage: vmxsim trace import");
  expect_usage_error("trace info --bogus x", "unrecognised option '--bogus'", "usage: vmxsim trace info");
  for (const char* help :
       {"trace --help", "trace convert --help", "trace info --help", "trace gen --help", "trace import --help"}) {
    const CliResult r = run_cli(help);
    EXPECT_EQ(r.rc, 0) << help;
    EXPECT_NE(r.out.find("usage: vmxsim trace"), std::string::npos) << help;
  }
}

TEST(TraceCli, BadInputExits1WithOneLine) {
  const std::string bad = write_file("bad.vtr", "0 R 0x1000\n");
  const std::string cfg = write_file("c.json", "{\"workload\": {\"trace\": \"" + bad + "\"}}");
  for (const std::string& args : {"run " + cfg, "trace info " + bad, "trace convert " + bad + " " + tmp("o.trace")}) {
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_EQ(r.err, "vmxsim: error: " + bad +
                         ": not a .vtr trace (bad magic at byte offset 0; expected "
                         "\\x89VTR\\r\\n\\x1a\\n)\n")
        << args;
  }
  // A failed conversion leaves no partial output behind.
  const std::string lackey = write_file("bad.lackey", "I  1000,4\n L 12,zz\n");
  const std::string out = tmp("partial.vtr");
  const CliResult r = run_cli("trace import --from lackey " + lackey + " " + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "vmxsim: error: " + lackey + ":2: expected <hex address>,<decimal size> after 'L', got '12,zz'\n");
  EXPECT_EQ(slurp(out), "");
  EXPECT_FALSE(std::ifstream(out).good());
  // Converting a file onto itself is refused before it is truncated.
  const std::string self = tmp("self.trace");
  ASSERT_EQ(run_cli("trace convert " + kData + "/handmade.trace " + self).rc, 0);
  const std::string before = slurp(self);
  const CliResult s = run_cli("trace convert " + self + " " + self);
  EXPECT_EQ(s.rc, 1);
  EXPECT_NE(s.err.find("the output is the input file"), std::string::npos) << s.err;
  EXPECT_EQ(slurp(self), before);
  EXPECT_EQ(std::count(before.begin(), before.end(), '\n'), 8);
}

TEST(TraceCli, ProgressBarWhenForcedAndClearedAtTheEnd) {
  // Several redraw intervals (0.25 s) of simulation even on a fast host (the
  // tlb_hit benchmark runs near 90 M accesses/s): the bar is drawn at least once.
  const CliResult r = run_cli("run " + kSrc +
                              "/configs/perf/tlb_hit.json --set workload.generator.accesses_per_vcpu=160000000 "
                              "--progress --quiet");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find(" / 160.0M accesses  "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" M/s  ETA "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - 4), "\r\033[K");  // cleared
  EXPECT_EQ(r.out, "");
  // Not a terminal: no bar unless forced.
  const CliResult q = run_cli("run " + kData + "/handmade.json --no-progress");
  EXPECT_EQ(q.err, "");
}
