// GPU tests of the device helpers in templates/common.cuh whose results must equal another
// formula bit for bit: the quantisers' division by a scale (divide: a reciprocal and a
// Markstein correction; divide<true>, its unclamped form, where its premise holds) against
// IEEE division, over more than eight million quotients chosen to sit on and beside every fp8
// rounding boundary, and over the special values (+-0, +-inf, NaN, subnormals, overflowing
// quotients, an infinite scale); its reciprocal against __frcp_rn for every float of the
// scales' range; and Product, the norm quantisers' one product in place of the division,
// against the IEEE quotient of the rounded value (a few ulps; the same float where the scale
// is a power of two) and its largest |value| against the largest rounded one (bit for bit).
// The kernels' own tests (test_gpu) compare whole outputs with
// the CPU reference; these pin the helper down where random rows rarely go. Skips cleanly
// without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common.cuh"
#include "gpu_test.h"
#include "rms_norm.cuh"  // token_scale

namespace {

// Each pair (x[i], s[i]): the helper's quotient, unclamped (divide<true>) and IEEE's
// (__fdiv_rn), and the fp8 bytes of the first and last as the kernels store them
// (cvt.rn.satfinite.e4m3x2).
__global__ void divide_both(const float* x, const float* s, int64_t n, float* fast, float* bounded, float* ieee,
                            uint8_t* fast8, uint8_t* ieee8) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float a = kiln::divide(x[i], kiln::divisor(s[i]));
    bounded[i] = kiln::divide<true>(x[i], kiln::divisor(s[i]));
    const float b = __fdiv_rn(x[i], s[i]);
    fast[i] = a;
    ieee[i] = b;
    fast8[i] = static_cast<uint8_t>(kiln::fp8x2(a, 0.0f));
    ieee8[i] = static_cast<uint8_t>(kiln::fp8x2(b, 0.0f));
  }
}

// group_scale without UE8M0 against max(amax, 1e-10) / 448 by IEEE division.
__global__ void group_scale_both(const float* amax, int64_t n, float* fast, float* ieee) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    fast[i] = kiln::group_scale(amax[i], false);
    ieee[i] = __fdiv_rn(fmaxf(amax[i], 1e-10f), 448.0f);
  }
}

// Groups of 8 values f, each group with one pre (a row's rinv), quantised as the kernels do:
// Product{pre}'s largest |y| from the largest |f|, the scale s from it (kind[g]: 0 the group
// scale, 1 UE8M0, 2 the per-token scale of the largest |y| times cap[g] < 1, as under a
// scale_ub), Product's quotients. Against them: the largest |RN(f * pre)| (NaN passed over, as
// the kernels' maxima) and IEEE's quotient of RN(f * pre) by s.
__global__ void product_both(const float* f, const float* pre, const uint8_t* kind, const float* cap, int64_t groups,
                             float* max_product, float* max_rounded, float* s, float* product, float* quotient) {
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups; g += int64_t(gridDim.x) * blockDim.x) {
    float v[8], fmax = 0.0f, rmax = 0.0f;
    for (int j = 0; j < 8; ++j) {
      v[j] = f[g * 8 + j];
      fmax = fmaxf(fmax, fabsf(v[j]));
      rmax = fmaxf(rmax, fabsf(__fmul_rn(v[j], pre[g])));
    }
    const kiln::Product by{pre[g]};
    const float amax = by.max_of(fmax);
    const float scale = kind[g] == 2 ? kiln::norm::token_scale(amax * cap[g]) : kiln::group_scale(amax, kind[g] == 1);
    max_product[g] = amax;
    max_rounded[g] = rmax;
    s[g] = scale;
    for (int j = 0; j < 8; ++j) quotient[g * 8 + j] = __fdiv_rn(__fmul_rn(v[j], pre[g]), scale);
    by.apply<true>(v, kiln::divisor(scale));
    for (int j = 0; j < 8; ++j) product[g * 8 + j] = v[j];
  }
}

