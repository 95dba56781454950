// hv::Memslots — the guest-physical memory map: each slot maps a GPA range to
// host backing with a host page size (4 KiB, 2 MiB with THP/hugetlbfs, 1 GiB
// hugetlbfs), like KVM's struct kvm_memory_slot. An interface with
// implementations registered by name (`hv.memslots_impl`, MemslotsRegistry);
// the cost the hypervisor charges for a lookup comes from the steps the
// implementation actually took. Everything outside refers to a slot by its
// id: a pointer a lookup returns is valid only until the next change.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/registry.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

struct Memslot {
  std::uint32_t id = 0;
  Addr gpa = 0;                               // first GPA, 4 KiB aligned
  std::uint64_t size = 0;                     // bytes, a multiple of 4 KiB
  Addr hpa = 0;                               // host backing of `gpa`, aligned to the backing page size
  std::uint8_t backing_shift = kPageShift4K;  // host page size backing the slot
  bool readonly = false;                      // KVM_MEM_READONLY: guest writes exit as MMIO writes

  bool contains(Addr g) const { return g - gpa < size; }
  Addr hpa_of(Addr g) const { return hpa + (g - gpa); }
  Addr end() const { return gpa + size; }
};

/// One entry of `hv.memslots` before host memory is assigned.
struct MemslotSpec {
  Addr gpa = 0;
  std::uint64_t size = 0;
  std::uint8_t backing_shift = kPageShift4K;
  bool readonly = false;
  static std::vector<MemslotSpec> from(const Cfg& hv);  // reads hv.memslots
  /// One entry (a `hv.memslots` element or a memslot operation's slot).
  static MemslotSpec parse(const Cfg& s);
};

class Memslots {
 public:
  virtual ~Memslots() = default;
  /// Adds a slot; throws vmxsim::Error if it overlaps one or reuses an id.
  virtual void add(const Memslot& s) = 0;
  /// The slot containing `gpa` or nullptr; `steps` receives the number of
  /// probes the implementation made (the hypervisor charges each).
  virtual const Memslot* find(Addr gpa, unsigned& steps) const = 0;
  /// The slot with id `id`, or nullptr.
  virtual const Memslot* by_id(std::uint32_t id) const = 0;
  /// The slot whose host backing holds `hpa`, or nullptr (for checkers).
  virtual const Memslot* find_hpa(Addr hpa) const = 0;
  /// Every slot in GPA order.
  virtual void for_each(const std::function<void(const Memslot&)>& f) const = 0;
  virtual std::size_t size() const = 0;
  /// KVM's memslots generation (kvm_memslots::generation): bumped by every
  /// change after start-up, so MMIO entries made before it are stale.
  std::uint64_t generation() const { return generation_; }
  void bump_generation() { ++generation_; }
  /// The slot containing `gpa`, without counting steps.
  const Memslot* find(Addr gpa) const {
    unsigned steps = 0;
    return find(gpa, steps);
  }

 private:
  std::uint64_t generation_ = 0;
};

/// Implementations are built with no dependencies; each reads its own keys
/// from the `hv` section.
using MemslotsRegistry = Registry<Memslots>;

}  // namespace vmxsim::hv
