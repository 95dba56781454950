// Unit tests of the PML engines (pml/engine.hpp) and the `pml` config section.
// Every registered variant runs the same parameterised tests with its default
// keys, so a new variant is tested without editing this file; a variant with
// keys of its own adds cases for them to keyed_cases().
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "models/phys_mem.hpp"
#include "pml/engine.hpp"
#include "pml/log_engine.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::pml {
namespace {

/// An engine of `variant` as a config would give it: `keys` are the rest of
/// its `pml` section (`intel` has none).
std::unique_ptr<Engine> make_engine(const std::string& variant, models::PhysMem& mem,
                                    const json& keys = json::object()) {
  json doc = {{"pml", keys}};
  doc["pml"]["variant"] = variant;
  ConfigTracker t(doc, "test.json");
  const PmlParams p = PmlParams::from(Cfg(t).section("pml"), SystemInfo{});
  t.check_unknown();
  return p.make(mem);
}

/// One parameterised case: a variant, the keys of its section, and the
/// entries its log should hold (0: whatever the engine's head says, for a
/// variant's defaults; the tests then check it behaves as that size).
struct Case {
  std::string name;  // test-name suffix
  std::string variant;
  json keys;
  std::uint32_t capacity;
};

// Readable in test listings (`ctest -N`) instead of the object's bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.variant;
  for (const auto& [k, v] : c.keys.items()) *os << " " << k << "=" << v.dump();
}

/// Cases beyond each variant's defaults, for variants with keys of their own.
std::vector<Case> keyed_cases() {
  return {
      {"intel_ignores_log_entries", "intel", {{"log_entries", 8}}, 512},
      {"sized512", "sized", {{"log_entries", 512}}, 512},
      {"sized8", "sized", {{"log_entries", 8}}, 8},
      {"sized1", "sized", {{"log_entries", 1}}, 1},
      {"sized1000", "sized", {{"log_entries", 1000}}, 1000},     // two pages, the second partly used
      {"sized65535", "sized", {{"log_entries", 65535}}, 65535},  // the largest: head 0xFFFE
  };
}

/// Every registered variant with its defaults, then the keyed cases. Read when
/// the tests are registered (after static initialisation, so every variant's
/// VMXSIM_REGISTER has run).
std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const std::string& v : EngineRegistry::instance().names()) {
    std::string name = v;
    for (char& ch : name)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';  // gtest names: [A-Za-z0-9_]
    out.push_back({name, v, json::object(), 0});
  }
  for (Case& c : keyed_cases()) out.push_back(std::move(c));
  return out;
}

constexpr std::uint16_t kFull = 0xFFFF;
constexpr Addr kGpaBase = Addr{1} << 30;

/// The i-th distinct page logged by the tests, with an offset inside it.
Addr gpa(std::uint32_t i) { return kGpaBase + (Addr(i) << kPageShift4K) + 0x123; }
Addr page_of(Addr a) { return a & ~(kPageSize4K - 1); }

class PmlEngineTest : public testing::TestWithParam<Case> {
 protected:
  PmlEngineTest() : mem_(models::PhysMemParams{}) {
    engine_ = make_engine(GetParam().variant, mem_, GetParam().keys);
    // KVM writes the head at VMCS setup, so a fresh engine's index is it.
    capacity_ = GetParam().capacity ? GetParam().capacity : std::uint32_t(engine_->index()) + 1;
  }

  std::uint32_t capacity() const { return capacity_; }
  std::uint16_t head() const { return std::uint16_t(capacity() - 1); }

  /// Where entry i of the log lives. The engine is the first user of a fresh
  /// PhysMem, whose page-table pool hands out frames from table_base upwards,
  /// so its log frames are frames 0, 1, ...; entry i is in frame i / 512 at
  /// offset 8 × (i % 512).
  Addr entry_hpa(std::uint32_t i) const {
    return models::PhysMemParams{}.table_base + (Addr(i / 512) << kPageShift4K) + 8 * (i % 512);
  }

