// The `.vtr` binary trace format v1: see traces/vtr.hpp and docs/traces.md.
//
// Records are delta-encoded against the previous record of the same vCPU
// (address, size, gap) so a typical access takes 2-4 bytes before zstd. Both
// directions stream through fixed buffers: the writer compresses a buffer of
// encoded records at a time, the reader decompresses into a buffer and parses
// records in place, carrying a partial record over to the next refill.
#include "traces/vtr.hpp"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "sim/error.hpp"
#include "traces/format.hpp"

namespace vmxsim::traces {

namespace {

using namespace vtr;

constexpr std::uint64_t kMaxSize = kPageSize4K;  // as text v1: 1..4096 bytes
constexpr std::uint64_t kMaxGap = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kEncodeBuffer = 64 * 1024;  // encoded records per compression call
constexpr std::size_t kWriteBuffer = 1 << 20;

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

inline std::uint64_t zigzag(std::uint64_t delta) {
  return (delta << 1) ^ (0 - (delta >> 63));  // two's complement sign spread
}
inline std::uint64_t unzigzag(std::uint64_t u) { return (u >> 1) ^ (0 - (u & 1)); }

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  constexpr unsigned kBits = 7;
  constexpr std::uint8_t kMore = 0x80;
  while (v >= kMore) {
    *p++ = static_cast<std::uint8_t>(v) | kMore;
    v >>= kBits;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint16_t get_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t get_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

/// Writes an access field by field (see VtrDecoder::decode).
inline void put(Access& o, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
  o.addr = addr;
  o.gap = gap;
  o.size = size;
  o.type = type;
}

/// The state a record's omitted fields repeat.
struct VcpuState {
  Addr addr = 0;
  std::uint16_t size = kInitialSize;
  std::uint32_t gap = kInitialGap;
};

// ---- writing ---------------------------------------------------------------

class VtrWriter final : public RecordWriter {
 public:
  VtrWriter(std::string path, unsigned vcpus)
      : path_(std::move(path)), file_(std::fopen(path_.c_str(), "wb"), &std::fclose),
        cctx_(ZSTD_createCCtx(), &ZSTD_freeCCtx), state_(vcpus), counts_(vcpus, 0) {
    if (vcpus > kMaxTraceVcpus)
      throw Error(path_ + ": a trace has at most " + std::to_string(kMaxTraceVcpus) + " vCPUs");
    if (!file_) throw Error(path_ + ": cannot write trace file");
    if (!cctx_) throw Error(path_ + ": cannot allocate a zstd compression context");
    std::setvbuf(file_.get(), nullptr, _IOFBF, kWriteBuffer);
    check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, kCompressionLevel));
    check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_windowLog, kWriteWindowLog));
    check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1));
    out_.resize(ZSTD_CStreamOutSize());
    std::uint8_t header[kHeaderBytes];
    std::memcpy(header + kMagicOffset, kMagic, sizeof kMagic);
    put_u16(header + kVersionOffset, kVersion);
    put_u16(header + kFlagsOffset, 0);
    put_u32(header + kVcpusOffset, vcpus);
    put(header, sizeof header);
  }

  void write(const Record& r) override {
    if (r.vcpu >= state_.size())
      throw Error(path_ + ": record for vCPU " + std::to_string(r.vcpu) + " in a trace of " +
                  std::to_string(state_.size()) + " vCPUs");
    if (end_ + kMaxRecordBytes > buf_.size()) flush(ZSTD_e_continue);
    const Access& a = r.access;
    VcpuState& s = state_[r.vcpu];
    std::uint8_t* const tag = buf_.data() + end_;
    std::uint8_t* p = tag + 1;
    std::uint8_t t = static_cast<std::uint8_t>(a.type);
    if (r.vcpu != prev_vcpu_) {
      t |= kHasVcpu;
      p = put_varint(p, r.vcpu);
      prev_vcpu_ = r.vcpu;
    }
    p = put_varint(p, zigzag(a.addr - s.addr));
    if (a.size != s.size) {
      t |= kHasSize;
      p = put_varint(p, a.size);
    }
    if (a.gap != s.gap) {
      t |= kHasGap;
      p = put_varint(p, a.gap);
    }
    *tag = t;
    end_ = static_cast<std::size_t>(p - buf_.data());
    s = VcpuState{a.addr, a.size, a.gap};
    ++counts_[r.vcpu];
    ++total_;
  }

  void finish() override {
    // The end marker, then the trailer: total, then each vCPU's count.
    std::vector<std::uint8_t> trailer(1 + kMaxVarintBytes * (1 + counts_.size()));
    std::uint8_t* p = trailer.data();
    *p++ = kEndMarker;
    p = put_varint(p, total_);
    for (const std::uint64_t c : counts_) p = put_varint(p, c);
    for (const std::uint8_t* q = trailer.data(); q != p;) {
      if (end_ == buf_.size()) flush(ZSTD_e_continue);
      const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(p - q), buf_.size() - end_);
      std::memcpy(buf_.data() + end_, q, n);
      end_ += n;
      q += n;
    }
    flush(ZSTD_e_end);
    std::FILE* f = file_.release();
    const bool bad = std::ferror(f) != 0;
    if ((std::fclose(f) != 0) | bad) throw Error(path_ + ": error writing trace file");
  }

 private:
  void check(std::size_t rc) const {
    if (ZSTD_isError(rc)) throw Error(path_ + ": zstd: " + ZSTD_getErrorName(rc));
  }

  /// Compresses the encoded records (and with ZSTD_e_end, ends the frame).
  void flush(ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{buf_.data(), end_, 0};
    for (;;) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      const std::size_t left = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
      check(left);
      put(out_.data(), out.pos);
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
    end_ = 0;
  }

  void put(const void* data, std::size_t n) {
    if (n && std::fwrite(data, 1, n, file_.get()) != n) throw Error(path_ + ": error writing trace file");
  }

  std::string path_;
  File file_;
  std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> cctx_;
  std::array<std::uint8_t, kEncodeBuffer> buf_;
  std::size_t end_ = 0;  // encoded bytes waiting in buf_
  std::vector<std::uint8_t> out_;
  std::vector<VcpuState> state_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint32_t prev_vcpu_ = 0;
};

