// pml::PmlParams — the `pml` section: which PML engine each vCPU gets.
//
// ## Configuration (`pml`)
//
// | key       | type   | default   | meaning |
// |-----------|--------|-----------|---------|
// | `variant` | string | `"intel"` | the engine, by its registered name (`vmxsim list`) |
//
// Each variant reads its own keys from this section (`sized`: `log_entries`,
// pml/sized.cpp). Every variant's keys are read and checked whichever is
// chosen, so a sweep over `pml.variant` can share one base config.
#include <string>

#include "pml/engine.hpp"
#include "sim/config.hpp"

namespace vmxsim::pml {

VMXSIM_REGISTRY_KIND(EngineRegistry, "pml.variant", "PML engines: the hardware half of page-modification logging");

PmlParams PmlParams::from(const Cfg& pml, const SystemInfo& system) {
  PmlParams p;
  p.variant = pml.choice("variant", p.variant, EngineRegistry::instance().names());
  p.make = EngineRegistry::instance().select(
      p.variant, pml.path("variant"), [&pml](const std::string&) { return pml; }, system);
  return p;
}

}  // namespace vmxsim::pml
