#include "sim/config.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vmxsim {

namespace {
const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "value";
  }
}

std::string join_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }
}  // namespace

ConfigTracker::ConfigTracker(json user, std::string source) : user_(std::move(user)), source_(std::move(source)) {
  if (!user_.is_object()) throw ConfigError(source_ + ": the config must be a JSON object, got " + type_name(user_));
}

void ConfigTracker::fail(const std::string& path, const std::string& msg, const json* value) const {
  const std::string o = override_message(path, msg, value);
  if (!o.empty()) throw ConfigError(o);
  throw ConfigError(source_ + ": " + path + ": " + msg + origin_note(path));
}

std::string ConfigTracker::override_message(const std::string& path, const std::string& msg, const json* value) const {
  const ConfigOrigin* o = origins_.override_of(path);
  if (!o) return "";
  // The label already shows the key it set; a key below it (an override of a
  // whole object or list) is named too.
  std::string m = o->label + ": " + (o->key == path ? "" : path + ": ") + msg;
  // "expected 1 to 512" says what was wanted: say what was given as well,
  // unless the message already does. (File messages keep their texts.)
  const bool says_value = msg.find("got ") != std::string::npos || msg.find("found ") != std::string::npos;
  if (value && msg.compare(0, 8, "expected") == 0 && !says_value) m += ", got " + value->dump();
  return m;
}

std::string ConfigTracker::origin_note(const std::string& path) const {
  const std::string file = origins_.of(path);
  if (file.empty() || file == source_) return "";
  return " (from included file " + file + ")";
}

void ConfigTracker::check_unknown() const { check_node(user_, ""); }

void ConfigTracker::check_node(const json& node, const std::string& path) const {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string p = join_path(path, it.key());
      if (!used_.count(p)) {
        std::string known;
        const std::string prefix = path.empty() ? "" : path + ".";
        for (const auto& u : used_) {
          if (u.compare(0, prefix.size(), prefix) != 0) continue;
          std::string rest = u.substr(prefix.size());
          if (rest.empty() || rest.find('.') != std::string::npos || rest.find('[') != std::string::npos) continue;
          known += (known.empty() ? "" : ", ") + rest;
        }
        const std::string what = "unknown key '" + p + "'" + (known.empty() ? "" : " (known keys here: " + known + ")");
        if (const ConfigOrigin* o = origins_.override_of(p)) throw ConfigError(o->label + ": " + what);
        throw ConfigError(source_ + ": " + what + origin_note(p));
      }
      check_node(it.value(), p);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (node[i].is_object()) check_node(node[i], path + "[" + std::to_string(i) + "]");
    }
  }
}

Cfg::Cfg(ConfigTracker& t) : Cfg(&t, &t.user(), "", json::json_pointer()) {}

Cfg Cfg::detached() {
  static ConfigTracker defaults(json::object(), "(defaults)");
  return Cfg(&defaults, nullptr, "", json::json_pointer());
}

Cfg::Cfg(ConfigTracker* t, const json* node, std::string path, json::json_pointer ptr)
    : t_(t), node_(node), path_(std::move(path)), ptr_(std::move(ptr)) {}

std::string Cfg::path(const std::string& key) const { return join_path(path_, key); }

void Cfg::fail(const std::string& key, const std::string& msg) const {
  const json* v = nullptr;
  if (node_) {
    auto it = node_->find(key);
    if (it != node_->end()) v = &*it;
  }
  t_->fail(path(key), msg, v);
}

const json* Cfg::find(const std::string& key) const {
  t_->mark(path(key));
  if (!node_) return nullptr;
  auto it = node_->find(key);
  if (it == node_->end()) return nullptr;
  return &*it;
}

bool Cfg::has(const std::string& key) const { return node_ && node_->contains(key); }

void Cfg::record(const std::string& key, const json& v) const { t_->record(ptr_ / key, v); }

Cfg Cfg::section(const std::string& key) const {
  const json* v = find(key);
  if (v && !v->is_object()) fail(key, std::string("expected an object, got ") + type_name(*v));
  t_->record_container(ptr_ / key, json::object());
  return Cfg(t_, v, path(key), ptr_ / key);
}

