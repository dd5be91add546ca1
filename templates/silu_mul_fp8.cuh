// Two kernels, one template: input [T, 2H] (a = x[:, :H], b = x[:, H:]), output [T, H] fp8 e4m3fn,
// y = silu(a) * b in fp32 from load to the one final rounding:
//   silu_mul_fp8        out = fp8(y * (1 / scale)), the caller's per-tensor scale
//   silu_mul_group_fp8  out = fp8(y / s), scales = s per (row, group of g = 64 or 128 columns),
//                       s = max(max|y|, 1e-10) / 448, UE8M0 and layouts as common.cuh's group helpers say
//
// Specialised schedule: a CTA owns `rows_per_cta` rows x one column tile of
// threads * vec * col_iters columns; each thread keeps rows_per_cta * col_iters
// vector loads of a and of b in flight before it computes anything. A tile is a
// multiple of 128 columns (vec >= 4 for the group kernel), so no group straddles CTAs.
#pragma once

#include "common.cuh"

namespace kiln::silu_mul_fp8 {

// The math, shared by the specialised and the generic kernels (inv_scale = 1 for groups).
__device__ __forceinline__ float silu_mul(float a, float b, float inv_scale) {
  // a / (1 + e^-a). The fast division has no slow path for huge or infinite
  // denominators (IEEE division calls one, which made garbage-heavy inputs 5x slower);
  // for a < -87 it gives -0, as the reference's rounding does.
  return __fdividef(a, 1.0f + __expf(-a)) * b * inv_scale;
}

template <int Hidden, int Threads, int VecN, int ColIters, int RowsPerCta>
struct Schedule {
  static constexpr int hidden = Hidden;
  static constexpr int threads = Threads;
  static constexpr int vec = VecN;
  static constexpr int col_iters = ColIters;
  static constexpr int rows_per_cta = RowsPerCta;
  static constexpr int tile_cols = Threads * VecN * ColIters;
  static constexpr int col_tiles = Hidden / tile_cols;
  // kiln-gen validates these with file and key; this is only the backstop.
  static_assert(Threads % 32 == 0 && Threads <= 1024, "threads: a multiple of 32, at most 1024");
  static_assert(Hidden % tile_cols == 0, "the column tile must divide hidden");
  static_assert(RowsPerCta * ColIters <= 32, "at most 32 vectors in flight per thread");
};

// Group: silu_mul_group_fp8 (scales and q; `scale` unread), else silu_mul_fp8 (scale only).
// F: which group options are constants (common.cuh's Fixed; the group kernel only).
template <class S, class T, bool Group, Fixed F>
__global__ void __launch_bounds__(S::threads)
specialised(const T* __restrict__ x, uint8_t* __restrict__ out, const float* __restrict__ scale,
            void* __restrict__ scales, int64_t tokens, GroupQuant q) {
  static_assert(F == Fixed::none || Group, "only the group kernel has fixed forms");
  constexpr int H = S::hidden, V = S::vec, C = S::col_iters, R = S::rows_per_cta;
  const auto group_q = group_quant_for<H, F>(q);  // constants where F fixes them
  // Consecutive CTAs walk a row's column tiles first, so the grid sweeps memory in order.
  const int64_t row0 = static_cast<int64_t>(blockIdx.x / S::col_tiles) * R;
  const int col0 = static_cast<int>(blockIdx.x % S::col_tiles) * S::tile_cols + threadIdx.x * V;

  wait_for_predecessor();
  allow_successor();  // the next kernel's launch overlaps this one; it still waits for our completion
  float inv_scale = 1.0f;
  if constexpr (!Group) inv_scale = 1.0f / load_float(scale);
  Vec<T, V> a[R][C], b[R][C];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (row0 + r < tokens) {
      const T* row = x + (row0 + r) * (2 * H);
#pragma unroll
      for (int c = 0; c < C; ++c) {
        a[r][c] = load_vec<T, V>(row + col0 + c * S::threads * V);
        b[r][c] = load_vec<T, V>(row + H + col0 + c * S::threads * V);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (row0 + r < tokens) {  // uniform over the CTA, so every lane of a warp shuffles
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int col = col0 + c * S::threads * V;
        float f[V];
#pragma unroll
        for (int i = 0; i < V; ++i) f[i] = silu_mul(element(a[r][c], i), element(b[r][c], i), inv_scale);
        if constexpr (Group) quantise_group<V>(f, Quotient{}, col, row0 + r, tokens, scales, group_q);
        store_fp8<V>(out + (row0 + r) * H + col, f);
      }
    }
  }
}

template <class S, bool Group>
struct LaunchSpecialised {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const int64_t row_groups = (p.tokens + S::rows_per_cta - 1) / S::rows_per_cta;
      const dim3 grid(static_cast<unsigned>(row_groups * S::col_tiles));
      auto kernel = specialised<S, T, Group, Fixed::none>;
      if constexpr (Group) {
        const Fixed f = fixed_group_form(p);
        if (f == Fixed::defaults) kernel = specialised<S, T, true, Fixed::defaults>;
        if (f == Fixed::col_major) kernel = specialised<S, T, true, Fixed::col_major>;
        if (f == Fixed::col_major_ue8m0) kernel = specialised<S, T, true, Fixed::col_major_ue8m0>;
      }
      return kiln::launch(kernel, grid, dim3(S::threads), 1, stream, static_cast<const T*>(p.input),
                          static_cast<uint8_t*>(p.output), p.scale, p.scales, p.tokens, group_quant_of(p));
    }
  };
};

