#include "sim/app/dump.hpp"

#include <algorithm>

#include <systemc>

#include "sim/app/inspect.hpp"
#include "sim/app/simulation.hpp"
#include "sim/error.hpp"
#include "sim/run_control.hpp"
#include "sim/sim_thread.hpp"

namespace vmxsim::sim {

/// The simulated thread that takes the shared state at each --dump-at time.
class DumpThread : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(DumpThread);
  DumpThread(sc_core::sc_module_name name, Dump& dump, RunControl& control)
      : sc_module(name), thread_(kDumpThreadId, 1), dump_(dump), control_(control) {
    SC_THREAD(run);
    set_stack_size(std::size_t(1) << 20);  // building the JSON of deep trees
  }

 private:
  void run() {
    try {
      for (std::size_t k = 0; k < dump_.times().size(); ++k) {
        const Cycles t = dump_.times()[k];
        if (t > thread_.now()) thread_.advance(t - thread_.now());
        thread_.sync();  // kernel instant (t, kDumpThreadId): after every other thread's cycle t
        if (control_.stopping()) return;
        dump_.take_shared(k);
      }
    } catch (...) {
      control_.fail(std::current_exception());
    }
  }

  SimThread thread_;
  Dump& dump_;
  RunControl& control_;
};

Cycles parse_dump_cycle(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    return Error("--dump-at: expected a cycle count (a non-negative decimal integer), got '" + text + "'" + why);
  };
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw bad("");
  Cycles v = 0;
  for (char c : text) {
    const Cycles d = Cycles(c - '0');
    if (v > (kMaxDumpCycle - d) / 10)
      throw bad(": beyond the last cycle a dump can name, " + std::to_string(kMaxDumpCycle));
    v = v * 10 + d;
  }
  return v;
}

Dump::Dump(const std::string& path, std::vector<Cycles> times) : path_(path), times_(std::move(times)) {
  std::sort(times_.begin(), times_.end());
  times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
  // Opened now, so that a bad path fails before the run.
  out_.open(path_, std::ios::binary);
  if (!out_) throw Error(path_ + ": cannot write dump file");
}

Dump::~Dump() = default;

void Dump::attach(Simulation& s) {
  sim_ = &s;
  const unsigned n = s.vcpu_count();
  snaps_.resize(times_.size() + 1);
  for (std::size_t k = 0; k < snaps_.size(); ++k) {
    snaps_[k].vcpus.assign(n, std::string());
    snaps_[k].taken.assign(n, false);
    if (k < times_.size()) {
      snaps_[k].at = times_[k];
      snaps_[k].cycle = times_[k];
    } else {
      snaps_[k].at = "end";
    }
  }
  if (times_.empty()) return;
  for (unsigned i = 0; i < n; ++i) s.vcpu(i).set_snapshots(times_, this);
  thread_ = std::make_unique<DumpThread>("dump", *this, s.control());
}

namespace {
constexpr unsigned kSnapshotDepth = 2;  // the document, "snapshots", a snapshot

bool flat(const nlohmann::ordered_json& v) {
  if (!v.is_structured()) return true;
  for (const auto& x : v)
    if (x.is_structured()) return false;
  return true;
}

void render_to(std::string& out, const nlohmann::ordered_json& v, unsigned depth) {
  if (flat(v)) {
    out += v.dump();
    return;
  }
  const bool object = v.is_object();
  out += object ? "{\n" : "[\n";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out.append(depth + 1, ' ');
    if (object) out += nlohmann::ordered_json(it.key()).dump() + ": ";
    render_to(out, it.value(), depth + 1);
  }
  out += "\n";
  out.append(depth, ' ');
  out += object ? "}" : "]";
}

/// `"key": value` as a member of a snapshot object.
std::string member(const std::string& key, const nlohmann::ordered_json& v) {
  std::string out(kSnapshotDepth + 1, ' ');
  out += nlohmann::ordered_json(key).dump() + ": ";
  render_to(out, v, kSnapshotDepth + 1);
  return out;
}
}  // namespace

std::string render(const nlohmann::ordered_json& v, unsigned depth) {
  std::string out;
  render_to(out, v, depth);
  return out;
}

std::string Dump::shared_state() const {
  Simulation& s = *sim_;
  hv::Hypervisor& hv = s.hypervisor();
  // One part at a time, so that only its text outlives this.
  std::string out = member("ept", inspect::ept(s.phys(), hv.eptp())) + ",\n";
  out += member("guest", s.guest() ? inspect::guest(s.phys(), *s.guest(), hv.memslots()) : json(nullptr)) + ",\n";
  out += member("memslots", inspect::memslots(hv.memslots())) + ",\n";
  out += member("dirty_log", inspect::dirty_log(hv.dirty_log()));
  return out;
}

void Dump::vcpu_state(const cpu::Vcpu& v, std::size_t k) {
  Snapshot& snap = snaps_.at(k);
  snap.vcpus[v.id()] = render(inspect::vcpu(v, v.now()), kSnapshotDepth + 2);
  snap.taken[v.id()] = true;
}

void Dump::take_shared(std::size_t k) {
  Snapshot& snap = snaps_.at(k);
  snap.shared = shared_state();
  // A vCPU that finished by now has no boundary left: its state as of now.
  for (unsigned i = 0; i < snap.vcpus.size(); ++i) {
    const cpu::Vcpu& v = sim_->vcpu(i);
    if (!snap.taken[i] && v.finished()) {
      snap.vcpus[i] = render(inspect::vcpu(v, times_[k]), kSnapshotDepth + 2);
      snap.taken[i] = true;
    }
  }
}

void Dump::take_end() {
  Snapshot& snap = snaps_.back();
  snap.cycle = sim_->control().end();
  snap.shared = shared_state();
  for (unsigned i = 0; i < snap.vcpus.size(); ++i) {
    const cpu::Vcpu& v = sim_->vcpu(i);
    snap.vcpus[i] = render(inspect::vcpu(v, v.now()), kSnapshotDepth + 2);
    snap.taken[i] = true;
  }
}

void Dump::write() {
  // {"format", "version", "snapshots": [{"at", "cycle", <shared>, "vcpus": [...]}, ...]}
  out_ << "{\n \"format\": \"vmxsim-dump\",\n \"version\": 1,\n \"snapshots\": [\n";
  for (std::size_t k = 0; k < snaps_.size(); ++k) {
    Snapshot& snap = snaps_[k];
    for (bool t : snap.taken)
      if (!t) throw Error("internal error: a --dump-at snapshot lacks a vCPU's state");
    out_ << "  {\n" << member("at", snap.at) << ",\n" << member("cycle", snap.cycle) << ",\n" << snap.shared << ",\n";
    out_ << "   \"vcpus\": [";
    for (std::size_t i = 0; i < snap.vcpus.size(); ++i) out_ << (i ? ",\n    " : "\n    ") << snap.vcpus[i];
    out_ << "\n   ]\n  }" << (k + 1 < snaps_.size() ? ",\n" : "\n");
    snap = Snapshot();  // written: free it
  }
  out_ << " ]\n}\n";
  out_.close();
  if (!out_) throw Error(path_ + ": error writing dump file");
}

}  // namespace vmxsim::sim
