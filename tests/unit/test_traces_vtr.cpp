// Tests of the binary trace format (.vtr), the format dispatch, and the
// lackey importer.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "error_of.hpp"
#include "traces/lackey.hpp"
#include "traces/trace_file.hpp"
#include "traces/trace_summary.hpp"
#include "traces/vtr.hpp"

namespace vmxsim::traces {
namespace {

namespace fs = std::filesystem;
using test::error_of;

constexpr std::size_t kBatch = 256;

/// Scratch files unique to this process, removed afterwards.
class Scratch {
 public:
  Scratch() {
    static int counter = 0;
    dir_ =
        fs::temp_directory_path() / ("vmxsim_test_vtr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }

 private:
  fs::path dir_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe(const Record& r) {
  std::ostringstream s;
  s << r.vcpu << ' ' << access_char(r.access.type) << " 0x" << std::hex << r.access.addr << std::dec << ' '
    << r.access.size << ' ' << r.access.gap;
  return s.str();
}

std::vector<std::string> read_all(const std::string& path, std::size_t batch = kBatch) {
  auto reader = open_records(path);
  std::vector<Record> buf(batch);
  std::vector<std::string> out;
  while (const std::size_t n = reader->next(buf.data(), buf.size()))
    for (std::size_t i = 0; i < n; ++i) out.push_back(describe(buf[i]));
  return out;
}

std::vector<Access> read_vcpu(const std::string& path, unsigned vcpu, std::size_t batch = kBatch) {
  auto src = open_trace(path, vcpu);
  std::vector<Access> buf(batch), all;
  while (const std::size_t n = src->next(buf.data(), buf.size()))
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  return all;
}

void write_records(const std::string& path, unsigned vcpus, const std::vector<Record>& records) {
  auto w = create_trace(path, vcpus);
  for (const auto& r : records) w->write(r);
  w->finish();
}

/// Copies `in` to `out` as `vmxsim trace convert` does.
void convert(const std::string& in, const std::string& out, unsigned vcpus) {
  auto reader = open_records(in);
  auto w = create_trace(out, vcpus);
  std::vector<Record> buf(kBatch);
  while (const std::size_t n = reader->next(buf.data(), buf.size()))
    for (std::size_t i = 0; i < n; ++i) w->write(buf[i]);
  w->finish();
}

Record rec(std::uint32_t vcpu, AccessType t, Addr addr, std::uint16_t size, std::uint32_t gap) {
  return Record{vcpu, Access{addr, gap, size, t}};
}

/// Records that exercise every field's extremes and the delta coding's
/// wrap-around (both signs, 0 and 2^64-1, repeats of size and gap).
std::vector<Record> edge_records() {
  using T = AccessType;
  return {rec(0, T::Read, 0x1000, 8, 0),
          rec(0, T::Write, 0x1000, 8, 0),
          rec(2, T::Exec, 0xffffffffffffffff, 1, 4294967295),
          rec(2, T::Read, 0, 4096, 4294967295),
          rec(1, T::Write, 0x7fffffffffff, 4096, 7),
          rec(0, T::Read, 0x8000000000000000, 16, 3),
          rec(0, T::Read, 0x7fffffffffffffff, 16, 3),
          rec(1, T::Exec, 0x7ffffffff000, 2, 0),
          rec(2, T::Write, 0xabcdef, 8, 0)};
}

// ---- round trips ---------------------------------------------------------------

TEST(Vtr, RecordsRoundTripExactly) {
  Scratch s;
  const std::string bin = s.path("edge.vtr");
  const auto records = edge_records();
  write_records(bin, 3, records);
  std::vector<std::string> expected;
  for (const auto& r : records) expected.push_back(describe(r));
  EXPECT_EQ(read_all(bin), expected);
  EXPECT_EQ(read_all(bin, 1), expected);  // any batch size
  EXPECT_EQ(open_records(bin)->declared_vcpus(), 3u);
  const TraceInfo info = validate_trace(bin, 3);
  EXPECT_EQ(info.accesses, records.size());
  EXPECT_EQ(info.per_vcpu, (std::vector<std::uint64_t>{4, 2, 3}));
  // Each vCPU's source gives its own records in order.
  const auto v2 = read_vcpu(bin, 2);
  ASSERT_EQ(v2.size(), 3u);
  EXPECT_EQ(v2[0].addr, 0xffffffffffffffffu);
  EXPECT_EQ(v2[1].addr, 0u);
  EXPECT_EQ(v2[1].size, 4096u);
  EXPECT_EQ(v2[2].addr, 0xabcdefu);
  EXPECT_EQ(v2[2].gap, 0u);
}

// Canonical text: every line `<vcpu> <R|W|X> 0x<lower-case hex> <size> <gap>`,
// all five fields, single spaces, LF, no comments or blank lines.
TEST(Vtr, CanonicalTextRoundTripsByteForByte) {
  Scratch s;
  std::string text;
  for (const auto& r : edge_records()) text += describe(r) + "\n";
  const std::string in = s.write("in.trace", text);
  convert(in, s.path("a.vtr"), 3);
  convert(s.path("a.vtr"), s.path("out.trace"), 3);
  EXPECT_EQ(slurp(s.path("out.trace")), text);
  // A non-canonical text gives the canonical one, and the same binary.
  const std::string loose = s.write("loose.trace",
                                    "# c\n0 r 1000\n\n0\tW 0X1000 8 0 # x\n2 X ffffffffffffffff 1 "
                                    "4294967295\r\n");
  convert(loose, s.path("b.vtr"), 3);
  convert(s.path("b.vtr"), s.path("b.trace"), 3);
  EXPECT_EQ(slurp(s.path("b.trace")), "0 R 0x1000 8 0\n0 W 0x1000 8 0\n2 X 0xffffffffffffffff 1 4294967295\n");
  // Binary to binary re-encodes to the same bytes (deterministic writer).
  convert(s.path("a.vtr"), s.path("c.vtr"), 3);
  EXPECT_EQ(slurp(s.path("c.vtr")), slurp(s.path("a.vtr")));
}

TEST(Vtr, LargeMultiVcpuTraceMatchesTheGenerator) {
  constexpr unsigned kVcpus = 3;
  Scratch s;
  GeneratorParams p;
  p.pattern = "hot_cold";
  p.accesses_per_vcpu = 70000;  // several compression buffers
  p.working_set_bytes = 64 << 20;
  p.base = 0x7f0000000000;
  const std::string bin = s.path("gen.vtr");
  {
    auto w = create_trace(bin, kVcpus);
    std::vector<std::unique_ptr<Source>> gens;
    for (unsigned v = 0; v < kVcpus; ++v) gens.push_back(make_generator(p, v));
    std::vector<Access> buf(100);  // interleave in uneven runs
    for (bool any = true; any;) {
      any = false;
      for (unsigned v = 0; v < kVcpus; ++v) {
        const std::size_t n = gens[v]->next(buf.data(), v + 1 + (v * 37) % 100);
        any |= n != 0;
        for (std::size_t i = 0; i < n; ++i) w->write(Record{v, buf[i]});
      }
    }
    w->finish();
  }
  EXPECT_EQ(validate_trace(bin, kVcpus).accesses, kVcpus * p.accesses_per_vcpu);
  for (unsigned v = 0; v < kVcpus; ++v) {
    auto gen = make_generator(p, v);
    std::vector<Access> want(p.accesses_per_vcpu);
    ASSERT_EQ(gen->next(want.data(), want.size()), want.size());
    const auto got = read_vcpu(bin, v, 1 + v * 100);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].addr, want[i].addr) << v << " " << i;
      ASSERT_EQ(got[i].type, want[i].type) << v << " " << i;
      ASSERT_EQ(got[i].size, want[i].size);
      ASSERT_EQ(got[i].gap, want[i].gap);
    }
  }
}

// open_traces shares one decoder among the vCPUs of a .vtr; whatever the
// file's record order and the order the vCPUs read in, each gets exactly its
// own records. A blocked layout (all of vCPU 0, then all of vCPU 1, ...)
// overflows the bounded queues, so vCPUs detach and re-read on their own.
TEST(Vtr, SharedDecoderGivesEachVcpuItsStreamForAnyLayout) {
  constexpr unsigned kVcpus = 3;
  constexpr std::uint32_t kPerVcpu = 40000;  // more than a queue holds
  Scratch s;
  const auto access_of = [](std::uint32_t v, std::uint32_t i) {
    return Access{0x100000000ull * v + 64ull * i + (i * 7919u) % 4096, i % 3, static_cast<std::uint16_t>(1 + i % 8),
                  static_cast<AccessType>((i + v) % 3)};
  };
  for (const bool blocked : {false, true}) {
    SCOPED_TRACE(blocked ? "blocked" : "interleaved");
    const std::string path = s.path(blocked ? "blocked.vtr" : "interleaved.vtr");
    {
      auto w = create_trace(path, kVcpus);
      if (blocked) {
        for (std::uint32_t v = 0; v < kVcpus; ++v)
          for (std::uint32_t i = 0; i < kPerVcpu; ++i) w->write(Record{v, access_of(v, i)});
      } else {
        for (std::uint32_t i = 0; i < kPerVcpu; ++i)
          for (std::uint32_t v = 0; v < kVcpus; ++v) w->write(Record{v, access_of(v, i)});
      }
      w->finish();
    }
    auto sources = open_traces(path, kVcpus);
    ASSERT_EQ(sources.size(), kVcpus);
    std::vector<std::uint32_t> next(kVcpus, 0);
    std::vector<Access> buf(1000);
    // Read round-robin with batch sizes that differ per vCPU and per turn.
    for (bool any = true; any;) {
      any = false;
      for (std::uint32_t v = 0; v < kVcpus; ++v) {
        const std::size_t want = 1 + (next[v] * 31 + v * 97) % buf.size();
        const std::size_t n = sources[v]->next(buf.data(), want);
        any |= n != 0;
        for (std::size_t k = 0; k < n; ++k, ++next[v]) {
          const Access e = access_of(v, next[v]);
          ASSERT_EQ(buf[k].addr, e.addr) << v << " " << next[v];
          ASSERT_EQ(buf[k].gap, e.gap);
          ASSERT_EQ(buf[k].size, e.size);
          ASSERT_EQ(buf[k].type, e.type);
        }
      }
    }
    EXPECT_EQ(next, std::vector<std::uint32_t>(kVcpus, kPerVcpu));
  }
}

TEST(Vtr, EmptyTraceAndVcpuRange) {
  Scratch s;
  write_records(s.path("empty.vtr"), 0, {});
  EXPECT_TRUE(read_all(s.path("empty.vtr")).empty());
  EXPECT_EQ(validate_trace(s.path("empty.vtr"), 1).accesses, 0u);
  const std::string bin = s.path("two.vtr");
  write_records(bin, 4, {rec(0, AccessType::Read, 0x10, 8, 0), rec(3, AccessType::Read, 0x20, 8, 0)});
  EXPECT_EQ(error_of([&] { validate_trace(bin, 2); }), bin + ": record 1: vCPU 3 is out of range (cpu.vcpus is 2)");
  EXPECT_EQ(validate_trace(bin, 4).per_vcpu, (std::vector<std::uint64_t>{1, 0, 0, 1}));
  EXPECT_EQ(error_of([&] { create_trace(s.path("x.vtr"), 1)->write(rec(1, AccessType::Read, 0, 8, 0)); }),
            s.path("x.vtr") + ": record for vCPU 1 in a trace of 1 vCPUs");
}

TEST(Vtr, DispatchByExtension) {
  EXPECT_TRUE(is_binary_trace("a.vtr"));
  EXPECT_TRUE(is_binary_trace("/x/y.trace.vtr"));
  EXPECT_FALSE(is_binary_trace("a.trace"));
  EXPECT_FALSE(is_binary_trace("a.vtr.txt"));
  EXPECT_FALSE(is_binary_trace(".vtr2"));
  EXPECT_FALSE(is_binary_trace("a.VTR"));
}

// ---- bad files: a clear error naming the file, never a crash or a hang ----------

/// A valid 2-vCPU trace of a few thousand records, as bytes.
std::string sample_vtr(const Scratch& s) {
  const std::string path = s.path("sample.vtr");
  std::vector<Record> records;
  for (std::uint32_t i = 0; i < 5000; ++i)
    records.push_back(rec(i % 2, static_cast<AccessType>(i % 3), 0x400000 + i * 4096 * (i % 7),
                          static_cast<std::uint16_t>(1 + i % 64), i % 5));
  write_records(path, 2, records);
  return slurp(path);
}

std::string error_reading(const std::string& path) {
  // Both the validation pass and a vCPU's stream must fail the same way.
  const std::string e = error_of([&] { validate_trace(path, 2); });
  EXPECT_EQ(error_of([&] { read_vcpu(path, 1); }), e);
  return e;
}

TEST(VtrErrors, FlippedPayloadBytes) {
  Scratch s;
  const std::string good = sample_vtr(s);
  ASSERT_GT(good.size(), 1000u);
  for (std::size_t off = vtr::kHeaderBytes; off < good.size(); off += good.size() / 23) {
    for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
      SCOPED_TRACE("offset " + std::to_string(off) + " mask " + std::to_string(mask));
      std::string bad = good;
      bad[off] = static_cast<char>(bad[off] ^ mask);
      const std::string path = s.write("flip.vtr", bad);
      const std::string e = error_reading(path);
      EXPECT_EQ(e.rfind(path + ": ", 0), 0u) << e;
    }
  }
  // The last byte (the frame's checksum).
  std::string bad = good;
  bad.back() = static_cast<char>(bad.back() ^ 1);
  const std::string path = s.write("sum.vtr", bad);
  EXPECT_NE(error_reading(path).find("corrupt compressed data"), std::string::npos);
}

TEST(VtrErrors, Truncated) {
  Scratch s;
  const std::string good = sample_vtr(s);
  for (const std::size_t len : {std::size_t{0}, std::size_t{3}, std::size_t{8}, std::size_t{15}, std::size_t{16},
                                std::size_t{17}, std::size_t{40}, good.size() / 2, good.size() - 5, good.size() - 1}) {
    SCOPED_TRACE(len);
    const std::string path = s.write("cut.vtr", good.substr(0, len));
    const std::string e = error_reading(path);
    const std::string want = len == 0 ? path + ": empty file, not a .vtr trace" : path + ": truncated";
    EXPECT_EQ(e.rfind(want, 0), 0u) << e;
  }
  const std::string path = s.write("cut.vtr", good.substr(0, good.size() / 2));
  EXPECT_NE(error_reading(path).find("the compressed stream ends before its frame is complete"), std::string::npos);
}

TEST(VtrErrors, HeaderFields) {
  Scratch s;
  const std::string good = sample_vtr(s);
  const auto with = [&](std::size_t off, const std::string& bytes) {
    std::string b = good;
    b.replace(off, bytes.size(), bytes);
    return s.write("hdr.vtr", b);
  };
  std::string p = with(0, "VTR1");
  EXPECT_EQ(error_reading(p), p + ": not a .vtr trace (bad magic at byte offset 0; expected \\x89VTR\\r\\n\\x1a\\n)");
  p = s.write("text.vtr", "0 R 0x1000\n0 W 0x2000\n");  // a text trace named .vtr
  EXPECT_NE(error_reading(p).find("bad magic"), std::string::npos);
  p = with(vtr::kVersionOffset, std::string("\x02\x00", 2));
  EXPECT_EQ(error_reading(p), p + ": unsupported .vtr version 2 (this build reads version 1)");
  p = with(vtr::kVersionOffset, std::string("\x00\x01", 2));
  EXPECT_EQ(error_reading(p), p + ": unsupported .vtr version 256 (this build reads version 1)");
  p = with(vtr::kFlagsOffset, std::string("\x01\x00", 2));
  EXPECT_EQ(error_reading(p), p + ": unknown flags 0x0001 in the header (version 1 defines none)");
  p = with(vtr::kFlagsOffset, std::string("\x00\x80", 2));
  EXPECT_EQ(error_reading(p), p + ": unknown flags 0x8000 in the header (version 1 defines none)");
  p = with(vtr::kVcpusOffset, std::string("\x01\x02\x00\x00", 4));
  EXPECT_EQ(error_reading(p), p + ": the header declares 513 vCPUs (at most 512)");
  p = with(vtr::kVcpusOffset, std::string("\x01\x00\x00\x00", 4));  // fewer than the records use
  EXPECT_EQ(error_reading(p), p + ": record 1 (decompressed byte offset 6): vCPU 1 is out of range (the header "
                                  "declares 1)");
  p = s.write("tail.vtr", good + "x");
  EXPECT_NE(error_reading(p).find(p + ": unexpected data after the compressed stream at byte offset"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { validate_trace("/nonexistent/t.vtr", 1); }), "/nonexistent/t.vtr: cannot open trace file");
}

/// A .vtr file with a hand-made payload, compressed as one frame with a checksum.
std::string vtr_with_payload(const Scratch& s, const std::string& payload, unsigned vcpus = 2) {
  std::string file(vtr::kMagic, sizeof vtr::kMagic);
  file += std::string("\x01\x00\x00\x00", 4);
  file += static_cast<char>(vcpus);
  file += std::string(3, '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(payload.size()), '\0');
  const std::size_t n = ZSTD_compress2(c, out.data(), out.size(), payload.data(), payload.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  return s.write("payload.vtr", file + out.substr(0, n));
}

/// Bytes from numbers (string literals would stop at a NUL).
std::string bytes(std::initializer_list<unsigned> b) {
  std::string out;
  for (const unsigned x : b) out += static_cast<char>(x);
  return out;
}

TEST(VtrErrors, MalformedRecordsAndTrailer) {
  Scratch s;
  // Two good records: R 0x10 on vCPU 0 (delta 0x10 → zigzag 0x20), W on vCPU 1.
  const std::string ok = bytes({0x00, 0x20, 0x05, 0x01, 0x40});
  const std::string end2 = bytes({0x03, 0x02, 0x01, 0x01});  // marker, total 2, 1 + 1
  struct Case {
    std::string payload, message;
  };
  const std::vector<Case> cases = {
      {ok + end2, ""},
      {ok + bytes({0x20, 0x00}) + end2, "record 2 (decompressed byte offset 5): reserved bits set in the tag 0x20"},
      {ok + bytes({0x13}) + end2, "record 2 (decompressed byte offset 5): reserved bits set in the end marker 0x13"},
      {ok + bytes({0x08, 0x00, 0x00}) + end2,
       "record 2 (decompressed byte offset 5): size 0 is out of range (expected 1 to 4096)"},
      {ok + bytes({0x08, 0x00, 0x81, 0x20}) + end2,
       "record 2 (decompressed byte offset 5): size 4097 is out of range (expected 1 to 4096)"},
      {ok + bytes({0x10, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10}) + end2,
       "record 2 (decompressed byte offset 5): gap 4294967296 is out of range (expected 0 to 4294967295)"},
      {ok + bytes({0x04, 0x02, 0x00}) + end2,
       "record 2 (decompressed byte offset 5): vCPU 2 is out of range (the header declares 2)"},
      {ok + bytes({0x00}) + std::string(9, '\xff') + bytes({0x02}) + end2,
       "record 2 (decompressed byte offset 5): a varint exceeds 64 bits"},
      {ok, "truncated: the data ends after record 2"},
      {ok + bytes({0x00}), "truncated: the data ends after record 2"},
      {ok + bytes({0x03, 0x02, 0x01}), "truncated: the data ends inside the trailer"},
      {ok + bytes({0x03, 0x03, 0x01, 0x01}), "trailer: the total count 3 does not match the 2 records read"},
      {ok + bytes({0x03, 0x02, 0x02, 0x00}), "trailer: vCPU 0's count 2 does not match the 1 records read"},
      {ok + end2 + bytes({0x00}), "unexpected data after the trailer (decompressed byte offset 9)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    const std::string path = vtr_with_payload(s, c.payload);
    if (c.message.empty()) {
      EXPECT_EQ(read_all(path), (std::vector<std::string>{"0 R 0x10 8 0", "1 W 0x20 8 0"}));
      continue;
    }
    EXPECT_EQ(error_reading(path).rfind(path + ": " + c.message, 0), 0u) << error_reading(path);
  }
}

// ---- trace info ------------------------------------------------------------------

TEST(TraceSummary, CountsTypesPagesAndRange) {
  Scratch s;
  const std::string bin = s.path("sum.vtr");
  using T = AccessType;
  write_records(bin, 3,
                {rec(0, T::Read, 0x1000, 8, 0), rec(0, T::Write, 0x1ffc, 8, 0),  // crosses
                 rec(2, T::Exec, 0x5000, 4, 0), rec(0, T::Read, 0x1008, 8, 0)});
  const TraceSummary t = summarize_trace(bin);
  EXPECT_EQ(t.format, "vtr v1");
  EXPECT_EQ(t.accesses, 4u);
  EXPECT_EQ(t.per_vcpu, (std::vector<std::uint64_t>{3, 0, 1}));
  EXPECT_EQ(t.reads, 2u);
  EXPECT_EQ(t.writes, 1u);
  EXPECT_EQ(t.execs, 1u);
  EXPECT_EQ(t.unique_pages, 3u);  // 0x1000, 0x2000 (the crossing), 0x5000
  EXPECT_EQ(t.min_addr, 0x1000u);
  EXPECT_EQ(t.max_addr, 0x5003u);
  EXPECT_EQ(to_json(t)["max_addr"], "0x5003");
}

// ---- lackey import ---------------------------------------------------------------

std::string data_file(const std::string& name) { return std::string(VMXSIM_SOURCE_DIR) + "/tests/data/" + name; }

/// Imports `inputs` into a text trace and returns its records.
std::vector<std::string> import(const Scratch& s, const std::vector<std::string>& inputs, const LackeyOptions& o = {},
                                LackeyStats* stats = nullptr) {
  const std::string out = s.path("imported.trace");
  auto w = create_trace(out, static_cast<unsigned>(inputs.size()));
  const LackeyStats st = import_lackey(inputs, o, *w);
  w->finish();
  if (stats) *stats = st;
  return read_all(out);
}

// tests/data/lackey_true.lackey: the first 400 lines of
// `valgrind --tool=lackey --trace-mem=yes --log-file=... /bin/true` (valgrind
// 3.19, Debian 12) and its closing banner: 304 I, 48 L, 33 S and 9 M lines.
TEST(Lackey, ImportsTheSampleExactly) {
  Scratch s;
  LackeyStats st;
  const auto r = import(s, {data_file("lackey_true.lackey")}, {}, &st);
  ASSERT_EQ(r.size(), 304u + 48 + 33 + 2 * 9);
  std::size_t x = 0, rd = 0, wr = 0;
  for (const auto& line : r) {
    x += line.rfind("0 X ", 0) == 0;
    rd += line.rfind("0 R ", 0) == 0;
    wr += line.rfind("0 W ", 0) == 0;
  }
  EXPECT_EQ(x, 304u);
  EXPECT_EQ(rd, 48u + 9);
  EXPECT_EQ(wr, 33u + 9);
  EXPECT_EQ(st.skipped_lines, 25u);  // the ==pid== banner lines
  EXPECT_EQ(st.records, r.size());
  // Lines 7-9: "I  0401ab70,3", " S 1fff000708,8", "I  0401ab73,5"... as in the file.
  EXPECT_EQ(r[0], "0 X 0x401ab70 3 0");
  EXPECT_EQ(r[1], "0 X 0x401ab73 5 0");
  EXPECT_EQ(r[2], "0 W 0x1fff000708 8 0");
  // Line 35, " M 04033e06,1": a read, then a write.
  const auto m = std::find(r.begin(), r.end(), "0 R 0x4033e06 1 0");
  ASSERT_NE(m, r.end());
  EXPECT_EQ(*(m + 1), "0 W 0x4033e06 1 0");
}

TEST(Lackey, GapsSplitsAndInterleaving) {
  Scratch s;
  const std::string a = s.write("a.lackey", "==1== hello\nI  1000,4\n L 2000,8192\n S 3000,2\n");
  const std::string b = s.write("b.lackey", "I  9000,1\nI  9001,1\n M 7000,8\n\nprogram output\n");
  LackeyOptions o;
  o.gap_cycles = 10;
  // Round-robin: one record of each input in turn; a 8192-byte load is two pieces.
  EXPECT_EQ(import(s, {a, b}, o),
            (std::vector<std::string>{"0 X 0x1000 4 10", "1 X 0x9000 1 10", "0 R 0x2000 4096 0", "1 X 0x9001 1 10",
                                      "0 R 0x3000 4096 0", "1 R 0x7000 8 0", "0 W 0x3000 2 0", "1 W 0x7000 8 0"}));
  // By guest time (gap + 1 per record): a's times 11, 12, 13, 14; b's 11, 22, 23, 24.
  o.interleave = Interleave::kGap;
  EXPECT_EQ(import(s, {a, b}, o),
            (std::vector<std::string>{"0 X 0x1000 4 10", "1 X 0x9000 1 10", "0 R 0x2000 4096 0", "0 R 0x3000 4096 0",
                                      "0 W 0x3000 2 0", "1 X 0x9001 1 10", "1 R 0x7000 8 0", "1 W 0x7000 8 0"}));
}

TEST(Lackey, MalformedAccessLines) {
  Scratch s;
  struct Case {
    std::string line, message;
  };
  const std::vector<Case> cases = {
      {" L zz,4", "expected <hex address>,<decimal size> after 'L', got 'zz,4'"},
      {"I  0400d7d4", "expected <hex address>,<decimal size> after 'I', got '0400d7d4'"},
      {" S 1000,", "expected <hex address>,<decimal size> after 'S', got '1000,'"},
      {" M 1000,8x", "expected <hex address>,<decimal size> after 'M', got '1000,8x'"},
      {" S ", "expected <hex address>,<decimal size> after 'S', got end of line"},
      {" L 11112222333344445,8", "expected <hex address>,<decimal size> after 'L', got '11112222333344445,8'"},
      {" L 1000,0", "expected a size of at least 1 byte after 'L', got 0"},
      {" L 1000,99999999999", "expected <hex address>,<decimal size> after 'L', got '1000,99999999999'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    const std::string path = s.write("bad.lackey", "==1== x\nI  1000,4\n" + c.line + "\n");
    EXPECT_EQ(error_of([&] { import(s, {path}); }), path + ":3: " + c.message);
  }
  EXPECT_EQ(error_of([&] { import(s, {"/nonexistent.lackey"}); }), "/nonexistent.lackey: cannot open trace file");
}

}  // namespace
}  // namespace vmxsim::traces
