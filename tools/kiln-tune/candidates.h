// The candidates of one (kernel, hidden size): the grid of the kernel's descriptor for
// the mode (ParamSpec::quick / full, generator/src/kernels.cpp), cut by its schema
// through kiln-gen's own validation (generator/src/space.cpp), then by what the target
// arch can launch. Every candidate is one a config file may hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiln_gen/descriptor.h"
#include "kiln_gen/space.h"

namespace kiln_tune {

enum class Mode { quick, full };
const char* mode_name(Mode mode);

// --grid name=v1,v2,...: a parameter's values, replacing the mode's.
using GridOverrides = std::map<std::string, std::vector<int64_t>>;

// The grid of `mode` for each schema parameter (schema order), overrides applied: the
// descriptor's ParamSpec::quick or ::full values, plus, for a stepped parameter
// (threads: multiples of 32), the multiples of its step in that range that divide
// `hidden`. A parameter whose descriptor gives no grid gets its schema domain's powers
// of two (quick: the smallest four).
std::vector<std::vector<int64_t>> grid_for(const kiln::gen::KernelDescriptor& kernel, int64_t hidden, Mode mode,
                                           const GridOverrides& overrides);

// An override that names no parameter of any of `kernels`, or nothing.
std::optional<std::string> check_overrides(const std::vector<const kiln::gen::KernelDescriptor*>& kernels,
                                           const GridOverrides& overrides);

struct CandidateSet {
  const kiln::gen::KernelDescriptor* kernel = nullptr;
  std::string arch;
  int64_t hidden = 0;
  std::vector<kiln::gen::Schedule> schedules;  // what gets compiled, checked and timed
  std::size_t considered = 0;                  // grid points in the parameters' domains
  std::map<std::string, std::size_t> pruned;   // rule -> points dropped before compiling
  std::size_t grid = 0;                        // schedules[0, grid) are the grid's; the rest are
                                               // incumbents it lacks, each raced in its own pair only
  bool from_grid(int c) const { return static_cast<std::size_t>(c) < grid; }
};

CandidateSet make_candidates(const kiln::gen::KernelDescriptor& kernel, const std::string& arch, int64_t hidden, Mode mode,
                             const GridOverrides& overrides);

// The index of `schedule` (an incumbent) in the set, appended when the grid lacks it.
int add_candidate(CandidateSet& set, const kiln::gen::Schedule& schedule);

// Orders schedules from simple to elaborate, for ties: a smaller unit of work
// (threads x rows_per_cta x cluster x col_iters) first, then rows/cluster/col_iters
// nearer 1, then wider vectors, then schema order.
std::vector<int64_t> simplicity_key(const kiln::gen::Schedule& schedule);

}  // namespace kiln_tune
