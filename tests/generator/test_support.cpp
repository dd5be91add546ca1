#include "test_support.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "kiln_gen/cli.h"
#include "kiln_gen/emit.h"
#include "kiln_gen/descriptor.h"
#include "kiln_gen/names.h"
#include "kiln_gen/source_tree.h"

namespace kiln::gen::test {

fs::path test_dir() {
  const char* dir = std::getenv("KILN_GEN_TEST_DIR");
  if (!dir) {
    ADD_FAILURE() << "KILN_GEN_TEST_DIR is not set: run through `meson test`, or set it to tests/generator";
    return {};
  }
  return dir;
}

std::string meson_kernel_block() {
  std::string block = "# Every kernel, for -Dkernels=, with the macro that leaves its rows out of the dispatch tables.\n"
                      "kiln_kernel_leave_out = {\n";
  for (const KernelDescriptor& k : kernel_descriptors())
    block += "  '" + std::string(k.name) + "': '" + leave_out_macro(k.name) + "',\n";
  return block + "}\n";
}

fs::path fixture_configs() { return test_dir() / "fixtures" / "configs"; }
fs::path fixture_golden() { return test_dir() / "fixtures" / "golden"; }
fs::path broken_dir() { return test_dir() / "broken"; }

TempDir::TempDir() {
  std::random_device seed;
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = fs::temp_directory_path() / ("kiln-gen-test-" + std::to_string(stamp) + "-" + std::to_string(seed()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
  fs::remove_all(fs::path(path_.string() + ".kiln-tmp"), ignored);
}

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

RunResult run_gen(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  RunResult result;
  result.code = run_cli(args, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

std::map<std::string, FileState> snapshot(const fs::path& root) {
  std::map<std::string, FileState> files;
  if (!fs::exists(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file())
      files[entry.path().lexically_relative(root).generic_string()] = {read_file(entry.path()),
                                                                        fs::last_write_time(entry.path())};
  return files;
}

void age_files(const fs::path& root) {
  const auto past = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) fs::last_write_time(entry.path(), past);
}

Validated validate_dir(const fs::path& configs) {
  Validated v = validate_tree(load_tree(configs));
  for (const Diagnostic& d : v.errors) ADD_FAILURE() << "unexpected config error: " << d.line();
  return v;
}

Plan plan_dir(const fs::path& configs) { return make_plan(validate_dir(configs).sets); }

FileMap emit_dir(const fs::path& configs) { return emit_all(plan_dir(configs)); }

std::string config_text(const nlohmann::json& schedule) {
  return nlohmann::json{{"schedule", schedule}}.dump(2) + "\n";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string relative_to(std::string text, const fs::path& root) {
  const std::string prefix = root.string() + "/";
  for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at)) text.erase(at, prefix.size());
  return text;
}

}  // namespace kiln::gen::test
