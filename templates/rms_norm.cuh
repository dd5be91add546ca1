// The RMSNorm family, one template for ten row-wise kernels (docs/design.md, "Kernel semantics"):
//   rms_norm                          out = round(norm(x))                          [T, H] input dtype
//   rms_norm_fp8                      out = fp8(norm(x) / scale)                     [T, H] fp8 e4m3fn
//   fused_add_rms_norm                r = round(x + r) over r; x = round(norm(r))    in place (vLLM's contract)
//   fused_add_rms_norm_fp8            r = round(x + r) over r; out = fp8(norm(r) / scale)
//   per_token_fp8                     out = fp8(x / s), scales = s per row (dynamic per-token quantisation)
//   rms_norm_per_token_fp8            out = fp8(norm(x) / s), scales = s
//   fused_add_rms_norm_per_token_fp8  r = round(x + r) over r; out = fp8(norm(r) / s), scales = s
//   per_token_group_fp8               out = fp8(x / s), scales = s per (row, group of g columns)
//   rms_norm_group_fp8                out = fp8(norm(x) / s), scales = s per (row, group)
//   fused_add_rms_norm_group_fp8      r = round(x + r) over r; out = fp8(norm(r) / s), scales = s per (row, group)
// with norm(v) = v * rsqrt(sum(v^2) / H + eps) * w and, per row, s = max(max|y| / 448,
// 1 / (448 * 512)) of the values y it quantises (vLLM's dynamic per-token scale; NaN is
// passed over; max|y| capped by the optional scale_ub first). The group kernels take s per group of g = 64 or 128 columns instead,
// s = max(max|y|, 1e-10) / 448, UE8M0 and the scale layouts as common.cuh's group
// helpers say. Plan options, run-time flags here (the kinds without a residual add, and those
// with one that stage their rows, also have kernels with the common options as constants:
// `specialised`'s F):
// gemma replaces w by (1 + w) in fp32; static_weight may load w before the PDL wait;
// rounding `vllm` rounds v * rsqrt(...) to the
// input dtype before the weight and the product again, as vLLM's unfused kernels do;
// `single` keeps fp32 to the one final rounding. The norm of the fused kernels reads the
// rounded residual, so its output is what a later norm of that residual would give.
//
// Specialised schedule: `threads` threads own one row (a row group); a CTA holds
// `rows_per_cta` row groups; `cluster` CTAs of a thread-block cluster split one row and
// combine their partial sums (and maxima) through distributed shared memory. Each thread
// keeps its slice of the row (iters vectors) in registers, so x is read from memory once.
// The group kernels are the per-token ones with the row max replaced by a group max:
// a group is g / vec consecutive lanes of one warp, reduced by shuffles (or, with the
// vectors paired, 8 lanes holding 16 values each: see `col` in the kernel).
#pragma once

#include <cooperative_groups.h>

#include "common.cuh"

