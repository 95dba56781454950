// Trace file formats as a registry: each format registers itself in its own
// file with how it recognises a file and how to read, write and validate one,
//
//   VMXSIM_REGISTER(FormatRegistry, "vtr", "binary v1: files ending in .vtr",
//                   TraceFormat{claims_extension(".vtr"), "vtr v1", true, ...});
//
// so a new format is one file, and `vmxsim list` shows every format.
// traces/trace_file.cpp's dispatchers (open_trace, validate_trace, ...) ask
// FormatRegistry::of(path) which format a file is in.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/registry.hpp"
#include "traces/trace_file.hpp"

namespace vmxsim::traces {

/// What a trace format provides. Every function takes the file's path.
struct TraceFormat {
  using Claims = std::function<bool(const std::string& path)>;
  /// Does this format claim `path` (by its name)? Null: the fallback format,
  /// which takes every file no other format claims.
  Claims claims;
  /// Name and version for `trace info`, e.g. "vtr v1".
  std::string version;
  /// A binary format: its header declares the vCPU count (a text trace
  /// declares none, so a reader must count them).
  bool binary = false;
  std::function<std::unique_ptr<RecordReader>(const std::string&)> open_records;
  /// `vcpus`: how many vCPUs the records may use (1..kMaxTraceVcpus).
  std::function<std::unique_ptr<RecordWriter>(const std::string&, unsigned vcpus)> create;
  /// A full pass checking every record, including vcpu < `vcpus`.
  std::function<TraceInfo(const std::string&, unsigned vcpus)> validate;
  /// One vCPU's accesses, streamed.
  std::function<std::unique_ptr<Source>(const std::string&, unsigned vcpu)> open;
  /// Optional: the streams of vCPUs 0..vcpus-1 at once (e.g. sharing one
  /// decoder). Null: open() once per vCPU.
  std::function<std::vector<std::unique_ptr<Source>>(const std::string&, unsigned vcpus)> open_all;
};

/// Claims the paths ending in `extension`: case-sensitive, and the path must
/// be longer than the extension (".vtr" alone is not claimed).
TraceFormat::Claims claims_extension(std::string extension);

class FormatRegistry final : public RegistryBase {
 public:
  static FormatRegistry& instance() {
    static FormatRegistry r;
    return r;
  }
  /// Names this registry for listings (VMXSIM_REGISTRY_KIND).
  bool describe(std::string key, std::string title);
  /// VMXSIM_REGISTER's entry point. A second fallback (a format without
  /// `claims`) is a conflict, as a name registered twice is.
  bool add(const std::string& name, std::string description, TraceFormat f, std::string origin = "built in");
  std::vector<Variant> variants() const override;
  /// The format of `path`: the one claiming it, else the fallback. Throws
  /// vmxsim::Error if two formats claim it or no format would take it.
  const TraceFormat& of(const std::string& path) const;

 private:
  struct Entry {
    std::string description;
    TraceFormat format;
    std::string origin;
  };
  std::map<std::string, Entry> entries_;  // sorted: deterministic listings and claims
};

/// FormatRegistry::instance().of(path).
inline const TraceFormat& format_of(const std::string& path) { return FormatRegistry::instance().of(path); }

}  // namespace vmxsim::traces
