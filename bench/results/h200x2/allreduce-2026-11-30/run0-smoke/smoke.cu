// Standalone smoke test of templates/allreduce_add_rms_norm.cuh on 2 GPUs (issue 13).
// Sets up NCCL itself (ncclCommInitAll, ncclMemAlloc, one symmetric window per workspace,
// LSA pointers resolved by a one-thread kernel), then:
//   1. correctness: both kernels, one-shot / two-shot / generic, bf16 and fp16, single and
//      vllm, gemma, several (H, T) including T beyond a buffer (two rounds), against a CPU
//      computation, outputs poisoned with guard bytes, bit identity across the two ranks,
//      every slot back to the sentinel and both epochs equal afterwards;
//   2. one rank late (10 ms spin before its launch);
//   3. 10000 replays of a 20-launch CUDA graph (alternating T and schedules), then a check;
//   4. per-call latency in CUDA graphs (20 launches per graph, median of replays) against
//      ncclAllReduce and ncclAllReduce + fused_add_rms_norm.
// Build: ./build.sh. Run: NCCL_NVLS_ENABLE=0 ./smoke [--quick] [--no-timing]
// Exit status 0 only when every check passed.
#include <cuda_runtime.h>
#include <nccl.h>
#include <nccl_device.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

// A peer that never sends traps after 5 s instead of hanging the machine.
#define KILN_ALLREDUCE_SPIN_LIMIT_NS 5000000000ull
#include "allreduce_add_rms_norm.cuh"

namespace kd = kiln::detail;

