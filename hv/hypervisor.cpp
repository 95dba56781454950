#include "hv/hypervisor.hpp"

#include <algorithm>

#include "models/phys_mem.hpp"

#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

HvCosts HvCosts::from(const Cfg& c) {
  HvCosts k;
  k.vm_exit = c.u64("vm_exit", k.vm_exit);
  k.vm_entry = c.u64("vm_entry", k.vm_entry);
  k.ept_violation = c.u64("ept_violation", k.ept_violation);
  k.memslot_lookup = c.u64("memslot_lookup", k.memslot_lookup);
  k.gfn_to_pfn = c.u64("gfn_to_pfn", k.gfn_to_pfn);
  k.ipi_send = c.u64("ipi_send", k.ipi_send);
  k.tlb_flush = c.u64("tlb_flush", k.tlb_flush);
  k.barrier = c.u64("barrier", k.barrier);
  k.emulate_write = c.u64("emulate_write", k.emulate_write);
  return k;
}

HvParams HvParams::from(const Cfg& hv, const Cfg& ept, const Cfg& check, const SystemInfo& system) {
  HvParams p;
  const Cfg costs = hv.section("costs");
  p.costs = HvCosts::from(costs);
  p.lock = LockCosts::from(costs);
  p.mmu_lock = hv.choice("mmu_lock", "rw", {"rw", "spin"}) == "rw" ? LockKind::kRw : LockKind::kSpin;
  const FaultPathRegistry& paths = FaultPathRegistry::instance();
  p.fault_path = hv.choice("fault_path", p.fault_path, paths.names());
  p.make_fault_path = paths.select(
      p.fault_path, hv.path("fault_path"), [&hv](const std::string&) { return hv; }, system);
  const MemslotsRegistry& impls = MemslotsRegistry::instance();
  p.memslots_impl = hv.choice("memslots_impl", p.memslots_impl, impls.names());
  p.make_memslots = impls.select(
      p.memslots_impl, hv.path("memslots_impl"), [&hv](const std::string&) { return hv; }, system);
  p.page_track = PageTrackParams::from(hv, check);
  p.mmu = MmuParams::from(ept, hv.section("mmu"), costs);
  p.dirty_log = DirtyLogParams::from(hv.section("dirty_log"), costs);
  p.memslots = MemslotSpec::from(hv);
  p.mmio = MmioParams::from(hv, p.memslots);
  p.memslot_ops = MemslotOpCosts::from(costs);
  p.srcu_sync = costs.u64("srcu_sync", p.srcu_sync);
  p.oracle = check.boolean("dirty_log", p.oracle);
  p.eager_split = EagerSplitParams::from(hv.section("eager_split"), costs);
  p.fault_split_zap = hv.choice("fault_split", "in_place", {"in_place", "zap"}) == "zap";
  p.oracle_gets = check.str("dirty_log_gets", p.oracle_gets);
  p.pt_free_oracle = check.boolean("pt_free", p.pt_free_oracle);
  p.rcu = RcuParams::from(hv.section("rcu"));
  const Cfg pt_free = hv.section("pt_free");
  const PtFreeRegistry& policies = PtFreeRegistry::instance();
  p.pt_free = pt_free.choice("policy", p.pt_free, policies.names());
  p.make_pt_free = policies.select(
      p.pt_free, pt_free.path("policy"), [&pt_free](const std::string&) { return pt_free; }, system);
  if (!p.oracle_gets.empty() && !p.oracle)
    check.fail("dirty_log_gets", "needs check.dirty_log: true (the dirty-log oracle records the GETs)");
  if (p.dirty_log.mode == "pml" && !p.mmu.ad)
    hv.section("dirty_log").fail("mode", "\"pml\" needs EPT accessed/dirty flags (ept.ad: true)");
  return p;
}

namespace {
/// The configured memslots, each backed by host memory of its page size.
std::unique_ptr<Memslots> build_memslots(const HvParams& p, models::PhysMem& mem) {
  std::unique_ptr<Memslots> slots = p.make_memslots();
  std::uint32_t id = 0;
  for (const auto& spec : p.memslots) {
    Memslot s;
    s.id = id++;
    s.gpa = spec.gpa;
    s.size = spec.size;
    s.backing_shift = spec.backing_shift;
    s.readonly = spec.readonly;
    s.hva = spec.hva;
    s.hpa = mem.alloc_data(spec.size, Addr{1} << spec.backing_shift);
    slots->add(s);
  }
  return slots;
}
}  // namespace

