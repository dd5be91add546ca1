// Issue 9, run 122: how much of the T <= 32 budget (0.6 us over the empty-kernel launch floor) the
// dependent chain of a row kernel takes by itself, timed as kiln-bench times (tools/measure: one
// CUDA graph of back-to-back PDL launches, median replay / launches), one process, one floor.
// A ladder of kernels, each one step more of what rms_norm_group_fp8 does, one CTA per row,
// 8 bf16 a vector, the row in registers, built from kiln's own helpers (templates/common.cuh):
//   copy   wait, load x, store it (bf16)                     the memory round trip alone
//   norm   + the weight, the sum of squares over the CTA     one block reduction (as rms_norm)
//   group  + max |y| per 128 columns (16 lanes), scale,      rms_norm_group_fp8's chain, unpaired
//            fp8 store, scale store (row-major)
// Not kiln code and not built by meson: nvcc by hand (build.sh), linked with tools/measure.
#include <cstdio>
#include <vector>

#include "common.cuh"
#include "measure/timing.h"

namespace {
using T = __nv_bfloat16;
constexpr int V = 8;

enum Step { kCopy, kNorm, kGroup };

template <int H, int Threads, Step S>
__global__ void __launch_bounds__(Threads) ladder(const T* __restrict__ x, const T* __restrict__ w, void* __restrict__ out,
                                                  float* __restrict__ scales) {
  constexpr int N = H / (Threads * V), warps = Threads / 32;
  const int tid = threadIdx.x;
  const int64_t row = blockIdx.x;
  kiln::wait_for_predecessor();
  kiln::allow_successor();
  kiln::Vec<T, V> xv[N], wv[N];
#pragma unroll
  for (int i = 0; i < N; ++i) {
    if constexpr (S != kCopy) wv[i] = kiln::load_vec<T, V>(w + i * Threads * V + tid * V);
    xv[i] = kiln::load_vec<T, V>(x + row * H + i * Threads * V + tid * V);
  }
  if constexpr (S == kCopy) {
#pragma unroll
    for (int i = 0; i < N; ++i) reinterpret_cast<kiln::Vec<T, V>*>(static_cast<T*>(out) + row * H)[i * Threads + tid] = xv[i];
    return;
  } else {
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < N; ++i)
#pragma unroll
      for (int j = 0; j < V; ++j) ss += kiln::element(xv[i], j) * kiln::element(xv[i], j);
    __shared__ float slots[warps];
    ss = kiln::warp_sum(ss);
    if (tid % 32 == 0) slots[tid / 32] = ss;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < warps; ++k) total += slots[k];
    const float rinv = 1.0f / sqrtf(total / H + 1e-6f);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float f[V];
#pragma unroll
      for (int j = 0; j < V; ++j) f[j] = kiln::element(xv[i], j) * kiln::element(wv[i], j) * rinv;
      const int64_t at = row * H + i * Threads * V + tid * V;
      if constexpr (S == kNorm) {
        kiln::store_vec<T, V>(static_cast<T*>(out) + at, f);
      } else {
        float m = 0.0f;
#pragma unroll
        for (int j = 0; j < V; ++j) m = fmaxf(m, fabsf(f[j]));
        m = kiln::lanes_max<128 / V>(m);
        const float s = fmaxf(m, 1e-10f) / kiln::kFp8Max;
        const float r = kiln::reciprocal(s);
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] *= r;
        kiln::store_fp8<V>(static_cast<uint8_t*>(out) + at, f);
        if (tid % (128 / V) == 0) scales[row * (H / 128) + (i * Threads * V + tid * V) / 128] = s;
      }
    }
  }
}

template <int H, int Threads, Step S>
void time_one(kiln::measure::GraphTimer& timer, const kiln::measure::TimingOptions& opt, const T* x, const T* w,
              void* out, float* scales, int tokens, double floor_us, const char* name) {
  auto enqueue = [&](int, cudaStream_t stream) {
    KILN_CUDA_CHECK(kiln::launch(ladder<H, Threads, S>, dim3(tokens), dim3(Threads), 1, stream, x, w, out, scales));
  };
  const kiln::measure::Timing t = timer.time(enqueue, opt.launches, opt);
  std::printf("%-6s h %5d threads %4d T %3d  %7.3f us  (fastest %7.3f)  over the floor %6.3f us\n", name, H, Threads,
              tokens, t.us, t.us_min, t.us - floor_us);
}

template <int H, int Threads>
void ladder_at(kiln::measure::GraphTimer& timer, const kiln::measure::TimingOptions& opt, const T* x, const T* w,
               void* out, float* scales, double floor_us) {
  for (int tokens : {1, 32}) {
    time_one<H, Threads, kCopy>(timer, opt, x, w, out, scales, tokens, floor_us, "copy");
    time_one<H, Threads, kNorm>(timer, opt, x, w, out, scales, tokens, floor_us, "norm");
    time_one<H, Threads, kGroup>(timer, opt, x, w, out, scales, tokens, floor_us, "group");
  }
}
}  // namespace

int main() {
  cudaStream_t stream;
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  kiln::measure::GraphTimer timer(stream);
  kiln::measure::TimingOptions opt;
  opt.max_seconds = 0.5;
  constexpr int kMaxH = 8192, kMaxT = 32;
  T *x, *w;
  void* out;
  float* scales;
  KILN_CUDA_CHECK(cudaMalloc(&x, kMaxH * kMaxT * sizeof(T)));
  KILN_CUDA_CHECK(cudaMalloc(&w, kMaxH * sizeof(T)));
  KILN_CUDA_CHECK(cudaMalloc(&out, kMaxH * kMaxT * sizeof(T)));
  KILN_CUDA_CHECK(cudaMalloc(&scales, kMaxH / 128 * kMaxT * sizeof(float)));
  kiln::measure::fill_normal(reinterpret_cast<uint16_t*>(x), kMaxH * kMaxT, true, 1, 1.0f, stream);
  kiln::measure::fill_normal(reinterpret_cast<uint16_t*>(w), kMaxH, true, 2, 1.0f, stream);
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (int pass = 0; pass < 2; ++pass) {
    const kiln::measure::Floor f = kiln::measure::measure_floor(timer, opt);
    std::printf("pass %d: launch floor %.3f us (plain %.3f, PDL %.3f)\n", pass, f.us, f.plain_us, f.pdl_us);
    ladder_at<2048, 256>(timer, opt, x, w, out, scales, f.us);
    ladder_at<4096, 256>(timer, opt, x, w, out, scales, f.us);
    ladder_at<5120, 320>(timer, opt, x, w, out, scales, f.us);
    ladder_at<8192, 512>(timer, opt, x, w, out, scales, f.us);
  }
  return 0;
}
