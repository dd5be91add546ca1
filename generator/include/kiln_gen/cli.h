// The kiln-gen command line, callable in-process so tests see exit codes and output.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "kiln_gen/explain.h"

namespace kiln::gen {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitStale = 1;        // --check found differences
inline constexpr int kExitBadInput = 2;     // config errors, unknown kernel/arch in --explain, refused --configs/--out
inline constexpr int kExitWriteFailed = 3;  // the file system refused a write, or another run held the lock too long

struct Options {
  std::filesystem::path configs;
  std::filesystem::path out;
  std::string configs_label = "configs/";   // how reports name the roots
  std::string out_label = "generated/";
  bool check = false;
  bool allow_empty = false;          // an empty config tree is an error unless this is set
  double lock_wait_seconds = 120;    // how long a write waits for another run on the same --out
  std::optional<ExplainQuery> explain;
};

// The repository's own configs/ and generated/ (from the build's source root).
std::filesystem::path default_configs_dir();
std::filesystem::path default_out_dir();

int run(const Options& options, std::ostream& out, std::ostream& err);

// Parses `args` (without the program name) with CLI11, then runs. Usage errors
// return CLI11's exit code.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace kiln::gen
