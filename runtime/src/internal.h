// Library-internal entry points that the tests reach through the static library.
#pragma once

#include "kiln/detail/table.h"
#include "kiln/kiln.h"

namespace kiln::runtime {

// Plan creation once the device's arch is known and its image checked: picks the
// config set. kiln_plan_create calls it; tests call it to plan for an arch without a GPU.
// ranks: a communicator kernel's rank count (its sets are per rank count); 0 for the others.
kiln_status plan_for_arch(const kiln_plan_options* options, const char* arch, int32_t device, kiln_plan** plan,
                          int32_t ranks = 0);

// What kiln_launch passes a kernel for a plan and (checked) arguments. Tests use it to launch
// one instance of the plan's set directly, at any token count.
kiln::detail::LaunchParams launch_params(const kiln_plan& plan, const kiln_args& args);

}  // namespace kiln::runtime
