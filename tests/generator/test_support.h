// Shared helpers for the generator tests: fixture locations, temporary folders,
// in-process kiln-gen runs and tree snapshots.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln_gen/output.h"
#include "kiln_gen/plan.h"
#include "kiln_gen/validate.h"

namespace kiln::gen::test {

namespace fs = std::filesystem;

// tests/generator in the source tree (KILN_GEN_TEST_DIR, set by tests/generator/meson.build).
fs::path test_dir();
fs::path fixture_configs();  // tests/generator/fixtures/configs
fs::path fixture_golden();   // tests/generator/fixtures/golden
fs::path broken_dir();       // tests/generator/broken

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& content);
std::string read_file(const fs::path& path);
void copy_tree(const fs::path& from, const fs::path& to);

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};
RunResult run_gen(const std::vector<std::string>& args);

// generated/meson.build's `kiln_kernel_leave_out` block: every kernel of the descriptors with
// its leave-out macro. The expected texts use it rather than spell out every kernel's name.
std::string meson_kernel_block();

// Content and modification time of every file under a folder.
struct FileState {
  std::string content;
  fs::file_time_type mtime;
  bool operator==(const FileState&) const = default;
};
std::map<std::string, FileState> snapshot(const fs::path& root);
// Sets every file's modification time to one hour ago, so a rewrite shows.
void age_files(const fs::path& root);

// load -> validate -> plan -> emit, in memory; fails the test on config errors.
Validated validate_dir(const fs::path& configs);
Plan plan_dir(const fs::path& configs);
FileMap emit_dir(const fs::path& configs);

// A config file's text for a schedule.
std::string config_text(const nlohmann::json& schedule);

std::vector<std::string> lines_of(const std::string& text);

// `text` with every "<root>/" removed: reports name the paths they were given, and a
// test reads them relative to its temporary folder.
std::string relative_to(std::string text, const fs::path& root);

}  // namespace kiln::gen::test
