// models::Geometry — the shape of a set-associative array, and the one rule
// every array obeys: TLB arrays, paging-structure caches and cache levels.
//
// The rule: `ways` is at least 1; the size is a whole number of sets (a
// multiple of unit × ways, where `unit` is the bytes of one entry for a size
// given in bytes, else 1); size 0 disables the array (for any valid `ways`);
// entries and ways fit 32 bits. Config readers call geometry_from, so an error
// names the key path; code that builds params itself gets checked_geometry.
#pragma once
#include <cstdint>
#include <string>

namespace vmxsim {
class Cfg;
}

namespace vmxsim::models {

struct Geometry {
  std::uint32_t entries = 0;  // 0 disables the array
  std::uint32_t ways = 1;
  std::uint32_t sets() const { return entries / ways; }
};

/// What is wrong with a requested geometry: the field at fault and why.
struct GeometryProblem {
  enum Field { kNone, kSize, kWays } field = kNone;
  std::string message;  // e.g. "must be at least 1", "60 is not a multiple of ways (8)"
  explicit operator bool() const { return field != kNone; }
};

/// The rule above, for `size` (entries, or bytes when `unit` > 1) and `ways`.
GeometryProblem check_geometry(std::uint64_t size, std::uint64_t ways, std::uint64_t unit = 1);

/// For config readers: on a problem, fails `c` at `size_key` (e.g. "entries",
/// "size_bytes") or "ways"; else returns the geometry in entries.
Geometry geometry_from(const Cfg& c, const std::string& size_key, std::uint64_t size, std::uint64_t ways,
                       std::uint64_t unit = 1);

/// For params built in code: throws Error "<what>: <key> <problem>" on a
/// problem (`what` names the array, e.g. "pwc.pde"); else returns the geometry.
Geometry checked_geometry(const std::string& what, const std::string& size_key, std::uint64_t size, std::uint64_t ways,
                          std::uint64_t unit = 1);

}  // namespace vmxsim::models
