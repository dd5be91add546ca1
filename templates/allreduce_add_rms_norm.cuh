// The tensor-parallel all-reduce fused with the residual add and RMSNorm (docs/design.md,
// "Kernel semantics"), over the ranks of an NCCL communicator:
//   allreduce_add_rms_norm      s = sum_k x_k; r' = round(s + r) over r; out = round(norm(r'))
//   allreduce_add_rms_norm_fp8  the same, out = fp8(norm(r') / scale)
// x_k is rank k's partial sum [T, H] (read, not written), r the residual [T, H] (the same
// on every rank, written back on every rank), norm exactly as fused_add_rms_norm(_fp8)
// computes it from the rounded residual (templates/rms_norm.cuh's helpers), gemma and
// static_weight as there. s is an fp32 sum formed in rank order 0, 1, ..., R - 1 on every
// rank, so every rank writes bit-identical r' and out. Rounding `single`: r' = round(s + r);
// `vllm`: r' = round(round(s) + r), what NCCL's all-reduce in the input dtype followed by
// vLLM's fused_add_rms_norm gives.
// Two zero-sign rules come from the protocol: an x element that is -0 counts as +0 (-0 is
// the Lamport sentinel, never sent; every rank sums the same bits), and an r' that rounds
// to -0 (only from subnormal-range bf16 sums) is written as +0, as two-shot sends r'.
//
// Transport: NCCL symmetric memory. Every rank's plan allocated `workspace_bytes` with
// ncclMemAlloc, registered it as one window and resolved every rank's workspace to a
// pointer this GPU can load from and store to (CommState::peers, NVLink or PCIe P2P).
// Plain 16-byte loads and stores through those pointers; NVLink multicast is never used.
//
// Protocol (Lamport, no barrier, no host): a receive slot holds the sentinel -0 (0x8000) in
// every element until its sender stores the data (which holds no -0), so a reader spins on
// its own memory until no element of a vector is the sentinel, then writes the sentinel
// back. Three receive buffers rotate, chosen by a round counter (`epoch`) in each rank's
// workspace: every CTA reads it after the PDL wait, and the last CTA to have read it (a
// done counter) advances it; a launch is one round, and every rank runs the same rounds, so
// every rank picks the same buffer. A rank can only store into a peer's buffer of round n
// after receiving that peer's data of round n - 1, sent after the peer's previous launch
// (round n - 2, which reset its slots) completed: buffer n % 3 was last used in round n - 3,
// so it is clean. Launches beyond the buffer's rows (`buffer_rows`) split into rounds.
//   one-shot: every rank stores its rows into every peer's buffer, reads the others' rows
//     from its own, sums, adds, normalises every row itself.
//   two-shot: rows are split into R contiguous chunks, rank q owns chunk q: every rank
//     stores the rows it does not own to their owner (reduce-scatter); the owner sums its
//     rows, adds the residual and stores r' to every peer (all-gather); every rank then
//     normalises every row from r' (the same code and order on every rank: the same bits).
// A spinning grid must be co-resident: at most one CTA per SM (CommState::sm_count).
#pragma once

#include <algorithm>

#include "rms_norm.cuh"

