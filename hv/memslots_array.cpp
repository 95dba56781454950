// The `array` memslot implementation: KVM v5.7 to v5.16 (virt/kvm/kvm_main.c
// before "KVM: Keep memslots in tree-based structures instead of array-based
// ones"). struct kvm_memslots holds the used slots sorted by base gfn, highest
// first, an id_to_index table of KVM_MEM_SLOTS_NUM shorts and an lru_slot
// (later last_used_slot) index. Every change duplicates the whole set
// (kvm_dup_memslots) and shifts the changed slot into place, one neighbour at
// a time (update_memslots); a gfn lookup tries the lru slot, then binary
// searches (search_memslots); an HVA lookup (__kvm_handle_hva_range) and the
// overlap check of a CREATE or MOVE visit every slot.
//
// Steps are counted as KVM makes them; the host does less where it can (the
// slots are kept in ascending order, so start-up slots listed in GPA order are
// appended, and HVA lookups use an index), without changing the counts.
// v5.15's per-vCPU last_used_slot index is not modelled: every lookup is
// __gfn_to_memslot's.
#include <algorithm>

#include "hv/memslots_common.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {
namespace {

/// Per-step costs (hv.costs.*; docs/config.md derives each default).
struct ArrayCosts {
  Cycles probe = 8;         // memslot_step: the lru check or one binary-search probe
  Cycles copy = 14;         // memslot_copy: one slot copied by kvm_dup_memslots
  Cycles id_table = 10644;  // memslot_id_table: the id_to_index table, copied by every duplication
  Cycles shift = 53;        // memslot_shift: one neighbour shifted by update_memslots
  Cycles scan = 4;          // memslot_scan: one slot visited by an HVA lookup or an overlap check
  static ArrayCosts from(const Cfg& costs) {
    ArrayCosts c;
    c.probe = costs.u64("memslot_step", c.probe);
    c.copy = costs.u64("memslot_copy", c.copy);
    c.id_table = costs.u64("memslot_id_table", c.id_table);
    c.shift = costs.u64("memslot_shift", c.shift);
    c.scan = costs.u64("memslot_scan", c.scan);
    return c;
  }
};

/// The steps of one operation.
struct Steps {
  std::uint64_t probes = 0, copies = 0, dups = 0, shifts = 0, scans = 0;
  std::uint64_t total() const { return probes + copies + dups + shifts + scans; }
  Cycles cycles(const ArrayCosts& c) const {
    return probes * c.probe + copies * c.copy + dups * c.id_table + shifts * c.shift + scans * c.scan;
  }
};

class ArrayMemslots final : public Memslots {
 public:
  explicit ArrayMemslots(const ArrayCosts& c) : c_(c), pos_of_id_(kMemSlotsNum, -1) {}

  void add(const Memslot& s) override {
    const Steps st = insert(s);
    n_.startup_steps += st.total();
    n_.startup_cycles += st.cycles(c_);
  }
  void create(const Memslot& s, Cycles& cost) override {
    no_pending("create");
    charge(insert(s), cost);
  }

  // kvm_set_memslot, DELETE/MOVE: the duplicate with the slot marked
  // KVM_MEMSLOT_INVALID is installed; the old set is kept for phase 2.
  void invalidate(std::uint32_t id, Cycles& cost) override {
    no_pending("invalidate");
    Memslot& m = at(id);
    Steps st;
    dup(st);
    m.invalid = true;
    lru_kept_ = lru_;  // the old set's lru_slot, as it was duplicated
    pending_ = std::int64_t(id);
    charge(st, cost);
  }
  // Phase 2 of a DELETE, on the old set, which v5.13-5.16 first refresh
  // with a full copy of the active one under slots_arch_lock
  // (kvm_copy_memslots after kvm_arch_flush_shadow_memslot: arch fields may
  // have changed meanwhile); kvm_memslot_delete then shifts the slots after
  // it (lower gfns) down by one.
  void remove(std::uint32_t id, Cycles& cost) override {
    phase2(id, "remove");
    const std::size_t p = std::size_t(pos_of_id_[id]);
    Steps st;
    dup(st);
    st.shifts = p;
    lru_ = lru_kept_;
    if (lru_ >= slots_.size() - 1) lru_ = 0;
    hva_.remove(slots_[p]);
    hpa_.remove(slots_[p]);
    pos_of_id_[id] = -1;
    slots_.erase(slots_.begin() + std::ptrdiff_t(p));
    reindex(p);
    charge(st, cost);
  }
  // Phase 2 of a MOVE, on the old set, refreshed by a full copy as for a
  // DELETE (kvm_copy_memslots, v5.13-5.16); kvm_memslot_move_backward/forward
  // shift the slot past every neighbour between its old and new places.
  void move(std::uint32_t id, Addr new_gpa, Cycles& cost) override {
    phase2(id, "move");
    const std::size_t p = std::size_t(pos_of_id_[id]);
    Memslot m = slots_[p];
    Steps st;
    dup(st);
    st.scans = slots_.size();  // __kvm_set_memory_region's overlap check
    const Addr end = new_gpa + m.size;
    for (const Memslot& o : overlapping(new_gpa, end))
      if (o.id != id)
        throw Error("memslot id " + std::to_string(id) + " moved to [" + hex(new_gpa) + ", " + hex(end) +
                    ") overlaps slot " + std::to_string(o.id));
    slots_.erase(slots_.begin() + std::ptrdiff_t(p));
    const std::size_t q = lower(new_gpa);
    st.shifts = p > q ? p - q : q - p;
    m.gpa = new_gpa;
    m.invalid = false;
    slots_.insert(slots_.begin() + std::ptrdiff_t(q), m);
    reindex(std::min(p, q));
    lru_ = lru_kept_;
    charge(st, cost);
  }
  // FLAGS_ONLY: a duplication; the slot stays where it is (both shift loops
  // stop at once). Unchanged flags: KVM returns before kvm_set_memslot.
  void set_flags(std::uint32_t id, bool readonly, bool dirty_log, Cycles& cost) override {
    no_pending("set_flags");
    Memslot& m = at(id);
    if (readonly != m.readonly)
      throw Error("memslot id " + std::to_string(id) +
                  ": KVM_MEM_READONLY cannot change on an existing slot (__kvm_set_memory_region returns -EINVAL)");
    if (dirty_log == m.dirty_log) return;
    Steps st;
    dup(st);
    m.dirty_log = dirty_log;
    charge(st, cost);
  }

