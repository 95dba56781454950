// The `intel` PML variant: the hardware as it is — one 4 KiB page of 512
// entries, index from 511 down (SDM Vol. 3C §28.3.6; KVM's
// PML_LOG_NR_ENTRIES = 512, PML_HEAD_INDEX = 511). It has no config keys.
// The rules themselves are in pml/log_engine.hpp.
#include "pml/log_engine.hpp"

namespace vmxsim::pml {

constexpr std::uint32_t kIntelLogEntries = 512;  // KVM: PML_LOG_NR_ENTRIES

VMXSIM_REGISTER(EngineRegistry, "intel",
                "Intel PML as the SDM specifies it: one 4 KiB log of 512 GPAs, PML-full exit 62",
                [](const Cfg&, const SystemInfo&) {
                  return EngineRegistry::Maker(
                      [](models::PhysMem& mem) { return std::make_unique<LogEngine>(kIntelLogEntries, mem); });
                });

}  // namespace vmxsim::pml
