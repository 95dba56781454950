// hv::Requests — what one thread asks of the vCPUs (KVM's kvm_make_request,
// kvm_make_all_cpus_request and kvm_flush_remote_tlbs): post a request to
// each vCPU, kick the ones in guest mode with an IPI, and wait until those
// have taken it.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/exec_context.hpp"
#include "sim/trace.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Stats;
namespace pml {
class Engine;
}
}  // namespace vmxsim

namespace vmxsim::hv {

/// Requests one thread posts to a vCPU (KVM: kvm_make_request + kick).
enum Request : unsigned {
  kRequestTlbFlush = 1,  // KVM_REQ_TLB_FLUSH
  kRequestKick = 2,      // just exit to the hypervisor (which drains PML on every exit)
};

/// A poster waiting for every in-guest target to take its request (KVM:
/// kvm_make_all_cpus_request waits for vCPUs that were IN_GUEST_MODE).
struct Ack {
  unsigned pending = 0;
  ExecContext* waiter = nullptr;
  void done(Cycles t) {
    if (pending && --pending == 0 && waiter) waiter->wake(t + 1);
  }
};

/// What the hypervisor may ask of a vCPU (implemented by cpu::Vcpu).
class VcpuHandle {
 public:
  virtual ~VcpuHandle() = default;
  /// Running guest code (not in an exit handler, not finished).
  virtual bool in_guest() const = 0;
  /// From another thread at its synced time: post `bits`; the vCPU takes
  /// them at its next interrupt window (in guest mode, through an
  /// external-interrupt exit) or before its next VM entry, then calls
  /// ack->done() if given.
  virtual void post_request(unsigned bits, Ack* ack) = 0;
  /// On the vCPU's own thread: INVEPT single-context for the guest's EPT.
  virtual void flush_tlb_local() = 0;
  /// Its PML engine, or null.
  virtual pml::Engine* pml_engine() = 0;
  /// Accesses retired so far (for study metrics: progress while logging).
  virtual std::uint64_t accesses_retired() const = 0;
};

class Requests {
 public:
  /// `ipi_send` is charged per in-guest target, `tlb_flush` for the caller's
  /// own flush (hv.costs).
  Requests(Cycles ipi_send, Cycles tlb_flush) : ipi_send_(ipi_send), tlb_flush_(tlb_flush) {}
  void set_trace(Trace* t) { tl_ = t; }

  void attach(unsigned id, VcpuHandle* v);
  /// The attached vCPUs by id (null where none is attached).
  const std::vector<VcpuHandle*>& vcpus() const { return vcpus_; }

  /// Post `bits` to every vCPU but `from` (a vCPU id, or < 0 for a VMM
  /// thread) and wait for the in-guest ones. With kRequestTlbFlush, vCPU
  /// `from` flushes its own TLB too. Returns how many were in guest mode
  /// (each took an IPI and an exit).
  unsigned kick_all(ExecContext& ctx, int from, unsigned bits);
  /// KVM: kvm_flush_remote_tlbs(): a TLB-flush request to every vCPU.
  unsigned flush_remote_tlbs(ExecContext& ctx, int from);

  void register_stats(Stats& s) const;
  std::uint64_t remote_flushes = 0, kicks = 0;

 private:
  Cycles ipi_send_, tlb_flush_;
  std::vector<VcpuHandle*> vcpus_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
