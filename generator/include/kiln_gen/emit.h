// Emit stage: a plan becomes file contents. No file system access here.
#pragma once

#include <map>
#include <span>
#include <string>

#include "kiln_gen/plan.h"

namespace kiln::gen {

std::string emit_instance(const Instance& instance);
std::string emit_dispatch(const ArchPlan& arch);
std::string emit_meson(const Plan& plan);
// From the descriptors alone: the runtime's kernel registry (kernels.cu), the typed
// entry points (entry_points.cpp, include/kiln/kernels.h) and the kernel list (kernels.json).
std::string emit_registry(std::span<const KernelDescriptor> kernels);
std::string emit_entry_points(std::span<const KernelDescriptor> kernels);
std::string emit_entry_header(std::span<const KernelDescriptor> kernels);
std::string emit_kernel_list(std::span<const KernelDescriptor> kernels);

// Every file of generated/, keyed by its path relative to generated/.
std::map<std::string, std::string> emit_all(const Plan& plan);

}  // namespace kiln::gen
