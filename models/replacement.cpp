// The built-in replacement policies and the `replacement` config key.
// All are deterministic: a run is a function of its config and input only.
#include "models/replacement.hpp"

#include "sim/config.hpp"
#include "sim/hash.hpp"

namespace vmxsim::models {
namespace {

/// LRU and FIFO: the engine's stamps are all the state; the victim is the
/// oldest stamp, which the engine finds itself (victim() is here for callers
/// that ask a policy directly).
class StampPolicy final : public ReplacementPolicy {
 public:
  explicit StampPolicy(bool stamp_hits) : stamp_hits_(stamp_hits) {}
  Traits traits() const override { return Traits{stamp_hits_, true, false}; }
  std::uint32_t victim(std::uint32_t, const StampView& s) override { return oldest_way(s); }

 private:
  bool stamp_hits_;
};

/// Random: victims from a SplitMix64 stream seeded by the array's seed, so the
/// same seed gives the same victims (never std::random_device).
class RandomPolicy final : public ReplacementPolicy {
 public:
  explicit RandomPolicy(std::uint64_t seed) : state_(seed) {}
  Traits traits() const override { return Traits{false, false, false}; }
  std::uint32_t victim(std::uint32_t, const StampView& s) override {
    return std::uint32_t(splitmix64(state_) % s.ways());
  }

 private:
  std::uint64_t state_;
};

// None of these has keys of its own: each factory ignores its section.
ReplacementRegistry::Maker stamp_policy(bool stamp_hits) {
  return [stamp_hits](const ReplacementArgs&) { return std::make_unique<StampPolicy>(stamp_hits); };
}

}  // namespace

VMXSIM_REGISTRY_KIND(ReplacementRegistry, "tlb.<level>.replacement, pwc.<cache>.replacement, mem.<level>.replacement",
                     "replacement policies of set-associative arrays");
VMXSIM_REGISTER(ReplacementRegistry, "lru", "true least-recently-used: hits and fills count as uses",
                [](const Cfg&, const SystemInfo&) { return stamp_policy(true); });
VMXSIM_REGISTER(ReplacementRegistry, "fifo", "first in, first out: the oldest fill is the victim",
                [](const Cfg&, const SystemInfo&) { return stamp_policy(false); });
VMXSIM_REGISTER(ReplacementRegistry, "random",
                "a SplitMix64 stream seeded per array (from sim.seed) picks the victim way",
                [](const Cfg&, const SystemInfo&) {
                  return ReplacementRegistry::Maker(
                      [](const ReplacementArgs& a) { return std::make_unique<RandomPolicy>(a.seed); });
                });

Replacement Replacement::read(const Cfg& owner, const Replacement& def) {
  Replacement r;
  r.name = owner.choice("replacement", def.name, ReplacementRegistry::instance().names());
  // Policies see only their own section; the system's shape does not concern them.
  r.make =
      ReplacementRegistry::instance().configure(r.name, owner.path("replacement"), owner.section(r.name), SystemInfo{});
  return r;
}

std::unique_ptr<ReplacementPolicy> Replacement::build(const ReplacementArgs& a) const {
  if (make) return make(a);
  return ReplacementRegistry::instance().configure(name, "replacement", Cfg::detached(), SystemInfo{})(a);
}

}  // namespace vmxsim::models