namespace kiln::norm {

enum class Kind {
  norm, norm_fp8, add_norm, add_norm_fp8,
  quant, norm_quant, add_norm_quant,                    // per-token scales
  group_quant, norm_group_quant, add_norm_group_quant,  // per-(token, group) scales
};

template <Kind K>
struct Traits {
  static constexpr bool norm = K != Kind::quant && K != Kind::group_quant;  // reads the weight and eps, normalises
  static constexpr bool add = K == Kind::add_norm || K == Kind::add_norm_fp8 || K == Kind::add_norm_quant ||
                              K == Kind::add_norm_group_quant;
  static constexpr bool fp8 = K == Kind::norm_fp8 || K == Kind::add_norm_fp8;  // fp8 with the caller's scale
  static constexpr bool dynamic = K == Kind::quant || K == Kind::norm_quant || K == Kind::add_norm_quant;  // per-row scale
  static constexpr bool group =  // per-(row, group) scale
      K == Kind::group_quant || K == Kind::norm_group_quant || K == Kind::add_norm_group_quant;
  static constexpr bool fp8_out = fp8 || dynamic || group;
  // Reduces over the whole row: norm's sum of squares (the first reduction), dynamic's maximum
  // (after it, if any). With a cluster this decides the kernel's start arrive (row_reduce).
  static constexpr bool reduces = norm || dynamic;
};

// Whether schedule S of kind K has fixed kernels (common.cuh's Fixed: defaults, and the two
// column-major ones for the group kinds) besides the one with every option at run time: the
// norm and group kinds, those that add a residual only when they stage their rows (S::stage)
// or hold their loads together with a barrier (the per-token kind, see the kernel). Loaded
// into registers, ptxas issues an add kind's x and residual loads in pairs once the option
// branches are gone (fused_add_rms_norm 0.84x at h = 5120).
template <class S, Kind K>
inline constexpr bool has_fixed_kernel =
    (Traits<K>::norm || Traits<K>::group) && (!Traits<K>::add || S::stage || Traits<K>::dynamic);

// The dynamic per-token scale of a row whose largest magnitude is amax (vLLM's
// dynamic_per_token_scaled_fp8_quant: at least 1 / (448 * 512), so a row of zeros
// quantises to zeros). Values are divided by it, as vLLM does (but for the fixed kernels of the
// norm kinds: common.cuh's Product).
__device__ __forceinline__ float token_scale(float amax) {
  return fmaxf(over_fp8_max(amax), 1.0f / (kFp8Max * 512.0f));
}

// The math, shared by the specialised and the generic kernels.
__device__ __forceinline__ float inv_rms(float sum_squares, float hidden, float eps) {
  return 1.0f / sqrtf(sum_squares / hidden + eps);
}

__device__ __forceinline__ float weight_of(float w, bool gemma) { return gemma ? 1.0f + w : w; }

// v * rinv * w, rounded where the convention says (the caller rounds the result last).
// single multiplies v by w first: that product is exact (two 16-bit values; with gemma, w =
// 1 + w is fp32 and the product rounds once), so the value is one rounding of (v * w) * rinv,
// and rounding is monotone: the largest |value| of a row is (max |v * w|) * rinv, rounded.
// The per-token kinds take that maximum with the sum of squares, before rinv is known
// (`max_first` in the kernel), and the fixed kernels of the norm quantisers divide v * w by
// s / rinv, one product (common.cuh's Product). vllm rounds v * rinv first, as vLLM does: no
// such shortcut.
__device__ __forceinline__ float weighted(float v, float w) { return v * w; }
template <class T>
__device__ __forceinline__ float normed(float v, float rinv, float w, bool vllm) {
  return vllm ? round_to<T>(round_to<T>(v * rinv) * w) : weighted(v, w) * rinv;
}

// Switches, each left out by kiln-gen at 0: WeightAtUse (the norm quantisers and the add
// kinds), where a thread reads its slice of the weight (see `kWeightAtUse` in the kernel);
// Stage (the add kinds), whether x and the residual reach registers through shared memory
// (see `kStaged`).
template <int Hidden, int Threads, int VecN, int RowsPerCta, int Cluster, int WeightAtUse = 0, int Stage = 0>
struct Schedule {
  static constexpr int hidden = Hidden;
  static constexpr bool weight_at_use = WeightAtUse != 0;
  static constexpr bool stage = Stage != 0;
  static constexpr int threads = Threads;
  static constexpr int vec = VecN;
  static constexpr int rows_per_cta = RowsPerCta;
  static constexpr int cluster = Cluster;
  static constexpr int slice = Hidden / Cluster;                     // columns per CTA
  static constexpr int iters = Hidden / (Cluster * Threads * VecN);  // vectors per thread
  static constexpr int warps = Threads / 32;                         // per row group
  // kiln-gen validates these with file and key; this is only the backstop.
  static_assert(Threads % 32 == 0 && Threads * RowsPerCta <= 1024, "threads * rows_per_cta <= 1024");
  static_assert(Hidden % (Cluster * Threads * VecN) == 0, "cluster * threads * vec must divide hidden");
  static_assert(iters >= 1 && iters <= 32, "at most 32 vectors per thread");
};

// The reductions over a row group: its sum of squares, its largest magnitude, or both at once
// (the per-token norm kinds under single rounding: one barrier where two cost a row twice the
// wait).
struct Sum {
  using Value = float;
  static constexpr float identity = 0.0f;
  __device__ static float apply(float a, float b) { return a + b; }
};
struct Max {
  using Value = float;
  static constexpr float identity = 0.0f;  // of magnitudes
  __device__ static float apply(float a, float b) { return fmaxf(a, b); }
};
struct SumAndMax {
  using Value = float2;  // x: a sum, y: a maximum of magnitudes
  static constexpr float2 identity{0.0f, 0.0f};
  __device__ static float2 apply(float2 a, float2 b) { return {a.x + b.x, fmaxf(a.y, b.y)}; }
};

// Op over a row group's per-warp partials (every lane holds the same bits of its warp's): the
// partials go into slots, one barrier (of the CTA, or of the cluster), then every thread
// combines all the slots of the row group in the same order (rank, then warp), so each gets
// the same bits. rank is the CTA's rank in its cluster (the kernel's, which also decides who
// stores a per-token scale; the clusters are 1-D, so it is blockIdx.x % cluster).
// With a cluster, each warp writes its partial into the slots of every CTA of the cluster
// (lane r to rank r, one store through distributed shared memory), so that after the barrier
// every read is local. Writing into a peer needs the peer to have started: the kernel arrives
// on the cluster barrier when it starts, and the row's first reduction (First) waits on that
// phase just before its first write; by then every peer has normally arrived, so the wait
// rarely stalls. Each Op has its own slots, because a fast peer's Max write can land
// while this CTA still reads its Sum slots. Every write into a CTA comes before the writer's
// arrive (release) on a phase that CTA waits on (acquire), and no CTA reads a peer's memory, so
// after its last reduction's wait a CTA may exit.
template <class S, class Op, bool First>
__device__ __forceinline__ typename Op::Value row_reduce(typename Op::Value warp_partial, int group, int tid, int rank) {
  using Value = typename Op::Value;
  if constexpr (S::warps == 1 && S::cluster == 1) {
    return warp_partial;
  } else {
    __shared__ Value slots[S::rows_per_cta][S::cluster][S::warps];
    static_assert(S::cluster <= 32, "lane r writes to rank r");
    const int warp = tid / 32, lane = tid % 32;
    if constexpr (S::cluster == 1) {
      if (lane == 0) slots[group][0][warp] = warp_partial;
      __syncthreads();
    } else {
      cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
      if constexpr (First) cluster.barrier_wait();  // every peer has started
      if (lane < S::cluster) *cluster.map_shared_rank(&slots[group][rank][warp], lane) = warp_partial;
      cluster.barrier_arrive();  // release (the default): publishes the writes above; never relaxed
      cluster.barrier_wait();
    }
    Value v = Op::identity;
#pragma unroll
    for (int r = 0; r < S::cluster; ++r)
#pragma unroll
      for (int k = 0; k < S::warps; ++k) v = Op::apply(v, slots[group][r][k]);
    return v;
  }
}

// The run-time part of a launch: eps and the plan's options.
struct Options {
  float eps;
  bool vllm;
  bool gemma;
  bool static_weight;
  const float* scale_ub;  // the dynamic per-token kinds: an optional cap on max|y| (vLLM's scale_ub); null: none
};

// The largest magnitude a per-token scale is taken from: capped by scale_ub when given.
__device__ __forceinline__ float capped(float amax, const Options& o) {
  return o.scale_ub != nullptr ? fminf(amax, load_float(o.scale_ub)) : amax;
}

// The fixed form a launch's options allow: rounding single and no gemma, and for the group kinds
// what their group options allow.
inline Fixed fixed_form(const detail::LaunchParams& p, bool group) {
  if (p.rounding != detail::Rounding::single || p.gemma) return Fixed::none;
  return group ? fixed_group_form(p) : Fixed::defaults;
}

// x: [T, H] (written over by fused_add_rms_norm); w: [H] (not read by per_token_fp8);
// residual: [T, H] in-out (fused kernels); out: [T, H] fp8 or T (unused by
// fused_add_rms_norm); scale: the static fp8 kernels only; scales: [T], the per-token ones,
// or the group ones' scales in q's layout (q is read by the group kernels only).
//
// F: which options are constants (common.cuh's Fixed). Each run-time option is a branch in the
// loop over vectors (rounding and gemma four ways, the scale's layout three), and a kernel's
// registers are those of its costliest path. With the defaults fixed, H200, T = 65536:
// rms_norm_group_fp8 1.05-1.12x the speed, 60 -> 48 registers at h = 4096; small batches
// 0.05-1.5 µs sooner. LaunchSpecialised picks the form the launch's options allow; F = none is
// the same code with every option a flag. The kinds that add a residual have the fixed forms
// only as has_fixed_kernel says.
template <class S, Kind K, class T, Fixed F>
__global__ void __launch_bounds__(S::threads * S::rows_per_cta)
specialised(T* __restrict__ x, const T* __restrict__ w, T* __restrict__ residual, void* __restrict__ out,
            const float* __restrict__ scale, float* __restrict__ scales, int64_t tokens, Options o, GroupQuant q) {
  using Tr = Traits<K>;
  constexpr bool kFixed = F != Fixed::none;
  static_assert(!kFixed || has_fixed_kernel<S, K>, "a schedule without a fixed kernel");
  static_assert(F == Fixed::none || F == Fixed::defaults || Tr::group, "column-major scales are the group kinds'");
  if constexpr (kFixed && Tr::norm) {
    o.vllm = false;
    o.gemma = false;
  }
  constexpr int H = S::hidden, V = S::vec, N = S::iters;
  const int tid = threadIdx.x % S::threads;
  const int group = threadIdx.x / S::threads;
  const int rank = S::cluster > 1 ? static_cast<int>(blockIdx.x % S::cluster) : 0;
  const int64_t row = static_cast<int64_t>(blockIdx.x / S::cluster) * S::rows_per_cta + group;
  const bool live = row < tokens;
  const int64_t first = row * H;  // element offset of the row
  // With a cluster, peers write into this CTA's shared memory (row_reduce): say it has started.
  if constexpr (S::cluster > 1 && Tr::reduces) cooperative_groups::this_cluster().barrier_arrive();
  // The column of this thread's vector i: i * threads * V past its first. The group kinds with
  // 8-wide vectors in pairs (N even) give each aligned run of 8 lanes a 128-column block
  // instead, its halves at vectors 2p and 2p + 1: a 128-column group is then one lane's 16
  // values over 8 lanes, and its scale, store and reciprocal are paid once per 16 values, not
  // 8 (quantise_group_pair). Each load still covers whole 128-byte lines (8 lanes x 16 bytes).
  // Not the fused kind: it keeps the residual's slice live too, and the pair's eight more
  // registers cost it occupancy (h = 8192: 64 -> 74 registers, 4 -> 3 CTAs of 256 threads
  // per SM, 94 % -> 82 % of the copy ceiling on the H200).
  // With a cluster a row's columns are split between CTAs, so vectors are not paired.
  constexpr bool kPaired = Tr::group && !Tr::add && V == 8 && N % 2 == 0 && S::cluster == 1;
  const int col0 = kPaired ? (tid / 32) * (64 * V) + (tid % 32 / 8) * (16 * V) + (tid % 8) * V : rank * S::slice + tid * V;
  auto col = [&](int i) {
    return kPaired ? col0 + (i / 2) * (S::threads * 2 * V) + (i % 2) * (8 * V) : col0 + i * S::threads * V;
  };

  // The weight, where the schedule says (weight_at_use, chosen per bucket by kiln-tune):
  // - with x, into registers held through the row's reductions: small batches want this,
  //   the load overlaps x's. With static_weight the caller promises no running kernel writes
  //   the weight, so it goes out before the PDL wait. One load site either way (two cost 16
  //   registers, 64 -> 80): the wait moves, not the load.
  // - where it is used, from L1 and L2 (every row reads it): the registers go to occupancy,
  //   which DRAM-sized batches want (rms_norm_per_token_fp8, h = 8192, 128 threads: 135 -> 56
  //   registers with `keep` below, 80 % -> 97 % of the copy ceiling at T = 65536 on the H200),
  //   but a small batch waits an L2 round trip after the first reduction (h = 4096, 128
  //   threads, T = 1: 1.5 -> 2.3 µs).
  constexpr bool kWeightAtUse = Tr::norm && S::weight_at_use;
  Vec<T, V> wv[Tr::norm && !kWeightAtUse ? N : 1];
  if constexpr (Tr::norm && !kWeightAtUse) {
    if (!o.static_weight) wait_for_predecessor();
#pragma unroll
    for (int i = 0; i < N; ++i) wv[i] = load_vec<T, V>(w + col(i));
    if (o.static_weight) wait_for_predecessor();
  } else {
    wait_for_predecessor();
  }
  auto weight = [&](int i) {
    if constexpr (kWeightAtUse) return load_vec<T, V>(w + col(i));
    else if constexpr (Tr::norm) return wv[i];
    else return Vec<T, V>{};
  };
  allow_successor();  // the next kernel's launch overlaps this one; it still waits for our completion
  // The row slice the norm reads, kept in the input dtype: x, or x + r rounded (exact in T).
  Vec<T, V> xv[N];
  [[maybe_unused]] Vec<T, V> rv[Tr::add ? N : 1];
  // The add kinds read two rows. Loaded into registers, ptxas may issue them in pairs, each
  // pair's add before the next pair's loads, so a row waits on memory several times; where it
  // does depends on the kind, the dtype and the size (H200, T = 65536, fp16:
  // fused_add_rms_norm_group_fp8 at h = 8192 reached 79 % of the copy ceiling, bf16 99 %).
  // Staged (the schedule's switch, chosen by kiln-tune), each thread copies its vectors of both
  // into shared memory (cp.async), waits for its own copies and reads them back: every load of
  // the row is in flight at once whatever ptxas schedules (that case: 79 -> 97 %). Where the
  // registers already worked, the round trip through shared memory cost up to 4 %.
  constexpr bool kStaged = Tr::add && S::stage;
  if (live) {
    if constexpr (kStaged) {
      __shared__ Vec<T, V> staged[S::rows_per_cta][2][N][S::threads];
#pragma unroll
      for (int i = 0; i < N; ++i) copy_async(&staged[group][0][i][tid], x + first + col(i));
#pragma unroll
      for (int i = 0; i < N; ++i) copy_async(&staged[group][1][i][tid], residual + first + col(i));
      wait_copies();
#pragma unroll
      for (int i = 0; i < N; ++i) {
        xv[i] = staged[group][0][i][tid];
        rv[i] = staged[group][1][i][tid];
      }
    } else {
#pragma unroll
      for (int i = 0; i < N; ++i) xv[i] = load_vec<T, V>(x + first + col(i));
      if constexpr (Tr::add) {
#pragma unroll
        for (int i = 0; i < N; ++i) rv[i] = load_vec<T, V>(residual + first + col(i));
      }
    }
  }
  if constexpr (Tr::add) {
    // Not staged, the per-token fused kind keeps its loads together with a barrier before the
    // adds (H200: 0.4 µs sooner at T = 1, 2-5 % at T = 65536; a __syncwarp or an empty asm does
    // not stop ptxas). The other add kinds were measured faster without it.
    if constexpr (Tr::dynamic && !kStaged) __syncthreads();
    if (live) {
#pragma unroll
      for (int i = 0; i < N; ++i) {
        xv[i] = add_rounded(xv[i], rv[i]);
        *reinterpret_cast<Vec<T, V>*>(residual + first + col(i)) = xv[i];
      }
    }
  }

  // The per-token norm kinds need the row's largest |value| before any store. Under single
  // rounding it is (max |v * w|) * rinv (normed), so the fixed kernel takes it with the sum of
  // squares: one reduction. With the options at run time the values come first, then their
  // maximum in a second reduction, as per_token_fp8 does; both ways give the same bits. (Both
  // ways in one kernel, chosen at run time, cost it 16-40 registers.)
  constexpr bool kPerTokenNorm = Tr::dynamic && Tr::norm;
  // How the quantisers form y / s (common.cuh): the norm quantisers' fixed kernels (single
  // rounding) hold v * w and rinv apart and multiply v * w by rinv / s, one product an element
  // where the product with rinv and the division took four (rms_norm_group_fp8 issued 18-20
  // instructions an element at DRAM sizes, run 60); the other kernels divide the value, as
  // vLLM does. max_first: the per-token ones among them, which take the maximum as said above.
  constexpr bool kProduct = kFixed && Tr::norm && (Tr::dynamic || Tr::group);
  constexpr bool max_first = kProduct && Tr::dynamic;
  // The per-token norm kinds need every value twice (the row's maximum, then the stores).
  // With the weight in registers they keep v * w (max_first) or the value in fp32 registers,
  // which take the place of the slice and weight they came from (computing them twice made
  // these kernels issue-bound). With the weight at use the kept values would be the registers
  // it freed, so they are kept only up to 32 a thread (h = 4096 with 64 threads: 126 -> 56
  // registers, 91 % -> 94 % of the copy ceiling on the H200). Without a norm a value is one
  // conversion: never kept.
  constexpr bool keep = kPerTokenNorm && (!kWeightAtUse || N * V <= 32);
  float y[keep ? N : 1][V];
  float rinv = 1.0f, amax = 0.0f;  // amax: the per-token kinds' max |value| over the row
  float row_wmax = 0.0f;            // max_first: the row's max |v * w|
  if constexpr (Tr::norm) {
    float ss = 0.0f, wmax = 0.0f;  // wmax: max |v * w| (max_first)
    if (live) {
#pragma unroll
      for (int i = 0; i < N; ++i) {
        [[maybe_unused]] Vec<T, V> wi{};
        if constexpr (max_first) wi = weight(i);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const float v = element(xv[i], j);
          ss += v * v;
          if constexpr (max_first) {
            const float a = weighted(v, weight_of(element(wi, j), o.gemma));
            if constexpr (keep) y[i][j] = a;
            wmax = fmaxf(wmax, fabsf(a));
          }
        }
      }
    }
    if constexpr (max_first) {
      const float2 partial{warp_sum(ss), warp_max_magnitude(wmax)};
      const float2 r = row_reduce<S, SumAndMax, /*First=*/true>(partial, group, tid, rank);
      rinv = inv_rms(r.x, float(H), o.eps);
      row_wmax = r.y;
    } else {
      rinv = inv_rms(row_reduce<S, Sum, /*First=*/true>(warp_sum(ss), group, tid, rank), float(H), o.eps);
    }
  }
  const auto group_q = group_quant_for<S::hidden, F>(q);  // constants where F fixes them
  const auto quotient = [&] {
    if constexpr (kProduct) return Product{rinv};
    else return Quotient{};
  }();
  if constexpr (max_first) amax = quotient.max_of(row_wmax);  // NaN (a NaN in the row, or inf * 0) passed over
  // The value the kernel stores (before any fp8 scaling); with kProduct, v * w, the value before
  // its product with rinv. wi: weight(i), loaded once per vector by the caller.
  auto value = [&](int i, int j, const Vec<T, V>& wi) {
    if constexpr (kProduct) return weighted(element(xv[i], j), weight_of(element(wi, j), o.gemma));
    else if constexpr (Tr::norm) return normed<T>(element(xv[i], j), rinv, weight_of(element(wi, j), o.gemma), o.vllm);
    else return element(xv[i], j);
  };
  float inv_scale = 1.0f, token_s = 1.0f;
  if constexpr (Tr::fp8) inv_scale = 1.0f / load_float(scale);
  if constexpr (Tr::dynamic) {
    if constexpr (!max_first) {
      float m = 0.0f;
      if (live) {
#pragma unroll
        for (int i = 0; i < N; ++i) {
          const Vec<T, V> wi = weight(i);
#pragma unroll
          for (int j = 0; j < V; ++j) {
            const float v = value(i, j, wi);
            if constexpr (keep) y[i][j] = v;
            m = fmaxf(m, fabsf(v));
          }
        }
      }
      amax = row_reduce<S, Max, /*First=*/!Tr::norm>(warp_max_magnitude(m), group, tid, rank);
    }
    token_s = token_scale(capped(amax, o));
    if (live && rank == 0 && tid == 0) scales[row] = token_s;
  }
  const Divisor by_token_s = divisor(token_s);  // the per-token kinds' (unused by the others)
  // Bounded: the per-token scale came from the row's own maximum, so no quotient overflows
  // and divide needs no clamp; a scale_ub below the maximum breaks that, so it takes the
  // clamped division.
  auto store_row = [&](auto bounded) {
    [[maybe_unused]] constexpr bool kBounded = decltype(bounded)::value;
    // Vector i's values as stored, divided by the per-token scale (the group kinds divide later).
    auto values = [&](int i, float (&f)[V]) {
      if constexpr (keep) {  // v * w (max_first), or the value itself
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] = y[i][j];
      } else {
        const Vec<T, V> wi = weight(i);
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] = Tr::dynamic || Tr::group ? value(i, j, wi) : value(i, j, wi) * inv_scale;
      }
      if constexpr (Tr::dynamic) quotient.template apply<kBounded>(f, by_token_s);
    };
    auto store = [&](int i, const float (&f)[V]) {
      const int64_t at = first + col(i);
      if constexpr (Tr::fp8_out) store_fp8<V>(static_cast<uint8_t*>(out) + at, f);
      else if constexpr (Tr::add) store_vec<T, V>(x + at, f);
      else store_vec<T, V>(static_cast<T*>(out) + at, f);
    };
    // live is uniform over a row group (whole warps), so every lane of a warp shuffles.
    if constexpr (kPaired) {
#pragma unroll
      for (int i = 0; i < N; i += 2) {
        float a[V], b[V];
        values(i, a);
        values(i + 1, b);
        quantise_group_pair<V>(a, b, quotient, col(i), row, tokens, scales, group_q);
        store(i, a);
        store(i + 1, b);
      }
    } else {
#pragma unroll
      for (int i = 0; i < N; ++i) {
        float f[V];
        values(i, f);
        if constexpr (Tr::group) quantise_group<V>(f, quotient, col(i), row, tokens, scales, group_q);
        store(i, f);
      }
    }
  };
  if (live) {
    if constexpr (Tr::dynamic) {
      if (o.scale_ub != nullptr) store_row(std::false_type{});
      else store_row(std::true_type{});
    } else {
      store_row(std::true_type{});
    }
  }
}

