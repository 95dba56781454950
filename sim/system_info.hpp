// vmxsim::SystemInfo — the shape of the simulated system that a variant may
// check its configuration against (docs/extending.md), read before any
// variant: e.g. `hv.spte_id.unique` identifies a fault by vCPU id in 5 entry
// bits, so it refuses more than 31 vCPUs.
#pragma once

namespace vmxsim {

struct SystemInfo {
  unsigned vcpus = 1;  // cpu.vcpus
  /// Whether the variant being configured is the one the config chose. Every
  /// variant of a registry reads and validates its keys (so a sweep over
  /// variants may share one base config, and `config show` lists them all);
  /// only the chosen one checks its compatibility with the system.
  bool selected = true;
};

}  // namespace vmxsim
