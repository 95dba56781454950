#include "traces/format.hpp"

#include "sim/error.hpp"

namespace vmxsim::traces {

VMXSIM_REGISTRY_KIND(FormatRegistry, "traces",
                     "trace formats: chosen by a trace file's name (workload.trace, vmxsim trace ...)");

TraceFormat::Claims claims_extension(std::string extension) {
  return [ext = std::move(extension)](const std::string& path) {
    return path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  };
}

bool FormatRegistry::describe(std::string key, std::string title) {
  key_ = std::move(key);
  title_ = std::move(title);
  return RegistryIndex::instance().add(this);
}

bool FormatRegistry::add(const std::string& name, std::string description, TraceFormat f, std::string origin) {
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    conflicts_.push_back("'" + name + "' (first: " + it->second.origin + "; again: " + origin + ")");
    return false;
  }
  if (!f.claims)
    for (const auto& kv : entries_)
      if (!kv.second.format.claims) {
        conflicts_.push_back("'" + name + "' as the fallback format (first: '" + kv.first + "', " + kv.second.origin +
                             "; again: " + origin + ")");
        return false;
      }
  entries_.emplace(name, Entry{std::move(description), std::move(f), std::move(origin)});
  return true;
}

std::vector<RegistryBase::Variant> FormatRegistry::variants() const {
  std::vector<Variant> out;
  for (const auto& kv : entries_) out.push_back({kv.first, kv.second.description});
  return out;
}

const TraceFormat& FormatRegistry::of(const std::string& path) const {
  const Entry* claimed = nullptr;
  const Entry* fallback = nullptr;
  std::string claimed_name;
  for (const auto& kv : entries_) {
    const TraceFormat& f = kv.second.format;
    if (!f.claims) {
      fallback = &kv.second;
    } else if (f.claims(path)) {
      if (claimed)
        throw Error(path + ": trace formats '" + claimed_name + "' and '" + kv.first + "' both claim this file");
      claimed = &kv.second;
      claimed_name = kv.first;
    }
  }
  if (claimed) return claimed->format;
  if (fallback) return fallback->format;
  throw Error(path + ": no trace format claims this file (see vmxsim list)");
}

}  // namespace vmxsim::traces
