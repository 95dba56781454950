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
  Addr hva = 0;                               // userspace address of `gpa` (MMU-notifier unmaps find slots by it)
  bool dirty_log = false;                     // KVM_MEM_LOG_DIRTY_PAGES
  bool invalid = false;                       // KVM_MEMSLOT_INVALID: being deleted or moved

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
  Addr hva = 0;  // userspace address (set by the hypervisor's layout unless given)
  static std::vector<MemslotSpec> from(const Cfg& hv);  // reads hv.memslots
  /// One entry (a `hv.memslots` element or a memslot operation's slot).
  static MemslotSpec parse(const Cfg& s);
};

/// The kinds of KVM_SET_USER_MEMORY_REGION change (enum kvm_mr_change).
enum class MemslotChange : std::uint8_t { kCreate, kDelete, kMove, kFlagsOnly };

/// The guest-physical memory map. Lookups and changes report the simulated
/// cycles they took (`cost` is increased): the steps the data structure
/// actually made times the implementation's own per-step costs (hv.costs.*,
/// read by its factory). Changes follow kvm_set_memslot: each call is the
/// edit before one swap of the active set; the hypervisor adds the SRCU
/// grace period and the EPT zap around them.
class Memslots {
 public:
  virtual ~Memslots() = default;

  // ---- start-up and changes ------------------------------------------------
  /// Adds a slot (start-up, or a KVM_MR_CREATE); throws vmxsim::Error if it
  /// overlaps one or reuses an id.
  virtual void add(const Memslot& s) = 0;
  /// KVM_MR_CREATE: `add`, reporting its cost.
  virtual void create(const Memslot& s, Cycles& cost) = 0;
  /// DELETE / MOVE, phase 1: the slot stays in place marked invalid
  /// (KVM_MEMSLOT_INVALID): find() still returns it, and a fault on it retries.
  virtual void invalidate(std::uint32_t id, Cycles& cost) = 0;
  /// DELETE, phase 2: the slot is gone.
  virtual void remove(std::uint32_t id, Cycles& cost) = 0;
  /// MOVE, phase 2: the slot is valid again at `new_gpa` (same size, backing, HVA).
  virtual void move(std::uint32_t id, Addr new_gpa, Cycles& cost) = 0;
  /// FLAGS_ONLY (dirty logging on/off, read-only): the slot's flags change.
  virtual void set_flags(std::uint32_t id, bool readonly, bool dirty_log, Cycles& cost) = 0;

  // ---- lookups ---------------------------------------------------------------
  /// The slot containing `gpa` (an invalid one included), or nullptr, with
  /// no cost and no cache update (checkers, the dirty log, tests).
  virtual const Memslot* find(Addr gpa) const = 0;
  /// The slot containing `gpa` as vCPU `vcpu` looks it up, reporting the
  /// cost (kvm_vcpu_gfn_to_memslot: with `tree`, the vCPU's last-used slot
  /// while the generation matches, then the set's, then the search).
  virtual const Memslot* find(Addr gpa, unsigned vcpu, Cycles& cost) = 0;
  /// Every slot whose HVA range intersects [begin, end), in HVA order (the
  /// MMU notifier's kvm_handle_hva_range), reporting the cost.
  virtual void for_each_hva(Addr begin, Addr end, const std::function<void(const Memslot&)>& f, Cycles& cost) const = 0;
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

 private:
  std::uint64_t generation_ = 0;
};

/// Implementations are built with no dependencies; each reads its own keys
/// from the `hv` section.
using MemslotsRegistry = Registry<Memslots>;

}  // namespace vmxsim::hv
