// Trace — what simulated code records for the timeline (`vmxsim run
// --timeline FILE`, docs/timeline.md). A plain C++ interface, so hypervisor
// code can record without SystemC; sim::Timeline implements it.
//
// Recording is off unless --timeline is given: callers hold a `Trace*` that
// is null then and test it at each recording site (`if (tl_) tl_->span(...)`).
// Thread ids are ExecContext::thread_id() (vCPU i is i, the VMM thread 1000);
// times are that thread's cycles (ctx.now()).
#pragma once
#include <cstdint>
#include <string>

#include "sim/types.hpp"

namespace vmxsim {

class Trace {
 public:
  virtual ~Trace() = default;
  /// A span of thread `tid` from cycle `begin` to `end` (end >= begin).
  /// `name` is copied. `args` are extra JSON object members without the
  /// braces, e.g. `"gpa":"0x1000","pages":3` (see TraceArgs); may be empty.
  virtual void span(unsigned tid, const char* name, Cycles begin, Cycles end,
                    const std::string& args = std::string()) = 0;
  /// A point event of thread `tid` at cycle `at`.
  virtual void instant(unsigned tid, const char* name, Cycles at, const std::string& args = std::string()) = 0;
  /// A counter track `name` (one per process) taking, from cycle `at` on,
  /// the numeric values in `args` (each key a series, e.g. `"pages":3`).
  virtual void counter(const char* name, Cycles at, const std::string& args) = 0;
};

/// Builds Trace args: `TraceArgs().hex("gpa", gpa).num("pages", n).str()`.
/// Keys are identifiers chosen by the caller (no escaping needed).
class TraceArgs {
 public:
  TraceArgs& num(const char* key, std::uint64_t v) {
    key_(key);
    s_ += std::to_string(v);
    return *this;
  }
  /// A hex string, "0x1f": addresses and exit qualifications.
  TraceArgs& hex(const char* key, std::uint64_t v) {
    static const char kDigits[] = "0123456789abcdef";
    char buf[20];
    int n = 0;
    do {
      buf[n++] = kDigits[v & 0xf];
      v >>= 4;
    } while (v);
    key_(key);
    s_ += "\"0x";
    while (n) s_ += buf[--n];
    s_ += '"';
    return *this;
  }
  /// A string value; `v` must not need JSON escaping (no quotes, backslashes
  /// or control characters).
  TraceArgs& text(const char* key, const char* v) {
    key_(key);
    s_ += '"';
    s_ += v;
    s_ += '"';
    return *this;
  }
  TraceArgs& flag(const char* key, bool v) {
    key_(key);
    s_ += v ? "true" : "false";
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  void key_(const char* key) {
    if (!s_.empty()) s_ += ',';
    s_ += '"';
    s_ += key;
    s_ += "\":";
  }
  std::string s_;
};

}  // namespace vmxsim
