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

// Kernels whose sm90 sets are still untuned copies of another kernel's schedules, each
// with why. A kernel added without tuned sets fails the test below; one tuned since
// must leave this list (the test fails while it is here). A kernel goes on it only with
// the reason kiln-tune could not tune it.
const std::map<std::string, std::string> kAwaitingTuning = {
    {"allreduce_add_rms_norm", "kiln-tune times one GPU at a time: the one-shot/two-shot crossover was measured on "
                               "two H200s and chosen by hand (bench/results/h200x2/)"},
    {"allreduce_add_rms_norm_fp8", "as allreduce_add_rms_norm (the same template and schedules)"},
};

// Communicator kernels' sets: one per hidden size of the grid and rank count, on sm90 only
// (tuning them takes a machine with that many GPUs of the arch; two H200s so far).
const std::vector<std::string> kCommArchs = {"sm90"};
const std::vector<int64_t> kCommRanks = {2, 4, 8};  // tp4 and tp8: tp2's schedules until a 4- or 8-GPU machine measures them

// Every set holds the RFC thresholds; a set may add one where a single schedule cannot
// serve a whole bucket (silu_mul_fp8 sm90 h=5120 has bs16). A communicator kernel's
// hand-chosen sets (kAwaitingTuning) hold bs1 (one-shot) and bs256 (two-shot, where the
// measured crossover lies) only: the RFC grid is required of them once kiln-tune tunes them.
TEST(Repository, ConfigsCoverEveryKernelOnSm90AndSm100AtTheRfcGrid) {
  const Validated v = validate_dir(default_configs_dir());
  const std::set<int64_t> rfc{1, 2, 4, 8, 32, 128, 256, 1024};
  const std::set<int64_t> hand_written{1, 256};
  std::set<std::string> sets;
  for (const ConfigSet& set : v.sets) {
    const std::string name(set.kernel->name);
    EXPECT_EQ(set.ranks > 0, set.kernel->comm) << name << ": a tp<R> level exactly for communicator kernels";
    sets.insert(name + "/" + set.arch + "/" + std::to_string(set.hidden) +
                (set.ranks > 0 ? "/tp" + std::to_string(set.ranks) : std::string()));
    std::set<int64_t> thresholds;
    for (const ConfigEntry& e : set.entries) thresholds.insert(e.threshold);
    if (set.kernel->comm && kAwaitingTuning.count(name)) {
      EXPECT_EQ(thresholds, hand_written) << name << " " << set.arch << " " << set.hidden << " tp" << set.ranks;
      continue;
    }
    EXPECT_TRUE(std::includes(thresholds.begin(), thresholds.end(), rfc.begin(), rfc.end()))
        << name << " " << set.arch << " " << set.hidden << " lacks an RFC threshold";
  }
  std::set<std::string> expected;
  for (const KernelDescriptor& kernel : kernel_descriptors())
    for (const char* arch : {"sm90", "sm100"})
      for (int hidden : {2048, 4096, 5120, 8192}) {
        const std::string set = std::string(kernel.name) + "/" + arch + "/" + std::to_string(hidden);
        if (!kernel.comm) {
          expected.insert(set);
          continue;
        }
        if (std::find(kCommArchs.begin(), kCommArchs.end(), arch) == kCommArchs.end()) continue;
        for (int64_t ranks : kCommRanks) expected.insert(set + "/tp" + std::to_string(ranks));
      }
  EXPECT_EQ(sets, expected);
}

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
      // An untuned copy says "not measured"; a communicator kernel's hand-chosen set says what
      // it was chosen from and that kiln-tune did not tune it.
      const std::string note = t.contains("note") ? t["note"].get<std::string>() : "";
      const bool says_untuned = note.find("not measured") != std::string::npos ||
                                (set.kernel->comm && note.find("not tuned by kiln-tune") != std::string::npos);
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
