// Experiment harness (issue 9, session 11, run 76; run 61's with ONLY/NOTIME and the run-time options' hashes; from session 4's harness): the norm
// quantisers' specialised kernel under one template variant (the include path picks it), at the
// schedules of their committed DRAM buckets, T = 65536, plus T = 1 and 32 in CUDA graphs of 20
// launches. Prints per case: kind, hidden, threads, rows, registers, us, GB/s, % of the memcpy
// ceiling, and a hash of every byte written (outputs, scales, residual) after one launch on
// fresh inputs, so variants of one schedule are compared bit for bit.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
#include "rms_norm.cuh"

using namespace kiln;
using bf16 = __nv_bfloat16;

#define CK(...) do { cudaError_t e_ = (__VA_ARGS__); if (e_ != cudaSuccess) { std::printf("CUDA %s at %d\n", cudaGetErrorString(e_), __LINE__); std::exit(1); } } while (0)

__global__ void fill(bf16* p, int64_t n, uint32_t seed, float amp) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed; h ^= h >> 15; h *= 2246822519u; h ^= h >> 13; h *= 3266489917u; h ^= h >> 16;
    p[i] = __float2bfloat16((float(h & 0xffffff) / 16777216.0f * 2.0f - 1.0f) * amp);
  }
}

__global__ void hash_words(const uint32_t* p, int64_t n, unsigned long long* acc) {
  unsigned long long local = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    unsigned long long h = (unsigned long long)p[i] * 0x9E3779B97F4A7C15ull + (unsigned long long)i * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 32;
    local += h;
  }
  atomicAdd(acc, local);
}

static unsigned long long* g_acc;
static uint64_t hash_dev(const void* d, size_t n) {  // n: a multiple of 4 bytes
  CK(cudaMemset(g_acc, 0, 8));
  hash_words<<<1024, 256>>>(static_cast<const uint32_t*>(d), int64_t(n / 4), g_acc);
  unsigned long long h; CK(cudaMemcpy(&h, g_acc, 8, cudaMemcpyDeviceToHost));
  return h;
}

struct Bufs { bf16 *x, *w, *r; uint8_t* out; float *scales, *scale; };
static Bufs B;
static const int64_t kT = 65536;
static double ceiling_gbps = 0;