namespace kiln::allreduce {

// ---- the workspace ----------------------------------------------------------------------
//
//   [0, kHeaderBytes)      Header: the round counter and the done counter (zeroed)
//   then kBuffers buffers, each (ranks - 1) slots of buffer_rows rows of row_stride(H)
//   16-bit elements, all holding the sentinel when no round is in flight. Slot j of rank p
//   receives from rank (p + 1 + j) % ranks; row i of a slot is row i of the round.
//
// bytes = kHeaderBytes + kBuffers * (ranks - 1) * buffer_rows * row_stride(H) * 2, with
// buffer_rows = min(max_tokens, kBufferBytes / ((ranks - 1) * row_stride(H) * 2)): a
// buffer holds at most 64 MiB, so a workspace at most 192 MiB + 1 KiB (H = 8192, R = 2,
// max_tokens = 16384: 4096 rows a round, 201,327,616 bytes).
constexpr int64_t kHeaderBytes = 1024;
constexpr int64_t kBufferBytes = int64_t(64) << 20;
constexpr int kBuffers = 3;
constexpr uint16_t kSentinel = 0x8000;  // -0 in bf16 and fp16
constexpr uint32_t kEpochWrap = uint32_t(kBuffers) << 30;  // rounds counted modulo this

struct Header {
  uint32_t epoch;  // rounds completed by this rank's launches of the plan, modulo kEpochWrap
  uint32_t pad[31];
  uint32_t done;   // CTAs of the running launch that have read epoch
};
static_assert(sizeof(Header) <= kHeaderBytes);

// Elements from one row to the next in a slot: rows stay 16-byte aligned.
inline int64_t row_stride(int64_t hidden) { return (hidden + 7) / 8 * 8; }

inline int64_t buffer_rows(int64_t hidden, int32_t ranks, int64_t max_tokens) {
  const int64_t row_bytes = std::max<int64_t>(1, ranks - 1) * row_stride(hidden) * 2;
  return std::max<int64_t>(1, std::min<int64_t>(max_tokens, kBufferBytes / row_bytes));
}

inline int64_t workspace_bytes(detail::DType, int64_t hidden, int32_t ranks, int64_t max_tokens) {
  if (hidden <= 0 || ranks < 2 || max_tokens <= 0) return kHeaderBytes;
  return kHeaderBytes + kBuffers * int64_t(ranks - 1) * buffer_rows(hidden, ranks, max_tokens) * row_stride(hidden) * 2;
}

// A template, so that every TU that includes this header may instantiate it (no duplicate symbol).
template <int = 0>
__global__ void fill_sentinel(uint4* p, int64_t n) {
  const uint32_t s = uint32_t(kSentinel) * 0x10001u;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = make_uint4(s, s, s, s);
}

// A fresh workspace: counters zero, every slot the sentinel. The caller synchronises
// every rank before any launch.
inline cudaError_t workspace_init(void* workspace, int64_t bytes, cudaStream_t stream) {
  if (workspace == nullptr || bytes < kHeaderBytes || (bytes - kHeaderBytes) % 16 != 0) return cudaErrorInvalidValue;
  if (cudaError_t e = cudaMemsetAsync(workspace, 0, kHeaderBytes, stream); e != cudaSuccess) return e;
  const int64_t n = (bytes - kHeaderBytes) / 16;
  if (n == 0) return cudaSuccess;
  fill_sentinel<><<<static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 4096)), 256, 0, stream>>>(
      reinterpret_cast<uint4*>(static_cast<char*>(workspace) + kHeaderBytes), n);
  return cudaGetLastError();
}

// ---- memory access with the protocol's ordering -------------------------------------------

// V elements as raw 16-bit patterns, two to a 32-bit word (lane 2k + 1 in the high half):
// whole-register operations, so the values never go through local memory.
template <int V>
struct Bits {
  static constexpr int words = (V + 1) / 2;
  uint32_t w[words];
  __device__ __forceinline__ uint16_t get(int j) const { return uint16_t(w[j / 2] >> (16 * (j % 2))); }
  __device__ __forceinline__ void set(int j, uint16_t b) {
    w[j / 2] = j % 2 ? (w[j / 2] & 0xffffu) | (uint32_t(b) << 16) : (w[j / 2] & 0xffff0000u) | b;
  }
};

// Plain (weak) accesses of V elements: x, the residual. The load is common.cuh's, which stays
// after the PDL wait.
template <int V>
__device__ __forceinline__ Bits<V> ld_plain(const uint16_t* p) {
  static_assert(V == 1 || V == 2 || V == 4 || V == 8, "1, 2, 4 or 8 elements");
  Bits<V> b;
  if constexpr (V == 1) {
    b.w[0] = load_vec<uint16_t, 1>(p).v[0];
  } else {
    const Vec<uint32_t, V / 2> v = load_vec<uint32_t, V / 2>(reinterpret_cast<const uint32_t*>(p));
#pragma unroll
    for (int k = 0; k < V / 2; ++k) b.w[k] = v.v[k];
  }
  return b;
}

template <int V>
__device__ __forceinline__ void st_plain(uint16_t* p, const Bits<V>& b) {
  if constexpr (V == 8) {
    *reinterpret_cast<uint4*>(p) = make_uint4(b.w[0], b.w[1], b.w[2], b.w[3]);
  } else if constexpr (V == 4) {
    *reinterpret_cast<uint2*>(p) = make_uint2(b.w[0], b.w[1]);
  } else if constexpr (V == 2) {
    *reinterpret_cast<uint32_t*>(p) = b.w[0];
  } else {
    static_assert(V == 1, "1, 2, 4 or 8 elements");
    *p = uint16_t(b.w[0]);
  }
}

// Lamport data and resets: relaxed system-scope stores, so the peer's relaxed system-scope
// loads are not a data race and each 16-bit element lands whole (no fence: the data is
// its own flag).
template <int V>
__device__ __forceinline__ void st_sys(uint16_t* p, const Bits<V>& b) {
  if constexpr (V == 8) {
    asm volatile("st.relaxed.sys.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(b.w[0]), "r"(b.w[1]), "r"(b.w[2]),
                 "r"(b.w[3])
                 : "memory");
  } else if constexpr (V == 4) {
    asm volatile("st.relaxed.sys.global.v2.b32 [%0], {%1, %2};" ::"l"(p), "r"(b.w[0]), "r"(b.w[1]) : "memory");
  } else if constexpr (V == 2) {
    asm volatile("st.relaxed.sys.global.b32 [%0], %1;" ::"l"(p), "r"(b.w[0]) : "memory");
  } else {
    static_assert(V == 1, "1, 2, 4 or 8 elements");
    asm volatile("st.relaxed.sys.global.b16 [%0], %1;" ::"l"(p), "h"(uint16_t(b.w[0])) : "memory");
  }
}

