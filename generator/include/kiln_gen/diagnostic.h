// One reported problem in the config tree: "<path>: <key> = <value>: <rule>".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::gen {

// Text echoed from outside (file names, JSON keys and values) made safe for one report
// line: control characters and DEL become \xNN, and text longer than max_bytes is cut
// with "..." (never inside a UTF-8 sequence), so nothing read can forge or flood a line.
std::string escape_text(std::string_view text, std::size_t max_bytes = 200);

// Field bounds of a report line.
inline constexpr std::size_t kMaxPathBytes = 600;
inline constexpr std::size_t kMaxKeyBytes = 120;
inline constexpr std::size_t kMaxValueBytes = 120;
inline constexpr std::size_t kMaxRuleBytes = 600;

struct Diagnostic {
  std::string path;   // "configs/rms_norm_fp8/sm90/4096/bs32.json"
  std::string key;    // "schedule.vec", "file name", "folder", ...
  std::string value;  // "3", "\"8\"", "(missing)", ...
  std::string rule;   // "must be one of 1, 2, 4, 8"

  std::string line() const {
    return escape_text(path, kMaxPathBytes) + ": " + escape_text(key, kMaxKeyBytes) + " = " +
           escape_text(value, kMaxValueBytes) + ": " + escape_text(rule, kMaxRuleBytes);
  }
};

// A problem found inside one config file, before the file's path is known.
struct Issue {
  std::string key;
  std::string value;
  std::string rule;
};

// The report order: sorted lines, so a run's output does not depend on walk order.
std::vector<std::string> sorted_lines(const std::vector<Diagnostic>& diagnostics);

}  // namespace kiln::gen
