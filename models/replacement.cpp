// Replacement policies for TLB arrays, chosen by name (`tlb.<level>.replacement`).
// All are deterministic: a run is a function of its config and input only.
#include <cstdint>
#include <memory>
#include <vector>

#include "models/tlb.hpp"

namespace vmxsim::models {
namespace {

/// Shared by LRU and FIFO: one stamp per entry from a per-policy clock; the
/// victim is the way with the smallest stamp (ties go to the lowest way).
class StampPolicy : public ReplacementPolicy {
 public:
  void reset(std::uint32_t sets, std::uint32_t ways) override {
    ways_ = ways;
    clock_ = 0;
    stamp_.assign(std::size_t(sets) * ways, 0);
  }
  std::uint32_t victim(std::uint32_t set) override {
    const std::uint64_t* s = &stamp_[std::size_t(set) * ways_];
    std::uint32_t best = 0;
    for (std::uint32_t w = 1; w < ways_; ++w)
      if (s[w] < s[best]) best = w;
    return best;
  }

 protected:
  void stamp(std::uint32_t set, std::uint32_t way) {
    stamp_[std::size_t(set) * ways_ + way] = ++clock_;
  }

 private:
  std::uint32_t ways_ = 0;
  std::uint64_t clock_ = 0;  // 64 bits: never wraps in a simulation
  std::vector<std::uint64_t> stamp_;
};

/// True LRU: a hit and a fill both count as a use.
class LruPolicy final : public StampPolicy {
 public:
  void touch(std::uint32_t set, std::uint32_t way) override { stamp(set, way); }
  void fill(std::uint32_t set, std::uint32_t way) override { stamp(set, way); }
};

/// FIFO: only fills are stamped, so the victim is the oldest fill.
class FifoPolicy final : public StampPolicy {
 public:
  void touch(std::uint32_t, std::uint32_t) override {}
  void fill(std::uint32_t set, std::uint32_t way) override { stamp(set, way); }
};

/// Random: victims from a SplitMix64 stream seeded by the array's seed, so the
/// same seed gives the same victims (never std::random_device).
class RandomPolicy final : public ReplacementPolicy {
 public:
  explicit RandomPolicy(std::uint64_t seed) : seed_(seed), state_(seed) {}
  void reset(std::uint32_t, std::uint32_t ways) override {
    ways_ = ways;
    state_ = seed_;
  }
  void touch(std::uint32_t, std::uint32_t) override {}
  void fill(std::uint32_t, std::uint32_t) override {}
  std::uint32_t victim(std::uint32_t) override {
    return std::uint32_t(next() % ways_);
  }

 private:
  // SplitMix64 (Steele, Lea, Flood 2014); the constants are the algorithm's.
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t seed_;
  std::uint64_t state_;
  std::uint32_t ways_ = 1;
};

}  // namespace

VMXSIM_REGISTRY_KIND(ReplacementRegistry, "tlb.<level>.replacement", "replacement policies of set-associative arrays");
VMXSIM_REGISTER(ReplacementRegistry, "lru", "true least-recently-used: hits and fills count as uses", [](const Cfg&, const SystemInfo&) { return ReplacementRegistry::Maker([](std::uint64_t) { return std::make_unique<LruPolicy>(); }); });
VMXSIM_REGISTER(ReplacementRegistry, "fifo", "first in, first out: the oldest fill is the victim", [](const Cfg&, const SystemInfo&) { return ReplacementRegistry::Maker([](std::uint64_t) { return std::make_unique<FifoPolicy>(); }); });
VMXSIM_REGISTER(ReplacementRegistry, "random", "a seeded SplitMix64 stream picks the victim way", [](const Cfg&, const SystemInfo&) { return ReplacementRegistry::Maker([](std::uint64_t seed) { return std::make_unique<RandomPolicy>(seed); }); });

}  // namespace vmxsim::models
