#include "sim/app/simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "sim/app/dump.hpp"
#include "sim/app/inspect.hpp"
#include "sim/app/progress.hpp"
#include "sim/app/timeline.hpp"
#include "sim/format.hpp"
#include "sim/hash.hpp"
#include "traces/trace_file.hpp"

namespace vmxsim::sim {

namespace {
// L1 DTLB and STLB of Skylake (Intel Optimization Manual
// 248966-045 table 2-15): 4K 64 entries 4-way, 2M 32, 1G 4; STLB 1536
// entries 12-way for 4K+2M, 16 for 1G. Way counts of the 2M and 1G arrays are
// not published there; we take 4-way.
void add_dlpt(const Cfg& root, const Cfg& workload, SimParams& p) {
  // dirty_log_perf_test brings its guest and its test slot, and runs dirty
  // logging itself.
  const Cfg d = root.section("vmm").section("dlpt");
  const hv::DlptParams& t = p.dlpt;
  if (workload.has("trace") || workload.has("generator"))
    workload.fail(workload.has("trace") ? "trace" : "generator",
                  "vmm.dlpt runs its own guest (each vCPU touches its pages in order, then syncs); remove it");
  if (p.vmm.dirty_log) root.section("vmm").section("dirty_log").fail("enabled", "vmm.dlpt runs dirty logging itself");
  // memstress maps the test memory into the guest with 4 KiB pages set up by
  // the host; the model's guest kernel would fault them in and allocate
  // them anywhere in RAM, so the test's addresses are guest-physical.
  if (p.vcpu.paging)
    workload.fail("paging",
                  "vmm.dlpt needs \"off\" (its guest addresses are guest-physical; the guest's own "
                  "4 KiB mappings are not modelled)");
  if (p.memslot_perf.enabled) d.fail("enabled", "vmm.dlpt and vmm.memslot_perf are two tests; run one");
  Addr hva = 0;
  for (const hv::MemslotSpec& s : p.hv.memslots) {
    hva = std::max(hva, s.hva + s.size);
    if (s.gpa < t.sync_gpa() + kPageSize4K && t.gpa < s.gpa + s.size)
      d.fail("gpa", "the test memory [" + hex(t.gpa) + ", " + hex(t.end()) +
                        ") and its sync page overlap a slot of "
                        "hv.memslots at " +
                        hex(s.gpa));
  }
  for (const hv::MmioRegion& r : p.hv.mmio.regions)
    if (r.gpa < t.sync_gpa() + kPageSize4K && t.gpa < r.gpa + r.size)
      d.fail("gpa", "the test memory and its sync page overlap hv.mmio_regions at " + hex(r.gpa));
  p.hv.memslots.push_back(t.slot(hva));
  traces::GeneratorParams& g = p.generator;
  g = traces::GeneratorParams{};
  // memstress: each page in order, or (-a) guest_random_u32() % pages.
  g.pattern = t.random_access ? "uniform" : "sequential";
  g.stride = kPageSize4K;
  g.working_set_bytes = t.bytes_per_vcpu;
  g.base = t.gpa;
  g.write_fraction = t.write_fraction;
  g.seed = t.seed;
  g.gap_cycles = t.page_gap_cycles;
  g.sync_every = t.pages_per_vcpu();
  g.sync_addr = t.sync_gpa();
  g.accesses_per_vcpu = (std::uint64_t(t.iterations) + 1) * (t.pages_per_vcpu() + 1);
}

void add_nested(const Cfg& root, const Cfg& workload, SimParams& p) {
  // guest.nested: the vCPUs run L2 under a guest hypervisor (L1) whose own
  // memory is one more L0 memslot, above every other slot and device.
  const Cfg n = root.section("guest").section("nested");
  hv::NestedParams& np = p.hv.nested;
  if (p.vcpu.paging)
    workload.fail("paging",
                  "guest.nested needs \"off\": trace addresses are L2-physical (L2's own page tables are not "
                  "modelled yet)");
  if (p.hv.dirty_log.lockless_protect)
    root.section("hv")
        .section("dirty_log")
        .fail("lockless_protect",
              "cannot go with guest.nested: the shadow MMU write-protects EPT02 under mmu_lock only");
  if (!p.vmm.memslot_ops.empty())
    root.section("vmm").fail("memslot_ops",
                             "cannot go with guest.nested: memslot changes do not reach EPT02 in this model yet");
  if (p.zap_storm.enabled)
    root.section("vmm")
        .section("zap_storm")
        .fail("enabled", "cannot go with guest.nested: its zaps do not reach EPT02");
  Addr top = 0, hva = 0;
  for (const hv::MemslotSpec& s : p.hv.memslots) {
    top = std::max(top, s.gpa + s.size);
    hva = std::max(hva, s.hva + s.size);
  }
  for (const hv::MmioRegion& r : p.hv.mmio.regions) top = std::max(top, r.gpa + r.size);
  if (p.dlpt.enabled) top = std::max(top, p.dlpt.sync_gpa() + kPageSize4K);
  // The default L2 memory: every RAM slot, at the same addresses (as
  // dirty_log_perf_test -n maps L2 with an identity EPT12).
  if (np.l2_slots.empty())
    for (const hv::MemslotSpec& s : p.hv.memslots)
      if (!s.readonly) np.l2_slots.push_back({s.gpa, s.size, s.gpa});
  for (std::size_t i = 0; i < np.l2_slots.size(); ++i) {
    const hv::L2Slot& l = np.l2_slots[i];
    const std::string what = "L2 memslot " + std::to_string(i) + " [" + hex(l.gpa) + ", " + hex(l.gpa + l.size) + ")";
    bool inside = false;
    for (const hv::MemslotSpec& s : p.hv.memslots)
      inside |= !s.readonly && l.l1_gpa >= s.gpa && l.l1_gpa + l.size <= s.gpa + s.size;
    if (!inside)
      n.fail("l2_memslots", what + ": its L1 memory [" + hex(l.l1_gpa) + ", " + hex(l.l1_gpa + l.size) +
                                ") must lie inside one writable slot of hv.memslots");
    for (const hv::MmioRegion& r : p.hv.mmio.regions)
      if (r.gpa < l.gpa + l.size && l.gpa < r.gpa + r.size)
        n.fail("l2_memslots", what + " overlaps the device region at " + hex(r.gpa) + " (hv.mmio_regions)");
  }
  constexpr Addr kAlign = Addr{1} << 30;
  np.l1_memory_gpa = (top + kAlign - 1) / kAlign * kAlign;
  hv::MemslotSpec own;
  own.gpa = np.l1_memory_gpa;
  own.size = np.l1_memory;
  own.hva = (hva + (Addr{1} << kPageShift2M) - 1) / (Addr{1} << kPageShift2M) * (Addr{1} << kPageShift2M);
  p.hv.memslots.push_back(own);
}

// A trace that gives no access to some of cpu.vcpus's vCPUs runs them idle,
// which is legal (a trace of one program replayed beside idle vCPUs) but
// usually a forgotten --set cpu.vcpus: a warning, not an error. "" when every
// vCPU has accesses.
std::string idle_vcpus_warning(const std::string& trace, const std::vector<std::uint64_t>& per_vcpu) {
  std::vector<std::string> idle;  // "vcpu2..vcpu3": runs of consecutive idle vCPUs
  unsigned busy = 0;
  for (std::size_t v = 0; v < per_vcpu.size();) {
    if (per_vcpu[v]) {
      ++busy;
      ++v;
      continue;
    }
    std::size_t end = v;
    while (end + 1 < per_vcpu.size() && !per_vcpu[end + 1]) ++end;
    idle.push_back("vcpu" + std::to_string(v) + (end > v ? "..vcpu" + std::to_string(end) : ""));
    v = end + 1;
  }
  if (idle.empty()) return "";
  std::string list;
  for (const auto& i : idle) list += (list.empty() ? "" : ", ") + i;
  return "trace " + trace + " has accesses for " + std::to_string(busy) + (busy == 1 ? " vCPU" : " vCPUs") +
         " but cpu.vcpus is " + std::to_string(per_vcpu.size()) + "; " + list + " will be idle";
}

models::TlbLevelParams default_l1() {
  models::TlbLevelParams p;
  p.arrays = {{"4k", 64, 4, models::kHolds4K}, {"2m", 32, 4, models::kHolds2M}, {"1g", 4, 4, models::kHolds1G}};
  p.hit_cycles = 0;  // folded into cpu.access_cycles
  return p;
}
models::TlbLevelParams default_l2() {
  models::TlbLevelParams p;
  p.arrays = {{"shared", 1536, 12, std::uint8_t(models::kHolds4K | models::kHolds2M)}, {"1g", 16, 4, models::kHolds1G}};
  p.hit_cycles = 12;  // Haswell STLB hit ≈ 12 cycles (fastly.net Haswell review, p. 15; see docs/config.md)
  return p;
}
}  // namespace

SimParams SimParams::read(ConfigTracker& t, const std::string& base_dir, const std::vector<std::string>& cli_keys) {
  SimParams p;
  Cfg root(t);
  const Cfg sim = root.section("sim");
  p.quantum = sim.u64("quantum_cycles", p.quantum);
  if (p.quantum == 0) sim.fail("quantum_cycles", "expected at least 1");
  p.seed = sim.u64("seed", p.seed);
  p.jitter_cycles = sim.u64("jitter_cycles", p.jitter_cycles);

  const Cfg cpu = root.section("cpu");
  p.vcpus = unsigned(cpu.u64("vcpus", p.vcpus));
  if (p.vcpus == 0 || p.vcpus > 512) cpu.fail("vcpus", "expected 1 to 512");
  const SystemInfo system{p.vcpus};
  p.freq_ghz = cpu.f64("freq_ghz", p.freq_ghz);
  if (!(p.freq_ghz > 0)) cpu.fail("freq_ghz", "expected a positive number");
  p.vcpu = cpu::VcpuParams::from(cpu);
  p.vcpu.quantum = p.quantum;
  p.vcpu.jitter_cycles = p.jitter_cycles;
  p.vcpu.seed = p.seed;

  const Cfg tlb = root.section("tlb");
  p.vcpu.l1 = models::TlbLevelParams::from(tlb.section("l1"), default_l1());
  p.vcpu.l2 = models::TlbLevelParams::from(tlb.section("l2"), default_l2());
  p.vcpu.pwc = models::PwcParams::from(root.section("pwc"));
  p.vcpu.mem = models::MemHierarchyParams::from(root.section("mem"));
  p.guest = cpu::GuestParams::from(root.section("guest"));
  p.host = models::PhysMemParams::from(root.section("host"));
  p.hv = hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), system);
  p.vcpu.pml = pml::PmlParams::from(root.section("pml"), system);
  p.vcpu.with_pml = p.hv.dirty_log.mode == "pml";
  p.vmm = hv::VmmParams::from(root.section("vmm"), p.hv.memslots.size());
  p.memslot_perf = hv::MemslotPerfParams::from(root.section("vmm").section("memslot_perf"));
  if (p.vmm.disable && p.hv.oracle)
    root.section("vmm")
        .section("dirty_log")
        .fail("disable",
              "true cannot go with check.dirty_log: the oracle judges a migration, which ends with logging still on");

  const Cfg workload = root.section("workload");
  p.trace = workload.str("trace", "");
  p.vcpu.paging = workload.choice("paging", "on", {"on", "off"}) == "on";
  p.vcpu.start_cycles = workload.u64("start_cycles", 0);
  p.generator = traces::GeneratorParams::from(workload.section("generator"));
  p.dlpt = hv::DlptParams::from(root.section("vmm").section("dlpt"), p.vcpus);
  p.zap_storm = hv::ZapStormParams::from(root.section("vmm").section("zap_storm"));
  if (p.dlpt.enabled) add_dlpt(root, workload, p);
  p.hv.nested = hv::NestedParams::from(root.section("guest").section("nested"), root.section("hv").section("costs"),
                                       root.section("check"));
  if (p.hv.nested.enabled) add_nested(root, workload, p);
  bool from_cli = false;
  for (const auto& k : cli_keys) from_cli |= (k == "workload.trace" || k == "workload");
  if (!p.trace.empty() && p.trace[0] != '/' && !from_cli && !base_dir.empty()) p.trace = base_dir + "/" + p.trace;

  // memslot_perf_test's map and rw tests meet their guest twice an iteration
  // at the sync page: the guest must be the test's, or one side would wait
  // forever.
  if (p.memslot_perf.enabled && p.memslot_perf.guest_phase_pages()) {
    const auto& g = p.generator;
    const std::uint64_t phase = p.memslot_perf.guest_phase_pages();      // pages a phase writes
    const std::uint64_t ws = p.memslot_perf.area_bytes() - kPageSize4K;  // the area after the sync page
    const std::uint64_t want = std::uint64_t(p.memslot_perf.iterations) * (2 * phase + 2);
    const Cfg gen = workload.section("generator");
    const std::string what = "memslot_perf_test's " + p.memslot_perf.test + " test";
    if (!p.trace.empty() || p.vcpus != 1)
      workload.fail("generator", what + " needs one vCPU and the generator (its guest)");
    if (g.pattern != "sequential" || g.stride != kPageSize4K || g.working_set_bytes != ws ||
        g.base != p.memslot_perf.mem_gpa + kPageSize4K || g.write_fraction != 1.0)
      gen.fail("pattern", "the " + what + "'s guest writes each page of [mem_gpa + 4 KiB, +" +
                              std::to_string(ws >> 20) +
                              " MiB) in order: sequential, stride 4096, that working_set_bytes, base mem_gpa + "
                              "4 KiB, write_fraction 1");
    if (g.sync_every != phase || g.sync_addr != p.memslot_perf.mem_gpa - kPageSize4K)
      gen.fail("sync_every",
               "the " + what + "'s guest syncs after every " + std::to_string(phase) + " pages, at mem_gpa - 4 KiB");
    if (g.accesses_per_vcpu != want)
      gen.fail("accesses_per_vcpu", "expected vmm.memslot_perf.iterations × " + std::to_string(2 * phase + 2) + " = " +
                                        std::to_string(want) + " (two phases and two syncs an iteration)");
  }
  t.check_unknown();
  return p;
}

