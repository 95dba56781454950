// Guest paging-structure entries in the x86-64 format (SDM Vol. 3A §4.5,
// tables 4-15..4-20): 4-level and 5-level paging, 4 KiB / 2 MiB / 1 GiB pages.
// The 2D walker reads these from guest-physical memory.
#pragma once
#include <cstdint>

#include "sim/types.hpp"

namespace vmxsim::ept::guest {

inline constexpr std::uint64_t kPresent = 1ull << 0;
inline constexpr std::uint64_t kWritable = 1ull << 1;  // R/W
inline constexpr std::uint64_t kUser = 1ull << 2;      // U/S
inline constexpr std::uint64_t kPwt = 1ull << 3;
inline constexpr std::uint64_t kPcd = 1ull << 4;
inline constexpr std::uint64_t kAccessed = 1ull << 5;
inline constexpr std::uint64_t kDirty = 1ull << 6;     // leaf only
inline constexpr std::uint64_t kPageSize = 1ull << 7;  // PDPTE / PDE maps a page
inline constexpr std::uint64_t kGlobal = 1ull << 8;    // leaf only
inline constexpr std::uint64_t kAddrMask = 0x000F'FFFF'FFFF'F000ull;
inline constexpr std::uint64_t kNoExecute = 1ull << 63;  // XD, with EFER.NXE

/// Level L (1 = PT .. 5 = PML5) selects GVA bits [12+9L-1 : 12+9(L-1)].
constexpr unsigned level_shift(unsigned level) { return kPageShift4K + 9 * (level - 1); }
constexpr unsigned index_at(Addr gva, unsigned level) { return unsigned((gva >> level_shift(level)) & 511); }
constexpr bool present(std::uint64_t e) { return e & kPresent; }
constexpr bool is_leaf(std::uint64_t e, unsigned level) { return level == 1 || (e & kPageSize); }
/// The next table's GPA, or a leaf's page frame (low reserved bits of a huge
/// page frame, including its PAT bit 12, are not address).
constexpr Addr entry_addr(std::uint64_t e, unsigned level) {
  const unsigned shift = is_leaf(e, level) ? level_shift(level) : kPageShift4K;
  return e & kAddrMask & ~((Addr{1} << shift) - 1);
}
constexpr std::uint64_t make_table(Addr gpa) { return (gpa & kAddrMask) | kPresent | kWritable | kUser; }
constexpr std::uint64_t make_leaf(Addr gpa, unsigned level, bool writable, bool exec = true) {
  return (gpa & kAddrMask) | kPresent | kUser | (writable ? kWritable : 0) | (level > 1 ? kPageSize : 0) |
         (exec ? 0 : kNoExecute);
}

}  // namespace vmxsim::ept::guest