  /// Logs `n` distinct pages as the walker would: ask, then log.
  void log_pages(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      ASSERT_TRUE(engine_->may_set_flags()) << "refused before page " << i;
      engine_->log(gpa(i));
    }
  }

  models::PhysMem mem_;
  std::unique_ptr<Engine> engine_;
  std::uint32_t capacity_ = 0;
};

TEST_P(PmlEngineTest, AllocatesItsLogInPhysMem) {
  EXPECT_EQ(mem_.live_tables(), (capacity() + 511) / 512);
  for (std::uint32_t i = 0; i < capacity(); i += 97) EXPECT_EQ(mem_.read(entry_hpa(i)), 0u);
}

TEST_P(PmlEngineTest, DisabledNeverRefusesNorLogs) {
  EXPECT_FALSE(engine_->enabled());
  EXPECT_EQ(engine_->index(), head());  // KVM writes the head at VMCS setup
  for (std::uint32_t i = 0; i < capacity() + 2; ++i) {
    EXPECT_TRUE(engine_->may_set_flags());
    engine_->log(gpa(i));
  }
  EXPECT_EQ(engine_->index(), head());
  EXPECT_EQ(engine_->pending(), 0u);
  std::vector<Addr> out;
  EXPECT_EQ(engine_->drain(out), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(mem_.read(entry_hpa(head())), 0u);
  Stats s;
  engine_->register_stats(s, "pml");
  EXPECT_EQ(s.get("pml.logged"), 0);
  EXPECT_EQ(s.get("pml.full"), 0);
  EXPECT_EQ(s.get("pml.drained"), 0);
}

TEST_P(PmlEngineTest, EnableStartsAtTheHead) {
  engine_->enable(true);
  EXPECT_TRUE(engine_->enabled());
  EXPECT_EQ(engine_->index(), head());
  EXPECT_EQ(engine_->pending(), 0u);
  EXPECT_TRUE(engine_->may_set_flags());
}

TEST_P(PmlEngineTest, FullLogHoldsTheGpasAndTheNextAccessRefuses) {
  engine_->enable(true);
  log_pages(capacity());
  // capacity pages logged: the index wrapped past 0 to 0xFFFF, no exit yet.
  EXPECT_EQ(engine_->index(), kFull);
  EXPECT_EQ(engine_->pending(), capacity());
  // The log memory holds the 4K-aligned GPAs, the first at the head.
  for (std::uint32_t k = 0; k < capacity(); ++k)
    ASSERT_EQ(mem_.read(entry_hpa(head() - k)), page_of(gpa(k))) << "entry " << head() - k;

  // The next access that must set an A or D flag is a PML-full exit.
  EXPECT_FALSE(engine_->may_set_flags());
  EXPECT_FALSE(engine_->may_set_flags());  // re-executed after entry, still full
  EXPECT_EQ(engine_->index(), kFull);
  Stats s;
  engine_->register_stats(s, "vcpu0.pml");
  EXPECT_EQ(s.get("vcpu0.pml.logged"), capacity());
  EXPECT_EQ(s.get("vcpu0.pml.full"), 2);
  EXPECT_EQ(s.get("vcpu0.pml.drained"), 0);
}

TEST_P(PmlEngineTest, DrainReturnsKvmOrderAndResetsTheIndex) {
  engine_->enable(true);
  log_pages(capacity());
  ASSERT_FALSE(engine_->may_set_flags());
  std::vector<Addr> out = {42};  // drain appends
  EXPECT_EQ(engine_->drain(out), capacity());
  ASSERT_EQ(out.size(), capacity() + 1u);
  EXPECT_EQ(out[0], 42u);
  for (std::uint32_t k = 0; k < capacity(); ++k)  // head first = the first logged
    ASSERT_EQ(out[1 + k], page_of(gpa(k))) << k;
  EXPECT_EQ(engine_->index(), head());
  EXPECT_EQ(engine_->pending(), 0u);
  EXPECT_TRUE(engine_->may_set_flags());  // the re-executed access proceeds
  out.clear();
  EXPECT_EQ(engine_->drain(out), 0u);  // empty
  EXPECT_TRUE(out.empty());
  Stats s;
  engine_->register_stats(s, "pml");
  EXPECT_EQ(s.get("pml.drained"), capacity());
  EXPECT_EQ(s.get("pml.full"), 1);
}

TEST_P(PmlEngineTest, ForEachLoggedVisitsWhatDrainWouldRead) {
  EXPECT_EQ(engine_->log_entries(), capacity());
  engine_->enable(true);
  const auto logged = [this] {
    std::vector<std::pair<std::uint32_t, Addr>> out;
    engine_->for_each_logged([&out](std::uint32_t slot, Addr g) { out.emplace_back(slot, g); });
    return out;
  };
  EXPECT_TRUE(logged().empty());
  const std::uint32_t n = capacity() > 3 ? 3 : capacity();
  log_pages(n);
  const std::uint16_t index = engine_->index();
  auto seen = logged();
  ASSERT_EQ(seen.size(), n);
  for (std::uint32_t k = 0; k < n; ++k) {  // head first, as drain() reads them
    EXPECT_EQ(seen[k].first, std::uint32_t(head() - k));
    EXPECT_EQ(seen[k].second, page_of(gpa(k)));
  }
  EXPECT_EQ(engine_->index(), index);  // read only
  EXPECT_EQ(engine_->pending(), n);
  std::vector<Addr> out;
  engine_->drain(out);
  EXPECT_TRUE(logged().empty());  // drained: the stale entries are not listed
  log_pages(capacity());          // a full log (index wrapped to 0xFFFF)
  seen = logged();
  ASSERT_EQ(seen.size(), capacity());
  EXPECT_EQ(seen.back().first, 0u);
  EXPECT_EQ(seen.back().second, page_of(gpa(capacity() - 1)));
}

TEST_P(PmlEngineTest, PartialDrainStopsAtTheTail) {
  engine_->enable(true);
  const std::uint32_t n = capacity() > 3 ? 3 : capacity() - 1;
  log_pages(n);
  EXPECT_EQ(engine_->index(), head() - n);
  EXPECT_EQ(engine_->pending(), n);
  std::vector<Addr> out;
  EXPECT_EQ(engine_->drain(out), n);
  ASSERT_EQ(out.size(), n);
  for (std::uint32_t k = 0; k < n; ++k) EXPECT_EQ(out[k], page_of(gpa(k)));
  EXPECT_EQ(engine_->index(), head());
  // Logging restarts at the head, overwriting the old entry there.
  log_pages(1);
  EXPECT_EQ(mem_.read(entry_hpa(head())), page_of(gpa(0)));
  out.clear();
  EXPECT_EQ(engine_->drain(out), 1u);
}

TEST_P(PmlEngineTest, DrainReadsTheLogMemory) {
  // The log is memory, not a shadow copy: what is at the head entry is what
  // KVM reads.
  engine_->enable(true);
  log_pages(1);
  mem_.write(entry_hpa(head()), 0xabcde000);
  std::vector<Addr> out;
  ASSERT_EQ(engine_->drain(out), 1u);
  EXPECT_EQ(out[0], 0xabcde000u);
}

TEST_P(PmlEngineTest, MasksTheLowBitsOfTheGpa) {
  engine_->enable(true);
  ASSERT_TRUE(engine_->may_set_flags());
  engine_->log(0x0000'00ff'1234'5fff);
  EXPECT_EQ(mem_.read(entry_hpa(head())), 0x0000'00ff'1234'5000u);
  std::vector<Addr> out;
  engine_->drain(out);
  EXPECT_EQ(out, std::vector<Addr>{0x0000'00ff'1234'5000});
}

TEST_P(PmlEngineTest, IndexZeroWrapsTo0xFFFF) {
  engine_->enable(true);
  log_pages(capacity() - 1);
  EXPECT_EQ(engine_->index(), 0);
  EXPECT_TRUE(engine_->may_set_flags());  // index 0 is still inside the log
  engine_->log(gpa(capacity()));
  EXPECT_EQ(engine_->index(), 0xFFFF);
  EXPECT_EQ(mem_.read(entry_hpa(0)), page_of(gpa(capacity())));
}

TEST_P(PmlEngineTest, LogWhileFullThrows) {
  engine_->enable(true);
  log_pages(capacity());
  EXPECT_THROW(engine_->log(gpa(0)), Error);
  EXPECT_EQ(engine_->index(), kFull);  // nothing changed
  std::vector<Addr> out;
  EXPECT_EQ(engine_->drain(out), capacity());
  EXPECT_EQ(out.front(), page_of(gpa(0)));
}

TEST_P(PmlEngineTest, DisableKeepsTheIndexAndEnableRestartsAtTheHead) {
  engine_->enable(true);
  log_pages(1);
  engine_->enable(false);  // clearing the control leaves GUEST_PML_INDEX alone
  EXPECT_EQ(engine_->index(), std::uint16_t(head() - 1));
  EXPECT_EQ(engine_->pending(), 1u);
  engine_->log(gpa(5));  // ignored while disabled
  EXPECT_EQ(engine_->pending(), 1u);
  engine_->enable(true);
  EXPECT_EQ(engine_->index(), head());
  engine_->enable(true);  // already on: no change
  log_pages(1);
  engine_->enable(true);
  EXPECT_EQ(engine_->pending(), 1u);
}

TEST_P(PmlEngineTest, StatsRegisterOnce) {
  Stats s;
  engine_->register_stats(s, "vcpu1.pml");
  EXPECT_TRUE(s.has("vcpu1.pml.logged"));
  EXPECT_TRUE(s.has("vcpu1.pml.full"));
  EXPECT_TRUE(s.has("vcpu1.pml.drained"));
  EXPECT_THROW(engine_->register_stats(s, "vcpu1.pml"), Error);
}

INSTANTIATE_TEST_SUITE_P(Variants, PmlEngineTest, testing::ValuesIn(all_cases()),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(PmlVariantsTest, TheRegistryListsTheShippedVariants) {
  // The cases above come from the registry: an empty one (registrations not
  // linked in) would leave PmlEngineTest with nothing to run.
  const std::vector<std::string> names = EngineRegistry::instance().names();
  for (const char* v : {"intel", "sized"}) EXPECT_NE(std::find(names.begin(), names.end(), v), names.end()) << v;
}

TEST(PmlVariantsTest, DefaultsGiveTheHardwareLog) {
  // Both shipped variants default to the SDM's 512-entry page.
  for (const char* v : {"intel", "sized"}) {
    models::PhysMem mem{models::PhysMemParams{}};
    EXPECT_EQ(make_engine(v, mem)->index(), 511) << v;
    EXPECT_EQ(mem.live_tables(), 1u) << v;
  }
}

// ---- the SDM's 512/513 boundary, spelled out for `intel` --------------------

TEST(PmlIntelTest, Entry512IsLoggedAndTheExitComesOnThe513th) {
  models::PhysMem mem{models::PhysMemParams{}};
  auto e = make_engine("intel", mem);
  e->enable(true);
  EXPECT_EQ(e->index(), 511);
  for (int i = 0; i < 511; ++i) {
    ASSERT_TRUE(e->may_set_flags());
    e->log(gpa(i));
  }
  EXPECT_EQ(e->index(), 0);
  ASSERT_TRUE(e->may_set_flags());  // the 512th: logged at entry 0
  e->log(gpa(511));
  EXPECT_EQ(e->index(), 0xFFFF);
  EXPECT_EQ(mem.read(models::PhysMemParams{}.table_base), page_of(gpa(511)));
  EXPECT_FALSE(e->may_set_flags());  // the 513th: PML-full exit
}

TEST(PmlSizedTest, RejectsAnUnrepresentableSize) {
  // The config check names the key; the engine itself refuses too, for code
  // that builds one directly.
  models::PhysMem mem{models::PhysMemParams{}};
  for (std::uint32_t n : {0u, 65536u}) EXPECT_THROW(LogEngine(n, mem), Error) << n;
}

// ---- configuration ----------------------------------------------------------

PmlParams read_pml(ConfigTracker& t) { return PmlParams::from(Cfg(t).section("pml"), SystemInfo{}); }

std::string read_pml_error(const char* doc) {
  ConfigTracker t(json::parse(doc), "test.json");
  try {
    read_pml(t);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PmlConfigTest, Defaults) {
  ConfigTracker t(json::object(), "test.json");
  const PmlParams p = read_pml(t);
  EXPECT_EQ(p.variant, "intel");
  EXPECT_EQ(t.effective()["pml"]["variant"], "intel");
  EXPECT_EQ(t.effective()["pml"]["log_entries"], 512) << "sized's key is read and shown whichever variant is chosen";
  EXPECT_NO_THROW(t.check_unknown());
}

TEST(PmlConfigTest, SizedReadsItsOwnKey) {
  ConfigTracker t(json::parse(R"({"pml": {"variant": "sized", "log_entries": 64}})"), "test.json");
  const PmlParams p = read_pml(t);
  EXPECT_EQ(p.variant, "sized");
  EXPECT_EQ(t.effective()["pml"]["log_entries"], 64);
  EXPECT_NO_THROW(t.check_unknown());
  models::PhysMem mem{models::PhysMemParams{}};
  auto e = p.make(mem);
  e->enable(true);
  EXPECT_EQ(e->index(), 63);
}

TEST(PmlConfigTest, UnknownVariantListsTheKnownOnes) {
  const std::string e = read_pml_error(R"({"pml": {"variant": "amd"}})");
  EXPECT_NE(e.find("test.json: pml.variant:"), std::string::npos) << e;
  EXPECT_NE(e.find("intel, sized"), std::string::npos) << e;
  EXPECT_NE(e.find("\"amd\""), std::string::npos) << e;
}

TEST(PmlConfigTest, LogEntriesMustFitTheIndex) {
  for (const char* doc :
       {R"({"pml": {"variant": "sized", "log_entries": 0}})", R"({"pml": {"variant": "sized", "log_entries": 70000}})",
        R"({"pml": {"log_entries": 65536}})"}) {
    const std::string e = read_pml_error(doc);
    EXPECT_NE(e.find("test.json: pml.log_entries: must be 1..65535"), std::string::npos) << e;
  }
  EXPECT_NE(read_pml_error(R"({"pml": {"variant": "sized", "log_entries": -1}})").find("pml.log_entries"),
            std::string::npos);
  EXPECT_EQ(read_pml_error(R"({"pml": {"variant": "sized", "log_entries": 1}})"), "(no error)");
  EXPECT_EQ(read_pml_error(R"({"pml": {"variant": "sized", "log_entries": 65535}})"), "(no error)");
}

TEST(PmlConfigTest, AKeyOfAnotherVariantIsCheckedButDoesNotApply) {
  // A base config shared by a sweep over pml.variant keeps sized's key.
  ConfigTracker t(json::parse(R"({"pml": {"variant": "intel", "log_entries": 64}})"), "test.json");
  models::PhysMem mem{models::PhysMemParams{}};
  auto e = read_pml(t).make(mem);
  EXPECT_NO_THROW(t.check_unknown());
  e->enable(true);
  EXPECT_EQ(e->index(), 511);
  EXPECT_NE(read_pml_error(R"({"pml": {"variant": "intel", "log_entries": 0}})").find("pml.log_entries"),
            std::string::npos);
}

TEST(PmlConfigTest, UnknownKeyIsReported) {
  ConfigTracker t(json::parse(R"({"pml": {"variant": "sized", "entries": 64}})"), "test.json");
  read_pml(t);
  try {
    t.check_unknown();
    FAIL() << "expected an unknown-key error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("pml.entries"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("log_entries"), std::string::npos) << e.what();
  }
}

TEST(PmlConfigTest, RegistryNamesTheKeyForAnUnknownVariant) {
  models::PhysMem mem{models::PhysMemParams{}};
  try {
    EngineRegistry::instance().configure("amd", "pml.variant", Cfg::detached(), SystemInfo{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pml.variant: unknown variant 'amd'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vmxsim::pml
