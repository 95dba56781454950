// Tests of the access sources: the synthetic generator and text trace v1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config.hpp"
#include "traces/source.hpp"

namespace vmxsim::traces {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBatch = 256;

std::vector<Access> drain(Source& src, std::size_t batch = kBatch) {
  std::vector<Access> all;
  std::vector<Access> buf(batch);
  while (std::size_t n = src.next(buf.data(), batch)) all.insert(all.end(), buf.begin(), buf.begin() + n);
  return all;
}

std::vector<Access> generate(const GeneratorParams& p, unsigned vcpu, std::size_t batch = kBatch) {
  return drain(*make_generator(p, vcpu), batch);
}

/// "<type> 0x<addr> <size> <gap>": readable in failure output, comparable.
std::string describe(const Access& a) {
  std::ostringstream s;
  s << access_char(a.type) << " 0x" << std::hex << a.addr << std::dec << ' ' << a.size << ' ' << a.gap;
  return s.str();
}

std::vector<std::string> describe(const std::vector<Access>& v) {
  std::vector<std::string> out;
  for (const auto& a : v) out.push_back(describe(a));
  return out;
}

std::size_t count_writes(const std::vector<Access>& v) {
  std::size_t n = 0;
  for (const auto& a : v) n += a.type == AccessType::Write;
  return n;
}

GeneratorParams params(const std::string& pattern) {
  GeneratorParams p;
  p.pattern = pattern;
  p.accesses_per_vcpu = 10000;
  return p;
}

const std::vector<std::string> kPatterns = {"uniform", "sequential", "hot_cold"};

// ---- generator stream --------------------------------------------------------

TEST(TracesGenerator, SameParamsAndVcpuGiveIdenticalStreams) {
  for (const auto& pattern : kPatterns) {
    SCOPED_TRACE(pattern);
    const auto p = params(pattern);
    const auto a = generate(p, 3);
    EXPECT_EQ(describe(a), describe(generate(p, 3)));
    // The batch size the consumer asks for does not change the stream.
    EXPECT_EQ(describe(a), describe(generate(p, 3, 1)));
    EXPECT_EQ(describe(a), describe(generate(p, 3, 1000)));
  }
}

TEST(TracesGenerator, DifferentSeedOrVcpuGiveDifferentStreams) {
  for (const auto& pattern : kPatterns) {
    SCOPED_TRACE(pattern);
    auto p = params(pattern);
    p.shared = true;  // same region, so only the random stream can differ
    const auto base = describe(generate(p, 0));
    EXPECT_NE(base, describe(generate(p, 1)));
    p.seed = 2;
    EXPECT_NE(base, describe(generate(p, 0)));
  }
}

// Every experiment's results depend on these streams: a change here must be
// deliberate (and noted as changing results).
TEST(TracesGenerator, UniformStreamIsPinned) {
  GeneratorParams p;
  p.accesses_per_vcpu = 4;
  const std::vector<std::string> expected = {"W 0x37528 8 0", "R 0x2a4e8 8 0", "W 0x1c560 8 0", "R 0x392f0 8 0"};
  EXPECT_EQ(describe(generate(p, 0)), expected);
}

TEST(TracesGenerator, ExactCountThenEndOfStream) {
  for (const auto& pattern : kPatterns) {
    SCOPED_TRACE(pattern);
    auto p = params(pattern);
    p.accesses_per_vcpu = 1000;
    auto src = make_generator(p, 0);
    std::vector<Access> buf(7);  // does not divide the count
    std::size_t total = 0;
    while (std::size_t n = src->next(buf.data(), buf.size())) {
      ASSERT_LE(n, buf.size());
      total += n;
    }
    EXPECT_EQ(total, 1000u);
    EXPECT_EQ(src->next(buf.data(), buf.size()), 0u);  // stays ended

    p.accesses_per_vcpu = 0;
    EXPECT_EQ(make_generator(p, 0)->next(buf.data(), buf.size()), 0u);
  }
}

TEST(TracesGenerator, AlignedAndInsideEachVcpusRegion) {
  for (const auto& pattern : kPatterns) {
    for (std::uint64_t size : {1u, 8u, 64u, 4096u}) {
      SCOPED_TRACE(pattern + " size " + std::to_string(size));
      auto p = params(pattern);
      p.base = 0x100000;
      p.working_set_bytes = 64 * 1024;
      p.access_size = static_cast<std::uint16_t>(size);
      p.stride = size * 3;
      p.gap_cycles = 17;
      for (unsigned v = 0; v < 4; ++v) {
        const Addr lo = p.base + v * p.working_set_bytes;
        const Addr hi = lo + p.working_set_bytes;
        for (const auto& a : generate(p, v)) {
          ASSERT_EQ(a.addr % size, 0u) << describe(a);
          ASSERT_GE(a.addr, lo) << describe(a);
          ASSERT_LT(a.addr, hi) << describe(a);
          ASSERT_EQ(a.size, size);
          ASSERT_EQ(a.gap, 17u);
          ASSERT_NE(a.type, AccessType::Exec);
        }
      }
    }
  }
}

TEST(TracesGenerator, UniformReachesEverySlot) {
  auto p = params("uniform");
  p.working_set_bytes = 512;
  p.access_size = 64;
  std::set<Addr> seen;
  for (const auto& a : generate(p, 2)) seen.insert(a.addr);
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(*seen.begin(), 2 * 512u);
  EXPECT_EQ(*seen.rbegin(), 3 * 512u - 64);
}

TEST(TracesGenerator, SequentialGivesExactAddressesAndWraps) {
  auto p = params("sequential");
  p.base = 0x1000;
  p.working_set_bytes = 256;
  p.stride = 64;
  p.accesses_per_vcpu = 9;
  std::vector<Addr> addrs;
  for (const auto& a : generate(p, 1)) addrs.push_back(a.addr);
  EXPECT_EQ(addrs, (std::vector<Addr>{0x1100, 0x1140, 0x1180, 0x11c0, 0x1100, 0x1140, 0x1180, 0x11c0, 0x1100}));

  // Strides that do not divide the working set, or exceed it.
  for (std::uint64_t stride : {96u, 384u, 264u, 8u}) {
    SCOPED_TRACE(stride);
    p.stride = stride;
    p.accesses_per_vcpu = 1000;
    const auto v = generate(p, 1);
    ASSERT_EQ(v.size(), 1000u);
    for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i].addr, 0x1100 + (i * stride) % 256) << i;
  }
}