// ---- reading ---------------------------------------------------------------

/// Decodes a .vtr file record by record. Every malformed input ends in an
/// Error naming the file and the record or byte offset.
class VtrDecoder {
 public:
  explicit VtrDecoder(std::string path)
      : path_(std::move(path)), file_(std::fopen(path_.c_str(), "rb"), &std::fclose),
        dctx_(ZSTD_createDCtx(), &ZSTD_freeDCtx) {
    if (!file_) throw Error(path_ + ": cannot open trace file");
    if (!dctx_) throw Error(path_ + ": cannot allocate a zstd decompression context");
    read_header();
    const std::size_t rc = ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
    if (ZSTD_isError(rc)) throw Error(path_ + ": zstd: " + ZSTD_getErrorName(rc));
    in_.src = in_bytes_.data();
    // Room for one decompression step plus a carried-over partial record.
    out_.resize(ZSTD_DStreamOutSize() + kMaxRecordBytes);
    state_.resize(vcpus_);
    counts_.assign(vcpus_, 0);
  }

  unsigned vcpus() const { return vcpus_; }
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  std::uint64_t records() const { return records_; }

  /// Decodes records until `emit(vcpu, addr, gap, size, type)` has returned true `want`
  /// times or the trace ends; returns that count. The fast loop reads
  /// unchecked from a buffer holding at least a whole record and never
  /// fails: at anything unusual (the end marker, a bad field) it stops at the
  /// record's start, and next() decodes that record with every check.
  template <class Emit>
  std::size_t decode(std::size_t want, Emit&& emit) {
    std::size_t got = 0;
    while (got < want && !done_) {
      if (end_ - pos_ < kMaxRecordBytes && !frame_done_) refill();
      const std::uint8_t* const base = out_.data();
      const std::uint8_t* p = base + pos_;
      if (end_ - pos_ >= kMaxRecordBytes) {
        const std::uint8_t* const safe = base + end_ - kMaxRecordBytes;
        std::uint32_t vcpu = vcpu_;
        std::uint64_t records = records_;
        VcpuState* const state = state_.data();
        std::uint64_t* const counts = counts_.data();
        for (; p <= safe && got < want; ++records) {
          const std::uint8_t tag = *p;
          if ((tag & kReservedBits) || (tag & kTypeMask) == kEndMarker) break;
          const std::uint8_t* q = p + 1;
          std::uint32_t v = vcpu;
          if (tag & kHasVcpu) {
            std::uint64_t x;
            if (!unchecked_varint(q, x) || x >= vcpus_) break;
            v = static_cast<std::uint32_t>(x);
          }
          if (v >= vcpus_) break;
          std::uint64_t delta, size = 0, gap = 0;
          if (!unchecked_varint(q, delta)) break;
          if ((tag & kHasSize) && (!unchecked_varint(q, size) || size - 1 >= kMaxSize)) break;
          if ((tag & kHasGap) && (!unchecked_varint(q, gap) || gap > kMaxGap)) break;
          VcpuState& s = state[v];
          s.addr += unzigzag(delta);
          if (tag & kHasSize) s.size = static_cast<std::uint16_t>(size);
          if (tag & kHasGap) s.gap = static_cast<std::uint32_t>(gap);
          vcpu = v;
          ++counts[v];
          p = q;
          // Fields, not an Access: a 16-byte temporary copied with two
          // overlapping 8-byte loads would stall on store forwarding.
          got += emit(v, s.addr, s.gap, s.size, static_cast<AccessType>(tag & kTypeMask));
        }
        pos_ = static_cast<std::size_t>(p - base);
        vcpu_ = vcpu;
        records_ = records;
        if (p <= safe && got < want) {  // stopped at an unusual record: the checked path
          Record r;
          if (next(r)) got += emit(r.vcpu, r.access.addr, r.access.gap, r.access.size, r.access.type);
        }
      } else {  // the last bytes of the data: checked, one record at a time
        Record r;
        if (!next(r)) break;
        got += emit(r.vcpu, r.access.addr, r.access.gap, r.access.size, r.access.type);
      }
    }
    return got;
  }

