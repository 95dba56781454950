// sim::Dump — `vmxsim run --dump FILE [--dump-at CYCLES]...`: snapshots of
// the simulated state (EPT, guest page tables, TLBs, PML logs, memslots,
// dirty bitmaps) at simulated times and at the end of the run, written to
// FILE as one JSON document (docs/inspect.md).
//
// What "the state at cycle T" is (docs/inspect.md, "Timing"), so that a
// snapshot is the same at any sim.quantum_cycles:
//  - shared state (page tables, memslots, dirty bitmaps) as of the end of
//    cycle T: a simulated thread (kDumpThreadId, after every other thread's
//    id) reads it at kernel instant (T, 1023), after everything every other
//    thread did at cycles <= T and before anything later;
//  - each vCPU's private state (TLBs, PML) at its first access boundary at
//    or after T: before its next access, or at its finish; a vCPU that
//    finished before T, as of T (with the shared state).
#pragma once
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cpu/vcpu.hpp"
#include "sim/sim_thread.hpp"
#include "sim/types.hpp"

namespace vmxsim::sim {

class Simulation;
class DumpThread;

/// The dump thread's id: after every vCPU (at most 512) and VMM thread
/// (1000, 1001), the last of kMaxThreads, so it reads shared state after
/// every other thread's actions at the same cycle.
inline constexpr unsigned kDumpThreadId = 1023;
/// The last cycle --dump-at may name (its kernel instant must fit 64 bits): 2^54 - 2.
inline constexpr Cycles kMaxDumpCycle = (~std::uint64_t{0} - kMaxThreads) / kSlotsPerCycle;
static_assert(kDumpThreadId < kMaxThreads, "the dump thread's id must be a valid thread id");

class Dump final : public cpu::SnapshotObserver {
 public:
  using json = nlohmann::ordered_json;
  /// Opens `path` for writing now (vmxsim::Error if it cannot be), for
  /// snapshots at `times` (sorted and deduplicated here) and at the end.
  Dump(const std::string& path, std::vector<Cycles> times);
  ~Dump() override;

  /// Elaboration, from Simulation's constructor: the dump thread, and each
  /// vCPU's snapshot times.
  void attach(Simulation& s);
  /// After a successful run: the end snapshot. Then write().
  void take_end();
  /// Writes the file; vmxsim::Error if that fails.
  void write();

  const std::vector<Cycles>& times() const { return times_; }
  /// A vCPU at its boundary for snapshot `k` (cpu::SnapshotObserver).
  void vcpu_state(const cpu::Vcpu& v, std::size_t k) override;
  /// The dump thread at (times()[k], kDumpThreadId): shared state, and the
  /// vCPUs that finished before times()[k].
  void take_shared(std::size_t k);

 private:
  /// A snapshot's parts are kept as the text they will have in the file
  /// (render()), which takes a fraction of the memory of a json tree.
  struct Snapshot {
    json at;  // the cycle, or "end"
    Cycles cycle = 0;
    std::string shared;              // the ept, guest, memslots and dirty_log members
    std::vector<std::string> vcpus;  // each vCPU's object
    std::vector<bool> taken;         // vcpus[i] is filled in
  };
  std::string shared_state() const;

  std::string path_;
  std::ofstream out_;
  std::vector<Cycles> times_;
  std::vector<Snapshot> snaps_;  // times_ order, then the end snapshot
  Simulation* sim_ = nullptr;
  std::unique_ptr<DumpThread> thread_;
};

/// `v` as the dump file writes it, at nesting depth `depth` (one space a
/// level): an object or array holding only scalars (an EPT entry, a TLB
/// entry) on one line, anything else one member or element a line.
std::string render(const nlohmann::ordered_json& v, unsigned depth);

/// Parses one --dump-at value: a cycle count, decimal digits only, at most
/// kMaxDumpCycle; vmxsim::Error naming the option otherwise.
Cycles parse_dump_cycle(const std::string& text);

}  // namespace vmxsim::sim
