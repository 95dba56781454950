// hv::Mmio — guest accesses that reach no RAM, as KVM handles them:
//  * a GPA no memslot covers, inside a configured device region
//    (`hv.mmio_regions`): its first access takes an EPT violation, which
//    installs KVM's MMIO entry (hv/mmu.hpp: W|X without R, the memslots
//    generation in software bits) and emulates the access; later accesses
//    take EPT-misconfiguration exits (reason 49) that KVM's
//    handle_ept_misconfig → handle_mmio_page_fault serves from that entry
//    without a memslot lookup or the fault path, while its generation is
//    current. A memslot change bumps the generation: the next access finds
//    the entry stale and goes through the fault path again (which maps the
//    GPA if a slot now covers it).
//  * a write to a read-only memslot (KVM_MEM_READONLY): kvm_faultin_pfn
//    reports a read-only fault and KVM emulates it as an MMIO write.
// An emulated access costs the instruction emulation and the exit to the
// VMM's device model and back (KVM_EXIT_MMIO); nothing is written to RAM.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmu.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

struct MmioRegion {
  Addr gpa = 0;
  std::uint64_t size = 0;
  bool contains(Addr g) const { return g - gpa < size; }
};

struct MmioParams {
  std::vector<MmioRegion> regions;  // hv.mmio_regions
  bool caching = true;              // hv.mmio_caching (KVM module parameter mmio_caching, default on)
  // hv.costs; estimates (docs/config.md): KVM publishes no breakdown.
  Cycles ept_misconfig = 150;  // handle_ept_misconfig + get_mmio_spte's lockless walk + generation check
  Cycles emulate = 2000;       // x86_emulate_instruction for the MMIO access (as hv.costs.emulate_write)
  Cycles userspace = 5000;     // KVM_EXIT_MMIO to the VMM's device model and KVM_RUN back (~2 us at 2.5 GHz)
  /// Reads hv.mmio_regions, hv.mmio_caching and the hv.costs above; regions
  /// must not overlap each other or a memslot.
  static MmioParams from(const Cfg& hv, const std::vector<MemslotSpec>& slots);
};

class Mmio {
 public:
  Mmio(const MmioParams& p, Mmu& mmu, Lock& mmu_lock, const Memslots& slots)
      : p_(p), mmu_(mmu), lock_(mmu_lock), slots_(slots) {}
  void set_trace(Trace* t) { tl_ = t; }

  /// Is `gpa` in a configured device region, or where a deleted or moved
  /// slot was (userspace sees those accesses as MMIO exits too)?
  bool covers(Addr gpa) const;
  /// A device page whose guest writes the VMM answers in the exit (a
  /// doorbell: the selftests' sync page, hv::MemslotPerf and hv::Dlpt). `f`
  /// runs in the exiting vCPU's thread after the emulation's cost, is given
  /// the vCPU's number, and may block it.
  void set_doorbell(Addr page_gpa, std::function<void(ExecContext&, unsigned vcpu)> f) {
    doorbell_gpa_ = page_gpa & ~(kPageSize4K - 1);
    doorbell_ = std::move(f);
    p_.regions.push_back({doorbell_gpa_, kPageSize4K});
  }
  /// A slot left [begin, end) (KVM_MR_DELETE or KVM_MR_MOVE).
  void vacate(Addr begin, Addr end) {
    for (const MmioRegion& r : vacated_)
      if (r.gpa == begin && r.size == end - begin) return;  // a slot moving back and forth
    vacated_.push_back({begin, end - begin});
  }
  /// An EPT violation at `gpa`, which no memslot covers and a device region
  /// does: install the MMIO entry (with hv.mmio_caching) and emulate.
  FaultOutcome noslot_fault(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type);
  /// A write to a read-only memslot: emulated as an MMIO write.
  FaultOutcome readonly_write(ExecContext& ctx, unsigned vcpu, Addr gpa);

  enum class Lookup : std::uint8_t { kHit, kStale, kNotMmio };
  /// An EPT misconfiguration at `gpa`: the entry the walk ends at, checked as
  /// handle_mmio_page_fault does. kHit: the access was emulated (`out`);
  /// kStale: an MMIO entry of an older generation (the caller takes the
  /// fault path); kNotMmio: a misconfigured entry the hypervisor never made.
  Lookup misconfig(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, FaultOutcome& out, std::uint64_t& entry,
                   unsigned& level);

  void register_stats(Stats& s) const;
  std::uint64_t faults = 0, hits = 0, stale = 0, readonly_writes = 0, emulated = 0, vacated_faults = 0;

 private:
  FaultOutcome emulate(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, const char* what);
  bool in_device(Addr gpa) const;  // in a configured region (or the doorbell page)
  MmioParams p_;
  Mmu& mmu_;
  Lock& lock_;
  const Memslots& slots_;
  std::vector<MmioRegion> vacated_;  // where deleted or moved slots were
  Addr doorbell_gpa_ = 0;
  std::function<void(ExecContext&, unsigned)> doorbell_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
