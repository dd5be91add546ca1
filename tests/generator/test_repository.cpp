// The repository's own configs/ validate, cover the RFC grid, and generated/ is
// what they give (what CI's `kiln-gen --check` asserts).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "kiln_gen/cli.h"
#include "kiln_gen/source_tree.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

TEST(Repository, ConfigsValidate) {
  const Validated v = validate_tree(load_tree(default_configs_dir()));
  EXPECT_EQ(sorted_lines(v.errors), std::vector<std::string>{});
}

// Every set holds the RFC thresholds; a set may add one where a single schedule cannot
// serve a whole bucket (silu_mul_fp8 sm90 h=5120 has bs16).
TEST(Repository, ConfigsCoverEveryKernelOnSm90AndSm100AtTheRfcGrid) {
  const Validated v = validate_dir(default_configs_dir());
  const std::set<int64_t> rfc{1, 2, 4, 8, 32, 128, 256, 1024};
  std::set<std::string> sets;
  for (const ConfigSet& set : v.sets) {
    sets.insert(std::string(set.kernel->name) + "/" + set.arch + "/" + std::to_string(set.hidden));
    std::set<int64_t> thresholds;
    for (const ConfigEntry& e : set.entries) thresholds.insert(e.threshold);
    EXPECT_TRUE(std::includes(thresholds.begin(), thresholds.end(), rfc.begin(), rfc.end()))
        << set.kernel->name << " " << set.arch << " " << set.hidden << " lacks an RFC threshold";
  }
  std::set<std::string> expected;
  for (const KernelDescriptor& kernel : kernel_descriptors())
    for (const char* arch : {"sm90", "sm100"})
      for (int hidden : {2048, 4096, 5120, 8192})
        expected.insert(std::string(kernel.name) + "/" + arch + "/" + std::to_string(hidden));
  EXPECT_EQ(sets, expected);
}

// Kernels whose sm90 sets are still untuned copies of another kernel's schedules, each
// with why. A kernel added without tuned sets fails the test below; one tuned since
// must leave this list (the test fails while it is here). A kernel goes on it only with
// the reason kiln-tune could not tune it.
const std::map<std::string, std::string> kAwaitingTuning = {};

// The sm90 sets are tuned on a GPU by kiln-tune (their provenance says so); sets of an
// arch with no GPU to tune on say they are untuned copies.
TEST(Repository, EverySm90ConfigWasTunedByKilnTuneAndOthersSaySoWhenNot) {
  const Validated v = validate_dir(default_configs_dir());
  std::map<std::string, int> untuned_sm90;  // kernel -> files
  for (const ConfigSet& set : v.sets)
    for (const ConfigEntry& e : set.entries) {
      const nlohmann::json doc = nlohmann::json::parse(read_file(default_configs_dir().parent_path() / e.path));
      ASSERT_TRUE(doc.contains("tuning")) << e.path << ": no provenance";
      const nlohmann::json& t = doc["tuning"];
      const bool tuned = t.contains("tool") && t["tool"].get<std::string>().rfind("kiln-tune", 0) == 0;
      const bool says_untuned = t.contains("note") && t["note"].get<std::string>().find("not measured") != std::string::npos;
      EXPECT_TRUE(tuned || says_untuned) << e.path << ": neither tuned by kiln-tune nor marked as an untuned copy";
      if (set.arch == "sm90" && !tuned) ++untuned_sm90[std::string(set.kernel->name)];
    }
  for (const KernelDescriptor& k : kernel_descriptors()) {
    const std::string name(k.name);
    if (kAwaitingTuning.count(name))
      EXPECT_GT(untuned_sm90[name], 0) << name << " is tuned now: take it off kAwaitingTuning";
    else
      EXPECT_EQ(untuned_sm90[name], 0) << name << ": " << untuned_sm90[name] << " sm90 configs not tuned by kiln-tune";
  }
}

TEST(Repository, GeneratedIsUpToDate) {
  const RunResult r = run_gen({"--check"});  // the defaults: the repository's configs/ and generated/
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err << "regenerate: build kiln-gen and run it from anywhere";
  EXPECT_EQ(r.out, "generated/ is up to date\n");
}

TEST(Repository, ConsoleOutputNamesNoAbsolutePath) {
  const RunResult r = run_gen({"--check"});
  const std::string root = default_configs_dir().parent_path().string();
  EXPECT_EQ(r.out.find(root), std::string::npos);
  EXPECT_EQ(r.err.find(root), std::string::npos);
}

}  // namespace
}  // namespace kiln::gen::test