TEST(TracesGenerator, SharedRegionIsTheSameForEveryVcpu) {
  for (const auto& pattern : kPatterns) {
    SCOPED_TRACE(pattern);
    auto p = params(pattern);
    p.shared = true;
    p.base = 0x40000;
    p.working_set_bytes = 8192;
    for (unsigned v = 0; v < 4; ++v) {
      const auto s = generate(p, v);
      if (pattern == "sequential") {
        EXPECT_EQ(s.front().addr, p.base);  // each starts at base
      }
      for (const auto& a : s) {
        ASSERT_GE(a.addr, p.base);
        ASSERT_LT(a.addr, p.base + p.working_set_bytes);
      }
    }
  }
}

TEST(TracesGenerator, SequentialPerVcpuStartsAtItsRegion) {
  auto p = params("sequential");
  p.base = 0x40000;
  p.working_set_bytes = 8192;
  for (unsigned v = 0; v < 4; ++v) EXPECT_EQ(generate(p, v).front().addr, p.base + v * p.working_set_bytes);
}

TEST(TracesGenerator, WriteFraction) {
  constexpr std::size_t kN = 100000;
  constexpr double kTolerance = 0.01;  // ~7 standard deviations at kN
  for (const auto& pattern : kPatterns) {
    SCOPED_TRACE(pattern);
    auto p = params(pattern);
    p.accesses_per_vcpu = kN;
    p.write_fraction = 0.3;
    EXPECT_NEAR(static_cast<double>(count_writes(generate(p, 0))) / kN, 0.3, kTolerance);
    p.write_fraction = 0.75;
    EXPECT_NEAR(static_cast<double>(count_writes(generate(p, 1))) / kN, 0.75, kTolerance);
    p.write_fraction = 0.0;
    EXPECT_EQ(count_writes(generate(p, 0)), 0u);
    p.write_fraction = 1.0;
    EXPECT_EQ(count_writes(generate(p, 0)), kN);
  }
}

