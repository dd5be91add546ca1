// rms_norm_fp8: input [T, H], weight [H], output [T, H] fp8 e4m3fn,
// out = fp8(x * rsqrt(sum(x^2) / H + eps) * w * (1 / scale)), fp32 throughout.
//
// Specialised schedule: `threads` threads own one row (a row group); a CTA holds
// `rows_per_cta` row groups; `cluster` CTAs of a thread-block cluster split one row
// and add their partial sums through distributed shared memory. Each thread keeps
// its slice of the row (iters vectors) in registers, so x is read from memory once.
#pragma once

#include <cooperative_groups.h>

#include "common.cuh"

namespace kiln::rms_norm_fp8 {

// The math, shared by the specialised and the generic kernel.
__device__ __forceinline__ float inv_rms(float sum_squares, float hidden, float eps) {
  return 1.0f / sqrtf(sum_squares / hidden + eps);
}
__device__ __forceinline__ float normed(float x, float inv_rms, float w, float inv_scale) {
  return x * inv_rms * w * inv_scale;
}

template <int Hidden, int Threads, int VecN, int RowsPerCta, int Cluster>
struct Schedule {
  static constexpr int hidden = Hidden;
  static constexpr int threads = Threads;
  static constexpr int vec = VecN;
  static constexpr int rows_per_cta = RowsPerCta;
  static constexpr int cluster = Cluster;
  static constexpr int slice = Hidden / Cluster;               // columns per CTA
  static constexpr int iters = Hidden / (Cluster * Threads * VecN);  // vectors per thread
  static constexpr int warps = Threads / 32;                   // per row group
  // kiln-gen validates these with file and key; this is only the backstop.
  static_assert(Threads % 32 == 0 && Threads * RowsPerCta <= 1024, "threads * rows_per_cta <= 1024");
  static_assert(Hidden % (Cluster * Threads * VecN) == 0, "cluster * threads * vec must divide hidden");
  static_assert(iters >= 1 && iters <= 32, "at most 32 vectors per thread");
};

// Sum of a row group's per-warp partials: across the group's warps, then (with a
// cluster) across the cluster's CTAs through distributed shared memory. With a
// cluster this arrives on the cluster barrier; the kernel waits on it before exit.
template <class S>
__device__ __forceinline__ float row_total(float warp_partial, int group, int tid) {
  if constexpr (S::warps == 1 && S::cluster == 1) {
    return warp_partial;
  } else {
    __shared__ float warp_sums[S::rows_per_cta][S::warps];
    if (tid % 32 == 0) warp_sums[group][tid / 32] = warp_partial;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < S::warps; ++k) total += warp_sums[group][k];
    if constexpr (S::cluster > 1) {
      __shared__ float cta_sums[S::rows_per_cta];
      cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
      if (tid == 0) cta_sums[group] = total;
      cluster.sync();
      total = 0.0f;
#pragma unroll
      for (int r = 0; r < S::cluster; ++r) total += cluster.map_shared_rank(cta_sums, r)[group];
      cluster.barrier_arrive();
    }
    return total;
  }
}

template <class S, class T>
__global__ void __launch_bounds__(S::threads * S::rows_per_cta)
specialised(const T* __restrict__ x, const T* __restrict__ w, uint8_t* __restrict__ out,
            const float* __restrict__ scale, int64_t tokens, float eps) {
  constexpr int H = S::hidden, V = S::vec, N = S::iters;
  const int tid = threadIdx.x % S::threads;
  const int group = threadIdx.x / S::threads;
  const int rank = S::cluster > 1 ? static_cast<int>(blockIdx.x % S::cluster) : 0;
  const int64_t row = static_cast<int64_t>(blockIdx.x / S::cluster) * S::rows_per_cta + group;
  const bool live = row < tokens;
  const int col0 = rank * S::slice + tid * V;

  wait_for_predecessor();
  allow_successor();  // the next kernel's launch overlaps this one; it still waits for our completion
  Vec<T, V> xv[N], wv[N];
  if (live) {
#pragma unroll
    for (int i = 0; i < N; ++i) xv[i] = load_vec<T, V>(x + row * H + col0 + i * S::threads * V);
  }
#pragma unroll
  for (int i = 0; i < N; ++i) wv[i] = load_vec<T, V>(w + col0 + i * S::threads * V);
  const float inv_scale = 1.0f / *scale;

  float ss = 0.0f;
  if (live) {
#pragma unroll
    for (int i = 0; i < N; ++i)
#pragma unroll
      for (int j = 0; j < V; ++j) ss += to_float(xv[i].v[j]) * to_float(xv[i].v[j]);
  }
  ss = row_total<S>(warp_sum(ss), group, tid);
  const float rinv = inv_rms(ss, float(H), eps);
  if (live) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float f[V];
#pragma unroll
      for (int j = 0; j < V; ++j) f[j] = normed(to_float(xv[i].v[j]), rinv, to_float(wv[i].v[j]), inv_scale);
      store_fp8<V>(out + row * H + col0 + i * S::threads * V, f);
    }
  }
  // A peer may still be reading our partial sum: stay resident until all have read.
  if constexpr (S::cluster > 1) cooperative_groups::this_cluster().barrier_wait();
}

