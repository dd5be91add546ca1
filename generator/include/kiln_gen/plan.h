// Plan stage: which instances to emit and which table rows point at them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln_gen/descriptor.h"
#include "kiln_gen/validate.h"

namespace kiln::gen {

// One generated kernel instance: a unique schedule within a config set, named
// after the lowest threshold that uses it.
struct Instance {
  std::string name;
  const KernelDescriptor* kernel = nullptr;
  std::string arch;
  int64_t hidden = 0;
  int64_t threshold = 0;
  Schedule schedule;
  std::vector<std::string> configs;  // every config file using it, by threshold
  int64_t ranks = 0;  // communicator kernels: the communicator size (the tp<R> folder); 0 for the others
};

// One dispatch-table row: a config file and the instance that runs for it.
struct Row {
  const KernelDescriptor* kernel = nullptr;
  int64_t hidden = 0;
  int64_t threshold = 0;
  std::string config;
  std::string instance;
  int64_t instance_threshold = 0;  // != threshold when the row shares another's instance
  Schedule schedule;
  int64_t ranks = 0;  // communicator kernels: the communicator size; 0 for the others
};

struct ArchPlan {
  std::string arch;
  std::vector<Instance> instances;  // sorted by kernel, hidden, ranks, threshold
  std::vector<Row> rows;            // sorted by kernel, hidden, ranks, threshold
};

struct Plan {
  std::vector<ArchPlan> archs;  // sorted by arch name
};

Plan make_plan(const std::vector<ConfigSet>& sets);

}  // namespace kiln::gen
