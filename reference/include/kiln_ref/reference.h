// kiln's CPU reference: what every kernel must compute (docs/design.md, "Kernel semantics"),
// in double precision, and the one check of a launch's outputs against it. Used by the
// GPU tests and by kiln-tune; header-only, plain C++ (kiln.h for the descriptor types,
// no CUDA header).
//
// Use, for any kernel of the library:
//
//   kiln_kernel_desc desc{};  desc.struct_size = sizeof desc;
//   kiln_kernel_find("rms_norm_fp8", &desc);
//   kiln::ref::Problem p;                       // what the launch was given
//   p.kernel = desc.name; p.dtype = ...; p.tokens = T; p.hidden = H; p.eps = ...;
//   p.rounding = ...; p.gemma = ...;
//   p.inputs[KILN_ROLE_INPUT] = host_x;         // host copies, by role, as the device held them
//   ...                                         //   before the launch (the scale: one float)
//   const kiln::ref::Expected want = kiln::ref::reference(p);  // throws without a reference
//   kiln::ref::Tensors got{};                   // host copies after the launch, by role:
//   got[KILN_ROLE_OUTPUT] = host_out;           //   every tensor the kernel writes; tensors it
//   got[KILN_ROLE_WEIGHT] = host_w_after;       //   only reads may be given too (checked unchanged)
//   std::string error = kiln::ref::check(desc, p, got, want);  // "" when right
//
// The rule (docs/design.md, "Correctness"): fp8 outputs equal the reference except for one-ulp differences
// where the reference lies within fp32 rounding of a tie (Expected::tie_window); bf16/fp16
// outputs within one ulp of the rounded reference; a written-back residual equal to
// round_T(x + r) exactly; fp32 outputs (the per-token scales) within one ulp or tie_window. Where the `vllm` rounding convention
// rounds an intermediate to the input dtype and the exact intermediate lies within
// tie_window of a tie, the result from the other rounding is accepted too (Expected::alt);
// as that convention's roundings are all modelled, its bf16/fp16 outputs must be exact
// (one ulp could not tell the two conventions apart).
//
// Group quantisers (KILN_OPTION_GROUP): Problem::group_size, scale_layout and ue8m0 as the plan's;
// their scales are checked in the layout's storage (TensorLayout, as kiln_tensor_layout_of gives
// it: a host copy of the whole span), UE8M0 exponents and the layout's zero padding exactly, and,
// where Problem::inputs[KILN_ROLE_SCALES] holds the span as it was before the launch, every byte
// the layout does not write unchanged.
//
// Adding a kernel: its reference function below and one row in kReferences; the GPU
// tests fail while a kernel of the library has no row here (has_reference).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/kiln.h"
#include "kiln_ref/numeric.h"

namespace kiln::ref {

enum class Rounding { single, vllm };  // kiln_rounding's order

// Pointers by kiln_role, as kiln_args.tensors holds them (here: host memory).
using Tensors = std::array<const void*, KILN_ROLE_SLOTS>;

// One launch's inputs: the plan's dtype and options, the scalars, and host copies of the
// tensors the kernel reads as they were before the launch (an in-out tensor's old value).
struct Problem {
  std::string kernel;  // the registry's name, "rms_norm_fp8"
  DType dtype = DType::bf16;
  int64_t tokens = 0;
  int64_t hidden = 0;
  float eps = 1e-6f;
  Rounding rounding = Rounding::single;
  bool gemma = false;
  // Group quantisers (KILN_OPTION_GROUP): columns per scale (0 is taken as KILN_DEFAULT_GROUP_SIZE, 128), how the
  // scales are laid out, and whether each scale is rounded up to a power of two (always
  // with KILN_SCALES_PACKED_UE8M0). The other kernels ignore them.
  int32_t group_size = KILN_DEFAULT_GROUP_SIZE;
  kiln_scale_layout scale_layout = KILN_SCALES_ROW_MAJOR;
  bool ue8m0 = false;
  Tensors inputs{};  // a group quantiser's SCALES, given here as it was before the launch (poisoned),
                     // has every byte its layout does not write checked unchanged
  // Communicator kernels (KILN_OPTION_COMM): every rank's x in rank order, host copies
  // ([T, H] each; inputs[KILN_ROLE_INPUT] is this rank's). Empty for the others.
  std::vector<const void*> rank_inputs;

  // "rms_norm_fp8 bf16 hidden=4096 tokens=17 rounding=vllm gemma",
  // "rms_norm_group_fp8 bf16 hidden=4096 tokens=17 group=64 layout=col_major_tma ue8m0"
  std::string label() const {
    std::string s = kernel + " " + dtype_name(dtype) + " hidden=" + std::to_string(hidden) +
                    " tokens=" + std::to_string(tokens);
    if (rounding == Rounding::vllm) s += " rounding=vllm";
    if (gemma) s += " gemma";
    if (group_size != KILN_DEFAULT_GROUP_SIZE && group_size != 0) s += " group=" + std::to_string(group_size);
    if (scale_layout == KILN_SCALES_COL_MAJOR_TMA) s += " layout=col_major_tma";
    else if (scale_layout == KILN_SCALES_PACKED_UE8M0) s += " layout=packed_ue8m0";
    else if (scale_layout != KILN_SCALES_ROW_MAJOR) s += " layout=" + std::to_string(static_cast<int>(scale_layout));
    if (ue8m0) s += " ue8m0";
    if (!rank_inputs.empty()) s += " ranks=" + std::to_string(rank_inputs.size());
    return s;
  }
};

// What each tensor the kernel writes must hold, by role.
struct Expected {
  struct Tensor {
    std::vector<double> value;  // the exact result per element, rows * cols; empty: the kernel does not write this role
                                // (a group quantiser's scales: [T, G] row-major, whatever the layout: check()
                                // finds each in the layout's storage)
    std::vector<double> alt;    // empty, or value's size: an equally acceptable result (== value where there is none)
    std::vector<double> alt2;   // empty, or value's size: a third (a near tie under a row scale that moved too)
    bool exact = false;         // bit-exact after rounding to the element type (value's or alt's): the written-back
                                // residual, the 16-bit output of the vllm convention, UE8M0 scales (any NaN for a NaN)
    double window = -1;         // >= 0: this tensor's relative window (fp32 elements) instead of tie_window

