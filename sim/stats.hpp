// Named statistics. Components own plain integer counters and register a
// pointer to each once, under a dotted name ("vcpu0.tlb.l1.hits"), with a
// unit and a one-line description; the hot path only increments its own
// integer. Derived values (ratios, study metrics, host timings) register a
// function that is evaluated when the stats are read, so every stat a run can
// emit is known — with its unit and description — before the run starts
// (`vmxsim stats list`, docs/stats.md). The dump is one flat JSON object, sorted.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
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
  /// What a stat is: its kind, unit (e.g. "cycles", "accesses", "pages") and description.
  struct Info {
    std::string name;
    enum Kind { kCounter, kHistogram, kValue } kind;
    std::string unit, description;
  };

  /// Register a counter that lives in a component; it must outlive the dump.
  void counter(const std::string& name, const std::uint64_t* p, const std::string& unit,
               const std::string& description) {
    add(name, p, Info::kCounter, unit, description);
  }
  /// Register a histogram of values in `unit`: dumped as `<name>.count`,
  /// `.sum`, `.max` and one `<name>.<bucket label>` per non-empty bucket.
  void histogram(const std::string& name, const Histogram* h, const std::string& unit, const std::string& description) {
    if (!histograms_.emplace(name, h).second) throw Error("stat registered twice: " + name);
    info_.emplace(name, Info{name, Info::kHistogram, unit, description});
  }
  /// A value computed when the stats are read (ratios, study metrics, host time).
  void value(const std::string& name, std::function<double()> f, const std::string& unit,
             const std::string& description) {
    add(name, std::move(f), Info::kValue, unit, description);
  }
  /// An integer value computed when the stats are read.
  void value_u64(const std::string& name, std::function<std::uint64_t()> f, const std::string& unit,
                 const std::string& description) {
    add(name, std::move(f), Info::kValue, unit, description);
  }

  nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, v] : values_) {
      if (auto p = std::get_if<const std::uint64_t*>(&v)) j[name] = **p;
      else if (auto u = std::get_if<std::function<std::uint64_t()>>(&v)) j[name] = (*u)();
      else j[name] = std::get<std::function<double()>>(v)();
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
    if (auto u = std::get_if<std::function<std::uint64_t()>>(&it->second)) return double((*u)());
    return std::get<std::function<double()>>(it->second)();
  }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

  /// Every registered stat with its unit and description, sorted by name.
  std::vector<Info> schema() const {
    std::vector<Info> out;
    for (const auto& kv : info_) out.push_back(kv.second);
    return out;
  }

 private:
  using Source = std::variant<const std::uint64_t*, std::function<std::uint64_t()>, std::function<double()>>;
  void add(const std::string& name, Source v, Info::Kind k, const std::string& unit, const std::string& description) {
    if (unit.empty() || description.empty()) throw Error("stat " + name + " registered without a unit or description");
    if (!values_.emplace(name, std::move(v)).second) throw Error("stat registered twice: " + name);
    info_.emplace(name, Info{name, k, unit, description});
  }
  std::map<std::string, Source> values_;
  std::map<std::string, const Histogram*> histograms_;
  std::map<std::string, Info> info_;
};

}  // namespace vmxsim
