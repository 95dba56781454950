// A trace with accesses for fewer vCPUs than cpu.vcpus runs, but says so on
// stderr (naming both counts and the idle vCPUs), for text and .vtr alike:
// the usual cause is a forgotten --set cpu.vcpus.
#include <string>

#include "harness.hpp"

using namespace vmxsim::test;

namespace {
const std::string kHand = kData + "/handmade.json";
const std::string kHandTrace = kData + "/handmade.trace";

std::string config_for(const std::string& trace, unsigned vcpus) {
  return R"({"cpu": {"vcpus": )" + std::to_string(vcpus) +
         R"(}, "hv": {"memslots": [{"gpa": 0, "size": "64MiB"}]}, "workload": {"paging": "off", "trace": ")" + trace +
         R"("}})";
}
}  // namespace

TEST(IdleVcpus, ATraceForFewerVcpusWarnsNamingBothCounts) {
  const CliResult four = run_cli("run " + kHand + " --quiet --set cpu.vcpus=4");
  EXPECT_EQ(four.rc, 0) << four.err;
  EXPECT_EQ(four.err, "vmxsim: warning: trace " + kHandTrace +
                          " has accesses for 2 vCPUs but cpu.vcpus is 4; vcpu2..vcpu3 will be idle\n");
  const CliResult three = run_cli("run " + kHand + " --quiet --set cpu.vcpus=3");
  EXPECT_EQ(three.rc, 0) << three.err;
  EXPECT_EQ(three.err, "vmxsim: warning: trace " + kHandTrace +
                           " has accesses for 2 vCPUs but cpu.vcpus is 3; vcpu2 will be idle\n");
  // As many vCPUs as the trace has: nothing to say.
  const CliResult two = run_cli("run " + kHand + " --quiet");
  EXPECT_EQ(two.rc, 0) << two.err;
  EXPECT_EQ(two.err, "");
}

TEST(IdleVcpus, GapsAreListedAndBinaryTracesWarnToo) {
  const std::string text = write_file("gaps.trace", "0 R 0x1000\n2 W 0x2000\n0 R 0x3000\n");
  const RunResult t = run_config(config_for(text, 4));
  EXPECT_EQ(t.rc, 0) << t.err;
  EXPECT_EQ(t.err, "vmxsim: warning: trace " + text +
                       " has accesses for 2 vCPUs but cpu.vcpus is 4; vcpu1, vcpu3 will be idle\n");
  const std::string bin = tmp("gaps.vtr");
  ASSERT_EQ(run_cli("trace convert " + text + " " + bin).rc, 0);
  const RunResult b = run_config(config_for(bin, 5));
  EXPECT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(b.err, "vmxsim: warning: trace " + bin +
                       " has accesses for 2 vCPUs but cpu.vcpus is 5; vcpu1, vcpu3..vcpu4 will be idle\n");
  // The idle vCPUs run no access; the others run theirs.
  EXPECT_EQ(b.stats["vcpu0.accesses"], 2);
  EXPECT_EQ(b.stats["vcpu1.accesses"], 0);
  EXPECT_EQ(b.stats["vcpu2.accesses"], 1);
}
