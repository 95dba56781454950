// MMIO and read-only memslots end to end (issue 11): a device region's first
// access is an EPT violation that installs KVM's MMIO entry, later accesses
// are EPT-misconfiguration exits served from it, a memslot created over the
// region makes the entry stale and the next access maps RAM; writes to a
// read-only memslot exit with the SDM qualification and are emulated.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

using namespace vmxsim::test;

namespace {

// `guest` empty: paging off (trace addresses are GPAs); else guest paging on
// with that `guest` section.
std::string config(const std::string& trace, const std::string& extra_hv = "", const std::string& guest = "") {
  return R"({"cpu": {"vcpus": 1},
    "hv": {"memslots": [{"gpa": 0, "size": "16MiB"}, {"gpa": "16MiB", "size": "1MiB", "readonly": true}],
           "mmio_regions": [{"gpa": "256MiB", "size": "64KiB"}])" +
         extra_hv + R"(},
    "vmm": {"memslot_ops": [{"at_cycles": 1000000, "op": "create", "gpa": "256MiB", "size": "2MiB"}]},
    "check": {"dirty_log": true},)" +
         (guest.empty() ? std::string() : R"("guest": )" + guest + ",") + R"("workload": {"trace": ")" + trace + "\"" +
         (guest.empty() ? R"(, "paging": "off")" : "") + "}}";
}

// Paging off: trace addresses are GPAs. ROM read, two ROM writes; three
// device accesses; after the slot is created (cycle 1,000,000), two more.
const char* kTrace =
    "0 R 0x1000000\n0 W 0x1000000\n0 W 0x1000000\n"
    "0 W 0x10000000\n0 W 0x10000000\n0 R 0x10000008\n"
    "0 W 0x10000000 8 2000000\n0 W 0x10000000\n";

json timeline_exits(const std::string& path) {
  const json t = json::parse(slurp(path));
  const json& ev = t.is_object() ? t["traceEvents"] : t;
  json out = json::array();
  for (const json& e : ev)
    if (e.value("name", "").rfind("exit:", 0) == 0) out.push_back(e);
  return out;
}

}  // namespace

TEST(HvMmio, DeviceRegionAndReadOnlySlotExitAsKvmDoes) {
  const std::string tl = tmp("tl.json");
  const RunResult r = run_config(config(write_file("mmio.trace", kTrace)), "--timeline " + tl);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  // ROM: the read maps it R|X; each write is an EPT violation, emulated.
  EXPECT_EQ(s["hv.mmio.readonly_writes"], 2);
  // Device: one violation installs the MMIO entry, two misconfig exits hit it.
  EXPECT_EQ(s["hv.mmio.faults"], 1);
  EXPECT_EQ(s["hv.mmu.mmio_installed"], 1);
  EXPECT_EQ(s["hv.mmio.hits"], 2);
  // The created slot bumps the generation: the next access finds the entry
  // stale, the fault path maps RAM, and the last write hits the TLB.
  EXPECT_EQ(s["hv.memslot_ops.creates"], 1);
  EXPECT_EQ(s["hv.srcu.syncs"], 1);  // a create swaps once
  EXPECT_EQ(s["hv.mmio.stale"], 1);
  EXPECT_EQ(s["vcpu0.exits.ept_misconfig"], 3);
  EXPECT_EQ(s["vcpu0.exits.ept_violation"], 4);  // ROM read, 2 ROM writes, the device's first access
  EXPECT_EQ(s["hv.mmu.maps_4k"], 2);             // the ROM page and the new slot's page
  EXPECT_EQ(s["hv.mmio.emulated"], 5);
  // Emulated accesses write no RAM: the oracle heard of none of them.
  EXPECT_EQ(s["check.dirty_lost"], 0);

  const json exits = timeline_exits(tl);
  ASSERT_EQ(exits.size(), 7u);
  // A write to a read-execute leaf: WR | PERM_RD | PERM_EX | GLA valid | final.
  EXPECT_EQ(exits[1]["name"], "exit:ept_violation");
  EXPECT_EQ(exits[1]["args"]["qual"], "0x1aa");
  EXPECT_EQ(exits[1]["args"]["gpa"], "0x1000000");
  EXPECT_EQ(exits[3]["args"]["qual"], "0x182");  // the device's first access: not present
  EXPECT_EQ(exits[4]["name"], "exit:ept_misconfig");
  EXPECT_EQ(exits[5]["args"]["gpa"], "0x10000008");
}

TEST(HvMmio, WithoutMmioCachingEveryDeviceAccessIsAViolation) {
  const RunResult r = run_config(config(write_file("mmio.trace", kTrace), R"(, "mmio_caching": false)"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.stats["vcpu0.exits.ept_misconfig"], 0);
  EXPECT_EQ(r.stats["hv.mmio.faults"], 3);
  EXPECT_EQ(r.stats["vcpu0.exits.ept_violation"], 3 + 3 + 1);  // ROM 3, device 3, the new slot's first write
}

TEST(HvMmio, GuestFixedMapsReachDevicesAndRomThroughGuestPaging) {
  const std::string trace = write_file("mmio.trace",
                                       "0 W 0x7f0000000000\n0 W 0x7f0000000000\n"  // device
                                       "0 R 0x7f0000100000\n0 W 0x7f0000100010\n"  // ROM
                                       "0 W 0x400000\n");                          // RAM
  const RunResult r = run_config(config(trace, "", R"({"page_size": "4K", "pt_region_bytes": "1MiB", "fixed_maps": [
      {"gva": "0x7f0000000000", "gpa": "256MiB", "size": "64KiB"},
      {"gva": "0x7f0000100000", "gpa": "16MiB", "size": "1MiB"}]})"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.stats["hv.mmio.faults"], 1);
  EXPECT_EQ(r.stats["hv.mmio.hits"], 1);
  EXPECT_EQ(r.stats["hv.mmio.readonly_writes"], 1);
  EXPECT_EQ(r.stats["check.dirty_lost"], 0);
}

TEST(HvMmio, AGpaOutsideMemslotsAndDevicesIsStillAClearError) {
  const RunResult r = run_config(config(write_file("mmio.trace", "0 R 0x20000000\n")));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("no memslot covers this GPA and no device region (hv.mmio_regions) does"), std::string::npos)
      << r.err;
}

TEST(HvMmio, BadMemslotOpIsAClearError) {
  std::string cfg = config(write_file("mmio.trace", kTrace));
  cfg.replace(cfg.find("\"create\""), 8, "\"delete\", \"id\": 7");
  const RunResult r = run_config(cfg);
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("vmm.memslot_ops[0].id: no slot has id 7 at cycle 1000000"), std::string::npos) << r.err;
}