  const Memslot* find(Addr gpa) const override {
    auto it = std::upper_bound(slots_.begin(), slots_.end(), gpa, [](Addr g, const Memslot& m) { return g < m.gpa; });
    if (it == slots_.begin() || !std::prev(it)->contains(gpa)) return nullptr;
    return &*std::prev(it);
  }
  const Memslot* find(Addr gpa, unsigned, Cycles& cost) override {
    Steps st;
    const Memslot* s = search(gpa, st);
    probes_ += st.probes;
    ++n_.lookups;
    const Cycles c = st.cycles(c_);
    n_.lookup_cycles += c;
    cost += c;
    return s;
  }
  void for_each_hva(Addr begin, Addr end, const std::function<void(const Memslot&)>& f, Cycles& cost) const override {
    Steps st;
    st.scans = slots_.size();  // kvm_for_each_memslot: every used slot
    scans_ += st.scans;
    ++n_.hva_walks;
    const Cycles c = st.cycles(c_);
    n_.hva_cycles += c;
    cost += c;
    hva_.query(begin, end, ids_);
    in_hva_order(
        ids_, [this](std::uint32_t id) { return by_id(id); }, f);
  }
  const Memslot* by_id(std::uint32_t id) const override {
    return id < kMemSlotsNum && pos_of_id_[id] >= 0 ? &slots_[std::size_t(pos_of_id_[id])] : nullptr;
  }
  const Memslot* find_hpa(Addr hpa) const override {
    std::uint32_t id;
    return hpa_.find(hpa, id) ? by_id(id) : nullptr;
  }
  void for_each(const std::function<void(const Memslot&)>& f) const override {
    for (const Memslot& s : slots_) f(s);
  }
  std::size_t size() const override { return slots_.size(); }

  void register_stats(Stats& s) const override {
    n_.register_stats(s);
    s.counter("hv.memslots.array.lru_hits", &lru_hits_, "lookups",
              "lookups the set's lru_slot answered (search_memslots' first check)");
    s.counter("hv.memslots.array.probes", &probes_, "probes",
              "slots the gfn lookups examined: the lru check and each binary-search probe (hv.costs.memslot_step)");
    s.counter("hv.memslots.array.dups", &dups_, "copies",
              "duplications of the set (kvm_dup_memslots), each copying the id_to_index table "
              "(hv.costs.memslot_id_table)");
    s.counter("hv.memslots.array.copies", &copies_, "slots",
              "slots copied by those duplications (hv.costs.memslot_copy)");
    s.counter("hv.memslots.array.shifts", &shifts_, "slots",
              "neighbours shifted to keep the array sorted (update_memslots; hv.costs.memslot_shift)");
    s.counter("hv.memslots.array.scan_visits", &scans_, "slots",
              "slots visited by HVA lookups and overlap checks (hv.costs.memslot_scan)");
  }

 private:
  /// The slot at KVM's index i: KVM sorts highest gfn first, the host lowest first.
  const Memslot& kvm(std::size_t i) const { return slots_[slots_.size() - 1 - i]; }