#define CK(x)                                                                                              \
  do {                                                                                                     \
    cudaError_t e_ = (x);                                                                                  \
    if (e_ != cudaSuccess) {                                                                               \
      printf("CUDA FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));              \
      fflush(stdout);                                                                                      \
      _exit(2);                                                                                            \
    }                                                                                                      \
  } while (0)
#define NK(x)                                                                                              \
  do {                                                                                                     \
    ncclResult_t r_ = (x);                                                                                 \
    if (r_ != ncclSuccess) {                                                                               \
      printf("NCCL FAIL %s:%d: %s -> %s (%s)\n", __FILE__, __LINE__, #x, ncclGetErrorString(r_),          \
             ncclGetLastError(nullptr));                                                                   \
      fflush(stdout);                                                                                      \
      _exit(3);                                                                                            \
    }                                                                                                      \
  } while (0)

constexpr int R = 2;
constexpr int64_t kMaxTokens = 8192;  // H = 8192: 4096 rows a buffer, so T = 8192 takes two rounds
constexpr size_t kGuard = 256;
static int g_failures = 0;

// ---- host numerics ---------------------------------------------------------------------

static float bf2f(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint16_t f2bf(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
static float h2f(uint16_t h) {
  __half_raw r;
  r.x = h;
  return __half2float(__half(r));
}
static uint16_t f2h(float f) {
  __half h = __float2half_rn(f);
  return __half_raw(h).x;
}
struct Dt {
  bool bf16;
  float to(uint16_t b) const { return bf16 ? bf2f(b) : h2f(b); }
  uint16_t from(float f) const { return bf16 ? f2bf(f) : f2h(f); }
  float round(float f) const { return to(from(f)); }
  kd::DType api() const { return bf16 ? kd::DType::bf16 : kd::DType::fp16; }
  const char* name() const { return bf16 ? "bf16" : "fp16"; }
};
static uint8_t float_to_fp8(float f) { return __nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3); }
static int ordinal16(uint16_t b) { return (b & 0x8000) ? -int(b & 0x7fff) : int(b & 0x7fff); }
static int ordinal8(uint8_t b) { return (b & 0x80) ? -int(b & 0x7f) : int(b & 0x7f); }

// ---- devices, NCCL, workspaces ------------------------------------------------------------

__global__ void resolve_lsa(ncclWindow_t w, int n, void** out, int* lsa_rank) {
  for (int p = 0; p < n; ++p) out[p] = ncclGetLsaPointer(w, 0, p);
  *lsa_rank = w->lsaRank;
}

// Elements of the workspace's buffers that are not the sentinel (must be 0 between launches).
__global__ void count_dirty(const uint16_t* p, int64_t n, unsigned long long* count) {
  unsigned long long c = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    c += p[i] != 0x8000;
  if (c) atomicAdd(count, c);
}

__global__ void spin_ns(uint64_t ns) {
  uint64_t t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

struct Workspace {
  void* base = nullptr;
  int64_t bytes = 0;
  ncclWindow_t win = nullptr;
  kd::CommState cs{};
};

struct Rank {
  int dev = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t s = nullptr;
  int sms = 0;
  std::map<int64_t, Workspace> ws;  // by hidden
};
static Rank g_rank[R];

static void sync_all() {
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaStreamSynchronize(g_rank[d].s));
  }
}

// One workspace per hidden size on every rank, registered as one symmetric window.
static void make_workspaces(int64_t hidden) {
  const int64_t bytes = kiln::allreduce::workspace_bytes(kd::DType::bf16, hidden, R, kMaxTokens);
  NK(ncclGroupStart());
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    Workspace& w = g_rank[d].ws[hidden];
    w.bytes = bytes;
    NK(ncclMemAlloc(&w.base, size_t(bytes)));
    NK(ncclCommWindowRegister(g_rank[d].comm, w.base, size_t(bytes), &w.win, NCCL_WIN_COLL_SYMMETRIC));
  }
  NK(ncclGroupEnd());
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    Workspace& w = g_rank[d].ws[hidden];
    cudaPointerAttributes at{};
    if (w.win == nullptr || cudaPointerGetAttributes(&at, w.win) != cudaSuccess || at.type != cudaMemoryTypeDevice) {
      printf("rank %d: the window handle is not device memory (no symmetric memory support?)\n", d);
      _exit(4);
    }
    void** dptr;
    int* dlsa;
    CK(cudaMalloc(&dptr, sizeof(void*) * R));
    CK(cudaMalloc(&dlsa, sizeof(int)));
    resolve_lsa<<<1, 1>>>(w.win, R, dptr, dlsa);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    void* peers[R];
    int lsa = -1, rank = -1;
    CK(cudaMemcpy(peers, dptr, sizeof peers, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&lsa, dlsa, sizeof lsa, cudaMemcpyDeviceToHost));
    CK(cudaFree(dptr));
    CK(cudaFree(dlsa));
    NK(ncclCommUserRank(g_rank[d].comm, &rank));
    if (lsa != rank) {
      printf("rank %d: LSA rank %d differs from the communicator rank\n", rank, lsa);
      _exit(4);
    }
    w.cs.rank = rank;
    w.cs.ranks = R;
    for (int p = 0; p < kd::kMaxRanks; ++p) w.cs.peers[p] = p < R ? peers[p] : nullptr;
    w.cs.workspace_bytes = bytes;
    w.cs.max_tokens = kMaxTokens;
    w.cs.sm_count = g_rank[d].sms;
    CK(kiln::allreduce::workspace_init(w.base, bytes, g_rank[d].s));
    printf("rank %d hidden %lld: workspace %lld bytes at %p, peers %p %p, %lld rows a buffer\n", rank, (long long)hidden,
           (long long)bytes, w.base, peers[0], peers[1],
           (long long)kiln::allreduce::buffer_rows(hidden, R, kMaxTokens));
  }
  sync_all();
}

// Slots not holding the sentinel, and the epoch, per rank.
static void workspace_state(int64_t hidden, unsigned long long dirty[R], uint32_t epoch[R]) {
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    Workspace& w = g_rank[d].ws[hidden];
    unsigned long long* c;
    CK(cudaMalloc(&c, sizeof *c));
    CK(cudaMemset(c, 0, sizeof *c));
    count_dirty<<<264, 512>>>(reinterpret_cast<const uint16_t*>(static_cast<char*>(w.base) + kiln::allreduce::kHeaderBytes),
                              (w.bytes - kiln::allreduce::kHeaderBytes) / 2, c);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(&dirty[d], c, sizeof *c, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&epoch[d], w.base, 4, cudaMemcpyDeviceToHost));
    CK(cudaFree(c));
  }
}

static bool check_workspace(int64_t hidden, const char* when) {
  unsigned long long dirty[R];
  uint32_t epoch[R];
  workspace_state(hidden, dirty, epoch);
  const bool ok = dirty[0] == 0 && dirty[1] == 0 && epoch[0] == epoch[1];
  if (!ok) {
    printf("  FAIL workspace h%lld %s: dirty %llu/%llu epoch %u/%u\n", (long long)hidden, when, dirty[0], dirty[1], epoch[0],
           epoch[1]);
    ++g_failures;
  }
  return ok;
}

// ---- variants ---------------------------------------------------------------------------

