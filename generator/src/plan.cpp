#include "kiln_gen/plan.h"

#include <map>

#include "kiln_gen/names.h"

namespace kiln::gen {
namespace {

// Adds a set's instances and rows: thresholds with identical schedules, adjacent
// or not, share the instance of the lowest of them (entries arrive sorted).
void plan_set(const ConfigSet& set, ArchPlan& arch) {
  std::vector<std::size_t> set_instances;  // indices into arch.instances
  for (const ConfigEntry& entry : set.entries) {
    Instance* owner = nullptr;
    for (std::size_t i : set_instances)
      if (arch.instances[i].schedule == entry.schedule) owner = &arch.instances[i];
    if (!owner) {
      set_instances.push_back(arch.instances.size());
      owner = &arch.instances.emplace_back(Instance{
          instance_name(set.kernel->name, set.arch, set.hidden, entry.threshold, set.ranks), set.kernel, set.arch,
          set.hidden, entry.threshold, entry.schedule, {}, set.ranks});
    }
    owner->configs.push_back(entry.path);
    arch.rows.push_back(
        Row{set.kernel, set.hidden, entry.threshold, entry.path, owner->name, owner->threshold, entry.schedule,
            set.ranks});
  }
}

}  // namespace

Plan make_plan(const std::vector<ConfigSet>& sets) {
  // Sets arrive sorted by kernel, arch, hidden, ranks; grouping by arch keeps that order.
  std::map<std::string, ArchPlan> by_arch;
  for (const ConfigSet& set : sets) {
    ArchPlan& arch = by_arch[set.arch];
    arch.arch = set.arch;
    plan_set(set, arch);
  }
  Plan plan;
  for (auto& [name, arch] : by_arch) plan.archs.push_back(std::move(arch));
  return plan;
}

}  // namespace kiln::gen
