// Sweep specs: parsing, errors, and the point list they expand to; the
// result tables built from point records.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "error_of.hpp"
#include "sim/app/sweep/progress.hpp"
#include "sim/app/sweep/results.hpp"
#include "sim/app/sweep/spec.hpp"

using namespace vmxsim::sweep;
using vmxsim::test::error_of;

namespace {

Spec parse(const std::string& text, const std::string& path = "/studies/s.json") {
  return parse_spec(ordered_json::parse(text), path);
}

std::string spec_error(const std::string& text) {
  return error_of([&] { parse(text); });
}

// "key=value" of every parameter of `p`, for compact comparisons.
std::string params_of(const Point& p) {
  std::string out;
  for (const auto& a : p.params) out += (out.empty() ? "" : " ") + a.arg();
  return out;
}

const json kNoSeeds = json::object();

}  // namespace

TEST(SweepSpec, GridIsTheCartesianProductFirstKeySlowest) {
  const Spec s = parse(R"({"base": "cfg.json", "grid": {"b.x": [1, 2, 3], "a.y": ["p", "q"]}})");
  EXPECT_EQ(s.base, "/studies/cfg.json");  // relative to the spec's folder
  EXPECT_EQ(s.name, "s");
  const auto pts = expand(s, kNoSeeds);
  ASSERT_EQ(pts.size(), 6u);
  EXPECT_EQ(params_of(pts[0]), R"(b.x=1 a.y="p")");
  EXPECT_EQ(params_of(pts[1]), R"(b.x=1 a.y="q")");
  EXPECT_EQ(params_of(pts[2]), R"(b.x=2 a.y="p")");
  EXPECT_EQ(params_of(pts[5]), R"(b.x=3 a.y="q")");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    EXPECT_EQ(pts[i].index, i);
    EXPECT_EQ(pts[i].id.size(), 16u);
    ids.insert(pts[i].id);
  }
  EXPECT_EQ(ids.size(), 6u);
}

TEST(SweepSpec, IdsAreStableAndIgnoreKeyOrder) {
  const auto a = expand(parse(R"({"base": "c.json", "grid": {"b.x": [1, 2], "a.y": ["p"]}})"), kNoSeeds);
  const auto b = expand(parse(R"({"base": "c.json", "grid": {"a.y": ["p"], "b.x": [1, 2]}})"), kNoSeeds);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].id, b[0].id);
  EXPECT_EQ(a[1].id, b[1].id);
  // Pinned: an id must not change between builds, or resuming re-runs everything.
  // FNV-1a("abc") = e71fa2190541574b (the published test vector), then SplitMix64's finaliser.
  EXPECT_EQ(stable_hash("abc"), "0dd490490804b508") << "the id hash changed; existing sweep folders would re-run";
}

TEST(SweepSpec, ZipStepsTogetherAndCombinesWithTheGrid) {
  const Spec s = parse(R"({"base": "/abs/c.json", "grid": {"g": [0, 1]},
                           "zip": {"z.a": [10, 20, 30], "z.b": ["x", "y", "z"]}})");
  EXPECT_EQ(s.base, "/abs/c.json");
  const auto pts = expand(s, kNoSeeds);
  ASSERT_EQ(pts.size(), 6u);
  EXPECT_EQ(params_of(pts[0]), R"(g=0 z.a=10 z.b="x")");
  EXPECT_EQ(params_of(pts[2]), R"(g=0 z.a=30 z.b="z")");
  EXPECT_EQ(params_of(pts[3]), R"(g=1 z.a=10 z.b="x")");
  EXPECT_EQ(s.param_keys(), (std::vector<std::string>{"g", "z.a", "z.b"}));
}

TEST(SweepSpec, RepeatShiftsTheSeedsTheModelReadsUnlessVaried) {
  const json base = {{"sim", {{"seed", 5}}}, {"workload", {{"generator", {{"seed", 7}}}}}};  // no guest.seed
  const Spec s = parse(R"({"base": "c.json", "grid": {"x": [1, 2]}, "repeat": 3})");
  const auto pts = expand(s, base);
  ASSERT_EQ(pts.size(), 6u);
  EXPECT_EQ(pts[0].repeat, 0u);
  EXPECT_TRUE(pts[0].seeds.empty());  // repeat 0 is the plain run
  EXPECT_EQ(pts[2].repeat, 2u);
  ASSERT_EQ(pts[2].seeds.size(), 2u);
  EXPECT_EQ(pts[2].seeds[0].arg(), "workload.generator.seed=9");
  EXPECT_EQ(pts[2].seeds[1].arg(), "sim.seed=7");
  EXPECT_NE(pts[1].id, pts[2].id);
  // A seed the spec varies itself is left alone; repeat_keys chooses the seeds.
  const auto v = expand(parse(R"({"base": "c.json", "grid": {"sim.seed": [1, 2]}, "repeat": 2})"), base);
  ASSERT_EQ(v.size(), 4u);
  ASSERT_EQ(v[1].seeds.size(), 1u);
  EXPECT_EQ(v[1].seeds[0].arg(), "workload.generator.seed=8");
  const auto k = expand(parse(R"({"base": "c.json", "repeat": 2, "repeat_keys": ["sim.seed"]})"), base);
  ASSERT_EQ(k.size(), 2u);  // no grid: one point, repeated
  ASSERT_EQ(k[1].seeds.size(), 1u);
  EXPECT_EQ(k[1].seeds[0].arg(), "sim.seed=6");
}