struct Variant {
  std::string name;
  int64_t hidden;  // 0: any (generic)
  kd::Launcher plain, fp8;
};

template <int H, int TH, int V, int TS>
Variant specialised(const char* what) {
  using S = kiln::allreduce_add_rms_norm::Schedule<H, R, TH, V, TS>;
  return {std::string(TS ? "two-shot " : "one-shot ") + what, H, &kiln::allreduce_add_rms_norm::launch<S>,
          &kiln::allreduce_add_rms_norm_fp8::launch<S>};
}
static Variant generic_variant() {
  return {"generic", 0, &kiln::allreduce_add_rms_norm::launch_generic<>, &kiln::allreduce_add_rms_norm_fp8::launch_generic<>};
}

// ---- one launch's tensors ---------------------------------------------------------------

struct Tensors {
  int64_t H = 0, T = 0;
  uint16_t *x = nullptr, *res = nullptr, *w = nullptr;
  uint8_t* out = nullptr;  // with kGuard bytes after it
  float* scale = nullptr;
  void alloc(int64_t h, int64_t t) {
    H = h, T = t;
    CK(cudaMalloc(&x, size_t(T * H) * 2));
    CK(cudaMalloc(&res, size_t(T * H) * 2 + kGuard));
    CK(cudaMalloc(&w, size_t(H) * 2));
    CK(cudaMalloc(&out, size_t(T * H) * 2 + kGuard));
    CK(cudaMalloc(&scale, 4));
  }
  void free_all() {
    cudaFree(x), cudaFree(res), cudaFree(w), cudaFree(out), cudaFree(scale);
  }
};

struct Host {
  std::vector<uint16_t> x[R], res, w;
  float scale = 0.05f, eps = 1e-6f;
};

static void fill_host(Host& h, Dt dt, int64_t H, int64_t T, bool gemma, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> ux(-6, 6), ur(-3, 3), uw(0.25f, 1.75f), ug(-0.75f, 0.75f);
  for (int k = 0; k < R; ++k) h.x[k].resize(size_t(T * H));
  h.res.resize(size_t(T * H));
  h.w.resize(size_t(H));
  for (size_t i = 0; i < size_t(T * H); ++i) {
    for (int k = 0; k < R; ++k) h.x[k][i] = dt.from(ux(rng));
    h.res[i] = dt.from(ur(rng));
    if (i % 97 == 5) h.x[0][i] = 0x8000;             // -0 in x
    if (i % 97 == 6) h.x[1][i] = 0x8000, h.x[0][i] = 0x8000, h.res[i] = 0x8000;  // all -0: +0 on every rank
    if (i % 89 == 3) h.x[1][i] = h.x[0][i] ^ 0x8000;  // a zero sum
  }
  for (int64_t i = 0; i < H; ++i) h.w[size_t(i)] = dt.from(gemma ? ug(rng) : uw(rng));
  h.scale = 0.004f + 0.05f * float(rng() % 10);
  h.eps = 1e-6f;
}

static void upload(const Tensors (&t)[R], const Host& h) {
  const size_t n = size_t(t[0].T * t[0].H);
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    cudaStream_t s = g_rank[d].s;
    CK(cudaMemcpyAsync(t[d].x, h.x[d].data(), n * 2, cudaMemcpyHostToDevice, s));
    CK(cudaMemsetAsync(t[d].res, 0xff, n * 2 + kGuard, s));
    CK(cudaMemcpyAsync(t[d].res, h.res.data(), n * 2, cudaMemcpyHostToDevice, s));
    CK(cudaMemcpyAsync(t[d].w, h.w.data(), size_t(t[d].H) * 2, cudaMemcpyHostToDevice, s));
    CK(cudaMemsetAsync(t[d].out, 0xff, n * 2 + kGuard, s));
    CK(cudaMemcpyAsync(t[d].scale, &h.scale, 4, cudaMemcpyHostToDevice, s));
  }
  sync_all();
}

struct Opts {
  Dt dt{true};
  bool fp8 = false, vllm = false, gemma = false, static_weight = false;
};

static kd::LaunchParams params(const Tensors& t, const Workspace& w, const Opts& o, const Host& h, int64_t tokens) {
  kd::LaunchParams p{};
  p.dtype = o.dt.api();
  p.input = t.x;
  p.weight = t.w;
  p.residual = t.res;
  p.output = t.out;
  p.scale = o.fp8 ? t.scale : nullptr;
  p.tokens = tokens;
  p.hidden = t.H;
  p.eps = h.eps;
  p.rounding = o.vllm ? kd::Rounding::vllm : kd::Rounding::single;
  p.gemma = o.gemma;
  p.static_weight = o.static_weight;
  p.comm = &w.cs;
  return p;
}

