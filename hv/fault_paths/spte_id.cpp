// `spte_id`: Xiao Guangrong's 2012 "KVM: fast page fault" series, in the form
// this project's seed describes (FACTS C2: the vCPU-id form could not be
// confirmed in the posted versions): the fast path writes an identification
// into the entry (bits 56:52), issues a full barrier, checks the page's
// write-protect flag, then exchanges the identified value for one with W
// set. The write-protect path sets the flag, barrier, then clears W and any
// identification (track_protect_clear), leaving MMU-writable alone.
//
// With a shared identification bit (`hv.spte_id.unique: false`), a third
// vCPU can restore the very value an earlier vCPU expects: vCPU0 marks and
// passes the flag check, the page is write-protected (mark cleared), vCPU2
// marks again and sees the flag, and vCPU0's exchange then succeeds on a
// write-tracked page.
//
// ## Configuration (`hv.spte_id`)
//
// | key      | type | default | meaning |
// |----------|------|---------|---------|
// | `unique` | bool | `true`  | the identification is vCPU id + 1 (at most 31 vCPUs), else one shared bit |
#include "hv/fault_paths/lockless.hpp"
#include "sim/config.hpp"

namespace vmxsim::hv {
namespace {

using namespace vmxsim::ept;

// vCPU id + 1 must fit the 5 identification bits 56:52, and 0 means "none".
constexpr unsigned kMaxUniqueVcpus = unsigned(kSpteIdMask >> kSpteIdShift);

class SpteIdPath final : public LocklessPath {
 public:
  SpteIdPath(FaultEnv& env, const LocklessParams& p, bool unique) : LocklessPath(env, p), unique_(unique) {}
  std::uint64_t track_protect_clear() const override { return kWrite | kSpteIdMask; }

 protected:
  bool attempt(ExecContext& ctx, unsigned vcpu, Addr gpa, FaultOutcome& out) override {
    const std::uint64_t id = unique_ ? (std::uint64_t(vcpu) + 1) << kSpteIdShift : 1ull << kSpteIdShift;
    for (unsigned tries = 0; tries < kMaxTries; ++tries) {
      Leaf l;
      const Probe p = probe(ctx, gpa, l);
      if (p != Probe::kFixable) return p == Probe::kSpurious;
      // 1. Identify: our id replaces any other in the entry.
      ctx.charge(p_.cmpxchg);
      ctx.sync();
      std::uint64_t expected = l.value;
      const std::uint64_t marked = (l.value & ~kSpteIdMask) | id;
      if (!env_.cmpxchg(ctx, l.at, expected, marked)) {
        retry(ctx, gpa, "mark fail");
        continue;
      }
      // 2. Full barrier, then the page's write-protect flag.
      ctx.charge(env_.costs().barrier);
      ctx.sync();
      if (env_.tracked(gpa)) return false;  // write-protected: the slow path emulates (the mark stays)
      // 3. Exchange the identified value for a writable one.
      ctx.charge(p_.cmpxchg + p_.delay);
      ctx.sync();
      if (exchange(ctx, gpa, l.at, marked, (marked & ~kSpteIdMask) | kWrite, out)) return true;
    }
    return false;
  }

 private:
  bool unique_;
};

}  // namespace

VMXSIM_REGISTER(FaultPathRegistry, "spte_id",
                "the 2012 proposal: identify, barrier, check the write-protect flag, exchange",
                [](const Cfg& hv, const SystemInfo& system) {
                  const Cfg own = hv.section("spte_id");
                  const bool unique = own.boolean("unique", true);
                  if (system.selected && unique && system.vcpus > kMaxUniqueVcpus)
                    own.fail("unique", "true identifies a fault by vCPU id + 1 in entry bits 56:52, so at most " +
                                           std::to_string(kMaxUniqueVcpus) + " vCPUs (cpu.vcpus is " +
                                           std::to_string(system.vcpus) + ")");
                  const LocklessParams p = LocklessParams::from(hv);
                  return FaultPathRegistry::Maker(
                      [p, unique](FaultEnv& env) { return std::make_unique<SpteIdPath>(env, p, unique); });
                });

}  // namespace vmxsim::hv
