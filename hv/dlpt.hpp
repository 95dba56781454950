// hv::Dlpt — KVM selftests' dirty_log_perf_test as a VMM program
// (tools/testing/selftests/kvm/dirty_log_perf_test.c, ≈ Linux 6.1): the test
// memory is one memslot of vcpus × bytes_per_vcpu at `gpa` on the chosen host
// backing; vCPU v owns [gpa + v × bytes, +bytes) and, once per iteration,
// touches each of its 4 KiB pages in order (writing with probability
// write_fraction, else reading), then syncs. The host times, as the test
// prints them:
//   populate        iteration 0: every vCPU's first pass (faults map memory)
//   enable          KVM_MEM_LOG_DIRTY_PAGES on the slot (hv::DirtyLogOps)
//   iteration i     dirty: from starting the vCPUs until the last one synced;
//                   get: KVM_GET_DIRTY_LOG; clear: KVM_CLEAR_DIRTY_LOG of what
//                   GET reported (with hv.dirty_log.manual_protect)
//   disable         logging off, with huge-page recovery
// The sync page is a doorbell device page just above the test memory
// (hv::Mmio::set_doorbell): a vCPU's sync write exits and waits there for the
// next iteration, as the test's vCPU threads wait in userspace. The guest
// side is the generator, derived from these keys by the simulation
// (sim/app/simulation.cpp, add_dlpt).
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hv/memslots.hpp"
#include "sim/exec_context.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
class Trace;
}  // namespace vmxsim

namespace vmxsim::hv {

class Hypervisor;

struct DlptParams {
  bool enabled = false;                       // vmm.dlpt.enabled
  std::uint64_t bytes_per_vcpu = 1ull << 30;  // vmm.dlpt.bytes_per_vcpu (-b)
  std::uint32_t iterations = 2;               // vmm.dlpt.iterations (-i)
  double write_fraction = 1.0;                // vmm.dlpt.write_fraction (-f: 1 / N of the pages)
  std::uint8_t backing_shift = kPageShift4K;  // vmm.dlpt.backing: 4K | 2M | 1G (-s)
  Addr gpa = Addr{4} << 30;                   // vmm.dlpt.gpa: the test memory's guest-physical base
  bool overlap = false;                       // vmm.dlpt.overlap: vCPUs start the next iteration when GET returns
  std::uint64_t clear_chunk_bytes = 0;  // vmm.dlpt.clear_chunk_bytes: one CLEAR per this much of the slot (0: one)
  bool random_access = false;  // vmm.dlpt.random_access (-a, Linux 6.2+): each access a random page of the vCPU's
  std::uint64_t seed = 1;      // vmm.dlpt.seed: the write/read choices
  // vmm.dlpt.page_gap_cycles: the guest's cycles per page besides its
  // translation — one DRAM miss (mem.dram_latency_cycles' 200), as a pass
  // over a vCPU's memory leaves none of its lines in any cache, and the
  // model charges data references only cpu.access_cycles.
  std::uint32_t page_gap_cycles = 200;
  unsigned vcpus = 1;  // cpu.vcpus (-v)
  std::uint64_t pages_per_vcpu() const { return bytes_per_vcpu / kPageSize4K; }
  Addr end() const { return gpa + std::uint64_t(vcpus) * bytes_per_vcpu; }
  Addr sync_gpa() const { return end(); }  // the doorbell page, just above the test memory
  /// The test memory's memslot (appended to hv.memslots).
  MemslotSpec slot(Addr hva) const;
  static DlptParams from(const Cfg& dlpt, unsigned vcpus);
};

/// vCPUs meet the host between iterations: each vCPU's arrival blocks it
/// until the host releases all; the host waits until every vCPU arrived.
class PhaseBarrier {
 public:
  explicit PhaseBarrier(unsigned vcpus) : n_(vcpus) {}
  void arrive(ExecContext& ctx);
  void wait_all(ExecContext& ctx);
  void release(ExecContext& ctx);
  /// When the last vCPU to arrive did.
  Cycles last_arrival() const { return last_; }

 private:
  unsigned n_;
  Cycles last_ = 0;
  std::vector<ExecContext*> arrived_;
  ExecContext* host_ = nullptr;
};

class Dlpt {
 public:
  Dlpt(const DlptParams& p, Hypervisor& hv) : iters(p.iterations), p_(p), hv_(hv), barrier_(p.vcpus) {}
  bool active() const { return p_.enabled; }
  void set_trace(Trace* t) { tl_ = t; }
  void run(ExecContext& ctx);
  bool finished() const { return finished_; }

  /// The test's report, in its words, with times at `freq_ghz`.
  void report(std::ostream& out, double freq_ghz) const;
  void register_stats(Stats& s) const;

  struct Iteration {
    std::uint64_t dirty = 0, get = 0, clear = 0, pages = 0;
  };
  std::uint64_t populate = 0, enable = 0, disable = 0;
  std::vector<Iteration> iters;  // iteration i at index i - 1

 private:
  Cycles phase(ExecContext& ctx, Cycles t0, const std::string& name) const;
  DlptParams p_;
  Hypervisor& hv_;
  PhaseBarrier barrier_;
  Trace* tl_ = nullptr;
  bool finished_ = false;
};

}  // namespace vmxsim::hv
