// Device helpers shared by every kiln kernel template: vector memory access,
// FP8 conversion, reductions, programmatic dependent launch, and the launch call.
// Kernel math lives in the kernel's own template; only what two kernels share is here.
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

// A kernel source needs kiln.h's types, not the typed entry points of every kernel.
#define KILN_NO_TYPED_ENTRY_POINTS
#include "kiln/detail/table.h"

namespace kiln {

// ---- element types --------------------------------------------------------------

__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

// Round to nearest even into the 16-bit type.
template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

// v rounded to T and back: where a kernel rounds an intermediate as an unfused path would.
template <class T>
__device__ __forceinline__ float round_to(float v) { return to_float(from_float<T>(v)); }

// N elements of T moved as one access: 16 bytes for 8 x bf16 is a single LDG.128.
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

template <class T, int N>
__device__ __forceinline__ Vec<T, N> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, N>*>(p);
}

// N floats rounded to T and stored with one access.
template <class T, int N>
__device__ __forceinline__ void store_vec(T* p, const float (&f)[N]) {
  Vec<T, N> v;
#pragma unroll
  for (int i = 0; i < N; ++i) v.v[i] = from_float<T>(f[i]);
  *reinterpret_cast<Vec<T, N>*>(p) = v;
}

// ---- FP8 e4m3fn -----------------------------------------------------------------

// Two floats to two e4m3fn bytes, round to nearest even, saturating to +-448, NaN
// kept. `lo` lands in the low byte (the instruction's first source is the high one).
__device__ __forceinline__ uint16_t fp8x2(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return __nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3);
#endif
}

// N floats (N = 1, 2, 4, 8) to N fp8 bytes stored with one access.
template <int N>
__device__ __forceinline__ void store_fp8(uint8_t* out, const float (&f)[N]) {
  if constexpr (N == 1) {
    *out = static_cast<uint8_t>(__nv_cvt_float_to_fp8(f[0], __NV_SATFINITE, __NV_E4M3));
  } else if constexpr (N == 2) {
    *reinterpret_cast<uint16_t*>(out) = fp8x2(f[0], f[1]);
  } else if constexpr (N == 4) {
    *reinterpret_cast<uint32_t*>(out) = uint32_t(fp8x2(f[0], f[1])) | (uint32_t(fp8x2(f[2], f[3])) << 16);
  } else {
    static_assert(N == 8, "fp8 stores are 1, 2, 4 or 8 bytes");
    uint2 w;
    w.x = uint32_t(fp8x2(f[0], f[1])) | (uint32_t(fp8x2(f[2], f[3])) << 16);
    w.y = uint32_t(fp8x2(f[4], f[5])) | (uint32_t(fp8x2(f[6], f[7])) << 16);
    *reinterpret_cast<uint2*>(out) = w;
  }
}

// ---- reductions -----------------------------------------------------------------

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The largest of the warp's values; NaN is passed over (fmaxf), as a scale must not be NaN.
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// ---- programmatic dependent launch (sm90+) --------------------------------------

// Wait until the grids this launch depends on have finished and their writes are
// visible. Everything before this call overlaps the predecessor's tail.
__device__ __forceinline__ void wait_for_predecessor() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Let the next kernel in the stream start its prologue; it still waits for this
// grid to complete before it reads anything.
__device__ __forceinline__ void allow_successor() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

// ---- launch ---------------------------------------------------------------------

// Every kiln kernel goes out through here: PDL on, an optional cluster, no
// allocation, no synchronisation, no device queries (graph capturable).
template <class... KernelArgs, class... Args>
cudaError_t launch(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, int cluster,
                   cudaStream_t stream, Args... args) {
  cudaLaunchAttribute attrs[2];
  attrs[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attrs[0].val.programmaticStreamSerializationAllowed = 1;
  unsigned num_attrs = 1;
  if (cluster > 1) {
    attrs[1].id = cudaLaunchAttributeClusterDimension;
    attrs[1].val.clusterDim.x = static_cast<unsigned>(cluster);
    attrs[1].val.clusterDim.y = 1;
    attrs[1].val.clusterDim.z = 1;
    num_attrs = 2;
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  config.attrs = attrs;
  config.numAttrs = num_attrs;
  return cudaLaunchKernelEx(&config, kernel, static_cast<KernelArgs>(args)...);
}

// The generic kernels stride over rows; their grid is one CTA per row, capped here.
inline dim3 row_stride_grid(int64_t rows) {
  constexpr int64_t kMaxCtas = 65536 * 16;
  return dim3(static_cast<unsigned>(rows < kMaxCtas ? rows : kMaxCtas));
}

// Whether this build holds an image of `kernel` for the current device.
template <class... KernelArgs>
cudaError_t probe(void (*kernel)(KernelArgs...)) {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, kernel);
}

// Instantiate a kernel template for the launch's input dtype.
template <template <class> class Launch>
cudaError_t for_dtype(const detail::LaunchParams& p, cudaStream_t stream) {
  switch (p.dtype) {
    case detail::DType::bf16: return Launch<__nv_bfloat16>::run(p, stream);
    case detail::DType::fp16: return Launch<__half>::run(p, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln
