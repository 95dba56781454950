// Chooses a trace file's format by its extension (docs/traces.md).
#include "traces/trace_file.hpp"

#include "sim/error.hpp"
#include "traces/vtr.hpp"

namespace vmxsim::traces {

namespace {
constexpr char kBinaryExtension[] = ".vtr";
}

bool is_binary_trace(const std::string& path) {
  const std::size_t n = sizeof kBinaryExtension - 1;
  return path.size() > n && path.compare(path.size() - n, n, kBinaryExtension) == 0;
}

std::unique_ptr<RecordReader> open_records(const std::string& path) {
  return is_binary_trace(path) ? open_vtr_records(path) : open_text_records(path);
}

std::unique_ptr<RecordWriter> create_trace(const std::string& path, unsigned vcpus) {
  return is_binary_trace(path) ? create_vtr_trace(path, vcpus) : create_text_trace(path);
}

TraceInfo validate_trace(const std::string& path, unsigned vcpus) {
  return is_binary_trace(path) ? validate_vtr_trace(path, vcpus) : validate_text_trace(path, vcpus);
}

std::unique_ptr<Source> open_trace(const std::string& path, unsigned vcpu) {
  return is_binary_trace(path) ? open_vtr_trace(path, vcpu) : open_text_trace(path, vcpu);
}

std::vector<std::unique_ptr<Source>> open_traces(const std::string& path, unsigned vcpus) {
  if (is_binary_trace(path)) return open_vtr_traces(path, vcpus);
  std::vector<std::unique_ptr<Source>> sources;
  for (unsigned v = 0; v < vcpus; ++v) sources.push_back(open_text_trace(path, v));
  return sources;
}

}  // namespace vmxsim::traces
