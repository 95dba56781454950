// hv::MemslotPerf — KVM selftests' memslot_perf_test as a VMM program
// (tools/testing/selftests/kvm/memslot_perf_test.c): the test memory spread
// over N − 1 slots from GPA 0x10000000 (slot 0 is the VM's own), created at
// run time and timed ("Slot setup"), then a number of iterations of one
// test's host side, each timed:
//   unmap          per half of the 128 MiB area, madvise(MADV_DONTNEED) 4 KiB
//                  at a time, each request cut at slot boundaries
//   unmap_chunked  the same with 2 MiB requests
//   move_active    the last slot moved to MEM_GPA + MEM_SIZE and back (two
//                  KVM_MR_MOVEs) while the guest writes 50 pages straddling
//                  its start (the workload's job; accesses while it is away
//                  exit as MMIO)
//   move_inactive  the same, the guest writing below the slot
//   map            over the 32 MiB + 4 KiB area, per iteration: the host
//                  unmaps the second half (one madvise per run inside a
//                  slot) while the guest writes one u64 to every page of the
//                  first half; both sync; the same with the halves swapped;
//                  both sync. The sync page is a doorbell device page just
//                  below MEM_GPA (hv::Mmio::set_doorbell): the guest's sync
//                  write exits and waits there for the host (the test spins
//                  on a page of slot 1 instead), so the data geometry is the
//                  test's
//   rw             over the 512 MiB + 4 KiB area, no memslot operation: the
//                  host writes a u64 to every page, both sync, the host
//                  checks and zeroes the guest's u64 in every page, both
//                  sync; the guest mirrors this (its workload). The host's
//                  own page accesses cost vmm.memslot_perf.host_page_cycles
//                  each
//   setup          nothing after the slot setup (its time is the result)
// The guest side of unmap is negligible in the test and is not modelled.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/exec_context.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

class Hypervisor;

struct MemslotPerfParams {
  bool enabled = false;                // vmm.memslot_perf.enabled
  std::string test = "unmap";          // vmm.memslot_perf.test
  std::uint32_t slots = 0;             // vmm.memslot_perf.slots: N, as KVM_CAP_NR_MEMSLOTS or -s (test memory in N - 1)
  std::uint32_t iterations = 1;        // vmm.memslot_perf.iterations
  Addr mem_gpa = 0x10000000;           // MEM_GPA
  Cycles iterations_start_cycles = 0;  // vmm.memslot_perf.iterations_start_cycles: 0 = right after the setup
  Cycles host_page_cycles = 20;        // vmm.memslot_perf.host_page_cycles: rw's host write or check of one page
  /// The test's area in bytes: 32 MiB + 4 KiB for map, 128 MiB + 4 KiB for the
  /// unmap tests, 512 MiB + 4 KiB otherwise (plus the sync page).
  std::uint64_t area_bytes() const;
  /// map and rw: the pages the guest writes between two syncs (a half of the
  /// map area, or the whole rw area), and so its sync_every; 0 for the rest.
  std::uint64_t guest_phase_pages() const;
  static MemslotPerfParams from(const Cfg& perf);
};

/// Two threads meet: the first to arrive blocks until the other does.
class Rendezvous {
 public:
  void arrive(ExecContext& ctx) {
    ctx.sync();
    if (waiting_) {
      waiting_->wake(ctx.now() + 1);
      waiting_ = nullptr;
      return;
    }
    waiting_ = &ctx;
    ctx.block();
  }

 private:
  ExecContext* waiting_ = nullptr;
};

class MemslotPerf {
 public:
  MemslotPerf(const MemslotPerfParams& p, Hypervisor& hv) : p_(p), hv_(hv) {}
  bool active() const { return p_.enabled; }
  /// GPA range of the last test slot (for configs and tests).
  void run(ExecContext& ctx);

  void register_stats(Stats& s) const;
  std::uint64_t setup_cycles = 0, iterations = 0, iteration_cycles = 0, best_iteration = 0, host_ops = 0;

 private:
  void unmap_half(ExecContext& ctx, Addr gpa, std::uint64_t bytes, std::uint64_t request);
  Rendezvous sync_;  // map: the host/guest sync page
  MemslotPerfParams p_;
  Hypervisor& hv_;
  std::vector<std::uint32_t> ids_;  // the test slots, in GPA order
  std::vector<Addr> gpas_, hvas_;
  std::vector<std::uint64_t> sizes_;
};

}  // namespace vmxsim::hv