template <class S>
struct LaunchSpecialised {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const int64_t ctas = (p.tokens + S::rows_per_cta - 1) / S::rows_per_cta * S::cluster;
      return kiln::launch(specialised<S, T>, dim3(static_cast<unsigned>(ctas)), dim3(S::threads * S::rows_per_cta),
                          S::cluster, stream, static_cast<const T*>(p.input), static_cast<const T*>(p.weight),
                          static_cast<uint8_t*>(p.output), p.scale, p.tokens, p.eps);
    }
  };
};

template <class S>
cudaError_t launch(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchSpecialised<S>::template Run>(p, stream);
}

// ---- generic kernel: hidden at run time, any alignment --------------------------

// One CTA of 256 threads per row, two passes over the row (the second mostly hits
// L1/L2). V = 8 when rows and pointers allow 16-byte accesses, else 1.
constexpr int kGenericThreads = 256;

template <class T, int V>
__global__ void __launch_bounds__(kGenericThreads)
generic(const T* __restrict__ x, const T* __restrict__ w, uint8_t* __restrict__ out,
        const float* __restrict__ scale, int64_t tokens, int64_t hidden, float eps) {
  __shared__ float warp_sums[kGenericThreads / 32];
  wait_for_predecessor();
  allow_successor();
  const float inv_scale = 1.0f / *scale;
  for (int64_t row = blockIdx.x; row < tokens; row += gridDim.x) {
    const T* in = x + row * hidden;
    float ss = 0.0f;
    for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden; col += kGenericThreads * V) {
      const Vec<T, V> v = load_vec<T, V>(in + col);
#pragma unroll
      for (int j = 0; j < V; ++j) ss += to_float(v.v[j]) * to_float(v.v[j]);
    }
    ss = warp_sum(ss);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = ss;
    __syncthreads();
    ss = 0.0f;
#pragma unroll
    for (int k = 0; k < kGenericThreads / 32; ++k) ss += warp_sums[k];
    __syncthreads();  // warp_sums is reused by the next row
    const float rinv = inv_rms(ss, float(hidden), eps);
    for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden; col += kGenericThreads * V) {
      const Vec<T, V> v = load_vec<T, V>(in + col), wv = load_vec<T, V>(w + col);
      float f[V];
#pragma unroll
      for (int j = 0; j < V; ++j) f[j] = normed(to_float(v.v[j]), rinv, to_float(wv.v[j]), inv_scale);
      store_fp8<V>(out + row * hidden + col, f);
    }
  }
}

template <class T>
struct LaunchGeneric {
  static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
    const bool wide = p.hidden % 8 == 0 && reinterpret_cast<uintptr_t>(p.input) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(p.weight) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(p.output) % 8 == 0;
    const dim3 grid = row_stride_grid(p.tokens);
    const auto* in = static_cast<const T*>(p.input);
    const auto* wt = static_cast<const T*>(p.weight);
    auto* o = static_cast<uint8_t*>(p.output);
    return wide ? kiln::launch(generic<T, 8>, grid, dim3(kGenericThreads), 1, stream, in, wt, o, p.scale, p.tokens, p.hidden, p.eps)
                : kiln::launch(generic<T, 1>, grid, dim3(kGenericThreads), 1, stream, in, wt, o, p.scale, p.tokens, p.hidden, p.eps);
  }
};

inline cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchGeneric>(p, stream);
}

inline cudaError_t probe_generic() {
  return probe(generic<__nv_bfloat16, 1>);
}

}  // namespace kiln::rms_norm_fp8