    // The first n elements: the reference of fewer tokens (rows come first), under the same rules.
    Tensor first(std::size_t n) const {
      auto cut = [n](const std::vector<double>& v) {
        return std::vector<double>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size())));
      };
      return {cut(value), cut(alt), cut(alt2), exact, window};
    }
  };
  std::array<Tensor, KILN_ROLE_SLOTS> roles;
  double tie_window = 0;  // relative distance to a tie within which fp32 arithmetic may round either way
};

// ---- shapes, from the descriptor -----------------------------------------------------------

// Columns per scale of a group quantiser: 0 (the plan's default) is KILN_DEFAULT_GROUP_SIZE.
inline int64_t resolved_group_size(int32_t group_size) { return group_size == 0 ? KILN_DEFAULT_GROUP_SIZE : group_size; }

// G = ceil(H / g), the scales' columns of a group quantiser.
inline int64_t group_count(int64_t hidden, int32_t group_size) {
  const int64_t g = resolved_group_size(group_size);
  return g > 0 ? (hidden + g - 1) / g : 0;
}

// group_size: the group quantisers' (KILN_EXTENT_GROUPS); the default is the plan's.
inline int64_t extent(kiln_extent e, int64_t tokens, int64_t hidden, int32_t group_size = KILN_DEFAULT_GROUP_SIZE) {
  switch (e) {
    case KILN_EXTENT_ONE: return 1;
    case KILN_EXTENT_TOKENS: return tokens;
    case KILN_EXTENT_HIDDEN: return hidden;
    case KILN_EXTENT_2HIDDEN: return 2 * hidden;
    case KILN_EXTENT_GROUPS: return group_count(hidden, group_size);
  }
  return 0;
}

inline std::size_t elem_bytes(kiln_elem e) {
  switch (e) {
    case KILN_ELEM_ACTIVATION: return 2;
    case KILN_ELEM_FP8_E4M3: return 1;
    case KILN_ELEM_F32:
    case KILN_ELEM_I32: return 4;
  }
  return 0;
}

// rows * cols, row-major (a group quantiser's scales: row-major [T, G]; TensorLayout has the
// other layouts).
inline int64_t tensor_elems(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden, int32_t group_size = KILN_DEFAULT_GROUP_SIZE) {
  return extent(t.rows, tokens, hidden, group_size) * extent(t.cols, tokens, hidden, group_size);
}
inline std::size_t tensor_bytes(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden, int32_t group_size = KILN_DEFAULT_GROUP_SIZE) {
  return static_cast<std::size_t>(tensor_elems(t, tokens, hidden, group_size)) * elem_bytes(t.elem);
}

// A tensor's storage, as kiln_tensor_layout_of gives it (the contract, written out here
// independently of the runtime): [rows, cols], element (i, j) at i * row_stride + j *
// col_stride, `elements` the span a caller allocates. Every tensor is row-major but a
// group quantiser's scales (T4 = T rounded up to a multiple of 4, G = ceil(H / g)):
//   row_major      fp32  [T, G]         strides (G, 1)   T * G elements
//   col_major_tma  fp32  [T, G]         strides (1, T4)  (G - 1) * T4 + T
//   packed_ue8m0   int32 [T, ceil(G/4)] strides (1, T4)  (ceil(G/4) - 1) * T4 + T; byte k % 4 of
//                                                         word (k / 4) * T4 + t: scale (t, k)'s exponent
// No tokens, no elements.
struct TensorLayout {
  int64_t rows = 0, cols = 0;
  int64_t row_stride = 0, col_stride = 0;
  int64_t elements = 0;
  int64_t elem_bytes = 0;
  int64_t bytes() const { return elements * elem_bytes; }
};

inline int64_t round_up4(int64_t v) { return (v + 3) / 4 * 4; }

inline bool is_group_scales(const kiln_kernel_desc& k, const kiln_tensor_desc& t) {
  return (k.options & KILN_OPTION_GROUP) && t.role == KILN_ROLE_SCALES;
}

inline TensorLayout tensor_layout(const kiln_tensor_desc& t, bool group_scales, int64_t tokens, int64_t hidden,
                                  int32_t group_size, kiln_scale_layout layout) {
  TensorLayout l;
  l.elem_bytes = static_cast<int64_t>(elem_bytes(t.elem));
  l.rows = extent(t.rows, tokens, hidden, group_size);
  l.cols = extent(t.cols, tokens, hidden, group_size);
  l.row_stride = l.cols;
  l.col_stride = 1;
  l.elements = l.rows * l.cols;
  if (!group_scales || layout == KILN_SCALES_ROW_MAJOR) return l;
  const int64_t T = tokens, G = group_count(hidden, group_size), T4 = round_up4(T);
  l.rows = T;
  l.cols = layout == KILN_SCALES_PACKED_UE8M0 ? (G + 3) / 4 : G;
  l.row_stride = 1;
  l.col_stride = T4;
  l.elements = T == 0 ? 0 : (l.cols - 1) * T4 + T;
  l.elem_bytes = 4;
  return l;
}

// The same at a launch's sizes and options.
inline TensorLayout tensor_layout(const kiln_kernel_desc& k, const kiln_tensor_desc& t, const Problem& p) {
  return tensor_layout(t, is_group_scales(k, t), p.tokens, p.hidden, p.group_size, p.scale_layout);
}

inline const char* role_name(int role) {
  static const char* const names[] = {"input", "weight", "residual", "output", "scales", "scale", "scale_ub"};
  return role >= 0 && role < static_cast<int>(sizeof names / sizeof names[0]) ? names[role] : "reserved";
}

// ---- the kernels, in double ----------------------------------------------------------------

