// The config system: typed reads, defaults, unknown keys, overrides, errors.
#include <gtest/gtest.h>

#include <fstream>

#include "error_of.hpp"
#include "sim/app/simulation.hpp"
#include "sim/config.hpp"

using namespace vmxsim;
using vmxsim::test::error_of;

TEST(Config, DefaultsAreRecordedInTheEffectiveConfig) {
  ConfigTracker t(json::object(), "c.json");
  Cfg root(t);
  const Cfg cpu = root.section("cpu");
  EXPECT_EQ(cpu.u64("vcpus", 3), 3u);
  EXPECT_EQ(t.effective()["cpu"]["vcpus"], 3);
  t.check_unknown();
}

TEST(Config, UserValuesOverrideDefaults) {
  ConfigTracker t(json::parse(R"({"cpu": {"vcpus": 8, "freq_ghz": 3}})"), "c.json");
  Cfg root(t);
  const Cfg cpu = root.section("cpu");
  EXPECT_EQ(cpu.u64("vcpus", 1), 8u);
  EXPECT_DOUBLE_EQ(cpu.f64("freq_ghz", 2.5), 3.0);  // an integer is a number
  t.check_unknown();
}

TEST(Config, UnknownKeyNamesFullPathAndKnownKeys) {
  ConfigTracker t(json::parse(R"({"cpu": {"vcpus": 2, "vcpu": 3}})"), "c.json");
  Cfg root(t);
  root.section("cpu").u64("vcpus", 1);
  const std::string m = error_of([&] { t.check_unknown(); });
  EXPECT_NE(m.find("c.json: unknown key 'cpu.vcpu'"), std::string::npos) << m;
  EXPECT_NE(m.find("known keys here: vcpus"), std::string::npos) << m;
}

TEST(Config, UnknownTopLevelSectionAndKeyInsideAList) {
  ConfigTracker t(json::parse(R"({"cpus": {}})"), "c.json");
  Cfg root(t);
  root.section("cpu");
  EXPECT_NE(error_of([&] { t.check_unknown(); }).find("unknown key 'cpus'"), std::string::npos);

  ConfigTracker l(json::parse(R"({"hv": {"memslots": [{"gpa": 0, "size": 4096, "bakcing": "4K"}]}})"), "c.json");
  Cfg r2(l);
  hv::MemslotSpec::from(r2.section("hv"));
  EXPECT_NE(error_of([&] { l.check_unknown(); }).find("unknown key 'hv.memslots[0].bakcing'"), std::string::npos);
}

TEST(Config, WrongTypeNamesKeyAndExpectedType) {
  ConfigTracker t(json::parse(R"({"cpu": {"vcpus": "two", "freq_ghz": true}, "sim": {"seed": -1}})"), "c.json");
  Cfg root(t);
  EXPECT_EQ(error_of([&] { root.section("cpu").u64("vcpus", 1); }),
            "c.json: cpu.vcpus: expected a non-negative integer, got string \"two\"");
  EXPECT_EQ(error_of([&] { root.section("cpu").f64("freq_ghz", 1); }),
            "c.json: cpu.freq_ghz: expected a number, got boolean true");
  EXPECT_EQ(error_of([&] { root.section("sim").u64("seed", 1); }),
            "c.json: sim.seed: expected a non-negative integer, got -1");
  ConfigTracker s(json::parse(R"({"cpu": 5})"), "c.json");
  Cfg r2(s);
  EXPECT_EQ(error_of([&] { r2.section("cpu"); }), "c.json: cpu: expected an object, got integer");
}

TEST(Config, ChoiceListsTheOptions) {
  ConfigTracker t(json::parse(R"({"p": "zigzag"})"), "c.json");
  Cfg root(t);
  EXPECT_EQ(error_of([&] { root.choice("p", "a", {"a", "b"}); }), "c.json: p: expected one of a, b, got \"zigzag\"");
}

