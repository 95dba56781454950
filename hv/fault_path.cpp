#include "hv/fault_path.hpp"

namespace vmxsim::hv {

VMXSIM_REGISTRY_KIND(FaultPathRegistry, "hv.fault_path", "fault paths: how the hypervisor resolves an EPT violation");

}  // namespace vmxsim::hv
