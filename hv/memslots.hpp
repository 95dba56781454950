// hv::Memslots — the guest-physical memory map: each slot maps a GPA range to
// host backing with a host page size (4 KiB, 2 MiB with THP/hugetlbfs, 1 GiB
// hugetlbfs), like KVM's struct kvm_memory_slot. This version keeps a sorted
// array with binary search by GPA (KVM's pre-5.17 layout); the cost the
// hypervisor charges comes from the search steps actually taken.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::hv {

struct Memslot {
  std::uint32_t id = 0;
  Addr gpa = 0;            // first GPA, 4 KiB aligned
  std::uint64_t size = 0;  // bytes, a multiple of 4 KiB
  Addr hpa = 0;            // host backing of `gpa`, aligned to the backing page size
  std::uint8_t backing_shift = kPageShift4K;  // host page size backing the slot

  bool contains(Addr g) const { return g - gpa < size; }
  Addr hpa_of(Addr g) const { return hpa + (g - gpa); }
  Addr end() const { return gpa + size; }
};

/// One entry of `hv.memslots` before host memory is assigned.
struct MemslotSpec {
  Addr gpa = 0;
  std::uint64_t size = 0;
  std::uint8_t backing_shift = kPageShift4K;
  static std::vector<MemslotSpec> from(const Cfg& hv);  // reads hv.memslots
};

class Memslots {
 public:
  /// Inserts keeping GPA order; throws vmxsim::Error if it overlaps a slot.
  void add(const Memslot& s);
  /// The slot containing `gpa` or nullptr; `steps` receives the number of
  /// binary-search probes made.
  const Memslot* find(Addr gpa, unsigned& steps) const;
  const std::vector<Memslot>& all() const { return slots_; }
  /// The slot whose host backing holds `hpa`, or nullptr (linear: for checks).
  const Memslot* find_hpa(Addr hpa) const {
    for (const Memslot& s : slots_)
      if (hpa - s.hpa < s.size) return &s;
    return nullptr;
  }

 private:
  std::vector<Memslot> slots_;  // sorted by gpa, non-overlapping
};

}  // namespace vmxsim::hv