// The spin reads: relaxed system-scope loads, never served from a stale L1 line, so a
// peer's store is seen once it lands in this GPU's memory.
template <int V>
__device__ __forceinline__ Bits<V> ld_sys(const uint16_t* p) {
  Bits<V> b;
  if constexpr (V == 8) {
    asm volatile("ld.relaxed.sys.global.v4.b32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(b.w[0]), "=r"(b.w[1]), "=r"(b.w[2]), "=r"(b.w[3])
                 : "l"(p)
                 : "memory");
  } else if constexpr (V == 4) {
    asm volatile("ld.relaxed.sys.global.v2.b32 {%0, %1}, [%2];" : "=r"(b.w[0]), "=r"(b.w[1]) : "l"(p) : "memory");
  } else if constexpr (V == 2) {
    asm volatile("ld.relaxed.sys.global.b32 %0, [%1];" : "=r"(b.w[0]) : "l"(p) : "memory");
  } else {
    static_assert(V == 1, "1, 2, 4 or 8 elements");
    uint16_t h;
    asm volatile("ld.relaxed.sys.global.b16 %0, [%1];" : "=h"(h) : "l"(p) : "memory");
    b.w[0] = h;
  }
  return b;
}

// Whether a 16-bit lane of `w` holds the sentinel (one lane only when V == 1).
template <int V>
__device__ __forceinline__ bool pending(const Bits<V>& b) {
  bool any = false;
#pragma unroll
  for (int k = 0; k < Bits<V>::words; ++k) {
    any |= (b.w[k] & 0xffffu) == kSentinel;
    if constexpr (V > 1) any |= (b.w[k] >> 16) == kSentinel;
  }
  return any;
}

template <int V>
__device__ __forceinline__ Bits<V> sentinels() {
  Bits<V> b;
#pragma unroll
  for (int k = 0; k < Bits<V>::words; ++k) b.w[k] = V > 1 ? uint32_t(kSentinel) * 0x10001u : kSentinel;
  return b;
}

// -0 becomes +0: what is sent (and what a rank adds of its own) never looks unsent.
template <int V>
__device__ __forceinline__ Bits<V> positive_zero(Bits<V> b) {
#pragma unroll
  for (int k = 0; k < Bits<V>::words; ++k) {
    if ((b.w[k] & 0xffffu) == kSentinel) b.w[k] &= 0xffff0000u;
    if ((b.w[k] >> 16) == kSentinel) b.w[k] &= 0x0000ffffu;
  }
  return b;
}

// Spin until every element arrived. KILN_ALLREDUCE_SPIN_LIMIT_NS (a debugging build
// option) traps instead of hanging when a peer never sends.
template <int V>
__device__ __forceinline__ Bits<V> wait_for(const uint16_t* p, Bits<V> b) {
#ifdef KILN_ALLREDUCE_SPIN_LIMIT_NS
  uint64_t start = 0;
  uint32_t spins = 0;
#endif
  while (pending(b)) {
    b = ld_sys<V>(p);
#ifdef KILN_ALLREDUCE_SPIN_LIMIT_NS
    if ((++spins & 1023u) == 0) {
      uint64_t now;
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
      if (start == 0) start = now;
      else if (now - start > uint64_t(KILN_ALLREDUCE_SPIN_LIMIT_NS)) __trap();
    }
#endif
  }
  return b;
}

