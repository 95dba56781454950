#include "sim/app/timeline.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace vmxsim::sim {

namespace {
std::string json_string(const std::string& s) { return nlohmann::json(s).dump(); }

// Microseconds with three decimals: a whole number of nanoseconds.
void put_us(std::string& out, std::uint64_t ns) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
  out.append(buf, std::size_t(n));
}

void put_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%" PRIu64, v);
  out.append(buf, std::size_t(n));
}
}  // namespace

Timeline::Timeline(double freq_ghz, std::size_t max_events) : freq_ghz_(freq_ghz), max_events_(max_events) {}

void Timeline::name_thread(unsigned tid, const std::string& name) { threads_[tid] = name; }

std::uint64_t Timeline::ns(Cycles c) const { return std::uint64_t(std::llround(double(c) / freq_ghz_)); }

std::uint32_t Timeline::intern(const char* name) {
  const auto it = name_ids_.find(std::string_view(name));
  if (it != name_ids_.end()) return it->second;
  const std::uint32_t id = std::uint32_t(names_.size());
  unquoted_.emplace_back(name);
  names_.push_back(json_string(unquoted_.back()));
  name_ids_.emplace(std::string_view(unquoted_.back()), id);
  return id;
}

bool Timeline::full() {
  if (events_.size() < max_events_) return false;
  ++dropped_;
  return true;
}

void Timeline::add(char ph, unsigned tid, const char* name, Cycles ts, Cycles dur, const std::string& args) {
  if (full()) return;
  if (events_.empty()) events_.reserve(std::min<std::size_t>(max_events_, 1 << 16));
  events_.push_back(Event{ts, dur, args_.size(), std::uint32_t(args.size()), tid, intern(name), ph});
  args_ += args;
}

void Timeline::span(unsigned tid, const char* name, Cycles begin, Cycles end, const std::string& args) {
  add('X', tid, name, begin, end > begin ? end - begin : 0, args);
}

void Timeline::instant(unsigned tid, const char* name, Cycles at, const std::string& args) {
  add('i', tid, name, at, 0, args);
}

void Timeline::counter(const char* name, Cycles at, const std::string& args) { add('C', 0, name, at, 0, args); }

void Timeline::write(std::ostream& out) {
  // By time, then thread; of spans starting together the longer (enclosing)
  // one first; then emission order (the sort is stable).
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    if (a.ts != b.ts) return a.ts < b.ts;
    if (a.tid != b.tid) return a.tid < b.tid;
    return a.dur > b.dur;
  });

  std::string buf;
  buf.reserve(1 << 20);
  auto flush = [&] {
    out.write(buf.data(), std::streamsize(buf.size()));
    buf.clear();
  };
  buf += "{\"traceEvents\": [\n";
  const std::string pid = std::to_string(kPid);
  buf +=
      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":0,\"ts\":0,\"args\":{\"name\":\"vmxsim\"}}";
  for (const auto& [tid, name] : threads_) {
    const std::string t = std::to_string(tid);
    buf += ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + t +
           ",\"ts\":0,\"args\":{\"name\":" + json_string(name) + "}}";
    buf += ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + t +
           ",\"ts\":0,\"args\":{\"sort_index\":" + t + "}}";
  }
  for (const Event& e : events_) {
    buf += ",\n{\"name\":";
    buf += names_[e.name];
    buf += e.ph == 'X'   ? ",\"ph\":\"X\",\"pid\":"
           : e.ph == 'C' ? ",\"ph\":\"C\",\"pid\":"
                         : ",\"ph\":\"i\",\"s\":\"t\",\"pid\":";
    buf += pid;
    buf += ",\"tid\":";
    put_u64(buf, e.tid);
    buf += ",\"ts\":";
    const std::uint64_t t0 = ns(e.ts);
    put_us(buf, t0);
    if (e.ph == 'X') {
      buf += ",\"dur\":";
      put_us(buf, ns(e.ts + e.dur) - t0);
    }
    if (e.ph == 'C') {  // a counter's args are its series only
      buf += ",\"args\":{";
      buf.append(args_, std::size_t(e.args_at), e.args_len);
      buf += "}}";
      continue;
    }
    buf += ",\"args\":{\"cycle\":";
    put_u64(buf, e.ts);
    if (e.ph == 'X') {
      buf += ",\"cycles\":";
      put_u64(buf, e.dur);
    }
    if (e.args_len) {
      buf += ',';
      buf.append(args_, std::size_t(e.args_at), e.args_len);
    }
    buf += "}}";
    if (buf.size() >= (1 << 20) - 4096) flush();
  }
  buf += "\n],\n\"displayTimeUnit\": \"ns\",\n\"otherData\": {";
  char freq[32];
  std::snprintf(freq, sizeof freq, "%.17g", freq_ghz_);
  buf += "\"generator\":\"vmxsim " VMXSIM_VERSION "\",\"freq_ghz\":";
  buf += freq;
  buf +=
      ",\"time\":\"ts and dur in microseconds rounded to whole nanoseconds; args.cycle (start) and "
      "args.cycles (length) are exact core cycles\"";
  buf += ",\"events\":" + std::to_string(events_.size());
  buf += ",\"event_cap\":" + std::to_string(max_events_);
  buf += ",\"dropped_events\":" + std::to_string(dropped_);
  if (dropped_)
    buf += ",\"truncated\":" +
           json_string("the event cap of " + std::to_string(max_events_) + " was reached: " + std::to_string(dropped_) +
                       " later events were dropped, so the timeline is incomplete");
  buf += "}\n}\n";
  flush();
}

}  // namespace vmxsim::sim