inline Options options_of(const detail::LaunchParams& p) {
  return {p.eps, p.rounding == detail::Rounding::vllm, p.gemma, p.static_weight, p.scale_ub};
}

template <class S, Kind K>
struct LaunchSpecialised {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const int64_t ctas = (p.tokens + S::rows_per_cta - 1) / S::rows_per_cta * S::cluster;
      auto kernel = specialised<S, K, T, Fixed::none>;
      if constexpr (has_fixed_kernel<S, K>) {
        const Fixed f = fixed_form(p, Traits<K>::group);
        if (f == Fixed::defaults) kernel = specialised<S, K, T, Fixed::defaults>;
        if constexpr (Traits<K>::group) {
          if (f == Fixed::col_major) kernel = specialised<S, K, T, Fixed::col_major>;
          if (f == Fixed::col_major_ue8m0) kernel = specialised<S, K, T, Fixed::col_major_ue8m0>;
        }
      }
      return kiln::launch(kernel, dim3(static_cast<unsigned>(ctas)), dim3(S::threads * S::rows_per_cta),
                          S::cluster, stream, static_cast<T*>(p.input), static_cast<const T*>(p.weight),
                          static_cast<T*>(p.residual), p.output, p.scale, static_cast<float*>(p.scales), p.tokens,
                          options_of(p), group_quant_of(p));
    }
  };
};

