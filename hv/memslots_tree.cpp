// The `tree` memslot implementation: KVM v5.17 and later (Maciej S.
// Szmigiero's "KVM: Scalable memslots implementation"; virt/kvm/kvm_main.c).
// Two struct kvm_memslots, one active: each has a red-black tree of slots by
// base gfn, an interval tree by HVA, an id hash of 128 buckets
// (DECLARE_HASHTABLE(id_hash, 7)) and a last_used_slot. A change edits only
// the inactive set (kvm_replace_memslot), swaps the sets
// (kvm_swap_active_memslots: the set generation moves on), then repeats the
// edit on the set that became inactive (kvm_activate_memslot).
//
// How steps are counted (hv.costs.memslot_tree_step each, hv.costs.memslot_hash
// for the hash):
// - gfn tree: the comparisons std::map (a red-black tree) makes, through a
//   counting comparator: one per node on a descent. A lookup descends to a
//   leaf (upper_bound), where search_memslots stops at the containing node,
//   so it counts up to about two levels more than KVM. Erasing a node and
//   replacing one in place (rb_replace_node) are one step each.
// - HVA interval tree: ceil(log2(n + 1)) levels per insert, remove or query
//   descent (n slots in the set), plus one per slot a query reports
//   (interval_tree_iter_first/next). The host answers queries from an index.
// - Slots examined by an iterator (the overlap check) and a last_used_slot
//   check are one step each.
// - Hash: each entry compared while walking a bucket (id_to_memslot walks
//   from the head, where hash_add puts new entries), one per hash_add or hash_del.
#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include "hv/memslots_common.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {
namespace {

/// Per-step costs (hv.costs.*; docs/config.md derives each default).
struct TreeCosts {
  Cycles step = 32;  // memslot_tree_step: one node or slot examined
  Cycles hash = 32;  // memslot_hash: one id-hash entry compared, added or deleted
  static TreeCosts from(const Cfg& costs) {
    TreeCosts c;
    c.step = costs.u64("memslot_tree_step", c.step);
    c.hash = costs.u64("memslot_hash", c.hash);
    return c;
  }
};

struct Steps {
  std::uint64_t tree = 0, hash = 0;
  std::uint64_t total() const { return tree + hash; }
  Cycles cycles(const TreeCosts& c) const { return tree * c.step + hash * c.hash; }
};

constexpr unsigned kHashBits = 7;  // DECLARE_HASHTABLE(id_hash, 7)

/// hash_min(id, 7) for an int key: hash_32, the golden-ratio multiply.
unsigned bucket_of(std::uint32_t id) { return unsigned((id * 0x61C88647u) >> (32 - kHashBits)); }

class TreeMemslots final : public Memslots {
 public:
  explicit TreeMemslots(const TreeCosts& c) : c_(c), sets_{Set(&cmp_), Set(&cmp_)}, objs_(kMemSlotsNum) {}
  TreeMemslots(const TreeMemslots&) = delete;  // the trees' comparators point at cmp_
  TreeMemslots& operator=(const TreeMemslots&) = delete;

  void add(const Memslot& s) override {
    const Steps st = create_steps(s);
    n_.startup_steps += st.total();
    n_.startup_cycles += st.cycles(c_);
  }
  void create(const Memslot& s, Cycles& cost) override {
    no_pending("create");
    charge(create_steps(s), cost);
  }