TEST(TracesGenerator, HotColdShareAndBoundary) {
  constexpr std::size_t kN = 100000;
  auto p = params("hot_cold");
  p.accesses_per_vcpu = kN;
  p.working_set_bytes = 64 * 1024;
  p.access_size = 64;
  p.hot_fraction = 0.1;  // 102.4 of 1024 slots: rounded down to 102
  p.hot_access_fraction = 0.9;
  const Addr hot_end = 102 * 64;
  const Addr start = p.working_set_bytes;  // vCPU 1's region
  std::size_t hot = 0, last_hot_slot = 0, first_cold_slot = 0;
  std::set<Addr> cold_seen;
  for (const auto& a : generate(p, 1)) {
    const Addr off = a.addr - start;
    hot += off < hot_end;
    last_hot_slot += off == hot_end - 64;
    first_cold_slot += off == hot_end;
    if (off >= hot_end) cold_seen.insert(off);
  }
  EXPECT_NEAR(static_cast<double>(hot) / kN, 0.9, 0.01);
  // ~882 expected in a hot slot, ~11 in a cold one: the boundary is exact.
  EXPECT_GT(last_hot_slot, 600u);
  EXPECT_LT(first_cold_slot, 50u);
  EXPECT_GT(cold_seen.size(), 900u);  // the cold part is spread over (of 922 slots)
}

TEST(TracesGenerator, HotColdEdgeCases) {
  constexpr std::size_t kN = 20000;
  auto p = params("hot_cold");
  p.accesses_per_vcpu = kN;
  p.working_set_bytes = 4096;
  p.access_size = 64;

  // A tiny hot fraction still has one hot access-sized slot.
  p.hot_fraction = 0.001;
  p.hot_access_fraction = 0.9;
  std::size_t at_start = 0;
  for (const auto& a : generate(p, 0)) at_start += a.addr == 0;
  EXPECT_NEAR(static_cast<double>(at_start) / kN, 0.9, 0.02);

  // All hot: there is no cold part, accesses spread over the whole region.
  p.hot_fraction = 1.0;
  p.hot_access_fraction = 0.5;
  std::set<Addr> seen;
  for (const auto& a : generate(p, 0)) seen.insert(a.addr);
  EXPECT_EQ(seen.size(), 64u);

  // hot_access_fraction 0 and 1 are exact.
  p.hot_fraction = 0.25;  // 16 slots = 1024 bytes
  p.hot_access_fraction = 0.0;
  for (const auto& a : generate(p, 0)) ASSERT_GE(a.addr, 1024u);
  p.hot_access_fraction = 1.0;
  for (const auto& a : generate(p, 0)) ASSERT_LT(a.addr, 1024u);
}

TEST(TracesGenerator, RegionBeyondAddressSpaceIsAnError) {
  auto p = params("uniform");
  p.working_set_bytes = std::uint64_t{1} << 62;
  EXPECT_NO_THROW(make_generator(p, 3));  // the last region ends exactly at 2^64
  try {
    make_generator(p, 4);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vCPU 4 does not fit in 64-bit addresses"), std::string::npos) << e.what();
  }
  p.shared = true;
  EXPECT_NO_THROW(make_generator(p, 100));
}

// ---- generator config ---------------------------------------------------------

/// The generator section given as JSON text, parsed as a config file is: a
/// literal such as 5 is then an unsigned number, as Cfg::u64 expects.
json config_doc(const std::string& generator) {
  return json::parse(R"({"workload": {"generator": )" + generator + "}}");
}

/// Reads the generator section as the simulator does, then checks for unknown keys.
GeneratorParams parse(ConfigTracker& tracker) {
  Cfg root(tracker);
  auto p = GeneratorParams::from(root.section("workload").section("generator"));
  tracker.check_unknown();
  return p;
}

GeneratorParams parse(const std::string& generator) {
  ConfigTracker tracker(config_doc(generator), "test.json");
  return parse(tracker);
}