// reciprocal(s) against __frcp_rn(s) for every positive float from 2^-126 up to 2^126 (biased
// exponents 1..252, 2^31 - 2^24 of them, one thread each a stride apart), and divisor's inf.
// Counts the mismatches and keeps the first.
__global__ void reciprocal_every_float(unsigned long long* mismatches, uint32_t* first) {
  constexpr uint32_t kLo = 1u << 23, kHi = 253u << 23;  // [2^-126, 2^126)
  unsigned long long local = 0;
  for (uint32_t u = kLo + blockIdx.x * blockDim.x + threadIdx.x; u < kHi; u += gridDim.x * blockDim.x) {
    const float s = __uint_as_float(u);
    if (__float_as_uint(kiln::reciprocal(s)) != __float_as_uint(__frcp_rn(s))) {
      ++local;
      atomicMin(first, u);
    }
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    const kiln::Divisor d = kiln::divisor(__uint_as_float(0x7f800000u));
    local += d.s != 0.0f || d.r != 0.0f;
  }
  atomicAdd(mismatches, local);
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A float with a random sign, mantissa and exponent in [lo, hi] (biased exponents 0..255:
// 0 gives subnormals, 255 gives inf and NaN).
float random_float(std::mt19937_64& rng, int lo, int hi) {
  const uint32_t e = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  const uint32_t m = static_cast<uint32_t>(rng()) & 0x7fffffu;
  const uint32_t sign = static_cast<uint32_t>(rng()) & 0x80000000u;
  return from_bits(sign | (e << 23) | m);
}

// The scales the quantisers divide by: group scales RN(amax / 448) for amax over the whole
// range, the two floors, powers of two (UE8M0, up to 2^120), random floats in the scales'
// range [2^-43, 2^120), and inf.
std::vector<float> scales(std::mt19937_64& rng, size_t count) {
  std::vector<float> s = {1e-10f / 448.0f, 1.0f / (448.0f * 512.0f), std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::max() / 448.0f, 1.0f, 448.0f};
  for (int e = -33; e <= 120; e += 3) s.push_back(std::ldexp(1.0f, e));
  while (s.size() < count) {
    const float amax = std::fabs(random_float(rng, 1, 254));
    s.push_back(rng() % 2 ? std::fmax(amax, 1e-10f) / 448.0f : std::fabs(random_float(rng, 84, 246)));
  }
  return s;
}

// Numerators for a scale s: quotients on every fp8 e4m3 rounding boundary (the midpoints
// between neighbouring codes, subnormal ones included) and on every code, up to the largest,
// 448, beyond which satfinite saturates, times s, and their float neighbours; random floats;
// and the special values.
void numerators(std::mt19937_64& rng, float s, std::vector<float>& x, std::vector<float>& sv) {
  auto add = [&](float v) {
    x.push_back(v);
    sv.push_back(s);
  };
  for (int code = 0; code < 127; ++code) {  // e4m3 codes 0..126 (0x7f is NaN)
    const int e = code >> 3, m = code & 7;
    const double lo = e == 0 ? std::ldexp(m, -9) : std::ldexp(1.0 + m / 8.0, e - 7);
    const double hi = (e == 0 && m == 7) ? std::ldexp(1.0, -6) : (m == 7 ? std::ldexp(1.0, e - 6) : std::ldexp(1.0 + (m + 1) / 8.0, e - 7));
    const double mid = e == 0 && m < 7 ? std::ldexp(m + 0.5, -9) : (lo + hi) / 2;
    for (const double q : {mid, lo, 448.0}) {
      const float v = static_cast<float>(q * s);
      if (!std::isfinite(v)) continue;
      for (float w = v, k = 0; k < 3; ++k, w = std::nextafter(w, 0.0f)) add(rng() % 2 ? w : -w);
      for (float w = v, k = 0; k < 3; ++k, w = std::nextafter(w, INFINITY)) add(rng() % 2 ? w : -w);
    }
  }
  for (int k = 0; k < 256; ++k) add(random_float(rng, 0, 254));
  for (float v : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), 1e-40f, -1e-40f})
    add(v);
}

