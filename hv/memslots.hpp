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

/// KVM's limits (include/linux/kvm_host.h, arch/x86/include/asm/kvm_host.h):
/// KVM_MEM_SLOTS_NUM = SHRT_MAX slot ids, of which x86 leaves
/// KVM_USER_MEM_SLOTS = 32764 to userspace (3 are internal), and at most
/// KVM_MEM_MAX_NR_PAGES = 2^31 - 1 pages in a slot (__kvm_set_memory_region).
inline constexpr std::uint32_t kMemSlotsNum = 32767;
inline constexpr std::uint32_t kUserMemSlots = 32764;
inline constexpr std::uint64_t kMemMaxNrPages = (std::uint64_t{1} << 31) - 1;

/// The checks every guest-physical range of the config passes (a memslot, a
/// device region): `gpa` 4 KiB aligned, `size` a non-zero multiple of 4 KiB,
/// the end at or below 2^52. Errors name `c`'s "gpa" or "size"; `what` is the
/// range's noun in the message ("slot", "region").
void check_gpa_range(const Cfg& c, Addr gpa, std::uint64_t size, const char* what);

/// One entry of `hv.memslots` before host memory is assigned.
struct MemslotSpec {
  Addr gpa = 0;
  std::uint64_t size = 0;
  std::uint8_t backing_shift = kPageShift4K;
  bool readonly = false;
  Addr hva = 0;  // userspace_addr: 4 KiB aligned, inside the 47-bit user address space (access_ok)
  /// Reads hv.memslots; a slot without `hva` is laid out after the previous
  /// one from hv.hva_base, aligned to its backing page size.
  static std::vector<MemslotSpec> from(const Cfg& hv);
  /// One entry (a `hv.memslots` element or a memslot operation's slot).
  /// Without an `hva` key, the slot's HVA is `next_hva` (the first free one)
  /// aligned up to its backing page size, as an mmap of that backing returns.
  static MemslotSpec parse(const Cfg& s, Addr next_hva = 0);
};

/// The kinds of KVM_SET_USER_MEMORY_REGION change (enum kvm_mr_change).
enum class MemslotChange : std::uint8_t { kCreate, kDelete, kMove, kFlagsOnly };

/// The guest-physical memory map. Lookups and changes report the simulated
/// cycles they took (`cost` is increased): the steps the data structure
/// actually made times the implementation's own per-step costs (hv.costs.*,
/// read by its factory). Changes follow kvm_set_memslot: each call is one
/// swap of the active set with the edits around it (DELETE and MOVE take two
/// calls, invalidate first); the hypervisor adds the SRCU grace period and
/// the EPT zap around them.
class Memslots {
 public:
  virtual ~Memslots() = default;

  // ---- start-up and changes ------------------------------------------------
  /// Adds a slot at start-up: the steps KVM's CREATE would take are counted
  /// (stat hv.memslots.startup_steps) but no cost is reported. Throws
  /// vmxsim::Error if it overlaps a slot's GPAs (HVAs may alias, as in KVM),
  /// reuses an id, or its id is not below KVM_MEM_SLOTS_NUM.
  virtual void add(const Memslot& s) = 0;
  /// KVM_MR_CREATE: `add`, reporting its cost.
  virtual void create(const Memslot& s, Cycles& cost) = 0;
  /// DELETE / MOVE, phase 1: the slot stays in place marked invalid
  /// (KVM_MEMSLOT_INVALID): find() still returns it, and a fault on it retries.
  virtual void invalidate(std::uint32_t id, Cycles& cost) = 0;
  /// DELETE, phase 2: the slot is gone.
  virtual void remove(std::uint32_t id, Cycles& cost) = 0;
  /// MOVE, phase 2: the slot is valid again at `new_gpa` (same size, backing,
  /// HVA). The overlap check __kvm_set_memory_region makes before phase 1 is
  /// charged here; an overlap throws vmxsim::Error.
  virtual void move(std::uint32_t id, Addr new_gpa, Cycles& cost) = 0;
  /// FLAGS_ONLY (dirty logging on/off): the slot's flags change. KVM refuses
  /// to change KVM_MEM_READONLY of an existing slot (-EINVAL), so a different
  /// `readonly` throws vmxsim::Error.
  virtual void set_flags(std::uint32_t id, bool readonly, bool dirty_log, Cycles& cost) = 0;

  // ---- lookups ---------------------------------------------------------------
  /// The slot containing `gpa` (an invalid one included), or nullptr, with
  /// no cost and no cache update (checkers, the dirty log, tests).
  virtual const Memslot* find(Addr gpa) const = 0;
  /// The slot containing `gpa` as vCPU `vcpu` looks it up, reporting the
  /// cost (kvm_vcpu_gfn_to_memslot: with `tree`, the vCPU's last-used slot
  /// while its generation is the set's, then the search, which leaves the
  /// set's cache alone; with `array`, as __gfn_to_memslot). `vcpu` =
  /// kVmWide: a VM-wide lookup (__gfn_to_memslot: the set's last_used_slot,
  /// then the search, which updates it).
  virtual const Memslot* find(Addr gpa, unsigned vcpu, Cycles& cost) = 0;
  static constexpr unsigned kVmWide = ~0u;
  /// Every slot whose HVA range intersects [begin, end), in HVA order, ties
  /// by GPA (the MMU notifier's __kvm_handle_hva_range), reporting the cost.
  virtual void for_each_hva(Addr begin, Addr end, const std::function<void(const Memslot&)>& f, Cycles& cost) const = 0;
  /// The slot with id `id`, or nullptr.
  virtual const Memslot* by_id(std::uint32_t id) const = 0;
  /// The slot whose host backing holds `hpa`, or nullptr (for checkers; a
  /// side index by HPA, O(log n), no KVM state). Backings are disjoint.
  virtual const Memslot* find_hpa(Addr hpa) const = 0;
  /// Every slot in GPA order.
  virtual void for_each(const std::function<void(const Memslot&)>& f) const = 0;
  virtual std::size_t size() const = 0;
  /// Registers the implementation's own stats (hv.memslots.*).
  virtual void register_stats(Stats& s) const {}
  /// KVM's memslots generation (kvm_memslots::generation): bumped by every
  /// change after start-up, so MMIO entries made before it are stale. (The
  /// `tree` vCPU caches follow the implementation's own count of swaps,
  /// which is what kvm_swap_active_memslots advances.)
  std::uint64_t generation() const { return generation_; }
  void bump_generation() { ++generation_; }

 private:
  std::uint64_t generation_ = 0;
};

/// Implementations are built with no dependencies; each reads its own keys
/// from the `hv` section.
using MemslotsRegistry = Registry<Memslots>;

}  // namespace vmxsim::hv
