#include "sim/app/sweep/results.hpp"

#include <fnmatch.h>
#include <limits.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

namespace vmxsim::sweep {

namespace fs = std::filesystem;

namespace {

// Shards finishing together may each rebuild the tables a few times; past
// this many rounds something keeps rewriting records, and we stop (the next
// shard run to finish rebuilds them anyway).
constexpr int kMaxTableRebuilds = 8;

std::string hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf) != 0) return "host";
  buf[HOST_NAME_MAX] = '\0';
  return buf;
}

// A parameter's value in a CSV cell: strings bare, anything else as JSON.
std::string cell(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::string temp_path(const std::string& path) { return path + ".tmp." + hostname() + "." + std::to_string(getpid()); }

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = temp_path(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write (via " + tmp + ")");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it: " + std::strerror(err));
  }
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

OutDir::OutDir(std::string dir, std::string fingerprint) : dir_(std::move(dir)), fingerprint_(std::move(fingerprint)) {}

std::string OutDir::record_path(const Point& p) const { return dir_ + "/points/" + p.id + ".json"; }
std::string OutDir::log_path(const Point& p) const { return dir_ + "/points/" + p.id + ".log"; }

void OutDir::create() const {
  std::error_code ec;
  fs::create_directories(dir_ + "/points", ec);
  if (ec) throw Error(dir_ + ": cannot create the sweep's output folder: " + ec.message());
}

std::optional<json> OutDir::read(const Point& p) const {
  std::ifstream in(record_path(p), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  const json rec = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!rec.is_object() || rec.value("id", "") != p.id || rec.value("base_fingerprint", "") != fingerprint_)
    return std::nullopt;
  return rec;
}

bool OutDir::complete(const Point& p) const {
  const auto rec = read(p);
  return rec && rec->value("status", "") == "ok";
}

void OutDir::write(const Point& p, const json& record) const { write_atomic(record_path(p), record.dump(2) + "\n"); }

std::size_t OutDir::write_tables(const Spec& spec, const std::vector<Point>& points, std::ostream& warn) const {
  const auto read_all = [&]() {
    std::vector<json> recs;
    for (const auto& p : points) recs.push_back(read(p).value_or(json()));
    return recs;
  };
  std::vector<json> recs = read_all();
  Tables t;
  for (int round = 0; round < kMaxTableRebuilds; ++round) {
    t = make_tables(spec, points, recs);
    write_atomic(dir_ + "/results.csv", t.csv);
    write_atomic(dir_ + "/results.jsonl", t.jsonl);
    std::vector<json> again = read_all();
    if (again == recs) break;
    recs = std::move(again);
  }
  for (const auto& u : t.unmatched)
    warn << "vmxsim sweep: warning: " << spec.path << ": stats: '" << u << "' matched no stat of any point\n";
  std::size_t n = 0;
  for (const auto& r : recs) n += !r.is_null();
  return n;
}

json make_record(const Spec& spec, const Point& p, const std::string& fingerprint, const Outcome& o) {
  json params = json::object();
  for (const auto& a : p.params) params[a.key] = a.value;
  return json{{"id", p.id},
              {"index", p.index},
              {"repeat", p.repeat},
              {"params", params},
              {"set", p.set_args(spec)},
              {"base", spec.base},
              {"base_fingerprint", fingerprint},
              {"status", o.ok ? "ok" : "failed"},
              {"exit_code", o.exit_code},
              {"error", o.error},
              {"host_seconds", o.seconds},
              {"stats", o.stats.is_null() ? json::object() : o.stats}};
}

Tables make_tables(const Spec& spec, const std::vector<Point>& points, const std::vector<json>& records) {
  std::set<std::string> names;  // every stat any record has, sorted
  bool any_stats = false;
  for (const auto& r : records) {
    if (!r.is_object() || !r.contains("stats")) continue;
    for (const auto& kv : r["stats"].items()) {
      names.insert(kv.key());
      any_stats = true;
    }
  }
  Tables t;
  std::vector<std::string> columns;
  std::set<std::string> chosen;
  const auto choose = [&](const std::string& n) {
    if (chosen.insert(n).second) columns.push_back(n);
  };
  if (spec.stats.empty()) {
    for (const auto& n : names) choose(n);
  } else {
    for (const auto& pat : spec.stats) {
      bool matched = false;
      if (!is_pattern(pat)) {
        choose(pat);  // a column even when no point has it yet
        matched = names.count(pat) > 0;
      } else {
        for (const auto& n : names)
          if (fnmatch(pat.c_str(), n.c_str(), 0) == 0) {
            choose(n);
            matched = true;
          }
      }
      if (!matched && any_stats) t.unmatched.push_back(pat);
    }
  }

  std::ostringstream csv, jsonl;
  csv << "point,id,repeat";
  for (const auto& k : spec.param_keys()) csv << "," << csv_field(k);
  csv << ",status,exit_code,error";
  for (const auto& c : columns) csv << "," << csv_field(c);
  csv << "\n";
  for (std::size_t i = 0; i < points.size(); ++i) {
    const json& r = records.at(i);
    if (!r.is_object()) continue;  // not run yet (or by a shard still running)
    const Point& p = points[i];
    const json stats = r.value("stats", json::object());
    csv << p.index << "," << p.id << "," << p.repeat;
    for (const auto& a : p.params) csv << "," << csv_field(cell(a.value));
    csv << "," << r.value("status", "") << "," << r.value("exit_code", 0) << "," << csv_field(r.value("error", ""));
    for (const auto& c : columns) csv << "," << (stats.contains(c) ? stats[c].dump() : "");
    csv << "\n";

    ordered_json line;
    line["point"] = p.index;
    line["id"] = p.id;
    line["repeat"] = p.repeat;
    line["params"] = ordered_json::object();
    for (const auto& a : p.params) line["params"][a.key] = a.value;
    line["status"] = r.value("status", "");
    line["exit_code"] = r.value("exit_code", 0);
    line["error"] = r.value("error", "");
    line["stats"] = stats;
    jsonl << line.dump() << "\n";
  }
  t.csv = csv.str();
  t.jsonl = jsonl.str();
  return t;
}

}  // namespace vmxsim::sweep