namespace detail {

template <class T>
const T* need(const Problem& p, kiln_role role) {
  if (p.inputs[role] == nullptr)
    throw std::invalid_argument(p.kernel + " reference: Problem::inputs[" + role_name(role) + "] is NULL");
  return static_cast<const T*>(p.inputs[role]);
}

inline void need_default_options(const Problem& p) {
  if (p.rounding != Rounding::single || p.gemma)
    throw std::invalid_argument(p.kernel + " has no rounding or gemma option");
}

// fp32 reciprocal of the scale, as the kernels compute it: the reference multiplies by it.
inline double inv_scale_of(float scale) { return static_cast<double>(1.0f / scale); }

// The two values an intermediate rounded to d may take when u lies within a relative
// `window` of a tie between them (fp32 arithmetic before the rounding may land on
// either side); otherwise both are round_T(u).
struct Rounded {
  double nearest, other;
};
inline Rounded round_near_tie(DType d, double u, double window) {
  const double nearest = round_to(d, u);
  const double lo = round_to(d, u * (1 - window)), hi = round_to(d, u * (1 + window));
  return {nearest, lo != nearest ? lo : hi};
}

// The RMSNorm family (templates/rms_norm.cuh):
//   norm(v) = v * rsqrt(sum(v^2) / H + eps) * w', w' = w, or (1 + w) computed in fp32 (gemma)
//   single: fp32 from load to the one final rounding (double here);
//   vllm:   y = round_T(round_T(v * rinv) * w'), the product of the rounded value and w'
//           an fp32 product (as vLLM's c10 arithmetic), modelled exactly; an fp8 output is
//           then fp8(y * (1 / scale)).
//   add:    r' = round_T(x + r) written over the residual; the norm reads r'.
//   fp8:    out = fp8(norm * (1 / scale)); else a 16-bit output, over x when `add`.
//   dynamic: per row s = max(max|y| / 448, 1 / (448 * 512)) over the values y (NaN passed
//           over), written to scales; out = fp8(y / s). With norm = false, y = x
//           (per_token_fp8: no weight, no eps, no options).
struct NormKind {
  bool add;
  bool fp8;
  bool dynamic = false;
  bool norm = true;
};

// The dynamic per-token scale of a row whose largest magnitude is amax, as the kernels
// compute it in fp32 (amax / 448 rounded once; the floor is exact in fp32).
inline double token_scale(double amax) {
  return std::max(static_cast<double>(static_cast<float>(amax) / 448.0f), 1.0 / (448.0 * 512.0));
}

inline Expected rms_norm_family(const Problem& p, NormKind kind) {
  const DType d = p.dtype;
  const int64_t T = p.tokens, H = p.hidden;
  if (!kind.norm) need_default_options(p);
  const auto* x = need<uint16_t>(p, KILN_ROLE_INPUT);
  const auto* w = kind.norm ? need<uint16_t>(p, KILN_ROLE_WEIGHT) : nullptr;
  const auto* r = kind.add ? need<uint16_t>(p, KILN_ROLE_RESIDUAL) : nullptr;
  const double inv = kind.fp8 ? inv_scale_of(*need<float>(p, KILN_ROLE_SCALE)) : 1.0;
  const bool vllm = p.rounding == Rounding::vllm;

  Expected e;
  e.tie_window = std::ldexp(1.0, -16);  // fp32 accumulation of the sum of squares
  // fused_add_rms_norm writes its result over x (vLLM's in-place contract).
  Expected::Tensor& out = e.roles[kind.add && !kind.fp8 && !kind.dynamic ? KILN_ROLE_INPUT : KILN_ROLE_OUTPUT];
  out.value.resize(static_cast<std::size_t>(T * H));
  if (vllm) out.alt.resize(out.value.size());
  // vllm models every rounding of the kernel (near ties give alt), so its 16-bit output
  // is exact: stricter than one ulp, which could not tell the two conventions apart.
  out.exact = vllm && !kind.fp8 && !kind.dynamic;
  Expected::Tensor* scales = kind.dynamic ? &e.roles[KILN_ROLE_SCALES] : nullptr;
  if (scales) scales->value.resize(static_cast<std::size_t>(T));
  if (scales && vllm) scales->alt.resize(static_cast<std::size_t>(T));  // rows run in parallel: sized here
  if (scales && vllm) out.alt2.resize(out.value.size());
  Expected::Tensor* res = nullptr;
  if (kind.add) {
    res = &e.roles[KILN_ROLE_RESIDUAL];
    res->value.resize(static_cast<std::size_t>(T * H));
    res->exact = true;
  }
  std::vector<double> wp(static_cast<std::size_t>(H), 1.0);
  for (int64_t i = 0; kind.norm && i < H; ++i) {
    const float wi = to_float(d, w[i]);
    wp[i] = p.gemma ? static_cast<double>(1.0f + wi) : static_cast<double>(wi);
  }
  const double window = e.tie_window;
  // per_token_fp8's optional scale_ub (an fp32 in device memory; absent: no cap).
  const float* ub = kind.dynamic ? static_cast<const float*>(p.inputs[KILN_ROLE_SCALE_UB]) : nullptr;
  for_each_row(T, [&](int64_t t) {
    std::vector<double> v(static_cast<std::size_t>(H));
    const std::size_t row = static_cast<std::size_t>(t * H);
    double ss = 0;
    for (int64_t i = 0; i < H; ++i) {
      double vi = to_float(d, x[row + i]);
      if (kind.add) {
        vi = round_to(d, vi + static_cast<double>(to_float(d, r[row + i])));
        res->value[row + i] = vi;
      }
      v[i] = vi;
      ss += vi * vi;
    }
    const double rinv = kind.norm ? 1.0 / std::sqrt(ss / static_cast<double>(H) + static_cast<double>(p.eps)) : 1.0;
    for (int64_t i = 0; i < H; ++i) {
      if (!vllm || !kind.norm) {
        out.value[row + i] = v[i] * rinv * wp[i] * inv;
        continue;
      }
      const Rounded a = round_near_tie(d, v[i] * rinv, window);
      // a * w' is exact in double; its float is the fp32 product the kernel rounds.
      const double y = round_to(d, static_cast<float>(a.nearest * wp[i]));
      const double y_other = round_to(d, static_cast<float>(a.other * wp[i]));
      out.value[row + i] = y * inv;
      out.alt[row + i] = y_other * inv;
    }
    if (kind.dynamic) {  // the values are y so far (inv = 1): scale the row by its own s
      // Under vllm a near tie may round the row's largest value either way, which moves s
      // (by an ulp of the input dtype): the other s is accepted too, with the row scaled by it.
      double amax = 0, amax_other = 0;
      for (int64_t i = 0; i < H; ++i) {
        if (std::isnan(out.value[row + i])) continue;
        amax = std::max(amax, std::abs(out.value[row + i]));
        amax_other = std::max(amax_other, std::abs(vllm ? out.alt[row + i] : out.value[row + i]));
      }
      if (ub != nullptr) {  // scale_ub caps max|y| before the scale is taken (fminf: a NaN cap is no cap)
        amax = std::isnan(*ub) ? amax : std::min(amax, static_cast<double>(*ub));
        amax_other = std::isnan(*ub) ? amax_other : std::min(amax_other, static_cast<double>(*ub));
      }
      const double s = token_scale(amax), s_other = token_scale(amax_other);
      scales->value[static_cast<std::size_t>(t)] = s;
      if (vllm) scales->alt[static_cast<std::size_t>(t)] = s_other;
      for (int64_t i = 0; i < H; ++i) {
        // A near tie of this value and a moved s may also come together: the third value.
        const bool tie = vllm && out.alt[row + i] != out.value[row + i];
        const double y = out.value[row + i];
        out.value[row + i] = y / s;
        if (vllm) {
          out.alt2[row + i] = y / s_other;
          out.alt[row + i] = tie ? out.alt[row + i] / s : y / s_other;
        }
      }
    }
  });
  return e;
}

inline Expected rms_norm(const Problem& p) { return rms_norm_family(p, {false, false}); }
inline Expected rms_norm_fp8(const Problem& p) { return rms_norm_family(p, {false, true}); }
inline Expected fused_add_rms_norm(const Problem& p) { return rms_norm_family(p, {true, false}); }
inline Expected fused_add_rms_norm_fp8(const Problem& p) { return rms_norm_family(p, {true, true}); }
inline Expected per_token_fp8(const Problem& p) { return rms_norm_family(p, {false, false, true, false}); }
inline Expected rms_norm_per_token_fp8(const Problem& p) { return rms_norm_family(p, {false, false, true}); }
inline Expected fused_add_rms_norm_per_token_fp8(const Problem& p) { return rms_norm_family(p, {true, false, true}); }

// allreduce_add_rms_norm(_fp8) (templates/allreduce_add_rms_norm.cuh): x_k, rank k's
// [T, H] (Problem::rank_inputs), summed over the R ranks, then fused_add_rms_norm(_fp8):
//   s = x_0 + x_1 + ... + x_{R-1}: fp32 additions in rank order, an x of -0 counted as +0.
//           This sum is the definition (every rank forms it, so all agree bit for bit), so
//           it is modelled exactly in fp32, not in double; so is the add below.
//   single: r' = round_T(fp32(s + r));  vllm: r' = round_T(fp32(round_T(s) + r));
//           an r' of -0 is written as +0. r' is written over the residual on every rank.
//   out:    fused_add_rms_norm's norm of r' (its conventions, gemma), in the input dtype,
//           or fp8(norm(r') * (1 / scale)); always in the OUTPUT role (x is only read).
inline Expected allreduce_family(const Problem& p, bool fp8) {
  const DType d = p.dtype;
  const int64_t T = p.tokens, H = p.hidden;
  const std::size_t ranks = p.rank_inputs.size();
  if (ranks < 2)
    throw std::invalid_argument(p.kernel + " reference: Problem::rank_inputs must hold every rank's x (2 or more ranks), has " +
                                std::to_string(ranks));
  for (const void* x : p.rank_inputs)
    if (x == nullptr) throw std::invalid_argument(p.kernel + " reference: a Problem::rank_inputs entry is NULL");
  need<uint16_t>(p, KILN_ROLE_INPUT);  // this rank's x: checked unchanged
  const auto* r = need<uint16_t>(p, KILN_ROLE_RESIDUAL);
  const bool vllm = p.rounding == Rounding::vllm;
  const std::size_t n = static_cast<std::size_t>(T * H);
  std::vector<uint16_t> reduced(n), zeros(n, 0);
  for_each_row(T, [&](int64_t t) {
    for (int64_t i = 0; i < H; ++i) {
      const std::size_t at = static_cast<std::size_t>(t * H + i);
      float s = 0.0f;
      for (std::size_t k = 0; k < ranks; ++k) {
        uint16_t b = static_cast<const uint16_t*>(p.rank_inputs[k])[at];
        if (b == 0x8000) b = 0;
        const float v = to_float(d, b);
        s = k == 0 ? v : s + v;
      }
      const double rv = to_float(d, r[at]);
      // Two floats' sum is exact in double: its float is the fp32 sum.
      const double sum = (vllm ? round_to(d, s) : static_cast<double>(s)) + rv;
      uint16_t bits = round_bits(d, static_cast<double>(static_cast<float>(sum)));
      if (bits == 0x8000) bits = 0;
      reduced[at] = bits;
    }
  });
  // fused_add_rms_norm(_fp8) of x = r', r = +0: its residual is r' (exact), its output
  // the norm of r'.
  Problem q = p;
  q.inputs[KILN_ROLE_INPUT] = reduced.data();
  q.inputs[KILN_ROLE_RESIDUAL] = zeros.data();
  Expected e = rms_norm_family(q, {true, fp8});
  if (!fp8) {  // fused_add_rms_norm writes over x; this kernel writes the output
    e.roles[KILN_ROLE_OUTPUT] = std::move(e.roles[KILN_ROLE_INPUT]);
    e.roles[KILN_ROLE_INPUT] = {};
  }
  return e;
}

inline Expected allreduce_add_rms_norm(const Problem& p) { return allreduce_family(p, false); }
inline Expected allreduce_add_rms_norm_fp8(const Problem& p) { return allreduce_family(p, true); }

// silu_mul_fp8: input [T, 2H], a = x[t, i], b = x[t, H + i];
// out = fp8(a / (1 + e^-a) * b * (1 / scale)). No options.
inline Expected silu_mul_fp8(const Problem& p) {
  need_default_options(p);
  const DType d = p.dtype;
  const int64_t T = p.tokens, H = p.hidden;
  const auto* x = need<uint16_t>(p, KILN_ROLE_INPUT);
  const double inv = inv_scale_of(*need<float>(p, KILN_ROLE_SCALE));
  Expected e;
  e.tie_window = std::ldexp(1.0, -18);
  std::vector<double>& out = e.roles[KILN_ROLE_OUTPUT].value;
  out.resize(static_cast<std::size_t>(T * H));
  for_each_row(T, [&](int64_t t) {
    for (int64_t i = 0; i < H; ++i) {
      const double a = to_float(d, x[t * 2 * H + i]), b = to_float(d, x[t * 2 * H + H + i]);
      out[static_cast<std::size_t>(t * H + i)] = a / (1.0 + std::exp(-a)) * b * inv;
    }
  });
  return e;
}

// The group quantisers (templates/rms_norm.cuh, templates/silu_mul_fp8.cuh), per row t and
// group k of g columns, [k * g, min((k + 1) * g, H)) (G = ceil(H / g); only the generic kernel
// sees a partial last group, scaled over its own columns):
//   y:     what the per-token kernels quantise, their conventions: x (per_token_group_fp8), the
//          norm of rms_norm_per_token_fp8 (rounding, gemma), that of fused_add_rms_norm_per_token_fp8
//          (r' = round_T(x + r) written over the residual), or silu(a) * b in fp32 (silu_mul_fp8's
//          math, scale 1, no rounding to T)
//   amax = max |y| over the group, NaN passed over (from 0)
//   s = fp32(max(fp32(amax), 1e-10) / 448); ue8m0 (always with the packed layout): s = max(s, 1e-10)
//       rounded up to a power of two on its bits (an all-zero group: 2^-33; amax = inf: inf)
//   out = fp8(y / s) (NaN stays NaN, +-inf / inf = NaN); scales = s, in the plan's layout
//       (Expected keeps them [T, G] row-major; check() reads each from the layout's storage).
// Under vllm a near tie that moves amax moves s as in the per-token reference (alt, alt2).
// Where y carries fp32 error (the single convention's norm, silu) and a UE8M0 s lies within
// that error of a power of two, the other power is accepted too, with the group's outputs
// scaled by it (alt, alt2). Scales: within one ulp, or within that error where y has it;
// UE8M0 ones (and packed exponents) exact.
enum class GroupBase { quant, norm, add_norm, silu_mul };

inline double group_scale(double amax, bool ue8m0) {
  float s = std::max(static_cast<float>(amax), 1e-10f) / 448.0f;
  if (ue8m0) {
    s = std::max(s, 1e-10f);
    uint32_t bits;
    std::memcpy(&bits, &s, 4);
    const uint32_t e = ((bits >> 23) & 0xffu) + ((bits & 0x7fffffu) != 0);
    bits = e << 23;
    std::memcpy(&s, &bits, 4);
  }
  return static_cast<double>(s);
}

// The biased exponent byte of a UE8M0 scale (a power of two, or inf: 255).
inline uint8_t ue8m0_exponent(double s) {
  const float f = static_cast<float>(s);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint8_t>((bits >> 23) & 0xffu);
}

inline void need_group_options(const Problem& p) {
  const int64_t g = resolved_group_size(p.group_size);
  if (g != 64 && g != 128)
    throw std::invalid_argument(p.kernel + " reference: group_size must be 64 or 128 (0: 128), is " + std::to_string(p.group_size));
  if (p.scale_layout != KILN_SCALES_ROW_MAJOR && p.scale_layout != KILN_SCALES_COL_MAJOR_TMA &&
      p.scale_layout != KILN_SCALES_PACKED_UE8M0)
    throw std::invalid_argument(p.kernel + " reference: no scale layout " + std::to_string(static_cast<int>(p.scale_layout)));
}

inline Expected group_family(const Problem& p, GroupBase base) {
  need_group_options(p);
  const int64_t g = resolved_group_size(p.group_size);
  const bool ue8m0 = p.ue8m0 || p.scale_layout == KILN_SCALES_PACKED_UE8M0;
  // y (and under vllm its other rounding near a tie): the fp8 references at a static scale of 1.
  static const float kOne = 1.0f;
  Problem q = p;
  q.inputs[KILN_ROLE_SCALE] = &kOne;
  Expected e;
  switch (base) {
    case GroupBase::quant: e = rms_norm_family(q, {false, true, false, false}); break;
    case GroupBase::norm: e = rms_norm_family(q, {false, true}); break;
    case GroupBase::add_norm: e = rms_norm_family(q, {true, true}); break;
    case GroupBase::silu_mul: e = silu_mul_fp8(q); break;
  }
  const int64_t T = p.tokens, H = p.hidden, G = group_count(H, p.group_size);
  Expected::Tensor& out = e.roles[KILN_ROLE_OUTPUT];
  const bool vllm = !out.alt.empty();  // the per-token references give alt only under vllm
  // The relative fp32 error of y: none where it is x, or modelled exactly (vllm).
  const double y_window = base == GroupBase::quant || vllm ? 0.0 : e.tie_window;
  const bool scale_moves = vllm || (ue8m0 && y_window > 0);
  Expected::Tensor& sc = e.roles[KILN_ROLE_SCALES];
  sc.value.resize(static_cast<std::size_t>(T * G));
  sc.exact = ue8m0;
  sc.window = y_window;
  if (scale_moves) {
    sc.alt.resize(sc.value.size());
    out.alt.resize(out.value.size());  // vllm: y's other rounding already there
    out.alt2.resize(out.value.size());
  }
  for_each_row(T, [&](int64_t t) {
    const std::size_t row = static_cast<std::size_t>(t * H);
    for (int64_t k = 0; k < G; ++k) {
      const int64_t lo = k * g, hi = std::min(lo + g, H);
      double amax = 0, amax_other = 0;
      for (int64_t i = lo; i < hi; ++i) {
        const double y = out.value[row + i];
        if (std::isnan(y)) continue;
        amax = std::max(amax, std::abs(y));
        amax_other = std::max(amax_other, std::abs(vllm ? out.alt[row + i] : y));
      }
      const double s = group_scale(amax, ue8m0);
      double s_other = vllm ? group_scale(amax_other, ue8m0) : s;
      if (!vllm && scale_moves) {  // UE8M0 of an amax within fp32 error of 448 * 2^k
        const double below = group_scale(amax * (1 - y_window), true), above = group_scale(amax * (1 + y_window), true);
        s_other = below != s ? below : above;
      }
      const std::size_t at = static_cast<std::size_t>(t * G + k);
      sc.value[at] = s;
      if (scale_moves) sc.alt[at] = s_other;
      for (int64_t i = lo; i < hi; ++i) {
        const std::size_t j = row + static_cast<std::size_t>(i);
        const double y = out.value[j];
        // A near tie of this value and a moved s may also come together: the third value.
        const bool tie = vllm && !std::isnan(y) && out.alt[j] != y;
        out.value[j] = y / s;
        if (scale_moves) {
          out.alt2[j] = y / s_other;
          out.alt[j] = tie ? out.alt[j] / s : y / s_other;
        }
      }
    }
  });
  return e;
}

inline Expected per_token_group_fp8(const Problem& p) { return group_family(p, GroupBase::quant); }
inline Expected rms_norm_group_fp8(const Problem& p) { return group_family(p, GroupBase::norm); }
inline Expected fused_add_rms_norm_group_fp8(const Problem& p) { return group_family(p, GroupBase::add_norm); }
inline Expected silu_mul_group_fp8(const Problem& p) { return group_family(p, GroupBase::silu_mul); }

}  // namespace detail