template <class T>
__device__ __forceinline__ float bits_to_float(uint16_t b);
template <>
__device__ __forceinline__ float bits_to_float<__nv_bfloat16>(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
template <>
__device__ __forceinline__ float bits_to_float<__half>(uint16_t b) { return __half2float(__ushort_as_half(b)); }

template <class T>
__device__ __forceinline__ uint16_t bits_of(T v) {
  return *reinterpret_cast<const uint16_t*>(&v);
}
template <class T>
__device__ __forceinline__ T of_bits(uint16_t b) {
  T v;
  *reinterpret_cast<uint16_t*>(&v) = b;
  return v;
}

// r' from the rank-order sum s and the residual r, as its 16-bit pattern (+0 for -0).
template <class T>
__device__ __forceinline__ uint16_t residual_of(float s, uint16_t r, bool vllm) {
  const float rf = bits_to_float<T>(r);
  const uint16_t b = bits_of(from_float<T>(vllm ? round_to<T>(s) + rf : s + rf));
  return b == kSentinel ? uint16_t(0) : b;
}

__device__ __forceinline__ uint32_t load_acquire(const uint32_t* p) {
  uint32_t v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// ---- one round ------------------------------------------------------------------------

// What a launch (one round of at most buffer_rows rows) is given. Row pointers already
// point at the round's first row.
struct Args {
  const void* x;
  void* residual;
  const void* weight;
  void* out;
  const float* scale;
  char* peers[detail::kMaxRanks];  // every rank's workspace
  int64_t buffer_rows;
  int64_t stride;  // row_stride(hidden)
  int64_t hidden;  // the generic kernel's
  int32_t rows;    // this round's rows
  int32_t rank, ranks;
  norm::Options o;
};

// Slot of the rank `from` in the workspace of rank `to`, row `row` of buffer `buffer`.
__device__ __forceinline__ uint16_t* slot(const Args& a, int to, int from, uint32_t buffer, int64_t row) {
  const int j = (from - to + a.ranks) % a.ranks - 1;
  auto* base = reinterpret_cast<uint16_t*>(a.peers[to] + kHeaderBytes);
  return base + ((int64_t(buffer) * (a.ranks - 1) + j) * a.buffer_rows + row) * a.stride;
}

__device__ __forceinline__ Header* header(const Args& a) { return reinterpret_cast<Header*>(a.peers[a.rank]); }

// The round's buffer, for every thread of the CTA (thread 0 reads; the barrier shares it).
__device__ __forceinline__ uint32_t read_epoch(const Args& a, uint32_t* shared) {
  // After the PDL wait: the previous launch of this plan has completed, its epoch stored.
  if (threadIdx.x == 0) *shared = load_acquire(&header(a)->epoch);
  __syncthreads();
  return *shared;
}

// Called by thread 0 once its CTA has read the epoch: the last CTA to arrive advances it.
// acq_rel: every CTA's read of epoch happens before the store of the next value.
__device__ __forceinline__ void arrive(const Args& a, uint32_t epoch) {
  Header* h = header(a);
  uint32_t old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], 1;" : "=r"(old) : "l"(&h->done) : "memory");
  if (old == gridDim.x - 1) {
    h->done = 0;
    // The next launch reads it after this grid completed. It wraps at a multiple of
    // kBuffers, so the rotation never repeats a buffer in two rounds running.
    h->epoch = epoch + 1 == kEpochWrap ? 0 : epoch + 1;
  }
}

// Sum of one value per thread over the CTA, in the order norm::row_reduce sums without a
// cluster (warps in order); `parity` alternates row by row so one barrier a row suffices.
template <int Warps>
__device__ __forceinline__ float cta_sum(float v, float (&slots)[2][32], int parity) {
  v = warp_sum(v);
  if constexpr (Warps == 1) {
    return v;
  } else {
    if (threadIdx.x % 32 == 0) slots[parity][threadIdx.x / 32] = v;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < Warps; ++k) total += slots[parity][k];
    return total;
  }
}

// ---- the specialised kernel -------------------------------------------------------------

template <int Hidden, int Ranks, int Threads, int VecN, int TwoShot>
struct Schedule {
  static constexpr int hidden = Hidden;
  static constexpr int ranks = Ranks;
  static constexpr int threads = Threads;
  static constexpr int vec = VecN;
  static constexpr bool two_shot = TwoShot != 0;
  static constexpr int iters = Hidden / (Threads * VecN);  // vectors per thread
  static constexpr int warps = Threads / 32;
  // kiln-gen validates these with file and key; this is only the backstop.
  static_assert(Ranks >= 2 && Ranks <= detail::kMaxRanks, "2 to 8 ranks");
  static_assert(VecN == 1 || VecN == 2 || VecN == 4 || VecN == 8, "vec is 1, 2, 4 or 8");
  static_assert(Threads % 32 == 0 && Threads <= 1024, "threads: a multiple of 32, at most 1024");
  static_assert(Hidden % (Threads * VecN) == 0, "threads * vec must divide hidden");
  static_assert(iters >= 1 && iters <= 16, "at most 16 vectors per thread");
};

template <class S, bool Fp8, class T>
struct Kernel {
  static constexpr int H = S::hidden, V = S::vec, N = S::iters, R = S::ranks, TH = S::threads;

  // The column of vector i of this thread.
  static __device__ __forceinline__ int col(int i) { return int(threadIdx.x) * V + i * TH * V; }

  // The rank's own x row as it is sent (no -0).
  static __device__ __forceinline__ void load_x(const Args& a, int64_t row, Bits<V> (&xv)[N]) {
    const auto* x = static_cast<const uint16_t*>(a.x) + row * H;
#pragma unroll
    for (int i = 0; i < N; ++i) xv[i] = positive_zero(ld_plain<V>(x + col(i)));
  }

