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
  Tensors inputs{};
  // Communicator kernels (KILN_OPTION_COMM): every rank's x in rank order, host copies
  // ([T, H] each; inputs[KILN_ROLE_INPUT] is this rank's). Empty for the others.
  std::vector<const void*> rank_inputs;

  // "rms_norm_fp8 bf16 hidden=4096 tokens=17 rounding=vllm gemma"
  std::string label() const {
    std::string s = kernel + " " + dtype_name(dtype) + " hidden=" + std::to_string(hidden) +
                    " tokens=" + std::to_string(tokens);
    if (rounding == Rounding::vllm) s += " rounding=vllm";
    if (gemma) s += " gemma";
    if (!rank_inputs.empty()) s += " ranks=" + std::to_string(rank_inputs.size());
    return s;
  }
};

// What each tensor the kernel writes must hold, by role.
struct Expected {
  struct Tensor {
    std::vector<double> value;  // the exact result per element, rows * cols; empty: the kernel does not write this role
    std::vector<double> alt;    // empty, or value's size: an equally acceptable result (== value where there is none)
    std::vector<double> alt2;   // empty, or value's size: a third (a near tie under a row scale that moved too)
    bool exact = false;         // bit-exact after rounding to the element type (value's or alt's): the written-back
                                // residual, and the 16-bit output of the vllm convention
  };
  std::array<Tensor, KILN_ROLE_SLOTS> roles;
  double tie_window = 0;  // relative distance to a tie within which fp32 arithmetic may round either way
};

// ---- shapes, from the descriptor -----------------------------------------------------------

inline int64_t extent(kiln_extent e, int64_t tokens, int64_t hidden) {
  switch (e) {
    case KILN_EXTENT_ONE: return 1;
    case KILN_EXTENT_TOKENS: return tokens;
    case KILN_EXTENT_HIDDEN: return hidden;
    case KILN_EXTENT_2HIDDEN: return 2 * hidden;
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

inline int64_t tensor_elems(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden) {
  return extent(t.rows, tokens, hidden) * extent(t.cols, tokens, hidden);
}
inline std::size_t tensor_bytes(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden) {
  return static_cast<std::size_t>(tensor_elems(t, tokens, hidden)) * elem_bytes(t.elem);
}

inline const char* role_name(int role) {
  static const char* const names[] = {"input", "weight", "residual", "output", "scales", "scale"};
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
    {"fused_add_rms_norm_per_token_fp8", &detail::fused_add_rms_norm_per_token_fp8},
    {"per_token_fp8", &detail::per_token_fp8},
    {"rms_norm", &detail::rms_norm},
    {"rms_norm_fp8", &detail::rms_norm_fp8},
    {"rms_norm_per_token_fp8", &detail::rms_norm_per_token_fp8},
    {"silu_mul_fp8", &detail::silu_mul_fp8},
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
    const int64_t rows = extent(t.rows, p.tokens, p.hidden), cols = extent(t.cols, p.tokens, p.hidden);
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
    const detail::ElementCheck rule{t.elem, p.dtype, want.tie_window, e.exact};
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
