// Validation of one config file's JSON against its kernel's schema.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln_gen/diagnostic.h"
#include "kiln_gen/descriptor.h"

namespace kiln::gen {

struct ScheduleCheck {
  std::optional<Schedule> schedule;  // set only when there are no issues
  std::vector<Issue> issues;
};

// The "schedule" object alone: keys, types, ranges, what `arch` can run (ParamSpec::needs_sm;
// an empty arch: no arch's limits), then the cross-checks.
ScheduleCheck check_schedule(const KernelDescriptor& kernel, const nlohmann::json& schedule, int64_t hidden,
                             std::string_view arch = {});

// A whole config file's text: JSON syntax (with line and column), duplicate keys,
// top-level keys, "tuning", then the schedule.
ScheduleCheck check_config_text(const KernelDescriptor& kernel, std::string_view text, int64_t hidden,
                                std::string_view arch = {});

// How a JSON value is shown in a report: compact, cut short when long.
std::string render_value(const nlohmann::json& value);

}  // namespace kiln::gen
