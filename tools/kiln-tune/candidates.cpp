#include "candidates.h"

#include <algorithm>

namespace kiln_tune {
using kiln::gen::KernelDescriptor;
using kiln::gen::ParamSpec;
using kiln::gen::Schedule;

const char* mode_name(Mode mode) { return mode == Mode::quick ? "quick" : "full"; }

std::vector<std::vector<int64_t>> grid_for(const KernelDescriptor& kernel, int64_t hidden, Mode mode,
                                           const GridOverrides& overrides) {
  std::vector<std::vector<int64_t>> grid;
  for (const ParamSpec& p : kernel.params) {
    const std::string name(p.name);
    if (auto o = overrides.find(name); o != overrides.end()) {
      grid.push_back(o->second);
      continue;
    }
    std::vector<int64_t> values = mode == Mode::quick ? p.quick : p.full;
    if (values.empty()) {
      values = kiln::gen::power_of_two_domain(p);
      if (mode == Mode::quick && values.size() > 4) values.resize(4);
    } else if (p.multiple_of > 1) {
      // A stepped parameter (threads: multiples of 32) also gets the steps inside the
      // grid's range that divide the hidden size: 160 and 320 threads tile 5120.
      const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
      const int64_t first = *lo, last = *hi;
      for (int64_t v = first; v <= last; v += p.multiple_of)
        if (v % p.multiple_of == 0 && hidden % v == 0 && kiln::gen::in_domain(p, v)) values.push_back(v);
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
    }
    grid.push_back(values);
  }
  return grid;
}

std::optional<std::string> check_overrides(const std::vector<const KernelDescriptor*>& kernels,
                                           const GridOverrides& overrides) {
  for (const auto& [name, values] : overrides) {
    bool found = false;
    for (const KernelDescriptor* k : kernels) found = found || k->find_param(name) != nullptr;
    if (!found) return "--grid " + name + ": no such schedule parameter in the selected kernels";
    if (values.empty()) return "--grid " + name + ": no values";
  }
  return std::nullopt;
}

CandidateSet make_candidates(const KernelDescriptor& kernel, const std::string& arch, int64_t hidden, Mode mode,
                             const GridOverrides& overrides) {
  CandidateSet set;
  set.kernel = &kernel;
  set.arch = arch;
  set.hidden = hidden;
  kiln::gen::Space space =
      kiln::gen::enumerate_space(kernel, hidden, grid_for(kernel, hidden, mode, overrides), arch);
  set.considered = space.considered;
  set.pruned = space.pruned;
  set.schedules = std::move(space.schedules);
  set.grid = set.schedules.size();
  return set;
}

int add_candidate(CandidateSet& set, const Schedule& schedule) {
  auto found = std::find(set.schedules.begin(), set.schedules.end(), schedule);
  if (found == set.schedules.end()) found = set.schedules.insert(set.schedules.end(), schedule);
  return static_cast<int>(found - set.schedules.begin());
}

std::vector<int64_t> simplicity_key(const Schedule& schedule) {
  // work: the CTA's unit of work; structure: how far rows, clusters, column
  // iterations (anything but threads and vec) are from 1.
  int64_t work = 1, structure = 0, vec = 1;
  for (std::size_t i = 0; i < schedule.values.size(); ++i) {
    const std::string_view name = schedule.kernel->params[i].name;
    const int64_t v = schedule.values[i];
    if (schedule.kernel->params[i].default_value) {  // a switch: away from its default is structure
      structure += schedule.kernel->params[i].at_default(v) ? 0 : 1;
      continue;
    }
    if (name == "vec") {
      vec = v;
      continue;
    }
    work *= v;
    if (name != "threads")
      for (int64_t x = v; x > 1; x /= 2) ++structure;
  }
  std::vector<int64_t> key = {work, structure, -vec};
  key.insert(key.end(), schedule.values.begin(), schedule.values.end());
  return key;
}

}  // namespace kiln_tune
