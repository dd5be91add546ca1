// The CPU reference that defines correctness (DESIGN.md, "Kernel semantics"):
// double-precision math, FP8 e4m3fn by round-to-nearest-even with saturation to
// +-448, and the comparison rule (exact, or one ulp off where the reference lies
// within fp32 rounding of a tie).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <cuda_fp16.h>

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
  __half_raw raw;
  raw.x = h;
  return __half2float(__half(raw));
}

inline uint16_t float_to_fp16(float f) {  // round to nearest even
  const __half h = __float2half_rn(f);
  return static_cast<__half_raw>(h).x;
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
  static const std::array<double, 127> kMagnitudes = [] {  // codes 0x00..0x7e, ascending
    std::array<double, 127> m{};
    for (int c = 0; c < 127; ++c) m[c] = fp8_to_double(static_cast<uint8_t>(c));
    return m;
  }();
  if (std::isnan(v)) return 0x7f;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  const double a = std::fabs(v);
  if (a >= 448.0) return sign | 0x7e;
  // Largest code whose value is <= a, then round up past the midpoint (ties to even).
  uint8_t code = static_cast<uint8_t>(std::upper_bound(kMagnitudes.begin(), kMagnitudes.end(), a) - kMagnitudes.begin() - 1);
  if (code < 0x7e) {
    const double down = kMagnitudes[code], up = kMagnitudes[code + 1];
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

// Runs body(row) for every row, spread over the host's cores (references of
// 4099 x 8192 elements are the slow part of the GPU tests otherwise).
template <class Body>
void for_each_row(int64_t rows, Body body) {
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(rows, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w)
    pool.emplace_back([=] {
      for (int64_t t = w; t < rows; t += workers) body(t);
    });
  for (auto& th : pool) th.join();
}

// fp32 reciprocal of the scale, as the kernels compute it: the reference multiplies by it.
inline double inv_scale_of(float scale) { return static_cast<double>(1.0f / scale); }

inline void silu_mul_fp8_reference(DType d, const std::vector<uint16_t>& x, int64_t tokens, int64_t hidden, float scale,
                                   std::vector<double>& ref) {
  ref.resize(static_cast<size_t>(tokens * hidden));
  const double inv = inv_scale_of(scale);
  for_each_row(tokens, [&](int64_t t) {
    for (int64_t i = 0; i < hidden; ++i) {
      const double a = to_float(d, x[t * 2 * hidden + i]), b = to_float(d, x[t * 2 * hidden + hidden + i]);
      ref[t * hidden + i] = a / (1.0 + std::exp(-a)) * b * inv;
    }
  });
}

inline void rms_norm_fp8_reference(DType d, const std::vector<uint16_t>& x, const std::vector<uint16_t>& w,
                                   int64_t tokens, int64_t hidden, float eps, float scale, std::vector<double>& ref) {
  ref.resize(static_cast<size_t>(tokens * hidden));
  const double inv = inv_scale_of(scale);
  for_each_row(tokens, [&](int64_t t) {
    double ss = 0;
    for (int64_t i = 0; i < hidden; ++i) {
      const double v = to_float(d, x[t * hidden + i]);
      ss += v * v;
    }
    const double rinv = 1.0 / std::sqrt(ss / double(hidden) + double(eps));
    for (int64_t i = 0; i < hidden; ++i)
      ref[t * hidden + i] = double(to_float(d, x[t * hidden + i])) * rinv * double(to_float(d, w[i])) * inv;
  });
}

}  // namespace kiln::test
