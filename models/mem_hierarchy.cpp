#include "models/mem_hierarchy.hpp"

#include "sim/config.hpp"

namespace vmxsim::models {

MemHierarchyParams MemHierarchyParams::from(const Cfg& mem) {
  MemHierarchyParams p;
  p.latency_cycles = mem.u64("latency_cycles", p.latency_cycles);
  return p;
}

}  // namespace vmxsim::models
