// Lackey (`valgrind --tool=lackey --trace-mem=yes`) prints one access a line:
//
//   I  0400d7d4,8      an instruction fetch: 'I' in column 0, then two spaces
//    S 04222cac,4      a data store: ' ', 'L' (load), 'S' (store) or 'M' (modify)
//
// with the address in hex and the size in decimal. Anything else (valgrind's
// `==pid==` banners, blank lines, the program's own output) is skipped.
//
// An access larger than the simulator takes (4 KiB) is split into 4 KiB
// pieces; an access crossing a page stays whole (the vCPU translates both pages).
#include "traces/lackey.hpp"

#include <deque>
#include <limits>
#include <memory>

#include "sim/error.hpp"
#include "traces/line_reader.hpp"

namespace vmxsim::traces {

namespace {

constexpr std::uint64_t kMaxPiece = kPageSize4K;  // the largest access a trace record holds
constexpr std::size_t kMarkerWidth = 3;           // "I  " or " L ": the kind, then the address
constexpr std::size_t kMaxQuoted = 40;
constexpr unsigned kMaxHexDigits = 16;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// One input: its lines turned into accesses, with the guest time of each.
class LackeyInput {
 public:
  LackeyInput(const std::string& path, std::uint32_t gap_cycles, LackeyStats& stats)
      : lines_(path), gap_cycles_(gap_cycles), stats_(stats) {}

  /// The next access and its guest time; false at the end of the input.
  bool peek(Access& a, std::uint64_t& time) {
    if (pending_.empty() && !read_access()) return false;
    a = pending_.front().first;
    time = pending_.front().second;
    return true;
  }
  void pop() { pending_.pop_front(); }

 private:
  /// Reads lines up to the next access line; queues its accesses.
  bool read_access() {
    std::string_view line;
    while (lines_.next(line)) {
      ++stats_.lines;
      AccessType type;
      bool modify = false;
      if (line.size() >= 2 && line[0] == 'I' && line[1] == ' ') {
        type = AccessType::Exec;
      } else if (line.size() >= kMarkerWidth && line[0] == ' ' && line[2] == ' ' &&
                 (line[1] == 'L' || line[1] == 'S' || line[1] == 'M')) {
        type = line[1] == 'S' ? AccessType::Write : AccessType::Read;
        modify = line[1] == 'M';
      } else {
        ++stats_.skipped_lines;
        continue;
      }
      const char kind = line[0] == 'I' ? 'I' : line[1];
      Addr addr = 0;
      std::uint64_t size = 0;
      parse(line.substr(2), kind, addr, size);
      queue(addr, size, type, type == AccessType::Exec ? gap_cycles_ : 0);
      if (modify) queue(addr, size, AccessType::Write, 0);
      return true;
    }
    return false;
  }

  /// `<spaces><hex address>,<decimal size><spaces>`.
  void parse(std::string_view rest, char kind, Addr& addr, std::uint64_t& size) const {
    std::size_t i = 0;
    while (i < rest.size() && rest[i] == ' ') ++i;
    const std::string_view text = rest.substr(i);
    const auto bad = [&] {
      const std::string shown = text.empty()               ? "end of line"
                                : text.size() > kMaxQuoted ? "'" + std::string(text.substr(0, kMaxQuoted)) + "...'"
                                                           : "'" + std::string(text) + "'";
      fail(std::string("expected <hex address>,<decimal size> after '") + kind + "', got " + shown);
    };
    const std::size_t digits_start = i;
    for (; i < rest.size() && hex_digit(rest[i]) >= 0; ++i) {
      if (i - digits_start == kMaxHexDigits) bad();
      addr = (addr << 4) | static_cast<unsigned>(hex_digit(rest[i]));
    }
    if (i == digits_start || i == rest.size() || rest[i] != ',') bad();
    const std::size_t size_start = ++i;
    constexpr std::uint64_t kSizeLimit = std::numeric_limits<std::uint32_t>::max();
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
      size = size * 10 + static_cast<unsigned>(rest[i] - '0');
      if (size > kSizeLimit) bad();
    }
    if (i == size_start) bad();
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
    if (i != rest.size()) bad();
    if (size == 0) fail(std::string("expected a size of at least 1 byte after '") + kind + "', got 0");
  }

  /// Queues one lackey access as records of at most kMaxPiece bytes.
  void queue(Addr addr, std::uint64_t size, AccessType type, std::uint32_t gap) {
    if (size > kMaxPiece) ++stats_.split_accesses;
    for (std::uint64_t done = 0; done < size; done += kMaxPiece) {
      const auto piece = static_cast<std::uint16_t>(std::min(kMaxPiece, size - done));
      const std::uint32_t g = done == 0 ? gap : 0;
      time_ += std::uint64_t{g} + 1;  // + 1: the access itself (cpu.access_cycles' default)
      pending_.emplace_back(Access{addr + done, g, piece, type}, time_);
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(lines_.path() + ":" + std::to_string(lines_.line_no()) + ": " + what);
  }

  LineReader lines_;
  std::uint32_t gap_cycles_;
  LackeyStats& stats_;
  std::uint64_t time_ = 0;
  std::deque<std::pair<Access, std::uint64_t>> pending_;  // one line's records
};

}  // namespace

LackeyStats import_lackey(const std::vector<std::string>& inputs, const LackeyOptions& options, RecordWriter& out) {
  LackeyStats stats;
  std::vector<std::unique_ptr<LackeyInput>> in;
  for (const auto& path : inputs) in.push_back(std::make_unique<LackeyInput>(path, options.gap_cycles, stats));
  Record r;
  std::uint64_t time = 0;
  if (options.interleave == Interleave::kRoundRobin) {
    for (bool any = true; any;) {
      any = false;
      for (std::uint32_t k = 0; k < in.size(); ++k) {
        if (!in[k]->peek(r.access, time)) continue;
        in[k]->pop();
        r.vcpu = k;
        out.write(r);
        ++stats.records;
        any = true;
      }
    }
  } else {
    // The earliest pending record; ties go to the lower input. A linear scan:
    // inputs are few (at most kMaxTraceVcpus).
    for (;;) {
      std::uint32_t best = 0;
      std::uint64_t best_time = std::numeric_limits<std::uint64_t>::max();
      bool any = false;
      Access a;
      for (std::uint32_t k = 0; k < in.size(); ++k)
        if (in[k]->peek(a, time) && (!any || time < best_time)) {
          best = k;
          best_time = time;
          r.access = a;
          any = true;
        }
      if (!any) break;
      in[best]->pop();
      r.vcpu = best;
      out.write(r);
      ++stats.records;
    }
  }
  return stats;
}

}  // namespace vmxsim::traces