// ---- the table: one reference per kernel ------------------------------------------------------

using ReferenceFn = Expected (*)(const Problem&);

struct ReferenceEntry {
  std::string_view kernel;
  ReferenceFn fn;
};

// Sorted by name, as the library's registry.
inline constexpr ReferenceEntry kReferences[] = {
    {"allreduce_add_rms_norm", &detail::allreduce_add_rms_norm},
    {"allreduce_add_rms_norm_fp8", &detail::allreduce_add_rms_norm_fp8},
    {"fused_add_rms_norm", &detail::fused_add_rms_norm},
    {"fused_add_rms_norm_fp8", &detail::fused_add_rms_norm_fp8},
    {"fused_add_rms_norm_group_fp8", &detail::fused_add_rms_norm_group_fp8},
    {"fused_add_rms_norm_per_token_fp8", &detail::fused_add_rms_norm_per_token_fp8},
    {"per_token_fp8", &detail::per_token_fp8},
    {"per_token_group_fp8", &detail::per_token_group_fp8},
    {"rms_norm", &detail::rms_norm},
    {"rms_norm_fp8", &detail::rms_norm_fp8},
    {"rms_norm_group_fp8", &detail::rms_norm_group_fp8},
    {"rms_norm_per_token_fp8", &detail::rms_norm_per_token_fp8},
    {"silu_mul_fp8", &detail::silu_mul_fp8},
    {"silu_mul_group_fp8", &detail::silu_mul_group_fp8},
};

