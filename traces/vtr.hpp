// The binary trace format `.vtr` v1 (docs/traces.md has it byte for byte):
// a 16-byte header, then one zstd frame holding delta-encoded records, an
// end marker and a trailer of per-vCPU counts. Written and read as streams
// through fixed buffers, so memory does not depend on the trace's length.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "traces/trace_file.hpp"

namespace vmxsim::traces {

namespace vtr {
inline constexpr char kMagic[8] = {'\x89', 'V', 'T', 'R', '\r', '\n', '\x1a', '\n'};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint16_t kKnownFlags = 0;  // v1 defines no flag; readers reject any
inline constexpr std::size_t kHeaderBytes = 16;
inline constexpr std::size_t kMagicOffset = 0, kVersionOffset = 8, kFlagsOffset = 10, kVcpusOffset = 12;

// Record tag byte.
inline constexpr std::uint8_t kTypeMask = 0x03;    // bits 1:0: 0 R, 1 W, 2 X, 3 end marker
inline constexpr std::uint8_t kEndMarker = 0x03;   // the whole tag of the end marker
inline constexpr std::uint8_t kHasVcpu = 1u << 2;  // a vCPU varint follows
inline constexpr std::uint8_t kHasSize = 1u << 3;  // a size varint follows
inline constexpr std::uint8_t kHasGap = 1u << 4;   // a gap varint follows
inline constexpr std::uint8_t kReservedBits = 0xE0;

// Per-vCPU state a record's omitted fields repeat, before its first record.
inline constexpr std::uint16_t kInitialSize = 8;
inline constexpr std::uint32_t kInitialGap = 0;

/// A record is at most a tag and four 10-byte varints.
inline constexpr std::size_t kMaxVarintBytes = 10;
inline constexpr std::size_t kMaxRecordBytes = 1 + 4 * kMaxVarintBytes;

/// zstd window: 128 KiB written, up to 1 MiB accepted (bounds a reader's memory).
inline constexpr int kWriteWindowLog = 17;
inline constexpr int kMaxWindowLog = 20;
/// A negative ("fast") level stores literals raw instead of Huffman-coding
/// them: decoding then costs about 0.5 ns a record instead of 4.5, which is
/// what replay speed needs; repeats (loops, strides) still compress as matches.
inline constexpr int kCompressionLevel = -1;
}  // namespace vtr

std::unique_ptr<RecordReader> open_vtr_records(const std::string& path);
std::unique_ptr<RecordWriter> create_vtr_trace(const std::string& path, unsigned vcpus);
/// As validate_text_trace: every record decoded and checked, the trailer's
/// counts and the zstd checksum verified; throws Error("path: ...") otherwise.
TraceInfo validate_vtr_trace(const std::string& path, unsigned vcpus);
/// One vCPU's accesses, from its own decoder (which decodes every record).
std::unique_ptr<Source> open_vtr_trace(const std::string& path, unsigned vcpu);
/// Every vCPU's accesses from one shared decoder, so each record is decoded
/// about once; memory stays bounded for any record order (see VtrDemux).
std::vector<std::unique_ptr<Source>> open_vtr_traces(const std::string& path, unsigned vcpus);

}  // namespace vmxsim::traces
