// hv::PtFreeOracle — the use-after-free checker for page-table pages
// (`check.pt_free`): a lockless walker must never touch an entry of a
// page-table page that was returned to the allocator after the walker read
// the pointer to it. A walker takes a hold when it reads a table pointer and
// presents it before each later access to that table; a hold made before the
// page's latest free is a violation, named by walker, page and the three
// times. It only observes: the walker is told, and abandons the access (a
// real one would read a freed page or write into its next owner).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

/// What a walker holds: the table page it read a pointer to, and when.
struct PtHold {
  Addr page = 0;
  std::uint64_t frees = 0;  // the page's free count then
  Cycles at = 0;
};

class PtFreeOracle {
 public:
  explicit PtFreeOracle(bool report) : report_(report) {}
  bool reporting() const { return report_; }

  /// The page holding the entry at HPA `entry`.
  static Addr page_of(Addr entry) { return entry & ~Addr{kPageSize4K - 1}; }
  PtHold hold(Addr entry, Cycles t) const {
    const auto it = pages_.find(page_of(entry));
    return {page_of(entry), it == pages_.end() ? 0 : it->second.frees, t};
  }
  /// True if the page of `h` was not freed since the hold; else a violation
  /// by thread `thread` (`walker` names the code path) at `t`.
  bool use(const PtHold& h, unsigned thread, const char* walker, Cycles t);
  /// The page returned to the allocator at `t`.
  void freed(Addr page, Cycles t) {
    Page& p = pages_[page];
    ++p.frees;
    p.last_free = t;
  }

  struct Violation {
    std::string walker;
    unsigned thread;
    Addr page;
    Cycles held_at, freed_at, used_at;
  };
  /// The first violations (at most kKept), in the order they happened.
  const std::vector<Violation>& violations() const { return first_; }
  std::uint64_t count = 0;
  void register_stats(Stats& s) const;

 private:
  struct Page {
    std::uint64_t frees = 0;
    Cycles last_free = 0;
  };
  static constexpr std::size_t kKept = 64;  // enough to report; the counter has them all
  bool report_;
  std::unordered_map<Addr, Page> pages_;
  std::vector<Violation> first_;
};

}  // namespace vmxsim::hv