// Both ranks' launches in flight together (asynchronous, one host thread).
static void launch_both(const Variant& v, const Tensors (&t)[R], const Opts& o, const Host& h, int64_t tokens,
                        int late_rank = -1) {
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    if (d == late_rank) spin_ns<<<1, 1, 0, g_rank[d].s>>>(10000000ull);
    const kd::LaunchParams p = params(t[d], g_rank[d].ws.at(t[d].H), o, h, tokens);
    CK((o.fp8 ? v.fp8 : v.plain)(p, g_rank[d].s));
  }
}

// The CPU's answer: residual bits and output values (before the final rounding / fp8).
static void expected(const Host& h, const Opts& o, int64_t H, int64_t T, std::vector<uint16_t>& res,
                     std::vector<float>& out) {
  const Dt dt = o.dt;
  res.resize(size_t(T * H));
  out.resize(size_t(T * H));
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < H; ++i) {
      const size_t at = size_t(t * H + i);
      float s = 0;
      for (int k = 0; k < R; ++k) {
        uint16_t b = h.x[k][at];
        if (b == 0x8000) b = 0;
        s = k == 0 ? dt.to(b) : s + dt.to(b);
      }
      const float r = dt.to(h.res[at]);
      uint16_t rb = dt.from(o.vllm ? dt.round(s) + r : s + r);
      if (rb == 0x8000) rb = 0;
      res[at] = rb;
      const double v = dt.to(rb);
      ss += v * v;
    }
    const float rinv = float(1.0 / std::sqrt(ss / double(H) + double(h.eps)));
    for (int64_t i = 0; i < H; ++i) {
      const size_t at = size_t(t * H + i);
      const float wv = o.gemma ? 1.0f + dt.to(h.w[size_t(i)]) : dt.to(h.w[size_t(i)]);
      const float v = dt.to(res[at]);
      float y = o.vllm ? dt.round(dt.round(v * rinv) * wv) : v * rinv * wv;
      if (o.fp8) y *= 1.0f / h.scale;
      out[at] = y;
    }
  }
}

// Check both ranks' outputs against the CPU and each other. Returns true when right.
static bool check(const char* label, const Tensors (&t)[R], const Opts& o, const Host& h, int64_t T) {
  const int64_t H = t[0].H;
  const size_t n = size_t(T * H);
  const size_t out_bytes = n * (o.fp8 ? 1 : 2);
  std::vector<uint8_t> got_out[R], got_res[R];
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    got_out[d].resize(size_t(t[d].T * H) * 2 + kGuard);
    got_res[d].resize(size_t(t[d].T * H) * 2 + kGuard);
    CK(cudaMemcpy(got_out[d].data(), t[d].out, got_out[d].size(), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(got_res[d].data(), t[d].res, got_res[d].size(), cudaMemcpyDeviceToHost));
  }
  std::vector<uint16_t> want_res;
  std::vector<float> want_out;
  expected(h, o, H, T, want_res, want_out);
  bool ok = true;
  std::string why;
  // bit identity
  if (memcmp(got_out[0].data(), got_out[1].data(), out_bytes) || memcmp(got_res[0].data(), got_res[1].data(), n * 2)) {
    ok = false;
    why += " ranks-differ";
  }
  for (int d = 0; d < R; ++d) {
    // guards: output after its T rows is untouched 0xff (the buffer holds t.T rows)
    for (size_t i = out_bytes; i < out_bytes + kGuard; ++i)
      if (got_out[d][i] != 0xff) {
        ok = false;
        why += " out-guard(rank" + std::to_string(d) + ")";
        break;
      }
    // after the T rows: the rest of the residual untouched, then the poisoned guard
    const size_t alloc = size_t(t[d].T * H) * 2;
    if (memcmp(got_res[d].data() + n * 2, reinterpret_cast<const uint8_t*>(h.res.data()) + n * 2, alloc - n * 2)) {
      ok = false;
      why += " residual-past-T-written(rank" + std::to_string(d) + ")";
    }
    for (size_t i = alloc; i < alloc + kGuard; ++i)
      if (got_res[d][i] != 0xff) {
        ok = false;
        why += " residual-guard(rank" + std::to_string(d) + ")";
        break;
      }
    size_t res_bad = 0, out_bad = 0, first_res = SIZE_MAX, first_out = SIZE_MAX;
    double max_err = 0;
    for (size_t i = 0; i < n; ++i) {
      uint16_t rb;
      memcpy(&rb, &got_res[d][2 * i], 2);
      if (rb != want_res[i]) {
        if (!res_bad++) first_res = i;
      }
      if (o.fp8) {
        const uint8_t g = got_out[d][i], wq = float_to_fp8(want_out[i]);
        const int diff = std::abs(ordinal8(g) - ordinal8(wq));
        max_err = std::max(max_err, double(diff));
        if (diff > 1 && !out_bad++) first_out = i;
      } else {
        uint16_t g;
        memcpy(&g, &got_out[d][2 * i], 2);
        const uint16_t wq = o.dt.from(want_out[i]);
        const int diff = std::abs(ordinal16(g) - ordinal16(wq));
        max_err = std::max(max_err, double(diff));
        if (diff > 1 && !out_bad++) first_out = i;
      }
    }
    if (res_bad || out_bad) {
      ok = false;
      char buf[256];
      snprintf(buf, sizeof buf, " rank%d: residual %zu wrong (first %zu: got %04x want %04x), out %zu > 1 ulp (first %zu)", d,
               res_bad, res_bad ? first_res : 0, res_bad ? unsigned(got_res[d][2 * first_res] | got_res[d][2 * first_res + 1] << 8) : 0,
               res_bad ? unsigned(want_res[first_res]) : 0, out_bad, out_bad ? first_out : 0);
      why += buf;
    }
    if (d == 0 && ok) why += " max-ulp " + std::to_string(int(max_err));
  }
  printf("  %-4s %s%s\n", ok ? "ok" : "FAIL", label, why.c_str());
  if (!ok) ++g_failures;
  return ok;
}

