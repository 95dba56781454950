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
  Addr addr = 0;             // GPA in guest-physical mode, GVA with guest paging
  std::uint32_t gap = 0;     // non-memory cycles the guest spends before it
  std::uint16_t size = 8;    // bytes; an access that crosses a 4 KiB page is split
  AccessType type = AccessType::Read;
};

inline constexpr unsigned kPageShift4K = 12;
inline constexpr unsigned kPageShift2M = 21;
inline constexpr unsigned kPageShift1G = 30;
inline constexpr Addr kPageSize4K = Addr{1} << kPageShift4K;

}  // namespace vmxsim