  /// The next record, every field checked; false after the end marker and a
  /// verified trailer.
  bool next(Record& r) {
    if (done_) return false;
    if (end_ - pos_ < kMaxRecordBytes && !frame_done_) refill();
    const std::uint8_t* p = out_.data() + pos_;
    const std::uint8_t* const end = out_.data() + end_;
    if (p == end) fail_truncated();
    const std::uint8_t tag = *p++;
    if ((tag & kTypeMask) == kEndMarker) {
      if (tag != kEndMarker) fail_record("reserved bits set in the end marker " + hex(tag));
      pos_ = static_cast<std::size_t>(p - out_.data());
      read_trailer();
      done_ = true;
      return false;
    }
    if (tag & kReservedBits) fail_record("reserved bits set in the tag " + hex(tag));
    if (tag & kHasVcpu) {
      const std::uint64_t v = varint(p, end);
      if (v >= vcpus_)
        fail_record("vCPU " + std::to_string(v) + " is out of range (the header declares " + std::to_string(vcpus_) +
                    ")");
      vcpu_ = static_cast<std::uint32_t>(v);
    } else if (vcpu_ >= vcpus_) {
      fail_record("no vCPU given and vCPU 0 is out of range (the header declares 0 vCPUs)");
    }
    VcpuState& s = state_[vcpu_];
    s.addr += unzigzag(varint(p, end));
    if (tag & kHasSize) {
      const std::uint64_t size = varint(p, end);
      if (size == 0 || size > kMaxSize)
        fail_record("size " + std::to_string(size) + " is out of range (expected 1 to " + std::to_string(kMaxSize) +
                    ")");
      s.size = static_cast<std::uint16_t>(size);
    }
    if (tag & kHasGap) {
      const std::uint64_t gap = varint(p, end);
      if (gap > kMaxGap)
        fail_record("gap " + std::to_string(gap) + " is out of range (expected 0 to " + std::to_string(kMaxGap) + ")");
      s.gap = static_cast<std::uint32_t>(gap);
    }
    pos_ = static_cast<std::size_t>(p - out_.data());
    r.vcpu = vcpu_;
    r.access = Access{s.addr, s.gap, s.size, static_cast<AccessType>(tag & kTypeMask)};
    ++counts_[vcpu_];
    ++records_;
    return true;
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

 private:
  static std::string hex(std::uint8_t b) {
    char s[8];
    std::snprintf(s, sizeof s, "0x%02x", unsigned{b});
    return s;
  }

  [[noreturn]] void fail_record(const std::string& what) const {
    fail("record " + std::to_string(records_) + " (decompressed byte offset " + std::to_string(decoded_before_ + pos_) +
         "): " + what);
  }
  [[noreturn]] void fail_truncated() const {
    fail("truncated: the data ends after record " + std::to_string(records_) + " (decompressed byte offset " +
         std::to_string(decoded_before_ + pos_) + "), before the end marker and trailer");
  }

  /// A LEB128 varint from a buffer known to hold kMaxVarintBytes more; false
  /// if it exceeds 64 bits.
  static bool unchecked_varint(const std::uint8_t*& p, std::uint64_t& out) {
    constexpr std::uint8_t kMore = 0x80, kPayload = 0x7F;
    constexpr unsigned kLastShift = 63;
    std::uint64_t b = *p++;
    if (b < kMore) {
      out = b;
      return true;
    }
    std::uint64_t v = b & kPayload;
    for (unsigned shift = 7;; shift += 7) {
      b = *p++;
      if (shift == kLastShift && b > 1) return false;
      v |= (b & kPayload) << shift;
      if (b < kMore) {
        out = v;
        return true;
      }
    }
  }

  /// A LEB128 varint of at most 64 bits.
  std::uint64_t varint(const std::uint8_t*& p, const std::uint8_t* end) {
    constexpr std::uint8_t kMore = 0x80, kPayload = 0x7F;
    constexpr unsigned kLastShift = 63;          // the 10th byte holds only bit 63
    if (p != end && !(*p & kMore)) return *p++;  // the common one-byte case
    std::uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (p == end) fail_truncated();
      const std::uint8_t b = *p++;
      if (shift == kLastShift && b > 1) fail_record("a varint exceeds 64 bits");
      v |= static_cast<std::uint64_t>(b & kPayload) << shift;
      if (!(b & kMore)) return v;
    }
  }

