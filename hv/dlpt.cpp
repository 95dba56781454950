#include "hv/dlpt.hpp"

#include <cstdio>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

DlptParams DlptParams::from(const Cfg& c, unsigned vcpus) {
  DlptParams p;
  p.vcpus = vcpus;
  p.enabled = c.boolean("enabled", p.enabled);
  p.bytes_per_vcpu = c.bytes("bytes_per_vcpu", p.bytes_per_vcpu);
  p.iterations = std::uint32_t(c.u64("iterations", p.iterations));
  p.write_fraction = c.f64("write_fraction", p.write_fraction);
  p.backing_shift = std::uint8_t(page_shift_of(c.choice("backing", "4K", {"4K", "2M", "1G"}).c_str()));
  p.gpa = c.bytes("gpa", p.gpa);
  p.overlap = c.boolean("overlap", p.overlap);
  p.random_access = c.boolean("random_access", p.random_access);
  p.clear_chunk_bytes = DirtyLogOps::clear_chunk_from(c);
  p.seed = c.u64("seed", p.seed);
  const std::uint64_t gap = c.u64("page_gap_cycles", p.page_gap_cycles);
  if (gap > 0xffffffffu) c.fail("page_gap_cycles", "expected 0 to 4294967295");
  p.page_gap_cycles = std::uint32_t(gap);
  if (p.bytes_per_vcpu == 0 || p.bytes_per_vcpu % kPageSize4K)
    c.fail("bytes_per_vcpu", "expected a non-zero multiple of 4 KiB");
  // The test rounds each vCPU's share to the backing page size
  // (memstress_create_vm); here it must be a multiple, so vCPUs' memory
  // never shares a huge page.
  if (p.bytes_per_vcpu % (Addr{1} << p.backing_shift))
    c.fail("bytes_per_vcpu", "expected a multiple of the backing page size (vmm.dlpt.backing)");
  if (p.iterations < 1) c.fail("iterations", "expected at least 1");
  if (!(p.write_fraction >= 0 && p.write_fraction <= 1)) c.fail("write_fraction", "expected 0 to 1");
  if (p.gpa % (Addr{1} << p.backing_shift))
    c.fail("gpa", "expected a multiple of the backing page size (vmm.dlpt.backing)");
  if (p.end() < p.gpa || p.end() + kPageSize4K > (Addr{1} << 52))
    c.fail("bytes_per_vcpu",
           "the test memory (cpu.vcpus x bytes_per_vcpu from gpa) and its sync page end beyond "
           "the 52-bit guest-physical address space");
  return p;
}

MemslotSpec DlptParams::slot(Addr hva) const {
  MemslotSpec s;
  s.gpa = gpa;
  s.size = end() - gpa;
  s.backing_shift = backing_shift;
  const Addr align = Addr{1} << backing_shift;
  s.hva = (hva + align - 1) & ~(align - 1);
  return s;
}

void PhaseBarrier::arrive(ExecContext& ctx) {
  ctx.sync();
  arrived_.push_back(&ctx);
  last_ = ctx.now();
  if (arrived_.size() == n_ && host_) {
    host_->wake(ctx.now() + 1);
    host_ = nullptr;
  }
  ctx.block();  // until release()
}

void PhaseBarrier::wait_all(ExecContext& ctx) {
  ctx.sync();
  if (arrived_.size() == n_) return;
  host_ = &ctx;
  ctx.block();
}

void PhaseBarrier::release(ExecContext& ctx) {
  ctx.sync();
  for (ExecContext* v : arrived_) v->wake(ctx.now() + 1);
  arrived_.clear();
}

Cycles Dlpt::phase(ExecContext& ctx, Cycles t0, const std::string& name) const {
  if (tl_) tl_->span(ctx.thread_id(), name.c_str(), t0, ctx.now());
  return ctx.now() - t0;
}

