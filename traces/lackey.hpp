// Importing `valgrind --tool=lackey --trace-mem=yes` output as a trace
// (docs/traces.md, "Importing lackey traces").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "traces/trace_file.hpp"

namespace vmxsim::traces {

/// How several inputs (input k becomes vCPU k) are merged into one file.
/// The simulator replays each vCPU's records in order, timed by their own
/// gaps, so this changes only the file's record order, not a run's results.
enum class Interleave {
  kRoundRobin,  // one record of each input in turn
  kGap,         // by guest time: input k's record i at sum over its records 0..i of (gap + 1)
};

struct LackeyOptions {
  Interleave interleave = Interleave::kRoundRobin;
  std::uint32_t gap_cycles = 0;  // the gap of each instruction fetch (X); data accesses get 0
};

/// What an import wrote.
struct LackeyStats {
  std::uint64_t records = 0, lines = 0, skipped_lines = 0, split_accesses = 0;
};

/// Converts each input (I → X, L → R, S → W, M → R then W) and writes the
/// merged records to `out`; lines that are not accesses are skipped. Throws
/// Error("file:line: expected ...") on a malformed access line.
LackeyStats import_lackey(const std::vector<std::string>& inputs, const LackeyOptions& options, RecordWriter& out);

}  // namespace vmxsim::traces