  static __device__ __forceinline__ void send(const Args& a, int to, uint32_t buffer, int64_t row, const Bits<V> (&v)[N]) {
    uint16_t* dst = slot(a, to, a.rank, buffer, row);
#pragma unroll
    for (int i = 0; i < N; ++i) st_sys<V>(dst + col(i), v[i]);
  }

  // Rank `from`'s row from this rank's buffer, then the slot reset to the sentinel.
  static __device__ __forceinline__ void receive(const Args& a, int from, uint32_t buffer, int64_t row, Bits<V> (&v)[N]) {
    uint16_t* src = slot(a, a.rank, from, buffer, row);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = ld_sys<V>(src + col(i));  // all loads in flight at once
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = wait_for<V>(src + col(i), v[i]);
#pragma unroll
    for (int i = 0; i < N; ++i) st_sys<V>(src + col(i), sentinels<V>());
  }

  // r' of one row from every rank's x (own: from registers) and the residual.
  static __device__ __forceinline__ void reduce(const Args& a, uint32_t buffer, int64_t row, Bits<V> (&rv)[N]) {
    const auto* res = static_cast<const uint16_t*>(a.residual) + row * H;
    Bits<V> r[N];  // issued first: the spin's memory clobbers would keep it behind them
#pragma unroll
    for (int i = 0; i < N; ++i) r[i] = ld_plain<V>(res + col(i));
    Bits<V> mine[N];  // this rank's own x, kept apart: got is only ever indexed by constants
    load_x(a, row, mine);
    Bits<V> got[R][N] = {};  // the peers' rows, by rank: every load in flight before the first spin
#pragma unroll
    for (int k = 0; k < R; ++k) {
      if (k == a.rank) continue;
      uint16_t* src = slot(a, a.rank, k, buffer, row);
#pragma unroll
      for (int i = 0; i < N; ++i) got[k][i] = ld_sys<V>(src + col(i));
    }
#pragma unroll
    for (int k = 0; k < R; ++k) {
      if (k == a.rank) continue;
      uint16_t* src = slot(a, a.rank, k, buffer, row);
#pragma unroll
      for (int i = 0; i < N; ++i) got[k][i] = wait_for<V>(src + col(i), got[k][i]);
#pragma unroll
      for (int i = 0; i < N; ++i) st_sys<V>(src + col(i), sentinels<V>());
    }
#pragma unroll
    for (int i = 0; i < N; ++i) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < R; ++k) {
          const float v = bits_to_float<T>(k == a.rank ? mine[i].get(j) : got[k][i].get(j));
          s = k == 0 ? v : s + v;  // rank order
        }
        rv[i].set(j, residual_of<T>(s, r[i].get(j), a.o.vllm));
      }
    }
  }

  // r' written back and the normalised row written out: identical on every rank.
  static __device__ __forceinline__ void finish(const Args& a, int64_t row, const Bits<V> (&rv)[N], const Vec<T, V> (&wv)[N],
                                                float inv_scale, float (&slots)[2][32], int parity) {
    auto* res = static_cast<uint16_t*>(a.residual) + row * H;
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < N; ++i) {
      st_plain<V>(res + col(i), rv[i]);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float f = bits_to_float<T>(rv[i].get(j));
        ss += f * f;
      }
    }
    const float rinv = norm::inv_rms(cta_sum<S::warps>(ss, slots, parity), float(H), a.o.eps);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      float f[V];