std::string config_error(const std::string& generator) {
  try {
    parse(generator);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TracesGeneratorConfig, DefaultsMatchTheStruct) {
  ConfigTracker tracker(config_doc("{}"), "test.json");
  const auto p = parse(tracker);
  const GeneratorParams d;
  EXPECT_EQ(p.pattern, d.pattern);
  EXPECT_EQ(p.working_set_bytes, d.working_set_bytes);
  EXPECT_EQ(p.accesses_per_vcpu, d.accesses_per_vcpu);
  EXPECT_EQ(p.write_fraction, d.write_fraction);
  EXPECT_EQ(p.seed, d.seed);
  EXPECT_EQ(p.base, d.base);
  EXPECT_EQ(p.shared, d.shared);
  EXPECT_EQ(p.stride, d.stride);
  EXPECT_EQ(p.hot_fraction, d.hot_fraction);
  EXPECT_EQ(p.hot_access_fraction, d.hot_access_fraction);
  EXPECT_EQ(p.gap_cycles, d.gap_cycles);
  EXPECT_EQ(p.access_size, d.access_size);
  EXPECT_EQ(p.sync_every, d.sync_every);
  EXPECT_EQ(p.sync_addr, d.sync_addr);
  // Every key was read, so the effective config shows all fourteen.
  const json& eff = tracker.effective()["workload"]["generator"];
  EXPECT_EQ(eff.size(), 14u) << eff.dump();
  EXPECT_EQ(eff["pattern"], "uniform");
  EXPECT_EQ(eff["working_set_bytes"], 1u << 20);
}

TEST(TracesGeneratorConfig, EveryKeyIsReadAndParsed) {
  // Keys of other patterns are read too, so none is "unknown" (parse() checks).
  const std::string g = R"({
      "pattern": "sequential", "working_set_bytes": "16MiB", "accesses_per_vcpu": 5000,
      "write_fraction": 0.5, "seed": 42, "base": "0x40000000", "shared": true,
      "stride": "4KiB", "hot_fraction": 0.2, "hot_access_fraction": 0.8,
      "gap_cycles": 4294967295, "access_size": 4096})";
  const auto p = parse(g);
  EXPECT_EQ(p.pattern, "sequential");
  EXPECT_EQ(p.working_set_bytes, 16u << 20);
  EXPECT_EQ(p.accesses_per_vcpu, 5000u);
  EXPECT_EQ(p.write_fraction, 0.5);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_EQ(p.base, 0x40000000u);
  EXPECT_TRUE(p.shared);
  EXPECT_EQ(p.stride, 4096u);
  EXPECT_EQ(p.hot_fraction, 0.2);
  EXPECT_EQ(p.hot_access_fraction, 0.8);
  EXPECT_EQ(p.gap_cycles, 4294967295u);
  EXPECT_EQ(p.access_size, 4096u);
}

TEST(TracesGeneratorConfig, UnknownKeyIsStillReported) {
  EXPECT_EQ(config_error(R"({"strid": 64})").rfind("test.json: unknown key 'workload.generator.strid'", 0), 0u);
}

TEST(TracesGeneratorConfig, ValidationErrorsNameTheKey) {
  const std::string k = "test.json: workload.generator.";
  struct Case {
    std::string generator;  // JSON
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"pattern": "zigzag"})", k + "pattern: expected one of uniform, sequential, hot_cold, got \"zigzag\""},
      {R"({"access_size": 3})", k + "access_size: expected a power of two from 1 to 4096, got 3"},
      {R"({"access_size": 0})", k + "access_size: expected a power of two from 1 to 4096, got 0"},
      {R"({"access_size": 8192})", k + "access_size: expected a power of two from 1 to 4096, got 8192"},
      {R"({"gap_cycles": 4294967296})", k + "gap_cycles: expected a cycle count from 0 to 4294967295, got 4294967296"},
      {R"({"working_set_bytes": 0})", k + "working_set_bytes: expected a non-zero multiple of access_size (8), got 0"},
      {R"({"working_set_bytes": 32, "access_size": 64, "stride": 64})",
       k + "working_set_bytes: expected a non-zero multiple of access_size (64), got 32"},
      {R"({"working_set_bytes": 100})",
       k + "working_set_bytes: expected a non-zero multiple of access_size (8), got 100"},
      {R"({"stride": 0})", k + "stride: expected a non-zero multiple of access_size (8), got 0"},
      {R"({"stride": 12})", k + "stride: expected a non-zero multiple of access_size (8), got 12"},
      {R"({"base": 4})", k + "base: expected a multiple of access_size (8), got 4"},
      {R"({"base": "0xfffffffffffff000", "working_set_bytes": 8192})",
       k + "base: expected base + working_set_bytes to fit in 64-bit addresses, got base "
           "18446744073709547520"},
      {R"({"write_fraction": -0.1})", k + "write_fraction: expected a number from 0 to 1, got -0.1"},
      {R"({"write_fraction": 1.5})", k + "write_fraction: expected a number from 0 to 1, got 1.5"},
      {R"({"hot_fraction": 0})", k + "hot_fraction: expected a number greater than 0 and at most 1, got 0.0"},
      {R"({"hot_fraction": 1.5})", k + "hot_fraction: expected a number greater than 0 and at most 1, got 1.5"},
      {R"({"hot_access_fraction": 1.01})", k + "hot_access_fraction: expected a number from 0 to 1, got 1.01"},
      {R"({"shared": "yes"})", k + "shared: expected true or false, got string \"yes\""},
      {R"({"working_set_bytes": "lots"})",
       k + "working_set_bytes: expected a byte count (a non-negative integer, or a string such "
           "as \"0x1000\", \"16MiB\", \"1GiB\"), got \"lots\""},
  };
  for (const auto& c : cases) EXPECT_EQ(config_error(c.generator), c.message) << c.generator;
  // Boundaries that are valid.
  EXPECT_EQ(config_error(R"({"write_fraction": 0, "hot_fraction": 1, "hot_access_fraction": 1,
                             "working_set_bytes": 8, "stride": 1024})"),
            "(no error)");
}