  // search_memslots: the lru slot, then a binary search for the first slot
  // (highest gfn first) starting at or below gpa.
  const Memslot* search(Addr gpa, Steps& st) {
    const std::size_t n = slots_.size();
    if (n == 0) return nullptr;
    ++st.probes;
    if (kvm(lru_).contains(gpa)) {
      ++lru_hits_;
      return &kvm(lru_);
    }
    std::size_t start = 0, end = n;
    while (start < end) {
      ++st.probes;
      const std::size_t mid = start + (end - start) / 2;
      if (gpa >= kvm(mid).gpa) end = mid;
      else start = mid + 1;
    }
    if (start < n && kvm(start).contains(gpa)) {
      lru_ = start;
      return &kvm(start);
    }
    return nullptr;
  }

  // CREATE: the overlap check visits every slot; kvm_dup_memslots copies
  // them; kvm_memslot_insert_back, then kvm_memslot_move_forward past the p
  // slots with lower gfns (the host inserts at p in ascending order).
  Steps insert(const Memslot& s) {
    check_new_id(s, by_id(s.id) != nullptr);
    if (!overlapping(s.gpa, s.end()).empty())
      throw Error("memslot [" + hex(s.gpa) + ", " + hex(s.end()) + ") overlaps an existing slot");
    Steps st;
    st.scans = slots_.size();
    dup(st);
    const std::size_t p = lower(s.gpa);
    st.shifts = p;
    slots_.insert(slots_.begin() + std::ptrdiff_t(p), s);
    reindex(p);
    hva_.add(s);
    hpa_.add(s);
    return st;
  }
  // kvm_dup_memslots: one memcpy of the struct (the id_to_index table) and
  // its used_slots entries (for CREATE one more is allocated, not copied).
  void dup(Steps& st) const {
    st.copies += slots_.size();
    st.dups += 1;
  }
  std::size_t lower(Addr gpa) const {
    return std::size_t(
        std::lower_bound(slots_.begin(), slots_.end(), gpa, [](const Memslot& m, Addr g) { return m.gpa < g; }) -
        slots_.begin());
  }
  /// The slots whose GPAs intersect [gpa, end) (host binary search).
  std::vector<Memslot> overlapping(Addr gpa, Addr end) const {
    std::vector<Memslot> out;
    std::size_t i = lower(gpa);
    if (i > 0 && slots_[i - 1].end() > gpa) --i;
    for (; i < slots_.size() && slots_[i].gpa < end; ++i) out.push_back(slots_[i]);
    return out;
  }
  void reindex(std::size_t from) {
    for (std::size_t i = from; i < slots_.size(); ++i) pos_of_id_[slots_[i].id] = std::int32_t(i);
  }
  Memslot& at(std::uint32_t id) {
    if (!by_id(id)) throw Error("memslot id " + std::to_string(id) + " does not exist");
    return slots_[std::size_t(pos_of_id_[id])];
  }
  void no_pending(const char* what) const {
    if (pending_ >= 0)
      throw Error(std::string("memslots: ") + what + " while memslot id " + std::to_string(pending_) +
                  " is invalidated (kvm_set_memslot holds slots_lock across both phases)");
  }
  void phase2(std::uint32_t id, const char* what) {
    if (pending_ != std::int64_t(id))
      throw Error(std::string("memslots: ") + what + " of memslot id " + std::to_string(id) +
                  " without its invalidate first (kvm_set_memslot's phase 1)");
    at(id);
    pending_ = -1;
  }
  void charge(const Steps& st, Cycles& cost) {
    copies_ += st.copies;
    dups_ += st.dups;
    shifts_ += st.shifts;
    scans_ += st.scans;
    ++n_.changes;
    const Cycles c = st.cycles(c_);
    n_.change_cycles += c;
    cost += c;
  }

  ArrayCosts c_;
  std::vector<Memslot> slots_;           // ascending GPA; KVM's index i is slots_[n - 1 - i]
  std::vector<std::int32_t> pos_of_id_;  // id_to_index (host positions), KVM_MEM_SLOTS_NUM entries
  std::size_t lru_ = 0, lru_kept_ = 0;   // lru_slot (a KVM index) of the active set, of the kept old set
  std::int64_t pending_ = -1;            // id invalidated and not yet removed or moved
  HvaIndex hva_;
  HpaIndex hpa_;
  mutable std::vector<std::uint32_t> ids_;
  mutable MemslotCounters n_;
  mutable std::uint64_t lru_hits_ = 0, probes_ = 0, dups_ = 0, copies_ = 0, shifts_ = 0, scans_ = 0;
};

}  // namespace

VMXSIM_REGISTER(MemslotsRegistry, "array",
                "KVM 5.7-5.16: slots sorted by gfn in an array duplicated on every change, binary search by gfn, "
                "HVA lookups scan every slot",
                [](const Cfg& hv, const SystemInfo&) {
                  const ArrayCosts c = ArrayCosts::from(hv.section("costs"));
                  return MemslotsRegistry::Maker([c] { return std::make_unique<ArrayMemslots>(c); });
                });

}  // namespace vmxsim::hv
