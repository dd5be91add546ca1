// Device helpers shared by every kiln kernel template: vector memory access,
// FP8 conversion, reductions, FP8 group quantisation (scales and their layouts),
// programmatic dependent launch, and the launch call.
// Kernel math lives in the kernel's own template; only what two kernels share is here.
#pragma once

#include <cstdint>
#include <type_traits>

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

// Every load of a tensor goes through here: a coherent ld.global that stays after the PDL wait.
// A plain read through a const __restrict__ pointer becomes ld.global.nc, which ptxas takes to
// be read-only for the kernel's whole life and may hoist above griddepcontrol.wait: it hoisted
// the norm kernels' weight loads above a wait that sat in a branch, so with PDL they read the
// weight before the previous kernel had written it (test_gpu's late-writer test, run 37).
// volatile keeps nvcc from moving the load across the wait; ptxas keeps coherent loads after it.
template <class T, int N>
__device__ __forceinline__ Vec<T, N> load_vec(const T* p) {
  constexpr int kBytes = sizeof(Vec<T, N>);
  static_assert(kBytes == 16 || kBytes == 8 || kBytes == 4 || kBytes == 2, "2, 4, 8 or 16 bytes");
  union {
    Vec<T, N> v;
    uint32_t w[kBytes >= 4 ? kBytes / 4 : 1];
    uint16_t h;
  } u;
  if constexpr (kBytes == 16) {
    asm volatile("ld.global.v4.b32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(u.w[0]), "=r"(u.w[1]), "=r"(u.w[2]), "=r"(u.w[3])
                 : "l"(p)
                 : "memory");
  } else if constexpr (kBytes == 8) {
    asm volatile("ld.global.v2.b32 {%0, %1}, [%2];" : "=r"(u.w[0]), "=r"(u.w[1]) : "l"(p) : "memory");
  } else if constexpr (kBytes == 4) {
    asm volatile("ld.global.b32 %0, [%1];" : "=r"(u.w[0]) : "l"(p) : "memory");
  } else {
    asm volatile("ld.global.b16 %0, [%1];" : "=h"(u.h) : "l"(p) : "memory");
  }
  return u.v;
}

// One vector copied from global into shared memory without passing through a register
// (cp.async; 16 bytes go through L2 only). Not a non-coherent load, so ptxas keeps it after
// the PDL wait, as load_vec's. The copies a thread issued are visible to it after wait_copies().
template <class T, int N>
__device__ __forceinline__ void copy_async(Vec<T, N>* to, const T* from) {
  constexpr int kBytes = sizeof(Vec<T, N>);
  static_assert(kBytes == 16 || kBytes == 8 || kBytes == 4, "cp.async moves 4, 8 or 16 bytes");
  const auto shared = static_cast<uint32_t>(__cvta_generic_to_shared(to));
  if constexpr (kBytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared), "l"(from) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;" ::"r"(shared), "l"(from), "n"(kBytes) : "memory");
  }
}

// Waits for every copy_async this thread issued.
__device__ __forceinline__ void wait_copies() { asm volatile("cp.async.wait_all;" ::: "memory"); }

// One float a previous kernel may have written (a per-tensor scale), loaded as a tensor is.
__device__ __forceinline__ float load_float(const float* p) { return load_vec<float, 1>(p).v[0]; }

// Element j of a vector as a float. A bf16 pair shares a 32-bit register: the high element is
// one AND of it, where converting the extracted half took two instructions (the norm kernels
// unpack every element twice, so this is a tenth of their instructions).
template <class T, int N>
__device__ __forceinline__ float element(const Vec<T, N>& v, int j) {
  if constexpr (std::is_same_v<T, __nv_bfloat16> && N % 2 == 0) {
    const uint32_t pair = reinterpret_cast<const uint32_t*>(v.v)[j / 2];
    return __uint_as_float(j % 2 == 0 ? pair << 16 : pair & 0xffff0000u);
  } else {
    return to_float(v.v[j]);
  }
}

