// Graph-replay timing, the copy ceiling, the launch floor and the random fill: see
// timing.h. One translation unit with its device code, so that kiln-tune can compile it
// into a candidate library as it is (tools/kiln-tune/build.cpp).
#include "measure/timing.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>

#include "common.cuh"  // kiln::launch: the launch path kiln's kernels take

namespace kiln::measure {
namespace {

constexpr int kGateBatch = 200;  // replays queued behind one gate
constexpr unsigned long long kGateTimeoutNs = 2'000'000'000ull;

// ---- device code -------------------------------------------------------------------

template <bool Streaming>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (Streaming) return __ldcs(p);
  else return __ldg(p);
}

template <bool Streaming>
__device__ __forceinline__ void store16(uint4* p, uint4 v) {
  if constexpr (Streaming) __stcs(p, v);
  else *p = v;
}

// Grid-stride copy, four independent 16-byte loads in flight before their stores.
template <bool Streaming>
__global__ void __launch_bounds__(1024) copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                                    std::size_t n) {
  constexpr int kUnroll = 4;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) v[k] = load16<Streaming>(src + i + k * stride);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) store16<Streaming>(dst + i + k * stride, v[k]);
  }
  for (; i < n; i += stride) store16<Streaming>(dst + i, load16<Streaming>(src + i));
}

__global__ void empty_kernel() {}

// Waits on and releases its neighbours the way a kiln kernel does.
__global__ void empty_pdl_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Holds the stream until the host sets *flag (host-mapped memory), so that everything
// queued behind it runs back to back; gives up after timeout_ns and sets *timed_out.
__global__ void gate_kernel(const volatile int* flag, int* timed_out, unsigned long long timeout_ns) {
  const unsigned long long start = global_ns();
  while (*flag == 0) {
    if (global_ns() - start > timeout_ns) {
      *timed_out = 1;
      return;
    }
    __nanosleep(2000);
  }
}

// splitmix64: a good 64-bit mix of (seed, index).
__device__ __forceinline__ uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void fill_normal_kernel(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const uint64_t r = mix(seed * 0x2545f4914f6cdd1dull + i);
    // Box-Muller on two 24-bit uniforms; u1 in (0, 1] so the log is finite.
    const float u1 = (static_cast<float>((r >> 40) & 0xffffffu) + 1.0f) * (1.0f / 16777216.0f);
    const float u2 = static_cast<float>((r >> 8) & 0xffffffu) * (1.0f / 16777216.0f);
    float v = stddev * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    const float tiny = stddev * (1.0f / 1024.0f);
    if (fabsf(v) < tiny) v = copysignf(tiny, v);
    dst[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(v)) : __half_as_ushort(__float2half_rn(v));
  }
}

// ---- host helpers ------------------------------------------------------------------

void write_flag(int* flag, int value) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *reinterpret_cast<volatile int*>(flag) = value;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void launch_copy(const void* src, void* dst, std::size_t bytes, int blocks, int threads, bool streaming,
                 cudaStream_t stream) {
  const std::size_t n = bytes / 16;
  const auto* s = static_cast<const uint4*>(src);
  auto* d = static_cast<uint4*>(dst);
  if (streaming) copy_kernel<true><<<blocks, threads, 0, stream>>>(s, d, n);
  else copy_kernel<false><<<blocks, threads, 0, stream>>>(s, d, n);
  KILN_CUDA_CHECK(cudaGetLastError());
}

int copy_blocks_per_sm(int threads, bool streaming) {
  int blocks = 0;
  if (streaming) KILN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, copy_kernel<true>, threads, 0));
  else KILN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, copy_kernel<false>, threads, 0));
  return blocks;
}

void launch_empty(bool pdl, cudaStream_t stream) {
  if (pdl) {
    KILN_CUDA_CHECK(kiln::launch(empty_pdl_kernel, dim3(1), dim3(32), 1, stream));  // as kiln launches its kernels
  } else {
    empty_kernel<<<1, 32, 0, stream>>>();
    KILN_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace

// ---- graph timing ------------------------------------------------------------------

GraphTimer::GraphTimer(cudaStream_t stream) : stream_(stream) {
  KILN_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_flags_), 2 * sizeof(int), cudaHostAllocMapped));
  host_flags_[0] = host_flags_[1] = 0;
  KILN_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_flags_), host_flags_, 0));
}

GraphTimer::~GraphTimer() {
  if (host_flags_) cudaFreeHost(host_flags_);
}

