#include <algorithm>
#include <cstdio>
#include <vector>
#include "common_sweep.h"
#define DECL(h) extern const Cand cands_##h[]; extern const int n_cands_##h;
DECL(2048) DECL(4096) DECL(5120) DECL(8192)
__global__ void fill(__nv_bfloat16* x, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t z = (i + seed) * 0x9e3779b97f4a7c15ull; z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull; z ^= z >> 31;
    float u = ((z >> 40) & 0xffffff) / 16777216.0f;
    x[i] = __float2bfloat16((u - 0.5f) * 6.0f + 0.001f);
  }
}
int main() {
  const int64_t maxT = 65536, maxH = 8192;
  __nv_bfloat16 *x, *w; uint8_t* o; float* s;
  cudaMalloc(&x, maxT * 2 * maxH * 2); cudaMalloc(&w, maxH * 2); cudaMalloc(&o, maxT * maxH); cudaMalloc(&s, 4);
  fill<<<4096, 256>>>(x, maxT * 2 * maxH, 1); fill<<<32, 256>>>(w, maxH, 7);
  float sc = 0.1f; cudaMemcpy(s, &sc, 4, cudaMemcpyHostToDevice);
  cudaStream_t st; cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  struct L { const Cand* c; int n; } lists[] = {{cands_2048, n_cands_2048}, {cands_4096, n_cands_4096}, {cands_5120, n_cands_5120}, {cands_8192, n_cands_8192}};
  const int64_t Ts[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536};
  printf("kernel,hidden,schedule,tokens,us\n");
  for (auto& l : lists) for (int ci = 0; ci < l.n; ++ci) {
    const Cand& c = l.c[ci];
    for (int64_t T : Ts) {
      kiln::detail::LaunchParams p{kiln::detail::DType::bf16, x, w, o, s, T, c.hidden, 1e-6f};
      const int n = T >= 16384 ? 5 : 20;
      cudaGraph_t g; cudaGraphExec_t ge;
      cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
      for (int i = 0; i < n; ++i) c.launch(p, st);
      cudaStreamEndCapture(st, &g);
      if (cudaGraphInstantiate(&ge, g, 0) != cudaSuccess) { printf("%s,%d,%s,%ld,ERR\n", c.kernel, c.hidden, c.schedule, (long)T); cudaGetLastError(); continue; }
      for (int wu = 0; wu < 3; ++wu) cudaGraphLaunch(ge, st);
      std::vector<float> ts;
      const int reps = T >= 16384 ? 7 : 15;
      for (int r = 0; r < reps; ++r) { cudaEventRecord(e0, st); cudaGraphLaunch(ge, st); cudaEventRecord(e1, st); cudaEventSynchronize(e1); float ms; cudaEventElapsedTime(&ms, e0, e1); ts.push_back(ms); }
      std::sort(ts.begin(), ts.end());
      cudaError_t err = cudaGetLastError();
      printf("%s,%d,%s,%ld,%.4f%s\n", c.kernel, c.hidden, c.schedule, (long)T, ts[reps / 2] * 1000 / n, err ? "ERR" : "");
      cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    }
    fflush(stdout);
  }
  // floor: empty-ish
}