// a + b rounded to T, element by element, two at a time (HADD2). The same bits as rounding
// their fp32 sum: fp32 carries at least 2p + 2 bits for T's p, so rounding twice is exact.
// Through fp32 it took four instructions and two fp32 registers an element (H200, the add
// kinds at T = 1 and 32: 0.02-1.1 µs sooner, up to 15 fewer registers).
template <class T, int N>
__device__ __forceinline__ Vec<T, N> add_rounded(const Vec<T, N>& a, const Vec<T, N>& b) {
  Vec<T, N> sum;
  if constexpr (N % 2 == 0) {
    using T2 = std::conditional_t<std::is_same_v<T, __half>, __half2, __nv_bfloat162>;
#pragma unroll
    for (int k = 0; k < N / 2; ++k)
      reinterpret_cast<T2*>(sum.v)[k] = __hadd2(reinterpret_cast<const T2*>(a.v)[k], reinterpret_cast<const T2*>(b.v)[k]);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) sum.v[j] = from_float<T>(to_float(a.v[j]) + to_float(b.v[j]));
  }
  return sum;
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

// The warp's sum, the same bits in every lane (the butterfly adds the same two values in every
// lane at each step): row_reduce's cluster path has each lane write its own copy to a peer.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The largest of the warp's magnitudes, in every lane. v must be +0, positive (subnormals
// included) or +inf, never -0 or NaN: every caller folds fabsf(y) into +0.0f with fmaxf, which
// passes NaN over (a scale must not be NaN). Such floats' bits order as their values do, so one
// redux.sync on the bits is the exact maximum, in place of a five-step shuffle tree on the
// latency path of a small batch.
__device__ __forceinline__ float warp_max_magnitude(float v) {
  return __uint_as_float(__reduce_max_sync(0xffffffffu, __float_as_uint(v)));
}

// The largest of the values of each aligned run of Lanes lanes, given to every lane of the run.
template <int Lanes>
__device__ __forceinline__ float lanes_max(float v) {
#pragma unroll
  for (int offset = 1; offset < Lanes; offset <<= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The largest of the values of each aligned run of g / V lanes (g = 64 or 128 columns of V
// per lane, V >= 4), given to every lane of the run. The steps every group size takes are
// unconditional; only g = 128 takes one more, a branch uniform over the warp.
template <int V>
__device__ __forceinline__ float group_lanes_max(float v, int g) {
  static_assert(V == 4 || V == 8, "a group of 64 columns spans 16 or 8 lanes");
  v = lanes_max<64 / V>(v);
  if (g == 128) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 64 / V));
  return v;
}

// ---- division by a scale ---------------------------------------------------------

// The dynamic quantisers divide by their scale, as vLLM does. IEEE division costs about ten
// instructions an element (reciprocal, range check, branch) and made them issue-bound; with
// one reciprocal per scale an element takes five, and the fp8 bytes are the same:
// - Markstein's correction: with r = 1/s rounded to nearest and q = x * r, q + (x - q * s) * r
//   with fmas is x / s rounded to nearest. q can be up to about 1.5 ulp off (x's mantissa below
//   s's), outside the theorem's usual one-ulp premise: the GPU test below holds the result to
//   IEEE division on and beside every fp8 rounding boundary. The remainder is formed as
//   -(q * s - x) so that -0 / s stays -0.
// - The clamp to +-2^126 keeps x = +-inf and quotients that overflow from becoming NaN (they
//   give +-inf; fp8 saturates both). NaN stays NaN through the remainder.
// - An infinite scale (a group holding inf) divides as r = 0 with s taken as 0: q = x * 0,
//   so finite x gives +-0 and +-inf gives NaN, as x / inf does.
// - Below |x| = 2^-100 the remainder may underflow, and the quotient differ from IEEE's by
//   an ulp; it is below 2^-57 for every scale here (s >= 2^-43), so 0 in fp8 either way.
// s is never 0 or NaN (the scale floors and NaN-passing maxima see to it), at least 2^-43
// (the group floor 1e-10 / 448) and at most 2^120 (FLT_MAX / 448 rounded up by UE8M0) or inf,
// so 1 / s is normal. tests/gpu/test_device_math.cu checks it all over that range.
struct Divisor {
  float s;  // the scale, or 0 when it is infinite
  float r;  // 1 / s rounded to nearest (0 when s is infinite)
};

// 1 / s rounded to nearest, for s in [2^-126, 2^126): the approximation of the special function
// unit and one Newton step. That is the fast path of __frcp_rn, whose range check and slow-path
// call only serve s outside that range; every scale here is inside it, or inf, which divisor
// takes apart. The call alone, once per row, cost the per-token norm kinds 23 registers (71 -> 48):
// it sits after the row's maximum, where every kept value is live (0.91-0.93x the time without
// it at T = 65536 on the H200). test_device_math holds it equal to __frcp_rn for every
// float in the range.
__device__ __forceinline__ float reciprocal(float s) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(s));
  return fmaf(r, -fmaf(r, s, -1.0f), r);
}

