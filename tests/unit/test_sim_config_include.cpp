// Config includes (load_config_file): merge order and deep merge, relative
// paths, nesting, errors (cycle, missing file, wrong type, parse error in an
// included file), key origins in messages, and the shipped hardware presets.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "error_of.hpp"
#include "sim/app/simulation.hpp"
#include "sim/config.hpp"

using namespace vmxsim;
using vmxsim::test::error_of;
namespace fs = std::filesystem;

namespace {

// A fresh folder for the current test: <TempDir>/ConfigInclude_<test>_<pid>/.
std::string test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(::testing::TempDir()) /
               (std::string(info->test_suite_name()) + "_" + info->name() + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// Writes `text` to dir/rel (creating folders); returns the full path.
std::string write(const std::string& dir, const std::string& rel, const std::string& text) {
  const fs::path p = fs::path(dir) / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  return p.string();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(ConfigInclude, FileWithoutIncludeLoadsAsIs) {
  const std::string d = test_dir();
  const std::string top = write(d, "top.json", "// c\n{\"cpu\": {\"vcpus\": 2}, \"hv\": {\"memslots\": []}}");
  EXPECT_EQ(load_config_file(top), load_json_file(top));
  // A top-level value that is not an object is left to ConfigTracker to reject.
  const std::string arr = write(d, "arr.json", "[1]");
  EXPECT_EQ(load_config_file(arr), json::parse("[1]"));
}

TEST(ConfigInclude, IncludeStringMergesUnderTheIncludingFile) {
  const std::string d = test_dir();
  write(d, "base.json", R"({"cpu": {"vcpus": 2, "freq_ghz": 3.0}, "sim": {"seed": 9}})");
  const std::string top = write(d, "top.json", R"({"include": "base.json", "cpu": {"vcpus": 4}})");
  const json doc = load_config_file(top);
  EXPECT_EQ(doc, json::parse(R"({"cpu": {"vcpus": 4, "freq_ghz": 3.0}, "sim": {"seed": 9}})"));
  EXPECT_FALSE(doc.contains("include"));
}

TEST(ConfigInclude, IncludeArrayLaterIncludeWinsOverEarlier) {
  const std::string d = test_dir();
  write(d, "a.json", R"({"cpu": {"vcpus": 2, "access_cycles": 3}, "sim": {"seed": 5}})");
  write(d, "b.json", R"({"cpu": {"vcpus": 3}, "sim": {"quantum_cycles": 7}})");
  const std::string top = write(d, "top.json", R"({"include": ["a.json", "b.json"]})");
  EXPECT_EQ(load_config_file(top), json::parse(R"({"cpu": {"vcpus": 3, "access_cycles": 3},
                            "sim": {"seed": 5, "quantum_cycles": 7}})"));
  // The other order: a.json's value wins.
  const std::string rev = write(d, "rev.json", R"({"include": ["b.json", "a.json"]})");
  EXPECT_EQ(load_config_file(rev)["cpu"]["vcpus"], 2);
  // An empty list includes nothing.
  const std::string none = write(d, "none.json", R"({"include": [], "cpu": {"vcpus": 1}})");
  EXPECT_EQ(load_config_file(none), json::parse(R"({"cpu": {"vcpus": 1}})"));
}

TEST(ConfigInclude, PathsResolveAgainstTheIncludingFilesFolder) {
  const std::string d = test_dir();
  // configs/exp/top.json -> ../hw/preset.json -> common/clock.json (relative to hw/).
  write(d, "configs/hw/common/clock.json", R"({"cpu": {"freq_ghz": 2.1}})");
  write(d, "configs/hw/preset.json", R"({"include": "common/clock.json", "tlb": {"l2": {"hit_cycles": 9}}})");
  const std::string top = write(d, "configs/exp/top.json", R"({"include": "../hw/preset.json", "cpu": {"vcpus": 2}})");
  // A same-named file beside the top one must not be picked up instead.
  write(d, "configs/exp/common/clock.json", R"({"cpu": {"freq_ghz": 9.9}})");
  EXPECT_EQ(load_config_file(top),
            json::parse(R"({"cpu": {"freq_ghz": 2.1, "vcpus": 2}, "tlb": {"l2": {"hit_cycles": 9}}})"));
  // An absolute include path is used as is.
  const std::string abs = write(d, "abs.json", "{\"include\": \"" + d + "/configs/hw/preset.json\"}");
  EXPECT_EQ(load_config_file(abs)["tlb"]["l2"]["hit_cycles"], 9);
}

TEST(ConfigInclude, DeepMergeObjectsMergeArraysAndScalarsReplace) {
  const std::string d = test_dir();
  write(d, "base.json", R"({
    "tlb": {"l1": {"hit_cycles": 1,
                   "arrays": {"4k": {"entries": 64, "ways": 4, "page_sizes": ["4K"]},
                              "2m": {"entries": 32}}}},
    "hv": {"memslots": [{"gpa": 0, "size": "1GiB"}, {"gpa": "1GiB", "size": "1GiB"}]},
    "x": {"a": 1},
    "y": 5
  })");
  const std::string top = write(d, "top.json", R"({
    "include": "base.json",
    "tlb": {"l1": {"arrays": {"4k": {"ways": 8, "page_sizes": ["4K", "2M"]}}}},
    "hv": {"memslots": [{"size": "2GiB"}]},
    "x": 7,
    "y": {"b": 2}
  })");
  EXPECT_EQ(load_config_file(top), json::parse(R"({
    "tlb": {"l1": {"hit_cycles": 1,
                   "arrays": {"4k": {"entries": 64, "ways": 8, "page_sizes": ["4K", "2M"]},
                              "2m": {"entries": 32}}}},
    "hv": {"memslots": [{"size": "2GiB"}]},
    "x": 7,
    "y": {"b": 2}
  })"));
}

TEST(ConfigInclude, NestedIncludesEachLevelOverridesTheOneBelow) {
  const std::string d = test_dir();
  write(d, "leaf.json", R"({"sim": {"seed": 1, "quantum_cycles": 10}, "cpu": {"vcpus": 1, "freq_ghz": 1.0}})");
  write(d, "mid.json", R"({"include": ["leaf.json"], "sim": {"seed": 2}, "cpu": {"vcpus": 2}})");
  const std::string top = write(d, "top.json", R"({"include": "mid.json", "cpu": {"vcpus": 3}})");
  EXPECT_EQ(load_config_file(top),
            json::parse(R"({"sim": {"seed": 2, "quantum_cycles": 10}, "cpu": {"vcpus": 3, "freq_ghz": 1.0}})"));
}

TEST(ConfigInclude, TheSameFileTwiceIsNotACycle) {
  const std::string d = test_dir();
  write(d, "common.json", R"({"sim": {"seed": 4}})");
  write(d, "a.json", R"({"include": "common.json", "cpu": {"vcpus": 2}})");
  write(d, "b.json", R"({"include": "common.json", "cpu": {"freq_ghz": 2.0}})");
  const std::string top = write(d, "top.json", R"({"include": ["a.json", "b.json", "common.json"]})");
  EXPECT_EQ(load_config_file(top), json::parse(R"({"sim": {"seed": 4}, "cpu": {"vcpus": 2, "freq_ghz": 2.0}})"));
}

TEST(ConfigInclude, CycleIsAnErrorNamingTheCycle) {
  const std::string d = test_dir();
  const std::string a = write(d, "a.json", R"({"include": "sub/b.json"})");
  const std::string b = write(d, "sub/b.json", R"({"include": "../a.json"})");
  const std::string m = error_of([&] { load_config_file(a); });
  EXPECT_TRUE(contains(m, "include cycle: " + a + " -> " + b + " -> " + a)) << m;
  EXPECT_TRUE(contains(m, b + ": include \"../a.json\"")) << m;

  const std::string self = write(d, "self.json", R"({"include": ["./self.json"]})");
  const std::string s = error_of([&] { load_config_file(self); });
  EXPECT_TRUE(contains(s, self + ": include[0] \"./self.json\": include cycle: " + self + " -> " + self)) << s;
}

TEST(ConfigInclude, MissingIncludedFileNamesBothFiles) {
  const std::string d = test_dir();
  const std::string top = write(d, "top.json", R"({"include": ["hw/nope.json"]})");
  const std::string m = error_of([&] { load_config_file(top); });
  EXPECT_EQ(m, top + ": include[0] \"hw/nope.json\": cannot open config file " + d + "/hw/nope.json") << m;

  // Deeper down, the message also gives the include chain.
  const std::string mid = write(d, "mid.json", R"({"include": "gone.json"})");
  const std::string top2 = write(d, "top2.json", R"({"include": "mid.json"})");
  const std::string m2 = error_of([&] { load_config_file(top2); });
  EXPECT_EQ(m2, mid + ": include \"gone.json\": cannot open config file " + d + "/gone.json (include chain: " + top2 +
                    " -> " + mid + ")")
      << m2;

  // The top file itself missing: the usual message.
  EXPECT_EQ(error_of([&] { load_config_file(d + "/absent.json"); }), d + "/absent.json: cannot open config file");
}

TEST(ConfigInclude, IncludeOfAWrongTypeNamesTheKey) {
  const std::string d = test_dir();
  const std::string num = write(d, "num.json", R"({"include": 3})");
  EXPECT_EQ(error_of([&] { load_config_file(num); }),
            num + ": include: expected a config file path or a list of them, got integer 3");
  const std::string obj = write(d, "obj.json", R"({"include": {"a": "b.json"}})");
  EXPECT_TRUE(contains(error_of([&] { load_config_file(obj); }), obj + ": include: expected"));
  const std::string elem = write(d, "elem.json", R"({"include": ["ok.json", true]})");
  write(d, "ok.json", "{}");
  EXPECT_EQ(error_of([&] { load_config_file(elem); }),
            elem + ": include[1]: expected a config file path (a string), got boolean true");
  const std::string empty = write(d, "empty.json", R"({"include": ""})");
  EXPECT_TRUE(contains(error_of([&] { load_config_file(empty); }),
                       empty + ": include: expected a config file path, got an empty string"));
}

TEST(ConfigInclude, ParseErrorInAnIncludedFileNamesThatFile) {
  const std::string d = test_dir();
  const std::string bad = write(d, "hw/bad.json", "{\n \"cpu\": { \"vcpus\": 2 \n}\n");
  const std::string top = write(d, "top.json", R"({"include": "hw/bad.json"})");
  const std::string m = error_of([&] { load_config_file(top); });
  EXPECT_EQ(m.rfind(bad + ": parse error at line 4, column 1", 0), 0u) << m;
  EXPECT_TRUE(contains(m, "(include chain: " + top + " -> " + bad + ")")) << m;

  const std::string arr = write(d, "arr.json", "[]");
  const std::string top2 = write(d, "top2.json", R"({"include": "arr.json"})");
  EXPECT_EQ(error_of([&] { load_config_file(top2); }),
            arr + ": an included config must be a JSON object, got array (include chain: " + top2 + " -> " + arr + ")");
}

TEST(ConfigInclude, ErrorsAboutAKeyFromAnIncludedFileNameThatFile) {
  const std::string d = test_dir();
  const std::string preset = write(d, "hw/p.json", R"({"cpu": {"vcpu": 2, "freq_ghz": "fast"}})");
  const std::string top = write(d, "top.json", R"({"include": "hw/p.json", "sim": {"sed": 1}})");
  ConfigOrigins origins;
  const json doc = load_config_file(top, &origins);
  EXPECT_EQ(origins.of("cpu.vcpu"), preset);
  EXPECT_EQ(origins.of("sim.sed"), top);
  EXPECT_EQ(origins.of("cpu"), preset);              // from a key below it
  EXPECT_EQ(origins.of("cpu.vcpu.deeper"), preset);  // from its ancestor
  EXPECT_EQ(origins.of("workload.trace"), "");

  {
    ConfigTracker t(doc, top);
    t.set_origins(origins);
    Cfg root(t);
    EXPECT_EQ(error_of([&] { root.section("cpu").f64("freq_ghz", 2.5); }),
              top + ": cpu.freq_ghz: expected a number, got string \"fast\" (from included file " + preset + ")");
  }
  {
    json ok = doc;
    ok["cpu"].erase("freq_ghz");
    ConfigTracker t(ok, top);
    t.set_origins(origins);
    Cfg root(t);
    root.section("cpu").u64("vcpus", 1);
    root.section("sim").u64("seed", 1);
    EXPECT_EQ(error_of([&] { t.check_unknown(); }),
              top + ": unknown key 'cpu.vcpu' (known keys here: vcpus) (from included file " + preset + ")");
  }
  {
    // A key of the top file itself: no note.
    json ok = doc;
    ok.erase("cpu");
    ConfigTracker t(ok, top);
    t.set_origins(origins);
    Cfg root(t);
    root.section("sim").u64("seed", 1);
    EXPECT_EQ(error_of([&] { t.check_unknown(); }), top + ": unknown key 'sim.sed' (known keys here: seed)");
  }
  // A --set override (recorded with an empty file) takes the key away from the preset.
  origins.assign("cpu.vcpu", "");
  EXPECT_EQ(origins.of("cpu.vcpu"), "");
  EXPECT_EQ(origins.of("cpu.freq_ghz"), preset);
}

TEST(ConfigInclude, OriginsFollowTheMerge) {
  const std::string d = test_dir();
  const std::string base = write(d, "base.json",
                                 R"({"tlb": {"l1": {"hit_cycles": 1, "arrays": {"4k": {"ways": 4}}}},
                                     "hv": {"memslots": [{"size": 4096}]}})");
  const std::string top = write(d, "top.json", R"({"include": "base.json",
                                                   "tlb": {"l1": {"arrays": {"4k": {"ways": 8}}}},
                                                   "hv": {"memslots": [{"size": 8192}]}})");
  ConfigOrigins o;
  load_config_file(top, &o);
  EXPECT_EQ(o.of("tlb.l1.hit_cycles"), base);
  EXPECT_EQ(o.of("tlb.l1.arrays.4k.ways"), top);
  EXPECT_EQ(o.of("hv.memslots[0].size"), top);
}