  void read_header() {
    std::uint8_t h[kHeaderBytes];
    const std::size_t got = std::fread(h, 1, sizeof h, file_.get());
    if (got < sizeof h && std::ferror(file_.get())) fail("cannot read trace file");
    if (got == 0) fail("empty file, not a .vtr trace");
    if (std::memcmp(h, kMagic, std::min(got, sizeof kMagic)) != 0)
      fail("not a .vtr trace (bad magic at byte offset 0; expected \\x89VTR\\r\\n\\x1a\\n)");
    if (got < sizeof h)
      fail("truncated: " + std::to_string(got) + " bytes, shorter than the " + std::to_string(kHeaderBytes) +
           "-byte header");
    const std::uint16_t version = get_u16(h + kVersionOffset);
    if (version != kVersion)
      fail("unsupported .vtr version " + std::to_string(version) + " (this build reads version " +
           std::to_string(kVersion) + ")");
    const std::uint16_t flags = get_u16(h + kFlagsOffset);
    if (flags & ~kKnownFlags) {
      char s[8];
      std::snprintf(s, sizeof s, "0x%04x", unsigned{flags});
      fail(std::string("unknown flags ") + s + " in the header (version 1 defines none)");
    }
    const std::uint32_t vcpus = get_u32(h + kVcpusOffset);
    if (vcpus > kMaxTraceVcpus)
      fail("the header declares " + std::to_string(vcpus) + " vCPUs (at most " + std::to_string(kMaxTraceVcpus) + ")");
    vcpus_ = vcpus;
    file_offset_ = kHeaderBytes;
  }