// ---- text traces ----------------------------------------------------------------

/// A directory of scratch files, unique to this process (CTest runs tests in
/// parallel), removed afterwards.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("vmxsim_test_traces_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

std::string data_file(const std::string& name) { return std::string(VMXSIM_SOURCE_DIR) + "/tests/data/" + name; }

std::vector<Access> read_vcpu(const std::string& path, unsigned vcpu, std::size_t batch = kBatch) {
  return drain(*open_text_trace(path, vcpu), batch);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TracesTextTrace, ParsesTheSample) {
  const std::string path = data_file("traces_sample.trace");
  const std::vector<std::string> vcpu0 = {"R 0x1000 8 0", "X 0xabcdef 16 100", "R 0x10 1 0"};
  const std::vector<std::string> vcpu1 = {"W 0x2000 4 0", "W 0xffffffffffff0000 4096 4294967295"};
  EXPECT_EQ(describe(read_vcpu(path, 0)), vcpu0);
  EXPECT_EQ(describe(read_vcpu(path, 1)), vcpu1);
  EXPECT_EQ(describe(read_vcpu(path, 0, 1)), vcpu0);  // any batch size
  EXPECT_TRUE(read_vcpu(path, 2).empty());            // a vCPU with no lines

  const TraceInfo info = validate_text_trace(path, 2);
  EXPECT_EQ(info.accesses, 5u);
  EXPECT_EQ(info.per_vcpu, (std::vector<std::uint64_t>{3, 2}));
  EXPECT_EQ(validate_text_trace(path, 4).per_vcpu, (std::vector<std::uint64_t>{3, 2, 0, 0}));
  EXPECT_EQ(error_of([&] { validate_text_trace(path, 1); }), path + ":4: vCPU 1 is out of range (cpu.vcpus is 1)");
}

TEST(TracesTextTrace, BadSampleFromDataDirectory) {
  const std::string path = data_file("traces_bad_type.trace");
  const std::string msg = path + ":3: expected access type R, W or X, got 'Q'";
  EXPECT_EQ(error_of([&] { validate_text_trace(path, 1); }), msg);
  EXPECT_EQ(error_of([&] { read_vcpu(path, 0); }), msg);
  // A reader of another vCPU parses only the first field of vCPU 0's lines
  // (validate_text_trace is the full check).
  EXPECT_TRUE(read_vcpu(path, 1).empty());
}