Simulation::Simulation(const SimParams& p, Timeline* timeline, Progress* progress, Dump* dump)
    : p_(p), tl_(timeline), progress_(progress), dump_(dump) {
  // Check the whole trace before any simulated time passes, so a bad line
  // or record fails fast with its file:line or record.
  if (!p_.trace.empty()) {
    const traces::TraceInfo info = traces::validate_trace(p_.trace, p_.vcpus);
    expected_ = info.accesses;
    std::vector<std::uint64_t> per_vcpu = info.per_vcpu;
    per_vcpu.resize(p_.vcpus, 0);  // a format may count only the vCPUs it saw
    const std::string idle = idle_vcpus_warning(p_.trace, per_vcpu);
    if (!idle.empty()) warnings_.push_back(idle);
  } else {
    expected_ = p_.generator.accesses_per_vcpu * p_.vcpus;
  }

  phys_ = std::make_unique<models::PhysMem>(p_.host);
  hv_ = std::make_unique<hv::Hypervisor>(p_.hv, *phys_);
  hv_->set_trace(tl_);
  if (p_.vcpu.paging) {
    // The guest's RAM map is the memslots.
    std::vector<std::pair<Addr, Addr>> ram;
    // The guest's RAM map is the writable memslots: a read-only slot is ROM,
    // reached through guest.fixed_maps.
    hv_->memslots().for_each([&ram](const hv::Memslot& s) {
      if (!s.readonly) ram.emplace_back(s.gpa, s.end());
    });
    guest_ = std::make_unique<cpu::GuestOs>(p_.guest, *phys_, std::move(ram));
  }
  p_.vcpu.mem.seed = mix_seed(p_.seed, 4 * p_.vcpus);  // the shared LLC's; each vCPU's below
  if (p_.vcpu.mem.llc_shared) llc_ = models::MemHierarchy::make_llc(p_.vcpu.mem);
  const cpu::VcpuLinks links{*phys_, *hv_, guest_.get(), llc_.get(), control_, tl_, progress_};
  std::vector<std::unique_ptr<traces::Source>> trace_sources;
  if (!p_.trace.empty()) trace_sources = traces::open_traces(p_.trace, p_.vcpus);
  for (unsigned i = 0; i < p_.vcpus; ++i) {
    std::unique_ptr<traces::Source> src =
        p_.trace.empty() ? traces::make_generator(p_.generator, i) : std::move(trace_sources[i]);
    // Distinct, deterministic seeds for random replacement: each array of a
    // level adds its index to the level's seed, so levels are spread far apart.
    cpu::VcpuParams vp = p_.vcpu;
    vp.l1.seed = mix_seed(p_.seed, 2 * i);
    vp.l2.seed = mix_seed(p_.seed, 2 * i + 1);
    vp.pwc.seed = mix_seed(p_.seed, 2 * p_.vcpus + i);
    vp.mem.seed = mix_seed(p_.seed, 3 * p_.vcpus + i);
    vcpus_.push_back(std::make_unique<cpu::Vcpu>(("vcpu" + std::to_string(i)).c_str(), i, vp, links, std::move(src)));
    if (tl_) tl_->name_thread(i, "vcpu" + std::to_string(i));
  }
  vmm_ = std::make_unique<hv::Vmm>(p_.vmm, *hv_);
  auto workload_done = [this] { return control_.finished_count() == p_.vcpus; };
  if (vmm_->active()) {
    vmm_thread_ = vmm_thread("vmm", kVmmThreadId, "vmm",
                             [this, workload_done](ExecContext& ctx) { vmm_->run(ctx, workload_done); });
  }
  if (hv_->page_track().any()) {
    track_thread_ = vmm_thread("vmm_track", kVmmTrackThreadId, "vmm page-track",
                               [this, workload_done](ExecContext& ctx) { vmm_->run_page_track(ctx, workload_done); });
  }
  perf_ = std::make_unique<hv::MemslotPerf>(p_.memslot_perf, *hv_);
  if (perf_->active()) {
    perf_thread_ = vmm_thread("vmm_memslot_perf", kVmmPerfThreadId, "vmm memslot_perf_test",
                              [this](ExecContext& ctx) { perf_->run(ctx); });
  }
  if (vmm_->has_memslot_ops()) {
    memslot_thread_ =
        vmm_thread("vmm_memslots", kVmmMemslotThreadId, "vmm memslots",
                   [this, workload_done](ExecContext& ctx) { vmm_->run_memslot_ops(ctx, workload_done); });
  }
  dlpt_ = std::make_unique<hv::Dlpt>(p_.dlpt, *hv_);
  if (dlpt_->active()) {
    dlpt_->set_trace(tl_);
    dlpt_thread_ = vmm_thread("vmm_dlpt", kVmmDlptThreadId, "vmm dirty_log_perf_test",
                              [this](ExecContext& ctx) { dlpt_->run(ctx); });
  }
  zap_storm_ = std::make_unique<hv::ZapStorm>(p_.zap_storm, *hv_);
  if (zap_storm_->active()) {
    zap_storm_->set_trace(tl_);
    zap_thread_ = vmm_thread("vmm_zap_storm", kVmmZapThreadId, "vmm zap storm",
                             [this, workload_done](ExecContext& ctx) { zap_storm_->run(ctx, workload_done); });
  }
  for (const auto& v : vcpus_) v->register_stats(stats_);
  hv_->register_stats(stats_);
  // Guest progress while dirty logging was on (the PML-vs-WP study's metric).
  if (p_.vmm.dirty_log)
    hv_->dirty_log_ops().register_progress_stats(
        stats_, [this] { return cycles_; }, p_.freq_ghz);
  vmm_->register_stats(stats_);
  if (perf_->active()) perf_->register_stats(stats_);
  if (zap_storm_->active()) zap_storm_->register_stats(stats_);
  if (dlpt_->active()) {
    dlpt_->register_stats(stats_);
    hv_->dirty_log_ops().register_progress_stats(
        stats_, [this] { return cycles_; }, p_.freq_ghz);
  }
  if (guest_) guest_->register_stats(stats_, "guest");
  if (llc_) llc_->register_stats(stats_, "mem.llc");
  register_stats();
  if (dump_) dump_->attach(*this);
}