  // kvm_invalidate_memslot: an INVALID copy replaces the slot in the inactive
  // set, which becomes active; the other set keeps the old slot.
  void invalidate(std::uint32_t id, Cycles& cost) override {
    no_pending("invalidate");
    Steps st;
    Memslot* old = existing(id, st);
    Memslot* inv = alloc(*old);
    inv->invalid = true;
    replace(inactive(), old, inv, st);
    swap();
    pending_ = std::int64_t(id);
    charge(st, cost);
  }
  // kvm_delete_memslot: remove the old slot from the inactive set, swap,
  // remove the INVALID copy from the other.
  void remove(std::uint32_t id, Cycles& cost) override {
    Memslot* inv = phase2(id, "remove");
    Memslot* old = inactive().by_id[id];
    Steps st;
    hva_.remove(*old);
    hpa_.remove(*old);
    replace(inactive(), old, nullptr, st);
    swap();
    replace(inactive(), inv, nullptr, st);
    release(id);
    charge(st, cost);
  }
  // kvm_move_memslot: after __kvm_set_memory_region's overlap check, the new
  // slot replaces the old one in the inactive set, swap, then the INVALID copy.
  void move(std::uint32_t id, Addr new_gpa, Cycles& cost) override {
    Memslot* inv = phase2(id, "move");
    Memslot* old = inactive().by_id[id];
    Steps st;
    const Addr end = new_gpa + old->size;
    if (overlaps(active(), id, new_gpa, end, st))
      throw Error("memslot id " + std::to_string(id) + " moved to [" + hex(new_gpa) + ", " + hex(end) +
                  ") overlaps another slot");
    Memslot* nw = alloc(*old);
    nw->gpa = new_gpa;
    nw->invalid = false;
    replace(inactive(), old, nw, st);
    swap();
    replace(inactive(), inv, nw, st);
    release(id);
    charge(st, cost);
  }
  // kvm_update_flags_memslot: replace in both sets (the gfn is unchanged, so
  // rb_replace_node). Unchanged flags: KVM returns before kvm_set_memslot.
  void set_flags(std::uint32_t id, bool readonly, bool dirty_log, Cycles& cost) override {
    no_pending("set_flags");
    Steps st;
    Memslot* old = existing(id, st);
    if (readonly != old->readonly)
      throw Error("memslot id " + std::to_string(id) +
                  ": KVM_MEM_READONLY cannot change on an existing slot (__kvm_set_memory_region returns -EINVAL)");
    if (dirty_log == old->dirty_log) return;
    Memslot* nw = alloc(*old);
    nw->dirty_log = dirty_log;
    replace(inactive(), old, nw, st);
    swap();
    replace(inactive(), old, nw, st);
    release(id);
    charge(st, cost);
  }

  const Memslot* find(Addr gpa) const override {
    Steps st;
    return search(active(), gpa, st);
  }
  // kvm_vcpu_gfn_to_memslot, or __gfn_to_memslot for kVmWide.
  const Memslot* find(Addr gpa, unsigned vcpu, Cycles& cost) override {
    Set& a = active();
    Steps st;
    const Memslot* s = nullptr;
    if (vcpu == kVmWide) {
      s = try_get(a.last_used, gpa, st);
      if (s) {
        ++set_hits_;
      } else {
        s = search(a, gpa, st);
        if (s) a.last_used = s;
      }
    } else {
      if (vcpu >= vcpus_.size()) vcpus_.resize(vcpu + 1);
      VcpuCache& v = vcpus_[vcpu];
      if (v.generation != generation_) v = {nullptr, generation_};  // a slot of an older set
      s = try_get(v.slot, gpa, st);
      if (s) {
        ++vcpu_hits_;
      } else {
        ++vcpu_misses_;
        s = search(a, gpa, st);  // the VM-wide cache is left alone
        if (s) v.slot = s;
      }
    }
    tree_steps_ += st.tree;
    ++n_.lookups;
    const Cycles c = st.cycles(c_);
    n_.lookup_cycles += c;
    cost += c;
    return s;
  }
  // __kvm_handle_hva_range: interval_tree_iter_first/next over the active set.
  void for_each_hva(Addr begin, Addr end, const std::function<void(const Memslot&)>& f, Cycles& cost) const override {
    hva_.query(begin, end, ids_);
    Steps st;
    st.tree = tree_levels(size()) + ids_.size();
    tree_steps_ += st.tree;
    ++n_.hva_walks;
    const Cycles c = st.cycles(c_);
    n_.hva_cycles += c;
    cost += c;
    in_hva_order(
        ids_, [this](std::uint32_t id) { return by_id(id); }, f);
  }
  const Memslot* by_id(std::uint32_t id) const override { return id < kMemSlotsNum ? active().by_id[id] : nullptr; }
  const Memslot* find_hpa(Addr hpa) const override {
    std::uint32_t id;
    return hpa_.find(hpa, id) ? by_id(id) : nullptr;
  }
  void for_each(const std::function<void(const Memslot&)>& f) const override {
    for (const auto& kv : active().gfn) f(*kv.second);
  }
  std::size_t size() const override { return active().gfn.size(); }

