// The walker's SDM behaviours end to end (issue 11): with EPT A/D off, the
// guest A/D update of a write-protected page-table page takes its own EPT
// violation, so `wp` dirty logging reports the page-table page too, and the
// dirty-log oracle sees the walker's write.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "harness.hpp"

using namespace vmxsim::test;

namespace {

// One vCPU, guest paging on 4 KiB pages, 4 KiB EPT pages, `wp` logging from
// cycle 1,000,000: a read of a page before it, a write to the same page after.
std::string ad_off_config(bool ad) {
  const std::string trace = write_file("ad.trace", "0 R 0x400000\n0 W 0x400000 8 3000000\n");
  return std::string(R"({"cpu": {"vcpus": 1}, "ept": {"ad": )") + (ad ? "true" : "false") + R"(},
    "guest": {"page_size": "4K"},
    "hv": {"dirty_log": {"mode": "wp"}, "memslots": [{"gpa": 0, "size": "64MiB", "backing": "4K"}]},
    "vmm": {"dirty_log": {"enabled": true, "start_cycles": 1000000, "period_cycles": 1000000000000}},
    "check": {"dirty_log": true},
    "workload": {"trace": ")" +
         trace + R"("}})";
}

}  // namespace

TEST(EptWalkerSdm, GuestDirtyUpdateOnAWriteProtectedPageTableIsLoggedWithAdOff) {
  const RunResult r = run_config(ad_off_config(false), "--fail-on-violation");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  // Two pages were written while logging: the data page, and the PT page
  // whose PTE got its D flag. Each takes a write-protection fault.
  EXPECT_EQ(s["hv.wp_faults"], 2);
  EXPECT_EQ(s["vmm.pages_reported"], 2);
  EXPECT_EQ(s["check.dirty_written"], 2);  // the oracle saw the walker's write
  EXPECT_EQ(s["check.dirty_lost"], 0);
  EXPECT_EQ(s["vcpu0.walk.guest_d_set"], 1);
}

TEST(EptWalkerSdm, WithAdOnThePageTableWriteIsTheWalksOwnEptWrite) {
  // With A/D on the walk itself is an EPT write on every guest page-table page
  // (SDM: guest paging-structure accesses are writes), so the read before
  // logging set their D; the write after it (a TLB entry that is not dirty
  // walks again) faults on all four write-protected page-table pages and on
  // the data page. Five pages are reported where the guest changed two (the
  // data page and the PT page holding the PTE): EPT A/D's over-reporting.
  const RunResult r = run_config(ad_off_config(true), "--fail-on-violation");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json& s = r.stats;
  EXPECT_EQ(s["hv.wp_faults"], 5);
  EXPECT_EQ(s["vmm.pages_reported"], 5);
  EXPECT_EQ(s["check.dirty_written"], 2);
  EXPECT_EQ(s["check.dirty_lost"], 0);
}
