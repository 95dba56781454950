// Named statistics. Components own plain integer counters and register a
// pointer to each once, under a dotted name ("vcpu0.tlb.l1.hits"); the hot path
// only increments its own integer. The dump is one flat JSON object, sorted.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/error.hpp"

namespace vmxsim {

/// A histogram of non-negative integers, filled on the hot path. Linear:
/// bucket v for v < buckets-1, the last bucket holds the rest. Log2: bucket 0
/// holds 0, bucket b holds [2^(b-1), 2^b - 1].
class Histogram {
 public:
  enum class Scale { kLinear, kLog2 };
  Histogram(Scale s, unsigned buckets) : scale_(s), counts_(buckets, 0) {}

  void add(std::uint64_t v) {
    std::size_t b;
    if (scale_ == Scale::kLinear) b = v;
    else b = v ? std::size_t(64 - __builtin_clzll(v)) : 0;
    if (b >= counts_.size()) b = counts_.size() - 1;
    ++counts_[b];
    ++count;
    sum += v;
    if (v > max) max = v;
  }

  /// Bucket label: "24" or "63+" (linear), "64-127" or "0" (log2).
  std::string label(std::size_t b) const {
    const bool last = b + 1 == counts_.size();
    if (scale_ == Scale::kLinear) return std::to_string(b) + (last ? "+" : "");
    if (b == 0) return "0";
    const std::uint64_t lo = std::uint64_t(1) << (b - 1);
    return std::to_string(lo) + (last ? "+" : "-" + std::to_string(2 * lo - 1));
  }
  const std::vector<std::uint64_t>& counts() const { return counts_; }

  std::uint64_t count = 0, sum = 0, max = 0;

 private:
  Scale scale_;
  std::vector<std::uint64_t> counts_;
};

class Stats {
 public:
  /// Register a counter that lives in a component; it must outlive the dump.
  void counter(const std::string& name, const std::uint64_t* p) { add(name, p); }
  /// Register a histogram: dumped as `<name>.count`, `.sum`, `.max` and one
  /// `<name>.<bucket label>` per non-empty bucket.
  void histogram(const std::string& name, const Histogram* h) { histograms_[name] = h; }
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
    for (const auto& [name, h] : histograms_) {
      j[name + ".count"] = h->count;
      j[name + ".sum"] = h->sum;
      j[name + ".max"] = h->max;
      for (std::size_t b = 0; b < h->counts().size(); ++b)
        if (h->counts()[b]) j[name + "." + h->label(b)] = h->counts()[b];
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
  std::map<std::string, const Histogram*> histograms_;
};

}  // namespace vmxsim