inline std::span<const ReferenceEntry> references() { return kReferences; }

inline ReferenceFn find_reference(std::string_view kernel) {
  for (const ReferenceEntry& r : kReferences)
    if (r.kernel == kernel) return r.fn;
  return nullptr;
}

inline bool has_reference(std::string_view kernel) { return find_reference(kernel) != nullptr; }

// The expected outputs of one launch. Throws std::invalid_argument for a kernel without
// a reference, a tensor the kernel reads missing from p.inputs, or an option the
// kernel does not have.
inline Expected reference(const Problem& p) {
  const ReferenceFn fn = find_reference(p.kernel);
  if (fn == nullptr) throw std::invalid_argument("no CPU reference for kernel '" + p.kernel + "' (reference/include/kiln_ref/reference.h)");
  return fn(p);
}

// ---- the check -------------------------------------------------------------------------------

struct CheckStats {
  int64_t checked = 0;    // output elements compared
  int64_t near_ties = 0;  // accepted one ulp off at a tie (fp8), or through Expected::alt
};

namespace detail {

inline std::string hex(uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, v);
  return buf;
}

inline std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

inline uint32_t load(const void* base, std::size_t index, std::size_t bytes) {
  uint32_t v = 0;
  std::memcpy(&v, static_cast<const unsigned char*>(base) + index * bytes, bytes);
  return v;
}