std::vector<Cfg> Cfg::list(const std::string& key, const json& def) const {
  const json* v = find(key);
  // A default list is read like a user one, but it is not the user's, so its
  // keys are never "unknown"; we keep it alive in a tracker-owned copy.
  const json* src = v ? v : t_->own(def);
  if (!src->is_array()) fail(key, std::string("expected an array of objects, got ") + type_name(*src));
  std::vector<Cfg> out;
  t_->record_container(ptr_ / key, json::array());
  for (std::size_t i = 0; i < src->size(); ++i) {
    const json& e = (*src)[i];
    const std::string p = path(key) + "[" + std::to_string(i) + "]";
    if (!e.is_object()) t_->fail(p, std::string("expected an object, got ") + type_name(e), &e);
    t_->record_container(ptr_ / key / i, json::object());
    out.push_back(Cfg(t_, &e, p, ptr_ / key / i));
  }
  return out;
}

std::vector<std::string> Cfg::user_keys() const {
  std::vector<std::string> out;
  if (node_)
    for (auto it = node_->begin(); it != node_->end(); ++it) out.push_back(it.key());
  return out;
}

std::uint64_t Cfg::u64(const std::string& key, std::uint64_t def) const {
  const json* v = find(key);
  std::uint64_t r = def;
  if (v) {
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0)) r = v->get<std::uint64_t>();
    else if (v->is_number_integer()) fail(key, "expected a non-negative integer, got " + v->dump());
    else fail(key, std::string("expected a non-negative integer, got ") + type_name(*v) + " " + v->dump());
  }
  record(key, r);
  return r;
}

double Cfg::f64(const std::string& key, double def) const {
  const json* v = find(key);
  double r = def;
  if (v) {
    if (v->is_number()) r = v->get<double>();
    else fail(key, std::string("expected a number, got ") + type_name(*v) + " " + v->dump());
  }
  record(key, r);
  return r;
}

bool Cfg::boolean(const std::string& key, bool def) const {
  const json* v = find(key);
  bool r = def;
  if (v) {
    if (v->is_boolean()) r = v->get<bool>();
    else fail(key, std::string("expected true or false, got ") + type_name(*v) + " " + v->dump());
  }
  record(key, r);
  return r;
}

std::string Cfg::str(const std::string& key, const std::string& def) const {
  const json* v = find(key);
  std::string r = def;
  if (v) {
    if (v->is_string()) r = v->get<std::string>();
    else fail(key, std::string("expected a string, got ") + type_name(*v) + " " + v->dump());
  }
  record(key, r);
  return r;
}

std::string Cfg::choice(const std::string& key, const std::string& def, const std::vector<std::string>& options) const {
  std::string r = str(key, def);
  for (const auto& o : options)
    if (o == r) return r;
  std::string all;
  for (const auto& o : options) all += (all.empty() ? "" : ", ") + o;
  fail(key, "expected one of " + all + ", got \"" + r + "\"");
}

std::uint64_t Cfg::bytes(const std::string& key, std::uint64_t def) const {
  const json* v = find(key);
  std::uint64_t r = def;
  if (v) {
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0)) r = v->get<std::uint64_t>();
    else if (!v->is_string() || !parse_bytes(v->get<std::string>(), r))
      fail(key,
           "expected a byte count (a non-negative integer, or a string such as "
           "\"0x1000\", \"16MiB\", \"1GiB\"), got " +
               v->dump());
  }
  record(key, r);
  return r;
}

std::vector<std::string> Cfg::str_list(const std::string& key, const std::vector<std::string>& def) const {
  const json* v = find(key);
  std::vector<std::string> r = def;
  if (v) {
    if (!v->is_array()) fail(key, std::string("expected an array of strings, got ") + type_name(*v));
    r.clear();
    for (const auto& e : *v) {
      if (!e.is_string()) fail(key, "expected an array of strings, found " + e.dump());
      r.push_back(e.get<std::string>());
    }
  }
  record(key, r);
  return r;
}

bool parse_bytes(const std::string& text, std::uint64_t& out) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '_') s += c;
  if (s.empty()) return false;
  try {
    std::size_t pos = 0;
    std::uint64_t n;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      n = std::stoull(s.substr(2), &pos, 16);
      pos += 2;
    } else {
      if (!std::isdigit(static_cast<unsigned char>(s[0]))) return false;
      n = std::stoull(s, &pos, 10);
    }
    std::string suf = s.substr(pos);
    for (auto& c : suf) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    unsigned shift = 0;
    if (suf.empty() || suf == "B") shift = 0;
    else if (suf == "K" || suf == "KB" || suf == "KIB") shift = 10;
    else if (suf == "M" || suf == "MB" || suf == "MIB") shift = 20;
    else if (suf == "G" || suf == "GB" || suf == "GIB") shift = 30;
    else if (suf == "T" || suf == "TB" || suf == "TIB") shift = 40;
    else return false;
    if (shift && (n >> (64 - shift)) != 0) return false;  // overflow
    out = n << shift;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

