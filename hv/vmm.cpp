#include "hv/vmm.hpp"

#include <algorithm>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/exec_context.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

VmmParams VmmParams::from(const Cfg& vmm) {
  VmmParams p;
  const Cfg d = vmm.section("dirty_log");
  p.dirty_log = d.boolean("enabled", p.dirty_log);
  p.start_cycles = d.u64("start_cycles", p.start_cycles);
  p.gpa = d.bytes("gpa", p.gpa);
  p.size = d.bytes("size", p.size);
  p.period_cycles = d.u64("period_cycles", p.period_cycles);
  p.rounds = d.u64("rounds", p.rounds);
  p.disable = d.boolean("disable", p.disable);
  if (p.disable && p.rounds == 0) d.fail("disable", "true needs rounds of at least 1 (logging stops after them)");
  if (p.period_cycles == 0) d.fail("period_cycles", "expected at least 1");
  if (p.gpa % kPageSize4K || p.size % kPageSize4K)
    d.fail(p.gpa % kPageSize4K ? "gpa" : "size", "expected a multiple of 4 KiB");
  // vmm.memslot_ops: [{ "at_cycles": N, "op": "create", "gpa", "size", "backing", "readonly" }]
  for (const Cfg& o : vmm.list("memslot_ops", json::array())) {
    MemslotOp op;
    op.at_cycles = o.u64("at_cycles", 0);
    op.op = o.choice("op", op.op, {"create"});
    op.slot = MemslotSpec::parse(o);
    p.memslot_ops.push_back(op);
  }
  std::stable_sort(p.memslot_ops.begin(), p.memslot_ops.end(),
                   [](const MemslotOp& a, const MemslotOp& b) { return a.at_cycles < b.at_cycles; });
  return p;
}

void Vmm::collect(ExecContext& ctx) {
  const Cycles t0 = ctx.now();
  const std::vector<Addr> pages = hv_.dirty_log_ops().get(ctx);
  hv_.dirty_log_ops().clear(ctx, pages);
  ++rounds;
  pages_reported += pages.size();
  cycles_collecting += ctx.now() - t0;
  round_pages.push_back(pages.size());
  round_cycles.push_back(ctx.now() - t0);
}

void Vmm::run(ExecContext& ctx, const std::function<bool()>& workload_done) {
  if (!p_.dirty_log) return;
  ctx.charge(p_.start_cycles);
  ctx.sync();
  if (workload_done()) return;  // nothing ran while logging was on
  const Addr end = p_.size ? p_.gpa + p_.size : ~Addr{0} >> 12 << 12;
  hv_.dirty_log_ops().enable(ctx, p_.gpa, end);
  for (std::uint64_t r = 0;; ++r) {
    ctx.charge(p_.period_cycles);
    ctx.sync();
    if (workload_done()) break;
    if (p_.rounds == 0 || r < p_.rounds) collect(ctx);
    if (p_.disable && r + 1 == p_.rounds) {
      // Migration cancelled, or VRAM tracking over: KVM_MEM_LOG_DIRTY_PAGES off.
      hv_.dirty_log_ops().disable(ctx);
      return;
    }
  }
  collect(ctx);  // the vCPUs have stopped: the final collection
}

void Vmm::run_page_track(ExecContext& ctx, const std::function<bool()>& workload_done) {
  struct Event {
    Cycles t;
    bool remove;
    std::size_t range;
  };
  std::vector<Event> events;
  const auto& ranges = hv_.page_track().ranges();
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    events.push_back({ranges[i].add_cycles, false, i});
    if (ranges[i].remove_cycles) events.push_back({ranges[i].remove_cycles, true, i});
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.t != b.t ? a.t < b.t : a.remove < b.remove; });
  for (const Event& e : events) {
    if (e.t > ctx.now()) ctx.charge(e.t - ctx.now());
    ctx.sync();
    if (workload_done()) return;
    if (e.remove) hv_.page_track_ops().remove(ctx, e.range);
    else hv_.page_track_ops().add(ctx, e.range);
  }
}

void Vmm::run_memslot_ops(ExecContext& ctx, const std::function<bool()>& workload_done) {
  for (const MemslotOp& op : p_.memslot_ops) {
    if (op.at_cycles > ctx.now()) ctx.charge(op.at_cycles - ctx.now());
    ctx.sync();
    if (workload_done()) return;
    hv_.create_memslot(ctx, op.slot);
  }
}

void Vmm::register_stats(Stats& s) const {
  s.counter("vmm.rounds", &rounds, "collections",
            "dirty-log collections (GET + CLEAR) the VMM ran, the final one included");
  s.counter("vmm.pages_reported", &pages_reported, "pages", "dirty pages reported by all GETs");
  s.counter("vmm.cycles_collecting", &cycles_collecting, "cycles", "VMM cycles spent in GET + CLEAR");
}

}  // namespace vmxsim::hv
