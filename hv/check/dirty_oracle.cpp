#include "hv/check/dirty_oracle.hpp"

#include <algorithm>

namespace vmxsim::hv {

void DirtyOracle::start(Addr begin, Addr end, Cycles t) {
  started_ = true;
  begin_ = begin;
  end_ = end;
  start_ = t;
}

void DirtyOracle::copy(Addr gpa, Addr hpa, Cycles t) {
  if (!on_) return;
  Page& p = pages_[hpa >> kPageShift4K];
  if (!p.written) p.gpa = gpa & ~(kPageSize4K - 1);
  p.last_copy = t;
  p.copied = true;
}

std::uint64_t DirtyOracle::pages_written() const {
  return std::uint64_t(std::count_if(pages_.begin(), pages_.end(), [](const auto& kv) { return kv.second.written; }));
}

std::vector<DirtyOracle::Loss> DirtyOracle::losses() const {
  std::vector<Loss> out;
  for (const auto& [page, p] : pages_)
    if (p.written && (!p.copied || p.last_write > p.last_copy))
      out.push_back({p.vcpu, p.gpa, p.last_write, p.copied ? p.last_copy : ~Cycles{0}});
  std::sort(out.begin(), out.end(), [](const Loss& a, const Loss& b) { return a.gpa < b.gpa; });
  return out;
}

}  // namespace vmxsim::hv