std::unique_ptr<VmmThread> Simulation::vmm_thread(const char* name, unsigned id, const char* track,
                                                  VmmThread::Body body) {
  auto t = std::make_unique<VmmThread>(name, id, p_.quantum, control_, std::move(body));
  t->set_jitter(p_.jitter_cycles, p_.seed);
  if (tl_) tl_->name_thread(id, track);
  return t;
}

void Simulation::register_stats() {
  // Everything is registered before the run, so `vmxsim stats list` knows it;
  // the values read members that run() fills in at the end.
  stats_.counter("check.dirty_lost", &lost_, "pages",
                 "pages the dirty-log oracle (check.dirty_log) found written after their last copy: lost writes");
  stats_.value_u64(
      "check.dirty_written", [this] { return std::uint64_t(hv_->checkers().dirty().pages_written()); }, "pages",
      "pages the dirty-log oracle saw written while logging was on: guest stores, the guest kernel's page-table "
      "stores and the page walker's accessed/dirty updates of guest entries (0 with the oracle off)");
  stats_.counter("sim.accesses", &accesses_, "accesses", "guest accesses retired by every vCPU together");
  stats_.counter("sim.cycles", &cycles_, "cycles",
                 "simulated time when the last vCPU finished its stream: the run's length");
  stats_.value_u64(
      "sim.vcpus", [this] { return std::uint64_t(p_.vcpus); }, "vcpus", "vCPUs simulated (cpu.vcpus)");
  stats_.value(
      "sim.accesses_per_simulated_second",
      [this] { return cycles_ ? double(accesses_) / (double(cycles_) / (p_.freq_ghz * 1e9)) : 0.0; }, "accesses/s",
      "sim.accesses per simulated second at cpu.freq_ghz: guest throughput");
  stats_.value(
      "sim.simulated_seconds", [this] { return double(cycles_) / (p_.freq_ghz * 1e9); }, "seconds",
      "sim.cycles at cpu.freq_ghz");
  stats_.value(
      "sim.host_seconds", [this] { return host_seconds_; }, "seconds",
      "host wall-clock time of the simulation proper (not deterministic)");
  stats_.value(
      "sim.accesses_per_host_second", [this] { return host_seconds_ > 0 ? double(accesses_) / host_seconds_ : 0.0; },
      "accesses/s", "sim.accesses per host second: the simulator's speed (not deterministic)");
}

