#include "traces/trace_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_set>

#include "traces/format.hpp"
#include "traces/trace_file.hpp"

namespace vmxsim::traces {

namespace {
constexpr std::size_t kBatch = 256;

std::string hex(Addr a) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(a));
  return buf;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
  return buf;
}
}  // namespace

TraceSummary summarize_trace(const std::string& path) {
  TraceSummary s;
  s.path = path;
  const TraceFormat& format = format_of(path);
  s.format = format.version;
  s.binary = format.binary;
  auto reader = open_records(path);
  s.declared_vcpus = reader->declared_vcpus();
  s.per_vcpu.assign(s.declared_vcpus, 0);
  std::unordered_set<Addr> pages;
  std::vector<Record> buf(kBatch);
  Addr lo = ~Addr{0}, hi = 0;
  while (const std::size_t n = reader->next(buf.data(), buf.size())) {
    for (std::size_t i = 0; i < n; ++i) {
      const Access& a = buf[i].access;
      if (buf[i].vcpu >= s.per_vcpu.size()) s.per_vcpu.resize(buf[i].vcpu + 1, 0);
      ++s.per_vcpu[buf[i].vcpu];
      ++s.accesses;
      s.reads += a.type == AccessType::Read;
      s.writes += a.type == AccessType::Write;
      s.execs += a.type == AccessType::Exec;
      s.bytes += a.size;
      const Addr last = a.addr + (a.size - 1);  // wraps like the simulator's
      lo = std::min(lo, a.addr);
      hi = std::max(hi, last);
      pages.insert(a.addr >> kPageShift4K);
      pages.insert(last >> kPageShift4K);
    }
  }
  s.unique_pages = pages.size();
  if (s.accesses) {
    s.min_addr = lo;
    s.max_addr = hi;
  }
  return s;
}

std::string to_text(const TraceSummary& s) {
  std::ostringstream o;
  o << s.path << ": " << s.format << " trace";
  if (s.binary) o << ", header declares " << s.declared_vcpus << " vCPU(s)";
  o << "\n";
  o << "accesses:     " << s.accesses << " (" << s.bytes << " bytes)\n";
  o << "reads:        " << s.reads << " (" << percent(s.reads, s.accesses) << ")\n";
  o << "writes:       " << s.writes << " (" << percent(s.writes, s.accesses) << ")\n";
  o << "execs:        " << s.execs << " (" << percent(s.execs, s.accesses) << ")\n";
  o << "unique pages: " << s.unique_pages << " of 4 KiB (" << s.unique_pages * 4 << " KiB)\n";
  if (s.accesses) o << "addresses:    " << hex(s.min_addr) << " to " << hex(s.max_addr) << " (first to last byte)\n";
  else o << "addresses:    none\n";
  constexpr std::size_t kLabelWidth = 14;  // the labels above, padded
  for (std::size_t v = 0; v < s.per_vcpu.size(); ++v) {
    std::string label = "vcpu" + std::to_string(v) + ":";
    label.resize(std::max(kLabelWidth, label.size() + 1), ' ');
    o << label << s.per_vcpu[v] << "\n";
  }
  return o.str();
}

nlohmann::json to_json(const TraceSummary& s) {
  nlohmann::json j;
  j["path"] = s.path;
  j["format"] = s.format;
  j["declared_vcpus"] = s.declared_vcpus;
  j["accesses"] = s.accesses;
  j["bytes"] = s.bytes;
  j["reads"] = s.reads;
  j["writes"] = s.writes;
  j["execs"] = s.execs;
  j["unique_pages_4k"] = s.unique_pages;
  j["per_vcpu"] = s.per_vcpu;
  if (s.accesses) {
    j["min_addr"] = hex(s.min_addr);
    j["max_addr"] = hex(s.max_addr);
  } else {
    j["min_addr"] = nullptr;
    j["max_addr"] = nullptr;
  }
  return j;
}

}  // namespace vmxsim::traces
