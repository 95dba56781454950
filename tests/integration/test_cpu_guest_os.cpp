// Guest paging end to end: the 2D walk through the real binary, and the
// quantum-invariance property of the time model.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

json run_stats(const std::string& args, const std::string& name) {
  const std::string path = tmp(name), err = tmp(name + ".err");
  const int status =
      std::system(("timeout 300 " + kBin + " run " + args + " --quiet --stats " + path + " 2>" + err).c_str());
  std::ifstream e(err);
  std::stringstream es;
  es << e.rdbuf();
  EXPECT_EQ(WEXITSTATUS(status), 0) << es.str();
  std::ifstream in(path);
  return json::parse(in);
}

// Stats that describe the host, not the simulated system.
void drop_host_stats(json& s) {
  for (auto it = s.begin(); it != s.end();) {
    if (it.key().rfind("sim.host_", 0) == 0 || it.key() == "sim.accesses_per_host_second" ||
        it.key().find(".host.") != std::string::npos)
      it = s.erase(it);
    else ++it;
  }
}

}  // namespace

TEST(Paging, QuantumOfOneCycleGivesIdenticalStats) {
  const std::string cfg = kData + "/multi_vcpu.json";
  json a = run_stats(cfg + " --set sim.quantum_cycles=1", "q1.json");
  json b = run_stats(cfg, "qdefault.json");
  json c = run_stats(cfg + " --set sim.quantum_cycles=100000", "qbig.json");
  // The run really exercises shared state: faults, exits, lock contention.
  EXPECT_GT(a["guest.page_faults"].get<int>(), 1000);
  EXPECT_GT(a["hv.ept_violations"].get<int>(), 100);
  EXPECT_GT(a["hv.lock.mmu_lock.acquisitions"].get<int>(), 100);
  EXPECT_GT(a["vcpu0.host.kernel_waits"].get<int>(), b["vcpu0.host.kernel_waits"].get<int>());
  drop_host_stats(a);
  drop_host_stats(b);
  drop_host_stats(c);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
  if (a != b)
    for (auto it = a.begin(); it != a.end(); ++it)
      if (b[it.key()] != it.value()) ADD_FAILURE() << it.key() << ": " << it.value() << " vs " << b[it.key()];
}

TEST(Paging, TwoDimensionalWalksShowInStats) {
  json s = run_stats(kData + "/multi_vcpu.json --set cpu.vcpus=1 --set guest.page_size=4K", "one.json");
  EXPECT_EQ(s["vcpu0.walk.refs_hist.count"], s["vcpu0.walks"]);
  EXPECT_EQ(s["vcpu0.walk.refs_hist.sum"], s["vcpu0.walk.refs"]);
  EXPECT_GT(s["vcpu0.pwc.pde.hits"].get<int>(), 0);
  EXPECT_GT(s["vcpu0.mem.l1d.hits"].get<int>(), 0);
  EXPECT_EQ(s["guest.maps_2m"], 0);
  // Every page touched was first a guest fault: 24 MiB of 4 KiB pages, hot/cold over all of it.
  EXPECT_EQ(s["guest.page_faults"], s["guest.maps_4k"]);
  EXPECT_EQ(s["vcpu0.guest.page_faults"], s["guest.page_faults"]);
  // With the guest fault handled in guest mode, EPT exits are for data pages and page-table pages.
  EXPECT_EQ(s["vcpu0.exits.ept_violation"], s["hv.ept_violations"]);

  // Without paging-structure caches, a walk of a mapped page costs exactly
  // 24 references (4-level over 4-level); walks that fault stop earlier.
  const std::string no_pwc =
      " --set pwc.pml5e.entries=0 --set pwc.pml4e.entries=0 --set pwc.pdpte.entries=0"
      " --set pwc.pde.entries=0 --set pwc.ept.entries=0";
  json n = run_stats(kData + "/multi_vcpu.json --set cpu.vcpus=1 --set guest.page_size=4K" + no_pwc, "nopwc.json");
  EXPECT_EQ(n["vcpu0.walk.refs_hist.max"], 24);
  EXPECT_GT(n["vcpu0.walk.refs_hist.24"].get<int>(), 1000);
  EXPECT_GT(n["vcpu0.walk.refs"].get<double>() / n["vcpu0.walks"].get<double>(),
            s["vcpu0.walk.refs"].get<double>() / s["vcpu0.walks"].get<double>());

  json f = run_stats(kData +
                         "/multi_vcpu.json --set cpu.vcpus=1 --set guest.paging_levels=5 --set ept.levels=5 "
                         "--set guest.page_size=4K" +
                         no_pwc,
                     "five.json");
  EXPECT_EQ(f["vcpu0.walk.refs_hist.max"], 35);  // 5-level over 5-level, no caches
}