template <class S, Kind K>
cudaError_t launch(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchSpecialised<S, K>::template Run>(p, stream);
}

// ---- generic kernel: hidden at run time, any alignment --------------------------

// One CTA of 256 threads per row, two passes over the row (the second mostly hits
// L1/L2; the fused kernels' second pass reads the residual they wrote), three for the
// per-token quantisers (the largest magnitude before the stores). The group quantisers'
// last two passes go group by group, one warp per group (quantise_row_in_groups). V = 8
// when rows and pointers allow 16-byte accesses, else 1.
constexpr int kGenericThreads = 256;

// The CTA's reduction of one value per thread (a sum, or a maximum of magnitudes: see
// warp_max_magnitude); `slots` is reused row after row.
template <bool Max>
__device__ __forceinline__ float block_reduce(float v, float (&slots)[kGenericThreads / 32]) {
  v = Max ? warp_max_magnitude(v) : warp_sum(v);
  if (threadIdx.x % 32 == 0) slots[threadIdx.x / 32] = v;
  __syncthreads();
  v = 0.0f;
#pragma unroll
  for (int k = 0; k < kGenericThreads / 32; ++k) v = Max ? fmaxf(v, slots[k]) : v + slots[k];
  __syncthreads();  // slots is reused by the next reduction
  return v;
}