template <class S, bool Group = false>
cudaError_t launch(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchSpecialised<S, Group>::template Run>(p, stream);
}

// ---- generic kernel: hidden at run time, any alignment --------------------------

// One CTA per row; V = 8 when the row starts and hidden allow 16-byte accesses, else 1.
// The group kernel goes group by group, one warp per group (quantise_row_in_groups).
template <class T, int V, bool Group>
__global__ void __launch_bounds__(256)
generic(const T* __restrict__ x, uint8_t* __restrict__ out, const float* __restrict__ scale,
        void* __restrict__ scales, int64_t tokens, int64_t hidden, GroupQuant q) {
  wait_for_predecessor();
  allow_successor();
  float inv_scale = 1.0f;
  if constexpr (!Group) inv_scale = 1.0f / load_float(scale);
  for (int64_t row = blockIdx.x; row < tokens; row += gridDim.x) {
    const T* in = x + row * 2 * hidden;
    auto values = [&](int64_t col, float (&f)[V]) {
      const Vec<T, V> a = load_vec<T, V>(in + col), b = load_vec<T, V>(in + hidden + col);
#pragma unroll
      for (int i = 0; i < V; ++i) f[i] = silu_mul(element(a, i), element(b, i), inv_scale);
    };
    if constexpr (Group) {
      quantise_row_in_groups<V>(values, out + row * hidden, row, tokens, hidden, scales, q);
    } else {
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden;
           col += static_cast<int64_t>(blockDim.x) * V) {
        float f[V];
        values(col, f);
        store_fp8<V>(out + row * hidden + col, f);
      }
    }
  }
}

template <bool Group>
struct LaunchGeneric {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const bool wide = p.hidden % 8 == 0 && reinterpret_cast<uintptr_t>(p.input) % 16 == 0 &&
                        reinterpret_cast<uintptr_t>(p.output) % 8 == 0;
      const GroupQuant q = group_quant_of(p);
      // A warp per group, or enough threads for one pass over the row.
      const int64_t per_thread = wide ? 8 : 1;
      int64_t threads = Group ? int64_t(q.groups) * 32 : (p.hidden / per_thread + 31) / 32 * 32;
      threads = threads < 32 ? 32 : (threads > 256 ? 256 : threads);
      const dim3 grid = row_stride_grid(p.tokens);
      const auto* in = static_cast<const T*>(p.input);
      auto* o = static_cast<uint8_t*>(p.output);
      return wide ? kiln::launch(generic<T, 8, Group>, grid, dim3(threads), 1, stream, in, o, p.scale, p.scales,
                                 p.tokens, p.hidden, q)
                  : kiln::launch(generic<T, 1, Group>, grid, dim3(threads), 1, stream, in, o, p.scale, p.scales,
                                 p.tokens, p.hidden, q);
    }
  };
};

// Templates, so a TU that includes this header but never names them (every instance)
// compiles no generic kernel; the registry takes launch_generic<>.
template <bool Group = false>
cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchGeneric<Group>::template Run>(p, stream);
}

template <bool Group = false>
cudaError_t probe_generic() {
  return probe(generic<__nv_bfloat16, 1, Group>);
}

}  // namespace kiln::silu_mul_fp8

// silu_mul_group_fp8: the same kernels with Group set.
namespace kiln::silu_mul_group_fp8 {

template <int Hidden, int Threads, int VecN, int ColIters, int RowsPerCta>
using Schedule = silu_mul_fp8::Schedule<Hidden, Threads, VecN, ColIters, RowsPerCta>;

template <class S>
cudaError_t launch(const detail::LaunchParams& p, cudaStream_t stream) {
  return silu_mul_fp8::launch<S, true>(p, stream);
}

template <class = void>
cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t stream) {
  return silu_mul_fp8::launch_generic<true>(p, stream);
}

template <class = void>
cudaError_t probe_generic() {
  return silu_mul_fp8::probe_generic<true>();
}

}  // namespace kiln::silu_mul_group_fp8