namespace {
// Registered per round when the run ends: the count of collections is only
// known then (vmm.dirty_log.rounds 0 runs until the workload ends, and a
// workload may end before `rounds`); RoundStat describes the family for
// Simulation::schema() beforehand.
struct RoundStat {
  const char* suffix;
  const char* unit;
  const char* description;
};
constexpr RoundStat kRoundPages{
    "pages", "pages", "pages the N-th dirty-log collection (GET + CLEAR) reported; the final collection is last"};
constexpr RoundStat kRoundCycles{"cycles", "cycles", "VMM cycles the N-th dirty-log collection (GET + CLEAR) took"};
}  // namespace

std::vector<Stats::Info> Simulation::schema() const {
  std::vector<Stats::Info> out = stats_.schema();
  if (vmm_->active())
    for (const RoundStat& r : {kRoundPages, kRoundCycles})
      out.push_back({std::string("vmm.round.<N>.") + r.suffix, Stats::Info::kValue, r.unit, r.description});
  return out;
}

Simulation::~Simulation() = default;

void Simulation::run() {
  if (!p_.hv.oracle_gets.empty()) {  // opened first, so a bad path fails before the run (`stats list` never opens it)
    gets_out_.open(p_.hv.oracle_gets, std::ios::binary);
    if (!gets_out_) throw Error("check.dirty_log_gets: " + p_.hv.oracle_gets + ": cannot write file");
  }
  if (progress_) progress_->start(expected_);
  const auto t0 = std::chrono::steady_clock::now();
  sc_core::sc_start();
  if (progress_) progress_->finish();
  host_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  control_.rethrow();
  // Every thread blocked and none left to wake it: a deadlock between
  // simulated threads, which must not pass for a finished run.
  if (control_.finished_count() != p_.vcpus)
    throw Error("internal error: the simulation stopped with " + std::to_string(p_.vcpus - control_.finished_count()) +
                " vCPU(s) blocked and nothing left to wake them (a deadlock between simulated threads)");
  if (dlpt_->active() && !dlpt_->finished())
    throw Error("internal error: vmm.dlpt stopped before its last phase (a deadlock between simulated threads)");
  accesses_ = total_accesses();
  cycles_ = control_.end();
  losses_ = hv_->checkers().dirty().losses();
  if (tl_)  // each lost write, at its time on the writing vCPU's track
    for (const hv::DirtyOracle::Loss& l : losses_) {
      TraceArgs a;
      a.hex("gpa", l.gpa).num("write_cycle", l.write);
      if (l.copy == ~Cycles{0}) a.text("copy_cycle", "never");
      else a.num("copy_cycle", l.copy);
      tl_->instant(l.vcpu, "oracle: lost write", l.write, a.str());
    }
  lost_ = losses_.size();
  if (gets_out_.is_open()) {
    gets_out_ << inspect::dirty_gets(hv_->checkers().dirty().gets()).dump(1) << "\n";
    gets_out_.close();
    if (!gets_out_) throw Error("check.dirty_log_gets: " + p_.hv.oracle_gets + ": error writing file");
  }
  if (dump_) dump_->take_end();
  for (std::size_t r = 0; r < vmm_->round_pages.size(); ++r) {
    const std::string n = "vmm.round." + std::to_string(r + 1) + ".";
    stats_.value_u64(
        n + kRoundPages.suffix, [this, r] { return vmm_->round_pages[r]; }, kRoundPages.unit, kRoundPages.description);
    stats_.value_u64(
        n + kRoundCycles.suffix, [this, r] { return vmm_->round_cycles[r]; }, kRoundCycles.unit,
        kRoundCycles.description);
  }
}