static void run_case(const Variant& v, int64_t H, int64_t T, const Opts& o, std::mt19937_64& rng, int late_rank = -1) {
  Tensors t[R];
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    t[d].alloc(H, T);
  }
  Host h;
  fill_host(h, o.dt, H, T, o.gemma, rng);
  upload(t, h);
  launch_both(v, t, o, h, T, late_rank);
  sync_all();
  char label[256];
  snprintf(label, sizeof label, "%s%s h%lld T=%lld %s %s%s%s%s", o.fp8 ? "fp8 " : "", v.name.c_str(), (long long)H,
           (long long)T, o.dt.name(), o.vllm ? "vllm" : "single", o.gemma ? " gemma" : "", o.static_weight ? " static_weight" : "",
           late_rank >= 0 ? " (rank 1 late by 10 ms)" : "");
  check(label, t, o, h, T);
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    t[d].free_all();
  }
}

// ---- timing -----------------------------------------------------------------------------

constexpr int kCalls = 20, kReps = 50;

// Median per-call µs of replays of one graph per rank (both replayed together); the larger
// of the two ranks' medians.
static double time_graphs(cudaGraphExec_t (&g)[R]) {
  cudaEvent_t a[R], b[R];
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaEventCreate(&a[d]));
    CK(cudaEventCreate(&b[d]));
  }
  for (int w = 0; w < 5; ++w)
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaGraphLaunch(g[d], g_rank[d].s));
    }
  sync_all();
  std::vector<double> t[R];
  for (int r = 0; r < kReps; ++r) {
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaEventRecord(a[d], g_rank[d].s));
      CK(cudaGraphLaunch(g[d], g_rank[d].s));
      CK(cudaEventRecord(b[d], g_rank[d].s));
    }
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaEventSynchronize(b[d]));
      float ms;
      CK(cudaEventElapsedTime(&ms, a[d], b[d]));
      t[d].push_back(ms * 1000.0 / kCalls);
    }
  }
  double worst = 0;
  for (int d = 0; d < R; ++d) {
    std::sort(t[d].begin(), t[d].end());
    worst = std::max(worst, t[d][t[d].size() / 2]);
    CK(cudaSetDevice(d));
    cudaEventDestroy(a[d]);
    cudaEventDestroy(b[d]);
  }
  return worst;
}

