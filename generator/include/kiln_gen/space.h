// The tuner's search space: every schedule of a grid that kiln-gen itself would
// accept for a hidden size. Pruning goes through check_schedule, so a candidate the
// tuner keeps is one a config file may hold, and one it drops is one kiln-gen rejects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln_gen/descriptor.h"

namespace kiln::gen {

// A parameter's values that are powers of two and lie in its domain (range, one_of,
// multiple_of), ascending: the default grid for a parameter nobody chose values for.
std::vector<int64_t> power_of_two_domain(const ParamSpec& param);

// Whether `value` lies in the parameter's domain (range, one_of, multiple_of).
bool in_domain(const ParamSpec& param, int64_t value);

struct Space {
  std::vector<Schedule> schedules;      // accepted, in lexicographic order of schema values
  std::size_t considered = 0;           // grid points inside every parameter's domain
  std::map<std::string, std::size_t> pruned;  // rule key -> points it rejected (first broken rule)
};

// The cartesian product of `values` (one list per schema parameter, schema order;
// values outside a parameter's domain are dropped) filtered by the schema's checks
// for `hidden` and `arch` (empty: no arch's limits). Throws std::invalid_argument when
// `values` has the wrong length.
Space enumerate_space(const KernelDescriptor& kernel, int64_t hidden, const std::vector<std::vector<int64_t>>& values,
                      std::string_view arch = {});

}  // namespace kiln::gen