__device__ __forceinline__ Divisor divisor(float s) {
  const bool inf = isinf(s);
  return {inf ? 0.0f : s, inf ? 0.0f : reciprocal(s)};
}

// Bounded: the caller knows s was taken from a maximum over its values' magnitudes, s >=
// RN(max|x| / 448), or is infinite: every group scale, and a per-token scale without
// scale_ub. Then q = x * r is at most about 448, finite unless x is (and then s is inf), and
// the clamp, two instructions of the five, changes nothing.
template <bool Bounded = false>
__device__ __forceinline__ float divide(float x, const Divisor& d) {
  constexpr float kBound = 0x1p126f;
  const float q = Bounded ? x * d.r : fminf(fmaxf(x * d.r, -kBound), kBound);
  return fmaf(-fmaf(q, d.s, -x), d.r, q);
}

// How a dynamic quantiser forms y / s from the values f it holds, given its scale's Divisor:
// - Quotient: f is y, and y / s is IEEE division's quotient (divide), as vLLM divides.
// - Product: y = f * pre rounded once, with f and pre held apart (the norm quantisers under
//   single rounding: f = v * w, pre = rinv; see `weighted` in rms_norm.cuh). y / s is then
//   f * (pre * (1 / s)): one product an element where pre's product and divide took four (the
//   norm quantisers are issue-bound). Three roundings against two, so it is a few ulps of fp32
//   from the quotient of the rounded y (at most 3 in tests/gpu/test_device_math.cu), which the
//   reference's tie window (2^-16 of a value for the norm kinds) covers; with a power-of-two
//   scale it is the same float. That needs pre / s to be a normal float, as it is when s comes
//   from the values' own maximum (about 448 / max |f|). The scale is the same bits either way:
//   rounding is monotone, so max |round(f * pre)| = round(max |f| * pre), and no clamp is
//   needed, since a product of finite floats does not turn into NaN (fp8 saturates infinities).
// max_of turns the largest |f| into the largest |y|; apply divides f by the scale. Bounded is
// divide's (Quotient only).
struct Quotient {
  __device__ float max_of(float fmax) const { return fmax; }
  template <bool Bounded, int V>
  __device__ void apply(float (&f)[V], const Divisor& d) const {
#pragma unroll
    for (int j = 0; j < V; ++j) f[j] = divide<Bounded>(f[j], d);
  }
};
struct Product {
  float pre;
  // NaN (inf * 0, an infinite value in a row whose rinv is 0) is passed over, as a maximum
  // over the rounded values passes their NaN over.
  __device__ float max_of(float fmax) const { return fmaxf(fmax * pre, 0.0f); }
  template <bool Bounded, int V>
  __device__ void apply(float (&f)[V], const Divisor& d) const {
    const float m = pre * d.r;  // 0 for an infinite scale, as divide's r
#pragma unroll
    for (int j = 0; j < V; ++j) f[j] *= m;
  }
};

// max|y| / 448 (the largest e4m3fn value), as IEEE divides: the first step of every dynamic
// scale, per token or per group. amax is never NaN (maxima pass NaN over); inf gives inf.
constexpr float kFp8Max = 448.0f;
__device__ __forceinline__ float over_fp8_max(float amax) {
  constexpr Divisor kBy448 = {kFp8Max, 1.0f / kFp8Max};
  return divide(amax, kBy448);
}

// ---- FP8 group quantisation (docs/design.md, "Kernel semantics") -----------------
// Per row t and group k of g columns: s = max(amax, 1e-10) / 448, optionally rounded up
// to a power of two (UE8M0); out = fp8(y / s). Shared by the norm and silu_mul kernels.

