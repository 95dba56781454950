// ept::Walker — the EPT half of the hardware page walker (SDM §28.2.2-28.2.4,
// §28.3.5). Translates a GPA through the EPT paging structures held in
// models::PhysMem, charging each reference through models::MemHierarchy;
// checks permissions; with EPTP[6] sets A on every entry used and D on the
// leaf for a write, by compare-and-exchange; or reports an EPT violation with
// the SDM exit qualification.
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
}  // namespace vmxsim::models

namespace vmxsim::ept {

/// Outcome of one EPT translation.
struct EptWalk {
  bool ok = false;
  Addr hpa = 0;                 // translation of the GPA (when ok)
  std::uint8_t page_shift = kPageShift4K;  // size of the leaf used
  std::uint8_t perms = 0;       // R/W/X ANDed over every entry used
  bool dirty = false;           // leaf D is set (or A/D flags are off): writes need no walk
  std::uint8_t leaf_level = 0;  // level of the leaf, or of the entry that faulted
  std::uint32_t refs = 0;       // memory references made
  Cycles cycles = 0;            // their latency
  std::uint64_t qual = 0;       // EPT-violation exit qualification (when !ok)
};

/// Who the reference is for; decides qualification bits 7 and 8.
enum class WalkPurpose : std::uint8_t {
  kFinal,        // the GPA an access finally touches (bit 8 = 1)
  kGuestPaging,  // a guest paging-structure entry (bit 8 = 0)
};

class Walker {
 public:
  Walker(models::PhysMem& mem, models::MemHierarchy& hier) : mem_(mem), hier_(hier) {}

  EptWalk translate(const Eptp& eptp, Addr gpa, AccessType type,
                    WalkPurpose purpose = WalkPurpose::kFinal, bool gla_valid = true);

  std::uint64_t a_set = 0;  // A flags this walker set
  std::uint64_t d_set = 0;  // D flags this walker set

 private:
  models::PhysMem& mem_;
  models::MemHierarchy& hier_;
};

/// The permission bit an access needs.
constexpr std::uint64_t needed_perm(AccessType t) {
  return t == AccessType::Read ? kRead : t == AccessType::Write ? kWrite : kExec;
}

}  // namespace vmxsim::ept
