// Multi-vCPU coherence under the real kernel: a remote TLB flush posted by a
// VMM-like thread reaches every vCPU at its next sync, as an IPI exit; and
// INVVPID/INVEPT on a vCPU drop exactly the mappings the SDM says.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <gtest/gtest.h>

#include <fstream>

#include <systemc>

#include "sim/app/simulation.hpp"

using namespace vmxsim;

namespace {
sim::SimParams params(const std::string& text) {
  ConfigTracker t(json::parse(text), "test.json");
  return sim::SimParams::read(t, ".", {});
}
}  // namespace

TEST(Coherence, RemoteFlushIsSeenByEveryOtherVcpu) {
  static sim::Simulation* s = new sim::Simulation(params(R"({
    "cpu": {"vcpus": 3},
    "workload": {"paging": "off", "generator": {"pattern": "sequential", "working_set_bytes": "64KiB",
                 "accesses_per_vcpu": 200000, "stride": 4096}}})"));
  static sim::SimThread driver(1000, 1000);  // a VMM-like thread
  sc_core::sc_spawn([] {
    driver.charge(100000);  // all 16 pages are mapped by then (~3,000 cycles each), and runs last >= 200,000
    s->hypervisor().requests().flush_remote_tlbs(driver, -1);
  });
  s->run();
  const Stats& st = s->stats();
  EXPECT_EQ(st.get("hv.remote_flushes"), 1);
  for (int i = 0; i < 3; ++i) {
    const std::string v = "vcpu" + std::to_string(i);
    EXPECT_EQ(st.get(v + ".tlb.remote_flushes"), 1) << v;
    EXPECT_EQ(st.get(v + ".exits.external_interrupt"), 1) << v;
    EXPECT_EQ(st.get(v + ".tlb.flushes"), 1) << v;
    // The flush emptied its TLBs: the 16 pages were walked again afterwards.
    EXPECT_EQ(st.get(v + ".tlb.l1.invalidations"), 16) << v;
    EXPECT_EQ(st.get(v + ".walks"), 16 * 2 + 16) << v;  // first touch: fault + walk; after the flush: walk
  }
}

TEST(Coherence, InvvpidDropsOnlyItsVpidAndInveptDropsCombinedMappings) {
  const std::string trace = ::testing::TempDir() + "/vmxsim_coherence.trace";
  std::ofstream(trace) << "0 R 0x1000\n0 R 0x200000\n1 R 0x1000\n";
  static sim::Simulation* s = new sim::Simulation(
      params(R"({"cpu": {"vcpus": 2}, "workload": {"paging": "off", "trace": ")" + trace + R"("}})"));
  s->run();
  cpu::Vcpu& v0 = s->vcpu(0);
  const models::TlbContext own = v0.tlb_context();
  EXPECT_EQ(own.vpid, 1);
  models::TlbContext other = own;
  other.vpid = 2;
  EXPECT_NE(v0.l1().lookup(own, 0x1000), nullptr);
  EXPECT_EQ(v0.l1().lookup(other, 0x1000), nullptr);  // tagged: VPID 2 never ran here

  v0.invvpid_single(2);  // another VPID: nothing of ours goes
  EXPECT_NE(v0.l1().lookup(own, 0x1000), nullptr);
  v0.invvpid_addr(1, 0x1000);  // individual address: only that page
  EXPECT_EQ(v0.l1().lookup(own, 0x1000), nullptr);
  EXPECT_EQ(v0.l2().lookup(own, 0x1000), nullptr);
  EXPECT_NE(v0.l1().lookup(own, 0x200000), nullptr);
  v0.invept_single(own.ept);  // combined mappings of this EPT, every VPID
  EXPECT_EQ(v0.l1().lookup(own, 0x200000), nullptr);
  EXPECT_EQ(v0.l2().lookup(own, 0x200000), nullptr);
  // vCPU1's TLB is its own: untouched by vCPU0's invalidations.
  cpu::Vcpu& v1 = s->vcpu(1);
  EXPECT_NE(v1.l1().lookup(v1.tlb_context(), 0x1000), nullptr);
  v1.invept_single(std::uint16_t(own.ept + 1));  // another EPT: nothing goes
  EXPECT_NE(v1.l1().lookup(v1.tlb_context(), 0x1000), nullptr);
  v1.invvpid_all();
  EXPECT_EQ(v1.l1().lookup(v1.tlb_context(), 0x1000), nullptr);
}
