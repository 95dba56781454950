#include "sim/app/sweep/spec.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "sim/hash.hpp"

namespace vmxsim::sweep {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

const std::vector<std::string> kSpecKeys = {"name", "base", "grid", "zip", "set", "repeat", "repeat_keys", "stats"};

const char* type_name(const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::null: return "null";
    case ordered_json::value_t::object: return "object";
    case ordered_json::value_t::array: return "array";
    case ordered_json::value_t::string: return "string";
    case ordered_json::value_t::boolean: return "boolean";
    case ordered_json::value_t::number_integer:
    case ordered_json::value_t::number_unsigned: return "integer";
    case ordered_json::value_t::number_float: return "number";
    default: return "value";
  }
}

// Errors read "SPEC: key.path: message".
struct Reader {
  const std::string& path;
  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    throw SpecError(path + ": " + key + ": " + msg);
  }
  void expect(bool ok, const std::string& key, const std::string& what, const ordered_json& got) const {
    if (!ok) fail(key, "expected " + what + ", got " + type_name(got) + " " + got.dump());
  }
  // A config key as --set takes it: dotted, no empty component, no '='.
  void check_config_key(const std::string& where, const std::string& key) const {
    bool ok = !key.empty() && key.find('=') == std::string::npos && key.front() != '.' && key.back() != '.' &&
              key.find("..") == std::string::npos;
    if (!ok) fail(where, "'" + key + "' is not a config key path (expected e.g. \"hv.dirty_log.mode\")");
  }
  std::string string(const ordered_json& v, const std::string& key) const {
    expect(v.is_string(), key, "a string", v);
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const ordered_json& v, const std::string& key) const {
    expect(v.is_array(), key, "an array of strings", v);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], key + "[" + std::to_string(i) + "]"));
    return out;
  }
  // An object of config key -> non-empty array of values.
  std::vector<Axis> axes(const ordered_json& v, const std::string& key) const {
    expect(v.is_object(), key, "an object of config key -> array of values", v);
    std::vector<Axis> out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string k = key + "." + it.key();
      check_config_key(k, it.key());
      expect(it.value().is_array(), k, "an array of values", it.value());
      if (it.value().empty()) fail(k, "the list of values is empty (a parameter needs at least one)");
      std::vector<json> values;
      for (const auto& e : it.value()) values.push_back(json::parse(e.dump()));  // unordered: canonical dumps
      out.emplace_back(it.key(), std::move(values));
    }
    return out;
  }
};

}  // namespace

std::vector<std::string> Spec::param_keys() const {
  std::vector<std::string> keys;
  for (const auto& a : grid) keys.push_back(a.first);
  for (const auto& a : zip) keys.push_back(a.first);
  return keys;
}

Spec parse_spec(const ordered_json& doc, const std::string& path) {
  const Reader r{path};
  if (!doc.is_object()) throw SpecError(path + ": a sweep spec must be a JSON object, got " + type_name(doc));
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool known = false;
    for (const auto& k : kSpecKeys) known = known || k == it.key();
    if (!known) {
      std::string all;
      for (const auto& k : kSpecKeys) all += (all.empty() ? "" : ", ") + k;
      throw SpecError(path + ": unknown key '" + it.key() + "' (known keys: " + all + ")");
    }
  }
  Spec s;
  s.path = path;
  const fs::path file(path);
  s.name = doc.contains("name") ? r.string(doc["name"], "name") : file.stem().string();
  if (s.name.empty() || s.name.find('/') != std::string::npos)
    r.fail("name", "expected a non-empty name without '/', got \"" + s.name + "\"");
  if (!doc.contains("base")) throw SpecError(path + ": missing key 'base' (the config file every point starts from)");
  const fs::path base = r.string(doc["base"], "base");
  s.base = (base.is_absolute() ? base : file.parent_path() / base).lexically_normal().string();
  if (doc.contains("grid")) s.grid = r.axes(doc["grid"], "grid");
  if (doc.contains("zip")) {
    s.zip = r.axes(doc["zip"], "zip");
    for (const auto& a : s.zip)
      if (a.second.size() != s.zip.front().second.size())
        r.fail("zip." + a.first, "has " + std::to_string(a.second.size()) + " values but zip." + s.zip.front().first +
                                     " has " + std::to_string(s.zip.front().second.size()) +
                                     " (zipped lists step together, so their lengths must be equal)");
  }
  if (doc.contains("set")) {
    const ordered_json& set = doc["set"];
    r.expect(set.is_object(), "set", "an object of config key -> value", set);
    for (auto it = set.begin(); it != set.end(); ++it) {
      r.check_config_key("set." + it.key(), it.key());
      s.fixed.push_back({it.key(), json::parse(it.value().dump())});
    }
  }
  // A key given twice would make one of its values silently win.
  std::set<std::string> seen;
  const auto claim = [&](const std::string& section, const std::string& key) {
    if (!seen.insert(key).second)
      r.fail(section + "." + key, "this key is given more than once across grid, zip and set");
  };
  for (const auto& a : s.grid) claim("grid", a.first);
  for (const auto& a : s.zip) claim("zip", a.first);
  for (const auto& a : s.fixed) claim("set", a.key);
  if (doc.contains("repeat")) {
    const ordered_json& v = doc["repeat"];
    const bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() > 0);
    r.expect(ok && v.get<std::uint64_t>() >= 1 && v.get<std::uint64_t>() <= std::numeric_limits<unsigned>::max(),
             "repeat", "a positive integer", v);
    s.repeat = v.get<unsigned>();
  }
  if (doc.contains("repeat_keys")) {
    s.repeat_keys = r.strings(doc["repeat_keys"], "repeat_keys");
    for (std::size_t i = 0; i < s.repeat_keys.size(); ++i)
      r.check_config_key("repeat_keys[" + std::to_string(i) + "]", s.repeat_keys[i]);
  }
  if (doc.contains("stats")) {
    s.stats = r.strings(doc["stats"], "stats");
    if (s.stats.empty()) r.fail("stats", "the list is empty (leave the key out to get every stat)");
  }
  return s;
}

