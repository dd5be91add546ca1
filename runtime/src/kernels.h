// The kernels this library knows, with what the runtime must know to validate a
// launch and what runs when no tuned config set exists.
#pragma once

#include <span>
#include <string_view>

#include "kiln/detail/table.h"

namespace kiln::runtime {

struct KernelInfo {
  const char* name;
  bool needs_weight;        // reads a [hidden] weight vector
  int input_width;          // input row length in units of hidden (silu_mul_fp8: a and b, so 2)
  detail::Launcher generic; // hidden at run time, any element-aligned pointers
  cudaError_t (*probe)();   // cudaErrorNoKernelImageForDevice when this build has no SASS for the device
};

std::span<const KernelInfo> kernels();
const KernelInfo* find_kernel(std::string_view name);

}  // namespace kiln::runtime