template <Kind K, class T, int V>
__global__ void __launch_bounds__(kGenericThreads)
generic(T* __restrict__ x, const T* __restrict__ w, T* __restrict__ residual, void* __restrict__ out,
        const float* __restrict__ scale, float* __restrict__ scales, int64_t tokens, int64_t hidden, Options o,
        GroupQuant q) {
  using Tr = Traits<K>;
  __shared__ float slots[kGenericThreads / 32];
  wait_for_predecessor();
  allow_successor();
  const float inv_scale = Tr::fp8 ? 1.0f / load_float(scale) : 1.0f;
  // Each thread reads back the columns it wrote in the first pass.
  const T* src = Tr::add ? residual : x;
  for (int64_t row = blockIdx.x; row < tokens; row += gridDim.x) {
    const int64_t first = row * hidden;
    float rinv = 1.0f;
    if constexpr (Tr::norm) {
      float ss = 0.0f;
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden; col += kGenericThreads * V) {
        Vec<T, V> xv = load_vec<T, V>(x + first + col);
        if constexpr (Tr::add) {
          xv = add_rounded(xv, load_vec<T, V>(residual + first + col));
          *reinterpret_cast<Vec<T, V>*>(residual + first + col) = xv;
        }
#pragma unroll
        for (int j = 0; j < V; ++j) ss += element(xv, j) * element(xv, j);
      }
      rinv = inv_rms(block_reduce<false>(ss, slots), float(hidden), o.eps);
    }
    // The values stored, before any fp8 scaling, for the V columns at `col`.
    auto values = [&](int64_t col, float (&f)[V]) {
      const Vec<T, V> v = load_vec<T, V>(src + first + col);
      if constexpr (Tr::norm) {
        const Vec<T, V> wv = load_vec<T, V>(w + col);
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] = normed<T>(element(v, j), rinv, weight_of(element(wv, j), o.gemma), o.vllm);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] = element(v, j);
      }
    };
    float token_s = 1.0f;
    if constexpr (Tr::dynamic) {
      float amax = 0.0f;
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden; col += kGenericThreads * V) {
        float f[V];
        values(col, f);
#pragma unroll
        for (int j = 0; j < V; ++j) amax = fmaxf(amax, fabsf(f[j]));
      }
      token_s = token_scale(capped(block_reduce<true>(amax, slots), o));
      if (threadIdx.x == 0) scales[row] = token_s;
    }
    const Divisor by_token_s = divisor(token_s);
    if constexpr (Tr::group) {
      // A warp reads columns other threads wrote to the residual: block_reduce's
      // __syncthreads (the add kinds norm) has made them visible.
      quantise_row_in_groups<V>(values, static_cast<uint8_t*>(out) + first, row, tokens, hidden, scales, q);
    } else {
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * V; col < hidden; col += kGenericThreads * V) {
        float f[V];
        values(col, f);
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] = Tr::dynamic ? divide(f[j], by_token_s) : f[j] * inv_scale;
        if constexpr (Tr::fp8_out) store_fp8<V>(static_cast<uint8_t*>(out) + first + col, f);
        else if constexpr (Tr::add) store_vec<T, V>(x + first + col, f);
        else store_vec<T, V>(static_cast<T*>(out) + first + col, f);
      }
    }
  }
}

