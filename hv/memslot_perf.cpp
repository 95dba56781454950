#include "hv/memslot_perf.hpp"

#include <algorithm>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

namespace {
constexpr std::uint64_t kUnmapArea = 128ull << 20;  // MEM_TEST_UNMAP_SIZE
constexpr std::uint64_t kMemSize = 512ull << 20;    // MEM_SIZE
constexpr std::uint64_t kChunk = 2ull << 20;        // MEM_TEST_UNMAP_CHUNK_SIZE
constexpr std::uint64_t kMapArea = 32ull << 20;     // MEM_TEST_MAP_SIZE
constexpr std::uint32_t kUserSlotLimit = 32764;     // x86 KVM_USER_MEM_SLOTS (KVM_MEM_SLOTS_NUM - 3)
}  // namespace

std::uint64_t MemslotPerfParams::area_bytes() const {
  return (test == "unmap" || test == "unmap_chunked" ? kUnmapArea : test == "map" ? kMapArea : kMemSize) + kPageSize4K;
}

std::uint64_t MemslotPerfParams::guest_phase_pages() const {
  if (test == "map") return kMapArea / 2 / kPageSize4K;
  if (test == "rw") return kMemSize / kPageSize4K;
  return 0;
}

MemslotPerfParams MemslotPerfParams::from(const Cfg& c) {
  MemslotPerfParams p;
  p.enabled = c.boolean("enabled", p.enabled);
  p.test = c.choice("test", p.test, {"map", "unmap", "unmap_chunked", "move_active", "move_inactive", "rw", "setup"});
  p.slots = std::uint32_t(c.u64("slots", 509));
  p.iterations = std::uint32_t(c.u64("iterations", p.iterations));
  p.mem_gpa = c.bytes("mem_gpa", p.mem_gpa);
  p.iterations_start_cycles = c.u64("iterations_start_cycles", p.iterations_start_cycles);
  p.host_page_cycles = c.u64("host_page_cycles", p.host_page_cycles);
  if (p.slots < 2 || p.slots > kUserSlotLimit)
    c.fail("slots", "expected 2 to " + std::to_string(kUserSlotLimit) +
                        " (x86's KVM_USER_MEM_SLOTS; the test memory takes slots 1 .. N - 1)");
  const std::uint64_t pages = p.area_bytes() / kPageSize4K;
  if (pages < p.slots - 1)
    c.fail("slots", "the " + p.test + " test's " + std::to_string(pages) + " pages cannot give each of " +
                        std::to_string(p.slots - 1) + " slots a page");
  if ((p.test == "move_active" || p.test == "move_inactive") && pages / (p.slots - 1) + pages % (p.slots - 1) < 25)
    c.fail("slots", "the move tests need at least 25 pages in the last slot");
  if (p.iterations == 0) c.fail("iterations", "expected at least 1");
  if (p.mem_gpa % kPageSize4K) c.fail("mem_gpa", "expected a multiple of 4 KiB");
  if ((p.test == "map" || p.test == "rw") && p.mem_gpa < kPageSize4K)
    c.fail("mem_gpa", p.test + " needs a page below it for the sync page");
  return p;
}