  void register_stats(Stats& s) const override {
    n_.register_stats(s);
    s.counter("hv.memslots.tree.vcpu_hits", &vcpu_hits_, "lookups",
              "vCPU lookups its last_used_slot answered (taken at the current set generation)");
    s.counter("hv.memslots.tree.vcpu_misses", &vcpu_misses_, "lookups",
              "vCPU lookups that searched the gfn tree (no cached slot, a stale generation, or another slot)");
    s.counter("hv.memslots.tree.set_hits", &set_hits_, "lookups", "VM-wide lookups the set's last_used_slot answered");
    s.counter("hv.memslots.tree.tree_steps", &tree_steps_, "steps",
              "nodes and slots examined in the gfn and HVA trees (hv.costs.memslot_tree_step)");
    s.counter("hv.memslots.tree.hash_steps", &hash_steps_, "steps",
              "id-hash entries compared, added or deleted (hv.costs.memslot_hash)");
    s.counter("hv.memslots.tree.swaps", &swaps_, "swaps", "active-set swaps (kvm_swap_active_memslots)");
  }

 private:
  /// A comparator that counts its calls: the descent steps of std::map.
  struct CountingLess {
    std::uint64_t* n;
    bool operator()(Addr a, Addr b) const {
      ++*n;
      return a < b;
    }
  };
  /// One struct kvm_memslots.
  struct Set {
    explicit Set(std::uint64_t* cmp) : gfn(CountingLess{cmp}), by_id(kMemSlotsNum, nullptr) {}
    std::map<Addr, Memslot*, CountingLess> gfn;                  // gfn_tree, by base gfn
    std::array<std::vector<Memslot*>, 1u << kHashBits> id_hash;  // each bucket's head is its back
    std::vector<Memslot*> by_id;                                 // host index for by_id(), not KVM state
    const Memslot* last_used = nullptr;
  };
  struct VcpuCache {
    const Memslot* slot = nullptr;  // vcpu->last_used_slot
    std::uint64_t generation = 0;   // vcpu->last_used_slot_gen
  };

  Set& active() { return sets_[active_]; }
  const Set& active() const { return sets_[active_]; }
  Set& inactive() { return sets_[active_ ^ 1]; }

  // __kvm_set_memory_region's id_to_memslot (a hash walk that finds
  // nothing) and overlap check, then kvm_create_memslot.
  Steps create_steps(const Memslot& s) {
    check_new_id(s, by_id(s.id) != nullptr);
    Steps st;
    walk_bucket(active(), s.id, st);
    if (overlaps(active(), s.id, s.gpa, s.end(), st))
      throw Error("memslot [" + hex(s.gpa) + ", " + hex(s.end()) + ") overlaps an existing slot");
    Memslot* nw = alloc(s);
    replace(inactive(), nullptr, nw, st);
    swap();
    replace(inactive(), nullptr, nw, st);
    hva_.add(s);
    hpa_.add(s);
    return st;
  }

  // kvm_replace_memslot on `set` (the inactive one).
  void replace(Set& set, Memslot* old, Memslot* nw, Steps& st) {
    const std::size_t n = set.gfn.size();
    if (old) {
      hash_del(set, old, st);
      st.tree += tree_levels(n);  // interval_tree_remove
      if (set.last_used == old) set.last_used = nw;
      set.by_id[old->id] = nullptr;
      if (!nw) {
        set.gfn.erase(old->gpa);  // kvm_erase_gfn_node; erase by key: its compares are host work
        ++st.tree;
        return;
      }
    }
    set.id_hash[bucket_of(nw->id)].push_back(nw);  // hash_add
    ++st.hash;
    st.tree += tree_levels(old ? n : n + 1);  // interval_tree_insert
    set.by_id[nw->id] = nw;
    if (old && old->gpa == nw->gpa) {
      set.gfn.find(old->gpa)->second = nw;  // kvm_replace_gfn_node (rb_replace_node)
      ++st.tree;
      return;
    }
    if (old) {
      set.gfn.erase(old->gpa);
      ++st.tree;
    }
    cmp_ = 0;
    set.gfn.emplace(nw->gpa, nw);  // kvm_insert_gfn_node
    st.tree += cmp_;
  }
  void hash_del(Set& set, Memslot* s, Steps& st) {
    auto& b = set.id_hash[bucket_of(s->id)];
    b.erase(std::find(b.begin(), b.end(), s));
    ++st.hash;
  }
  /// id_to_memslot: the bucket walked from its head; the slot or nullptr.
  Memslot* walk_bucket(const Set& set, std::uint32_t id, Steps& st) const {
    const auto& b = set.id_hash[bucket_of(id)];
    for (auto it = b.rbegin(); it != b.rend(); ++it) {
      ++st.hash;
      if ((*it)->id == id) return *it;
    }
    return nullptr;
  }
  Memslot* existing(std::uint32_t id, Steps& st) {
    Memslot* s = id < kMemSlotsNum ? walk_bucket(active(), id, st) : nullptr;
    if (!s) throw Error("memslot id " + std::to_string(id) + " does not exist");
    return s;
  }
  // kvm_check_memslot_overlap: kvm_for_each_memslot_in_gfn_range from the
  // upper bound's predecessor.
  bool overlaps(const Set& set, std::uint32_t id, Addr gpa, Addr end, Steps& st) const {
    cmp_ = 0;
    auto it = set.gfn.upper_bound(gpa);
    st.tree += cmp_;
    if (it != set.gfn.begin()) --it;
    for (; it != set.gfn.end() && it->first < end; ++it) {
      ++st.tree;
      if (it->second->end() <= gpa) continue;
      if (it->second->id != id) return true;
    }
    return false;
  }
  // try_get_memslot: one slot checked.
  static const Memslot* try_get(const Memslot* s, Addr gpa, Steps& st) {
    if (!s) return nullptr;
    ++st.tree;
    return s->contains(gpa) ? s : nullptr;
  }
  // search_memslots, counted as a descent to a leaf.
  const Memslot* search(const Set& set, Addr gpa, Steps& st) const {
    cmp_ = 0;
    auto it = set.gfn.upper_bound(gpa);
    st.tree += cmp_;
    if (it == set.gfn.begin()) return nullptr;
    const Memslot* s = std::prev(it)->second;
    return s->contains(gpa) ? s : nullptr;
  }
  // kvm_swap_active_memslots: the new set is published with the next generation.
  void swap() {
    active_ ^= 1;
    ++generation_;
    ++swaps_;
  }

