// hv::Checkers — the oracles (docs/fault-paths.md, "Oracles"), in one place
// that the vCPUs report guest writes to and the hypervisor's operations report
// their effects to. Neither oracle changes the model: they only observe.
//   dirty-log oracle  (check.dirty_log)   hv::DirtyOracle
//   write-track oracle (check.page_track) hv::TrackOracle
//   page-table use-after-free oracle (check.pt_free) hv::PtFreeOracle
#pragma once
#include <cstdint>

#include "hv/check/dirty_oracle.hpp"
#include "hv/check/pt_free_oracle.hpp"
#include "hv/check/track_oracle.hpp"
#include "hv/memslots.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class Checkers {
 public:
  Checkers(bool dirty_log, const PageTrackParams& track, bool pt_free, const Memslots& slots)
      : dirty_(dirty_log), track_(track), pt_free_(pt_free), slots_(slots) {}
  void set_trace(Trace* t) { tl_ = t; }

  DirtyOracle& dirty() { return dirty_; }
  const DirtyOracle& dirty() const { return dirty_; }
  TrackOracle& track() { return track_; }
  PtFreeOracle& pt_free() { return pt_free_; }
  const PtFreeOracle& pt_free() const { return pt_free_; }

  // What the vCPU reports (it knows the HPA of each write it retires).
  /// The vCPU must report every guest write (the dirty-log oracle is on).
  bool wants_writes() const { return dirty_.on(); }
  void guest_write(unsigned vcpu, Addr hpa, Cycles t) {
    if (const Memslot* s = slots_.find_hpa(hpa)) dirty_.write(vcpu, s->gpa + (hpa - s->hpa), hpa, t);
  }
  /// The vCPU must report writes that completed without a VM exit on pages
  /// of configured write-track ranges (the write-track oracle is on).
  bool wants_untrapped_writes() const { return track_.on(); }
  bool track_watches_hpa(Addr hpa) const {
    const Memslot* s = slots_.find_hpa(hpa);
    return s && track_.configured(s->gpa + (hpa - s->hpa));
  }
  /// A guest write completed at HPA `hpa` without a VM exit (the vCPU has synced).
  void untrapped_write(ExecContext& ctx, unsigned vcpu, Addr hpa) {
    const Memslot* s = slots_.find_hpa(hpa);
    if (!s) return;
    const Addr gpa = s->gpa + (hpa - s->hpa);
    if (track_.write(vcpu, gpa, ctx.now()) && tl_)
      tl_->instant(ctx.thread_id(), "oracle: track bypassed", ctx.now(), TraceArgs().hex("gpa", gpa).str());
  }

  void register_stats(Stats& s) const {
    track_.register_stats(s);
    pt_free_.register_stats(s);
  }

 private:
  DirtyOracle dirty_;
  TrackOracle track_;
  PtFreeOracle pt_free_;
  const Memslots& slots_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
