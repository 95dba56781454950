// The `sized` PML variant: the SDM's rules (pml/log_engine.hpp) with a log of
// `pml.log_entries` entries instead of 512 — a study variant for "how does
// the log size change the number of PML-full exits and the cost of each
// flush?". Real hardware has only the 512-entry page; with log_entries 512
// this variant is exactly `intel`. The index keeps the hardware's 16-bit
// scheme, so log_entries is at most 65535 (pml/params.cpp).
#include "pml/log_engine.hpp"

namespace vmxsim::pml {

VMXSIM_REGISTER(EngineRegistry, "sized", "the SDM rules with a log of pml.log_entries entries (a study variant)", [](const PmlParams& p, models::PhysMem& mem) {
  return std::unique_ptr<Engine>(new LogEngine(p.log_entries, mem));
});

}  // namespace vmxsim::pml