// A launch's group options, resolved on the host (LaunchParams' group fields).
struct GroupQuant {
  int32_t size;               // g: 64 or 128 columns per scale (a power of two)
  int32_t groups;             // G = ceil(hidden / g); the last group may be partial (generic kernels)
  detail::ScaleLayout layout;
  bool ue8m0;                 // scales rounded up to 2^k (always with packed_ue8m0)
};

// Zero for the kernels without groups (group_size 0).
inline GroupQuant group_quant_of(const detail::LaunchParams& p) {
  const int32_t g = p.group_size;
  return {g, g > 0 ? static_cast<int32_t>((p.hidden + g - 1) / g) : 0, p.scale_layout,
          p.ue8m0 || p.scale_layout == detail::ScaleLayout::packed_ue8m0};
}

// A kernel's fixed forms. Each run-time option is a branch in the loop over vectors and costs
// registers on every path, so the options consumers launch with have kernels with them as
// constants (docs/design.md, "Plan options"):
//   none:      every option a run-time flag (any options);
//   defaults:  the options every config is tuned with: rounding single, no gemma; the group
//              kinds g = KILN_DEFAULT_GROUP_SIZE, row-major scales, no UE8M0;
//   col_major, col_major_ue8m0: the group kinds only, the same but the scales in DeepGEMM's
//              column-major TMA layout, fp32 or rounded up to powers of two (DeepGEMM reads
//              either there).
// H200, kiln-bench: with column-major scales the run-time kernel took 1.09-1.29x the defaults'
// time in rms_norm_group_fp8 and per_token_group_fp8, a fixed kernel 0.80-0.93x of that. The
// layout as a run-time flag inside one fixed kernel cost the defaults up to 4 % (run 120), so
// each layout has its own; with UE8M0 a flag, the column-major kernel issued 8.6-12 % more
// instructions than the row-major one (run 127), so each rounding has its own.
enum class Fixed { none, defaults, col_major, col_major_ue8m0 };

// The fixed form a launch's group options allow (the norm options aside).
inline Fixed fixed_group_form(const detail::LaunchParams& p) {
  if (p.group_size != KILN_DEFAULT_GROUP_SIZE) return Fixed::none;
  if (p.scale_layout == detail::ScaleLayout::row_major && !p.ue8m0) return Fixed::defaults;
  if (p.scale_layout != detail::ScaleLayout::col_major_tma) return Fixed::none;
  return p.ue8m0 ? Fixed::col_major_ue8m0 : Fixed::col_major;
}

// The group options a kernel of form F reads: q itself (none), or every one a constant.
template <int Hidden, bool ColMajor, bool Ue8m0>
struct FixedGroupQuant {
  static constexpr int32_t size = KILN_DEFAULT_GROUP_SIZE;
  static constexpr int32_t groups = Hidden / size;
  static constexpr bool ue8m0 = Ue8m0;
  static_assert(Hidden % size == 0, "a specialised group kernel's rows are whole groups");
};
template <int Hidden, Fixed F>
__device__ __forceinline__ auto group_quant_for(const GroupQuant& q) {
  if constexpr (F == Fixed::none) return q;
  else return FixedGroupQuant<Hidden, F != Fixed::defaults, F == Fixed::col_major_ue8m0>{};
}

// The scale of a group whose largest magnitude is amax (never NaN: maxima pass NaN over).
__device__ __forceinline__ float group_scale(float amax, bool ue8m0) {
  constexpr float kEps = 1e-10f;  // vLLM's default group eps
  float s = over_fp8_max(fmaxf(amax, kEps));
  if (ue8m0) {
    // Round up to a power of two: bump the exponent when any mantissa bit is set.
    // An all-zero group gives 2^-33 (e = 94); amax = inf gives inf (e = 255).
    const uint32_t bits = __float_as_uint(fmaxf(s, kEps));
    const uint32_t e = ((bits >> 23) & 0xffu) + ((bits & 0x7fffffu) != 0);
    s = __uint_as_float(e << 23);
  }
  return s;
}

