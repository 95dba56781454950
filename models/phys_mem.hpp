// models::PhysMem — host-physical memory as the walker and the hypervisor see
// it. Only page-table pages (EPT, later guest paging structures) hold data:
// each is a 4 KiB frame of 512 little-endian 64-bit entries in SDM format.
// Data pages are owned (their HPAs are handed out) but never stored.
//
// Page-table frames the hypervisor allocates (EPT) come from a dense pool at
// `table_base`, so the walker reads them with one subtraction and one index.
// Guest paging-structure pages live in guest memory, i.e. at data HPAs behind
// a memslot: those frames are materialised on demand (`materialize`) in a
// sparse map, so their entries are bit-exact too.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::models {

struct PhysMemParams {
  Addr data_base = Addr{1} << 32;   // first HPA handed to memslot backings
  Addr table_base = Addr{1} << 40;  // first HPA of the page-table frame pool
  static PhysMemParams from(const Cfg& host);
};

class PhysMem {
 public:
  explicit PhysMem(const PhysMemParams& p);

  /// A zeroed 4 KiB page-table frame; returns its HPA. Reuses freed frames
  /// (last freed first, so runs stay deterministic).
  Addr alloc_table();
  void free_table(Addr hpa);

  /// Make the 4 KiB guest frame containing `hpa` hold entries (zeroed the
  /// first time); returns its base. Writes do this implicitly.
  Addr materialize(Addr hpa) {
    find(hpa, true);
    return hpa & ~(kPageSize4K - 1);
  }
  bool materialized(Addr hpa) const { return hpa < params_.table_base && find(hpa, false); }

  /// Host backing for guest memory: `bytes` at an HPA aligned to `align`.
  /// Throws if it would run into the page-table pool.
  Addr alloc_data(std::uint64_t bytes, std::uint64_t align);

  /// The 64-bit entry at an 8-byte-aligned HPA: in a live page-table frame,
  /// or in guest memory (which reads as zero until written).
  std::uint64_t read(Addr hpa) const {
    const std::uint64_t* p = find(hpa, false);
    return p ? *p : 0;
  }
  void write(Addr hpa, std::uint64_t v) { *find(hpa, true) = v; }
  /// Compare-and-exchange at one simulated instant, with the semantics of
  /// LOCK CMPXCHG: on failure `expected` receives the current value.
  bool cmpxchg(Addr hpa, std::uint64_t& expected, std::uint64_t desired) {
    std::uint64_t* p = find(hpa, true);
    if (*p != expected) {
      expected = *p;
      return false;
    }
    *p = desired;
    return true;
  }

  std::uint64_t live_tables() const { return live_; }
  std::uint64_t data_bytes() const { return data_next_ - params_.data_base; }

 private:
  using Frame = std::array<std::uint64_t, 512>;
  using Chunk = std::array<std::unique_ptr<Frame>, 512>;  // the frames of 2 MiB of guest memory

  /// The entry at `hpa`. Page-table pool: must be a live frame. Guest memory:
  /// nullptr if never written, unless `create`. Anything else throws.
  std::uint64_t* find(Addr hpa, bool create) const {
    if (hpa >= params_.table_base) {
      const std::uint64_t idx = (hpa - params_.table_base) >> kPageShift4K;
      if (idx < frames_.size() && frames_[idx] && !(hpa & 7)) return &(*frames_[idx])[(hpa >> 3) & 511];
    } else if (hpa >= params_.data_base && hpa < data_next_ && !(hpa & 7)) {
      const std::uint64_t off = hpa - params_.data_base;
      std::unique_ptr<Chunk>& c = dir_[off >> kPageShift2M];
      if (c) {
        if (Frame* f = (*c)[(off >> kPageShift4K) & 511].get()) return &(*f)[(hpa >> 3) & 511];
      }
      if (!create) return nullptr;
      return create_guest_entry(hpa);
    }
    bad_address(hpa);
  }
  std::uint64_t* create_guest_entry(Addr hpa) const;
  [[noreturn]] static void bad_address(Addr hpa);

  PhysMemParams params_;
  std::vector<std::unique_ptr<Frame>> frames_;
  std::vector<std::uint64_t> free_;                  // indices of freed frames
  mutable std::vector<std::unique_ptr<Chunk>> dir_;  // guest frames by 2 MiB chunk of the data region
  std::uint64_t live_ = 0;
  Addr data_next_;
};

}  // namespace vmxsim::models
