// The kernel registry and the generic kernels, compiled for every target arch.
// Adding a kernel: include its template and add its row.
#include "kernels.h"

#include "rms_norm_fp8.cuh"
#include "silu_mul_fp8.cuh"

namespace kiln::runtime {

namespace {
constexpr KernelInfo kKernels[] = {
    {"rms_norm_fp8", true, 1, &rms_norm_fp8::launch_generic, &rms_norm_fp8::probe_generic},
    {"silu_mul_fp8", false, 2, &silu_mul_fp8::launch_generic, &silu_mul_fp8::probe_generic},
};
}  // namespace

std::span<const KernelInfo> kernels() { return kKernels; }

const KernelInfo* find_kernel(std::string_view name) {
  for (const KernelInfo& k : kKernels)
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace kiln::runtime
