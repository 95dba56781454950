#include "hv/zap_storm.hpp"

#include <vector>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

ZapStormParams ZapStormParams::from(const Cfg& c) {
  ZapStormParams p;
  p.enabled = c.boolean("enabled", p.enabled);
  p.start_cycles = c.u64("start_cycles", p.start_cycles);
  p.period_cycles = c.u64("period_cycles", p.period_cycles);
  p.bytes = c.bytes("bytes", p.bytes);
  p.gpa = c.bytes("gpa", p.gpa);
  p.size = c.bytes("size", p.size);
  p.count = c.u64("count", p.count);
  if (p.bytes == 0 || p.bytes % kPageSize4K) c.fail("bytes", "expected a non-zero multiple of 4 KiB");
  if (p.gpa % kPageSize4K || p.size % kPageSize4K)
    c.fail(p.gpa % kPageSize4K ? "gpa" : "size", "expected a multiple of 4 KiB");
  if (p.period_cycles == 0) c.fail("period_cycles", "expected at least 1");
  return p;
}

void ZapStorm::run(ExecContext& ctx, const std::function<bool()>& workload_done) {
  if (!p_.enabled) return;
  Addr end = p_.gpa + p_.size;
  if (!p_.size) {
    const Memslot* s = hv_.memslots().find(p_.gpa);
    if (!s) throw Error("vmm.zap_storm.gpa: no memslot holds GPA " + hex(p_.gpa) + " (give vmm.zap_storm.size)");
    end = s->end();
  }
  ctx.charge(p_.start_cycles);
  Addr at = p_.gpa;
  for (std::uint64_t z = 0; p_.count == 0 || z < p_.count; ++z) {
    ctx.sync();
    if (workload_done()) return;
    const Cycles t0 = ctx.now();
    if (!zaps_) first_ = t0;
    const Addr b = at, e = std::min(end, at + p_.bytes);
    std::vector<Addr> unlinked;
    hv_.mmu_lock().acquire(ctx, LockMode::kWrite);
    const std::uint64_t n = hv_.mmu().zap_range(ctx, b, e, true, unlinked, hv_.memslot_ops().costs().zap_leaf);
    hv_.mmu_lock().release(ctx);
    const std::size_t tables = unlinked.size();
    hv_.pt_free().commit(ctx, std::move(unlinked), n != 0, "zap storm: commit");
    ++zaps_;
    tables_ += tables;
    entries_ += n;
    busy_ += ctx.now() - t0;
    last_ = ctx.now();
    if (tl_) tl_->span(ctx.thread_id(), "zap", t0, ctx.now(), TraceArgs().hex("gpa", b).num("tables", tables).str());
    at = e >= end ? p_.gpa : e;
    ctx.charge(p_.period_cycles);
  }
}

void ZapStorm::register_stats(Stats& s) const {
  s.counter("vmm.zap_storm.zaps", &zaps_, "zaps", "range zaps the zap-storm loop ran (vmm.zap_storm)");
  s.counter("vmm.zap_storm.tables", &tables_, "pages", "page-table pages the zap-storm loop unlinked");
  s.counter("vmm.zap_storm.entries", &entries_, "entries",
            "leaves and table links the zap-storm loop cleared (each unlinked subtree counts once)");
  s.counter("vmm.zap_storm.busy_cycles", &busy_, "cycles",
            "cycles the loop spent zapping and committing (mmu_lock waits and the freeing policy's stalls "
            "included)");
  s.value(
      "vmm.zap_storm.zaps_per_mcycle",
      [this] { return last_ > first_ ? double(zaps_) * 1e6 / double(last_ - first_) : 0.0; }, "zaps/Mcycle",
      "zap throughput: zaps per million cycles from the first zap's start to the last one's end");
}

}  // namespace vmxsim::hv
