// What the generated typed entry points (generated/entry_points.cpp) call.
#pragma once

#include "kiln/kiln.h"

namespace kiln::runtime {

// kiln_launch, once the plan is known to be for `kernel` (a typed entry point given
// another kernel's plan gets KILN_ERROR_INVALID_ARGUMENT, never a launch).
kiln_status launch_as(const kiln_plan* plan, const char* kernel, const kiln_args* args, void* stream);

}  // namespace kiln::runtime
