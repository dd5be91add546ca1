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
inline constexpr int kExitBadInput = 2;     // config errors, unknown kernel/arch in --explain
inline constexpr int kExitWriteFailed = 3;  // the file system refused a write

struct Options {
  std::filesystem::path configs;
  std::filesystem::path out;
  std::string configs_label = "configs/";   // how reports name the roots
  std::string out_label = "generated/";
  bool check = false;
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
