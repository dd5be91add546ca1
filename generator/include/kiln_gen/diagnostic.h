// One reported problem in the config tree: "<path>: <key> = <value>: <rule>".
#pragma once

#include <string>
#include <vector>

namespace kiln::gen {

struct Diagnostic {
  std::string path;   // "configs/rms_norm_fp8/sm90/4096/bs32.json"
  std::string key;    // "schedule.vec", "file name", "folder", ...
  std::string value;  // "3", "\"8\"", "(missing)", ...
  std::string rule;   // "must be one of 1, 2, 4, 8"

  std::string line() const { return path + ": " + key + " = " + value + ": " + rule; }
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