TEST(TracesTextTrace, EndOfLineVariants) {
  TempDir tmp;
  // CRLF, no newline at the end, trailing blanks, a comment right after a field.
  // Leading zeros beyond 16 hex / 19 decimal digits are still numbers.
  const std::string path =
      tmp.write("eol.trace",
                "0 R 10\r\n\r\n0 W 0x20 4 5  \t\n0 x 30#c\n00000000000000000000 R 0x000000000000000000ff "
                "0008 000000000000000000000000007\n0 R 40");
  EXPECT_EQ(describe(read_vcpu(path, 0)),
            (std::vector<std::string>{"R 0x10 8 0", "W 0x20 4 5", "X 0x30 8 0", "R 0xff 8 7", "R 0x40 8 0"}));
  EXPECT_EQ(validate_text_trace(path, 1).accesses, 5u);
  EXPECT_EQ(validate_text_trace(tmp.write("empty.trace", ""), 1).accesses, 0u);
  EXPECT_TRUE(read_vcpu(tmp.write("comments.trace", "# only\n\n   \n"), 0).empty());
}

TEST(TracesTextTrace, ErrorsGiveFileLineAndWhatWasExpected) {
  struct Case {
    std::string line;
    std::string message;
    bool vcpu0_reader_sees_it;  // is it on a line the vCPU 0 reader parses?
  };
  const std::string long_field(100, 'z');
  const std::vector<Case> cases = {
      {"0 Q 0x10", "expected access type R, W or X, got 'Q'", true},
      {"0 RW 0x10", "expected access type R, W or X, got 'RW'", true},
      {"0", "expected access type R, W or X, got end of line", true},
      {"0 # R 10", "expected access type R, W or X, got end of line", true},
      {"0 R", "expected a hex address, got end of line", true},
      {"0 W zz", "expected a hex address, got 'zz'", true},
      {"0 W 0x", "expected a hex address, got '0x'", true},
      {"0 W -1", "expected a hex address, got '-1'", true},
      {"0 W 12g4", "expected a hex address, got '12g4'", true},
      {"0 R " + long_field, "expected a hex address, got '" + long_field.substr(0, 40) + "...'", true},
      {"0 W 0x10000000000000000", "expected a hex address of at most 64 bits, got '0x10000000000000000'", true},
      {"0 W 0x" + std::string(17, '0') + "x", "expected a hex address, got '0x" + std::string(17, '0') + "x'", true},
      {"0 R 10 0", "expected a size from 1 to 4096 bytes (decimal), got '0'", true},
      {"0 R 10 4097", "expected a size from 1 to 4096 bytes (decimal), got '4097'", true},
      {"0 R 10 0x8", "expected a size from 1 to 4096 bytes (decimal), got '0x8'", true},
      {"0 R 10 8 4294967296", "expected a gap from 0 to 4294967295 cycles (decimal), got '4294967296'", true},
      {"0 R 10 8 -1", "expected a gap from 0 to 4294967295 cycles (decimal), got '-1'", true},
      {"0 R 10 8 0 extra", "expected end of line after the gap, got 'extra'", true},
      {"x R 10", "expected a decimal vCPU number, got 'x'", true},
      {"-1 R 10", "expected a decimal vCPU number, got '-1'", true},
      {"1.0 R 10", "expected a decimal vCPU number, got '1.0'", true},
      {"0 R 10 8 99999999999999999999",
       "expected a gap from 0 to 4294967295 cycles (decimal), "
       "got '99999999999999999999'",
       true},
      {"4 R 10", "vCPU 4 is out of range (cpu.vcpus is 4)", false},
      {"99999999999999999999999 R 10", "vCPU 99999999999999999999999 is out of range (cpu.vcpus is 4)", false},
  };
  TempDir tmp;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    // Good lines, a comment and a blank line first: the error is on line 5.
    const std::string path = tmp.write("bad.trace", "0 R 1000\n# comment\n\n1 W 2000 8 3\n" + c.line + "\n0 R 3000\n");
    const std::string expected = path + ":5: " + c.message;
    EXPECT_EQ(error_of([&] { validate_text_trace(path, 4); }), expected);
    if (c.vcpu0_reader_sees_it) {
      EXPECT_EQ(error_of([&] { read_vcpu(path, 0); }), expected);
      // The accesses before the bad line are delivered first.
      auto src = open_text_trace(path, 0);
      Access a;
      ASSERT_EQ(src->next(&a, 1), 1u);
      EXPECT_EQ(describe(a), "R 0x1000 8 0");
    } else {
      EXPECT_EQ(read_vcpu(path, 0).size(), 2u);
    }
  }
}

