// The GPU side of kiln-tune, compiled into every candidate library (see runner.h).
// It knows nothing about kernels: it launches what the table hands it.
#include "runner.h"

#include <cuda_runtime.h>

#include "common.cuh"  // kiln::launch: the launch path kiln's kernels take

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

namespace {

cudaStream_t g_stream = nullptr;
int* g_gate_host = nullptr;  // host-mapped: [0] open, [1] timed out
int* g_gate_dev = nullptr;

// Errors after which the context is gone and every later call fails.
bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorUnknown:
    case cudaErrorContextIsDestroyed:
    case cudaErrorDevicesUnavailable:
      return true;
    default:
      return false;
  }
}

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Holds the stream until the host opens the gate (or 2 s pass), so that the timed
// replays queued behind it run back to back.
__global__ void gate(const volatile int* open, int* timed_out) {
  const unsigned long long start = now_ns();
  while (*open == 0) {
    if (now_ns() - start > 2000000000ull) {
      *timed_out = 1;
      return;
    }
    __nanosleep(1000);
  }
}

__global__ void empty_pdl() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

__global__ void __launch_bounds__(1024) copy16(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    uint4 v[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) v[k] = __ldcs(src + i + k * stride);
#pragma unroll
    for (int k = 0; k < 4; ++k) __stcs(dst + i + k * stride, v[k]);
  }
  for (; i < n; i += stride) __stcs(dst + i, __ldcs(src + i));
}

__global__ void fill_pattern(uint32_t* p, size_t n) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = uint32_t(i * 2654435761u) | 0x01010101u;
}

void set_flag(int* flag, int v) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *reinterpret_cast<volatile int*>(flag) = v;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