template <class Body>
static double time_captured(Body body) {
  cudaGraphExec_t g[R];
  cudaGraph_t graph[R];
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaStreamBeginCapture(g_rank[d].s, cudaStreamCaptureModeRelaxed));
  }
  for (int k = 0; k < kCalls; ++k) body();
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaStreamEndCapture(g_rank[d].s, &graph[d]));
    CK(cudaGraphInstantiate(&g[d], graph[d], 0));
    CK(cudaGraphDestroy(graph[d]));
  }
  const double us = time_graphs(g);
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaGraphExecDestroy(g[d]));
  }
  return us;
}

// The vLLM path the fused kernel replaces: all-reduce in the input dtype, then the fused norm.
template <int H>
using NormS = kiln::norm::Schedule<H, 512, 8, 1, 1>;

static bool g_timing_only = false;
static bool g_crossover = false;
static void timing(const std::vector<Variant>& variants, bool quick) {
  printf("\nper-call latency, µs (CUDA graph of %d launches, median of %d replays, slower rank), bf16, 2 ranks\n", kCalls, kReps);
  const std::vector<int64_t> tokens = g_crossover ? std::vector<int64_t>{128, 256, 512, 1024, 2048}
                                      : g_timing_only ? std::vector<int64_t>{1, 8, 32, 128}
                                      : quick ? std::vector<int64_t>{1, 32, 1024} : std::vector<int64_t>{1, 8, 32, 128, 1024, 8192};
  for (int64_t H : g_crossover ? std::vector<int64_t>{2048, 4096, 5120, 8192} : std::vector<int64_t>{4096, 8192}) {
    printf("%-28s", ("H=" + std::to_string(H)).c_str());
    for (int64_t T : tokens) printf(" %9lld", (long long)T);
    printf("\n");
    Tensors t[R];
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      t[d].alloc(H, 8192);
    }
    std::mt19937_64 rng(H);
    Host h;
    Opts o;
    fill_host(h, o.dt, H, 8192, false, rng);
    upload(t, h);
    auto row = [&](const std::string& name, auto launch_one) {
      printf("%-28s", name.c_str());
      for (int64_t T : tokens) {
        const double us = time_captured([&] {
          for (int d = 0; d < R; ++d) {
            CK(cudaSetDevice(d));
            launch_one(d, T);
          }
        });
        printf(" %9.2f", us);
        fflush(stdout);
      }
      printf("\n");
    };
    for (const Variant& v : variants) {
      if (v.hidden != 0 && v.hidden != H) continue;
      if (g_crossover && v.hidden == 0) continue;
      for (bool fp8 : {false, true}) {
        Opts oo = o;
        oo.fp8 = fp8;
        oo.static_weight = true;
        row((fp8 ? "fp8 " : "") + v.name, [&](int d, int64_t T) {
          const kd::LaunchParams p = params(t[d], g_rank[d].ws.at(H), oo, h, T);
          CK((fp8 ? v.fp8 : v.plain)(p, g_rank[d].s));
        });
      }
    }
    uint16_t* tmp[R];
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaMalloc(&tmp[d], size_t(H) * 8192 * 2));
    }
    auto nccl = [&](int64_t T, bool norm) {
      NK(ncclGroupStart());
      for (int d = 0; d < R; ++d) {
        CK(cudaSetDevice(d));
        NK(ncclAllReduce(t[d].x, tmp[d], size_t(T * H), ncclBfloat16, ncclSum, g_rank[d].comm, g_rank[d].s));
      }
      NK(ncclGroupEnd());
      if (!norm) return;
      for (int d = 0; d < R; ++d) {
        CK(cudaSetDevice(d));
        kd::LaunchParams p = params(t[d], g_rank[d].ws.at(H), o, h, T);
        p.input = tmp[d];
        p.comm = nullptr;
        const cudaError_t e = H == 4096 ? kiln::norm::launch<NormS<4096>, kiln::norm::Kind::add_norm>(p, g_rank[d].s)
                                        : kiln::norm::launch<NormS<8192>, kiln::norm::Kind::add_norm>(p, g_rank[d].s);
        CK(e);
      }
    };
    for (int w = 0; w < 3; ++w) nccl(1, false);  // connect outside the capture
    sync_all();
    for (bool norm : {false, true}) {
      if (g_crossover) break;  // H = 2048 and 5120 have no NormS here: kiln-bench-comm times the two-step path
      printf("%-28s", norm ? "ncclAllReduce + fused norm" : "ncclAllReduce");
      for (int64_t T : tokens) {
        printf(" %9.2f", time_captured([&] { nccl(T, norm); }));
        fflush(stdout);
      }
      printf("\n");
    }
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaFree(tmp[d]));
      t[d].free_all();
    }
    check_workspace(H, "after timing");
  }
}