inline int32_t ordinal32(uint32_t bits) {
  const int32_t mag = static_cast<int32_t>(bits & 0x7fffffffu);
  return (bits & 0x80000000u) ? -mag : mag;
}

// One element of a written tensor: "" when acceptable, else "got ..., expected ...".
struct ElementCheck {
  kiln_elem elem;
  DType dtype;
  double window;
  bool exact;

  // ok, and whether it passed only as a near tie.
  bool accept(uint32_t got, double want, bool* tie) const {
    *tie = false;
    switch (elem) {
      case KILN_ELEM_ACTIVATION: {
        const uint16_t w = round_bits(dtype, want);
        if (exact && is_nan16(dtype, w)) return is_nan16(dtype, static_cast<uint16_t>(got));  // any NaN's bits
        return exact ? got == w : within_one_ulp(dtype, static_cast<uint16_t>(got), w);
      }
      case KILN_ELEM_FP8_E4M3:
        if (exact) return got == double_to_fp8(want);
        return fp8_matches(static_cast<uint8_t>(got), want, window, tie);
      case KILN_ELEM_F32: {
        const float w = static_cast<float>(want);
        uint32_t wb;
        std::memcpy(&wb, &w, 4);
        float g;
        std::memcpy(&g, &got, 4);
        if (std::isnan(g) || std::isnan(w)) return std::isnan(g) && std::isnan(w);
        if (exact) return got == wb;
        // One ulp, or the fp32 error of what it was computed from: a per-token scale is
        // max|y| / 448 of values y the kernel computed in fp32 (a norm's rounding error).
        return std::abs(static_cast<int64_t>(ordinal32(got)) - ordinal32(wb)) <= 1 ||
               std::abs(static_cast<double>(g) - want) <= window * std::abs(want);
      }
      case KILN_ELEM_I32: return static_cast<int32_t>(got) == static_cast<int64_t>(want);
    }
    return false;
  }

