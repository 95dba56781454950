// pml::Engine — Page-Modification Logging, the hardware half (SDM Vol. 3C
// §28.3.6 "Page-Modification Logging"). One engine per vCPU, holding that
// vCPU's VMCS PML state: the 4 KiB log page (in models::PhysMem, so its
// contents are bit-exact 8-byte GPAs) and the 16-bit PML index.
//
// The walker calls it around every EPT accessed/dirty-flag update:
//   1. before an access that must set an EPT A or D flag: `may_set_flags()`.
//      false = the log is full: a PML-full VM exit (reason 62) happens
//      instead, the flag is NOT set, and the access re-executes after entry.
//   2. after a leaf's D flag went 0→1: `log(gpa)`.
// Variants register by name (`pml.variant`) in EngineRegistry; adding one is
// one file and one VMXSIM_REGISTER line that also reads the variant's own
// config keys (docs/extending.md).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/registry.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::pml {

class Engine;
/// Variants are built per vCPU from the host memory, where each allocates its
/// log page(s) itself (PhysMem::alloc_table gives zeroed 4 KiB frames).
using EngineRegistry = Registry<Engine, models::PhysMem&>;

/// The `pml` section: `variant` chooses the engine, which reads its own keys
/// from the same section (e.g. `sized` reads `log_entries`).
struct PmlParams {
  std::string variant = "intel";  // pml.variant
  EngineRegistry::Maker make;     // builds one vCPU's engine
  static PmlParams from(const Cfg& pml, const SystemInfo& system);
};

class Engine {
 public:
  virtual ~Engine() = default;

  /// The hypervisor enables logging for this vCPU (SECONDARY_EXEC_ENABLE_PML)
  /// and starts the index at the head (511 for `intel`). While disabled,
  /// may_set_flags() is always true and log() does nothing.
  virtual void enable(bool on) = 0;
  virtual bool enabled() const = 0;

  /// Before setting any EPT A or D flag: may the access proceed?
  virtual bool may_set_flags() = 0;
  /// A leaf's D flag went 0→1 for `gpa`: log its 4 KiB-aligned GPA.
  virtual void log(Addr gpa) = 0;

  /// The hypervisor's flush of the buffer (KVM's vmx_flush_pml_buffer): the
  /// logged GPAs, in the order KVM reads them (from the head down to the
  /// last written entry), appended to `out`; then the index is reset to the
  /// head. Returns how many.
  virtual std::size_t drain(std::vector<Addr>& out) = 0;
  /// Entries logged and not yet drained.
  virtual std::size_t pending() const = 0;

  /// The raw VMCS index, for tests and the SDM's wrap rule (0 → 0xFFFF).
  virtual std::uint16_t index() const = 0;
  /// Entries the log holds (512 for `intel`); the head index is one less.
  virtual std::uint32_t log_entries() const = 0;
  /// Read-only visitor (inspection, `vmxsim run --dump`): f(slot, gpa) for
  /// each entry logged and not yet drained, in the order drain() reads them
  /// (from the head down). Changes nothing.
  virtual void for_each_logged(const std::function<void(std::uint32_t slot, Addr gpa)>& f) const = 0;

  /// Registers `<prefix>.logged`, `.full` (may_set_flags() refusals), `.drained`.
  virtual void register_stats(Stats& s, const std::string& prefix) const = 0;
};

}  // namespace vmxsim::pml