TEST(Config, ByteCounts) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_bytes("4096", v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(parse_bytes("0x1000", v));
  EXPECT_EQ(v, 0x1000u);
  EXPECT_TRUE(parse_bytes("16MiB", v));
  EXPECT_EQ(v, 16u << 20);
  EXPECT_TRUE(parse_bytes("2M", v));
  EXPECT_EQ(v, 2u << 20);
  EXPECT_TRUE(parse_bytes("1 GiB", v));
  EXPECT_EQ(v, 1u << 30);
  EXPECT_TRUE(parse_bytes("4kb", v));
  EXPECT_EQ(v, 4096u);
  EXPECT_FALSE(parse_bytes("", v));
  EXPECT_FALSE(parse_bytes("lots", v));
  EXPECT_FALSE(parse_bytes("12XB", v));
  EXPECT_FALSE(parse_bytes("-4", v));
  EXPECT_FALSE(parse_bytes("99999999999T", v));  // overflow
  ConfigTracker t(json::parse(R"({"a": "16MiB", "b": "big"})"), "c.json");
  Cfg root(t);
  EXPECT_EQ(root.bytes("a", 0), 16u << 20);
  EXPECT_NE(error_of([&] { root.bytes("b", 0); }).find("c.json: b: expected a byte count"), std::string::npos);
}

TEST(Config, OverridesParseJsonElseString) {
  json doc = json::parse(R"({"cpu": {"vcpus": 1}})");
  apply_override(doc, "cpu.vcpus=4");
  apply_override(doc, "workload.trace=traces/a.trace");
  apply_override(doc, "hv.memslots=[{\"gpa\":0,\"size\":\"1GiB\"}]");
  apply_override(doc, "ept.ad=false");
  EXPECT_EQ(doc["cpu"]["vcpus"], 4);
  EXPECT_EQ(doc["workload"]["trace"], "traces/a.trace");
  EXPECT_EQ(doc["hv"]["memslots"][0]["size"], "1GiB");
  EXPECT_EQ(doc["ept"]["ad"], false);
  EXPECT_THROW(apply_override(doc, "novalue"), ConfigError);
  EXPECT_THROW(apply_override(doc, "cpu.vcpus.x=1"), ConfigError);  // vcpus is not an object
  EXPECT_THROW(apply_override(doc, "a..b=1"), ConfigError);
}

TEST(Config, FileErrorsNameFileLineAndColumn) {
  const std::string path = ::testing::TempDir() + "/bad.json";
  std::ofstream(path) << "{\n  \"cpu\": {\n    \"vcpus\": 2,\n  }\n}\n";
  const std::string m = error_of([&] { load_json_file(path); });
  EXPECT_NE(m.find(path + ": parse error at line 4, column 3"), std::string::npos) << m;
  EXPECT_EQ(error_of([&] { load_json_file("/nonexistent/x.json"); }), "/nonexistent/x.json: cannot open config file");
  std::ofstream(path) << "[1, 2]";
  ConfigTracker* t = nullptr;
  EXPECT_EQ(error_of([&] { t = new ConfigTracker(load_json_file(path), path); }),
            path + ": the config must be a JSON object, got array");
  delete t;
}

TEST(Config, WholeSimulationConfigReadsAndRejectsUnknownKeys) {
  ConfigTracker ok(json::parse(R"({"cpu": {"vcpus": 2}, "workload": {"generator": {"pattern": "sequential"}}})"),
                   "c.json");
  const auto p = sim::SimParams::read(ok, ".", {});
  EXPECT_EQ(p.vcpus, 2u);
  EXPECT_EQ(p.generator.pattern, "sequential");
  // Every component's defaults appear in the effective config.
  const json& e = ok.effective();
  EXPECT_TRUE(e["hv"]["costs"].contains("vm_exit"));
  EXPECT_TRUE(e["tlb"]["l2"]["arrays"].contains("shared"));
  EXPECT_TRUE(e["sim"].contains("quantum_cycles"));
  EXPECT_TRUE(e["hv"]["memslots"].is_array());

  ConfigTracker bad(json::parse(R"({"hv": {"costs": {"vm_exits": 5}}})"), "c.json");
  EXPECT_NE(error_of([&] { sim::SimParams::read(bad, ".", {}); }).find("unknown key 'hv.costs.vm_exits'"),
            std::string::npos);
  ConfigTracker zero(json::parse(R"({"cpu": {"vcpus": 0}})"), "c.json");
  EXPECT_EQ(error_of([&] { sim::SimParams::read(zero, ".", {}); }), "c.json: cpu.vcpus: expected 1 to 512");
}

TEST(Config, RelativeTracePathResolvesAgainstTheConfigFolder) {
  ConfigTracker t(json::parse(R"({"workload": {"trace": "t.trace"}})"), "dir/c.json");
  EXPECT_EQ(sim::SimParams::read(t, "dir", {}).trace, "dir/t.trace");
  ConfigTracker u(json::parse(R"({"workload": {"trace": "t.trace"}})"), "dir/c.json");
  EXPECT_EQ(sim::SimParams::read(u, "dir", {"workload.trace"}).trace, "t.trace");
}
