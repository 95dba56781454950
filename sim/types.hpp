// Basic vocabulary shared by every module: time, addresses, accesses.
#pragma once
#include <cstdint>

namespace vmxsim {

/// Simulated time: an integer count of core cycles (docs/architecture.md, "Time").
using Cycles = std::uint64_t;
/// Any physical or virtual address (GPA, GVA, HPA).
using Addr = std::uint64_t;

/// The kind of a memory access, as the SDM's EPT-violation qualification
/// distinguishes them (bit 0 read, bit 1 write, bit 2 instruction fetch).
enum class AccessType : std::uint8_t { Read = 0, Write = 1, Exec = 2 };

inline constexpr char access_char(AccessType t) {
  return t == AccessType::Read ? 'R' : t == AccessType::Write ? 'W' : 'X';
}

/// One access of a trace or generator stream.
struct Access {
  Addr addr = 0;           // GPA in guest-physical mode, GVA with guest paging
  std::uint32_t gap = 0;   // non-memory cycles the guest spends before it
  std::uint16_t size = 8;  // bytes; an access that crosses a 4 KiB page is split
  AccessType type = AccessType::Read;
};

inline constexpr unsigned kPageShift4K = 12;
inline constexpr unsigned kPageShift2M = 21;
inline constexpr unsigned kPageShift1G = 30;
inline constexpr Addr kPageSize4K = Addr{1} << kPageShift4K;

/// The page sizes x86-64 maps, as configs name them ("4K", "2M", "1G").
inline constexpr const char* kPageSizeNames[] = {"4K", "2M", "1G"};
inline constexpr unsigned kPageSizeShifts[] = {kPageShift4K, kPageShift2M, kPageShift1G};

/// The shift of a page-size name, or 0 when `name` is none of kPageSizeNames.
inline unsigned page_shift_of(const char* name) {
  for (unsigned i = 0; i < 3; ++i) {
    const char* a = name;
    const char* b = kPageSizeNames[i];
    while (*a && *a == *b) ++a, ++b;
    if (*a == 0 && *b == 0) return kPageSizeShifts[i];
  }
  return 0;
}

}  // namespace vmxsim