#pragma unroll
      for (int j = 0; j < V; ++j)
        f[j] = norm::normed<T>(bits_to_float<T>(rv[i].get(j)), rinv, norm::weight_of(element(wv[i], j), a.o.gemma), a.o.vllm);
      const int64_t at = row * H + col(i);
      if constexpr (Fp8) {
#pragma unroll
        for (int j = 0; j < V; ++j) f[j] *= inv_scale;
        store_fp8<V>(static_cast<uint8_t*>(a.out) + at, f);
      } else {
        store_vec<T, V>(static_cast<T*>(a.out) + at, f);
      }
    }
  }

  static __device__ __forceinline__ void run(const Args& a) {
    __shared__ uint32_t epoch_shared;
    __shared__ float slots[2][32];
    Vec<T, V> wv[N];
    // With static_weight the weight loads while the predecessor finishes.
    if (!a.o.static_weight) wait_for_predecessor();
#pragma unroll
    for (int i = 0; i < N; ++i) wv[i] = load_vec<T, V>(static_cast<const T*>(a.weight) + col(i));
    if (a.o.static_weight) wait_for_predecessor();
    // The successor launches once every CTA got here: all of this grid is resident then.
    allow_successor();
    const int G = gridDim.x;
    const int rows = a.rows;
    const int first = blockIdx.x;
    const int chunk = (rows + R - 1) / R;  // two-shot: rank q owns rows [q * chunk, (q + 1) * chunk)
    // Rows this rank sends in the first phase: all (one-shot), those it does not own (two-shot).
    auto sends = [&](int row) { return row < rows && (!S::two_shot || row / chunk != a.rank); };
    // The first phase's rows go kBatch at a time: their loads all in flight before the
    // first store (the stores' memory clobber keeps later loads behind them).
    constexpr int kBatch = N >= 4 ? 1 : 4 / N;
    Bits<V> xb[kBatch][N];
    auto load_batch = [&](int row0) {
#pragma unroll
      for (int u = 0; u < kBatch; ++u)
        if (sends(row0 + u * G)) load_x(a, row0 + u * G, xb[u]);
    };
    load_batch(first);  // in flight while the epoch is read
    const uint32_t epoch = read_epoch(a, &epoch_shared);
    const uint32_t buffer = epoch % kBuffers;
    const float inv_scale = Fp8 ? 1.0f / load_float(a.scale) : 1.0f;
    for (int row0 = first; row0 < rows; row0 += kBatch * G) {
      if (row0 != first) load_batch(row0);
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        const int row = row0 + u * G;
        if (!sends(row)) continue;
        if constexpr (S::two_shot) {
          send(a, row / chunk, buffer, row, xb[u]);
        } else {
#pragma unroll
          for (int k = 1; k < R; ++k) send(a, (a.rank + k) % R, buffer, row, xb[u]);
        }
      }
    }
    if (threadIdx.x == 0) arrive(a, epoch);  // its latency hides behind the peers' data
    int parity = 0;
    if constexpr (!S::two_shot) {
      for (int row = first; row < rows; row += G, parity ^= 1) {
        Bits<V> rv[N] = {};
        reduce(a, buffer, row, rv);
        finish(a, row, rv, wv, inv_scale, slots, parity);
      }
    } else {
      for (int row = first; row < rows; row += G) {
        if (row / chunk != a.rank) continue;
        Bits<V> rv[N] = {};
        reduce(a, buffer, row, rv);
#pragma unroll
        for (int k = 1; k < R; ++k) send(a, (a.rank + k) % R, buffer, row, rv);
        finish(a, row, rv, wv, inv_scale, slots, parity);
        parity ^= 1;
      }
      for (int row = first; row < rows; row += G) {
        const int owner = row / chunk;
        if (owner == a.rank) continue;
        Bits<V> rv[N] = {};
        receive(a, owner, buffer, row, rv);
        finish(a, row, rv, wv, inv_scale, slots, parity);
        parity ^= 1;
      }
    }
  }
};

template <class S, bool Fp8, class T>
__global__ void __launch_bounds__(S::threads) specialised(Args a) {
  Kernel<S, Fp8, T>::run(a);
}

// The launch's arguments for its rounds; `first` is the round's first row.
inline Args args_of(const detail::LaunchParams& p, int64_t first, int64_t rows, int64_t buffer, int64_t out_bytes) {
  const detail::CommState& c = *p.comm;
  const int64_t at = first * p.hidden;
  Args a{};
  a.x = static_cast<const uint16_t*>(p.input) + at;
  a.residual = static_cast<uint16_t*>(p.residual) + at;
  a.weight = p.weight;
  a.out = p.output == nullptr ? nullptr
                              : static_cast<void*>(static_cast<char*>(p.output) + at * out_bytes);
  a.scale = p.scale;
  for (int k = 0; k < detail::kMaxRanks; ++k) a.peers[k] = static_cast<char*>(k < c.ranks ? c.peers[k] : nullptr);
  a.buffer_rows = buffer;
  a.stride = row_stride(p.hidden);
  a.hidden = p.hidden;
  a.rows = static_cast<int32_t>(rows);
  a.rank = c.rank;
  a.ranks = c.ranks;
  a.o = norm::options_of(p);
  return a;
}

// One launch per round of at most buffer_rows rows, each grid at most one CTA per SM.
template <bool Fp8, class Kern>
cudaError_t launch_rounds(Kern kernel, const detail::LaunchParams& p, unsigned threads, cudaStream_t stream) {
  if (p.comm == nullptr || p.comm->ranks < 2 || p.comm->ranks > detail::kMaxRanks) return cudaErrorInvalidValue;
  const int64_t buffer = buffer_rows(p.hidden, p.comm->ranks, p.comm->max_tokens);
  const int64_t ctas = std::max<int64_t>(1, p.comm->sm_count);
  for (int64_t first = 0; first < p.tokens; first += buffer) {
    const int64_t rows = std::min(buffer, p.tokens - first);
    const Args a = args_of(p, first, rows, buffer, Fp8 ? 1 : 2);
    const cudaError_t e = kiln::launch(kernel, dim3(static_cast<unsigned>(std::min(rows, ctas))), dim3(threads), 1, stream, a);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <class S, bool Fp8>
struct LaunchSpecialised {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      if (p.comm == nullptr || p.comm->ranks != S::ranks || p.hidden != S::hidden) return cudaErrorInvalidValue;
      return launch_rounds<Fp8>(specialised<S, Fp8, T>, p, S::threads, stream);
    }
  };
};

