// How kiln times kernels (docs/design.md, "Performance"), for kiln-bench and for kiln-tune's
// candidate libraries alike: N back-to-back launches captured in one CUDA graph on a
// non-default stream, warmed up, then R replays each timed with events and queued
// behind a gate so the host never lags the GPU; per-call time = median replay / N.
// Plus the two reference points of a run: the device-to-device copy ceiling and the
// empty-kernel launch floor. Failures throw CudaError (measure/cuda.h).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "measure/cuda.h"

namespace kiln::measure {

struct TimingOptions {
  int launches = 20;          // launches captured per graph
  int replays = 50;           // replays timed (the median is taken) ...
  int min_replays = 5;        // ... cut down to no fewer than this when
  double max_seconds = 1.0;   // ... the replays would take longer than this
  double warmup_ms = 10.0;    // replays before timing: at least 3 and at least this long
};

struct Timing {
  double us = 0;          // per call: median replay / launches
  double us_min = 0;      // per call: fastest replay / launches
  int launches = 0;       // per graph
  int replays = 0;        // timed
  bool gate_timed_out = false;  // the host could not queue every replay before the GPU started
};

// Enqueue launch number `index` (0 .. launches-1) on `stream`; throw on failure.
using Enqueue = std::function<void(int index, cudaStream_t stream)>;
// Enqueue whatever puts the launches' tensors back as they were (kernels that write
// over their inputs); empty: nothing to do.
using Reset = std::function<void(cudaStream_t stream)>;

class GraphTimer {
 public:
  explicit GraphTimer(cudaStream_t stream);
  GraphTimer(const GraphTimer&) = delete;
  GraphTimer& operator=(const GraphTimer&) = delete;
  ~GraphTimer();

  // Run `enqueue` once outside a graph (module loading, early errors), then capture
  // `launches` calls into a graph and time its replays. `reset`, when given, runs before
  // every replay, outside the timed events: each replay starts from the same values.
  Timing time(const Enqueue& enqueue, int launches, const TimingOptions& options, const Reset& reset = {});

  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
  int* host_flags_ = nullptr;  // [0]: gate open, [1]: gate timed out (host-mapped)
  int* device_flags_ = nullptr;
  std::vector<Event> starts_, stops_;
};

// Bandwidth ceiling: bytes read + written per second by a large device-to-device copy.
struct Ceiling {
  double gbps = 0;            // the faster of the two below (GB = 1e9 bytes)
  double kernel_gbps = 0;     // best copy-kernel configuration
  double memcpy_gbps = 0;     // cudaMemcpyAsync outside a graph
  std::string kernel_config;  // "512 threads x 264 CTAs, streaming hints"
  std::size_t bytes = 0;      // bytes copied (read once, written once)
  int samples = 0;            // median of this many
};

// On the current device; `bytes` is rounded down to whole MiB.
Ceiling measure_ceiling(std::size_t bytes, cudaStream_t stream, int samples = 7);

// Launch floor: an empty kernel launched back to back in a graph, per launch.
struct Floor {
  double us = 0;        // the lower of the two
  double plain_us = 0;  // plain <<<>>> launches
  double pdl_us = 0;    // programmatic stream serialization, as kiln launches
};

Floor measure_floor(GraphTimer& timer, const TimingOptions& options);

// Fill `count` 16-bit values (bf16 if `bf16`, else fp16) with seeded normal(0, stddev)
// numbers, never zero (magnitudes below stddev/1024 are pushed out to it).
void fill_normal(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev, cudaStream_t stream);

}  // namespace kiln::measure