void MemslotPerf::run(ExecContext& ctx) {
  // map: the guest's sync writes ring the doorbell page below MEM_GPA.
  if (p_.test == "map" || p_.test == "rw")
    hv_.mmio().set_doorbell(p_.mem_gpa - kPageSize4K, [this](ExecContext& c, unsigned) {
      hv_.srcu().read_unlock(c);  // the guest's sync exits to userspace, outside kvm->srcu
      sync_.arrive(c);
      hv_.srcu().read_lock(c);
    });
  // prepare_vm: N - 1 slots of npages / (N - 1) pages, the last with the
  // remainder, each backed by its own host mapping (laid out in HVA order
  // after the VM's slots).
  const std::uint64_t pages = p_.area_bytes() / kPageSize4K;
  const std::uint32_t n = p_.slots - 1;
  Addr hva = 0;
  hv_.memslots().for_each([&hva](const Memslot& s) { hva = std::max(hva, s.hva + s.size); });
  const Cycles t0 = ctx.now();
  Addr gpa = p_.mem_gpa;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint64_t np = pages / n + (i + 1 == n ? pages % n : 0);
    MemslotSpec s;
    s.gpa = gpa;
    s.size = np * kPageSize4K;
    s.hva = hva;
    ids_.push_back(hv_.memslot_ops().create(ctx, s));
    gpas_.push_back(gpa);
    hvas_.push_back(hva);
    sizes_.push_back(s.size);
    gpa += s.size;
    hva += s.size;
  }
  setup_cycles = ctx.now() - t0;
  // The host starts the iterations when the guest is ready (the sync page):
  // at a configured cycle, which must come after the setup.
  if (p_.iterations_start_cycles) {
    if (ctx.now() > p_.iterations_start_cycles)
      throw Error("vmm.memslot_perf.iterations_start_cycles (" + std::to_string(p_.iterations_start_cycles) +
                  ") comes before the slot setup ended (cycle " + std::to_string(ctx.now()) +
                  "); raise it, and workload.start_cycles with it");
    ctx.charge(p_.iterations_start_cycles - ctx.now());
  }

  for (std::uint32_t it = 0; it < p_.iterations; ++it) {
    const Cycles s0 = ctx.now();
    if (p_.test == "unmap" || p_.test == "unmap_chunked") {
      // The area after the sync page, in two halves.
      const std::uint64_t half = kUnmapArea / 2;
      const std::uint64_t req = p_.test == "unmap" ? kPageSize4K : kChunk;
      unmap_half(ctx, p_.mem_gpa + kPageSize4K, half, req);
      unmap_half(ctx, p_.mem_gpa + kPageSize4K + half, half, req);
    } else if (p_.test == "map") {
      // Host: unmap the second half, sync; unmap the first half, sync (the
      // guest writes the other half meanwhile, then syncs).
      const std::uint64_t half = kMapArea / 2;
      unmap_half(ctx, p_.mem_gpa + kPageSize4K + half, half, half);
      sync_.arrive(ctx);
      unmap_half(ctx, p_.mem_gpa + kPageSize4K, half, half);
      sync_.arrive(ctx);
    } else if (p_.test == "rw") {
      // Host: a u64 into every page, sync; check and zero the guest's u64 in
      // every page, sync (the guest does its mirror image meanwhile).
      const std::uint64_t area_pages = p_.guest_phase_pages();
      ctx.charge(area_pages * p_.host_page_cycles);
      sync_.arrive(ctx);
      ctx.charge(2 * area_pages * p_.host_page_cycles);
      sync_.arrive(ctx);
    } else if (p_.test == "move_active" || p_.test == "move_inactive") {
      const std::uint32_t last = ids_.back();
      hv_.memslot_ops().move(ctx, last, p_.mem_gpa + kMemSize + kPageSize4K);
      hv_.memslot_ops().move(ctx, last, gpas_.back());
      host_ops += 2;
    }
    const Cycles c = ctx.now() - s0;
    iteration_cycles += c;
    best_iteration = iterations == 0 ? c : std::min(best_iteration, c);
    ++iterations;
  }
}

void MemslotPerf::unmap_half(ExecContext& ctx, Addr gpa, std::uint64_t bytes, std::uint64_t request) {
  // test_memslot_do_unmap: requests of `request` bytes, each cut at slot
  // boundaries (one madvise per piece), from the host mapping of `gpa`.
  Addr g = gpa;
  const Addr end = gpa + bytes;
  std::size_t slot = std::size_t(std::upper_bound(gpas_.begin(), gpas_.end(), g) - gpas_.begin()) - 1;
  while (g < end) {
    const Addr req_end = std::min(end, g + request);
    while (g < req_end) {
      while (g >= gpas_[slot] + sizes_[slot]) ++slot;
      const Addr piece_end = std::min(req_end, gpas_[slot] + sizes_[slot]);
      hv_.memslot_ops().unmap_hva(ctx, hvas_[slot] + (g - gpas_[slot]), piece_end - g);
      ++host_ops;
      g = piece_end;
    }
  }
}

void MemslotPerf::register_stats(Stats& s) const {
  s.counter("vmm.memslot_perf.setup_cycles", &setup_cycles, "cycles",
            "memslot_perf_test's \"Slot setup\": creating the N - 1 test slots");
  s.counter("vmm.memslot_perf.iterations", &iterations, "iterations", "test iterations run");
  s.counter("vmm.memslot_perf.iteration_cycles", &iteration_cycles, "cycles", "all iterations' time, summed");
  s.counter("vmm.memslot_perf.best_iteration_cycles", &best_iteration, "cycles",
            "the fastest iteration (memslot_perf_test prints the best of its runs)");
  s.counter("vmm.memslot_perf.host_ops", &host_ops, "calls",
            "host-side operations the iterations issued: madvise calls (unmap tests) or KVM_MR_MOVEs (move tests)");
}

}  // namespace vmxsim::hv