namespace {
// Loads a shipped config as `vmxsim` does and reads it; returns the effective config.
json read_shipped(const std::string& rel) {
  const std::string path = std::string(VMXSIM_SOURCE_DIR) + "/" + rel;
  ConfigOrigins origins;
  json doc = load_config_file(path, &origins);
  ConfigTracker t(std::move(doc), path);
  t.set_origins(origins);
  sim::SimParams::read(t, fs::path(path).parent_path().string(), {});  // throws on unknown keys
  return t.effective();
}
}  // namespace

TEST(ConfigInclude, ShippedSkylakePresetLoadsWithoutUnknownKeys) {
  const std::string path = std::string(VMXSIM_SOURCE_DIR) + "/configs/hw/skylake-sp.json";
  const json user = load_config_file(path);
  // Hardware keys only.
  for (auto it = user.begin(); it != user.end(); ++it)
    EXPECT_TRUE(it.key() == "cpu" || it.key() == "tlb" || it.key() == "mem" || it.key() == "pwc") << it.key();
  EXPECT_EQ(user["cpu"].size(), 1u);

  json e;
  ASSERT_NO_THROW(e = read_shipped("configs/hw/skylake-sp.json"));
  EXPECT_EQ(e["tlb"]["l1"]["arrays"]["4k"]["entries"], 64);
  EXPECT_EQ(e["tlb"]["l1"]["arrays"]["4k"]["ways"], 4);
  EXPECT_EQ(e["tlb"]["l1"]["arrays"]["2m"]["entries"], 32);
  EXPECT_EQ(e["tlb"]["l1"]["arrays"]["1g"]["entries"], 4);
  EXPECT_EQ(e["tlb"]["l2"]["arrays"]["shared"]["entries"], 1536);
  EXPECT_EQ(e["tlb"]["l2"]["arrays"]["shared"]["ways"], 12);
  EXPECT_EQ(e["tlb"]["l2"]["arrays"]["shared"]["page_sizes"], json::parse(R"(["4K", "2M"])"));
  EXPECT_EQ(e["tlb"]["l2"]["arrays"]["1g"]["entries"], 16);
  EXPECT_EQ(e["tlb"]["l2"]["hit_cycles"], 12);
  EXPECT_DOUBLE_EQ(e["cpu"]["freq_ghz"].get<double>(), 2.5);
}

TEST(ConfigInclude, ShippedExampleIncludesThePreset) {
  json e;
  ASSERT_NO_THROW(e = read_shipped("configs/examples/skylake-4vcpu.json"));
  EXPECT_EQ(e["cpu"]["vcpus"], 4);                                 // its own key
  EXPECT_EQ(e["tlb"]["l2"]["arrays"]["shared"]["entries"], 1536);  // from the preset
  EXPECT_DOUBLE_EQ(e["cpu"]["freq_ghz"].get<double>(), 2.5);
}
