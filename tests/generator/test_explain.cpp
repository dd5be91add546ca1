// --explain: the bucket rule applied to a config set, and loud misses.
// Fixture sets: rms_norm_fp8/sm90/4096 has thresholds 8 and 64; rms_norm_fp8/sm90/2048
// has 1, 2, 4, 16 with bs4 sharing bs1's instance.
#include <gtest/gtest.h>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

RunResult explain_run(const std::string& kernel, const std::string& arch, int64_t hidden, int64_t tokens) {
  return run_gen({"--configs", fixture_configs().string(), "--explain", kernel, "--arch", arch, "--hidden",
                  std::to_string(hidden), "--tokens", std::to_string(tokens)});
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
  EXPECT_EQ(r.err, "kiln-gen: --explain: unknown kernel 'gelu_fp8'; known: fused_add_rms_norm, fused_add_rms_norm_fp8, fused_add_rms_norm_per_token_fp8, per_token_fp8, rms_norm, rms_norm_fp8, rms_norm_per_token_fp8, silu_mul_fp8\n");
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
