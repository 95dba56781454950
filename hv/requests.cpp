#include "hv/requests.hpp"

#include "sim/stats.hpp"

namespace vmxsim::hv {

void Requests::attach(unsigned id, VcpuHandle* v) {
  if (vcpus_.size() <= id) vcpus_.resize(id + 1, nullptr);
  vcpus_[id] = v;
}

unsigned Requests::kick_all(ExecContext& ctx, int from, unsigned bits) {
  ++kicks;
  ctx.sync();  // the other vCPUs' request flags are shared
  const Cycles t0 = ctx.now();
  Ack ack;
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    VcpuHandle* v = vcpus_[i];
    if (!v || int(i) == from) continue;
    // Only a vCPU in guest mode needs an IPI (KVM's kick); the others see the
    // request before their next entry.
    const bool wait = v->in_guest();
    if (wait) {
      ctx.charge(ipi_send_);
      ++ack.pending;
    }
    v->post_request(bits, wait ? &ack : nullptr);
  }
  if (from >= 0 && std::size_t(from) < vcpus_.size() && vcpus_[from] && (bits & kRequestTlbFlush)) {
    ctx.charge(tlb_flush_);
    vcpus_[from]->flush_tlb_local();
  }
  const unsigned waited = ack.pending;
  if (ack.pending) {
    ack.waiter = &ctx;
    ctx.block();  // woken by the last in-guest vCPU to take the request
  }
  if (tl_)
    tl_->span(ctx.thread_id(), (bits & kRequestTlbFlush) ? "remote tlb flush" : "kick", t0, ctx.now(),
              TraceArgs().num("waited_for", waited).str());
  return waited;
}

unsigned Requests::flush_remote_tlbs(ExecContext& ctx, int from) {
  ++remote_flushes;
  return kick_all(ctx, from, kRequestTlbFlush);
}

void Requests::register_stats(Stats& s) const {
  s.counter("hv.remote_flushes", &remote_flushes, "flushes",
            "remote TLB flushes (kvm_flush_remote_tlbs): a flush request to every vCPU");
  s.counter("hv.kicks", &kicks, "broadcasts",
            "requests posted to every vCPU (remote flushes and PML-drain kicks), each waiting for the in-guest ones");
}

}  // namespace vmxsim::hv
