// Trace files of any registered format (traces/format.hpp), chosen by the
// file's name: `.vtr` is the binary format (traces/vtr.*), anything else text
// v1 (traces/text_trace.cpp). docs/traces.md describes both. Everything here
// streams in constant memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "traces/source.hpp"

namespace vmxsim::traces {

/// The most vCPUs a trace file may address: cpu.vcpus's upper bound.
inline constexpr unsigned kMaxTraceVcpus = 512;

/// One access of a trace file with the vCPU that issues it.
struct Record {
  std::uint32_t vcpu = 0;
  Access access;
};

/// Every record of a trace file, in file order. Throws vmxsim::Error naming
/// the file (and line or record) on malformed input.
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  /// Writes up to `n` records to `out`; returns how many (0 = end of file).
  virtual std::size_t next(Record* out, std::size_t n) = 0;
  /// The vCPU count the file declares (binary), or 0 if it declares none (text).
  virtual unsigned declared_vcpus() const = 0;
};

/// Writes a trace file record by record; finish() completes it.
class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  virtual void write(const Record& r) = 0;
  /// Flushes and closes; throws vmxsim::Error on an I/O error. A writer
  /// destroyed without finish() leaves an incomplete file, which readers reject.
  virtual void finish() = 0;
};

/// True when the format of `path` is binary (`.vtr`): its header declares the vCPU count.
bool is_binary_trace(const std::string& path);

std::unique_ptr<RecordReader> open_records(const std::string& path);
/// `vcpus`: how many vCPUs the records may use (1..kMaxTraceVcpus; the binary
/// header records it). Records with vcpu >= vcpus are a logic error.
std::unique_ptr<RecordWriter> create_trace(const std::string& path, unsigned vcpus);

/// A full streaming pass that checks every record of a trace of any format,
/// including vcpu < `vcpus`; throws vmxsim::Error on the first problem.
TraceInfo validate_trace(const std::string& path, unsigned vcpus);
/// The accesses of one vCPU, streamed, from a trace of any format.
std::unique_ptr<Source> open_trace(const std::string& path, unsigned vcpu);
/// The streams of vCPUs 0..vcpus-1, as open_trace gives them, except that a
/// format may share one decoder among them (a binary trace's do: each record
/// is decoded once, not once per vCPU). The sources may be used in any order,
/// one at a time.
std::vector<std::unique_ptr<Source>> open_traces(const std::string& path, unsigned vcpus);

// The text format's own entry points (the dispatchers above choose among the formats).
std::unique_ptr<RecordReader> open_text_records(const std::string& path);
std::unique_ptr<RecordWriter> create_text_trace(const std::string& path);

}  // namespace vmxsim::traces
