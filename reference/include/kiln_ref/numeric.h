// kiln's reference numerics (docs/design.md, "Kernel semantics"), plain C++ with no CUDA
// header: the 16-bit input types (bf16, fp16), FP8 e4m3fn, exact round-to-nearest-even
// from double, and the comparison rules that define a correct output.
//
//   bf16_to_float / float_to_bf16, fp16_to_float / float_to_fp16   bits <-> float
//   to_float(d, bits) / from_float(d, f)                            the same, by DType
//   round_bits(d, v) / round_to(d, v)                               double -> 16-bit, rounded once
//   within_one_ulp(d, got, want)                                    the 16-bit output rule
//   fp8_to_double / double_to_fp8 / fp8_matches                     FP8 e4m3fn and its rule
//   for_each_row(rows, body)                                        rows spread over the host's cores
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace kiln::ref {

// ---- 16-bit activations --------------------------------------------------------------

enum class DType { bf16, fp16 };  // kiln_dtype's order

inline const char* dtype_name(DType d) { return d == DType::bf16 ? "bf16" : "fp16"; }

namespace detail {

// A binary16-like format: `mant` stored mantissa bits, `exp_bits` exponent bits.
struct Format {
  int mant;
  int exp_bits;
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
};
constexpr Format kBf16{7, 8};
constexpr Format kFp16{10, 5};
inline Format format_of(DType d) { return d == DType::bf16 ? kBf16 : kFp16; }

// v rounded to nearest even into the format, once (no intermediate fp32): subnormals,
// overflow to infinity, NaN kept (quiet), the sign of zero kept. Any v (the slow path).
inline uint16_t encode_any(Format f, double v) {
  const uint16_t sign = std::signbit(v) ? 0x8000u : 0u;
  const uint32_t exp_all = (1u << f.exp_bits) - 1;
  if (std::isnan(v)) return static_cast<uint16_t>(sign | (exp_all << f.mant) | (1u << (f.mant - 1)));
  const double a = std::fabs(v);
  if (std::isinf(a)) return static_cast<uint16_t>(sign | (exp_all << f.mant));
  if (a == 0.0) return sign;
  const int emin = 1 - f.bias();  // the exponent of the smallest normal
  int e = 0;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int unit = std::max(e - 1, emin);
  // a in units of the format's quantum at that exponent; exact (a power-of-two scaling).
  double q = std::nearbyint(std::ldexp(a, f.mant - unit));  // ties to even (the default rounding mode)
  const double one = std::ldexp(1.0, f.mant);               // the implicit bit
  if (q >= 2 * one) {  // rounded up into the next binade
    q /= 2;
    ++unit;
  }
  if (q < one) return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));  // subnormal
  const int biased = unit + f.bias();
  if (biased >= static_cast<int>(exp_all)) return static_cast<uint16_t>(sign | (exp_all << f.mant));
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(biased) << f.mant) | static_cast<uint32_t>(q - one));
}

// The same; v in the format's normal range rounds on the bits of the double.
inline uint16_t encode(Format f, double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  const uint64_t mag = u & 0x7fffffffffffffffull;
  const int e = static_cast<int>(mag >> 52) - 1023;  // the double's unbiased exponent
  if (e < 1 - f.bias() || e > f.bias()) return encode_any(f, v);  // subnormal, zero, overflow, inf, NaN
  const int shift = 52 - f.mant;
  const uint64_t half = uint64_t{1} << (shift - 1), rest = mag & ((uint64_t{1} << shift) - 1);
  uint64_t q = mag >> shift;  // the double's biased exponent and the kept mantissa bits
  if (rest > half || (rest == half && (q & 1))) ++q;  // ties to even; a carry moves into the exponent
  const uint32_t exp_all = (1u << f.exp_bits) - 1;
  const int64_t biased = static_cast<int64_t>(q >> f.mant) - 1023 + f.bias();
  const uint16_t sign = (u >> 63) ? 0x8000u : 0u;
  if (biased >= static_cast<int64_t>(exp_all)) return static_cast<uint16_t>(sign | (exp_all << f.mant));
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(biased) << f.mant) | static_cast<uint32_t>(q & ((1u << f.mant) - 1)));
}

