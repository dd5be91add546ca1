// The C interface of a candidate library (kt.so): compiled at tune time from
// runner.cu and the measuring library's timing.cu (tools/measure) plus the candidates'
// launchers (one kiln-gen instance each) and a table.
// The tuner's worker process dlopens one such library and does all of its GPU work
// through it, so every CUDA call of the process goes through one CUDA runtime.
#pragma once

#include <cstddef>

#include "kiln/detail/table.h"

// Bumped when the functions below change; a cached library of another version is rebuilt.
#define KT_RUNNER_VERSION 2

extern "C" {

struct kt_candidate {
  const char* schedule;  // Schedule::text(): "threads=256 vec=8 col_iters=1 rows_per_cta=1"
  kiln::detail::Launcher launch;
};

// A copy kt_time makes before every replay: tensors a kernel writes over its inputs
// (in-out) are put back from a pristine copy, so that each replay starts from the same values.
struct kt_restore {
  void* dst;
  const void* src;
  size_t bytes;
};

// From the generated table.cu.
extern const kt_candidate kt_candidates[];
extern const int kt_candidate_count;

// Every function returns a cudaError_t (0: success). After a failure, kt_broken()
// says whether the context is unusable (a sticky error): the process must then exit.
int kt_runner_version(void);
const char* kt_error_name(int error);  // "cudaErrorIllegalAddress"
int kt_init(int device);
int kt_broken(void);
int kt_malloc(void** ptr, size_t bytes);
int kt_upload(void* dst, const void* src, size_t bytes);
int kt_download(void* dst, const void* src, size_t bytes);
int kt_memset(void* dst, int value, size_t bytes);
int kt_copy(void* dst, const void* src, size_t bytes);
// One launch outside a graph, then a synchronisation: launch errors and faults surface here.
int kt_run(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params);
// kiln::measure::GraphTimer: `launches` back-to-back calls captured in a CUDA graph;
// warm-up replays (at least 3 and at least warmup_ms), then `replays` timed replays
// queued behind a gate so the host never lags the GPU; the `restores` before every
// replay, outside the timed events. Per-call microseconds: median and fastest replay.
int kt_time(kiln::detail::Launcher launch, const kiln::detail::LaunchParams* params, int launches, int replays,
            double warmup_ms, const kt_restore* restores, int restore_count, double* median_us, double* min_us);
// kiln::measure::measure_ceiling: bytes read + written per second (GB/s) of a `bytes`
// device-to-device copy; the faster of a copy kernel and cudaMemcpyAsync, outside a graph.
int kt_ceiling(size_t bytes, double* gbps, double* kernel_gbps, double* memcpy_gbps);
// kiln::measure::measure_floor: an empty kernel per launch in a graph, the lower of a
// plain launch and one with PDL (as kiln launches).
int kt_floor(int launches, int replays, double* us);
}