template <class S, norm::Kind K>
void run_case(const char* kname) {
  using Tr = norm::Traits<K>;
  constexpr int H = S::hidden;
  if (const char* only = getenv("ONLY")) {  // "kernel:hidden": that case alone
    char want[64]; std::snprintf(want, sizeof want, "%s:%d", kname, H);
    if (std::strcmp(only, want) != 0) return;
  }
  detail::LaunchParams p{};
  p.dtype = detail::DType::bf16; p.input = B.x; p.weight = B.w; p.residual = B.r; p.output = B.out; p.scales = B.scales; p.scale = B.scale;
  p.tokens = kT; p.hidden = H; p.eps = 1e-6f; p.rounding = detail::Rounding::single;
  p.group_size = Tr::group ? 128 : 0; p.scale_layout = detail::ScaleLayout::row_major;
  cudaFuncAttributes a;
#ifdef KILN_NORM_FIXED_KERNELS
  CK(cudaFuncGetAttributes(&a, norm::specialised<S, K, bf16, Tr::norm || Tr::group>));
#else
  CK(cudaFuncGetAttributes(&a, norm::specialised<S, K, bf16>));
#endif
  // fresh inputs, poisoned outputs, one launch, hash
  fill<<<1024, 256>>>(B.x, kT * H, 1, 3.0f); fill<<<64, 256>>>(B.w, H, 2, 1.5f); fill<<<1024, 256>>>(B.r, kT * H, 3, 2.0f);
  CK(cudaMemset(B.out, 0xA5, kT * H * (Tr::fp8_out ? 1 : 2))); CK(cudaMemset(B.scales, 0xA5, kT * (H / 64) * 4));
  CK(norm::launch<S, K>(p, 0)); CK(cudaDeviceSynchronize());
  const size_t nscales = Tr::group ? kT * (H / 128) : kT;
  uint64_t h = hash_dev(B.out, kT * H * (Tr::fp8_out ? 1 : 2)) ^ (hash_dev(B.scales, nscales * 4) * 31);
  if (Tr::add) h ^= hash_dev(B.r, kT * H * 2) * 131;
  if (!Tr::fp8_out && Tr::add) h ^= hash_dev(B.x, kT * H * 2) * 7;
  // The other options (the run-time path): vllm rounding + gemma + g = 64, col-major, UE8M0; then packed g = 128.
  uint64_t h2 = 0, h3 = 0;
  {
    detail::LaunchParams p2 = p;
    p2.rounding = detail::Rounding::vllm; p2.gemma = true;
    if (Tr::group) { p2.group_size = 64; p2.scale_layout = detail::ScaleLayout::col_major_tma; p2.ue8m0 = true; }
    fill<<<1024, 256>>>(B.x, kT * H, 1, 3.0f); fill<<<1024, 256>>>(B.r, kT * H, 3, 2.0f);
    CK(cudaMemset(B.out, 0xA5, kT * H * (Tr::fp8_out ? 1 : 2))); CK(cudaMemset(B.scales, 0xA5, kT * (H / 64) * 4));
    CK(norm::launch<S, K>(p2, 0)); CK(cudaDeviceSynchronize());
    h2 = hash_dev(B.out, kT * H * (Tr::fp8_out ? 1 : 2)) ^ (hash_dev(B.scales, kT * (H / 64) * 4) * 31);
    if (Tr::group) {
      p2 = p; p2.scale_layout = detail::ScaleLayout::packed_ue8m0;
      fill<<<1024, 256>>>(B.x, kT * H, 1, 3.0f);
      CK(cudaMemset(B.out, 0xA5, kT * H)); CK(cudaMemset(B.scales, 0xA5, kT * (H / 64) * 4));
      CK(norm::launch<S, K>(p2, 0)); CK(cudaDeviceSynchronize());
      h3 = hash_dev(B.out, kT * H) ^ (hash_dev(B.scales, kT * (H / 128 / 4) * 4) * 31);
    }
    fill<<<1024, 256>>>(B.x, kT * H, 1, 3.0f); fill<<<1024, 256>>>(B.r, kT * H, 3, 2.0f);
  }
  if (getenv("NOTIME")) {
    std::printf("%-28s h=%5d threads=%4d hash=%016llx h2=%016llx h3=%016llx\n", kname, H, S::threads, (unsigned long long)h,
                (unsigned long long)h2, (unsigned long long)h3);
    return;
  }
  // time: 3 warm, then 7 reps of 10 launches, median
  cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(norm::launch<S, K>(p, 0));
  std::vector<float> ms;
  for (int rep = 0; rep < 7; ++rep) {
    CK(cudaEventRecord(e0));
    for (int i = 0; i < 10; ++i) CK(norm::launch<S, K>(p, 0));
    CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1));
    float t; CK(cudaEventElapsedTime(&t, e0, e1)); ms.push_back(t / 10);
  }
  std::sort(ms.begin(), ms.end());
  const double us = ms[3] * 1000.0;
  const double bytes = double(kT) * H * (2 + (Tr::fp8_out ? 1 : 2) + (Tr::add ? 4 : 0)) + double(nscales) * 4 + H * 2;
  const double gbps = bytes / us / 1000.0;
  double lat[4];
  cudaStream_t st; CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  for (int c = 0; c < 4; ++c) {  // T = 1, 32 x static_weight 0, 1: a graph of 20 launches (PDL), median replay
    p.tokens = c % 2 == 0 ? 1 : 32; p.static_weight = c >= 2;
    cudaGraph_t g; cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 20; ++i) CK(norm::launch<S, K>(p, st));
    CK(cudaStreamEndCapture(st, &g)); CK(cudaGraphInstantiate(&ge, g, 0));
    for (int i = 0; i < 5; ++i) CK(cudaGraphLaunch(ge, st));
    std::vector<float> m2;
    for (int rep = 0; rep < 31; ++rep) {
      CK(cudaEventRecord(e0, st)); CK(cudaGraphLaunch(ge, st)); CK(cudaEventRecord(e1, st)); CK(cudaEventSynchronize(e1));
      float t; CK(cudaEventElapsedTime(&t, e0, e1)); m2.push_back(t / 20);
    }
    std::sort(m2.begin(), m2.end()); lat[c] = m2[15] * 1000.0;
    CK(cudaGraphExecDestroy(ge)); CK(cudaGraphDestroy(g));
  }
  CK(cudaStreamDestroy(st));
  p.tokens = kT; p.static_weight = false;
  std::printf("%-28s h=%5d threads=%4d rows=%d wau=%d regs=%3d  %9.2f us  %7.1f GB/s  %5.1f %%  hash=%016llx h2=%016llx h3=%016llx  T1 %.3f T32 %.3f T1sw %.3f T32sw %.3f\n", kname, H,
              S::threads, S::rows_per_cta, int(S::weight_at_use), a.numRegs, us, gbps, 100.0 * gbps / ceiling_gbps, (unsigned long long)h, (unsigned long long)h2, (unsigned long long)h3,
              lat[0], lat[1], lat[2], lat[3]);
}

int main(int argc, char** argv) {
  const size_t big = size_t(kT) * 8192;
  CK(cudaMalloc(&B.x, big * 2)); CK(cudaMalloc(&B.w, 8192 * 2)); CK(cudaMalloc(&B.r, big * 2));
  CK(cudaMalloc(&B.out, big * 2)); CK(cudaMalloc(&g_acc, 8)); CK(cudaMalloc(&B.scales, kT * 128 * 4));
  { CK(cudaMalloc(&B.scale, 4)); const float s = 0.0625f; CK(cudaMemcpy(B.scale, &s, 4, cudaMemcpyHostToDevice)); }
  {  // the copy ceiling: 4 GiB device to device (read + written)
    void *a, *b; const size_t n = size_t(2) << 30; CK(cudaMalloc(&a, n)); CK(cudaMalloc(&b, n));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    CK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
    float best = 1e9;
    for (int i = 0; i < 5; ++i) { CK(cudaEventRecord(e0)); CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice)); CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1)); float t; CK(cudaEventElapsedTime(&t, e0, e1)); best = std::min(best, t); }
    ceiling_gbps = 2.0 * n / (best * 1e6);
    CK(cudaFree(a)); CK(cudaFree(b));
    std::printf("variant %s  ceiling %.1f GB/s (cudaMemcpy 2 GiB)\n", argc > 1 ? argv[1] : "?", ceiling_gbps);
  }
#include "cases.inc"
  return 0;
}