TEST(TracesTextTrace, UnreadableFiles) {
  const std::string missing = "/nonexistent/vmxsim/missing.trace";
  EXPECT_EQ(error_of([&] { validate_text_trace(missing, 1); }), missing + ": cannot open trace file");
  EXPECT_EQ(error_of([&] { open_text_trace(missing, 0); }), missing + ": cannot open trace file");
  TempDir tmp;
  EXPECT_EQ(error_of([&] { validate_text_trace(tmp.path(), 1); }), tmp.path() + ": cannot read trace file");
}

TEST(TracesTextTrace, LinesLongerThanTheReadBuffer) {
  TempDir tmp;
  const std::string long_comment = "# " + std::string(300 * 1024, 'c') + "\n";
  const std::string path = tmp.write("long.trace", "0 R 10\n" + long_comment + "0 W 20\n" + long_comment + "0 Q 30\n");
  EXPECT_EQ(error_of([&] { validate_text_trace(path, 1); }), path + ":5: expected access type R, W or X, got 'Q'");
  auto src = open_text_trace(path, 0);
  Access a[2];
  ASSERT_EQ(src->next(a, 2), 2u);
  EXPECT_EQ(describe(a[1]), "W 0x20 8 0");
}

TEST(TracesTextTrace, LargeFileStreamsCorrectly) {
  constexpr unsigned kVcpus = 4;
  constexpr std::size_t kLines = 200000;
  const char kTypes[] = "RWX";
  TempDir tmp;
  const std::string path = (fs::path(tmp.path()) / "large.trace").string();
  // Line i: vCPU i % 4, varied forms (0x or not, optional fields, comments).
  auto expected = [&](std::size_t i) {
    Access a;
    a.type = static_cast<AccessType>(i % 3);
    a.addr = 0x7f0000000000ull + i * 64;
    a.size = i % 5 == 0 ? 8 : static_cast<std::uint16_t>(1u << (i % 13));
    a.gap = i % 5 < 2 ? 0 : static_cast<std::uint32_t>(i * 7);
    return a;
  };
  {
    std::ofstream out(path);
    for (std::size_t i = 0; i < kLines; ++i) {
      const Access a = expected(i);
      out << i % kVcpus << (i % 2 ? '\t' : ' ') << kTypes[i % 3] << ' ' << (i % 4 ? "0x" : "") << std::hex << a.addr
          << std::dec;
      if (i % 5 != 0) out << ' ' << a.size;
      if (i % 5 >= 2) out << ' ' << a.gap;
      if (i % 7 == 0) out << "  # note";
      out << '\n';
      if (i % 1000 == 0) out << "# checkpoint\n\n";
    }
  }
  const TraceInfo info = validate_text_trace(path, kVcpus);
  EXPECT_EQ(info.accesses, kLines);
  EXPECT_EQ(info.per_vcpu, std::vector<std::uint64_t>(kVcpus, kLines / kVcpus));

  auto src = open_text_trace(path, 2);
  std::vector<Access> buf(kBatch);
  std::size_t i = 2;
  while (std::size_t n = src->next(buf.data(), buf.size())) {
    for (std::size_t k = 0; k < n; ++k, i += kVcpus)
      ASSERT_EQ(describe(buf[k]), describe(expected(i))) << "line of access " << i;
  }
  EXPECT_EQ(i, kLines + 2);
}

}  // namespace
}  // namespace vmxsim::traces

TEST(TracesGenerator, SyncWritesComeAfterEverySyncEveryAccesses) {
  using namespace vmxsim;
  using namespace vmxsim::traces;
  GeneratorParams p;
  p.pattern = "sequential";
  p.working_set_bytes = 4 * 4096;
  p.stride = 4096;
  p.write_fraction = 1;
  p.accesses_per_vcpu = 11;
  p.sync_every = 4;
  p.sync_addr = 0xfff000;
  auto src = make_generator(p, 0);
  Access a[16];
  ASSERT_EQ(src->next(a, 16), 11u);
  for (unsigned i = 0; i < 11; ++i) {
    const bool sync = i == 4 || i == 9;  // after accesses 0-3 and 5-8
    EXPECT_EQ(a[i].addr == 0xfff000, sync) << i;
    EXPECT_EQ(a[i].type, AccessType::Write);
  }
  EXPECT_EQ(a[5].addr, 0u);  // the pattern resumes where it was: page 4 wraps to page 0
}
