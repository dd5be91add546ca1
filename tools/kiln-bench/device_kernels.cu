// kiln-bench's device code: see device_kernels.h.
#include "device_kernels.h"

namespace kiln_bench::device {
namespace {

__device__ __forceinline__ bool nonfinite(const void* data, std::size_t i, Values values, bool bf16) {
  switch (values) {
    case Values::half16: {
      const uint16_t v = static_cast<const uint16_t*>(data)[i];
      return bf16 ? (v & 0x7f80u) == 0x7f80u : (v & 0x7c00u) == 0x7c00u;
    }
    case Values::fp8_e4m3: return (static_cast<const uint8_t*>(data)[i] & 0x7fu) == 0x7fu;  // e4m3fn: NaN only
    case Values::f32: return (static_cast<const uint32_t*>(data)[i] & 0x7f800000u) == 0x7f800000u;
  }
  return false;
}

__global__ void count_nonfinite_kernel(const void* data, std::size_t count, Values values, bool bf16,
                                       unsigned long long* counter) {
  unsigned long long n = 0;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    n += nonfinite(data, i, values, bf16);
  for (int offset = 16; offset > 0; offset >>= 1) n += __shfl_down_sync(0xffffffffu, n, offset);
  if ((threadIdx.x & 31) == 0 && n) atomicAdd(counter, n);
}

}  // namespace

cudaError_t count_nonfinite(const void* data, std::size_t count, Values values, bool bf16,
                            unsigned long long* counter, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const std::size_t wanted = (count + 255) / 256;
  const unsigned blocks = static_cast<unsigned>(wanted < 4096 ? wanted : 4096);
  count_nonfinite_kernel<<<blocks, 256, 0, stream>>>(data, count, values, bf16, counter);
  return cudaGetLastError();
}

}  // namespace kiln_bench::device