  // The slot objects of an id (at most three during a move): freed once no
  // set holds them, as kvm_set_memslot frees the old and INVALID copies.
  Memslot* alloc(const Memslot& s) {
    objs_[s.id].push_back(std::make_unique<Memslot>(s));
    return objs_[s.id].back().get();
  }
  void release(std::uint32_t id) {
    auto& v = objs_[id];
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const std::unique_ptr<Memslot>& p) {
                             return p.get() != sets_[0].by_id[id] && p.get() != sets_[1].by_id[id];
                           }),
            v.end());
  }

  void no_pending(const char* what) const {
    if (pending_ >= 0)
      throw Error(std::string("memslots: ") + what + " while memslot id " + std::to_string(pending_) +
                  " is invalidated (kvm_set_memslot holds slots_lock across both phases)");
  }
  /// The INVALID copy of `id` (active), after checking its phase 1 came first.
  Memslot* phase2(std::uint32_t id, const char* what) {
    if (pending_ != std::int64_t(id))
      throw Error(std::string("memslots: ") + what + " of memslot id " + std::to_string(id) +
                  " without its invalidate first (kvm_set_memslot's phase 1)");
    pending_ = -1;
    return active().by_id[id];
  }
  void charge(const Steps& st, Cycles& cost) {
    tree_steps_ += st.tree;
    hash_steps_ += st.hash;
    ++n_.changes;
    const Cycles c = st.cycles(c_);
    n_.change_cycles += c;
    cost += c;
  }

  TreeCosts c_;
  mutable std::uint64_t cmp_ = 0;  // the comparisons counted by CountingLess
  std::array<Set, 2> sets_;
  unsigned active_ = 0;
  std::uint64_t generation_ = 0;                             // the active set's generation: one per swap
  std::vector<std::vector<std::unique_ptr<Memslot>>> objs_;  // by id
  std::vector<VcpuCache> vcpus_;
  std::int64_t pending_ = -1;  // id invalidated and not yet removed or moved
  HvaIndex hva_;
  HpaIndex hpa_;
  mutable std::vector<std::uint32_t> ids_;
  mutable MemslotCounters n_;
  mutable std::uint64_t vcpu_hits_ = 0, vcpu_misses_ = 0, set_hits_ = 0, tree_steps_ = 0, hash_steps_ = 0;
  std::uint64_t swaps_ = 0;
};

}  // namespace

VMXSIM_REGISTER(MemslotsRegistry, "tree",
                "KVM 5.17+: two slot sets (edit the inactive one, swap), gfn red-black tree, HVA interval tree, "
                "id hash, per-vCPU last-used slot",
                [](const Cfg& hv, const SystemInfo&) {
                  const TreeCosts c = TreeCosts::from(hv.section("costs"));
                  return MemslotsRegistry::Maker([c] { return std::make_unique<TreeMemslots>(c); });
                });

}  // namespace vmxsim::hv
