// A sweep spec (docs/sweep.md) and the points it names. Pure functions: no
// files are written and no processes run here, so the point list is unit-tested
// on its own and every shard of a study computes the same list.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/error.hpp"

namespace vmxsim::sweep {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

class SpecError : public Error {
 public:
  using Error::Error;
};

/// One config override, applied as `--set key=<value as JSON>`.
struct Assignment {
  std::string key;
  json value;
  std::string arg() const { return key + "=" + value.dump(); }
};

/// A parameter and the values it takes, in the spec's order.
using Axis = std::pair<std::string, std::vector<json>>;

/// The seeds a repeat shifts by default: every seed the model reads, so that
/// repeats are independent samples whatever the workload and replacement policy.
inline const std::vector<std::string> kDefaultRepeatKeys = {"workload.generator.seed", "guest.seed", "sim.seed"};

struct Spec {
  std::string path;               // the spec file, as given
  std::string name;               // "name", else the file name without ".json"
  std::string base;               // the base config, resolved against the spec's folder
  std::vector<Axis> grid;         // Cartesian product; the first key varies slowest
  std::vector<Axis> zip;          // stepped together; one step per grid combination's inner loop
  std::vector<Assignment> fixed;  // "set": applied to every point, before the parameters
  unsigned repeat = 1;
  std::vector<std::string> repeat_keys = kDefaultRepeatKeys;
  std::vector<std::string> stats;  // CSV stat columns (names or glob patterns); empty: every stat
  /// The parameters' keys in column order: grid keys, then zip keys.
  std::vector<std::string> param_keys() const;
};

/// Parses a spec document. `path` names it in errors and anchors a relative
/// "base". Throws SpecError naming the file and key path.
Spec parse_spec(const ordered_json& doc, const std::string& path);
/// Reads and parses the spec file `path` (comments allowed, as in configs).
Spec load_spec(const std::string& path);

struct Point {
  std::size_t index = 0;  // position in the spec's point list
  unsigned repeat = 0;
  std::vector<Assignment> params;  // one per Spec::param_keys(), same order
  std::vector<Assignment> seeds;   // the repeat's seed shifts (none for repeat 0)
  std::string id;                  // stable: a hash of the parameter values (by key) and the repeat index
  /// Every --set of this point: the spec's fixed ones, the parameters, the seeds.
  std::vector<std::string> set_args(const Spec& spec) const;
};

/// The spec's points, in a fixed order: grid combinations (first key slowest),
/// within each the zip steps, within each the repeats. `base_effective` is the
/// base config with the spec's "set" applied, every default filled (`vmxsim
/// config show`): repeat r > 0 sets each repeat key present there, and not
/// varied by the spec, to its value there + r.
std::vector<Point> expand(const Spec& spec, const json& base_effective);

/// Which points a process runs: those with index % count == index.
struct Shard {
  unsigned index = 0, count = 1;
  bool has(std::size_t point) const { return point % count == index; }
};
/// Parses "i/n" with 0 <= i < n; throws SpecError otherwise.
Shard parse_shard(const std::string& text);

/// 64-bit FNV-1a of `text`, mixed by SplitMix64's finaliser, as 16 hex
/// digits: identities that are the same on every host and build (std::hash
/// promises neither).
std::string stable_hash(const std::string& text);

}  // namespace vmxsim::sweep
