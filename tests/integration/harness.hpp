// What every end-to-end test needs to run the real vmxsim binary as a user
// does: per-test temp files (CTest runs tests in parallel processes), a
// timeout (a hang fails the test rather than CI), and the shared workloads.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vmxsim::test {

using nlohmann::json;

inline const std::string kBin = VMXSIM_BIN;
inline const std::string kSrc = VMXSIM_SOURCE_DIR;
inline const std::string kData = kSrc + "/tests/integration/data";

/// A temp path unique to the running test.
inline std::string tmp(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : id)
    if (c == '/') c = '_';  // parameterised tests: "Prefix/Suite", "Test/param"
  return ::testing::TempDir() + "/vmxsim_" + id + "_" + name;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = tmp(name);
  std::ofstream(path) << text;
  return path;
}

struct CliResult {
  int rc;
  std::string out, err;
};

/// `vmxsim ARGS`, capturing stdout and stderr.
inline CliResult run_cli(const std::string& args) {
  const std::string out = tmp("out.txt"), err = tmp("err.txt");
  const int status = std::system(("timeout 300 " + kBin + " " + args + " >" + out + " 2>" + err).c_str());
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

struct RunResult {
  int rc;
  json stats;  // parsed when the run finished (exit 0, or 3 for a checker violation)
  std::string err;
};

/// `vmxsim run` on a config given as text, with --quiet --stats and `extra`
/// options; `prefix` goes before the command (e.g. "cd DIR &&").
inline RunResult run_config(const std::string& config_text, const std::string& extra = "",
                            const std::string& prefix = "") {
  const std::string cfg = tmp("cfg.json"), st = tmp("stats.json"), err = tmp("err.txt");
  std::ofstream(cfg) << config_text;
  std::remove(st.c_str());
  const int status = std::system(
      (prefix + "timeout 300 " + kBin + " run " + cfg + " --quiet --stats " + st + " " + extra + " 2>" + err).c_str());
  RunResult r{WEXITSTATUS(status), json::object(), slurp(err)};
  if (r.rc == 0 || r.rc == 3) r.stats = json::parse(slurp(st));
  return r;
}

/// The multi-vCPU dirty-logging workload: guest paging with mixed page
/// sizes, two memslots (4 KiB and 2 MiB backed), GET+CLEAR every 150,000
/// cycles, the oracle on. `extra_hv` is spliced into hv.dirty_log,
/// `extra_top` adds top-level sections (ending with a comma).
inline std::string dirty_log_config(const std::string& mode, unsigned vcpus, unsigned accesses_per_vcpu,
                                    const std::string& extra_hv = "", const std::string& extra_top = "") {
  return R"({"cpu": {"vcpus": )" + std::to_string(vcpus) + R"(},
    "guest": {"page_size": "mix", "mix_2m": 0.3},
    "hv": {"dirty_log": {"mode": ")" +
         mode + R"(")" + extra_hv + R"(},
           "memslots": [{"gpa": 0, "size": "1GiB", "backing": "4K"}, {"gpa": "1GiB", "size": "1GiB", "backing": "2M"}]},
    "vmm": {"dirty_log": {"enabled": true, "start_cycles": 200000, "period_cycles": 150000}},
    "check": {"dirty_log": true},)" +
         extra_top + R"(
    "workload": {"generator": {"pattern": "hot_cold", "base": "900MiB", "working_set_bytes": "48MiB",
                 "accesses_per_vcpu": )" +
         std::to_string(accesses_per_vcpu) + R"(, "write_fraction": 0.5, "seed": 11}}})";
}

}  // namespace vmxsim::test
