// What `vmxsim trace info` reports about a trace file of either format.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/types.hpp"

namespace vmxsim::traces {

struct TraceSummary {
  std::string path;
  std::string format;           // the format's version: "vtr v1" or "text v1"
  bool binary = false;          // the format declares a vCPU count (binary)
  unsigned declared_vcpus = 0;  // the binary header's count; 0 for text
  std::uint64_t accesses = 0;
  std::vector<std::uint64_t> per_vcpu;  // up to the highest vCPU seen (or declared)
  std::uint64_t reads = 0, writes = 0, execs = 0;
  std::uint64_t unique_pages = 0;   // distinct 4 KiB pages touched (both pages of a crossing access)
  Addr min_addr = 0, max_addr = 0;  // lowest first byte, highest last byte; 0, 0 if empty
  std::uint64_t bytes = 0;          // sum of access sizes
};

/// One full pass over `path`. Memory grows with the distinct pages, not the length.
TraceSummary summarize_trace(const std::string& path);

std::string to_text(const TraceSummary& s);
nlohmann::json to_json(const TraceSummary& s);

}  // namespace vmxsim::traces