inline bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <Kind K>
struct LaunchGeneric {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const uintptr_t out_bytes = Traits<K>::fp8_out ? 8 : 16;  // 8 elements of the output
      const bool wide = p.hidden % 8 == 0 && aligned(p.input, 16) && aligned(p.weight, 16) &&
                        (!Traits<K>::add || aligned(p.residual, 16)) && (p.output == nullptr || aligned(p.output, out_bytes));
      const dim3 grid = row_stride_grid(p.tokens);
      auto* x = static_cast<T*>(p.input);
      const auto* w = static_cast<const T*>(p.weight);
      auto* r = static_cast<T*>(p.residual);
      auto* scales = static_cast<float*>(p.scales);
      return wide ? kiln::launch(generic<K, T, 8>, grid, dim3(kGenericThreads), 1, stream, x, w, r, p.output, p.scale,
                                 scales, p.tokens, p.hidden, options_of(p), group_quant_of(p))
                  : kiln::launch(generic<K, T, 1>, grid, dim3(kGenericThreads), 1, stream, x, w, r, p.output, p.scale,
                                 scales, p.tokens, p.hidden, options_of(p), group_quant_of(p));
    }
  };
};

template <Kind K>
cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchGeneric<K>::template Run>(p, stream);
}

template <Kind K>
cudaError_t probe_generic() {
  return probe(generic<K, __nv_bfloat16, 1>);
}

}  // namespace kiln::norm

