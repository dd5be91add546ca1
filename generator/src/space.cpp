#include "kiln_gen/space.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "kiln_gen/config_file.h"

namespace kiln::gen {

bool in_domain(const ParamSpec& param, int64_t value) {
  if (value < param.min || value > param.max || value % param.multiple_of != 0) return false;
  return param.one_of.empty() || std::find(param.one_of.begin(), param.one_of.end(), value) != param.one_of.end();
}

std::vector<int64_t> power_of_two_domain(const ParamSpec& param) {
  std::vector<int64_t> out;
  for (int64_t v = 1; v > 0 && v <= param.max; v *= 2)
    if (in_domain(param, v)) out.push_back(v);
  return out;
}

Space enumerate_space(const KernelDescriptor& kernel, int64_t hidden, const std::vector<std::vector<int64_t>>& values,
                      std::string_view arch) {
  if (values.size() != kernel.params.size())
    throw std::invalid_argument("enumerate_space: " + std::to_string(values.size()) + " value lists for " +
                                std::string(kernel.name) + "'s " + std::to_string(kernel.params.size()) + " parameters");
  // Each axis sorted, deduplicated and cut to the parameter's domain.
  std::vector<std::vector<int64_t>> axes(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (int64_t v : values[i])
      if (in_domain(kernel.params[i], v)) axes[i].push_back(v);
    std::sort(axes[i].begin(), axes[i].end());
    axes[i].erase(std::unique(axes[i].begin(), axes[i].end()), axes[i].end());
  }
  Space space;
  for (const auto& axis : axes)
    if (axis.empty()) return space;

  // Odometer over the axes; the last parameter moves fastest (lexicographic order).
  std::vector<std::size_t> at(axes.size(), 0);
  for (;;) {
    nlohmann::json schedule = nlohmann::json::object();
    for (std::size_t i = 0; i < axes.size(); ++i) schedule[std::string(kernel.params[i].name)] = axes[i][at[i]];
    ++space.considered;
    // kiln-gen's own validation: the space is exactly what a config file may hold.
    ScheduleCheck check = check_schedule(kernel, schedule, hidden, arch);
    if (check.schedule) space.schedules.push_back(std::move(*check.schedule));
    else ++space.pruned[check.issues.empty() ? "?" : check.issues.front().key];

    std::size_t i = axes.size();
    while (i > 0 && ++at[i - 1] == axes[i - 1].size()) at[--i] = 0;
    if (i == 0) break;
  }
  return space;
}

}  // namespace kiln::gen
