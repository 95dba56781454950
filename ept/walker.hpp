// ept::Walker — the EPT half of the hardware page walker (SDM §28.2.2-28.2.4,
// §28.3.5). Translates a GPA through the EPT paging structures held in
// models::PhysMem, charging each reference through models::MemHierarchy;
// checks permissions; with EPTP[6] sets A on every entry used and D on the
// leaf for a write, by compare-and-exchange; or reports an EPT violation with
// the SDM exit qualification, or an EPT misconfiguration (which takes
// priority over a violation: it is detected as the entry is read).
//
// The walk happens at one simulated instant (the caller synchronises first:
// page-table memory is shared state) and costs its references' latency after.
// A/D flags are set only when the translation succeeds, so a faulting walk
// changes no entry; the SDM allows either.
#pragma once
#include <cstdint>

#include "ept/entry.hpp"
#include "sim/types.hpp"

namespace vmxsim::models {
class PhysMem;
class MemHierarchy;
class Pwc;
}  // namespace vmxsim::models
namespace vmxsim::pml {
class Engine;
}

namespace vmxsim::ept {

/// Outcome of one EPT translation.
struct EptWalk {
  bool ok = false;
  Addr hpa = 0;                            // translation of the GPA (when ok)
  std::uint8_t page_shift = kPageShift4K;  // size of the leaf used
  std::uint8_t perms = 0;                  // R/W/X ANDed over every entry used
  bool dirty = false;                      // leaf D is set (or A/D flags are off): writes need no walk
  std::uint8_t leaf_level = 0;             // level of the leaf, or of the entry that faulted
  std::uint32_t refs = 0;                  // memory references made
  Cycles cycles = 0;                       // their latency
  std::uint64_t qual = 0;                  // EPT-violation exit qualification (when !ok)
  bool pml_full = false;                   // !ok because the PML log is full (exit reason 62), not a violation
  bool misconfig = false;                  // !ok because an entry is misconfigured (exit reason 49), not a violation
};

/// Who the reference is for; decides qualification bits 7 and 8.
enum class WalkPurpose : std::uint8_t {
  kFinal,        // the GPA an access finally touches (bit 8 = 1)
  kGuestPaging,  // a guest paging-structure entry (bit 8 = 0)
};

/// What CR3 and CR4 give a guest walk.
struct GuestPaging {
  Addr cr3 = 0;               // GPA of the top-level guest table
  unsigned levels = 4;        // 4, or 5 with CR4.LA57
  std::uint64_t ctx = 0;      // paging-structure-cache context (TlbContext::key())
  std::uint16_t ept_ctx = 0;  // EPT context id for the EPT walk cache
};

enum class WalkStatus : std::uint8_t { kOk, kEptViolation, kGuestFault, kPmlFull, kEptMisconfig };

/// Outcome of one two-dimensional (guest × EPT) translation.
struct Walk2d {
  WalkStatus status = WalkStatus::kOk;
  Addr gpa = 0;                  // the guest-physical address of the access (when the guest walk completed)
  Addr hpa = 0;                  // its translation (when ok)
  std::uint8_t page_shift = 0;   // min(guest page, EPT page): what a TLB may cache
  std::uint8_t perms = 0;        // R/W/X the combined translation grants
  bool dirty = false;            // guest D and EPT D both set (or EPT A/D off): writes need no walk
  std::uint32_t refs = 0;        // all memory references: guest entries + every EPT walk
  std::uint32_t guest_refs = 0;  // guest paging-structure entries read
  Cycles cycles = 0;
  std::uint64_t qual = 0;      // EPT-violation exit qualification
  Addr fault_gpa = 0;          // GPA that faulted or was misconfigured in EPT: a guest entry's, or the final GPA
  std::uint32_t pf_error = 0;  // guest #PF error code (bit 0 P, 1 W, 2 U, 4 I/D)
  bool paging_fault = false;   // the EPT fault was on a guest paging-structure access, not the final GPA
};

/// Told of each write the walker makes to guest memory — a guest entry's A or
/// D flag — so that an oracle sees them like the guest's own writes.
class GuestWriteObserver {
 public:
  virtual ~GuestWriteObserver() = default;
  /// The walker changed the guest entry at `hpa` (at the walk's instant).
  virtual void walker_wrote(Addr hpa) = 0;
};

class Walker {
 public:
  Walker(models::PhysMem& mem, models::MemHierarchy& hier) : mem_(mem), hier_(hier) {}

  /// The vCPU's PML engine (SDM §28.3.6), consulted before any EPT A/D update
  /// and told of every leaf D 0→1. Null: no PML.
  void set_pml(pml::Engine* e) { pml_ = e; }
  /// Null: nobody watches (the default; no cost).
  void set_guest_write_observer(GuestWriteObserver* o) { writes_ = o; }

  EptWalk translate(const Eptp& eptp, Addr gpa, AccessType type, WalkPurpose purpose = WalkPurpose::kFinal,
                    bool gla_valid = true);

  /// The 2D walk of SDM §28.2.1: each guest paging-structure entry's GPA is
  /// translated through EPT before the entry is read, then the final GPA is:
  /// (n+1)(m+1)-1 references cold — 24 for 4-level over 4-level, 35 for 5 over
  /// 5. With EPTP[6], the walker's guest paging-structure accesses count as
  /// EPT writes (they set EPT D on guest page-table pages) and a violation
  /// there reports RD|WR. Without it they are reads, and setting a guest A or
  /// D flag is a write that needs EPT W on the entry's page (else an EPT
  /// violation at the entry's GPA, RD|WR). On success the guest A flag is set
  /// in each guest entry used and guest D in the leaf on a write. `pwc` may be
  /// null (no paging-structure caches).
  Walk2d translate_2d(const Eptp& eptp, const GuestPaging& g, Addr gva, AccessType type, models::Pwc* pwc);

  std::uint64_t a_set = 0;                         // A flags this walker set
  std::uint64_t d_set = 0;                         // D flags this walker set
  std::uint64_t guest_a_set = 0, guest_d_set = 0;  // guest-entry flags set

 private:
  models::PhysMem& mem_;
  models::MemHierarchy& hier_;
  pml::Engine* pml_ = nullptr;
  GuestWriteObserver* writes_ = nullptr;
};

/// The permission bit an access needs.
constexpr std::uint64_t needed_perm(AccessType t) {
  return t == AccessType::Read ? kRead : t == AccessType::Write ? kWrite : kExec;
}

}  // namespace vmxsim::ept
