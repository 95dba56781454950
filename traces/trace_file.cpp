// Dispatches to a trace file's format, which FormatRegistry chooses by the
// file's name (traces/format.hpp; the formats register in their own files).
#include "traces/trace_file.hpp"

#include "traces/format.hpp"

namespace vmxsim::traces {

bool is_binary_trace(const std::string& path) { return format_of(path).binary; }

std::unique_ptr<RecordReader> open_records(const std::string& path) { return format_of(path).open_records(path); }

std::unique_ptr<RecordWriter> create_trace(const std::string& path, unsigned vcpus) {
  return format_of(path).create(path, vcpus);
}

TraceInfo validate_trace(const std::string& path, unsigned vcpus) { return format_of(path).validate(path, vcpus); }

std::unique_ptr<Source> open_trace(const std::string& path, unsigned vcpu) { return format_of(path).open(path, vcpu); }

std::vector<std::unique_ptr<Source>> open_traces(const std::string& path, unsigned vcpus) {
  const TraceFormat& f = format_of(path);
  if (f.open_all) return f.open_all(path, vcpus);
  std::vector<std::unique_ptr<Source>> sources;
  for (unsigned v = 0; v < vcpus; ++v) sources.push_back(f.open(path, v));
  return sources;
}

}  // namespace vmxsim::traces