Hypervisor::Hypervisor(const HvParams& p, models::PhysMem& mem)
    : p_(p), mem_(mem), slots_(build_memslots(p_, mem)), mmu_(mem, p_.mmu), mmu_lock_("mmu_lock", p_.lock, p_.mmu_lock),
      dirty_(p_.dirty_log), track_(p_.page_track), rcu_(mem, p_.rcu), srcu_(p_.srcu_sync),
      splitter_(p_.eager_split, mmu_, mmu_lock_), checks_(p_.oracle, p_.page_track, p_.pt_free_oracle, *slots_),
      requests_(p_.costs.ipi_send, p_.costs.tlb_flush), pt_env_{rcu_, requests_, p_.costs.ipi_send},
      pt_free_(p_.make_pt_free(pt_env_)),
      slow_(p_.costs, mmu_, p_.mmu.spte_set, mmu_lock_, dirty_, track_, requests_, p_.fault_split_zap),
      env_(p_.costs, mmu_, mem, dirty_, track_, *pt_free_, checks_.pt_free(), slow_), path_(p_.make_fault_path(env_)),
      dirty_ops_({mmu_, mmu_lock_, dirty_, requests_, *slots_, track_, *pt_free_, checks_.pt_free(), checks_.dirty(),
                  splitter_, p_.memslot_ops.zap_leaf}),
      mmio_(p_.mmio, mmu_, mmu_lock_, *slots_), exits_(p_.costs, *slots_, *path_, dirty_ops_, mmio_),
      memslot_ops_(p_.memslot_ops, {*slots_, mmu_, mmu_lock_, requests_, srcu_, dirty_, mmio_, mem, *pt_free_}),
      track_ops_({p_.costs, mmu_, mmu_lock_, dirty_, track_, requests_, *path_, checks_.track()}) {
  dirty_.attach(*slots_);
  if (p_.nested.enabled) {
    l1_ = std::make_unique<L1Hypervisor>(p_.nested, mem, *slots_, p_.mmu.levels);
    if (p_.nested.ept12_prepopulate) l1_->prepopulate();
    nested_ = std::make_unique<NestedMmu>(
        p_.nested,
        NestedMmu::Parts{p_.costs, mem, *slots_, mmu_, mmu_lock_, dirty_, track_, *path_, requests_, *pt_free_},
        l1_->root12(), p_.mmu.levels);
    dirty_ops_.set_shadow(nested_.get());
    exits_.set_nested(nested_.get());
  }
  rcu_.on_free([this](Addr page, Cycles t) { checks_.pt_free().freed(page, t); });
  checks_.dirty().record_gets(!p_.oracle_gets.empty());
}

void Hypervisor::set_trace(Trace* t) {
  mmu_lock_.set_trace(t);
  rcu_.set_trace(t);
  pt_free_->set_trace(t);
  checks_.set_trace(t);
  requests_.set_trace(t);
  slow_.set_trace(t);
  env_.set_trace(t);
  dirty_ops_.set_trace(t);
  splitter_.set_trace(t);
  mmio_.set_trace(t);
  memslot_ops_.set_trace(t);
  track_ops_.set_trace(t);
  if (nested_) {
    nested_->set_trace(t);
    l1_->set_trace(t);
  }
}

void Hypervisor::register_stats(Stats& s) const {
  exits_.register_stats(s);
  mmio_.register_stats(s);
  memslot_ops_.register_stats(s);
  slots_->register_stats(s);
  srcu_.register_stats(s, "hv.srcu");
  requests_.register_stats(s);
  slow_.register_stats(s);
  path_->register_stats(s);
  dirty_ops_.register_stats(s);
  splitter_.register_stats(s);
  checks_.register_stats(s);
  mmu_.register_stats(s, "hv.mmu");
  mmu_lock_.register_stats(s, "hv.lock.mmu_lock");
  track_.register_stats(s, "hv.page_track");
  rcu_.register_stats(s, "hv.rcu");
  pt_free_->register_stats(s);
  if (nested_) {
    nested_->register_stats(s);
    l1_->register_stats(s);
  }
}

}  // namespace vmxsim::hv
