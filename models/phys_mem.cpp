#include "models/phys_mem.hpp"

#include <sstream>

#include "sim/config.hpp"
#include "sim/error.hpp"

namespace vmxsim::models {

// `host` section: where the model places host-physical memory. Neither value
// changes translation results; they fix the HPAs that appear in EPT entries.
PhysMemParams PhysMemParams::from(const Cfg& host) {
  PhysMemParams p;
  p.data_base = host.bytes("data_base", p.data_base);
  p.table_base = host.bytes("table_base", p.table_base);
  if (p.data_base % kPageSize4K) host.fail("data_base", "expected a multiple of 4 KiB");
  if (p.table_base % kPageSize4K) host.fail("table_base", "expected a multiple of 4 KiB");
  if (p.table_base <= p.data_base) host.fail("table_base", "must be above host.data_base");
  if (p.table_base >= (Addr{1} << 52)) host.fail("table_base", "must be below 2^52 (MAXPHYADDR)");
  return p;
}

PhysMem::PhysMem(const PhysMemParams& p) : params_(p), data_next_(p.data_base) {}

Addr PhysMem::alloc_table() {
  std::uint64_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
    frames_[idx] = std::make_unique<std::array<std::uint64_t, 512>>();
  } else {
    idx = frames_.size();
    frames_.push_back(std::make_unique<std::array<std::uint64_t, 512>>());
  }
  frames_[idx]->fill(0);
  ++live_;
  return params_.table_base + (idx << kPageShift4K);
}

void PhysMem::free_table(Addr hpa) {
  find(hpa, false);  // validates
  std::uint64_t idx = (hpa - params_.table_base) >> kPageShift4K;
  frames_[idx].reset();
  free_.push_back(idx);
  --live_;
}

Addr PhysMem::alloc_data(std::uint64_t bytes, std::uint64_t align) {
  Addr base = (data_next_ + align - 1) & ~(align - 1);
  if (base + bytes > params_.table_base || base + bytes < base) {
    std::ostringstream m;
    m << "host memory layout: guest backing of " << bytes << " bytes does not fit below "
      << "host.table_base (0x" << std::hex << params_.table_base << "); raise host.table_base";
    throw Error(m.str());
  }
  data_next_ = base + bytes;
  dir_.resize(((data_next_ - params_.data_base) >> kPageShift2M) + 1);
  return base;
}

std::uint64_t* PhysMem::create_guest_entry(Addr hpa) const {
  const std::uint64_t off = hpa - params_.data_base;
  std::unique_ptr<Chunk>& c = dir_[off >> kPageShift2M];
  if (!c) c = std::make_unique<Chunk>();
  std::unique_ptr<Frame>& f = (*c)[(off >> kPageShift4K) & 511];
  if (!f) {
    f = std::make_unique<Frame>();
    f->fill(0);
  }
  return &(*f)[(hpa >> 3) & 511];
}

void PhysMem::bad_address(Addr hpa) {
  std::ostringstream m;
  m << "internal error: HPA 0x" << std::hex << hpa
    << " is not an aligned entry of a live page-table frame or of guest memory";
  throw Error(m.str());
}

}  // namespace vmxsim::models
