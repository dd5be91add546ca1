// The command line: help, usage errors with CLI11's codes, and the real kiln-gen
// binary's exit statuses.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

TEST(Cli, HelpListsEveryOptionAndExitsZero) {
  const RunResult r = run_gen({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* option :
       {"--configs", "--out", "--check", "--explain", "--arch", "--hidden", "--tokens", "--ranks", "Exit codes"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
}

TEST(Cli, ExplainWithoutItsArgumentsIsAUsageError) {
  const RunResult r = run_gen({"--explain", "rms_norm_fp8", "--arch", "sm90"});
  EXPECT_EQ(r.code, static_cast<int>(CLI::ExitCodes::RequiresError));
  EXPECT_NE(r.err.find("--explain requires --hidden"), std::string::npos) << r.err;
}

TEST(Cli, ArchWithoutExplainIsAUsageError) {
  EXPECT_EQ(run_gen({"--arch", "sm90"}).code, static_cast<int>(CLI::ExitCodes::RequiresError));
}

TEST(Cli, RanksWithoutExplainIsAUsageError) {
  const RunResult r = run_gen({"--ranks", "2"});
  EXPECT_EQ(r.code, static_cast<int>(CLI::ExitCodes::RequiresError));
  EXPECT_NE(r.err.find("--ranks requires --explain"), std::string::npos) << r.err;
}

TEST(Cli, CheckAndExplainExcludeEachOther) {
  const RunResult r = run_gen({"--check", "--explain", "rms_norm_fp8", "--arch", "sm90", "--hidden", "1", "--tokens", "1"});
  EXPECT_EQ(r.code, static_cast<int>(CLI::ExitCodes::ExcludesError));
}

TEST(Cli, NegativeTokensAndZeroHiddenAreRejected) {
  const std::vector<std::string> base = {"--explain", "rms_norm_fp8", "--arch", "sm90"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_gen(args).code;
  };
  EXPECT_EQ(with({"--hidden", "4096", "--tokens", "-1"}), static_cast<int>(CLI::ExitCodes::ValidationError));
  EXPECT_EQ(with({"--hidden", "0", "--tokens", "1"}), static_cast<int>(CLI::ExitCodes::ValidationError));
  EXPECT_NE(with({"--hidden", "4k", "--tokens", "1"}), 0);
}

TEST(Cli, UnknownOptionIsAUsageError) {
  EXPECT_EQ(run_gen({"--frobnicate"}).code, static_cast<int>(CLI::ExitCodes::ExtrasError));
}

// --- the installed binary, as CI and people run it ---------------------------------

struct ProcessResult {
  int status = -1;
  std::string output;
};

ProcessResult run_binary(const std::string& args) {
  const char* exe = std::getenv("KILN_GEN_EXE");
  if (!exe) {
    ADD_FAILURE() << "KILN_GEN_EXE is not set: run through `meson test`";
    return {};
  }
  ProcessResult result;
  FILE* pipe = popen(("'" + std::string(exe) + "' " + args + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

TEST(Binary, ExitCodesZeroOneTwo) {
  TempDir tmp;
  const std::string configs = "--configs " + quoted(fixture_configs());
  const std::string out = " --out " + quoted(tmp / "generated");
  EXPECT_EQ(run_binary(configs + out).status, kExitOk);
  EXPECT_EQ(run_binary(configs + out + " --check").status, kExitOk);
  write_file(tmp / "generated/extra.txt", "x\n");
  const ProcessResult stale = run_binary(configs + out + " --check");
  EXPECT_EQ(stale.status, kExitStale);
  EXPECT_NE(stale.output.find("extra: " + (tmp / "generated/extra.txt").string()), std::string::npos) << stale.output;
  const fs::path given = broken_dir() / "several_errors/configs";
  const ProcessResult broken = run_binary("--configs " + quoted(given) + out);
  EXPECT_EQ(broken.status, kExitBadInput);
  // Reports name files under the root as given, so a path can be pasted back.
  EXPECT_NE(broken.output.find("kiln-gen: 11 problems in " + given.string() + "/; " + (tmp / "generated").string() +
                               "/ left unchanged"),
            std::string::npos)
      << broken.output;
  EXPECT_NE(broken.output.find(given.string() + "/rms_norm_fp8/sm90/4096/bs2.json: schedule.vec = 3"), std::string::npos)
      << broken.output;
  EXPECT_EQ(broken.output.find("\nconfigs/"), std::string::npos) << broken.output;
  // A trailing slash (or several) is not doubled.
  const ProcessResult slashed = run_binary("--configs '" + given.string() + "//'" + out);
  EXPECT_NE(slashed.output.find(given.string() + "/gelu_fp8: kernel = gelu_fp8"), std::string::npos) << slashed.output;
}

TEST(Binary, HelpExitsZero) {
  const ProcessResult r = run_binary("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--explain KERNEL"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kiln::gen::test
