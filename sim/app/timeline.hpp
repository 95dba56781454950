// sim::Timeline — the recorder behind `vmxsim run --timeline FILE`
// (docs/timeline.md). It implements Trace: events are buffered in memory
// as compact records while the model runs, then sorted and written once as
// Chrome trace-event JSON ("JSON Object Format"), which the Perfetto UI and
// chrome://tracing open.
//
// Output: one track per simulated thread (pid 1 "vmxsim", tid = thread id,
// named by thread_name metadata); `ts`/`dur` in microseconds, rounded to whole
// nanoseconds at `freq_ghz` (both ends of a span are rounded, so nesting in
// cycles stays nesting in the file); `args.cycle` (and `args.cycles` for a
// span's length) keep the exact cycle counts. Events are sorted by time, then
// thread id, then — for spans starting together — longest first (the
// enclosing span before what it encloses), then emission order. The output
// depends only on the events recorded, so a deterministic run gives a
// byte-identical file.
//
// At most `max_events` events are kept (5 M by default, about 200 MB of
// records); later ones are counted and dropped, and otherData says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/trace.hpp"

namespace vmxsim::sim {

class Timeline final : public Trace {
 public:
  static constexpr std::size_t kDefaultMaxEvents = 5'000'000;
  static constexpr unsigned kPid = 1;

  explicit Timeline(double freq_ghz, std::size_t max_events = kDefaultMaxEvents);

  /// Name thread `tid`'s track ("vcpu0", "vmm"): a thread_name metadata event.
  void name_thread(unsigned tid, const std::string& name);

  void span(unsigned tid, const char* name, Cycles begin, Cycles end, const std::string& args = std::string()) override;
  void instant(unsigned tid, const char* name, Cycles at, const std::string& args = std::string()) override;
  void counter(const char* name, Cycles at, const std::string& args) override;

  /// Sort the events and write the whole JSON document to `out`.
  void write(std::ostream& out);

  std::size_t events() const { return events_.size(); }
  std::uint64_t dropped() const { return dropped_; }
  std::size_t max_events() const { return max_events_; }

 private:
  struct Event {
    Cycles ts;
    Cycles dur;
    std::uint64_t args_at;  // offset into args_
    std::uint32_t args_len;
    std::uint32_t tid;
    std::uint32_t name;  // index into names_
    char ph;             // 'X', 'i' or 'C'
  };
  bool full();
  std::uint32_t intern(const char* name);
  void add(char ph, unsigned tid, const char* name, Cycles ts, Cycles dur, const std::string& args);
  std::uint64_t ns(Cycles c) const;

  double freq_ghz_;
  std::size_t max_events_;
  std::vector<Event> events_;
  std::string args_;                                              // every event's args, back to back
  std::deque<std::string> names_;                                 // JSON-quoted names, by id
  std::unordered_map<std::string_view, std::uint32_t> name_ids_;  // views into unquoted_
  std::deque<std::string> unquoted_;
  std::map<unsigned, std::string> threads_;  // tid -> track name
  std::uint64_t dropped_ = 0;
};

}  // namespace vmxsim::sim
