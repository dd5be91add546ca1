// Small host utilities of kiln-tune: content hashing, files, child processes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kiln_tune {

// FNV-1a, 64 bits: stable across runs and machines (std::hash is not).
class Hash {
 public:
  Hash& add(std::string_view bytes);
  Hash& add(int64_t value) { return add(std::to_string(value) + ";"); }
  uint64_t value() const { return h_; }
  std::string hex() const;  // 16 hex digits

 private:
  uint64_t h_ = 1469598103934665603ull;
};

std::string read_file(const std::filesystem::path& path);  // throws when unreadable

// Writes `text` next to `path` under a temporary name, flushes it to disk and renames
// it over `path`, with SIGINT/SIGTERM/SIGHUP held back meanwhile: the file is either
// the old one or the new one, never half written. Creates missing parent folders.
void write_file_atomic(const std::filesystem::path& path, std::string_view text);
// The temporary name write_file_atomic uses for `path` (a dot file beside it).
std::filesystem::path temp_name_for(const std::filesystem::path& path);

// Runs argv[0] (searched in PATH when it has no slash) with stdin from /dev/null and
// stdout + stderr into `log` (or inherited when empty); waits. Returns the exit code,
// or 128 + signal, or -1 when it could not start.
int run_command(const std::vector<std::string>& argv, const std::filesystem::path& log = {});
// Same, returning what it printed on stdout (stderr discarded); nothing when it failed.
bool capture_command(const std::vector<std::string>& argv, std::string& out);

// "a, b, c".
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");
std::string join_ints(const std::vector<int64_t>& values, std::string_view separator = ",");

// The path of the running executable (/proc/self/exe).
std::filesystem::path self_exe();

}  // namespace kiln_tune