json load_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line L, column C: ..."
    std::string w = e.what();
    auto p = w.find("] ");
    throw ConfigError(path + ": " + (p == std::string::npos ? w : w.substr(p + 2)));
  }
}

// ---- ConfigOrigins ---------------------------------------------------------

namespace {
bool is_under(const std::string& key, const std::string& path) {
  if (path.empty()) return true;
  if (key.compare(0, path.size(), path) != 0) return false;
  return key.size() == path.size() || key[path.size()] == '.' || key[path.size()] == '[';
}
}  // namespace

void ConfigOrigins::erase_under(const std::string& path) {
  for (auto it = by_path_.lower_bound(path); it != by_path_.end();) {
    if (it->first.compare(0, path.size(), path) != 0) break;  // past every key starting with path
    if (is_under(it->first, path)) it = by_path_.erase(it);
    else ++it;
  }
}

void ConfigOrigins::assign(const std::string& path, const std::string& file) {
  erase_under(path);
  by_path_[path] = ConfigOrigin{file, "", ""};
}

void ConfigOrigins::assign_override(const std::string& key, const std::string& label) {
  erase_under(key);
  by_path_[key] = ConfigOrigin{"", label, key};
}

void ConfigOrigins::replace_under(const std::string& path, const ConfigOrigins& from) {
  erase_under(path);
  for (auto it = from.by_path_.lower_bound(path); it != from.by_path_.end(); ++it) {
    if (it->first.compare(0, path.size(), path) != 0) break;
    if (is_under(it->first, path)) by_path_.insert(*it);
  }
}

std::string ConfigOrigins::of(const std::string& path) const {
  auto it = by_path_.find(path);
  if (it != by_path_.end()) return it->second.file;
  for (it = by_path_.lower_bound(path); it != by_path_.end(); ++it) {
    if (it->first.compare(0, path.size(), path) != 0) break;
    if (is_under(it->first, path)) return it->second.file;
  }
  std::string p = path;
  while (!p.empty()) {
    const auto cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
    it = by_path_.find(p);
    if (it != by_path_.end()) return it->second.file;
  }
  return "";
}

