// The GPU side of a tuning run, behind one seam: what the device is, how a config set's
// candidates become a library, and what a worker process does with that library. The
// tool's own lab is the GPU (gpu_lab.cpp: the driver, nvcc, candidate libraries that a
// worker dlopens). The tuner's tests substitute a simulated lab (tests/kiln-tune/simulated_lab.cpp),
// so that no test double lives in the tool itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "build.h"
#include "candidates.h"
#include "measure/device.h"
#include "worker.h"

namespace kiln_tune {

// Why a bench command failed. The worker answers "bad <why>", or "broken <why>" and
// exits when Bench::broken() says the CUDA context is gone.
struct BenchFailure {
  std::string why;
};

struct ReplayTime {
  double median_us = 0, min_us = 0;  // per call
};

struct CopyCeiling {
  double gbps = 0, kernel_gbps = 0, memcpy_gbps = 0;  // bytes read + written per second
};

// One (kernel, hidden size) in a worker process: the rows of its candidate library's
// table. Every call throws BenchFailure when it fails.
class Bench {
 public:
  virtual ~Bench() = default;
  virtual int count() const = 0;  // candidates (table rows)
  // Candidate `row` against the CPU reference, on random data, at every check count.
  virtual void check(int row) = 0;
  // Candidate `row` at `tokens` as a server runs it: a CUDA graph of `launches` calls.
  virtual ReplayTime time(int row, int64_t tokens, int launches, int replays, double warmup_ms) = 0;
  virtual CopyCeiling ceiling(std::size_t bytes) = 0;  // a device-to-device copy of `bytes`
  virtual double floor_us() = 0;                       // an empty kernel launched as kiln launches
  // After a failure: whether the CUDA context is unusable (the worker must then exit).
  virtual bool broken() = 0;
};

class Lab {
 public:
  virtual ~Lab() = default;

  // The tuner process: device `index`, or nothing and why.
  virtual std::optional<kiln::measure::DeviceInfo> probe(int index, std::string& why) const = 0;
  // Non-empty when this lab's measurements are synthetic: says so in every config written,
  // and a run must then name a --configs folder (never the repository's).
  virtual std::string synthetic() const { return ""; }
  // The candidate library of a set, built in the background (or at once).
  virtual std::shared_future<BuiltSet> build(Builder& builder, const CandidateSet& set) const = 0;

  // A worker process: the bench its spec describes, or nothing and why.
  virtual std::unique_ptr<Bench> open(const WorkerSpec& spec, std::string& why) const = 0;
};

// kiln-tune's own lab: the GPU (gpu_lab.cpp).
const Lab& gpu_lab();

}  // namespace kiln_tune