template <class S, bool Fp8>
cudaError_t launch(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchSpecialised<S, Fp8>::template Run>(p, stream);
}

// ---- the generic kernel: hidden and ranks at run time, one-shot -------------------------

// 256 threads a row; thread t owns the groups of 8 columns t, t + 256, ...; the row is
// summed into the residual, then read back for the norm (the second pass hits L1/L2).
// Wide: 16-byte accesses (hidden % 8 == 0, aligned pointers); else element by element,
// with the same columns per thread and the same order of the sum of squares, so ranks
// that differ in alignment still agree bit for bit.
constexpr int kGenericThreads = 256;

template <bool Fp8, class T, bool Wide>
__global__ void __launch_bounds__(kGenericThreads) generic(Args a) {
  __shared__ uint32_t epoch_shared;
  __shared__ float slots[2][32];
  constexpr int G8 = 8;
  const int64_t H = a.hidden;
  const int R = a.ranks;
  wait_for_predecessor();
  allow_successor();
  const uint32_t epoch = read_epoch(a, &epoch_shared);
  const uint32_t buffer = epoch % kBuffers;
  const float inv_scale = Fp8 ? 1.0f / load_float(a.scale) : 1.0f;
  const auto* x = static_cast<const uint16_t*>(a.x);
  auto* res = static_cast<uint16_t*>(a.residual);
  const T* w = static_cast<const T*>(a.weight);
  const int64_t step = int64_t(kGenericThreads) * G8;

  // One group of 8 columns (fewer at the row's end) as raw bits.
  auto load8 = [&](const uint16_t* p, int64_t c0, int n) {
    Bits<8> b{};
    if constexpr (Wide) {
      b = ld_plain<8>(p + c0);
    } else {
#pragma unroll
      for (int j = 0; j < G8; ++j) b.set(j, j < n ? p[c0 + j] : uint16_t(0));
    }
    return b;
  };
  auto st_sys8 = [&](uint16_t* p, int64_t c0, int n, const Bits<8>& b) {
    if constexpr (Wide) {
      st_sys<8>(p + c0, b);
    } else {
#pragma unroll
      for (int j = 0; j < G8; ++j)
        if (j < n) st_sys<1>(p + c0 + j, Bits<1>{{b.get(j)}});
    }
  };
  auto ld_sys8 = [&](const uint16_t* p, int64_t c0, int n) {
    Bits<8> b{};
    if constexpr (Wide) {
      b = ld_sys<8>(p + c0);
    } else {
#pragma unroll
      for (int j = 0; j < G8; ++j) b.set(j, j < n ? ld_sys<1>(p + c0 + j).get(0) : uint16_t(0));
    }
    return b;
  };

  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x)
    for (int64_t c0 = int64_t(threadIdx.x) * G8; c0 < H; c0 += step) {
      const int n = H - c0 < G8 ? int(H - c0) : G8;
      const Bits<8> v = positive_zero(load8(x + row * H, c0, n));
      for (int k = 1; k < R; ++k) st_sys8(slot(a, (a.rank + k) % R, a.rank, buffer, row), c0, n, v);
    }
  if (threadIdx.x == 0) arrive(a, epoch);

  int parity = 0;
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x, parity ^= 1) {
    float ss = 0.0f;
    for (int64_t c0 = int64_t(threadIdx.x) * G8; c0 < H; c0 += step) {
      const int n = H - c0 < G8 ? int(H - c0) : G8;
      const Bits<8> r = load8(res + row * H, c0, n);
      const Bits<8> mine = positive_zero(load8(x + row * H, c0, n));
      Bits<8> got[detail::kMaxRanks] = {};  // indexed by constants only (registers)
#pragma unroll
      for (int k = 0; k < detail::kMaxRanks; ++k)
        if (k < R && k != a.rank) got[k] = ld_sys8(slot(a, a.rank, k, buffer, row), c0, n);
#pragma unroll
      for (int k = 0; k < detail::kMaxRanks; ++k) {
        if (k >= R || k == a.rank) continue;
        uint16_t* src = slot(a, a.rank, k, buffer, row);
        while (pending(got[k])) got[k] = ld_sys8(src, c0, n);  // lanes past the row's end hold 0
        st_sys8(src, c0, n, sentinels<8>());
      }
      Bits<8> rv{};
#pragma unroll
      for (int j = 0; j < G8; ++j) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < detail::kMaxRanks; ++k) {
          if (k >= R) continue;
          const float v = bits_to_float<T>(k == a.rank ? mine.get(j) : got[k].get(j));
          s = k == 0 ? v : s + v;  // rank order
        }
        rv.set(j, residual_of<T>(s, r.get(j), a.o.vllm));
        if (j < n) {
          const float f = bits_to_float<T>(rv.get(j));
          ss += f * f;
        }
      }
      if constexpr (Wide) {
        st_plain<8>(res + row * H + c0, rv);
      } else {
#pragma unroll
        for (int j = 0; j < G8; ++j)
          if (j < n) res[row * H + c0 + j] = rv.get(j);
      }
    }
    const float rinv = norm::inv_rms(cta_sum<kGenericThreads / 32>(ss, slots, parity), float(H), a.o.eps);
    for (int64_t c0 = int64_t(threadIdx.x) * G8; c0 < H; c0 += step) {
      const int n = H - c0 < G8 ? int(H - c0) : G8;
      const Bits<8> rv = load8(res + row * H, c0, n);  // what this thread wrote above
      float f[G8];
#pragma unroll
      for (int j = 0; j < G8; ++j) {
        const T wj = j < n ? w[c0 + j] : of_bits<T>(0);
        f[j] = norm::normed<T>(bits_to_float<T>(rv.get(j)), rinv, norm::weight_of(to_float(wj), a.o.gemma), a.o.vllm) * inv_scale;
      }
      const int64_t at = row * H + c0;
      if constexpr (Fp8) {
        if constexpr (Wide) {
          store_fp8<8>(static_cast<uint8_t*>(a.out) + at, f);
        } else {
#pragma unroll
          for (int j = 0; j < G8; ++j)
            if (j < n) {
              const float one[1] = {f[j]};
              store_fp8<1>(static_cast<uint8_t*>(a.out) + at + j, one);
            }
        }
      } else {
        if constexpr (Wide) {
          store_vec<T, 8>(static_cast<T*>(a.out) + at, f);
        } else {
#pragma unroll
          for (int j = 0; j < G8; ++j)
            if (j < n) static_cast<T*>(a.out)[at + j] = from_float<T>(f[j]);
        }
      }
    }
  }
}