const ConfigOrigin* ConfigOrigins::override_of(const std::string& path) const {
  // Only the key itself or an ancestor: a section holding an overridden key
  // also holds the file's keys, so an error about it is not the override's.
  std::string p = path;
  while (true) {
    auto it = by_path_.find(p);
    if (it != by_path_.end()) return it->second.file.empty() && !it->second.label.empty() ? &it->second : nullptr;
    if (p.empty()) return nullptr;
    const auto cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

// ---- load_config_file --------------------------------------------------------

namespace {
namespace fs = std::filesystem;

// A file's identity for cycle detection: its canonical path (symlinks and
// ".." resolved), or failing that its normalised absolute path.
std::string file_id(const fs::path& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(p, ec);
  if (!ec) return c.string();
  const fs::path a = fs::absolute(p, ec);
  return (ec ? p : a).lexically_normal().string();
}

// Records every leaf of `node` (a non-object, or an empty object) as coming from `file`.
void record_leaves(const json& node, const std::string& path, const std::string& file, ConfigOrigins& o) {
  if (node.is_object() && !node.empty()) {
    for (auto it = node.begin(); it != node.end(); ++it) record_leaves(it.value(), join_path(path, it.key()), file, o);
  } else {
    o.assign(path, file);
  }
}

// Deep merge of `over` into `base`: objects merge key by key, anything else replaces.
void deep_merge(json& base, ConfigOrigins& base_o, const json& over, const ConfigOrigins& over_o,
                const std::string& path) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string p = join_path(path, it.key());
    auto b = base.find(it.key());
    if (b != base.end() && b->is_object() && it.value().is_object()) {
      deep_merge(*b, base_o, it.value(), over_o, p);
    } else {
      base[it.key()] = it.value();
      base_o.replace_under(p, over_o);
    }
  }
}

class IncludeLoader {
 public:
  struct Loaded {
    json doc;
    ConfigOrigins origins;
  };

  // `shown`: the file's path for messages; `id`: its canonical path (cycles).
  Loaded load(const std::string& shown, const std::string& id) {
    chain_.push_back({shown, id});
    Loaded out;
    json doc;
    try {
      doc = load_json_file(shown);
    } catch (const ConfigError& e) {
      throw ConfigError(e.what() + chain_note());
    }
    if (!doc.is_object()) {
      // The top file's type is checked (and named) by ConfigTracker.
      if (chain_.size() == 1) {
        out.doc = std::move(doc);
        chain_.pop_back();
        return out;
      }
      throw ConfigError(shown + ": an included config must be a JSON object, got " + type_name(doc) + chain_note());
    }
    out.doc = json::object();
    auto inc = doc.find("include");
    if (inc != doc.end()) {
      for (const auto& [written, where] : include_list(*inc)) {
        Loaded sub = load_include(written, where);
        deep_merge(out.doc, out.origins, sub.doc, sub.origins, "");
      }
      doc.erase("include");
    }
    ConfigOrigins own;
    record_leaves(doc, "", shown, own);
    deep_merge(out.doc, out.origins, doc, own, "");
    chain_.pop_back();
    return out;
  }

 private:
  struct File {
    std::string shown, id;
  };

  // " (include chain: a -> b -> c)" when the current file is an included one.
  std::string chain_note() const {
    if (chain_.size() < 2) return "";
    std::string s;
    for (const auto& f : chain_) s += (s.empty() ? "" : " -> ") + f.shown;
    return " (include chain: " + s + ")";
  }

  // The paths of an "include" value with the key each was written at.
  std::vector<std::pair<std::string, std::string>> include_list(const json& v) const {
    const std::string& file = chain_.back().shown;
    std::vector<std::pair<std::string, std::string>> out;
    auto one = [&](const json& e, const std::string& key) {
      if (!e.is_string())
        throw ConfigError(file + ": " + key + ": expected a config file path (a string), got " + type_name(e) + " " +
                          e.dump() + chain_note());
      if (e.get<std::string>().empty())
        throw ConfigError(file + ": " + key + ": expected a config file path, got an empty string" + chain_note());
      out.emplace_back(e.get<std::string>(), key);
    };
    if (v.is_string()) {
      one(v, "include");
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) one(v[i], "include[" + std::to_string(i) + "]");
    } else {
      throw ConfigError(file + ": include: expected a config file path or a list of them, got " + type_name(v) + " " +
                        v.dump() + chain_note());
    }
    return out;
  }

  Loaded load_include(const std::string& written, const std::string& key) {
    const std::string& from = chain_.back().shown;
    const fs::path raw = fs::path(written).is_absolute() ? fs::path(written) : fs::path(from).parent_path() / written;
    const std::string shown = raw.lexically_normal().string();
    const std::string what = from + ": " + key + " \"" + written + "\": ";
    {
      std::ifstream in(raw);
      if (!in) throw ConfigError(what + "cannot open config file " + shown + chain_note());
    }
    const std::string id = file_id(raw);
    for (std::size_t i = 0; i < chain_.size(); ++i) {
      if (chain_[i].id != id) continue;
      std::string cycle;
      for (std::size_t j = i; j < chain_.size(); ++j) cycle += chain_[j].shown + " -> ";
      throw ConfigError(what + "include cycle: " + cycle + shown);
    }
    return load(shown, id);
  }

  std::vector<File> chain_;
};
}  // namespace

json load_config_file(const std::string& path, ConfigOrigins* origins) {
  IncludeLoader loader;
  IncludeLoader::Loaded r = loader.load(path, file_id(path));
  if (origins) *origins = std::move(r.origins);
  return std::move(r.doc);
}

void check_override_syntax(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw OverrideSyntaxError("--set " + assignment + ": expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  if (key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
    throw OverrideSyntaxError("--set " + assignment + ": empty key component");
}

void apply_override(json& doc, const std::string& assignment) {
  check_override_syntax(assignment);
  const auto eq = assignment.find('=');
  std::string key = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;  // not JSON: a plain string
  }
  json* node = &doc;
  std::size_t start = 0;
  while (true) {
    auto dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw OverrideSyntaxError("--set " + assignment + ": empty key component");
    if (!node->is_object()) {
      throw ConfigError("--set " + assignment + ": '" + key.substr(0, start ? start - 1 : 0) + "' is not an object");
    }
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

}  // namespace vmxsim