  /// Moves the unparsed tail to the front and decompresses more after it,
  /// until a whole record is surely there or the frame has ended.
  void refill() {
    const std::size_t tail = end_ - pos_;
    std::memmove(out_.data(), out_.data() + pos_, tail);
    decoded_before_ += pos_;
    pos_ = 0;
    end_ = tail;
    while (end_ < kMaxRecordBytes && !frame_done_) {
      if (in_.pos == in_.size) {
        in_.size = std::fread(in_buf(), 1, in_capacity(), file_.get());
        in_.pos = 0;
        if (in_.size == 0) {
          if (std::ferror(file_.get())) fail("cannot read trace file");
          fail("truncated at byte offset " + std::to_string(file_offset_) +
               ": the compressed stream ends before its frame is complete (after record " + std::to_string(records_) +
               ")");
        }
      }
      ZSTD_outBuffer out{out_.data() + end_, out_.size() - end_, 0};
      const std::size_t before = in_.pos;
      const std::size_t rc = ZSTD_decompressStream(dctx_.get(), &out, &in_);
      file_offset_ += in_.pos - before;
      if (ZSTD_isError(rc))
        fail("corrupt compressed data near byte offset " + std::to_string(file_offset_) + " (after record " +
             std::to_string(records_) + "): " + ZSTD_getErrorName(rc));
      end_ += out.pos;
      if (rc == 0) {
        frame_done_ = true;
        check_nothing_after_frame();
      }
    }
  }

  void check_nothing_after_frame() {
    if (in_.pos == in_.size) {
      in_.size = std::fread(in_buf(), 1, in_capacity(), file_.get());
      in_.pos = 0;
    }
    if (in_.pos != in_.size)
      fail("unexpected data after the compressed stream at byte offset " + std::to_string(file_offset_));
  }

  void read_trailer() {
    const std::uint64_t total = trailer_varint();
    if (total != records_)
      fail("trailer: the total count " + std::to_string(total) + " does not match the " + std::to_string(records_) +
           " records read");
    for (unsigned v = 0; v < vcpus_; ++v) {
      const std::uint64_t c = trailer_varint();
      if (c != counts_[v])
        fail("trailer: vCPU " + std::to_string(v) + "'s count " + std::to_string(c) + " does not match the " +
             std::to_string(counts_[v]) + " records read");
    }
    if (end_ - pos_ < kMaxRecordBytes && !frame_done_) refill();
    if (pos_ != end_ || !frame_done_)
      fail("unexpected data after the trailer (decompressed byte offset " + std::to_string(decoded_before_ + pos_) +
           ")");
  }

  std::uint64_t trailer_varint() {
    if (end_ - pos_ < kMaxRecordBytes && !frame_done_) refill();
    const std::uint8_t* p = out_.data() + pos_;
    const std::uint8_t* const end = out_.data() + end_;
    if (p == end) fail("truncated: the data ends inside the trailer");
    const std::uint64_t v = varint(p, end);
    pos_ = static_cast<std::size_t>(p - out_.data());
    return v;
  }

  std::uint8_t* in_buf() { return in_bytes_.data(); }
  std::size_t in_capacity() const { return in_bytes_.size(); }

  std::string path_;
  File file_;
  std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> dctx_;
  std::vector<std::uint8_t> in_bytes_ = std::vector<std::uint8_t>(ZSTD_DStreamInSize());
  ZSTD_inBuffer in_{nullptr, 0, 0};
  std::vector<std::uint8_t> out_;
  std::size_t pos_ = 0, end_ = 0;     // unparsed decompressed bytes: out_[pos_, end_)
  std::uint64_t decoded_before_ = 0;  // decompressed bytes before out_[0]
  std::uint64_t file_offset_ = 0;     // compressed bytes consumed, header included
  bool frame_done_ = false, done_ = false;
  unsigned vcpus_ = 0;
  std::uint32_t vcpu_ = 0;
  std::vector<VcpuState> state_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t records_ = 0;
};

class VtrRecordReader final : public RecordReader {
 public:
  explicit VtrRecordReader(const std::string& path) : d_(path) {}
  std::size_t next(Record* out, std::size_t n) override {
    return d_.decode(n, [&out](std::uint32_t vcpu, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
      out->vcpu = vcpu;
      put(out->access, addr, gap, size, type);
      ++out;
      return true;
    });
  }
  unsigned declared_vcpus() const override { return d_.vcpus(); }

 private:
  VtrDecoder d_;
};

