// --explain: the bucket rule applied to a config set, and loud misses.
// Fixture sets: rms_norm_fp8/sm90/4096 has thresholds 8 and 64; rms_norm_fp8/sm90/2048
// has 1, 2, 4, 16 with bs4 sharing bs1's instance; the communicator kernel
// allreduce_add_rms_norm has sm90/4096/tp2 with 1, 8, 512 (bs8 sharing bs1's instance),
// allreduce_add_rms_norm_fp8 has sm100/2048/tp4 with 1.
#include <gtest/gtest.h>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

RunResult explain_run(const std::string& kernel, const std::string& arch, int64_t hidden, int64_t tokens) {
  return run_gen({"--configs", fixture_configs().string(), "--explain", kernel, "--arch", arch, "--hidden",
                  std::to_string(hidden), "--tokens", std::to_string(tokens)});
}

RunResult explain_ranks(const std::string& kernel, const std::string& arch, int64_t hidden, int64_t tokens,
                        const std::string& ranks) {
  return run_gen({"--configs", fixture_configs().string(), "--explain", kernel, "--arch", arch, "--hidden",
                  std::to_string(hidden), "--tokens", std::to_string(tokens), "--ranks", ranks});
}

std::string chosen_line(const RunResult& r) {
  for (const std::string& line : lines_of(r.out))
    if (line.starts_with("chosen:")) return line;
  return "(no chosen: line in)\n" + r.out + r.err;
}

TEST(Explain, TokensOnAThresholdPickItWithTheWholeStory) {
  const RunResult r = explain_run("rms_norm_fp8", "sm90", 4096, 64);
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out,
            "rms_norm_fp8 on sm90, hidden=4096, tokens=64\n"
            "config set:  configs/rms_norm_fp8/sm90/4096/\n"
            "thresholds:  8, 64\n"
            "chosen:      bs64 (tokens=64 is a threshold)\n"
            "config file: configs/rms_norm_fp8/sm90/4096/bs64.json\n"
            "instance:    rms_norm_fp8_sm90_h4096_bs64\n"
            "schedule:    threads=512 vec=8 rows_per_cta=2 cluster=1\n");
  EXPECT_EQ(r.err, "");
}

TEST(Explain, TokensBetweenThresholdsRoundDown) {
  EXPECT_EQ(chosen_line(explain_run("rms_norm_fp8", "sm90", 4096, 63)),
            "chosen:      bs8 (the largest threshold <= tokens=63)");
}

TEST(Explain, TokensBelowTheSmallestThresholdUseTheSmallest) {
  EXPECT_EQ(chosen_line(explain_run("rms_norm_fp8", "sm90", 4096, 3)),
            "chosen:      bs8 (tokens=3 is below the smallest threshold, which is used)");
}

TEST(Explain, TokensAboveTheLargestThresholdUseTheLargest) {
  EXPECT_EQ(chosen_line(explain_run("rms_norm_fp8", "sm90", 4096, 1000000)),
            "chosen:      bs64 (the largest threshold <= tokens=1000000)");
}

TEST(Explain, SharedInstanceIsNamedWithTheRowsOwnConfig) {
  const RunResult r = explain_run("rms_norm_fp8", "sm90", 2048, 5);
  EXPECT_NE(r.out.find("config file: configs/rms_norm_fp8/sm90/2048/bs4.json\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("instance:    rms_norm_fp8_sm90_h2048_bs1 (bs4 shares bs1's identical schedule)\n"),
            std::string::npos)
      << r.out;
}

TEST(Explain, ZeroTokensLaunchNothing) {
  const RunResult r = explain_run("silu_mul_fp8", "sm90", 5120, 0);
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(chosen_line(r), "chosen:      none: tokens=0 launches nothing (and succeeds)");
  EXPECT_EQ(r.out.find("instance:"), std::string::npos);
}

TEST(Explain, MissingSetNamesWhatExistsAndTheGenericKernel) {
  const RunResult r = explain_run("rms_norm_fp8", "sm90", 5000, 7);
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "no rms_norm_fp8 set for sm90 hidden=5000; have 2048, 4096 — the generic kernel runs\n");
}

TEST(Explain, ArchWithoutSetsSaysHaveNone) {
  const RunResult r = explain_run("silu_mul_fp8", "sm80", 2048, 7);
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "no silu_mul_fp8 set for sm80 hidden=2048; have none — the generic kernel runs\n");
}

TEST(Explain, UnknownKernelExitsTwoListingKnownKernels) {
  const RunResult r = explain_run("gelu_fp8", "sm90", 4096, 1);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_EQ(r.err, "kiln-gen: --explain: unknown kernel 'gelu_fp8'; known: allreduce_add_rms_norm, allreduce_add_rms_norm_fp8, fused_add_rms_norm, fused_add_rms_norm_fp8, fused_add_rms_norm_group_fp8, fused_add_rms_norm_per_token_fp8, per_token_fp8, per_token_group_fp8, rms_norm, rms_norm_fp8, rms_norm_group_fp8, rms_norm_per_token_fp8, silu_mul_fp8, silu_mul_group_fp8\n");
  EXPECT_EQ(r.out, "");
}

