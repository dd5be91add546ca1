// The CPU reference that defines correctness (DESIGN.md, "Kernel semantics"):
// double-precision math, FP8 e4m3fn by round-to-nearest-even with saturation to
// +-448, and the comparison rule (exact, or one ulp off where the reference lies
// within fp32 rounding of a tie).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace kiln::test {

// ---- 16-bit inputs ----------------------------------------------------------------

inline float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (finite inputs only here)
  return static_cast<uint16_t>(u >> 16);
}

inline float fp16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 1;
      while (!(mant & 0x400u)) { mant <<= 1; --exp; }
      mant &= 0x3ffu;
      u = sign | uint32_t(exp + 112) << 23 | mant << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | mant << 13;
  } else {
    u = sign | uint32_t(exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_fp16(float f) {
  // Exact search is simplest and plenty fast for test data: magnitudes stay normal.
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const float a = std::fabs(f);
  uint16_t lo = 0, hi = 0x7bff;
  while (lo < hi) {  // largest code with value <= a
    const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (fp16_to_float(mid) <= a) lo = mid; else hi = static_cast<uint16_t>(mid - 1);
  }
  uint16_t code = lo;
  if (code < 0x7bff) {
    const double down = fp16_to_float(code), up = fp16_to_float(code + 1);
    if (a - down > up - a || (a - down == up - a && (code & 1))) ++code;
  }
  return static_cast<uint16_t>(sign | code);
}

enum class DType { bf16, fp16 };

inline float to_float(DType d, uint16_t v) { return d == DType::bf16 ? bf16_to_float(v) : fp16_to_float(v); }
inline uint16_t from_float(DType d, float f) { return d == DType::bf16 ? float_to_bf16(f) : float_to_fp16(f); }

// ---- FP8 e4m3fn ----------------------------------------------------------------------

inline double fp8_to_double(uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 0xf, mant = b & 7;
  if (exp == 15 && mant == 7) return NAN;
  const double mag = exp == 0 ? std::ldexp(mant / 8.0, -6) : std::ldexp(1.0 + mant / 8.0, exp - 7);
  return sign ? -mag : mag;
}

// Round to nearest even, saturate to +-448, NaN stays NaN.
inline uint8_t double_to_fp8(double v) {
  if (std::isnan(v)) return 0x7f;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  const double a = std::fabs(v);
  if (a >= 448.0) return sign | 0x7e;
  uint8_t lo = 0, hi = 0x7e;
  while (lo < hi) {  // largest code with value <= a
    const uint8_t mid = static_cast<uint8_t>((lo + hi + 1) / 2);
    if (fp8_to_double(mid) <= a) lo = mid; else hi = static_cast<uint8_t>(mid - 1);
  }
  uint8_t code = lo;
  if (code < 0x7e) {
    const double down = fp8_to_double(code), up = fp8_to_double(code + 1);
    if (a - down > up - a || (a - down == up - a && (code & 1))) ++code;
  }
  return sign | code;
}

// Is `got` acceptable for the exact value `ref`? Equal to the rounded reference, or
// the neighbouring code when ref lies within a relative `tie_window` of the midpoint
// between the two (fp32 arithmetic may land on either side of such a tie).
inline bool fp8_matches(uint8_t got, double ref, double tie_window, bool* near_tie) {
  *near_tie = false;
  const uint8_t want = double_to_fp8(ref);
  if (got == want) return true;
  if (std::isnan(ref)) return (got & 0x7f) == 0x7f;
  const double g = fp8_to_double(got), w = fp8_to_double(want);
  if (std::isnan(g)) return false;
  // Neighbours: same sign and adjacent codes (or +-0 around zero).
  const bool adjacent = (got & 0x80) == (want & 0x80) ? std::abs(int(got & 0x7f) - int(want & 0x7f)) == 1
                                                      : ((got & 0x7f) <= 1 && (want & 0x7f) <= 1);
  if (!adjacent) return false;
  const double mid = (g + w) / 2;
  if (std::fabs(ref - mid) <= tie_window * std::fabs(ref) + 1e-30) {
    *near_tie = true;
    return true;
  }
  return false;
}

// ---- the kernels, in double --------------------------------------------------------------

// fp32 reciprocal of the scale, as the kernels compute it: the reference multiplies by it.
inline double inv_scale_of(float scale) { return static_cast<double>(1.0f / scale); }

inline void silu_mul_fp8_reference(DType d, const std::vector<uint16_t>& x, int64_t tokens, int64_t hidden, float scale,
                                   std::vector<double>& ref) {
  ref.resize(static_cast<size_t>(tokens * hidden));
  const double inv = inv_scale_of(scale);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < hidden; ++i) {
      const double a = to_float(d, x[t * 2 * hidden + i]), b = to_float(d, x[t * 2 * hidden + hidden + i]);
      ref[t * hidden + i] = a / (1.0 + std::exp(-a)) * b * inv;
    }
}

inline void rms_norm_fp8_reference(DType d, const std::vector<uint16_t>& x, const std::vector<uint16_t>& w,
                                   int64_t tokens, int64_t hidden, float eps, float scale, std::vector<double>& ref) {
  ref.resize(static_cast<size_t>(tokens * hidden));
  const double inv = inv_scale_of(scale);
  for (int64_t t = 0; t < tokens; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < hidden; ++i) {
      const double v = to_float(d, x[t * hidden + i]);
      ss += v * v;
    }
    const double rinv = 1.0 / std::sqrt(ss / double(hidden) + double(eps));
    for (int64_t i = 0; i < hidden; ++i)
      ref[t * hidden + i] = double(to_float(d, x[t * hidden + i])) * rinv * double(to_float(d, w[i])) * inv;
  }
}

}  // namespace kiln::test
