// Validate stage: a loaded tree becomes typed config sets, or a list of problems.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln_gen/diagnostic.h"
#include "kiln_gen/descriptor.h"
#include "kiln_gen/source_tree.h"

namespace kiln::gen {

struct ConfigEntry {
  int64_t threshold = 0;
  std::string path;  // "configs/rms_norm_fp8/sm90/4096/bs32.json"
  Schedule schedule;
};

struct ConfigSet {
  const KernelDescriptor* kernel = nullptr;
  std::string arch;
  int64_t hidden = 0;
  int64_t ranks = 0;                 // communicator kernels: the tp<R> folder's R; 0 for the others
  std::vector<ConfigEntry> entries;  // sorted by threshold
};

struct Validated {
  std::vector<ConfigSet> sets;      // sorted by kernel, arch, hidden, ranks
  std::vector<Diagnostic> errors;   // empty when the tree is usable
};

Validated validate_tree(const SourceTree& tree);

}  // namespace kiln::gen
