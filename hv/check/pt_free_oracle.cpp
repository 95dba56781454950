#include "hv/check/pt_free_oracle.hpp"

#include "sim/stats.hpp"

namespace vmxsim::hv {

bool PtFreeOracle::use(const PtHold& h, unsigned thread, const char* walker, Cycles t) {
  const auto it = pages_.find(h.page);
  if (it == pages_.end() || it->second.frees == h.frees) return true;
  if (report_) {
    ++count;
    if (first_.size() < kKept) first_.push_back({walker, thread, h.page, h.at, it->second.last_free, t});
  }
  return false;
}

void PtFreeOracle::register_stats(Stats& s) const {
  s.counter("check.pt_free_violations", &count, "accesses",
            "lockless walker accesses to a page-table page freed after the walker read its pointer "
            "(check.pt_free): use-after-free");
}

}  // namespace vmxsim::hv
