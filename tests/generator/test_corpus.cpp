// The broken-config corpus (broken/<case>/): every case exits 2, reports what its
// expected.txt lists, and leaves a populated --out folder exactly as it was.
#include <gtest/gtest.h>

#include <algorithm>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

std::vector<std::string> broken_cases() {
  std::vector<std::string> cases;
  const char* dir = std::getenv("KILN_GEN_TEST_DIR");
  if (!dir || !fs::is_directory(fs::path(dir) / "broken")) return cases;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "broken"))
    if (entry.is_directory()) cases.push_back(entry.path().filename().string());
  std::sort(cases.begin(), cases.end());
  return cases;
}

struct Expectations {
  std::vector<std::string> present;
  std::vector<std::string> absent;
};

Expectations read_expected(const fs::path& file) {
  Expectations e;
  for (const std::string& line : lines_of(read_file(file))) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '!') e.absent.push_back(line.substr(1));
    else e.present.push_back(line);
  }
  return e;
}

// expected.txt names files "configs/..." and the roots "configs/" and "generated/"; a run
// given --configs DIR --out OUT reports them under the paths given.
std::string as_given(std::string line, const fs::path& configs, const fs::path& out) {
  const std::string summary = " in configs/; generated/ left unchanged";
  if (line.starts_with("configs/")) line = configs.string() + line.substr(7);
  if (const auto at = line.find(summary); at != std::string::npos)
    line.replace(at, summary.size(), " in " + configs.string() + "/; " + out.string() + "/ left unchanged");
  return line;
}

// An --out folder with content, so "unchanged" means something.
void populate_out(const fs::path& out) {
  write_file(out / "meson.build", "# an earlier generation\n");
  write_file(out / "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs1.cu", "// earlier\n");
  age_files(out);
}

class BrokenConfigs : public ::testing::TestWithParam<std::string> {};

TEST_P(BrokenConfigs, ExitsTwoReportsExpectedLinesAndLeavesOutUntouched) {
  const fs::path dir = broken_dir() / GetParam();
  const Expectations expected = read_expected(dir / "expected.txt");
  ASSERT_FALSE(expected.present.empty()) << dir / "expected.txt" << " lists nothing";
  TempDir tmp;
  const fs::path out = tmp / "generated";
  populate_out(out);
  const auto before = snapshot(out);

  for (const bool check : {false, true}) {
    std::vector<std::string> args = {"--configs", (dir / "configs").string(), "--out", out.string()};
    if (check) args.push_back("--check");
    const RunResult r = run_gen(args);
    EXPECT_EQ(r.code, kExitBadInput) << (check ? "--check" : "write") << "\n" << r.err;
    for (const std::string& text : expected.present) {
      const std::string line = as_given(text, dir / "configs", out);
      EXPECT_NE(r.err.find(line), std::string::npos) << "missing: " << line << "\nstderr:\n" << r.err;
    }
    for (const std::string& text : expected.absent) EXPECT_EQ(r.err.find(text), std::string::npos) << "unwanted: " << text << "\nstderr:\n" << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(snapshot(out), before);
  EXPECT_FALSE(fs::exists(tmp / "generated.kiln-tmp"));
}

TEST_P(BrokenConfigs, ReportLinesAreSortedAndUnique) {
  TempDir tmp;
  const std::string given = (broken_dir() / GetParam() / "configs").string();
  const RunResult r = run_gen({"--configs", given, "--out", tmp.path().string()});
  std::vector<std::string> lines = lines_of(r.err);
  ASSERT_FALSE(lines.empty());
  lines.pop_back();  // the summary
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_EQ(std::adjacent_find(lines.begin(), lines.end()), lines.end());
  for (const std::string& line : lines) EXPECT_TRUE(line.starts_with(given + "/")) << line;  // the root as given
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenConfigs, ::testing::ValuesIn(broken_cases()),
                         [](const auto& info) { return info.param; });

// Guards against the corpus silently running zero cases (wrong KILN_GEN_TEST_DIR).
TEST(BrokenCorpus, HasEveryCase) {
  const std::vector<std::string> expected = {
      "bad_file_names",       "bad_hidden_folder",     "bad_ranks_folder",             "cluster_before_sm90",
      "duplicate_json_key",   "malformed_json",
      "missing_schedule_key", "out_of_range",          "schedule_does_not_fit_hidden", "several_errors",
      "threshold_too_large",  "unexpected_entries",    "unknown_arch",                 "unknown_kernel",
      "unknown_schedule_key", "unknown_top_level_key", "wrong_types",                  "zero_threshold",
  };
  EXPECT_EQ(broken_cases(), expected);
}

}  // namespace
}  // namespace kiln::gen::test