inline double decode_any(Format f, uint16_t bits) {
  const bool negative = bits & 0x8000u;
  const uint32_t exp_all = (1u << f.exp_bits) - 1;
  const uint32_t biased = (bits >> f.mant) & exp_all, mant = bits & ((1u << f.mant) - 1);
  double mag;
  if (biased == exp_all) mag = mant ? NAN : INFINITY;
  else if (biased == 0) mag = std::ldexp(static_cast<double>(mant), 1 - f.bias() - f.mant);
  else mag = std::ldexp(static_cast<double>(mant + (1u << f.mant)), static_cast<int>(biased) - f.bias() - f.mant);
  return negative ? -mag : mag;
}

// Every 16-bit value of the format, decoded once.
template <int Mant, int ExpBits>
const std::vector<float>& decode_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t b = 0; b < 65536; ++b) t[b] = static_cast<float>(decode_any({Mant, ExpBits}, static_cast<uint16_t>(b)));
    return t;
  }();
  return table;
}

inline double decode(Format f, uint16_t bits) {
  return f.mant == kBf16.mant ? decode_table<kBf16.mant, kBf16.exp_bits>()[bits] : decode_table<kFp16.mant, kFp16.exp_bits>()[bits];
}

}  // namespace detail

// Exact: every 16-bit value is a float.
inline float bf16_to_float(uint16_t b) { return static_cast<float>(detail::decode(detail::kBf16, b)); }
inline float fp16_to_float(uint16_t h) { return static_cast<float>(detail::decode(detail::kFp16, h)); }
// Round to nearest even.
inline uint16_t float_to_bf16(float f) { return detail::encode(detail::kBf16, f); }
inline uint16_t float_to_fp16(float f) { return detail::encode(detail::kFp16, f); }

inline float to_float(DType d, uint16_t v) { return static_cast<float>(detail::decode(detail::format_of(d), v)); }
inline uint16_t from_float(DType d, float f) { return detail::encode(detail::format_of(d), f); }

// round_T(v): a double rounded to nearest even into d once, as bits or as its value.
inline uint16_t round_bits(DType d, double v) { return detail::encode(detail::format_of(d), v); }
inline double round_to(DType d, double v) { return detail::decode(detail::format_of(d), round_bits(d, v)); }

// 16-bit values on one number line: adjacent values differ by 1, +0 and -0 are both 0.
inline int32_t ordinal16(uint16_t bits) {
  const int32_t mag = bits & 0x7fff;
  return (bits & 0x8000u) ? -mag : mag;
}
inline bool is_nan16(DType d, uint16_t bits) {
  const detail::Format f = detail::format_of(d);
  const uint32_t exp_all = (1u << f.exp_bits) - 1;
  return ((bits >> f.mant) & exp_all) == exp_all && (bits & ((1u << f.mant) - 1)) != 0;
}

// The rule for bf16/fp16 outputs: within one ulp of the rounded reference `want`
// (a NaN reference wants a NaN; infinity is one ulp from the largest finite value).
inline bool within_one_ulp(DType d, uint16_t got, uint16_t want) {
  const bool got_nan = is_nan16(d, got), want_nan = is_nan16(d, want);
  if (got_nan || want_nan) return got_nan && want_nan;
  return std::abs(ordinal16(got) - ordinal16(want)) <= 1;
}

// ---- FP8 e4m3fn --------------------------------------------------------------------------

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

// The rule for fp8 outputs. Is `got` acceptable for the exact value `ref`? Equal to the
// rounded reference, or the neighbouring code when ref lies within a relative
// `tie_window` of the midpoint between the two (fp32 arithmetic may land on either side
// of such a tie). *near_tie says the second case happened.
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

// ---- host parallelism -------------------------------------------------------------------

// Runs body(row) for every row in [0, rows), spread over the host's cores (references
// of 4099 x 8192 elements are the slow part of a GPU test otherwise). body must be
// safe to call concurrently for different rows.
template <class Body>
void for_each_row(int64_t rows, Body body) {
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(rows, cores));
  if (workers == 1) {
    for (int64_t t = 0; t < rows; ++t) body(t);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers));
  for (int64_t w = 0; w < workers; ++w)
    pool.emplace_back([=, &body] {
      for (int64_t t = w; t < rows; t += workers) body(t);
    });
  for (auto& th : pool) th.join();
}

}  // namespace kiln::ref
