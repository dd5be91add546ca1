// The GPU side of kiln-tune, compiled into every candidate library (see runner.h). It
// knows nothing about kernels: it launches what the table hands it, and measures with
// the measuring library kiln-bench uses (tools/measure/timing.h), so the tuner and the
// benchmark time alike.
#include "runner.h"

#include <cuda_runtime.h>

#include <memory>

#include "measure/timing.h"

namespace {

cudaStream_t g_stream = nullptr;
std::unique_ptr<kiln::measure::GraphTimer> g_timer;

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

// Runs `body`; the error code of the CUDA call that failed in it, or 0.
template <class Body>
int answer(Body body) {
  try {
    body();
    return cudaSuccess;
  } catch (const kiln::measure::CudaError& e) {
    return e.code();
  } catch (...) {
    return cudaErrorUnknown;
  }
}

#define KT_TRY(call)                           \
  do {                                         \
    const cudaError_t kt_err_ = (call);        \
    if (kt_err_ != cudaSuccess) return kt_err_; \
  } while (0)

}  // namespace

extern "C" {

int kt_runner_version(void) { return KT_RUNNER_VERSION; }

const char* kt_error_name(int error) { return cudaGetErrorName(static_cast<cudaError_t>(error)); }

int kt_init(int device) {
  KT_TRY(cudaSetDevice(device));
  KT_TRY(cudaFree(nullptr));  // creates the context now, not inside the first candidate
  KT_TRY(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
  return answer([] { g_timer = std::make_unique<kiln::measure::GraphTimer>(g_stream); });
}

int kt_broken(void) {
  const cudaError_t last = cudaGetLastError();  // clears a non-sticky error
  if (is_sticky(last)) return 1;
  return cudaDeviceSynchronize() != cudaSuccess ? 1 : 0;  // still failing after the clear: unusable
}

int kt_malloc(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
// Copies and fills run on the candidates' stream and are complete when these return. On
// the legacy stream they would not be ordered before a kernel on g_stream (non-blocking),
// and cudaMemcpy from pageable memory, device-to-device copies and cudaMemset may still be
// in flight when they return: a check could read rows not uploaded yet.
static int finished(cudaError_t issued) { return issued != cudaSuccess ? issued : cudaStreamSynchronize(g_stream); }
int kt_upload(void* dst, const void* src, size_t bytes) {
  return finished(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_stream));
}
int kt_download(void* dst, const void* src, size_t bytes) {
  return finished(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_stream));
}
int kt_memset(void* dst, int value, size_t bytes) { return finished(cudaMemsetAsync(dst, value, bytes, g_stream)); }
int kt_copy(void* dst, const void* src, size_t bytes) {
  return finished(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream));
}

int kt_run(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params) {
  KT_TRY(launch(*params, g_stream));
  KT_TRY(cudaGetLastError());
  return cudaStreamSynchronize(g_stream);
}

int kt_time(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params, int launches, int replays,
            double warmup_ms, const kt_restore* restores, int restore_count, double* median_us, double* min_us) {
  kiln::measure::TimingOptions options;
  options.launches = launches;
  options.replays = replays;
  options.min_replays = replays;  // never cut down: the tuner asks for what it needs
  options.max_seconds = 1e9;
  options.warmup_ms = warmup_ms;
  kiln::measure::Reset reset;
  if (restore_count > 0)
    reset = [=](cudaStream_t s) {
      for (int i = 0; i < restore_count; ++i)
        KILN_CUDA_CHECK(cudaMemcpyAsync(restores[i].dst, restores[i].src, restores[i].bytes, cudaMemcpyDeviceToDevice, s));
    };
  return answer([&] {
    const kiln::measure::Timing t = g_timer->time(
        [&](int, cudaStream_t s) { KILN_CUDA_CHECK(launch(*params, s)); }, launches, options, reset);
    *median_us = t.us;
    *min_us = t.us_min;
  });
}

int kt_floor(int launches, int replays, double* us) {
  kiln::measure::TimingOptions options;
  options.launches = launches;
  options.replays = options.min_replays = replays;
  options.max_seconds = 1e9;
  options.warmup_ms = 5.0;
  return answer([&] { *us = kiln::measure::measure_floor(*g_timer, options).us; });
}

int kt_ceiling(size_t bytes, double* gbps, double* kernel_gbps, double* memcpy_gbps) {
  return answer([&] {
    const kiln::measure::Ceiling c = kiln::measure::measure_ceiling(bytes, g_stream);
    *gbps = c.gbps;
    *kernel_gbps = c.kernel_gbps;
    *memcpy_gbps = c.memcpy_gbps;
  });
}

}  // extern "C"