TEST(DeviceMath, DivideGivesIeeeQuotientsAndFp8Bytes) {
  REQUIRE_GPU();
  std::mt19937_64 rng(20261130);
  std::vector<float> x, s;
  for (const float scale : scales(rng, 2000)) numerators(rng, scale, x, s);
  // Plus random pairs: x over the whole float range, s over the scales' range [2^-43, 2^120].
  for (int k = 0; k < (1 << 22); ++k) {
    x.push_back(random_float(rng, 0, 255));
    s.push_back(std::fabs(random_float(rng, 84, 247)));
  }
  const int64_t n = static_cast<int64_t>(x.size());
  ASSERT_GT(n, int64_t(1) << 23);
  float *dx, *ds, *dfast, *dbounded, *dieee;
  uint8_t *dfast8, *dieee8;
  CUDA_OK(cudaMalloc(&dx, n * 4));
  CUDA_OK(cudaMalloc(&ds, n * 4));
  CUDA_OK(cudaMalloc(&dfast, n * 4));
  CUDA_OK(cudaMalloc(&dbounded, n * 4));
  CUDA_OK(cudaMalloc(&dieee, n * 4));
  CUDA_OK(cudaMalloc(&dfast8, n));
  CUDA_OK(cudaMalloc(&dieee8, n));
  CUDA_OK(cudaMemcpy(dx, x.data(), n * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(ds, s.data(), n * 4, cudaMemcpyHostToDevice));
  divide_both<<<1024, 256>>>(dx, ds, n, dfast, dbounded, dieee, dfast8, dieee8);
  CUDA_OK(cudaGetLastError());
  std::vector<float> fast(n), bounded(n), ieee(n);
  std::vector<uint8_t> fast8(n), ieee8(n);
  CUDA_OK(cudaMemcpy(fast.data(), dfast, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(bounded.data(), dbounded, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(ieee.data(), dieee, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(fast8.data(), dfast8, n, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(ieee8.data(), dieee8, n, cudaMemcpyDeviceToHost));
  for (void* p : {static_cast<void*>(dx), static_cast<void*>(ds), static_cast<void*>(dfast),
                  static_cast<void*>(dbounded), static_cast<void*>(dieee), static_cast<void*>(dfast8), static_cast<void*>(dieee8)})
    CUDA_OK(cudaFree(p));

  int64_t byte_mismatches = 0, value_mismatches = 0, compared_values = 0, saturating = 0, negative_zeros = 0;
  int64_t bounded_mismatches = 0, bounded_compared = 0;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    const float b = ieee[i], a = fast[i];
    // The floats, where divide's comment promises them: NaN for NaN; +-inf exactly for x = +-inf
    // over a finite scale; an overflowing quotient at or beyond the +-2^126 clamp with its sign
    // (fp8 saturates it either way); IEEE's bits for 0 / s, x / inf and, with x >= 2^-100, every
    // normal quotient below the clamp (signs of zero included). Elsewhere the fp8 bytes only.
    bool value_ok = true, compared = true;
    if (std::isnan(b)) value_ok = std::isnan(a);
    else if (std::isinf(x[i]) && !std::isinf(s[i])) value_ok = bits(a) == bits(b);
    else if (std::isinf(b)) value_ok = std::signbit(a) == std::signbit(b) && std::fabs(a) >= 0x1p126f;
    else if (x[i] == 0.0f || std::isinf(s[i]) ||
             (std::fabs(x[i]) >= 0x1p-100f && std::fabs(b) >= 0x1p-126f && std::fabs(b) < 0x1p126f))
      value_ok = bits(a) == bits(b);
    else compared = false;
    compared_values += compared;
    // How often the inputs reach saturation and a negative zero quotient (coverage, not a check).
    saturating += ieee8[i] == 0x7e || ieee8[i] == 0xfe;
    negative_zeros += b == 0.0f && std::signbit(b);
    // divide<true>'s premise: the quotient is at most about 448 (s taken from a maximum over
    // |x|), or s is infinite. There it must be divide's float, bit for bit (NaN for NaN).
    if (std::isinf(s[i]) || std::fabs(b) <= 449.0f) {
      ++bounded_compared;
      const bool same = std::isnan(a) ? std::isnan(bounded[i]) : bits(bounded[i]) == bits(a);
      bounded_mismatches += !same;
      if (!same && bounded_mismatches == 1)
        ADD_FAILURE() << std::hexfloat << "x = " << x[i] << ", s = " << s[i] << ": divide<true> " << bounded[i]
                      << ", divide " << a;
    }
    const bool byte_ok = fast8[i] == ieee8[i];
    byte_mismatches += !byte_ok;
    value_mismatches += !value_ok;
    if ((!byte_ok || !value_ok) && first.empty()) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "x = %a, s = %a: divide %a (fp8 0x%02x), IEEE %a (fp8 0x%02x)", x[i], s[i], a,
                    fast8[i], b, ieee8[i]);
      first = buf;
    }
  }
  EXPECT_EQ(byte_mismatches, 0) << "of " << n << "; first: " << first;
  EXPECT_EQ(value_mismatches, 0) << "of " << compared_values << " compared; first: " << first;
  EXPECT_EQ(bounded_mismatches, 0) << "of " << bounded_compared << " compared";
  EXPECT_GT(bounded_compared, n / 4);
  // The inputs reached the cases divide's comment names.
  EXPECT_GT(saturating, 1000);
  EXPECT_GT(negative_zeros, 100);
  EXPECT_GT(compared_values, n / 2);
}

TEST(DeviceMath, ReciprocalIsFrcpRnOverTheScalesRange) {
  REQUIRE_GPU();
  unsigned long long* d_mismatches;
  uint32_t* d_first;
  CUDA_OK(cudaMalloc(&d_mismatches, sizeof(unsigned long long)));
  CUDA_OK(cudaMalloc(&d_first, sizeof(uint32_t)));
  CUDA_OK(cudaMemset(d_mismatches, 0, sizeof(unsigned long long)));
  CUDA_OK(cudaMemset(d_first, 0xff, sizeof(uint32_t)));
  reciprocal_every_float<<<4096, 256>>>(d_mismatches, d_first);
  CUDA_OK(cudaGetLastError());
  unsigned long long mismatches = 0;
  uint32_t first = 0;
  CUDA_OK(cudaMemcpy(&mismatches, d_mismatches, sizeof mismatches, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(&first, d_first, sizeof first, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaFree(d_mismatches));
  CUDA_OK(cudaFree(d_first));
  EXPECT_EQ(mismatches, 0u) << "first at s = " << std::hexfloat << from_bits(first)
                            << " (or divisor(inf) is not {0, 0})";
}

TEST(DeviceMath, GroupScaleIsTheIeeeDivisionBy448) {
  REQUIRE_GPU();
  std::mt19937_64 rng(448);
  std::vector<float> amax = {0.0f, 1e-10f, 1e-12f, 448.0f, 1.0f, INFINITY, std::numeric_limits<float>::max()};
  while (amax.size() < (1u << 22)) amax.push_back(std::fabs(random_float(rng, 0, 254)));
  const int64_t n = static_cast<int64_t>(amax.size());
  float *da, *dfast, *dieee;
  CUDA_OK(cudaMalloc(&da, n * 4));
  CUDA_OK(cudaMalloc(&dfast, n * 4));
  CUDA_OK(cudaMalloc(&dieee, n * 4));
  CUDA_OK(cudaMemcpy(da, amax.data(), n * 4, cudaMemcpyHostToDevice));
  group_scale_both<<<1024, 256>>>(da, n, dfast, dieee);
  CUDA_OK(cudaGetLastError());
  std::vector<float> fast(n), ieee(n);
  CUDA_OK(cudaMemcpy(fast.data(), dfast, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(ieee.data(), dieee, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaFree(da));
  CUDA_OK(cudaFree(dfast));
  CUDA_OK(cudaFree(dieee));
  int64_t mismatches = 0;
  for (int64_t i = 0; i < n; ++i) {
    mismatches += bits(fast[i]) != bits(ieee[i]);
    if (bits(fast[i]) != bits(ieee[i]) && mismatches == 1)
      ADD_FAILURE() << "amax = " << std::hexfloat << amax[i] << ": " << fast[i] << " vs " << ieee[i];
  }
  EXPECT_EQ(mismatches, 0) << "of " << n;
}

TEST(DeviceMath, ProductIsNearTheQuotientAndKeepsTheScale) {
  REQUIRE_GPU();
  std::mt19937_64 rng(20261202);
  constexpr int64_t kGroups = int64_t(1) << 20;
  std::vector<float> f(kGroups * 8), pre(kGroups), cap(kGroups);
  std::vector<uint8_t> kind(kGroups);
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN};
  for (int64_t g = 0; g < kGroups; ++g) {
    // pre: a row's rinv, 2^-30 to 2^30; now and then 0 (a row holding inf) or 1.
    const uint64_t r = rng() % 64;
    pre[g] = r == 0 ? 0.0f : r == 1 ? 1.0f : std::fabs(random_float(rng, 97, 157));
    // f: v * w of 16-bit values, 2^-40 to 2^40; now and then a special value.
    for (int j = 0; j < 8; ++j) f[g * 8 + j] = rng() % 256 == 0 ? specials[rng() % 5] : random_float(rng, 87, 167);
    kind[g] = static_cast<uint8_t>(rng() % 3);
    cap[g] = std::ldexp(1.0f, -static_cast<int>(rng() % 20));  // 2^-19 to 1
  }
  const int64_t n = kGroups * 8;
  float *df, *dpre, *dcap, *dmaxp, *dmaxr, *ds, *dprod, *dquot;
  uint8_t* dkind;
  CUDA_OK(cudaMalloc(&df, n * 4));
  CUDA_OK(cudaMalloc(&dpre, kGroups * 4));
  CUDA_OK(cudaMalloc(&dcap, kGroups * 4));
  CUDA_OK(cudaMalloc(&dkind, kGroups));
  CUDA_OK(cudaMalloc(&dmaxp, kGroups * 4));
  CUDA_OK(cudaMalloc(&dmaxr, kGroups * 4));
  CUDA_OK(cudaMalloc(&ds, kGroups * 4));
  CUDA_OK(cudaMalloc(&dprod, n * 4));
  CUDA_OK(cudaMalloc(&dquot, n * 4));
  CUDA_OK(cudaMemcpy(df, f.data(), n * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dpre, pre.data(), kGroups * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dcap, cap.data(), kGroups * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dkind, kind.data(), kGroups, cudaMemcpyHostToDevice));
  product_both<<<1024, 256>>>(df, dpre, dkind, dcap, kGroups, dmaxp, dmaxr, ds, dprod, dquot);
  CUDA_OK(cudaGetLastError());
  std::vector<float> s(kGroups);
  CUDA_OK(cudaMemcpy(s.data(), ds, kGroups * 4, cudaMemcpyDeviceToHost));
  std::vector<float> maxp(kGroups), maxr(kGroups), prod(n), quot(n);
  CUDA_OK(cudaMemcpy(maxp.data(), dmaxp, kGroups * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(maxr.data(), dmaxr, kGroups * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(prod.data(), dprod, n * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(quot.data(), dquot, n * 4, cudaMemcpyDeviceToHost));
  for (float* p : {df, dpre, dcap, dmaxp, dmaxr, ds, dprod, dquot}) CUDA_OK(cudaFree(p));
  CUDA_OK(cudaFree(dkind));

  // The scale's input: the same bits (rounding is monotone), inf * 0 passed over as NaN is.
  int64_t max_mismatches = 0;
  for (int64_t g = 0; g < kGroups; ++g) {
    max_mismatches += bits(maxp[g]) != bits(maxr[g]);
    if (bits(maxp[g]) != bits(maxr[g]) && max_mismatches == 1)
      ADD_FAILURE() << std::hexfloat << "pre = " << pre[g] << ": max_of " << maxp[g] << ", largest |RN(f * pre)| "
                    << maxr[g];
  }
  EXPECT_EQ(max_mismatches, 0) << "of " << kGroups << " groups";

  // The quotient: NaN for NaN; the same bits for zeros and infinite scales; the same sign and at
  // least 2^127 where IEEE's overflows; within kUlps where IEEE's is a normal float of at least
  // 2^-100 (below, both are far under fp8's smallest value), and the same float there when s is
  // a power of two (then every product is exact but the last). pre / s is a normal float here, as
  // in the kernels (about 448 / max |f|), so their product keeps its 24 bits.
  constexpr int64_t kUlps = 4;  // three roundings against two: at most 5 * 2^-24 of the value apart
  int64_t mismatches = 0, within = 0, exact_compared = 0, max_ulps = 0;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = i / 8;
    const float a = prod[i], b = quot[i];
    const bool pow2 = std::isfinite(s[g]) && (bits(s[g]) & 0x7fffffu) == 0;
    bool ok = true;
    if (std::isnan(b)) {
      ok = std::isnan(a);
    } else if (b == 0.0f && (f[i] == 0.0f || std::isinf(s[g]) || pre[g] == 0.0f)) {
      ok = bits(a) == bits(b);
    } else if (std::isinf(b)) {
      ok = std::signbit(a) == std::signbit(b) && std::fabs(a) >= 0x1p127f;
    } else if (std::fabs(b) >= 0x1p-100f) {
      const int64_t ulps = std::llabs(static_cast<int64_t>(bits(a)) - static_cast<int64_t>(bits(b)));
      ok = std::signbit(a) == std::signbit(b) && ulps <= kUlps;
      ++within;
      max_ulps = std::max(max_ulps, ulps);
      if (pow2) {
        ++exact_compared;
        ok = ok && bits(a) == bits(b);
      }
    }
    mismatches += !ok;
    if (!ok && first.empty()) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "f = %a, pre = %a, s = %a: Product %a, IEEE %a", f[i], pre[g], s[g], a, b);
      first = buf;
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << n << "; first: " << first;
  RecordProperty("max_ulps", static_cast<int>(max_ulps));
  std::printf("Product against the IEEE quotient: %lld values within %lld ulps, at most %lld apart; %lld with a "
              "power-of-two scale the same float\n",
              static_cast<long long>(within), static_cast<long long>(kUlps), static_cast<long long>(max_ulps),
              static_cast<long long>(exact_compared));
  // The inputs reached the cases above.
  EXPECT_GT(within, n / 2);
  EXPECT_GT(exact_compared, n / 8);
  EXPECT_GT(max_ulps, 0);  // Product is not the quotient itself
}

}  // namespace
