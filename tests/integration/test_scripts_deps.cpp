// scripts/deps.sh, the README's first command, run against stand-ins for
// dpkg-query, id and apt-get: it must ask apt for every package a README
// workflow needs, including those the build does not (matplotlib, valgrind),
// and ask for nothing when all are installed.
#include <sys/stat.h>

#include <filesystem>

#include "harness.hpp"

namespace vmxsim::test {
namespace {

namespace fs = std::filesystem;

// A folder of stand-ins: dpkg-query reports every package missing (or every
// one installed), id says root, apt-get appends its arguments to `log`.
std::string fake_bin(bool installed, const std::string& log) {
  const std::string dir = tmp("bin");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto script = [&](const std::string& name, const std::string& body) {
    const std::string p = dir + "/" + name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    ::chmod(p.c_str(), 0755);
  };
  script("dpkg-query", installed ? "printf 'install ok installed'" : "exit 1");
  script("id", "echo 0");
  script("apt-get", "echo \"$@\" >> " + log);
  return dir;
}

TEST(DepsScript, InstallsWhatTheReadmeWorkflowsNeed) {
  const std::string log = tmp("apt.log");
  std::remove(log.c_str());
  const std::string bin = fake_bin(false, log);
  const int rc = std::system(("PATH=" + bin + ":$PATH bash " + kSrc + "/scripts/deps.sh 2>/dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 0);
  const std::string apt = slurp(log);
  EXPECT_NE(apt.find("update"), std::string::npos) << apt;
  for (const char* pkg : {"python3-matplotlib", "valgrind", "libsystemc-dev", "libgtest-dev"})
    EXPECT_NE(apt.find(std::string(" ") + pkg), std::string::npos) << pkg << " not installed by:\n" << apt;
}

TEST(DepsScript, DoesNothingWhenEverythingIsInstalled) {
  const std::string log = tmp("apt.log");
  std::remove(log.c_str());
  const std::string bin = fake_bin(true, log);
  const int rc = std::system(("PATH=" + bin + ":$PATH bash " + kSrc + "/scripts/deps.sh").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 0);
  EXPECT_FALSE(fs::exists(log)) << slurp(log);
}

}  // namespace
}  // namespace vmxsim::test