// ---- graph replays ----------------------------------------------------------------------

static void graph_replays(const std::vector<Variant>& variants, int replays) {
  const int64_t H = 4096;
  printf("\n%d replays of a graph of %d launches (h%lld, alternating T and schedules), then checks\n", replays, kCalls,
         (long long)H);
  const int64_t Ts[] = {1, 33, 300, 8, 2000};
  Tensors t[R];
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    t[d].alloc(H, 2000);
  }
  std::mt19937_64 rng(99);
  Host h;
  Opts o;
  fill_host(h, o.dt, H, 2000, false, rng);
  upload(t, h);
  std::vector<const Variant*> vs;
  for (const Variant& v : variants)
    if (v.hidden == H || v.hidden == 0) vs.push_back(&v);
  unsigned long long dirty[R];
  uint32_t epoch0[R], epoch1[R];
  workspace_state(H, dirty, epoch0);
  cudaGraphExec_t g[R];
  uint32_t rounds_per_replay = 0;
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaStreamBeginCapture(g_rank[d].s, cudaStreamCaptureModeRelaxed));
  }
  for (int k = 0; k < kCalls; ++k) {
    const Variant& v = *vs[size_t(k) % vs.size()];
    Opts oo = o;
    oo.fp8 = k % 3 == 1;
    const int64_t T = Ts[k % 5];
    rounds_per_replay += uint32_t((T + kiln::allreduce::buffer_rows(H, R, kMaxTokens) - 1) / kiln::allreduce::buffer_rows(H, R, kMaxTokens));
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      const kd::LaunchParams p = params(t[d], g_rank[d].ws.at(H), oo, h, T);
      CK((oo.fp8 ? v.fp8 : v.plain)(p, g_rank[d].s));
    }
  }
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    cudaGraph_t graph;
    CK(cudaStreamEndCapture(g_rank[d].s, &graph));
    CK(cudaGraphInstantiate(&g[d], graph, 0));
    CK(cudaGraphDestroy(graph));
  }
  for (int r = 0; r < replays; ++r)
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaGraphLaunch(g[d], g_rank[d].s));
    }
  sync_all();
  workspace_state(H, dirty, epoch1);
  const uint32_t want = uint32_t((uint64_t(epoch0[0]) + uint64_t(replays) * rounds_per_replay) % kiln::allreduce::kEpochWrap);
  const bool ok = dirty[0] == 0 && dirty[1] == 0 && epoch1[0] == want && epoch1[1] == want;
  printf("  %-4s after %d replays: epochs %u/%u (want %u), dirty slots %llu/%llu\n", ok ? "ok" : "FAIL", replays, epoch1[0],
         epoch1[1], want, dirty[0], dirty[1]);
  if (!ok) ++g_failures;
  // A graph of one launch per schedule, replayed after new inputs are copied into the
  // same buffers: each replay must compute from the new values.
  for (const Variant* v : vs) {
    const int64_t T = 33;
    Opts oo = o;
    oo.fp8 = v->name.find("two-shot") != std::string::npos;
    cudaGraphExec_t one[R];
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaStreamBeginCapture(g_rank[d].s, cudaStreamCaptureModeRelaxed));
      const kd::LaunchParams p = params(t[d], g_rank[d].ws.at(H), oo, h, T);
      CK((oo.fp8 ? v->fp8 : v->plain)(p, g_rank[d].s));
      cudaGraph_t graph;
      CK(cudaStreamEndCapture(g_rank[d].s, &graph));
      CK(cudaGraphInstantiate(&one[d], graph, 0));
      CK(cudaGraphDestroy(graph));
    }
    for (int round = 0; round < 3; ++round) {
      fill_host(h, o.dt, H, 2000, false, rng);
      upload(t, h);
      for (int d = 0; d < R; ++d) {
        CK(cudaSetDevice(d));
        CK(cudaGraphLaunch(one[d], g_rank[d].s));
      }
      sync_all();
      check(("graph replay " + std::to_string(round) + " with new inputs: " + (oo.fp8 ? "fp8 " : "") + v->name +
             " T=33").c_str(),
            t, oo, h, T);
    }
    for (int d = 0; d < R; ++d) {
      CK(cudaSetDevice(d));
      CK(cudaGraphExecDestroy(one[d]));
    }
  }
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    CK(cudaGraphExecDestroy(g[d]));
    t[d].free_all();
  }
  check_workspace(H, "after replays");
}