  std::string describe(uint32_t got, double want) const {
    switch (elem) {
      case KILN_ELEM_ACTIVATION:
        return hex(got, 4) + " (" + num(to_float(dtype, static_cast<uint16_t>(got))) + "), expected " + num(want) +
               " -> " + hex(round_bits(dtype, want), 4) + (exact ? " exactly" : " within 1 ulp");
      case KILN_ELEM_FP8_E4M3:
        return hex(got, 2) + " (" + num(fp8_to_double(static_cast<uint8_t>(got))) + "), expected " + num(want) + " -> " +
               hex(double_to_fp8(want), 2);
      case KILN_ELEM_F32: {
        float g;
        std::memcpy(&g, &got, 4);
        return num(g) + ", expected " + num(want);
      }
      case KILN_ELEM_I32: return std::to_string(static_cast<int32_t>(got)) + ", expected " + num(want);
    }
    return "?";
  }
};

// Where a tensor first went wrong, and how often.
struct Mismatch {
  int64_t bad = 0;
  int64_t first = -1;  // element index
};

// A group quantiser's scales, in the storage of the plan's layout (TensorLayout): every scale
// (t, k) of t < T, k < G where the layout keeps it (fp32: the rule of ElementCheck; packed: the
// exponent byte exactly), the zero padding the layout writes (packed: groups [G, 4 * ceil(G/4)) of
// every row, rows [T, T4) of every word column but the last), and, where p.inputs[SCALES] holds
// the bytes before the launch, every other byte of the span unchanged. "" when right.
inline std::string check_group_scales(const kiln_tensor_desc& t, const Problem& p, const void* got,
                                      const Expected::Tensor& e, double tie_window, CheckStats* stats) {
  const int64_t T = p.tokens, H = p.hidden, G = group_count(H, p.group_size), T4 = round_up4(T);
  const TensorLayout l = tensor_layout(t, true, T, H, p.group_size, p.scale_layout);
  if (static_cast<int64_t>(e.value.size()) != T * G)
    return "has " + std::to_string(e.value.size()) + " reference values for " + std::to_string(T) + " x " + std::to_string(G) +
           " scales: the reference does not compute this output";
  const auto* bytes = static_cast<const unsigned char*>(got);
  const auto* before = static_cast<const unsigned char*>(p.inputs[KILN_ROLE_SCALES]);
  const std::size_t span = static_cast<std::size_t>(l.bytes());
  // What each byte of the span must hold.
  enum : uint8_t { kUnwritten, kScale, kZero };
  std::vector<uint8_t> kind(span, kUnwritten);
  const bool has_alt = e.alt.size() == e.value.size();
  const bool packed = p.scale_layout == KILN_SCALES_PACKED_UE8M0;
  auto rc = [](int64_t r, int64_t c) { return "[" + std::to_string(r) + ", " + std::to_string(c) + "]"; };
  int64_t bad = 0, ties = 0;
  std::string first;
  auto wrong = [&](auto describe) {  // describes the first only
    if (bad++ == 0) first = describe();
  };
  const ElementCheck rule{KILN_ELEM_F32, p.dtype, e.window >= 0 ? e.window : tie_window, e.exact};
  const int64_t words = (G + 3) / 4;
  for (int64_t r = 0; r < T; ++r)
    for (int64_t k = 0; k < (packed ? 4 * words : G); ++k) {
      const std::size_t i = static_cast<std::size_t>(r * G + k);
      if (packed) {
        const std::size_t at = static_cast<std::size_t>(4 * ((k / 4) * T4 + r) + k % 4);
        if (k >= G) {
          kind[at] = kZero;
          continue;
        }
        kind[at] = kScale;
        const uint8_t want = ue8m0_exponent(e.value[i]);
        const bool alt = has_alt && ue8m0_exponent(e.alt[i]) != want && bytes[at] == ue8m0_exponent(e.alt[i]);
        ties += alt;
        if (bytes[at] != want && !alt)
          wrong([&] { return rc(r, k) + " (byte " + std::to_string(at) + ") = exponent " + std::to_string(bytes[at]) + ", expected " +
                std::to_string(want) + " (scale " + num(e.value[i]) + ")" +
                (has_alt && e.alt[i] != e.value[i] ? " or " + std::to_string(ue8m0_exponent(e.alt[i])) : ""); });
        continue;
      }
      const std::size_t at = static_cast<std::size_t>(r * l.row_stride + k * l.col_stride);
      std::fill(kind.begin() + static_cast<std::ptrdiff_t>(4 * at), kind.begin() + static_cast<std::ptrdiff_t>(4 * at + 4), kScale);
      const uint32_t v = load(got, at, 4);
      bool tie = false;
      bool ok = rule.accept(v, e.value[i], &tie);
      if (!ok && has_alt && e.alt[i] != e.value[i]) ok = tie = rule.accept(v, e.alt[i], &tie);
      ties += ok && tie;
      if (!ok)
        wrong([&] {
          return rc(r, k) + " (element " + std::to_string(at) + ") = " + rule.describe(v, e.value[i]) +
                 (has_alt && e.alt[i] != e.value[i] ? " (or " + num(e.alt[i]) + ")" : "");
        });
    }
  if (packed)  // rows [T, T4) of every word column but the last: zeros
    for (int64_t j = 0; j + 1 < words; ++j)
      for (int64_t r = T; r < T4; ++r)
        for (int b = 0; b < 4; ++b) kind[static_cast<std::size_t>(4 * (j * T4 + r) + b)] = kZero;
  for (std::size_t b = 0; b < span; ++b) {
    if (kind[b] == kZero && bytes[b] != 0) {
      const int64_t word = static_cast<int64_t>(b / 4), r = word % T4, k = (word / T4) * 4 + static_cast<int64_t>(b % 4);
      wrong([&] { return "byte " + std::to_string(b) + " (padding, " + rc(r, k) + ") = " + hex(bytes[b], 2) + ", expected 0x00"; });
    } else if (kind[b] == kUnwritten && before != nullptr && bytes[b] != before[b]) {
      wrong([&] {
        return "byte " + std::to_string(b) + " is not written by the layout, but " + hex(before[b], 2) + " became " + hex(bytes[b], 2);
      });
    }
  }
  if (stats) {
    stats->checked += T * G;
    stats->near_ties += ties;
  }
  if (bad == 0) return "";
  return first + " (" + std::to_string(bad) + " wrong of " + std::to_string(T * G) + " scales and the layout's " +
         std::to_string(span) + " bytes)";
}

}  // namespace detail