// The ten kernels' names for kiln-gen's instances and registry: Schedule<...>,
// launch<S>, launch_generic<> and probe_generic<>, each bound to its Kind. The generic
// ones are templates so that an instance's TU, which never names them, compiles none.
#define KILN_NORM_KERNEL(name, kind)                                                              \
  namespace kiln::name {                                                                          \
  template <int Hidden, int Threads, int VecN, int RowsPerCta, int Cluster, int WeightAtUse = 0,  \
            int Stage = 0>                                                                        \
  using Schedule = norm::Schedule<Hidden, Threads, VecN, RowsPerCta, Cluster, WeightAtUse, Stage>;\
  template <class S>                                                                              \
  cudaError_t launch(const detail::LaunchParams& p, cudaStream_t s) {                             \
    return norm::launch<S, norm::Kind::kind>(p, s);                                               \
  }                                                                                               \
  template <class = void>                                                                         \
  cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t s) {                     \
    return norm::launch_generic<norm::Kind::kind>(p, s);                                          \
  }                                                                                               \
  template <class = void>                                                                         \
  cudaError_t probe_generic() {                                                                   \
    return norm::probe_generic<norm::Kind::kind>();                                               \
  }                                                                                               \
  }

KILN_NORM_KERNEL(rms_norm, norm)
KILN_NORM_KERNEL(rms_norm_fp8, norm_fp8)
KILN_NORM_KERNEL(fused_add_rms_norm, add_norm)
KILN_NORM_KERNEL(fused_add_rms_norm_fp8, add_norm_fp8)
KILN_NORM_KERNEL(per_token_fp8, quant)
KILN_NORM_KERNEL(rms_norm_per_token_fp8, norm_quant)
KILN_NORM_KERNEL(fused_add_rms_norm_per_token_fp8, add_norm_quant)
KILN_NORM_KERNEL(per_token_group_fp8, group_quant)
KILN_NORM_KERNEL(rms_norm_group_fp8, norm_group_quant)
KILN_NORM_KERNEL(fused_add_rms_norm_group_fp8, add_norm_group_quant)
#undef KILN_NORM_KERNEL