// The packed layout's zero padding (vLLM writes it), each pad written once:
//   (a) the pad bytes k' in [G, 4 * ceil(G / 4)) of a row, by the row's group G - 1;
//   (b) the pad rows [tokens, T4) of word column j < ceil(G / 4) - 1, by row tokens - 1's
//       group 4j. The last word column's pad rows are not allocated, so not written.
// Inlined, though only a row's last group and the last row pad: out of line it was a call in
// every group kernel's per-vector scale store, and a call's convention holds registers across
// the whole main loop (H200, T = 65536: per_token_group_fp8 0.94-0.95x the time inlined,
// fused_add_rms_norm_group_fp8 0.94-0.96x, with divisor's reciprocal free of its call too).
// Inlined it costs per_token_group_fp8 about 0.05 µs at T <= 32 on its cluster schedules.
__device__ __forceinline__ void pad_packed_scales(int32_t* words, const GroupQuant& q, int64_t t, int64_t tokens,
                                                  int64_t t4, int k) {
  const int j = k / 4;
  uint8_t* word = reinterpret_cast<uint8_t*>(words + j * t4 + t);
  if (k == q.groups - 1)
    for (int b = k % 4 + 1; b < 4; ++b) word[b] = 0;  // (a)
  if (t == tokens - 1 && k % 4 == 0 && j < (q.groups + 3) / 4 - 1)
    for (int64_t r = tokens; r < t4; ++r) words[j * t4 + r] = 0;  // (b)
}

// Store the scale s of row t, group k in q's layout (T4 = tokens rounded up to 4 rows):
// row_major [t * G + k]; col_major_tma [k * T4 + t]; packed_ue8m0: the exponent byte k % 4
// of int32 word (k / 4) * T4 + t, and the padding above. Inlined: a store is one or two
// instructions, where a call in a kernel's main loop cost its live registers' saving.
__device__ __forceinline__ void store_group_scale(void* scales, const GroupQuant& q, int64_t t, int64_t tokens, int k,
                                                  float s) {
  const int64_t t4 = (tokens + 3) / 4 * 4;
  switch (q.layout) {
    case detail::ScaleLayout::row_major:
      static_cast<float*>(scales)[t * q.groups + k] = s;
      return;
    case detail::ScaleLayout::col_major_tma:
      static_cast<float*>(scales)[k * t4 + t] = s;
      return;
    case detail::ScaleLayout::packed_ue8m0: {
      auto* words = static_cast<int32_t*>(scales);
      // s = 2^(e - 127), sign 0: its exponent byte.
      reinterpret_cast<uint8_t*>(words + (k / 4) * t4 + t)[k % 4] = static_cast<uint8_t>(__float_as_uint(s) >> 23);
      if (k == q.groups - 1 || t == tokens - 1) pad_packed_scales(words, q, t, tokens, t4, k);
      return;
    }
  }
}

// The same for a fixed form's options: the layout a constant, so the switch above folds to its case.
template <int Hidden, bool ColMajor, bool Ue8m0>
__device__ __forceinline__ void store_group_scale(void* scales, const FixedGroupQuant<Hidden, ColMajor, Ue8m0>& q,
                                                  int64_t t, int64_t tokens, int k, float s) {
  constexpr auto layout = ColMajor ? detail::ScaleLayout::col_major_tma : detail::ScaleLayout::row_major;
  store_group_scale(scales, GroupQuant{q.size, q.groups, layout, q.ue8m0}, t, tokens, k, s);
}

// Specialised kernels: f holds this lane's values of columns [col, col + V) of row t, and
// the g / V lanes holding a group are an aligned run of one warp (V >= 4, and a warp's
// first column is a multiple of 32 * V >= 128). The run's amax comes from the shuffle, so
// every lane has the scale; the lane holding the group's first column stores it; every
// lane divides its values by it, as quotient says (Quotient or Product). All 32 lanes of the
// warp must call this.
template <int V, class Q, class G>
__device__ __forceinline__ void quantise_group(float (&f)[V], const Q& quotient, int col, int64_t t, int64_t tokens,
                                               void* scales, const G& q) {
  static_assert(V == 4 || V == 8, "a group of 64 columns spans 16 or 8 lanes");
  float fmax = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) fmax = fmaxf(fmax, fabsf(f[j]));
  const float s = group_scale(quotient.max_of(group_lanes_max<V>(fmax, q.size)), q.ue8m0);
  // g is 64 or 128: a shift, where a division by the run-time g cost two dozen instructions.
  if ((col & (q.size - 1)) == 0) store_group_scale(scales, q, t, tokens, col >> (q.size == 128 ? 7 : 6), s);
  quotient.template apply</*Bounded=*/true>(f, divisor(s));  // s >= amax / 448
}

