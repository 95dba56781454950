// pml::PmlParams — the `pml` section: which PML engine each vCPU gets.
//
// ## Configuration (`pml`)
//
// | key           | type    | default   | meaning |
// |---------------|---------|-----------|---------|
// | `variant`     | string  | `"intel"` | the engine, by its registered name: `intel` (SDM §28.3.6: one 4 KiB page, 512 entries) or `sized` (the same rules with a log of `log_entries` entries) |
// | `log_entries` | integer | `512`     | entries in the log of a sized variant (`sized`), 1–65535; `intel` ignores it (its log is always 512) |
//
// Both keys are always read, so `config show` lists them whichever variant is
// chosen. `log_entries` is bounded by the 16-bit GUEST_PML_INDEX: the index
// starts at the head (`log_entries` − 1) and counts down, and 0 wraps to
// 0xFFFF, which must read as "full" (greater than the head). With 65536
// entries the head itself would be 0xFFFF, so 65535 is the largest log.
//
// Example (a 64-entry log, to study how often a small log fills):
//   "pml": { "variant": "sized", "log_entries": 64 }
#include <string>

#include "pml/engine.hpp"
#include "sim/config.hpp"

namespace vmxsim::pml {

VMXSIM_REGISTRY_KIND(EngineRegistry, "pml.variant", "PML engines: the hardware half of page-modification logging");

namespace {
constexpr std::uint64_t kMaxLogEntries = 0xFFFF;  // head 0xFFFE; 0xFFFF means full
}  // namespace

PmlParams PmlParams::from(const Cfg& pml) {
  PmlParams p;
  p.variant = pml.choice("variant", p.variant, EngineRegistry::instance().names());
  const std::uint64_t entries = pml.u64("log_entries", p.log_entries);
  if (entries < 1 || entries > kMaxLogEntries)
    pml.fail("log_entries", "must be 1..65535 (the 16-bit PML index counts down from "
                            "log_entries - 1, and 0xFFFF means full), got " +
                                std::to_string(entries));
  p.log_entries = std::uint32_t(entries);
  return p;
}

}  // namespace vmxsim::pml
