// vmxsim::SystemInfo — the shape of the simulated system that a variant may
// check its configuration against (docs/extending.md), read before any
// variant: e.g. `hv.spte_id.unique` identifies a fault by vCPU id in 5 entry
// bits, so it refuses more than 31 vCPUs.
#pragma once

namespace vmxsim {

struct SystemInfo {
  unsigned vcpus = 1;  // cpu.vcpus
};

}  // namespace vmxsim