struct Events {
  std::vector<cudaEvent_t> start, stop;
  explicit Events(int n) : start(n), stop(n) {
    for (int i = 0; i < n; ++i) {
      cudaEventCreate(&start[i]);
      cudaEventCreate(&stop[i]);
    }
  }
  ~Events() {
    for (std::size_t i = 0; i < start.size(); ++i) {
      cudaEventDestroy(start[i]);
      cudaEventDestroy(stop[i]);
    }
  }
  double ms(int i) const {
    float v = 0;
    cudaEventElapsedTime(&v, start[i], stop[i]);
    return v;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define KT_TRY(call)                           \
  do {                                         \
    const cudaError_t kt_err_ = (call);        \
    if (kt_err_ != cudaSuccess) return kt_err_; \
  } while (0)

// Captures `launches` calls of `enqueue` into an executable graph.
template <class Enqueue>
cudaError_t capture(Enqueue enqueue, int launches, cudaGraphExec_t* exec) {
  KT_TRY(cudaStreamBeginCapture(g_stream, cudaStreamCaptureModeThreadLocal));
  cudaError_t launch_error = cudaSuccess;
  for (int i = 0; i < launches && launch_error == cudaSuccess; ++i) launch_error = enqueue();
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(g_stream, &graph);
  if (launch_error != cudaSuccess || end != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    return launch_error != cudaSuccess ? launch_error : end;
  }
  const cudaError_t inst = cudaGraphInstantiate(exec, graph, 0);
  cudaGraphDestroy(graph);
  KT_TRY(inst);
  return cudaGraphUpload(*exec, g_stream);
}

// Warm-up, then `replays` gated replays; per-call median and minimum in microseconds.
cudaError_t replay(cudaGraphExec_t exec, int launches, int replays, double warmup_ms, double* median_us,
                   double* min_us) {
  Events ev(std::max(replays, 1));
  int warm = 0;
  double warm_ms = 0;
  for (int batch = 3; warm < 3 || warm_ms < warmup_ms; batch = std::min(2 * batch, 1024)) {
    KT_TRY(cudaEventRecord(ev.start[0], g_stream));
    for (int i = 0; i < batch; ++i) KT_TRY(cudaGraphLaunch(exec, g_stream));
    KT_TRY(cudaEventRecord(ev.stop[0], g_stream));
    KT_TRY(cudaStreamSynchronize(g_stream));
    warm_ms += ev.ms(0);
    warm += batch;
  }
  set_flag(&g_gate_host[0], 0);
  set_flag(&g_gate_host[1], 0);
  gate<<<1, 1, 0, g_stream>>>(g_gate_dev, g_gate_dev + 1);
  KT_TRY(cudaGetLastError());
  for (int i = 0; i < replays; ++i) {
    KT_TRY(cudaEventRecord(ev.start[i], g_stream));
    KT_TRY(cudaGraphLaunch(exec, g_stream));
    KT_TRY(cudaEventRecord(ev.stop[i], g_stream));
  }
  set_flag(&g_gate_host[0], 1);
  KT_TRY(cudaStreamSynchronize(g_stream));
  std::vector<double> us;
  for (int i = 0; i < replays; ++i) us.push_back(ev.ms(i) * 1e3 / launches);
  *median_us = median(us);
  *min_us = *std::min_element(us.begin(), us.end());
  return cudaSuccess;
}

}  // namespace

extern "C" {

int kt_runner_version(void) { return KT_RUNNER_VERSION; }

const char* kt_error_name(int error) { return cudaGetErrorName(static_cast<cudaError_t>(error)); }

int kt_init(int device) {
  KT_TRY(cudaSetDevice(device));
  KT_TRY(cudaFree(nullptr));  // creates the context now, not inside the first candidate
  KT_TRY(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
  KT_TRY(cudaHostAlloc(reinterpret_cast<void**>(&g_gate_host), 2 * sizeof(int), cudaHostAllocMapped));
  g_gate_host[0] = g_gate_host[1] = 0;
  return cudaHostGetDevicePointer(reinterpret_cast<void**>(&g_gate_dev), g_gate_host, 0);
}

int kt_broken(void) {
  const cudaError_t last = cudaGetLastError();  // clears a non-sticky error
  if (is_sticky(last)) return 1;
  return cudaDeviceSynchronize() != cudaSuccess ? 1 : 0;  // still failing after the clear: unusable
}

int kt_malloc(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
int kt_upload(void* dst, const void* src, size_t bytes) { return cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); }
int kt_download(void* dst, const void* src, size_t bytes) {
  return cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
}
int kt_memset(void* dst, int value, size_t bytes) { return cudaMemset(dst, value, bytes); }
int kt_copy(void* dst, const void* src, size_t bytes) { return cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice); }

int kt_run(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params) {
  KT_TRY(launch(*params, g_stream));
  KT_TRY(cudaGetLastError());
  return cudaStreamSynchronize(g_stream);
}

int kt_time(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params, int launches, int replays,
            double warmup_ms, double* median_us, double* min_us) {
  KT_TRY(static_cast<cudaError_t>(kt_run(launch, params)));  // module loaded and launch checked outside the graph
  cudaGraphExec_t exec = nullptr;
  KT_TRY(capture([&] { return launch(*params, g_stream); }, launches, &exec));
  const cudaError_t e = replay(exec, launches, replays, warmup_ms, median_us, min_us);
  cudaGraphExecDestroy(exec);
  return e;
}

int kt_floor(int launches, int replays, double* us) {
  cudaGraphExec_t exec = nullptr;
  KT_TRY(capture(
      [] { return kiln::launch(empty_pdl, dim3(1), dim3(32), 1, g_stream); },  // as kiln launches
      launches, &exec));
  double min_us = 0;
  const cudaError_t e = replay(exec, launches, replays, 5.0, us, &min_us);
  cudaGraphExecDestroy(exec);
  return e;
}

int kt_ceiling(size_t bytes, double* gbps, double* kernel_gbps, double* memcpy_gbps) {
  bytes = std::max<size_t>(bytes >> 20, 1) << 20;
  void *src = nullptr, *dst = nullptr;
  KT_TRY(cudaMalloc(&src, bytes));
  cudaError_t e = cudaMalloc(&dst, bytes);
  if (e != cudaSuccess) {
    cudaFree(src);
    return e;
  }
  fill_pattern<<<1024, 256, 0, g_stream>>>(static_cast<uint32_t*>(src), bytes / 4);
  int device = 0, sms = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  constexpr int kSamples = 7;
  Events ev(kSamples);
  // Median GB/s (read + written) of kSamples runs after one untimed run.
  auto rate = [&](auto op) -> double {
    op();
    for (int i = 0; i < kSamples; ++i) {
      cudaEventRecord(ev.start[i], g_stream);
      op();
      cudaEventRecord(ev.stop[i], g_stream);
    }
    if (cudaStreamSynchronize(g_stream) != cudaSuccess) return 0.0;
    std::vector<double> ms;
    for (int i = 0; i < kSamples; ++i) ms.push_back(ev.ms(i));
    return 2.0 * double(bytes) / (median(ms) * 1e-3) / 1e9;
  };
  *kernel_gbps = 0;
  for (int threads : {256, 512, 1024}) {
    int per_sm = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, copy16, threads, 0);
    const int blocks = std::max(1, per_sm) * sms;
    *kernel_gbps = std::max(*kernel_gbps, rate([&] {
      copy16<<<blocks, threads, 0, g_stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst), bytes / 16);
    }));
  }
  *memcpy_gbps = rate([&] { cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream); });
  *gbps = std::max(*kernel_gbps, *memcpy_gbps);
  e = cudaGetLastError();
  cudaFree(src);
  cudaFree(dst);
  return e;
}

}  // extern "C"
