#include "hv/vmm.hpp"

#include <algorithm>
#include <set>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/exec_context.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

VmmParams VmmParams::from(const Cfg& vmm, std::size_t static_slots) {
  VmmParams p;
  const Cfg d = vmm.section("dirty_log");
  p.dirty_log = d.boolean("enabled", p.dirty_log);
  p.start_cycles = d.u64("start_cycles", p.start_cycles);
  p.gpa = d.bytes("gpa", p.gpa);
  p.size = d.bytes("size", p.size);
  p.period_cycles = d.u64("period_cycles", p.period_cycles);
  p.rounds = d.u64("rounds", p.rounds);
  p.disable = d.boolean("disable", p.disable);
  p.clear_chunk = DirtyLogOps::clear_chunk_from(d);
  if (p.disable && p.rounds == 0) d.fail("disable", "true needs rounds of at least 1 (logging stops after them)");
  if (p.period_cycles == 0) d.fail("period_cycles", "expected at least 1");
  if (p.gpa % kPageSize4K || p.size % kPageSize4K)
    d.fail(p.gpa % kPageSize4K ? "gpa" : "size", "expected a multiple of 4 KiB");
  // vmm.memslot_ops: [{ "at_cycles": N, "op": "create" | "delete" | "move" | "flags" | "unmap", ... }],
  // run in time order (ties: list order). Ids are checked by replaying the
  // schedule: hv.memslots are 0 .. n-1 and each create takes the next id.
  std::vector<std::pair<Cycles, Cfg>> ops;
  for (const Cfg& o : vmm.list("memslot_ops", json::array())) ops.emplace_back(o.u64("at_cycles", 0), o);
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::set<std::uint32_t> live;
  for (std::uint32_t i = 0; i < static_slots; ++i) live.insert(i);
  std::uint32_t next_id = std::uint32_t(static_slots);
  for (const auto& [t, o] : ops) {
    MemslotOp op;
    op.at_cycles = t;
    const std::string kind = o.choice("op", "create", {"create", "delete", "move", "flags", "unmap"});
    const auto need_id = [&] {
      op.id = std::uint32_t(o.u64("id", 0));
      if (!o.has("id")) o.fail("id", "expected the id of the slot to " + kind);
      if (!live.count(op.id))
        o.fail("id", "no slot has id " + std::to_string(op.id) + " at cycle " + std::to_string(t) +
                         " (hv.memslots are 0 .. " + std::to_string(static_slots) +
                         " - 1, and each create takes the next id)");
    };
    if (kind == "create") {
      op.kind = MemslotOp::kCreate;
      op.slot = MemslotSpec::parse(o);
      live.insert(next_id++);
    } else if (kind == "delete") {
      op.kind = MemslotOp::kDelete;
      need_id();
      live.erase(op.id);
    } else if (kind == "move") {
      op.kind = MemslotOp::kMove;
      need_id();
      op.to_gpa = o.bytes("to_gpa", 0);
      if (op.to_gpa % kPageSize4K) o.fail("to_gpa", "expected a multiple of 4 KiB");
    } else if (kind == "flags") {
      op.kind = MemslotOp::kFlags;
      need_id();
      op.dirty_log = o.boolean("dirty_log", false);  // KVM refuses a KVM_MEM_READONLY change
    } else {
      op.kind = MemslotOp::kUnmap;
      op.hva = o.bytes("hva", 0);
      op.size = o.bytes("size", 0);
      if (op.hva % kPageSize4K || op.size == 0 || op.size % kPageSize4K)
        o.fail(op.hva % kPageSize4K ? "hva" : "size", "expected a (non-zero) multiple of 4 KiB");
    }
    p.memslot_ops.push_back(op);
  }
  return p;
}

void Vmm::collect(ExecContext& ctx) {
  const Cycles t0 = ctx.now();
  const std::vector<Addr> pages = hv_.dirty_log_ops().get(ctx);
  if (hv_.dirty_log().params().manual_protect) hv_.dirty_log_ops().clear_chunked(ctx, pages, p_.clear_chunk);
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
    MemslotOps& m = hv_.memslot_ops();
    switch (op.kind) {
      case MemslotOp::kCreate: m.create(ctx, op.slot); break;
      case MemslotOp::kDelete: m.remove(ctx, op.id); break;
      case MemslotOp::kMove: m.move(ctx, op.id, op.to_gpa); break;
      case MemslotOp::kFlags: m.set_flags(ctx, op.id, op.dirty_log); break;
      case MemslotOp::kUnmap: m.unmap_hva(ctx, op.hva, op.size); break;
    }
  }
}

void Vmm::register_stats(Stats& s) const {
  s.counter("vmm.rounds", &rounds, "collections",
            "dirty-log collections (GET + CLEAR) the VMM ran, the final one included");
  s.counter("vmm.pages_reported", &pages_reported, "pages", "dirty pages reported by all GETs");
  s.counter("vmm.cycles_collecting", &cycles_collecting, "cycles", "VMM cycles spent in GET + CLEAR");
}

}  // namespace vmxsim::hv
