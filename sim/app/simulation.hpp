// sim::Simulation — builds the model from a config (elaboration), runs it,
// and collects stats. One Simulation per process: SystemC elaborates once.
#pragma once
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cpu/vcpu.hpp"
#include "hv/dlpt.hpp"
#include "hv/hypervisor.hpp"
#include "hv/memslot_perf.hpp"
#include "hv/zap_storm.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"
#include "models/tlb.hpp"
#include "sim/app/vmm_thread.hpp"
#include "sim/config.hpp"
#include "sim/run_control.hpp"
#include "sim/stats.hpp"
#include "traces/source.hpp"

namespace vmxsim::sim {

class Timeline;
class Progress;
class Dump;

/// Every parameter of a run, read from the config by each component's own
/// reader (defaults live beside each component).
struct SimParams {
  unsigned vcpus = 1;
  Cycles quantum = 1000;
  std::uint64_t seed = 1;
  Cycles jitter_cycles = 0;  // sim.jitter_cycles: 0..N extra cycles per hypervisor step
  double freq_ghz = 2.5;
  cpu::VcpuParams vcpu;  // with TLB, PWC, memory-hierarchy and quantum parameters
  cpu::GuestParams guest;
  hv::VmmParams vmm;
  hv::MemslotPerfParams memslot_perf;  // vmm.memslot_perf
  hv::DlptParams dlpt;                 // vmm.dlpt
  hv::ZapStormParams zap_storm;        // vmm.zap_storm
  models::PhysMemParams host;
  hv::HvParams hv;
  std::string trace;  // empty: use the generator
  traces::GeneratorParams generator;

  /// Reads everything, then rejects unknown keys. `base_dir` resolves a
  /// relative workload.trace given in the file; `cli_keys` are dotted keys set
  /// with --set, whose relative paths resolve against the working directory.
  static SimParams read(ConfigTracker& t, const std::string& base_dir, const std::vector<std::string>& cli_keys);
};

class Simulation {
 public:
  /// `timeline`, if given, records the run (docs/timeline.md); it must
  /// outlive run(). Null: nothing is recorded, at no cost.
  /// `progress`, if given, is started by run() with the expected access count.
  /// `dump`, if given, takes its snapshots (`--dump`, `--dump-at`,
  /// docs/inspect.md); it must outlive run(), which takes the end snapshot.
  explicit Simulation(const SimParams& p, Timeline* timeline = nullptr, Progress* progress = nullptr,
                      Dump* dump = nullptr);
  ~Simulation();

  /// Runs to the end of every vCPU's stream. Throws vmxsim::Error on a
  /// simulated failure (e.g. a GPA no memslot covers). With a timeline, adds
  /// the dirty-log oracle's violations to it at the end.
  void run();

  const Stats& stats() const { return stats_; }
  /// Every stat the run can emit, known before it runs: the registered ones,
  /// and the per-round families (`vmm.round.<N>.pages`) registered at its end.
  std::vector<Stats::Info> schema() const;
  cpu::Vcpu& vcpu(unsigned i) { return *vcpus_.at(i); }
  unsigned vcpu_count() const { return unsigned(vcpus_.size()); }
  hv::Hypervisor& hypervisor() { return *hv_; }
  const models::PhysMem& phys() const { return *phys_; }
  /// The guest OS; null with guest paging off.
  const cpu::GuestOs* guest() const { return guest_.get(); }
  RunControl& control() { return control_; }
  /// A few human-readable lines.
  std::string summary() const;
  std::uint64_t total_accesses() const;
  /// The accesses the run will take: from the trace's validation pass, or
  /// vCPUs × workload.generator.accesses_per_vcpu.
  std::uint64_t expected_accesses() const { return expected_; }
  /// Things about the config a user likely did not mean, found while building
  /// the simulation (e.g. vCPUs a trace leaves idle), one line each, without
  /// the "vmxsim: warning: " that `vmxsim run` prints before each.
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// Dirty-log oracle violations found after the run (empty with check.dirty_log off).
  const std::vector<hv::DirtyOracle::Loss>& losses() const { return losses_; }

 private:
  void register_stats();  // the simulation's own stats (sim.*, check.dirty_lost)
  /// A VMM thread with the run's quantum and jitter, its timeline track named `track`.
  std::unique_ptr<VmmThread> vmm_thread(const char* name, unsigned id, const char* track, VmmThread::Body body);

  SimParams p_;
  Timeline* tl_;
  Progress* progress_;
  Dump* dump_;
  std::ofstream gets_out_;  // check.dirty_log_gets
  std::uint64_t expected_ = 0;
  RunControl control_;
  std::unique_ptr<models::PhysMem> phys_;
  std::unique_ptr<hv::Hypervisor> hv_;
  std::unique_ptr<cpu::GuestOs> guest_;
  std::unique_ptr<models::CacheLevel> llc_;
  std::unique_ptr<hv::Vmm> vmm_;
  std::unique_ptr<hv::MemslotPerf> perf_;
  std::unique_ptr<VmmThread> perf_thread_;
  std::unique_ptr<hv::Dlpt> dlpt_;
  std::unique_ptr<VmmThread> dlpt_thread_;
  std::unique_ptr<hv::ZapStorm> zap_storm_;
  std::unique_ptr<VmmThread> zap_thread_;
  std::unique_ptr<VmmThread> vmm_thread_, track_thread_;
  std::unique_ptr<VmmThread> memslot_thread_;  // vmm.memslot_ops
  std::vector<hv::DirtyOracle::Loss> losses_;
  std::vector<std::string> warnings_;
  std::uint64_t lost_ = 0;
  std::vector<std::unique_ptr<cpu::Vcpu>> vcpus_;
  Stats stats_;
  std::uint64_t accesses_ = 0, cycles_ = 0;
  double host_seconds_ = 0;
};

}  // namespace vmxsim::sim
