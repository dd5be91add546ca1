// kiln-bench's device code: see device_kernels.h.
#include "device_kernels.h"

#include "common.cuh"  // kiln::launch: the launch path kiln's kernels take

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace kiln_bench::device {
namespace {

template <bool Streaming>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (Streaming) return __ldcs(p);
  else return __ldg(p);
}

template <bool Streaming>
__device__ __forceinline__ void store16(uint4* p, uint4 v) {
  if constexpr (Streaming) __stcs(p, v);
  else *p = v;
}

// Grid-stride copy, four independent 16-byte loads in flight before their stores.
template <bool Streaming>
__global__ void __launch_bounds__(1024) copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                                    std::size_t n) {
  constexpr int kUnroll = 4;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) v[k] = load16<Streaming>(src + i + k * stride);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) store16<Streaming>(dst + i + k * stride, v[k]);
  }
  for (; i < n; i += stride) store16<Streaming>(dst + i, load16<Streaming>(src + i));
}

__global__ void empty_kernel() {}

__global__ void empty_pdl_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void gate_kernel(const volatile int* flag, int* timed_out, unsigned long long timeout_ns) {
  const unsigned long long start = global_ns();
  while (*flag == 0) {
    if (global_ns() - start > timeout_ns) {
      *timed_out = 1;
      return;
    }
    __nanosleep(2000);
  }
}

// splitmix64: a good 64-bit mix of (seed, index).
__device__ __forceinline__ uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void fill_normal_kernel(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const uint64_t r = mix(seed * 0x2545f4914f6cdd1dull + i);
    // Box-Muller on two 24-bit uniforms; u1 in (0, 1] so the log is finite.
    const float u1 = (static_cast<float>((r >> 40) & 0xffffffu) + 1.0f) * (1.0f / 16777216.0f);
    const float u2 = static_cast<float>((r >> 8) & 0xffffffu) * (1.0f / 16777216.0f);
    float v = stddev * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    const float tiny = stddev * (1.0f / 1024.0f);
    if (fabsf(v) < tiny) v = copysignf(tiny, v);
    dst[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(v)) : __half_as_ushort(__float2half_rn(v));
  }
}

}  // namespace

cudaError_t launch_copy(const void* src, void* dst, std::size_t bytes, int blocks, int threads, bool streaming,
                        cudaStream_t stream) {
  const std::size_t n = bytes / 16;
  if (streaming)
    copy_kernel<true><<<blocks, threads, 0, stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst), n);
  else
    copy_kernel<false><<<blocks, threads, 0, stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst), n);
  return cudaGetLastError();
}

cudaError_t copy_blocks_per_sm(int threads, bool streaming, int* blocks) {
  return streaming ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, copy_kernel<true>, threads, 0)
                   : cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, copy_kernel<false>, threads, 0);
}

cudaError_t launch_empty(bool pdl, cudaStream_t stream) {
  if (!pdl) {
    empty_kernel<<<1, 32, 0, stream>>>();
    return cudaGetLastError();
  }
  return kiln::launch(empty_pdl_kernel, dim3(1), dim3(32), 1, stream);  // as kiln launches its kernels
}

cudaError_t launch_gate(const volatile int* flag, int* timed_out, unsigned long long timeout_ns, cudaStream_t stream) {
  gate_kernel<<<1, 1, 0, stream>>>(flag, timed_out, timeout_ns);
  return cudaGetLastError();
}

cudaError_t launch_fill_normal(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev,
                               cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const std::size_t wanted = (count + 255) / 256;
  const unsigned blocks = static_cast<unsigned>(wanted < 65536 ? wanted : 65536);
  fill_normal_kernel<<<blocks, 256, 0, stream>>>(dst, count, bf16, seed, stddev);
  return cudaGetLastError();
}

}  // namespace kiln_bench::device