template <bool Fp8>
struct LaunchGeneric {
  template <class T>
  struct Run {
    static cudaError_t run(const detail::LaunchParams& p, cudaStream_t stream) {
      const bool wide = p.hidden % 8 == 0 && norm::aligned(p.input, 16) && norm::aligned(p.weight, 16) &&
                        norm::aligned(p.residual, 16) && norm::aligned(p.output, Fp8 ? 8 : 16);
      return wide ? launch_rounds<Fp8>(generic<Fp8, T, true>, p, kGenericThreads, stream)
                  : launch_rounds<Fp8>(generic<Fp8, T, false>, p, kGenericThreads, stream);
    }
  };
};

template <bool Fp8>
cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t stream) {
  return for_dtype<LaunchGeneric<Fp8>::template Run>(p, stream);
}

template <bool Fp8>
cudaError_t probe_generic() {
  return probe(generic<Fp8, __nv_bfloat16, false>);
}

}  // namespace kiln::allreduce

// The two kernels' names for kiln-gen's instances and registry, as KILN_NORM_KERNEL binds
// the norm family's: Schedule<hidden, ranks, threads, vec, two_shot>, launch<S>,
// launch_generic<>, probe_generic<>, and the workspace hooks of KernelEntry.
#define KILN_ALLREDUCE_KERNEL(name, fp8)                                                          \
  namespace kiln::name {                                                                          \
  template <int Hidden, int Ranks, int Threads, int VecN, int TwoShot>                            \
  using Schedule = allreduce::Schedule<Hidden, Ranks, Threads, VecN, TwoShot>;                    \
  template <class S>                                                                              \
  cudaError_t launch(const detail::LaunchParams& p, cudaStream_t s) {                             \
    return allreduce::launch<S, fp8>(p, s);                                                       \
  }                                                                                               \
  template <class = void>                                                                         \
  cudaError_t launch_generic(const detail::LaunchParams& p, cudaStream_t s) {                     \
    return allreduce::launch_generic<fp8>(p, s);                                                  \
  }                                                                                               \
  template <class = void>                                                                         \
  cudaError_t probe_generic() {                                                                   \
    return allreduce::probe_generic<fp8>();                                                       \
  }                                                                                               \
  inline int64_t workspace_bytes(detail::DType d, int64_t hidden, int32_t ranks, int64_t max_tokens) { \
    return allreduce::workspace_bytes(d, hidden, ranks, max_tokens);                              \
  }                                                                                               \
  inline cudaError_t workspace_init(void* workspace, int64_t bytes, cudaStream_t s) {             \
    return allreduce::workspace_init(workspace, bytes, s);                                        \
  }                                                                                               \
  }

KILN_ALLREDUCE_KERNEL(allreduce_add_rms_norm, false)
KILN_ALLREDUCE_KERNEL(allreduce_add_rms_norm_fp8, true)
#undef KILN_ALLREDUCE_KERNEL
