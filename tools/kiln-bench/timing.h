// How kiln-bench times things (DESIGN.md, "Measuring"): N back-to-back launches
// captured in one CUDA graph on a non-default stream, warmed up, then R replays each
// timed with events; per-call time = median replay time / N. Plus the two reference
// points of a run: the device-to-device copy ceiling and the empty-kernel floor.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "cuda_util.h"

namespace kiln_bench {

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

class GraphTimer {
 public:
  explicit GraphTimer(cudaStream_t stream);
  GraphTimer(const GraphTimer&) = delete;
  GraphTimer& operator=(const GraphTimer&) = delete;
  ~GraphTimer();

  // Run `enqueue` once outside a graph (module loading, early errors), then capture
  // `launches` calls into a graph and time its replays.
  Timing time(const Enqueue& enqueue, int launches, const TimingOptions& options);

  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
  int* host_flags_ = nullptr;  // [0]: gate open, [1]: gate timed out (host-mapped)
  int* device_flags_ = nullptr;
  std::vector<Event> starts_, stops_;
};

struct DeviceInfo {
  int index = 0;
  std::string name;            // "NVIDIA H100 80GB HBM3"
  std::string arch;            // "sm90"
  int sms = 0;
  std::size_t l2_bytes = 0;
  std::size_t memory_bytes = 0;
  std::string driver;          // "580.65.06" (kernel module), or "unknown"
  std::string cuda_driver;     // "13.0": the CUDA version the driver supports
  std::string cuda_runtime;    // "13.0": the runtime kiln-bench is linked with
  std::string date;            // "2025-06-01 12:34 UTC"
};

DeviceInfo query_device(int index);

// Bandwidth ceiling: bytes read + written per second by a large device-to-device copy.
struct Ceiling {
  double gbps = 0;          // the faster of the two below (GB = 1e9 bytes)
  double kernel_gbps = 0;   // best copy-kernel configuration
  double memcpy_gbps = 0;   // cudaMemcpyAsync outside a graph
  std::string kernel_config;  // "512 threads x 264 CTAs, streaming"
  std::size_t bytes = 0;    // bytes copied (read once, written once)
  int samples = 0;          // median of this many
};

Ceiling measure_ceiling(std::size_t bytes, const DeviceInfo& device, cudaStream_t stream, int samples = 7);

// Launch floor: an empty kernel launched back to back in a graph, per launch.
struct Floor {
  double us = 0;        // the lower of the two
  double plain_us = 0;  // plain <<<>>> launches
  double pdl_us = 0;    // programmatic stream serialization, as kiln launches
};

Floor measure_floor(GraphTimer& timer, const TimingOptions& options);

double median(std::vector<double> values);

}  // namespace kiln_bench
