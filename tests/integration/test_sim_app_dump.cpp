// `vmxsim run --dump FILE [--dump-at CYCLES]...` end to end (docs/inspect.md):
// kvm-unit-tests' check_ept_ad read off a dump, a hand-made run's dump entry
// by entry, the --dump-at timing rule, the same dump at any sim.quantum_cycles,
// a dump that leaves the run unchanged, and bad input.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

using nlohmann::json;
using namespace vmxsim::test;

namespace {

std::uint64_t num(const json& hex) { return std::stoull(hex.get<std::string>(), nullptr, 16); }

/// `vmxsim run CONFIG --quiet --dump FILE ARGS`; the parsed dump.
json dump_of(const std::string& config, const std::string& args, const std::string& name = "dump.json") {
  const std::string path = tmp(name);
  std::remove(path.c_str());
  const CliResult r = run_cli("run " + config + " --quiet --dump " + path + " " + args);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
  return json::parse(slurp(path));
}

/// The snapshot taken at `at` (a cycle, or "end").
const json& snapshot(const json& dump, const json& at) {
  for (const json& s : dump["snapshots"])
    if (s["at"] == at) return s;
  ADD_FAILURE() << "no snapshot at " << at.dump();
  static const json none;
  return none;
}

/// The EPT leaf mapping `gpa`, or null.
json ept_leaf(const json& snap, std::uint64_t gpa) {
  for (const json& e : snap["ept"]["entries"])
    if (e["leaf"] && gpa - num(e["gpa"]) < e["bytes"].get<std::uint64_t>()) return e;
  return nullptr;
}

/// The guest leaf mapping `gva`, or null.
json guest_leaf(const json& snap, std::uint64_t gva) {
  for (const json& e : snap["guest"]["address_spaces"][0]["entries"])
    if (e["leaf"] && gva - num(e["gva"]) < e["bytes"].get<std::uint64_t>()) return e;
  return nullptr;
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

// kvm-unit-tests' check_ept_ad (x86/vmx_tests.c): with EPT A/D on, after a
// read of page 1, a read of page 2 and a write to page 2, page 1's EPT leaf
// is accessed and clean, page 2's accessed and dirty, and every EPT leaf
// mapping a guest page-table page is accessed and dirty (the walker's guest
// paging-structure accesses are EPT writes). The same for the guest's own
// PTEs. Snapshot at 50 M cycles: the vCPU has finished, the VMM's final
// collection (which clears D again) has not run yet.
TEST(EptAd, CheckEptAdFlagsReadOffTheDump) {
  const json d = dump_of(kData + "/ept_ad.json", "--dump-at 50000000");
  ASSERT_EQ(d["format"], "vmxsim-dump");
  ASSERT_EQ(d["snapshots"].size(), 2u);
  const json& s = snapshot(d, 50000000);
  ASSERT_TRUE(s["ept"]["ad"]);
  ASSERT_EQ(s["vcpus"][0]["accesses"], 3);
  ASSERT_TRUE(s["vcpus"][0]["finished"]);

  // The guest's PTEs: both pages accessed, only page 2 dirty; every
  // non-leaf entry on the way accessed.
  const json g1 = guest_leaf(s, 0x401000), g2 = guest_leaf(s, 0x402000);
  ASSERT_FALSE(g1.is_null());
  ASSERT_FALSE(g2.is_null());
  EXPECT_EQ(g1["level"], 1);
  EXPECT_TRUE(g1["a"]);
  EXPECT_FALSE(g1["d"]);
  EXPECT_TRUE(g2["a"]);
  EXPECT_TRUE(g2["d"]);
  std::set<std::uint64_t> table_pages = {num(s["guest"]["address_spaces"][0]["cr3"])};
  for (const json& e : s["guest"]["address_spaces"][0]["entries"]) {
    EXPECT_TRUE(e["a"]) << e.dump();
    EXPECT_TRUE(e["p"]);
    table_pages.insert(num(e["table"]));
    if (!e["leaf"]) table_pages.insert(num(e["next"]));
  }
  EXPECT_EQ(table_pages.size(), 4u);  // PML4, PDPT, PD, PT

  // EPT: page 1 A=1 D=0, page 2 A=1 D=1.
  const std::uint64_t p1 = num(g1["gpa"]), p2 = num(g2["gpa"]);
  const json e1 = ept_leaf(s, p1), e2 = ept_leaf(s, p2);
  ASSERT_FALSE(e1.is_null());
  ASSERT_FALSE(e2.is_null());
  EXPECT_TRUE(e1["a"]);
  EXPECT_FALSE(e1["d"]);
  EXPECT_TRUE(e2["a"]);
  EXPECT_TRUE(e2["d"]);
  // Every EPT leaf mapping a guest page-table page: A=1 and D=1.
  for (std::uint64_t t : table_pages) {
    const json e = ept_leaf(s, t);
    ASSERT_FALSE(e.is_null()) << std::hex << t;
    EXPECT_TRUE(e["a"]) << std::hex << t;
    EXPECT_TRUE(e["d"]) << std::hex << t;
  }
  // Every EPT entry used by a walk is accessed; the leaves are 4 KiB (PML
  // logging maps 4 KiB only), KVM's host- and MMU-writable bits set.
  for (const json& e : s["ept"]["entries"]) {
    EXPECT_TRUE(e["a"]) << e.dump();
    if (!e["leaf"]) continue;
    EXPECT_EQ(e["level"], 1);
    EXPECT_TRUE(e["host_writable"]);
    EXPECT_TRUE(e["mmu_writable"]);
    EXPECT_EQ(e["memtype"], 6);
  }
  // PML logged exactly the pages whose EPT D went 0 to 1: the page tables
  // and page 2, drained into the bitmap at each exit or still in the log.
  std::set<std::uint64_t> logged;
  for (const json& b : s["dirty_log"]["bitmaps"])
    for (const json& g : b["dirty"]) logged.insert(num(g));
  for (const json& l : s["vcpus"][0]["pml"]["log"]) logged.insert(num(l["gpa"]));
  std::set<std::uint64_t> expected = table_pages;
  expected.insert(p2);
  EXPECT_EQ(logged, expected);

  // At the end, the final collection's CLEAR has cleared D on every leaf
  // it reported and the bitmap: shared state after every thread finished.
  const json& end = snapshot(d, "end");
  for (const json& e : end["ept"]["entries"]) {
    if (e["leaf"]) {
      EXPECT_FALSE(e["d"]) << e.dump();
    }
  }
  for (const json& b : end["dirty_log"]["bitmaps"]) EXPECT_TRUE(b["dirty"].empty());
  EXPECT_EQ(end["vcpus"][0]["pml"]["pending"], 0);
  // The guest's own flags are not the hypervisor's to clear.
  EXPECT_TRUE(guest_leaf(end, 0x402000)["d"]);
}

// tests/integration/data/dump_tiny.{json,trace}, worked out by hand. The
// EPT's tables come from the pool at host.table_base (1 TiB): the root
// first, then the PDPT, PD and PT the first fault allocates; the memslots'
// backing from host.data_base (4 GiB), the 2M-backed slot 2 MiB-aligned.
TEST(DumpTiny, EveryEntryIsAsWorkedOut) {
  const json d = dump_of(kData + "/dump_tiny.json", "--dump-at 0");
  ASSERT_EQ(d["format"], "vmxsim-dump");
  ASSERT_EQ(d["version"], 1);
  ASSERT_EQ(d["snapshots"].size(), 2u);

  // Cycle 0: nothing mapped yet; the vCPU is at its first boundary, before
  // its first access, its TLBs empty.
  const json& s0 = d["snapshots"][0];
  EXPECT_EQ(s0["at"], 0);
  EXPECT_EQ(s0["cycle"], 0);
  EXPECT_EQ(s0["ept"]["entries"], json::array());
  EXPECT_EQ(s0["ept"]["root"], "0x10000000000");
  EXPECT_EQ(s0["guest"], nullptr);  // guest paging off
  EXPECT_EQ(s0["vcpus"][0]["cycle"], 0);
  EXPECT_EQ(s0["vcpus"][0]["accesses"], 0);
  EXPECT_EQ(s0["vcpus"][0]["finished"], false);
  for (const char* level : {"l1", "l2"})
    for (const json& a : s0["vcpus"][0]["tlb"][level]["arrays"]) EXPECT_EQ(a["valid"], json::array());

  const json& s = d["snapshots"][1];
  EXPECT_EQ(s["at"], "end");
  EXPECT_EQ(s["ept"]["eptp"], "0x000001000000005e");  // root | 4-level (3 << 3) | A/D (bit 6) | WB (6)
  EXPECT_EQ(s["ept"]["levels"], 4);
  EXPECT_EQ(s["ept"]["ad"], true);

  // Non-leaf: R/W/X, accessed by the walks; leaves as make_spte() builds
  // them: RWX, WB (6 << 3), IPAT, accessed, dirty (writable), host- and
  // MMU-writable (bits 57, 58); the 2 MiB one with bit 7.
  const auto table = [](unsigned level, const char* tbl, unsigned index, const char* at, const char* gpa,
                        std::uint64_t bytes, const char* raw, const char* next) {
    return json{{"level", level},
                {"table", tbl},
                {"index", index},
                {"at", at},
                {"gpa", gpa},
                {"bytes", bytes},
                {"raw", raw},
                {"leaf", false},
                {"misconfigured", false},
                {"r", true},
                {"w", true},
                {"x", true},
                {"a", true},
                {"next", next},
                {"sw", 0},
                {"host_writable", false},
                {"mmu_writable", false},
                {"spte_id", 0},
                {"suppress_ve", false}};
  };
  const auto leaf = [](unsigned level, const char* tbl, unsigned index, const char* at, const char* gpa,
                       std::uint64_t bytes, const char* raw, const char* hpa) {
    return json{{"level", level},
                {"table", tbl},
                {"index", index},
                {"at", at},
                {"gpa", gpa},
                {"bytes", bytes},
                {"raw", raw},
                {"leaf", true},
                {"misconfigured", false},
                {"r", true},
                {"w", true},
                {"x", true},
                {"a", true},
                {"d", true},
                {"memtype", 6},
                {"ipat", true},
                {"hpa", hpa},
                {"sw", 0x60},
                {"host_writable", true},
                {"mmu_writable", true},
                {"spte_id", 0},
                {"suppress_ve", false}};
  };
  const json expected_ept = json::array({
      table(4, "0x10000000000", 0, "0x10000000000", "0x0", 1ull << 39, "0x0000010000001107", "0x10000001000"),
      table(3, "0x10000001000", 0, "0x10000001000", "0x0", 1ull << 30, "0x0000010000002107", "0x10000002000"),
      table(2, "0x10000002000", 0, "0x10000002000", "0x0", 1ull << 21, "0x0000010000003107", "0x10000003000"),
      leaf(1, "0x10000003000", 1, "0x10000003008", "0x1000", 4096, "0x0600000100001377", "0x100001000"),
      leaf(1, "0x10000003000", 2, "0x10000003010", "0x2000", 4096, "0x0600000100002377", "0x100002000"),
      leaf(2, "0x10000002000", 8, "0x10000002040", "0x1000000", 1ull << 21, "0x06000001010003f7", "0x101000000"),
  });
  // One entry a line, so that grep finds it.
  EXPECT_NE(slurp(tmp("dump.json")).find("\n     {\"level\":1,\"table\":\"0x10000003000\",\"index\":1,"),
            std::string::npos);
  ASSERT_EQ(s["ept"]["entries"].size(), expected_ept.size());
  for (std::size_t i = 0; i < expected_ept.size(); ++i)
    EXPECT_EQ(s["ept"]["entries"][i], expected_ept[i]) << "EPT entry " << i;

  EXPECT_EQ(s["memslots"]["slots"], json::parse(R"([
    {"id": 0, "gpa": "0x0", "bytes": 16777216, "hpa": "0x100000000", "backing": "4K", "hva": "0x7f0000000000",
     "readonly": false, "dirty_log": false, "invalid": false},
    {"id": 1, "gpa": "0x1000000", "bytes": 4194304, "hpa": "0x101000000", "backing": "2M", "hva": "0x7f0001000000",
     "readonly": false, "dirty_log": false, "invalid": false}])"));
  EXPECT_EQ(s["dirty_log"], json::parse(R"({"mode": "wp", "enabled": false, "gpa": "0x0", "bytes": 0,
    "bitmaps": [{"slot": 0, "gpa": "0x0", "pages": 4096, "dirty": []},
                {"slot": 1, "gpa": "0x1000000", "pages": 1024, "dirty": []}]})"));

  const json& v = s["vcpus"][0];
  EXPECT_EQ(v["id"], 0);
  EXPECT_EQ(v["finished"], true);
  EXPECT_EQ(v["accesses"], 4);
  EXPECT_EQ(v["pml"], nullptr);  // no PML engine under wp
  // The TLBs: VPID 1 (vCPU 0 + 1), PCID 0 (paging off), EPT context 0. The
  // L1's 4K array has 16 sets (page number mod 16), its 2M array 8; the
  // STLB's shared array 128 sets of 12 ways.
  const auto tlb_entry = [](unsigned set, const char* va, const char* size, const char* hpa) {
    return json{{"set", set}, {"way", 0},   {"va", va},  {"page_size", size}, {"vpid", 1}, {"pcid", 0},
                {"ept", 0},   {"hpa", hpa}, {"r", true}, {"w", true},         {"x", true}, {"dirty", true}};
  };
  const json& l1 = v["tlb"]["l1"]["arrays"];
  ASSERT_EQ(l1.size(), 3u);
  EXPECT_EQ(l1[0]["name"], "4k");
  EXPECT_EQ(l1[0]["capacity"], 64);
  EXPECT_EQ(l1[0]["ways"], 4);
  EXPECT_EQ(l1[0]["sets"], 16);
  EXPECT_EQ(l1[0]["page_sizes"], json::array({"4K"}));
  EXPECT_EQ(l1[0]["valid"],
            json::array({tlb_entry(1, "0x1000", "4K", "0x100001000"), tlb_entry(2, "0x2000", "4K", "0x100002000")}));
  EXPECT_EQ(l1[1]["name"], "2m");
  EXPECT_EQ(l1[1]["valid"], json::array({tlb_entry(0, "0x1000000", "2M", "0x101000000")}));
  EXPECT_EQ(l1[2]["name"], "1g");
  EXPECT_EQ(l1[2]["valid"], json::array());
  const json& l2 = v["tlb"]["l2"]["arrays"];
  ASSERT_EQ(l2.size(), 2u);
  EXPECT_EQ(l2[0]["name"], "shared");
  EXPECT_EQ(l2[0]["sets"], 128);
  EXPECT_EQ(l2[0]["page_sizes"], json::array({"4K", "2M"}));
  EXPECT_EQ(l2[0]["valid"],
            json::array({tlb_entry(1, "0x1000", "4K", "0x100001000"), tlb_entry(2, "0x2000", "4K", "0x100002000"),
                         tlb_entry(8, "0x1000000", "2M", "0x101000000")}));
  EXPECT_EQ(l2[1]["valid"], json::array());
}

// The timing rule: a vCPU's state is taken at its first access boundary at
// or after T (before an access, or at its finish); one that finished before
// T gives its state as of T. vCPU 1's accesses after the first are L1 hits
// 1,001 cycles apart (a gap of 1,000, cpu.access_cycles 1).
TEST(DumpAt, EachVcpuAtItsFirstBoundaryAtOrAfterT) {
  const std::string trace = write_file("timing.trace",
                                       "0 R 0x1000\n0 R 0x1008 8 10\n"
                                       "1 R 0x2000\n1 R 0x2008 8 1000\n1 R 0x2010 8 1000\n"
                                       "1 R 0x2018 8 1000\n1 R 0x2020 8 1000\n");
  const std::string cfg =
      write_file("timing.json", R"({"cpu": {"vcpus": 2}, "workload": {"trace": ")" + trace + R"(", "paging": "off"}})");
  // Boundary 1 of vCPU 1 (after its first access), the first one at or after cycle 1.
  const json first = dump_of(cfg, "--dump-at 1", "first.json");
  const json& v1 = first["snapshots"][0]["vcpus"][1];
  ASSERT_EQ(v1["accesses"], 1);
  const std::uint64_t b1 = v1["cycle"];
  ASSERT_GT(b1, 1u);

  const std::uint64_t late = 100000000;
  const json d = dump_of(cfg,
                         "--dump-at " + std::to_string(b1 + 1001) + " --dump-at " + std::to_string(b1 + 1500) +
                             " --dump-at " + std::to_string(late) + " --dump-at " + std::to_string(b1 + 1001),
                         "timing.json.dump");
  ASSERT_EQ(d["snapshots"].size(), 4u);  // sorted, the repeated time once, then the end
  EXPECT_EQ(d["snapshots"][0]["at"], b1 + 1001);
  EXPECT_EQ(d["snapshots"][1]["at"], b1 + 1500);
  EXPECT_EQ(d["snapshots"][2]["at"], late);
  EXPECT_EQ(d["snapshots"][3]["at"], "end");
  // At a boundary exactly: that one.
  EXPECT_EQ(d["snapshots"][0]["vcpus"][1]["cycle"], b1 + 1001);
  EXPECT_EQ(d["snapshots"][0]["vcpus"][1]["accesses"], 2);
  // Between two: the next.
  EXPECT_EQ(d["snapshots"][1]["vcpus"][1]["cycle"], b1 + 2002);
  EXPECT_EQ(d["snapshots"][1]["vcpus"][1]["accesses"], 3);
  EXPECT_FALSE(d["snapshots"][1]["vcpus"][1]["finished"]);
  // vCPU 0 finished long before: its state as of T.
  const json& end = d["snapshots"][3];
  const std::uint64_t f0 = end["vcpus"][0]["cycle"];
  ASSERT_LT(f0, b1 + 1001);
  for (int k = 0; k < 3; ++k) {
    const json& v0 = d["snapshots"][k]["vcpus"][0];
    EXPECT_EQ(v0["cycle"], d["snapshots"][k]["at"]);
    EXPECT_TRUE(v0["finished"]);
    EXPECT_EQ(v0["accesses"], 2);
    EXPECT_EQ(v0["tlb"], end["vcpus"][0]["tlb"]);  // nothing changes a finished vCPU's TLBs
  }
  // Late: both finished, as of T; the end snapshot has their finish times.
  EXPECT_EQ(d["snapshots"][2]["vcpus"][1]["cycle"], late);
  EXPECT_EQ(d["snapshots"][2]["vcpus"][1]["accesses"], 5);
  EXPECT_EQ(end["vcpus"][1]["cycle"], b1 + 4 * 1001);  // its last access retired at its finish
  EXPECT_EQ(end["cycle"], b1 + 4 * 1001);              // sim.cycles
  // Shared state is the same once nothing runs any more.
  EXPECT_EQ(d["snapshots"][2]["ept"], end["ept"]);
}

// The same dump, byte for byte, at any quantum, with four vCPUs sharing page
// tables, the EPT, mmu_lock, PML dirty logging and its GET+CLEAR rounds (so
// kicks, remote flushes and drains); and the run's stats are the run without
// --dump. Shared state "as of T": logging takes effect at 200,000 cycles.
TEST(DumpAt, SameDumpAtAnyQuantumAndTheRunIsUnchanged) {
  const std::string cfg = write_file("dl.json", dirty_log_config("pml", 4, 6000));
  const std::string at = "--dump-at 0 --dump-at 199999 --dump-at 250000 --dump-at 400017 --dump-at 900000";
  std::string dumps[3];
  json stats[3];
  const char* quanta[3] = {"1", "1000", "100000"};
  for (int i = 0; i < 3; ++i) {
    const std::string path = tmp(std::string("q") + quanta[i] + ".json"), st = tmp(std::string("s") + quanta[i]);
    const CliResult r = run_cli("run " + cfg + " --quiet --set sim.quantum_cycles=" + quanta[i] + " --dump " + path +
                                " " + at + " --stats " + st);
    ASSERT_EQ(r.rc, 0) << r.err;
    dumps[i] = slurp(path);
    stats[i] = json::parse(slurp(st));
    drop_host_stats(stats[i]);
  }
  EXPECT_EQ(dumps[0], dumps[1]);
  EXPECT_EQ(dumps[1], dumps[2]);
  EXPECT_EQ(stats[0], stats[1]);

  const json d = json::parse(dumps[1]);
  ASSERT_EQ(d["snapshots"].size(), 6u);
  EXPECT_FALSE(snapshot(d, 199999)["dirty_log"]["enabled"]);
  EXPECT_TRUE(snapshot(d, 250000)["dirty_log"]["enabled"]);
  const json& mid = snapshot(d, 400017);
  EXPECT_GT(mid["ept"]["entries"].size(), 100u);
  for (const json& v : mid["vcpus"]) {
    EXPECT_GE(v["cycle"].get<std::uint64_t>(), 400017u);
    EXPECT_FALSE(v["finished"]);
    EXPECT_TRUE(v["pml"]["enabled"]);
  }

  // Without --dump: the same stats.
  const std::string st = tmp("s_nodump");
  const CliResult r = run_cli("run " + cfg + " --quiet --stats " + st);
  ASSERT_EQ(r.rc, 0) << r.err;
  json plain = json::parse(slurp(st));
  drop_host_stats(plain);
  EXPECT_EQ(plain, stats[1]);
}

TEST(DumpCli, BadInputIsAClearError) {
  const std::string cfg = kData + "/dump_tiny.json", out = tmp("bad.json");
  struct Case {
    std::string args;
    int rc;
    std::string message;
  };
  const Case cases[] = {
      {"--dump " + out + " --dump-at abc", 2,
       "--dump-at: expected a cycle count (a non-negative decimal integer), got 'abc'"},
      {"--dump " + out + " --dump-at -5", 2, "got '-5'"},
      {"--dump " + out + " --dump-at 1e6", 2, "got '1e6'"},
      {"--dump " + out + " --dump-at 99999999999999999999", 2, "beyond the last cycle a dump can name"},
      {"--dump-at 100", 2, "--dump-at needs --dump FILE"},
      {"--dump /nonexistent-dir/d.json", 1, "/nonexistent-dir/d.json: cannot write dump file"},
      {"--dump " + ::testing::TempDir(), 1, "cannot write dump file"},
      {"--dump", 2, "--dump"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_cli("run " + cfg + " --quiet " + c.args);
    EXPECT_EQ(r.rc, c.rc) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;  // never a crash
  }
  // Help and usage mention it.
  const CliResult help = run_cli("run --help");
  EXPECT_NE(help.out.find("--dump"), std::string::npos);
  EXPECT_NE(help.out.find("--dump-at"), std::string::npos);
  EXPECT_NE(run_cli("--help").out.find("--dump FILE"), std::string::npos);
}
