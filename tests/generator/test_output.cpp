// Writing and --check: swap-in writes, unchanged files keep their mtime, orphans
// go, determinism, and the stale/missing/extra report.
#include <gtest/gtest.h>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

constexpr const char* kSharedInstance = "rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs1.cu";

// A writable copy of the fixture configs and an output folder beside it.
struct Workspace {
  TempDir tmp;
  fs::path configs = tmp / "configs";
  fs::path out = tmp / "generated";
  Workspace() { copy_tree(fixture_configs(), configs); }
  RunResult generate(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--configs", configs.string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = run_gen(args);
    r.out = relative_to(r.out, tmp.path());
    r.err = relative_to(r.err, tmp.path());
    return r;
  }
};

TEST(Write, FirstWriteCreatesOutAndSummarises) {
  Workspace w;
  const RunResult r = w.generate();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "kiln-gen: generated/: 19 files, 19 changed, 0 removed\n");
  EXPECT_EQ(read_tree(w.out).size(), 19u);
  EXPECT_FALSE(fs::exists(w.tmp / "generated.kiln-tmp"));
  EXPECT_FALSE(fs::exists(w.tmp / "generated.kiln-old"));
}

TEST(Write, TwoRunsIntoTwoFoldersGiveIdenticalBytes) {
  Workspace w;
  TempDir other;
  ASSERT_EQ(w.generate().code, kExitOk);
  ASSERT_EQ(run_gen({"--configs", w.configs.string(), "--out", (other / "g").string()}).code, kExitOk);
  EXPECT_EQ(read_tree(w.out), read_tree(other / "g"));
}

TEST(Write, OutputNamesNoAbsolutePath) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  for (const auto& [path, content] : read_tree(w.out)) {
    EXPECT_EQ(content.find(w.tmp.path().string()), std::string::npos) << path;
    EXPECT_EQ(content.find(default_configs_dir().parent_path().string()), std::string::npos) << path;
  }
}

TEST(Write, UnchangedFilesKeepTheirModificationTime) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  age_files(w.out);
  const auto before = snapshot(w.out);
  // bs16 changes; every other file's bytes stay the same.
  write_file(w.configs / "rms_norm_fp8/sm90/2048/bs16.json",
             config_text({{"threads", 128}, {"vec", 8}, {"rows_per_cta", 4}, {"cluster", 1}}));
  const RunResult r = w.generate();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "kiln-gen: generated/: 19 files, 2 changed, 0 removed\n");
  const auto after = snapshot(w.out);
  for (const auto& [path, state] : after) {
    const bool changed = path == "dispatch_sm90.cpp" || path == "rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs16.cu";
    if (changed) {
      EXPECT_NE(state.content, before.at(path).content) << path;
      EXPECT_GT(state.mtime, before.at(path).mtime) << path;
    } else {
      EXPECT_EQ(state, before.at(path)) << path << " was rewritten";
    }
  }
}

TEST(Write, RewriteWithNoChangeTouchesNothing) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  age_files(w.out);
  const auto before = snapshot(w.out);
  const RunResult r = w.generate();
  EXPECT_EQ(r.out, "kiln-gen: generated/: 19 files, 0 changed, 0 removed\n");
  EXPECT_EQ(snapshot(w.out), before);
}

TEST(Write, OrphansAreRemoved) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  write_file(w.out / "stray.txt", "hand-made\n");
  write_file(w.out / "rms_norm_fp8/sm90/1024/rms_norm_fp8_sm90_h1024_bs1.cu", "// old set\n");
  fs::remove_all(w.configs / "silu_mul_fp8/sm100");  // drops one instance and the whole sm100 silu set
  const RunResult r = w.generate();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "kiln-gen: generated/: 18 files, 2 changed, 3 removed\n");  // dispatch_sm100, meson.build
  EXPECT_FALSE(fs::exists(w.out / "stray.txt"));
  EXPECT_FALSE(fs::exists(w.out / "rms_norm_fp8/sm90/1024"));
  EXPECT_FALSE(fs::exists(w.out / "silu_mul_fp8/sm100/2048/silu_mul_fp8_sm100_h2048_bs1.cu"));
  EXPECT_EQ(read_tree(w.out), emit_dir(w.configs));
}

TEST(Write, LeftoverTempFolderFromAnInterruptedRunIsDiscarded) {
  Workspace w;
  write_file(w.tmp / "generated.kiln-tmp/junk.cu", "// half-written\n");
  write_file(w.tmp / "generated.kiln-old/old.cu", "// from an earlier swap\n");
  ASSERT_EQ(w.generate().code, kExitOk);
  EXPECT_FALSE(fs::exists(w.out / "junk.cu"));
  EXPECT_FALSE(fs::exists(w.tmp / "generated.kiln-tmp"));
  EXPECT_FALSE(fs::exists(w.tmp / "generated.kiln-old"));
}

TEST(Write, OutThroughASymlinkKeepsTheLink) {
  Workspace w;
  fs::create_directories(w.tmp / "real");
  fs::create_directory_symlink(w.tmp / "real", w.out);
  ASSERT_EQ(w.generate().code, kExitOk);
  EXPECT_TRUE(fs::is_symlink(w.out));
  EXPECT_EQ(read_tree(w.tmp / "real"), emit_dir(w.configs));
}

TEST(Check, CleanTreeExitsZero) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "generated/ is up to date\n");
}

TEST(Check, StaleFileIsNamedAndNothingIsWritten) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  write_file(w.configs / "rms_norm_fp8/sm90/2048/bs16.json",
             config_text({{"threads", 128}, {"vec", 8}, {"rows_per_cta", 4}, {"cluster", 1}}));
  const auto before = snapshot(w.out);
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitStale);
  EXPECT_EQ(r.out,
            "stale: generated/dispatch_sm90.cpp\n"
            "stale: generated/rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs16.cu\n");
  EXPECT_NE(r.err.find("run kiln-gen to regenerate"), std::string::npos);
  EXPECT_EQ(snapshot(w.out), before);
}

TEST(Check, MissingFileIsNamed) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  fs::remove(w.out / kSharedInstance);
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitStale);
  EXPECT_EQ(r.out, std::string("missing: generated/") + kSharedInstance + "\n");
}

TEST(Check, ExtraFileIsNamed) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  write_file(w.out / "notes.txt", "x\n");
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitStale);
  EXPECT_EQ(r.out, "extra: generated/notes.txt\n");
  EXPECT_TRUE(fs::exists(w.out / "notes.txt"));
}

TEST(Check, StaleMissingAndExtraTogetherAreSortedByPath) {
  Workspace w;
  ASSERT_EQ(w.generate().code, kExitOk);
  write_file(w.out / "meson.build", "# edited by hand\n");
  fs::remove(w.out / "dispatch_sm100.cpp");
  write_file(w.out / "aaa.cu", "\n");
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitStale);
  EXPECT_EQ(r.out,
            "extra: generated/aaa.cu\n"
            "missing: generated/dispatch_sm100.cpp\n"
            "stale: generated/meson.build\n");
}

TEST(Check, AbsentOutFolderReportsEveryFileMissing) {
  Workspace w;
  const RunResult r = w.generate({"--check"});
  EXPECT_EQ(r.code, kExitStale);
  EXPECT_EQ(lines_of(r.out).size(), 19u);
  EXPECT_FALSE(fs::exists(w.out));
}

}  // namespace
}  // namespace kiln::gen::test
