// models::MemHierarchy — what one page-walker memory reference costs.
// This first version charges a flat latency per reference (every reference
// is assumed to hit the same level of the cache hierarchy); set-associative
// L1D/L2/LLC and DRAM come with the 2D-walk work (issue 3).
#pragma once
#include <cstdint>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::models {

struct MemHierarchyParams {
  // 5 cycles: a cache-hitting native walk costs about 20 cycles for its four
  // references on Haswell (see docs/config.md for the source).
  Cycles latency_cycles = 5;
  static MemHierarchyParams from(const Cfg& mem);
};

class MemHierarchy {
 public:
  explicit MemHierarchy(const MemHierarchyParams& p) : params_(p) {}
  /// Cost of one 8-byte walker reference at `hpa`.
  Cycles access(Addr /*hpa*/) {
    ++refs;
    return params_.latency_cycles;
  }
  std::uint64_t refs = 0;

 private:
  MemHierarchyParams params_;
};

}  // namespace vmxsim::models