int main(int argc, char** argv) {
  setenv("NCCL_NVLS_ENABLE", "0", 0);
  setbuf(stdout, nullptr);
  bool quick = false, timing_on = true;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--quick")) quick = true;
    if (!strcmp(argv[i], "--no-timing")) timing_on = false;
    if (!strcmp(argv[i], "--timing-only")) g_timing_only = true;
    if (!strcmp(argv[i], "--crossover")) g_timing_only = g_crossover = true;
  }
  int ver = 0, ndev = 0;
  NK(ncclGetVersion(&ver));
  CK(cudaGetDeviceCount(&ndev));
  printf("NCCL %d (headers %d), %d devices, NCCL_NVLS_ENABLE=%s\n", ver, NCCL_VERSION_CODE, ndev, getenv("NCCL_NVLS_ENABLE"));
  if (ndev < R) {
    printf("need %d GPUs\n", R);
    return 1;
  }
  int devs[R] = {0, 1};
  ncclComm_t comms[R];
  NK(ncclCommInitAll(comms, R, devs));
  for (int d = 0; d < R; ++d) {
    CK(cudaSetDevice(d));
    g_rank[d].dev = d;
    g_rank[d].comm = comms[d];
    CK(cudaStreamCreateWithFlags(&g_rank[d].s, cudaStreamNonBlocking));
    CK(cudaDeviceGetAttribute(&g_rank[d].sms, cudaDevAttrMultiProcessorCount, d));
  }
  for (int64_t H : {4096, 8192, 1000, 3000, 2048, 5120}) make_workspaces(H);

  const std::vector<Variant> variants = {
      specialised<4096, 512, 8, 0>("t512 v8"),  specialised<4096, 256, 8, 0>("t256 v8"),
      specialised<4096, 512, 8, 1>("t512 v8"),  specialised<8192, 1024, 8, 0>("t1024 v8"),
      specialised<8192, 512, 8, 0>("t512 v8"),  specialised<8192, 512, 8, 1>("t512 v8"),
      specialised<2048, 256, 8, 0>("t256 v8"),  specialised<2048, 256, 8, 1>("t256 v8"),
      specialised<5120, 640, 8, 0>("t640 v8"),  specialised<5120, 640, 8, 1>("t640 v8"),
      generic_variant(),
  };

  if (g_timing_only) {
    timing(variants, true);
    fflush(stdout);
    _exit(0);
  }
  printf("\ncorrectness\n");
  std::mt19937_64 rng(1);
  for (const Variant& v : variants) {
    const std::vector<int64_t> hs = v.hidden ? std::vector<int64_t>{v.hidden} : std::vector<int64_t>{4096, 1000, 3000};
    for (int64_t H : hs) {
      std::vector<int64_t> Ts = {1, 7, 32, 129};
      if (!quick) Ts.push_back(1000);
      if (H == 8192) Ts.push_back(kMaxTokens), Ts.push_back(5000);  // two rounds (4096 rows a buffer)
      for (int64_t T : Ts)
        for (bool fp8 : {false, true})
          for (bool bf16 : {true, false}) {
            Opts o;
            o.dt = Dt{bf16};
            o.fp8 = fp8;
            run_case(v, H, T, o, rng);
          }
      // the options, once each
      for (int k = 0; k < 3; ++k) {
        Opts o;
        o.vllm = k != 1;
        o.gemma = k >= 1;
        o.static_weight = k == 2;
        o.fp8 = k == 2;
        o.dt = Dt{k != 0};
        run_case(v, H, 33, o, rng);
      }
    }
  }
  for (int64_t H : {4096, 8192, 1000, 3000}) check_workspace(H, "after correctness");

  printf("\none rank late\n");
  for (const Variant& v : variants) {
    Opts o;
    run_case(v, v.hidden ? v.hidden : 4096, 17, o, rng, /*late_rank=*/1);
  }
  check_workspace(4096, "after late rank");

  graph_replays(variants, quick ? 1000 : 10000);

  if (timing_on) timing(variants, quick);

  printf("\n%s: %d failure(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
  fflush(stdout);
  _exit(g_failures ? 1 : 0);  // no teardown: deregistration is the runtime's business
}