TEST(SweepSpec, SetArgsAreFixedThenParametersThenSeeds) {
  const Spec s = parse(R"({"base": "c.json", "set": {"f.k": true}, "grid": {"x": ["a b"]}, "repeat": 2})");
  const auto pts = expand(s, json{{"sim", {{"seed", 1}}}});
  EXPECT_EQ(pts[1].set_args(s), (std::vector<std::string>{"f.k=true", R"(x="a b")", "sim.seed=2"}));
}

TEST(SweepSpec, ErrorsNameTheKeyAndWhatWasExpected) {
  EXPECT_EQ(spec_error(R"({"base": "c.json", "gird": {}})"),
            "/studies/s.json: unknown key 'gird' (known keys: name, base, grid, zip, set, repeat, repeat_keys, stats)");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "zip": {"a": [1, 2], "b": [1, 2, 3]}})"),
            "/studies/s.json: zip.b: has 3 values but zip.a has 2 (zipped lists step together, so their lengths "
            "must be equal)");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "grid": {"a": []}})"),
            "/studies/s.json: grid.a: the list of values is empty (a parameter needs at least one)");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "grid": {"a": 3}})"),
            "/studies/s.json: grid.a: expected an array of values, got integer 3");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "grid": [1]})"),
            "/studies/s.json: grid: expected an object of config key -> array of values, got array [1]");
  EXPECT_EQ(spec_error(R"({"base": 7})"), "/studies/s.json: base: expected a string, got integer 7");
  EXPECT_EQ(spec_error(R"({"grid": {}})"),
            "/studies/s.json: missing key 'base' (the config file every point starts from)");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "repeat": 0})"),
            "/studies/s.json: repeat: expected a positive integer, got integer 0");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "repeat": "2"})"),
            "/studies/s.json: repeat: expected a positive integer, got string \"2\"");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "stats": ["a", 1]})"),
            "/studies/s.json: stats[1]: expected a string, got integer 1");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "grid": {"a": [1]}, "set": {"a": 2}})"),
            "/studies/s.json: set.a: this key is given more than once across grid, zip and set");
  EXPECT_EQ(spec_error(R"({"base": "c.json", "grid": {"a..b": [1]}})"),
            "/studies/s.json: grid.a..b: 'a..b' is not a config key path (expected e.g. \"hv.dirty_log.mode\")");
  EXPECT_EQ(spec_error("[1]"), "/studies/s.json: a sweep spec must be a JSON object, got array");
  EXPECT_EQ(error_of([] { load_spec("/nonexistent/spec.json"); }), "/nonexistent/spec.json: cannot open sweep spec");
}

TEST(SweepSpec, ShardsPartitionThePoints) {
  EXPECT_EQ(parse_shard("1/4").index, 1u);
  EXPECT_EQ(parse_shard("1/4").count, 4u);
  for (const char* bad : {"4/4", "0/0", "1", "a/2", "-1/2", "1/", "/2", "1/2/3", " 1/2"})
    EXPECT_EQ(error_of([&] { parse_shard(bad); }),
              std::string("--shard ") + bad + ": expected i/n with 0 <= i < n, e.g. 0/4")
        << bad;
  const Shard a = parse_shard("0/3"), b = parse_shard("1/3"), c = parse_shard("2/3");
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(a.has(i) + b.has(i) + c.has(i), 1) << i;
}

TEST(SweepTables, CsvHasARowPerRecordedPointWithChosenStats) {
  const Spec s = parse(R"({"base": "c.json", "grid": {"m": ["wp", "a,b"]}, "stats": ["x.*", "y", "zz*"]})");
  const auto pts = expand(s, kNoSeeds);
  Outcome ok;
  ok.ok = true;
  ok.stats = {{"x.b", 2}, {"x.a", 1.5}, {"y", 3}, {"w", 4}};
  Outcome bad;
  bad.exit_code = 1;
  bad.error = "exit 1: vmxsim: error: \"m\" is bad";
  const Tables t = make_tables(s, pts, {make_record(s, pts[0], "fp", ok), make_record(s, pts[1], "fp", bad)});
  EXPECT_EQ(t.csv,
            "point,id,repeat,m,status,exit_code,error,x.a,x.b,y\n"
            "0," +
                pts[0].id +
                ",0,wp,ok,0,,1.5,2,3\n"
                "1," +
                pts[1].id + ",0,\"a,b\",failed,1,\"exit 1: vmxsim: error: \"\"m\"\" is bad\",,,\n");
  EXPECT_EQ(t.unmatched, (std::vector<std::string>{"zz*"}));
  // JSON lines carry every stat; a point without a record (not run yet) has no row.
  const Tables u = make_tables(s, pts, {json(), make_record(s, pts[1], "fp", ok)});
  EXPECT_EQ(u.csv.find("\n0,"), std::string::npos);
  const json line = json::parse(u.jsonl);
  EXPECT_EQ(line["point"], 1);
  EXPECT_EQ(line["stats"]["w"], 4);
  EXPECT_EQ(line["params"]["m"], "a,b");
}

TEST(SweepProgress, DurationsReadAsAClock) {
  EXPECT_EQ(Progress::duration(0), "0s");
  EXPECT_EQ(Progress::duration(59.4), "59s");
  EXPECT_EQ(Progress::duration(65), "1m05s");
  EXPECT_EQ(Progress::duration(3725), "1h02m");
}
