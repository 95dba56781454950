// A registry of variants of one interface, keyed by the name a config uses
// (Ramulator 2.0's interface + implementation + factory). A variant registers
// itself with one line in its own file, and owns its configuration:
//
//   VMXSIM_REGISTER(EngineRegistry, "sized", "the SDM rules with a log of N entries",
//     [](const Cfg& pml, const SystemInfo&) {        // config phase: read + validate
//       const auto n = pml.u64("log_entries", 512);  //   its own keys, defaults here
//       return EngineRegistry::Maker([n](models::PhysMem& m) {  // build phase
//         return std::make_unique<LogEngine>(n, m); });
//     });
//
// Two phases, because a config is read (and checked, and shown by `config
// show`, and validated for every sweep point) before anything is built: the
// factory runs at read time with the variant's config section and the shape
// of the system (to check its compatibility, e.g. a vCPU limit); the Maker it
// returns builds instances later from the narrow dependencies the interface
// declares (BuildArgs), never from the whole hypervisor.
// Each registry names its kind once (VMXSIM_REGISTRY_KIND, beside the
// interface's code), so `vmxsim list` can print every registry and its
// variants. The core library is an OBJECT library, so registrations are never
// dropped by the linker.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/error.hpp"
#include "sim/system_info.hpp"

namespace vmxsim {

class Cfg;

/// What `vmxsim list` needs of any registry, whatever its interface.
class RegistryBase {
 public:
  struct Variant {
    std::string name, description;
  };
  virtual ~RegistryBase() = default;
  /// The config key that selects a variant, e.g. "hv.fault_path".
  const std::string& key() const { return key_; }
  /// What the variants are, e.g. "fault paths: how an EPT violation is resolved".
  const std::string& title() const { return title_; }
  virtual std::vector<Variant> variants() const = 0;
  /// Names registered twice, as "name (first: A; again: B)" — reported by
  /// RegistryIndex::check(), since a static registration cannot throw.
  const std::vector<std::string>& conflicts() const { return conflicts_; }

 protected:
  std::string key_, title_;
  std::vector<std::string> conflicts_;
};

/// Every registry that named its kind, in key order.
class RegistryIndex {
 public:
  static RegistryIndex& instance() {
    static RegistryIndex r;
    return r;
  }
  bool add(RegistryBase* r) {
    by_key_[r->key()] = r;
    return true;
  }
  std::vector<const RegistryBase*> all() const {
    std::vector<const RegistryBase*> out;
    for (const auto& kv : by_key_) out.push_back(kv.second);
    return out;
  }
  /// Throws Error naming the first name two variants registered.
  void check() const {
    for (const auto& kv : by_key_)
      if (!kv.second->conflicts().empty())
        throw Error(kv.first + ": variant registered twice: " + kv.second->conflicts().front());
  }

 private:
  std::map<std::string, RegistryBase*> by_key_;
};

template <class Interface, class... BuildArgs>
class Registry final : public RegistryBase {
 public:
  /// Builds one instance (per vCPU, per array, ...) from a configured variant.
  using Maker = std::function<std::unique_ptr<Interface>(BuildArgs...)>;
  /// Reads and validates the variant's config section; returns its Maker.
  using Factory = std::function<Maker(const Cfg& section, const SystemInfo& system)>;

  static Registry& instance() {
    static Registry r;
    return r;
  }

  /// Names this registry for listings and adds it to the index.
  bool describe(std::string key, std::string title) {
    key_ = std::move(key);
    title_ = std::move(title);
    return RegistryIndex::instance().add(this);
  }

  /// `origin` says who registered it (a plug-in's file), for conflict messages.
  bool add(const std::string& name, std::string description, Factory f, std::string origin = "built in") {
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      conflicts_.push_back("'" + name + "' (first: " + it->second.origin + "; again: " + origin + ")");
      return false;
    }
    entries_.emplace(name, Entry{std::move(description), std::move(f), std::move(origin)});
    return true;
  }

  bool has(const std::string& name) const { return entries_.count(name) != 0; }

  /// Names in sorted order (std::map), so listings are deterministic.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  std::string names_joined() const {
    std::string s;
    for (const auto& n : names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }

  std::vector<Variant> variants() const override {
    std::vector<Variant> out;
    for (const auto& kv : entries_) out.push_back({kv.first, kv.second.description});
    return out;
  }

  /// The config phase of a component that chooses one variant: every
  /// registered variant reads and validates its keys in `section_of(name)`
  /// (so their keys are known, checked and shown whichever is chosen), and
  /// the Maker of `chosen` is returned. `what` names the choosing key.
  Maker select(const std::string& chosen, const std::string& what,
               const std::function<Cfg(const std::string& variant)>& section_of, SystemInfo system) const {
    if (!has(chosen)) throw Error(what + ": unknown variant '" + chosen + "' (known: " + names_joined() + ")");
    Maker out;
    for (const auto& kv : entries_) {
      system.selected = kv.first == chosen;
      Maker m = kv.second.make(section_of(kv.first), system);
      if (system.selected) out = std::move(m);
    }
    return out;
  }

  /// The config phase of one variant alone: `name` reads `section`. `what` names the
  /// selecting config key for the error message, e.g. "tlb.l1.replacement".
  Maker configure(const std::string& name, const std::string& what, const Cfg& section,
                  const SystemInfo& system) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(what + ": unknown variant '" + name + "' (known: " + names_joined() + ")");
    return it->second.make(section, system);
  }

 private:
  struct Entry {
    std::string description;
    Factory make;  // the config phase
    std::string origin;
  };
  std::map<std::string, Entry> entries_;
};

#define VMXSIM_CONCAT_(a, b) a##b
#define VMXSIM_CONCAT(a, b) VMXSIM_CONCAT_(a, b)
/// Register a variant: VMXSIM_REGISTER(RegistryType, "name", "one-line description", factory).
#define VMXSIM_REGISTER(RegistryType, name, description, ...)                      \
  static const bool VMXSIM_CONCAT(vmxsim_registered_, __LINE__) [[maybe_unused]] = \
      RegistryType::instance().add(name, description, __VA_ARGS__)
/// Name a registry once, in the .cpp beside its interface:
/// VMXSIM_REGISTRY_KIND(FaultPathRegistry, "hv.fault_path", "fault paths: how an EPT violation is resolved").
#define VMXSIM_REGISTRY_KIND(RegistryType, key, title)                                \
  static const bool VMXSIM_CONCAT(vmxsim_registry_kind_, __LINE__) [[maybe_unused]] = \
      RegistryType::instance().describe(key, title)

}  // namespace vmxsim