// Specialised kernels, paired form (V = 8): a holds this lane's values of columns [col, col + 8)
// and b those of [col + 64, col + 72) of row t; the aligned run of 8 lanes holding a 128-column
// block has its first lane at the block's first column. g = 128: the block is one group, whose
// scale, store and reciprocal serve 16 values a lane (8 in quantise_group); g = 64: the block
// is a's group and b's. quotient as quantise_group's. All 32 lanes of the warp must call this.
template <int V, class Q, class G>
__device__ __forceinline__ void quantise_group_pair(float (&a)[V], float (&b)[V], const Q& quotient, int col, int64_t t,
                                                    int64_t tokens, void* scales, const G& q) {
  static_assert(V == 8, "a pair of 8-wide vectors per lane: 8 lanes hold 128 columns");
  float fmax_a = 0.0f, fmax_b = 0.0f;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    fmax_a = fmaxf(fmax_a, fabsf(a[j]));
    fmax_b = fmaxf(fmax_b, fabsf(b[j]));
  }
  // s >= amax / 448 below: bounded.
  if (q.size == 128) {  // uniform over the grid
    const float s = group_scale(quotient.max_of(lanes_max<8>(fmaxf(fmax_a, fmax_b))), q.ue8m0);
    if ((col & 127) == 0) store_group_scale(scales, q, t, tokens, col >> 7, s);
    const Divisor d = divisor(s);
    quotient.template apply<true>(a, d);
    quotient.template apply<true>(b, d);
  } else {
    const float sa = group_scale(quotient.max_of(lanes_max<8>(fmax_a)), q.ue8m0);
    const float sb = group_scale(quotient.max_of(lanes_max<8>(fmax_b)), q.ue8m0);
    if ((col & 127) == 0) {
      store_group_scale(scales, q, t, tokens, col >> 6, sa);
      store_group_scale(scales, q, t, tokens, (col >> 6) + 1, sb);
    }
    quotient.template apply<true>(a, divisor(sa));
    quotient.template apply<true>(b, divisor(sb));
  }
}

// Generic kernels: quantise row t, out_row = its fp8 output, one warp per group (the CTA's
// warps stride over the groups, lanes over a group's columns; the last group may be
// partial). values(col, f) gives the values of columns [col, col + V); with V > 1, V
// divides hidden. Two passes over the group: its amax, then the divided values.
template <int V, class Values>
__device__ __forceinline__ void quantise_row_in_groups(const Values& values, uint8_t* out_row, int64_t t,
                                                       int64_t tokens, int64_t hidden, void* scales,
                                                       const GroupQuant& q) {
  const int lane = threadIdx.x % 32;
  for (int k = threadIdx.x / 32; k < q.groups; k += blockDim.x / 32) {
    const int64_t begin = static_cast<int64_t>(k) * q.size;
    const int64_t end = begin + q.size < hidden ? begin + q.size : hidden;
    float amax = 0.0f;
    for (int64_t col = begin + lane * V; col < end; col += 32 * V) {
      float f[V];
      values(col, f);
#pragma unroll
      for (int j = 0; j < V; ++j) amax = fmaxf(amax, fabsf(f[j]));
    }
    const float s = group_scale(warp_max_magnitude(amax), q.ue8m0);
    if (lane == 0) store_group_scale(scales, q, t, tokens, k, s);
    const Divisor d = divisor(s);
    for (int64_t col = begin + lane * V; col < end; col += 32 * V) {
      float f[V];
      values(col, f);
#pragma unroll
      for (int j = 0; j < V; ++j) f[j] = divide<true>(f[j], d);  // s >= amax / 448: bounded
      store_fp8<V>(out_row + col, f);
    }
  }
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
