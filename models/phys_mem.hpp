// models::PhysMem — host-physical memory as the walker and the hypervisor see
// it. Only page-table pages (EPT, later guest paging structures) hold data:
// each is a 4 KiB frame of 512 little-endian 64-bit entries in SDM format.
// Data pages are owned (their HPAs are handed out) but never stored.
//
// Page-table frames come from a dense pool at `table_base`, so the walker reads
// an entry with one subtraction and one index, no hashing.
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
  Addr data_base = Addr{1} << 32;    // first HPA handed to memslot backings
  Addr table_base = Addr{1} << 40;   // first HPA of the page-table frame pool
  static PhysMemParams from(const Cfg& host);
};

class PhysMem {
 public:
  explicit PhysMem(const PhysMemParams& p);

  /// A zeroed 4 KiB page-table frame; returns its HPA. Reuses freed frames
  /// (last freed first, so runs stay deterministic).
  Addr alloc_table();
  void free_table(Addr hpa);

  /// Host backing for guest memory: `bytes` at an HPA aligned to `align`.
  /// Throws if it would run into the page-table pool.
  Addr alloc_data(std::uint64_t bytes, std::uint64_t align);

  /// The 64-bit entry at an 8-byte-aligned HPA inside a live table frame.
  std::uint64_t read(Addr hpa) const { return *slot(hpa); }
  void write(Addr hpa, std::uint64_t v) { *slot(hpa) = v; }
  /// Compare-and-exchange at one simulated instant, with the semantics of
  /// LOCK CMPXCHG: on failure `expected` receives the current value.
  bool cmpxchg(Addr hpa, std::uint64_t& expected, std::uint64_t desired) {
    std::uint64_t* p = slot(hpa);
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
  std::uint64_t* slot(Addr hpa) const;
  PhysMemParams params_;
  std::vector<std::unique_ptr<std::array<std::uint64_t, 512>>> frames_;
  std::vector<std::uint64_t> free_;  // indices of freed frames
  std::uint64_t live_ = 0;
  Addr data_next_;
};

}  // namespace vmxsim::models
