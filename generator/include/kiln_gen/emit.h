// Emit stage: a plan becomes file contents. No file system access here.
#pragma once

#include <map>
#include <string>

#include "kiln_gen/plan.h"

namespace kiln::gen {

std::string emit_instance(const Instance& instance);
std::string emit_dispatch(const ArchPlan& arch);
std::string emit_meson(const Plan& plan);

// Every file of generated/, keyed by its path relative to generated/.
std::map<std::string, std::string> emit_all(const Plan& plan);

}  // namespace kiln::gen