/// One vCPU's accesses: every record is decoded (their deltas chain), the
/// other vCPUs' are dropped.
class VtrSource final : public Source {
 public:
  VtrSource(const std::string& path, unsigned vcpu) : d_(path), vcpu_(vcpu) {}
  std::size_t next(Access* out, std::size_t n) override {
    const std::uint32_t mine = vcpu_;
    return d_.decode(
        n, [&out, mine](std::uint32_t vcpu, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
          if (vcpu != mine) return false;
          put(*out++, addr, gap, size, type);
          return true;
        });
  }

 private:
  VtrDecoder d_;
  std::uint32_t vcpu_;
};

/// A FIFO of one vCPU's accesses decoded ahead of its turn: a power-of-two
/// ring that grows on demand up to a fixed capacity.
class AccessRing {
 public:
  static constexpr std::size_t kInitial = 1024;

  explicit AccessRing(std::size_t cap) : cap_(cap) {}
  bool empty() const { return size_ == 0; }
  /// False when full at the capacity.
  bool push(Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
    if (size_ == buf_.size()) {
      if (buf_.size() >= cap_) return false;
      grow();
    }
    put(buf_[(head_ + size_) & (buf_.size() - 1)], addr, gap, size, type);
    ++size_;
    return true;
  }
  /// Moves up to `n` accesses to `out`; returns how many.
  std::size_t pop(Access* out, std::size_t n) {
    const std::size_t k = std::min(n, size_);
    const std::size_t mask = buf_.size() - 1;
    for (std::size_t i = 0; i < k; ++i) out[i] = buf_[(head_ + i) & mask];
    head_ = (head_ + k) & mask;
    size_ -= k;
    return k;
  }

 private:
  void grow() {
    std::vector<Access> bigger(buf_.empty() ? kInitial : 2 * buf_.size());
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_.swap(bigger);
    head_ = 0;
  }

  std::size_t cap_;
  std::vector<Access> buf_;
  std::size_t head_ = 0, size_ = 0;
};

/// Every vCPU's stream from one decoder, so that a record is decoded once,
/// not once per vCPU. A vCPU that asks for its next records decodes forward;
/// the other vCPUs' records wait in their queues. A queue is bounded (memory
/// stays flat for any file layout): when one would overflow, that vCPU is
/// detached. It takes what is queued, then re-reads the file with a decoder
/// of its own, skipping the records it has already taken. Files written
/// interleaved (`trace gen`, `trace import`) never detach anyone.
class VtrDemux {
 public:
  /// Records a queue may hold: 16 bytes each, so 512 KiB per vCPU at most.
  static constexpr std::size_t kQueueCap = 1 << 15;

  VtrDemux(std::string path, unsigned vcpus)
      : path_(std::move(path)), shared_(path_), queues_(vcpus, AccessRing(kQueueCap)), taken_(vcpus, 0),
        detached_(vcpus, 0), own_(vcpus), own_seen_(vcpus, 0) {}

  std::size_t next(std::uint32_t vcpu, Access* out, std::size_t n) {
    std::size_t count = queues_[vcpu].pop(out, n);
    taken_[vcpu] += count;  // before next_own, which skips what was taken
    if (count < n) {
      const std::size_t more =
          detached_[vcpu] ? next_own(vcpu, out + count, n - count) : next_shared(vcpu, out + count, n - count);
      taken_[vcpu] += more;
      count += more;
    }
    return count;
  }

  bool detached(std::uint32_t vcpu) const { return detached_[vcpu] != 0; }

 private:
  std::size_t next_shared(std::uint32_t vcpu, Access* out, std::size_t n) {
    return shared_.decode(
        n, [&out, vcpu, this](std::uint32_t v, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
          if (v == vcpu) {
            put(*out++, addr, gap, size, type);
            return true;
          }
          enqueue(v, addr, gap, size, type);
          return false;
        });
  }

  /// Another vCPU's record, decoded ahead of its turn.
  void enqueue(std::uint32_t v, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
    if (v >= queues_.size() || detached_[v]) return;
    if (!queues_[v].push(addr, gap, size, type)) detached_[v] = 1;  // this record and v's later ones: v re-reads them
  }