std::uint64_t Simulation::total_accesses() const {
  std::uint64_t n = 0;
  for (const auto& v : vcpus_) n += v->accesses;
  return n;
}

std::string Simulation::summary() const {
  std::ostringstream o;
  char buf[256];
  std::snprintf(buf, sizeof buf, "vmxsim: %u vCPU(s), %llu accesses in %llu cycles (%.3f ms at %.2f GHz)\n", p_.vcpus,
                (unsigned long long)accesses_, (unsigned long long)cycles_, double(cycles_) / (p_.freq_ghz * 1e6),
                p_.freq_ghz);
  o << buf;
  std::snprintf(buf, sizeof buf, "host: %.3f s, %.2f M accesses/s\n", host_seconds_,
                host_seconds_ > 0 ? double(accesses_) / host_seconds_ / 1e6 : 0.0);
  o << buf;
  for (const auto& v : vcpus_) {
    const std::string n = "vcpu" + std::to_string(v->id());
    const double l1h = stats_.get(n + ".tlb.l1.hits"), l1m = stats_.get(n + ".tlb.l1.misses");
    const double l2h = stats_.get(n + ".tlb.l2.hits"), l2m = stats_.get(n + ".tlb.l2.misses");
    std::snprintf(buf, sizeof buf,
                  "  %s: L1 TLB hit %.2f%%, L2 TLB hit %.2f%% of L1 misses, %llu walks (%.1f refs/walk), "
                  "%llu EPT-violation exits, hypervisor %.2f%% of cycles\n",
                  n.c_str(), l1h + l1m > 0 ? 100.0 * l1h / (l1h + l1m) : 0.0,
                  l2h + l2m > 0 ? 100.0 * l2h / (l2h + l2m) : 0.0, (unsigned long long)v->walks,
                  v->walks ? double(v->walk_refs) / double(v->walks) : 0.0,
                  (unsigned long long)v->exits[unsigned(cpu::Exit::kEptViolation)],
                  v->now() ? 100.0 * double(v->cycles_hypervisor) / double(v->now()) : 0.0);
    o << buf;
  }
  if (dlpt_->active()) dlpt_->report(o, p_.freq_ghz);
  return o.str();
}

}  // namespace vmxsim::sim