void Dlpt::run(ExecContext& ctx) {
  // The sync is a ucall: the vCPU leaves KVM_RUN for userspace (dropping
  // kvm->srcu, as vcpu_run does before returning) and waits there.
  hv_.mmio().set_doorbell(p_.sync_gpa(), [this](ExecContext& c, unsigned) {
    hv_.srcu().read_unlock(c);
    barrier_.arrive(c);
    hv_.srcu().read_lock(c);
  });
  DirtyLogOps& ops = hv_.dirty_log_ops();
  const bool manual = hv_.dirty_log().params().manual_protect;
  // Iteration 0: the vCPUs run from the start and populate their memory.
  Cycles t0 = ctx.now();
  barrier_.wait_all(ctx);
  populate = barrier_.last_arrival() - t0;
  if (tl_) tl_->span(ctx.thread_id(), "dlpt populate", t0, barrier_.last_arrival());
  // KVM_SET_USER_MEMORY_REGION with KVM_MEM_LOG_DIRTY_PAGES on the test
  // slot (the last one): the memslot commit, then kvm_mmu_slot_apply_flags.
  t0 = ctx.now();
  const Memslot* slot = hv_.memslots().find(p_.gpa);
  hv_.memslot_ops().set_flags(ctx, slot->id, true);
  ops.enable(ctx, p_.gpa, p_.end());
  enable = phase(ctx, t0, "dlpt enable dirty logging");
  Cycles released = ctx.now();
  barrier_.release(ctx);
  for (std::uint32_t i = 0; i < p_.iterations; ++i) {
    Iteration& it = iters[i];
    const std::string n = std::to_string(i + 1);
    const bool more = i + 1 < p_.iterations;
    // Dirty time: from releasing the vCPUs until the last one synced.
    barrier_.wait_all(ctx);
    it.dirty = barrier_.last_arrival() - released;
    if (tl_)
      tl_->span(ctx.thread_id(), ("dlpt iteration " + n + " dirty memory").c_str(), released, barrier_.last_arrival());
    t0 = ctx.now();
    const std::vector<Addr> pages = ops.get(ctx);
    it.pages = pages.size();
    it.get = phase(ctx, t0, "dlpt iteration " + n + " get dirty log");
    if (p_.overlap && more) {  // the vCPUs dirty memory while CLEAR runs
      released = ctx.now();
      barrier_.release(ctx);
    }
    if (manual) {
      // One KVM_CLEAR_DIRTY_LOG over the slot, as the test does, or one per
      // chunk (as QEMU's migration clears 1 GiB at a time), each with its
      // own lock hold and TLB flush.
      t0 = ctx.now();
      ops.clear_chunked(ctx, pages, p_.clear_chunk_bytes);
      it.clear = phase(ctx, t0, "dlpt iteration " + n + " clear dirty log");
    }
    if (!p_.overlap && more) {
      released = ctx.now();
      barrier_.release(ctx);
    }
  }
  t0 = ctx.now();
  hv_.memslot_ops().set_flags(ctx, slot->id, false);
  ops.disable(ctx);
  disable = phase(ctx, t0, "dlpt disable dirty logging");
  finished_ = true;
  barrier_.release(ctx);  // host_quit: the vCPUs leave
}

namespace {
std::string seconds(std::uint64_t cycles, double freq_ghz) {
  char buf[40];
  const double s = double(cycles) / (freq_ghz * 1e9);
  std::snprintf(buf, sizeof buf, "%.9fs", s);
  return buf;
}
}  // namespace

void Dlpt::report(std::ostream& out, double f) const {
  // dirty_log_perf_test's lines (pr_info), with simulated time.
  const std::uint64_t b = p_.bytes_per_vcpu;
  const std::string size = b % (1ull << 30) == 0   ? std::to_string(b >> 30) + " GiB"
                           : b % (1ull << 20) == 0 ? std::to_string(b >> 20) + " MiB"
                                                   : std::to_string(b >> 10) + " KiB";
  out << "dirty_log_perf_test: " << p_.vcpus << " vCPUs x " << size << ", backing "
      << (p_.backing_shift == kPageShift4K   ? "4K"
          : p_.backing_shift == kPageShift2M ? "2M"
                                             : "1G")
      << "\n";
  out << "Populate memory time: " << seconds(populate, f) << "\n";
  out << "Enabling dirty logging time: " << seconds(enable, f) << "\n\n";
  std::uint64_t get = 0, clear = 0;
  for (std::size_t i = 0; i < iters.size(); ++i) {
    out << "Iteration " << i + 1 << " dirty memory time: " << seconds(iters[i].dirty, f) << "\n";
    out << "Iteration " << i + 1 << " get dirty log time: " << seconds(iters[i].get, f) << "\n";
    if (hv_.dirty_log().params().manual_protect)
      out << "Iteration " << i + 1 << " clear dirty log time: " << seconds(iters[i].clear, f) << "\n";
    get += iters[i].get;
    clear += iters[i].clear;
  }
  out << "Disabling dirty logging time: " << seconds(disable, f) << "\n";
  const std::size_t n = iters.empty() ? 1 : iters.size();
  out << "Get dirty log over " << iters.size() << " iterations took " << seconds(get, f) << ". (Avg "
      << seconds(get / n, f) << "/iteration)\n";
  if (hv_.dirty_log().params().manual_protect)
    out << "Clear dirty log over " << iters.size() << " iterations took " << seconds(clear, f) << ". (Avg "
        << seconds(clear / n, f) << "/iteration)\n";
}

void Dlpt::register_stats(Stats& s) const {
  s.counter("dlpt.populate", &populate, "cycles", "dirty_log_perf_test: populating memory (every vCPU's first pass)");
  s.counter("dlpt.enable", &enable, "cycles", "dirty_log_perf_test: enabling dirty logging on the test slot");
  s.counter("dlpt.disable", &disable, "cycles",
            "dirty_log_perf_test: disabling dirty logging (with huge-page recovery)");
  for (std::size_t i = 0; i < iters.size(); ++i) {
    const std::string k = "dlpt.iter." + std::to_string(i + 1);
    s.counter(k + ".dirty", &iters[i].dirty, "cycles",
              "dirty_log_perf_test: the iteration's dirty memory time, until the last vCPU finished its pass");
    s.counter(k + ".get", &iters[i].get, "cycles", "dirty_log_perf_test: the iteration's KVM_GET_DIRTY_LOG");
    s.counter(k + ".clear", &iters[i].clear, "cycles",
              "dirty_log_perf_test: the iteration's KVM_CLEAR_DIRTY_LOG (0 without hv.dirty_log.manual_protect)");
    s.counter(k + ".pages", &iters[i].pages, "pages", "dirty_log_perf_test: pages the iteration's GET reported");
  }
}

}  // namespace vmxsim::hv
