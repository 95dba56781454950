// Named statistics. Components own plain integer counters and register a
// pointer to each once, under a dotted name ("vcpu0.tlb.l1.hits"); the hot path
// only increments its own integer. The dump is one flat JSON object, sorted.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "sim/error.hpp"

namespace vmxsim {

class Stats {
 public:
  /// Register a counter that lives in a component; it must outlive the dump.
  void counter(const std::string& name, const std::uint64_t* p) { add(name, p); }
  /// Set a value computed once (host time, ratios).
  void set(const std::string& name, double v) { values_[name] = v; }
  void set_u64(const std::string& name, std::uint64_t v) { values_[name] = v; }

  nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, v] : values_) {
      if (auto p = std::get_if<const std::uint64_t*>(&v)) j[name] = **p;
      else if (auto u = std::get_if<std::uint64_t>(&v)) j[name] = *u;
      else j[name] = std::get<double>(v);
    }
    return j;
  }

  /// Value of one stat as a number (tests, summaries). Throws if absent.
  double get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) throw Error("no stat named '" + name + "'");
    if (auto p = std::get_if<const std::uint64_t*>(&it->second)) return double(**p);
    if (auto u = std::get_if<std::uint64_t>(&it->second)) return double(*u);
    return std::get<double>(it->second);
  }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

 private:
  void add(const std::string& name, const std::uint64_t* p) {
    if (!values_.emplace(name, p).second) throw Error("stat registered twice: " + name);
  }
  std::map<std::string, std::variant<const std::uint64_t*, std::uint64_t, double>> values_;
};

}  // namespace vmxsim
