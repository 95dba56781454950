#include "sim/app/stats_schema.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace vmxsim::sim {

namespace {

const char* kind_name(Stats::Info::Kind k) {
  switch (k) {
    case Stats::Info::kCounter: return "counter";
    case Stats::Info::kHistogram: return "histogram";
    case Stats::Info::kValue: return "value";
  }
  return "?";
}

bool is_vcpu_component(const std::string& c) {
  return c.size() > 4 && c.compare(0, 4, "vcpu") == 0 &&
         std::all_of(c.begin() + 4, c.end(), [](unsigned char ch) { return std::isdigit(ch); });
}

std::string escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string collapse_vcpu_index(const std::string& name) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = name.find('.', start);
    const std::string c = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    out += is_vcpu_component(c) ? "vcpu<N>" : c;
    if (dot == std::string::npos) return out;
    out += '.';
    start = dot + 1;
  }
}

std::vector<StatRow> stat_rows(const std::vector<Stats::Info>& schema) {
  std::map<std::string, StatRow> rows;  // by name: sorted, the first registration wins
  for (const Stats::Info& i : schema) {
    const std::string name = collapse_vcpu_index(i.name);
    const std::string kind = kind_name(i.kind);
    if (i.kind == Stats::Info::kHistogram) {
      // The keys Stats::to_json emits for a histogram (buckets only when non-empty).
      for (const char* key : {".count", ".sum", ".max", ".<bucket>"})
        rows.emplace(name + key, StatRow{name + key, kind, i.unit, i.description});
    } else {
      rows.emplace(name, StatRow{name, kind, i.unit, i.description});
    }
  }
  std::vector<StatRow> out;
  for (auto& kv : rows) out.push_back(std::move(kv.second));
  return out;
}

std::string rows_text(const std::vector<StatRow>& rows) {
  std::size_t wn = 4, wk = 4, wu = 4;  // at least the headers' widths
  for (const StatRow& r : rows) {
    wn = std::max(wn, r.name.size());
    wk = std::max(wk, r.kind.size());
    wu = std::max(wu, r.unit.size());
  }
  std::ostringstream o;
  const auto line = [&](const std::string& n, const std::string& k, const std::string& u, const std::string& d) {
    o << n << std::string(wn - n.size() + 2, ' ') << k << std::string(wk - k.size() + 2, ' ') << u
      << std::string(wu - u.size() + 2, ' ') << d << "\n";
  };
  line("NAME", "KIND", "UNIT", "DESCRIPTION");
  for (const StatRow& r : rows) line(r.name, r.kind, r.unit, r.description);
  return o.str();
}

std::string rows_markdown(const std::vector<StatRow>& rows) {
  std::ostringstream o;
  o << "| stat | kind | unit | description |\n|---|---|---|---|\n";
  for (const StatRow& r : rows)
    o << "| `" << r.name << "` | " << r.kind << " | " << escape_cell(r.unit) << " | " << escape_cell(r.description)
      << " |\n";
  return o.str();
}

std::string rows_json(const std::vector<StatRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const StatRow& r : rows)
    out.push_back({{"name", r.name}, {"kind", r.kind}, {"unit", r.unit}, {"description", r.description}});
  return out.dump(2) + "\n";
}

}  // namespace vmxsim::sim
