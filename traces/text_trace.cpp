// Text trace v1: one access per line,
//
//   <vcpu> <R|W|X> <hex addr> [size] [gap_cycles]     # optional comment
//
// Fields are separated by spaces or tabs; `#` starts a comment (whole line or
// trailing); blank lines are ignored; a trailing '\r' (CRLF files) is dropped.
// vcpu is decimal; the type is case-insensitive; the address is hex with or
// without 0x; size is decimal 1..4096 (default 8); gap is decimal 0..2^32-1
// (default 0). Errors read "<path>:<line>: <what was expected>".
//
// Files are read in fixed chunks and never held whole in memory; each line is
// parsed in place.
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "sim/error.hpp"
#include "traces/format.hpp"
#include "traces/line_reader.hpp"
#include "traces/source.hpp"
#include "traces/trace_file.hpp"

namespace vmxsim::traces {

namespace {

constexpr std::uint64_t kMaxAccessSize = kPageSize4K;
constexpr std::uint16_t kDefaultSize = 8;  // the format's defaults
constexpr std::uint32_t kDefaultGap = 0;
constexpr std::size_t kMaxQuoted = 40;  // longer bad fields are cut in messages
constexpr std::uint64_t kMaxGap = std::numeric_limits<std::uint32_t>::max();

/// A field as shown in an error message.
std::string quoted(std::string_view field) {
  if (field.empty()) return "end of line";
  if (field.size() > kMaxQuoted) return "'" + std::string(field.substr(0, kMaxQuoted)) + "...'";
  return "'" + std::string(field) + "'";
}

enum class Num { Ok, Bad, TooLarge };

constexpr std::uint8_t kNotHex = 0xFF;

/// Hex digit values by character, kNotHex for others: a table rather than
/// range tests, whose branches mispredict on the random digits of addresses.
constexpr std::array<std::uint8_t, 256> make_hex_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kNotHex;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<std::uint8_t>(10 + i);
    t['A' + i] = static_cast<std::uint8_t>(10 + i);
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kHexValue = make_hex_table();

constexpr std::uint8_t kNotType = 0xFF;

/// AccessType by character (R, W, X either case), kNotType for others: a
/// lookup, because a branch on the type mispredicts on every mixed trace.
constexpr std::array<std::uint8_t, 256> make_type_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kNotType;
  for (const AccessType type : {AccessType::Read, AccessType::Write, AccessType::Exec}) {
    const char c = access_char(type);
    t[static_cast<unsigned char>(c)] = static_cast<std::uint8_t>(type);
    t[static_cast<unsigned char>(c - 'A' + 'a')] = static_cast<std::uint8_t>(type);
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kTypeValue = make_type_table();

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool ends_field(char c) { return is_blank(c) || c == '#'; }

/// Walks the fields of one line; a `#` ends the line. Numbers are parsed in
/// the pass that finds the end of their field, with hand-written digit loops:
/// one loop per field instead of two, and libstdc++'s from_chars (any base) is
/// slower still. Number parsing is most of the cost of a trace line.
///
/// The loops work on local copies of the cursor: a store to a member followed
/// by a char load (which may alias it) would force a memory round trip per
/// character.
class Fields {
 public:
  explicit Fields(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {}

  /// The next field, or empty at the end of the line (or at a comment).
  std::string_view next() {
    const char* p = skip_blanks();
    while (p != end_ && !ends_field(*p)) ++p;
    return take(p);
  }

  /// The next field as a decimal number. `field` is its text: empty if the
  /// line has no more fields (then the result is Bad).
  Num dec(std::uint64_t& out, std::string_view& field) {
    // Any number of up to 19 decimal digits fits in 64 bits (2^64 has 20).
    constexpr std::ptrdiff_t kSafeDecimalDigits = std::numeric_limits<std::uint64_t>::digits10;
    const char* const digits = skip_blanks();
    const char* const end = end_;
    const char* p = digits;
    std::uint64_t v = 0;
    for (; p != end; ++p) {
      const unsigned digit = static_cast<unsigned char>(*p) - unsigned{'0'};
      if (digit > 9) break;
      v = v * 10 + digit;  // may wrap: checked below, off the common path
    }
    bool overflow = false;
    if (p - digits > kSafeDecimalDigits) {
      std::uint64_t w = 0;
      for (const char* q = digits; q != p; ++q) {
        overflow |= __builtin_mul_overflow(w, 10u, &w);
        overflow |= __builtin_add_overflow(w, static_cast<unsigned>(*q - '0'), &w);
      }
    }
    return finish(digits, p, v, overflow, out, field);
  }

  /// The next field as a hex number, with or without 0x; as dec().
  Num hex(std::uint64_t& out, std::string_view& field) {
    constexpr unsigned kBitsPerDigit = 4;
    constexpr std::ptrdiff_t kMaxHexDigits = 64 / kBitsPerDigit;
    const char* digits = skip_blanks();
    const char* const end = end_;
    if (end - digits > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits += 2;
    const char* p = digits;
    std::uint64_t v = 0;
    for (; p != end; ++p) {
      const std::uint8_t digit = kHexValue[static_cast<unsigned char>(*p)];
      if (digit == kNotHex) break;
      v = (v << kBitsPerDigit) | digit;  // may drop high digits: checked below
    }
    bool overflow = false;
    if (p - digits > kMaxHexDigits) {
      const char* first = digits;
      while (first != p && *first == '0') ++first;  // leading zeros are harmless
      overflow = p - first > kMaxHexDigits;
    }
    return finish(digits, p, v, overflow, out, field);
  }

 private:
  /// Moves to the start of the next field and returns it.
  const char* skip_blanks() {
    const char* p = p_;
    while (p != end_ && is_blank(*p)) ++p;
    p_ = p;
    return p;
  }

  /// Ends the current field at `p`; a '#' there ends the line.
  std::string_view take(const char* p) {
    if (p != end_ && *p == '#') end_ = p;
    const std::string_view field(p_, static_cast<std::size_t>(p - p_));
    p_ = p;
    return field;
  }

  /// Digits [digits, p) were read as `v`: they must be all of the field.
  Num finish(const char* digits, const char* p, std::uint64_t v, bool overflow, std::uint64_t& out,
             std::string_view& field) {
    const bool whole = p != digits && (p == end_ || ends_field(*p));
    while (p != end_ && !ends_field(*p)) ++p;  // the whole field, for messages
    field = take(p);
    if (!whole) return Num::Bad;
    if (overflow) return Num::TooLarge;
    out = v;
    return Num::Ok;
  }

  const char* p_;
  const char* end_;
};

/// A text trace being read: lines with accesses, parsed in two steps so that a
/// reader of one vCPU can skip other vCPUs' lines after the first field.
class TraceReader {
 public:
  explicit TraceReader(const std::string& path) : lines_(path) {}

  /// Advances to the next line holding an access and parses its vCPU field
  /// (`vcpu_text` keeps the text for messages); false at the end of the file.
  bool next_line(std::uint64_t& vcpu, std::string_view& vcpu_text) {
    std::string_view line;
    while (lines_.next(line)) {
      fields_ = Fields(line);
      const Num n = fields_.dec(vcpu, vcpu_text);
      if (vcpu_text.empty()) continue;  // blank or comment
      if (n == Num::Bad) fail("expected a decimal vCPU number, got " + quoted(vcpu_text));
      if (n == Num::TooLarge) vcpu = std::numeric_limits<std::uint64_t>::max();  // no such vCPU
      return true;
    }
    return false;
  }

  /// Parses the rest of the current line.
  Access parse_rest() {
    Access a;
    a.size = kDefaultSize;
    a.gap = kDefaultGap;
    const std::string_view type = fields_.next();
    const std::uint8_t t = type.size() == 1 ? kTypeValue[static_cast<unsigned char>(type[0])] : kNotType;
    if (t == kNotType) fail("expected access type R, W or X, got " + quoted(type));
    a.type = static_cast<AccessType>(t);

    std::string_view field;
    switch (fields_.hex(a.addr, field)) {
      case Num::Ok: break;
      case Num::TooLarge: fail("expected a hex address of at most 64 bits, got " + quoted(field));
      case Num::Bad: fail("expected a hex address, got " + quoted(field));
    }

    std::uint64_t n = 0;
    Num r = fields_.dec(n, field);
    if (field.empty()) return a;  // default size and gap
    if (r != Num::Ok || n == 0 || n > kMaxAccessSize)
      fail("expected a size from 1 to " + std::to_string(kMaxAccessSize) + " bytes (decimal), got " + quoted(field));
    a.size = static_cast<std::uint16_t>(n);

    r = fields_.dec(n, field);
    if (field.empty()) return a;  // default gap
    if (r != Num::Ok || n > kMaxGap)
      fail("expected a gap from 0 to " + std::to_string(kMaxGap) + " cycles (decimal), got " + quoted(field));
    a.gap = static_cast<std::uint32_t>(n);

    field = fields_.next();
    if (!field.empty()) fail("expected end of line after the gap, got " + quoted(field));
    return a;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(lines_.path() + ":" + std::to_string(lines_.line_no()) + ": " + what);
  }

 private:
  LineReader lines_;
  Fields fields_{std::string_view()};
};

class TextTraceSource final : public Source {
 public:
  TextTraceSource(const std::string& path, unsigned vcpu) : reader_(path), vcpu_(vcpu) {}

  std::size_t next(Access* out, std::size_t n) override {
    std::size_t count = 0;
    std::uint64_t v = 0;
    std::string_view text;
    // Other vCPUs' lines are checked only as far as their first field;
    // validate_text_trace checks every field of every line.
    while (count < n && !done_) {
      if (!reader_.next_line(v, text)) {
        done_ = true;
      } else if (v == vcpu_) {
        out[count++] = reader_.parse_rest();
      }
    }
    return count;
  }

 private:
  TraceReader reader_;
  std::uint64_t vcpu_;
  bool done_ = false;
};

/// Every record of a text trace, vCPUs limited to what a trace file may use.
class TextRecordReader final : public RecordReader {
 public:
  explicit TextRecordReader(const std::string& path) : reader_(path) {}

  std::size_t next(Record* out, std::size_t n) override {
    std::size_t count = 0;
    std::uint64_t v = 0;
    std::string_view text;
    while (count < n && reader_.next_line(v, text)) {
      if (v >= kMaxTraceVcpus)
        reader_.fail("vCPU " + std::string(text) + " is out of range (a trace has at most " +
                     std::to_string(kMaxTraceVcpus) + " vCPUs)");
      out[count].vcpu = static_cast<std::uint32_t>(v);
      out[count].access = reader_.parse_rest();
      ++count;
    }
    return count;
  }
  unsigned declared_vcpus() const override { return 0; }

 private:
  TraceReader reader_;
};

constexpr std::size_t kWriteBuffer = 1 << 20;

/// Writes the canonical form: `<vcpu> <R|W|X> 0x<lower-case hex> <size> <gap>`,
/// every field present, one space between fields, LF line ends.
class TextWriter final : public RecordWriter {
 public:
  explicit TextWriter(std::string path) : path_(std::move(path)), file_(std::fopen(path_.c_str(), "wb"), &std::fclose) {
    if (!file_) throw Error(path_ + ": cannot write trace file");
    std::setvbuf(file_.get(), nullptr, _IOFBF, kWriteBuffer);
  }
  void write(const Record& r) override {
    const Access& a = r.access;
    std::fprintf(file_.get(), "%u %c 0x%llx %u %u\n", unsigned{r.vcpu}, access_char(a.type),
                 static_cast<unsigned long long>(a.addr), unsigned{a.size}, unsigned{a.gap});
  }
  void finish() override {
    std::FILE* f = file_.release();
    const bool bad = std::ferror(f) != 0;
    if ((std::fclose(f) != 0) | bad) throw Error(path_ + ": error writing trace file");
  }

 private:
  std::string path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
};

}  // namespace

std::unique_ptr<RecordReader> open_text_records(const std::string& path) {
  return std::make_unique<TextRecordReader>(path);
}

std::unique_ptr<RecordWriter> create_text_trace(const std::string& path) { return std::make_unique<TextWriter>(path); }

TraceInfo validate_text_trace(const std::string& path, unsigned vcpus) {
  TraceInfo info;
  info.per_vcpu.assign(vcpus, 0);
  TraceReader reader(path);
  std::uint64_t v = 0;
  std::string_view text;
  while (reader.next_line(v, text)) {
    if (v >= vcpus)
      reader.fail("vCPU " + std::string(text) + " is out of range (cpu.vcpus is " + std::to_string(vcpus) + ")");
    reader.parse_rest();
    ++info.per_vcpu[v];
    ++info.accesses;
  }
  return info;
}

std::unique_ptr<Source> open_text_trace(const std::string& path, unsigned vcpu) {
  return std::make_unique<TextTraceSource>(path, vcpu);
}

}  // namespace vmxsim::traces

namespace vmxsim::traces {

// The fallback: any file no other format claims is text.
VMXSIM_REGISTER(
    FormatRegistry, "text",
    "text v1, one access a line: <vcpu> <R|W|X> <hex addr> [size] [gap_cycles]; any name no other format claims",
    TraceFormat{nullptr, "text v1", false, open_text_records,
                [](const std::string& path, unsigned) { return create_text_trace(path); }, validate_text_trace,
                open_text_trace, nullptr});

}  // namespace vmxsim::traces
