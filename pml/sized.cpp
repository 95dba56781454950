// The `sized` PML variant: the SDM's rules (pml/log_engine.hpp) with a log of
// `pml.log_entries` entries instead of 512 — a study variant for "how does
// the log size change the number of PML-full exits and the cost of each
// flush?". Real hardware has only the 512-entry page; with log_entries 512
// this variant is exactly `intel`.
//
// ## Configuration (`pml`, with `variant: "sized"`)
//
// | key           | type    | default | meaning |
// |---------------|---------|---------|---------|
// | `log_entries` | integer | `512`   | entries in the log, 1–65535 |
//
// `log_entries` is bounded by the 16-bit GUEST_PML_INDEX: the index starts at
// the head (`log_entries` − 1) and counts down, and 0 wraps to 0xFFFF, which
// must read as "full" (greater than the head). With 65536 entries the head
// itself would be 0xFFFF, so 65535 is the largest log.
//
// Example (a 64-entry log, to study how often a small log fills):
//   "pml": { "variant": "sized", "log_entries": 64 }
#include "pml/log_engine.hpp"
#include "sim/config.hpp"

namespace vmxsim::pml {

namespace {
constexpr std::uint64_t kDefaultEntries = 512;    // the hardware's log
constexpr std::uint64_t kMaxLogEntries = 0xFFFF;  // head 0xFFFE; 0xFFFF means full
}  // namespace

VMXSIM_REGISTER(EngineRegistry, "sized", "the SDM rules with a log of pml.log_entries entries (a study variant)",
                [](const Cfg& pml, const SystemInfo&) {
                  const std::uint64_t entries = pml.u64("log_entries", kDefaultEntries);
                  if (entries < 1 || entries > kMaxLogEntries)
                    pml.fail("log_entries",
                             "must be 1..65535 (the 16-bit PML index counts down from "
                             "log_entries - 1, and 0xFFFF means full), got " +
                                 std::to_string(entries));
                  return EngineRegistry::Maker([n = std::uint32_t(entries)](models::PhysMem& mem) {
                    return std::make_unique<LogEngine>(n, mem);
                  });
                });

}  // namespace vmxsim::pml
