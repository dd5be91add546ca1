// The kernels this library knows: the registry kiln-gen writes from the kernel
// descriptors (generated/kernels.cu), with each kernel's tensors by role.
#pragma once

#include <span>
#include <string_view>

#include "kiln/detail/table.h"

namespace kiln::runtime {

using KernelInfo = detail::KernelEntry;

std::span<const KernelInfo> kernels();  // sorted by name
const KernelInfo* find_kernel(std::string_view name);

}  // namespace kiln::runtime