Timing GraphTimer::time(const Enqueue& enqueue, int launches, const TimingOptions& options, const Reset& reset) {
  // Outside a graph first: loads the module and reports a bad launch plainly.
  if (reset) reset(stream_);
  enqueue(0, stream_);
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));

  KILN_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    for (int i = 0; i < launches; ++i) enqueue(i, stream_);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream_, &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  KILN_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  GraphExec exec(graph);
  KILN_CUDA_CHECK(cudaGraphUpload(exec.get(), stream_));

  while (starts_.size() < 2) {
    starts_.emplace_back();
    stops_.emplace_back();
  }
  auto replay = [&] {
    if (reset) reset(stream_);
    KILN_CUDA_CHECK(cudaGraphLaunch(exec.get(), stream_));
  };

  // Warm-up: batches that double until at least 3 replays and warmup_ms have run.
  int warm = 0;
  double warm_ms = 0.0;
  for (int batch = 3; warm < 3 || warm_ms < options.warmup_ms; batch = std::min(2 * batch, 4096)) {
    KILN_CUDA_CHECK(cudaEventRecord(starts_[0].get(), stream_));
    for (int i = 0; i < batch; ++i) replay();
    KILN_CUDA_CHECK(cudaEventRecord(stops_[0].get(), stream_));
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    warm_ms += elapsed_ms(starts_[0], stops_[0]);
    warm += batch;
  }
  const double replay_ms = warm_ms / warm;  // with the resets: an upper bound

  int replays = std::max(1, options.replays);
  if (replay_ms * replays > options.max_seconds * 1e3) {
    const int fewest = std::min(std::max(1, options.min_replays), replays);
    replays = std::clamp(static_cast<int>(options.max_seconds * 1e3 / replay_ms), fewest, replays);
  }
  while (starts_.size() < static_cast<std::size_t>(replays)) {
    starts_.emplace_back();
    stops_.emplace_back();
  }

  // Timed replays, queued behind a gate so the host never lags the GPU.
  Timing t;
  for (int first = 0; first < replays; first += kGateBatch) {
    const int n = std::min(kGateBatch, replays - first);
    write_flag(&host_flags_[0], 0);
    write_flag(&host_flags_[1], 0);
    gate_kernel<<<1, 1, 0, stream_>>>(device_flags_, device_flags_ + 1, kGateTimeoutNs);
    KILN_CUDA_CHECK(cudaGetLastError());
    for (int i = first; i < first + n; ++i) {
      if (reset) reset(stream_);
      KILN_CUDA_CHECK(cudaEventRecord(starts_[i].get(), stream_));
      KILN_CUDA_CHECK(cudaGraphLaunch(exec.get(), stream_));
      KILN_CUDA_CHECK(cudaEventRecord(stops_[i].get(), stream_));
    }
    write_flag(&host_flags_[0], 1);
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (*reinterpret_cast<volatile int*>(&host_flags_[1]) != 0) t.gate_timed_out = true;
  }

  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(replays));
  for (int i = 0; i < replays; ++i) ms.push_back(elapsed_ms(starts_[i], stops_[i]));
  t.launches = launches;
  t.replays = replays;
  t.us = median(ms) * 1e3 / launches;
  t.us_min = *std::min_element(ms.begin(), ms.end()) * 1e3 / launches;
  return t;
}

// ---- the copy ceiling and the launch floor -----------------------------------------

Ceiling measure_ceiling(std::size_t bytes, cudaStream_t stream, int samples) {
  bytes = std::max<std::size_t>(bytes / (1 << 20), 1) << 20;  // whole MiB: 16-byte vectors throughout
  int device = 0, sms = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DeviceMemory src(bytes), dst(bytes);
  fill_normal(static_cast<uint16_t*>(src.get()), bytes / 2, true, 7, 1.0f, stream);
  KILN_CUDA_CHECK(cudaMemsetAsync(dst.get(), 0, bytes, stream));

  std::vector<Event> starts(static_cast<std::size_t>(samples)), stops(static_cast<std::size_t>(samples));
  // Median milliseconds of `samples` runs of op (after one untimed run).
  auto time_op = [&](const std::function<void()>& op) {
    op();
    for (int i = 0; i < samples; ++i) {
      KILN_CUDA_CHECK(cudaEventRecord(starts[i].get(), stream));
      op();
      KILN_CUDA_CHECK(cudaEventRecord(stops[i].get(), stream));
    }
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> ms;
    for (int i = 0; i < samples; ++i) ms.push_back(elapsed_ms(starts[i], stops[i]));
    return median(ms);
  };
  auto gbps = [&](double ms) { return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9; };

  Ceiling c;
  c.bytes = bytes;
  c.samples = samples;
  for (const bool streaming : {false, true}) {
    for (const int threads : {256, 512, 1024}) {
      const int blocks = std::max(1, copy_blocks_per_sm(threads, streaming)) * sms;
      const double rate =
          gbps(time_op([&] { launch_copy(src.get(), dst.get(), bytes, blocks, threads, streaming, stream); }));
      if (rate > c.kernel_gbps) {
        c.kernel_gbps = rate;
        c.kernel_config = std::to_string(threads) + " threads x " + std::to_string(blocks) + " CTAs" +
                          (streaming ? ", streaming hints" : "");
      }
    }
  }
  c.memcpy_gbps = gbps(time_op([&] {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
  }));
  c.gbps = std::max(c.kernel_gbps, c.memcpy_gbps);
  return c;
}

Floor measure_floor(GraphTimer& timer, const TimingOptions& options) {
  Floor f;
  f.plain_us = timer.time([](int, cudaStream_t s) { launch_empty(false, s); }, options.launches, options).us;
  f.pdl_us = timer.time([](int, cudaStream_t s) { launch_empty(true, s); }, options.launches, options).us;
  f.us = std::min(f.plain_us, f.pdl_us);
  return f;
}

void fill_normal(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev, cudaStream_t stream) {
  if (count == 0) return;
  const std::size_t wanted = (count + 255) / 256;
  const unsigned blocks = static_cast<unsigned>(wanted < 65536 ? wanted : 65536);
  fill_normal_kernel<<<blocks, 256, 0, stream>>>(dst, count, bf16, seed, stddev);
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace kiln::measure
