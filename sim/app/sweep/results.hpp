// The sweep's output folder: one result file per point (the unit of
// resumption and of sharding), and the tables rebuilt from them.
//
//   OUT/points/ID.json   a point's record: status, error, every stat
//   OUT/points/ID.log    the point's stdout and stderr
//   OUT/results.csv      a row per recorded point: parameters, status, chosen stats
//   OUT/results.jsonl    a line per recorded point, with every stat
//   OUT/spec.json, OUT/base_config.json   provenance
//
// Every file is written to a temp name and renamed, so a reader (another
// shard, on a shared file system) sees a whole file or none.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/app/sweep/spec.hpp"

namespace vmxsim::sweep {

/// Writes `text` to `path` atomically: a temp file unique to this host and
/// process in the same folder, then rename. Throws Error on failure.
void write_atomic(const std::string& path, const std::string& text);

/// A temp path next to `path`, unique to this host and process.
std::string temp_path(const std::string& path);

class OutDir {
 public:
  /// `fingerprint` identifies the base config with the spec's fixed "set"
  /// (a hash of the effective config): records made from another are stale.
  OutDir(std::string dir, std::string fingerprint);

  const std::string& dir() const { return dir_; }
  std::string record_path(const Point& p) const;
  std::string log_path(const Point& p) const;

  /// Creates the folders. Throws Error when they cannot be made.
  void create() const;
  /// The point's record, if one exists for this point and base config (a
  /// stale or unreadable record counts as absent).
  std::optional<json> read(const Point& p) const;
  /// Whether the point has a successful record: it is not run again.
  bool complete(const Point& p) const;
  void write(const Point& p, const json& record) const;

  /// Rewrites results.csv and results.jsonl from every recorded point of
  /// `points`, until the set of records read stays the same across a write
  /// (so, of shards finishing together, the last write covers every record).
  /// Returns how many points have a record. Warns on `warn` about stat
  /// patterns that matched nothing.
  std::size_t write_tables(const Spec& spec, const std::vector<Point>& points, std::ostream& warn) const;

 private:
  std::string dir_, fingerprint_;
};

/// How a point's run ended.
struct Outcome {
  bool ok = false;
  int exit_code = 0;   // as a shell reports it (128 + signal when killed)
  std::string error;   // empty when ok: e.g. "exit 1: <last stderr line>"
  json stats;          // the stats file, null when none was written
  double seconds = 0;  // host wall time
};
/// A point's record.
json make_record(const Spec& spec, const Point& p, const std::string& fingerprint, const Outcome& o);

/// The CSV and JSON-lines texts for `records` (one per point, same order;
/// null for a point without a record). Pure: unit-tested.
struct Tables {
  std::string csv, jsonl;
  std::vector<std::string> unmatched;  // stat patterns that matched no stat
};
Tables make_tables(const Spec& spec, const std::vector<Point>& points, const std::vector<json>& records);

/// One CSV field, quoted when it needs to be (RFC 4180).
std::string csv_field(const std::string& text);

}  // namespace vmxsim::sweep
