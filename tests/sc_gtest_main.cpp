// Test binaries run GoogleTest from sc_main (sim/app/entry.cpp provides main()).
// Each CTest entry runs one test per process (gtest_discover_tests), so tests
// that elaborate and sc_start a model each get a fresh kernel.
#include <gtest/gtest.h>
#include <systemc>

int sc_main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