  std::size_t next_own(std::uint32_t vcpu, Access* out, std::size_t n) {
    if (!own_[vcpu]) own_[vcpu] = std::make_unique<VtrDecoder>(path_);
    const std::uint64_t taken = taken_[vcpu];
    std::uint64_t seen = own_seen_[vcpu];
    const std::size_t got =
        own_[vcpu]->decode(n, [&](std::uint32_t v, Addr addr, std::uint32_t gap, std::uint16_t size, AccessType type) {
          if (v != vcpu) return false;
          if (seen++ < taken) return false;  // taken already, from the shared decoder
          put(*out++, addr, gap, size, type);
          return true;
        });
    own_seen_[vcpu] = seen;
    return got;
  }

  std::string path_;
  VtrDecoder shared_;
  std::vector<AccessRing> queues_;
  std::vector<std::uint64_t> taken_;  // records each vCPU has taken so far
  std::vector<std::uint8_t> detached_;
  std::vector<std::unique_ptr<VtrDecoder>> own_;  // a detached vCPU's decoder, once its queue is empty
  std::vector<std::uint64_t> own_seen_;           // records of the vCPU its own decoder has passed
};

class VtrDemuxSource final : public Source {
 public:
  VtrDemuxSource(std::shared_ptr<VtrDemux> demux, std::uint32_t vcpu) : demux_(std::move(demux)), vcpu_(vcpu) {}
  std::size_t next(Access* out, std::size_t n) override { return demux_->next(vcpu_, out, n); }

 private:
  std::shared_ptr<VtrDemux> demux_;
  std::uint32_t vcpu_;
};

}  // namespace

std::vector<std::unique_ptr<Source>> open_vtr_traces(const std::string& path, unsigned vcpus) {
  auto demux = std::make_shared<VtrDemux>(path, vcpus);
  std::vector<std::unique_ptr<Source>> sources;
  for (std::uint32_t v = 0; v < vcpus; ++v) sources.push_back(std::make_unique<VtrDemuxSource>(demux, v));
  return sources;
}

std::unique_ptr<RecordReader> open_vtr_records(const std::string& path) {
  return std::make_unique<VtrRecordReader>(path);
}

std::unique_ptr<RecordWriter> create_vtr_trace(const std::string& path, unsigned vcpus) {
  return std::make_unique<VtrWriter>(path, vcpus);
}

/// Throws the error for the first record whose vCPU is >= `vcpus`.
[[noreturn]] void first_out_of_range(const std::string& path, unsigned vcpus) {
  VtrDecoder d(path);
  Record r;
  while (d.next(r))
    if (r.vcpu >= vcpus)
      d.fail("record " + std::to_string(d.records() - 1) + ": vCPU " + std::to_string(r.vcpu) +
             " is out of range (cpu.vcpus is " + std::to_string(vcpus) + ")");
  d.fail("a vCPU is out of range (cpu.vcpus is " + std::to_string(vcpus) + ")");
}

TraceInfo validate_vtr_trace(const std::string& path, unsigned vcpus) {
  VtrDecoder d(path);
  constexpr std::size_t kChunk = 1 << 16;  // records between checks of the vCPU range
  // Each vCPU's count is checked against cpu.vcpus; the first record beyond
  // it is found only then, by a second, checked pass.
  while (d.decode(kChunk, [](std::uint32_t, Addr, std::uint32_t, std::uint16_t, AccessType) { return true; }) != 0) {
  }
  for (unsigned v = vcpus; v < d.vcpus(); ++v)
    if (d.counts()[v] != 0) first_out_of_range(path, vcpus);
  TraceInfo info;
  info.accesses = d.records();
  info.per_vcpu.assign(vcpus, 0);
  for (unsigned v = 0; v < d.vcpus() && v < vcpus; ++v) info.per_vcpu[v] = d.counts()[v];
  return info;
}

std::unique_ptr<Source> open_vtr_trace(const std::string& path, unsigned vcpu) {
  return std::make_unique<VtrSource>(path, vcpu);
}

}  // namespace vmxsim::traces

namespace vmxsim::traces {

VMXSIM_REGISTER(FormatRegistry, "vtr", "binary v1 (zstd-compressed, delta-encoded records): files ending in .vtr",
                TraceFormat{claims_extension(".vtr"), "vtr v" + std::to_string(vtr::kVersion), true, open_vtr_records,
                            create_vtr_trace, validate_vtr_trace, open_vtr_trace, open_vtr_traces});

}  // namespace vmxsim::traces
