// Errors blame the input that gave the bad value: a --set names itself (and
// what it gave), a file value names the file (texts unchanged), and a
// malformed --set is a usage error (exit 2) whatever the config holds.
#include <string>

#include "harness.hpp"

using namespace vmxsim::test;

namespace {
const std::string kQuick = kSrc + "/configs/quickstart.json";

// `vmxsim ARGS` must exit `rc` with exactly `err` on stderr.
void expect_exact(const std::string& args, int rc, const std::string& err) {
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.rc, rc) << args;
  EXPECT_EQ(r.err, err) << args;
}
}  // namespace

TEST(Blame, ABadSetValueNamesTheSetAndWhatItGave) {
  expect_exact("run " + kQuick + " --set cpu.vcpus=600", 1,
               "vmxsim: error: --set cpu.vcpus=600: expected 1 to 512, got 600\n");
  expect_exact("run " + kQuick + " --set cpu.vcpus=0", 1,
               "vmxsim: error: --set cpu.vcpus=0: expected 1 to 512, got 0\n");
  // Types, choices and unknown keys name the --set too.
  expect_exact("run " + kQuick + " --set cpu.vcpus=many", 1,
               "vmxsim: error: --set cpu.vcpus=many: expected a non-negative integer, got string \"many\"\n");
  expect_exact("run " + kQuick + " --set hv.mmu_lock=bogus", 1,
               "vmxsim: error: --set hv.mmu_lock=bogus: expected one of rw, spin, got \"bogus\"\n");
  expect_exact("config show " + kQuick + " --set cpu.vcpu=4", 1,
               "vmxsim: error: --set cpu.vcpu=4: unknown key 'cpu.vcpu' (known keys here: access_cycles, freq_ghz, "
               "interrupt_window_cycles, max_exits_per_access, max_retries_per_access, vcpus)\n");
  // A --set of a whole object: the key below it is named after the --set.
  expect_exact("run " + kQuick + " --set 'cpu={\"vcpus\":0}'", 1,
               "vmxsim: error: --set cpu={\"vcpus\":0}: cpu.vcpus: expected 1 to 512, got 0\n");
  // A path through a value that is not an object: the --set and the config disagree.
  expect_exact("run " + kQuick + " --set cpu.vcpus.x=1", 1,
               "vmxsim: error: --set cpu.vcpus.x=1: 'cpu.vcpus' is not an object\n");
  // The last --set of a key is the one blamed.
  expect_exact("run " + kQuick + " --set cpu.vcpus=4 --set cpu.vcpus=513", 1,
               "vmxsim: error: --set cpu.vcpus=513: expected 1 to 512, got 513\n");
}

TEST(Blame, AFileValueStillNamesTheFile) {
  const std::string p = write_file("vcpus.json", R"({"cpu": {"vcpus": 600}})");
  expect_exact("run " + p, 1, "vmxsim: error: " + p + ": cpu.vcpus: expected 1 to 512\n");
  // A --set of another key does not take the blame.
  expect_exact("run " + p + " --set sim.seed=3", 1, "vmxsim: error: " + p + ": cpu.vcpus: expected 1 to 512\n");
  // ...and a --set that fixes it makes the file's value harmless.
  EXPECT_EQ(run_cli("config show " + p + " --set cpu.vcpus=2").rc, 0);
}

TEST(Blame, AMalformedSetIsAUsageError) {
  for (const std::string& cmd :
       {"run " + kQuick, "config show " + kQuick, "stats list " + kQuick, std::string("run /nonexistent.json")}) {
    expect_exact(cmd + " --set novalue", 2, "vmxsim: --set novalue: expected key.path=value\n(see vmxsim --help)\n");
    expect_exact(cmd + " --set =3", 2, "vmxsim: --set =3: expected key.path=value\n(see vmxsim --help)\n");
    expect_exact(cmd + " --set cpu..vcpus=3", 2,
                 "vmxsim: --set cpu..vcpus=3: empty key component\n(see vmxsim --help)\n");
  }
}