// Every tensor `desc` says the kernel writes, against `want`: the rule above, element by
// element, on host copies `got` (by role) of the device tensors after the launch. Tensors
// the kernel only reads are compared byte for byte with p.inputs where `got` has them.
// Returns "" when all is right, else one line per wrong tensor naming the kernel, the
// tensor and its role, [row, col] of the first wrong element, got and expected, and the
// count of wrong elements.
inline std::string check(const kiln_kernel_desc& desc, const Problem& p, const Tensors& got, const Expected& want,
                         CheckStats* stats = nullptr) {
  std::string report;
  auto fail = [&](const kiln_tensor_desc& t, const std::string& what) {
    if (!report.empty()) report += "\n";
    report += p.label() + ": " + t.name + " (" + role_name(t.role) + ") " + what;
  };
  for (int32_t k = 0; k < desc.tensor_count; ++k) {
    const kiln_tensor_desc& t = desc.tensors[k];
    if (is_group_scales(desc, t) && t.direction != KILN_DIR_IN) {  // in the layout's storage
      if (got[t.role] == nullptr) {
        fail(t, "has no host copy to check (Tensors[" + std::to_string(t.role) + "] is NULL)");
        continue;
      }
      const std::string what = detail::check_group_scales(t, p, got[t.role], want.roles[t.role], want.tie_window, stats);
      if (!what.empty()) fail(t, what);
      continue;
    }
    const int64_t rows = extent(t.rows, p.tokens, p.hidden, p.group_size), cols = extent(t.cols, p.tokens, p.hidden, p.group_size);
    const int64_t n = rows * cols;
    const std::size_t size = elem_bytes(t.elem);
    const void* g = got[t.role];
    auto at = [&](int64_t i) { return "[" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + "]"; };

    if (t.direction == KILN_DIR_IN) {  // must be left as it was
      const void* before = p.inputs[t.role];
      if (g == nullptr || before == nullptr || std::memcmp(g, before, static_cast<std::size_t>(n) * size) == 0) continue;
      int64_t first = 0, changed = 0;
      for (int64_t i = n - 1; i >= 0; --i)
        if (std::memcmp(static_cast<const unsigned char*>(g) + i * size, static_cast<const unsigned char*>(before) + i * size, size)) {
          first = i;
          ++changed;
        }
      fail(t, at(first) + " was written: " + detail::hex(detail::load(before, first, size), 2 * size) + " became " +
                  detail::hex(detail::load(g, first, size), 2 * size) + " (" + std::to_string(changed) + " of " +
                  std::to_string(n) + " changed; the kernel only reads it)");
      continue;
    }

    const Expected::Tensor& e = want.roles[t.role];
    if (g == nullptr) {
      fail(t, "has no host copy to check (Tensors[" + std::to_string(t.role) + "] is NULL)");
      continue;
    }
    if (static_cast<int64_t>(e.value.size()) != n) {
      fail(t, "has " + std::to_string(e.value.size()) + " reference values for " + std::to_string(n) +
                  " elements: the reference does not compute this output");
      continue;
    }
    const bool has_alt = e.alt.size() == e.value.size();
    const bool has_alt2 = e.alt2.size() == e.value.size();
    const detail::ElementCheck rule{t.elem, p.dtype, e.window >= 0 ? e.window : want.tie_window, e.exact};
    std::vector<detail::Mismatch> per_row(static_cast<std::size_t>(rows));
    std::vector<int64_t> ties(static_cast<std::size_t>(rows), 0);
    for_each_row(rows, [&](int64_t r) {
      detail::Mismatch& m = per_row[static_cast<std::size_t>(r)];
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = r * cols + c;
        const uint32_t v = detail::load(g, static_cast<std::size_t>(i), size);
        bool tie = false;
        bool ok = rule.accept(v, e.value[i], &tie);
        if (!ok && has_alt && e.alt[i] != e.value[i]) ok = tie = rule.accept(v, e.alt[i], &tie);
        if (!ok && has_alt2 && e.alt2[i] != e.value[i]) ok = tie = rule.accept(v, e.alt2[i], &tie);
        if (ok) {
          ties[static_cast<std::size_t>(r)] += tie;
          continue;
        }
        if (m.bad++ == 0) m.first = i;
      }
    });
    detail::Mismatch total;
    for (const detail::Mismatch& m : per_row) {
      if (m.bad && total.first < 0) total.first = m.first;
      total.bad += m.bad;
    }
    if (stats) {
      stats->checked += n;
      for (int64_t v : ties) stats->near_ties += v;
    }
    if (total.bad == 0) continue;
    const int64_t i = total.first;
    std::string what = at(i) + " = " + rule.describe(detail::load(g, static_cast<std::size_t>(i), size), e.value[i]);
    if (has_alt && e.alt[i] != e.value[i]) what += " (or " + detail::num(e.alt[i]) + ", the other rounding of a near tie)";
    fail(t, what + " (" + std::to_string(total.bad) + " of " + std::to_string(n) + " wrong)");
  }
  return report;
}

}  // namespace kiln::ref