// --- communicator kernels: --ranks picks the tp<R> set ----------------------------

TEST(Explain, CommunicatorKernelWithRanksExplainsItsTpSet) {
  const RunResult r = explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 100, "2");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "allreduce_add_rms_norm on sm90, hidden=4096, ranks=2, tokens=100\n"
            "config set:  configs/allreduce_add_rms_norm/sm90/4096/tp2/\n"
            "thresholds:  1, 8, 512\n"
            "chosen:      bs8 (the largest threshold <= tokens=100)\n"
            "config file: configs/allreduce_add_rms_norm/sm90/4096/tp2/bs8.json\n"
            "instance:    allreduce_add_rms_norm_sm90_h4096_tp2_bs1 (bs8 shares bs1's identical schedule)\n"
            "schedule:    threads=512 vec=8 two_shot=0\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(chosen_line(explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 512, "2")),
            "chosen:      bs512 (tokens=512 is a threshold)");
  EXPECT_EQ(chosen_line(explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 0, "2")),
            "chosen:      none: tokens=0 launches nothing (and succeeds)");
  const RunResult fp8 = explain_ranks("allreduce_add_rms_norm_fp8", "sm100", 2048, 3, "4");
  EXPECT_EQ(fp8.code, kExitOk) << fp8.err;
  EXPECT_NE(fp8.out.find("config set:  configs/allreduce_add_rms_norm_fp8/sm100/2048/tp4/\n"), std::string::npos) << fp8.out;
  EXPECT_NE(fp8.out.find("instance:    allreduce_add_rms_norm_fp8_sm100_h2048_tp4_bs1\n"), std::string::npos) << fp8.out;
}

// Another rank count is another set: tp2's sets do not serve ranks=4.
TEST(Explain, CommunicatorKernelWithoutASetForItsRankCountSaysSo) {
  const RunResult r = explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 7, "4");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "no allreduce_add_rms_norm set for sm90 hidden=4096 ranks=4; have none — the generic kernel runs\n");
  const RunResult h = explain_ranks("allreduce_add_rms_norm", "sm90", 8192, 7, "2");
  EXPECT_EQ(h.out, "no allreduce_add_rms_norm set for sm90 hidden=8192 ranks=2; have 4096 — the generic kernel runs\n");
}

TEST(Explain, CommunicatorKernelWithoutRanksOrWithRanksOutOfRangeExitsTwo) {
  const std::string want =
      "kiln-gen: --explain allreduce_add_rms_norm sums over a communicator: give --ranks R, R from 2 to 8\n";
  const RunResult none = explain_run("allreduce_add_rms_norm", "sm90", 4096, 1);
  EXPECT_EQ(none.code, kExitBadInput);
  EXPECT_EQ(none.err, want);
  EXPECT_EQ(none.out, "");
  for (const char* ranks : {"1", "9", "64"}) {
    const RunResult r = explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 1, ranks);
    EXPECT_EQ(r.code, kExitBadInput) << ranks;
    EXPECT_EQ(r.err, want) << ranks;
    EXPECT_EQ(r.out, "") << ranks;
  }
  // Not a count at all: CLI11 refuses it before kiln-gen looks.
  for (const char* ranks : {"0", "-2", "two"})
    EXPECT_NE(explain_ranks("allreduce_add_rms_norm", "sm90", 4096, 1, ranks).code, kExitOk) << ranks;
}

TEST(Explain, RanksForAKernelWithoutACommunicatorExitsTwo) {
  const RunResult r = explain_ranks("rms_norm_fp8", "sm90", 4096, 64, "2");
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_EQ(r.err, "kiln-gen: --ranks: rms_norm_fp8 has no communicator\n");
  EXPECT_EQ(r.out, "");
}

TEST(Explain, UnknownArchExitsTwoListingKnownArchs) {
  const RunResult r = explain_run("rms_norm_fp8", "sm91", 4096, 1);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_EQ(r.err, "kiln-gen: --arch: unknown arch 'sm91'; known: sm80, sm86, sm89, sm90, sm100, sm103, sm120\n");
}

TEST(Explain, BrokenConfigsExitTwoInsteadOfAnswering) {
  const RunResult r = run_gen({"--configs", (broken_dir() / "zero_threshold/configs").string(), "--explain",
                               "rms_norm_fp8", "--arch", "sm90", "--hidden", "4096", "--tokens", "1"});
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_NE(r.err.find("bs0.json"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace kiln::gen::test
