// hv::Rcu: page-table pages wait for every reader that was inside a
// read-side section when they were queued, and no other.
#include <gtest/gtest.h>

#include "fake_context.hpp"
#include "hv/rcu.hpp"
#include "models/phys_mem.hpp"
#include "sim/error.hpp"

using namespace vmxsim;

namespace {

struct RcuTest : ::testing::Test {
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Rcu rcu{mem};
  test::FakeContext vmm, v0, v1;
  void SetUp() override {
    vmm.id = 1000;
    v0.id = 0;
    v1.id = 1;
  }
};

TEST_F(RcuTest, WithNoReaderThePagesAreFreedAtOnce) {
  const Addr a = mem.alloc_table();
  vmm.t = 500;
  rcu.call(vmm, {a});
  EXPECT_EQ(mem.live_tables(), 0u);
  EXPECT_EQ(rcu.freed, 1u);
  EXPECT_EQ(rcu.waited, 0u);
  EXPECT_EQ(rcu.wait_cycles, 0u);
}

TEST_F(RcuTest, AReaderInsideAtTheCallDelaysTheFreeUntilItLeaves) {
  const Addr a = mem.alloc_table(), b = mem.alloc_table();
  rcu.read_lock(v0);  // a lockless walk that may hold a pointer into a or b
  vmm.t = 100;
  rcu.call(vmm, {a, b});
  EXPECT_EQ(rcu.pending_pages(), 2u);
  EXPECT_EQ(mem.live_tables(), 2u);
  mem.write(a, 7);  // still a valid frame for the reader
  // A reader that starts after the call cannot hold an old pointer: it does
  // not extend the grace period.
  rcu.read_lock(v1);
  v0.t = 350;
  rcu.read_unlock(v0);
  EXPECT_EQ(rcu.pending_pages(), 0u);
  EXPECT_EQ(mem.live_tables(), 0u);
  EXPECT_THROW(mem.read(a), Error);  // freed
  EXPECT_EQ(rcu.waited, 1u);
  EXPECT_EQ(rcu.wait_cycles, 250u);
  EXPECT_EQ(rcu.max_pending, 2u);
  rcu.read_unlock(v1);
}

TEST_F(RcuTest, CallbacksRunInOrderAndEachWaitsForItsOwnReaders) {
  const Addr a = mem.alloc_table(), b = mem.alloc_table();
  rcu.read_lock(v0);
  rcu.call(vmm, {a});  // waits for v0
  rcu.read_lock(v1);
  rcu.call(vmm, {b});  // waits for v0 and v1
  rcu.read_unlock(v1);
  EXPECT_EQ(rcu.pending_pages(), 2u);  // b's readers are done, but a is queued first
  rcu.read_unlock(v0);
  EXPECT_EQ(rcu.pending_pages(), 0u);
  EXPECT_EQ(rcu.freed, 2u);
  EXPECT_EQ(rcu.callbacks, 2u);
}

TEST_F(RcuTest, ASecondSectionOfTheSameReaderIsANewOne) {
  const Addr a = mem.alloc_table();
  rcu.read_lock(v0);
  rcu.call(vmm, {a});
  rcu.read_unlock(v0);
  EXPECT_EQ(rcu.pending_pages(), 0u);
  rcu.read_lock(v0);
  const Addr b = mem.alloc_table();
  rcu.call(vmm, {b});
  EXPECT_EQ(rcu.pending_pages(), 1u);
  rcu.read_unlock(v0);
  EXPECT_EQ(rcu.pending_pages(), 0u);
}

}  // namespace