Spec load_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SpecError(path + ": cannot open sweep spec");
  std::stringstream ss;
  ss << in.rdbuf();
  ordered_json doc;
  try {
    doc = ordered_json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const ordered_json::parse_error& e) {
    const std::string w = e.what();  // "[json.exception.parse_error.101] parse error at line L, column C: ..."
    const auto p = w.find("] ");
    throw SpecError(path + ": " + (p == std::string::npos ? w : w.substr(p + 2)));
  }
  return parse_spec(doc, path);
}

std::vector<std::string> Point::set_args(const Spec& spec) const {
  std::vector<std::string> out;
  for (const auto* list : {&spec.fixed, &params, &seeds})
    for (const auto& a : *list) out.push_back(a.arg());
  return out;
}

std::vector<Point> expand(const Spec& spec, const json& base_effective) {
  std::set<std::string> varied;
  for (const auto& k : spec.param_keys()) varied.insert(k);
  // Seeds the repeats shift: present in the effective config (so read by the
  // model) as integers, and not a parameter of the spec.
  std::vector<std::pair<std::string, std::uint64_t>> seed_bases;
  for (const auto& key : spec.repeat_keys) {
    if (varied.count(key)) continue;
    std::string ptr = "/" + key;
    for (auto& c : ptr) c = c == '.' ? '/' : c;
    const json::json_pointer p(ptr);
    if (!base_effective.contains(p)) continue;
    const json& v = base_effective.at(p);
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0))
      seed_bases.emplace_back(key, v.get<std::uint64_t>());
  }

  const std::size_t zip_steps = spec.zip.empty() ? 1 : spec.zip.front().second.size();
  std::size_t grid_points = 1;
  for (const auto& a : spec.grid) grid_points *= a.second.size();

  std::vector<Point> points;
  for (std::size_t g = 0; g < grid_points; ++g) {
    // Decode g as a mixed-radix number, the last grid key the fastest digit.
    std::vector<std::size_t> digit(spec.grid.size());
    std::size_t rest = g;
    for (std::size_t k = spec.grid.size(); k-- > 0;) {
      digit[k] = rest % spec.grid[k].second.size();
      rest /= spec.grid[k].second.size();
    }
    for (std::size_t z = 0; z < zip_steps; ++z) {
      for (unsigned r = 0; r < spec.repeat; ++r) {
        Point p;
        p.index = points.size();
        p.repeat = r;
        for (std::size_t k = 0; k < spec.grid.size(); ++k)
          p.params.push_back({spec.grid[k].first, spec.grid[k].second[digit[k]]});
        for (const auto& a : spec.zip) p.params.push_back({a.first, a.second[z]});
        if (r > 0)
          for (const auto& [key, base] : seed_bases) p.seeds.push_back({key, base + r});
        // By key, not by spec order: reordering the spec's keys keeps identities.
        json identity = json::object();
        for (const auto& a : p.params) identity["params"][a.key] = a.value;
        identity["repeat"] = r;
        p.id = stable_hash(identity.dump());
        points.push_back(std::move(p));
      }
    }
  }
  return points;
}

Shard parse_shard(const std::string& text) {
  const auto bad = [&]() { return SpecError("--shard " + text + ": expected i/n with 0 <= i < n, e.g. 0/4"); };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad();
  const auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > std::numeric_limits<unsigned>::digits10) throw bad();
    for (char c : s)
      if (c < '0' || c > '9') throw bad();
    return static_cast<unsigned>(std::stoul(s));
  };
  Shard sh{number(text.substr(0, slash)), number(text.substr(slash + 1))};
  if (sh.count == 0 || sh.index >= sh.count) throw bad();
  return sh;
}

std::string stable_hash(const std::string& text) {
  std::uint64_t h = kFnvOffsetBasis;
  for (unsigned char c : text) {
    h ^= c;
    h *= kFnvPrime;
  }
  h = mix64(h);  // FNV's last bytes barely reach its high bits: similar texts would get similar ids
  static const char* kHex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kHex[h & 0xf];
  return out;
}

}  // namespace vmxsim::sweep
