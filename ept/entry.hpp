// EPT paging-structure entries and the EPTP, bit-exact per Intel SDM Vol. 3C
// §28.2.2 (EPT translation mechanism, tables 28-1..28-6) and §24.6.11 (EPTP).
// Levels are numbered as the SDM's walk: 4 = PML4, 3 = PDPT (1 GiB leaf
// possible), 2 = PD (2 MiB leaf possible), 1 = PT (4 KiB leaf); 5 = PML5 with
// 5-level EPT.
#pragma once
#include <cstdint>

#include "sim/types.hpp"

namespace vmxsim::ept {

inline constexpr std::uint64_t kRead = 1ull << 0;
inline constexpr std::uint64_t kWrite = 1ull << 1;
inline constexpr std::uint64_t kExec = 1ull << 2;
inline constexpr std::uint64_t kPermMask = kRead | kWrite | kExec;
inline constexpr unsigned kMemTypeShift = 3;  // bits 5:3, leaf only
inline constexpr std::uint64_t kMemTypeMask = 7ull << kMemTypeShift;
inline constexpr std::uint64_t kIgnorePat = 1ull << 6;                // leaf only
inline constexpr std::uint64_t kPageSize = 1ull << 7;                 // PDPTE/PDE: maps a page
inline constexpr std::uint64_t kAccessed = 1ull << 8;                 // with EPTP[6]
inline constexpr std::uint64_t kDirty = 1ull << 9;                    // leaf only, with EPTP[6]
inline constexpr std::uint64_t kAddrMask = 0x000F'FFFF'FFFF'F000ull;  // bits 51:12
// Software-available bits 62:52. KVM keeps Host-writable in 57 and MMU-writable
// in 58 (arch/x86/kvm/mmu/spte.h, EPT_SPTE_HOST_WRITABLE / EPT_SPTE_MMU_WRITABLE).
inline constexpr std::uint64_t kHostWritable = 1ull << 57;
inline constexpr std::uint64_t kMmuWritable = 1ull << 58;
// Bits 56:52 hold the spte_id fault path's identification (hv/fault_paths.cpp):
// a vCPU id + 1, or one shared bit (52). Any path that sets W clears them.
inline constexpr unsigned kSpteIdShift = 52;
inline constexpr std::uint64_t kSpteIdMask = 0x1Full << kSpteIdShift;
inline constexpr std::uint64_t kSuppressVe = 1ull << 63;

enum MemType : std::uint8_t { kUncacheable = 0, kWriteBack = 6 };

/// Bits 2:0 all zero means not present (SDM §28.2.2).
constexpr bool present(std::uint64_t e) { return (e & kPermMask) != 0; }
/// Address bits of the page a level-`level` entry maps: 12 + 9*(level-1).
constexpr unsigned level_shift(unsigned level) { return kPageShift4K + 9 * (level - 1); }
/// Index of `gpa` in a level-`level` table.
constexpr unsigned index_at(Addr gpa, unsigned level) { return unsigned((gpa >> level_shift(level)) & 511); }
/// A leaf at level 1, or a PDE/PDPTE with bit 7 set.
constexpr bool is_leaf(std::uint64_t e, unsigned level) { return level == 1 || (e & kPageSize) != 0; }
/// Physical address held in an entry: the next table, or the page frame of a
/// leaf (low bits of a huge-page frame are reserved, hence the mask).
constexpr Addr entry_addr(std::uint64_t e, unsigned level = 1) {
  return e & kAddrMask & ~((Addr{1} << level_shift(is_leaf(e, level) ? level : 1)) - 1);
}

/// A non-leaf entry: KVM links page-table pages with R/W/X all set, so the
/// leaf alone decides permissions.
constexpr std::uint64_t make_table(Addr hpa) { return (hpa & kAddrMask) | kPermMask; }

/// A leaf mapping `hpa` (aligned to the level's page size) with `perms` (R/W/X bits).
constexpr std::uint64_t make_leaf(Addr hpa, unsigned level, std::uint64_t perms, MemType mt = kWriteBack) {
  return (hpa & kAddrMask) | (perms & kPermMask) | (std::uint64_t(mt) << kMemTypeShift) | (level > 1 ? kPageSize : 0);
}

/// EPT misconfiguration (SDM §28.2.3.1), checked on every present entry the
/// walker reads: write without read (bits 1:0 = 10b: write-only or
/// write-execute; execute-only is allowed, as on CPUs that report it in
/// IA32_VMX_EPT_VPID_CAP[0], which KVM relies on), a reserved bit set — bits
/// 7:3 of a non-leaf entry (bit 7 of a PML4E/PML5E), address bits below a
/// huge page's size — or a leaf memory type of 2, 3 or 7. MAXPHYADDR is 52
/// here, so no address bit is reserved above it. KVM builds its MMIO entries
/// on the first rule (W|X, R = 0, VMX_EPT_MISCONFIG_WX_VALUE).
constexpr bool misconfigured(std::uint64_t e, unsigned level) {
  if ((e & (kRead | kWrite)) == kWrite) return true;
  const bool leaf = level == 1 || ((level == 2 || level == 3) && (e & kPageSize));
  if (!leaf) return (e & 0xF8) != 0;  // bits 7:3
  const unsigned mt = unsigned((e & kMemTypeMask) >> kMemTypeShift);
  if (mt == 2 || mt == 3 || mt == 7) return true;
  return level > 1 && (e & kAddrMask & ((Addr{1} << level_shift(level)) - 1)) != 0;
}

/// EPT pointer (VMCS field, SDM §24.6.11): bits 2:0 memory type of the walk,
/// 5:3 walk length - 1, 6 enables accessed/dirty flags, 51:12 the root table.
struct Eptp {
  std::uint64_t raw = 0;

  static constexpr Eptp make(Addr root, unsigned levels, bool ad) {
    return Eptp{(root & kAddrMask) | std::uint64_t(kWriteBack) | (std::uint64_t(levels - 1) << 3) |
                (ad ? 1ull << 6 : 0)};
  }
  constexpr Addr root() const { return raw & kAddrMask; }
  constexpr unsigned levels() const { return unsigned((raw >> 3) & 7) + 1; }
  constexpr bool ad_enabled() const { return (raw >> 6) & 1; }
};

/// EPT-violation exit qualification bits (SDM §27.2.1, table 27-7).
namespace qual {
inline constexpr std::uint64_t kRead = 1ull << 0;              // the access was a data read
inline constexpr std::uint64_t kWrite = 1ull << 1;             // a data write
inline constexpr std::uint64_t kFetch = 1ull << 2;             // an instruction fetch
inline constexpr unsigned kPermShift = 3;                      // bits 5:3: R/W/X ANDed over the walk
inline constexpr std::uint64_t kGlaValid = 1ull << 7;          // guest linear address valid
inline constexpr std::uint64_t kFinalTranslation = 1ull << 8;  // 1: final GPA; 0: guest paging entry
/// The faulting access as an EPT-violation qualification reports it (KVM
/// derives its error code from bits 2:0): a guest paging-structure access
/// with EPT A/D on is a write even when the instruction only reads.
constexpr AccessType access(std::uint64_t q) {
  return (q & kWrite) ? AccessType::Write : (q & kFetch) ? AccessType::Exec : AccessType::Read;
}
}  // namespace qual

}  // namespace vmxsim::ept
