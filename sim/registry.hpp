// A registry of variants of one interface, keyed by the name a config uses
// (Ramulator 2.0 style). A variant registers itself with one line in its own
// file:   VMXSIM_REGISTER(ReplacementPolicy, "lru", [](auto... a) { ... });
// The core library is an OBJECT library, so registrations are never dropped
// by the linker.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/error.hpp"

namespace vmxsim {

template <class Interface, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Interface>(Args...)>;

  static Registry& instance() {
    static Registry r;
    return r;
  }

  bool add(const std::string& name, Factory f) {
    factories_[name] = std::move(f);
    return true;
  }

  bool has(const std::string& name) const { return factories_.count(name) != 0; }

  /// Names in sorted order (std::map), so listings are deterministic.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
  }

  std::string names_joined() const {
    std::string s;
    for (const auto& n : names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }

  /// `what` names the config key for the error message, e.g. "tlb.replacement".
  std::unique_ptr<Interface> create(const std::string& name, const std::string& what,
                                    Args... args) const {
    auto it = factories_.find(name);
    if (it == factories_.end())
      throw Error(what + ": unknown variant '" + name + "' (known: " + names_joined() + ")");
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::map<std::string, Factory> factories_;
};

#define VMXSIM_CONCAT_(a, b) a##b
#define VMXSIM_CONCAT(a, b) VMXSIM_CONCAT_(a, b)
/// Register a variant: VMXSIM_REGISTER(RegistryType, "name", factory).
#define VMXSIM_REGISTER(RegistryType, name, ...)                                 \
  static const bool VMXSIM_CONCAT(vmxsim_registered_, __LINE__) [[maybe_unused]] = \
      RegistryType::instance().add(name, __VA_ARGS__)

}  // namespace vmxsim
