// Configuration: one JSON document; each component reads its own section with
// defaults written beside its code. Every read is recorded, which gives us
//  - the effective config (`vmxsim config show`): every key read, with the value used;
//  - unknown-key detection: a key the user wrote that no component read is an error
//    naming its full path (and the keys that are known at that level).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/error.hpp"

namespace vmxsim {

using json = nlohmann::json;

class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Where one value of a merged config came from: a file, or an override given
/// outside any file (a `--set`, a sweep point's parameter). Errors about a
/// value blame its origin, so a bad override is never reported as the file's.
struct ConfigOrigin {
  std::string file;   // the file that gave it; empty for an override
  std::string label;  // an override's name in messages ("--set cpu.vcpus=600"); may be empty
  std::string key;    // the dotted key the override set ("cpu.vcpus")
};

/// Which file or override each key of a merged config came from (see
/// load_config_file), for messages. Keys are dotted paths as in messages
/// ("tlb.l1.hit_cycles"); values are recorded at their leaves (a list is one
/// leaf).
class ConfigOrigins {
 public:
  /// `path` and everything below it now come from `file` (empty: an override
  /// with no name, reported as the document's).
  void assign(const std::string& path, const std::string& file);
  /// `key` and everything below it now come from the override `label`.
  void assign_override(const std::string& key, const std::string& label);
  /// `path` and everything below it now come from wherever `from` says they do.
  void replace_under(const std::string& path, const ConfigOrigins& from);
  /// The file that gave `path`: its own entry, else the entry of a key below
  /// it, else that of its nearest ancestor; "" when unknown or an override.
  std::string of(const std::string& path) const;
  /// The named override that gave `path` (its own entry or its nearest
  /// ancestor's, never a key below it), or null when it came from a file.
  const ConfigOrigin* override_of(const std::string& path) const;

 private:
  void erase_under(const std::string& path);
  std::map<std::string, ConfigOrigin> by_path_;
};

/// Owns the user's document and what components have read from it.
class ConfigTracker {
 public:
  /// `source` names the document in messages (usually the file name).
  ConfigTracker(json user, std::string source);

  const json& user() const { return user_; }
  const json& effective() const { return effective_; }
  /// Where the document's keys came from (when it was merged from several
  /// files): errors about a key from an included file then name that file.
  void set_origins(ConfigOrigins o) { origins_ = std::move(o); }

  /// Throws ConfigError for the first key (in document order of a sorted walk)
  /// the user gave but no component read.
  void check_unknown() const;

  // Used by Cfg.
  void mark(const std::string& path) { used_.insert(path); }
  void record(const json::json_pointer& ptr, const json& v) { effective_[ptr] = v; }
  /// Records an empty object or list at `ptr` unless something is there: a
  /// section may be opened more than once (by several variants), and a later
  /// opening must not drop what earlier readers recorded under it.
  void record_container(const json::json_pointer& ptr, const json& empty) {
    if (!effective_.contains(ptr)) effective_[ptr] = empty;
  }
  /// Throws ConfigError "SOURCE: path: msg" for a value from a file, or
  /// "LABEL: msg, got VALUE" for one from a named override (see
  /// ConfigOrigin); `value` is the user's value at `path`, when there is one.
  [[noreturn]] void fail(const std::string& path, const std::string& msg, const json* value = nullptr) const;
  /// Keeps a default document alive for views into it (default lists).
  const json* own(json v) {
    owned_.push_back(std::make_unique<json>(std::move(v)));
    return owned_.back().get();
  }

 private:
  void check_node(const json& node, const std::string& path) const;
  /// " (from included file F)" when `path` came from a file other than `source`.
  std::string origin_note(const std::string& path) const;
  /// The message for `msg` about `path` when a named override gave it, else "".
  std::string override_message(const std::string& path, const std::string& msg, const json* value) const;
  json user_;
  json effective_ = json::object();
  std::string source_;
  ConfigOrigins origins_;
  std::set<std::string> used_;
  std::vector<std::unique_ptr<json>> owned_;
};

/// A view of one object in the config (which may be absent: then every read
/// returns its default). Cheap to copy.
class Cfg {
 public:
  Cfg(ConfigTracker& t);  // the root
  /// An absent section outside any document: every read returns its default.
  /// For building a variant in code (tests, benchmarks) with its defaults.
  static Cfg detached();

  Cfg section(const std::string& key) const;
  /// A list of objects (e.g. hv.memslots). `def` is used when the key is absent.
  std::vector<Cfg> list(const std::string& key, const json& def) const;
  /// The keys the user wrote in this object (for maps of named entries).
  std::vector<std::string> user_keys() const;
  bool has(const std::string& key) const;

  std::uint64_t u64(const std::string& key, std::uint64_t def) const;
  double f64(const std::string& key, double def) const;
  bool boolean(const std::string& key, bool def) const;
  std::string str(const std::string& key, const std::string& def) const;
  /// A string that must be one of `options`.
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& options) const;
  /// A byte count or address: a JSON number, or a string such as "0x1000",
  /// "16MiB", "4KiB", "1GiB", "2M".
  std::uint64_t bytes(const std::string& key, std::uint64_t def) const;
  /// A list of strings.
  std::vector<std::string> str_list(const std::string& key, const std::vector<std::string>& def) const;

  /// Full dotted path of `key` in this object, for messages.
  std::string path(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& msg) const;

 private:
  Cfg(ConfigTracker* t, const json* node, std::string path, json::json_pointer ptr);
  const json* find(const std::string& key) const;
  void record(const std::string& key, const json& v) const;
  ConfigTracker* t_;
  const json* node_;  // null when the user did not give this object
  std::string path_;  // dotted, "" at the root
  json::json_pointer ptr_;
};

/// Parse a byte count: number, "0x..", or a number with K/M/G/T[i][B] suffix.
/// Returns false when the text is not one.
bool parse_bytes(const std::string& text, std::uint64_t& out);

/// Load a JSON file; errors name the file, line and column.
json load_json_file(const std::string& path);

/// Load a config file and the files it includes. A top-level key "include"
/// (a path or a list of paths, relative to the including file's folder) names
/// other config files: each is loaded the same way (recursively) and they are
/// deep-merged in order, later over earlier, then the including file's own
/// keys over them. Deep merge: objects merge key by key; any other value (a
/// list too) replaces. The "include" keys are removed. Errors name the file
/// concerned and, for an included file, the include chain; an include cycle
/// is an error. When `origins` is given, it receives which file each key came
/// from (the top file under `path` as given).
json load_config_file(const std::string& path, ConfigOrigins* origins = nullptr);

/// An override that is not `key.path=value` at all (no '=', an empty key or
/// key component): a usage error, whatever the config says.
class OverrideSyntaxError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

/// Throws OverrideSyntaxError when `assignment` is not `key.path=value`.
void check_override_syntax(const std::string& assignment);

/// Apply one `--set a.b.c=value` override: the value parses as JSON, else it
/// is taken as a string. Intermediate objects are created. Throws
/// OverrideSyntaxError for a malformed assignment, ConfigError when the path
/// runs through a value that is not an object.
void apply_override(json& doc, const std::string& assignment);

}  // namespace vmxsim
