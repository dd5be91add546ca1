// What kiln-bench runs: the kernels and their traffic, the buffer sets of a shape
// (rotated so the working set leaves L2, or one set), and a kiln plan's launches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_util.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "timing.h"

namespace kiln_bench {

inline const std::vector<std::string>& known_kernels() {
  static const std::vector<std::string> k = {"silu_mul_fp8", "rms_norm_fp8"};
  return k;
}

inline bool has_weight(const std::string& kernel) { return kernel == "rms_norm_fp8"; }

// Bytes of one launch's tensors (inputs and outputs are 16-bit and fp8).
struct TensorBytes {
  std::size_t input = 0, weight = 0, output = 0;
};
TensorBytes tensor_bytes(const std::string& kernel, int64_t hidden, int64_t tokens);

// The fewest bytes a launch must move: every input read once, every output written
// once, the scale read once.
double min_traffic_bytes(const std::string& kernel, int64_t hidden, int64_t tokens);

// Where a shape's buffer sets lie in the arena: `sets` copies of [input | weight |
// output], each part 256-byte aligned, `stride` bytes apart.
struct SetLayout {
  std::size_t input = 0, weight = 0, output = 0;  // offsets inside a set
  std::size_t stride = 0;
  int sets = 1;
  std::size_t working_set() const { return stride * static_cast<std::size_t>(sets); }
};

struct RotateOptions {
  bool enabled = false;
  double l2_factor = 4.0;  // working set >= this x L2
  int max_sets = 1024;     // a graph holds at least `sets` launches: bounds tiny shapes
};

SetLayout set_layout(const std::string& kernel, int64_t hidden, int64_t tokens, std::size_t l2_bytes,
                     const RotateOptions& rotate);

// Launches per graph for a shape: at least `launches`, a whole number of passes over the sets.
int graph_launches(int launches, int sets);

// Device memory for every shape of one (kernel, dtype): the largest working set,
// filled once with seeded normal(0, 1) values (never zero), and the fp8 scale.
class Arena {
 public:
  Arena(std::size_t bytes, kiln_dtype dtype, uint64_t seed, float scale, cudaStream_t stream);
  unsigned char* base() const { return memory_.at(0); }
  std::size_t size() const { return memory_.size(); }
  const float* scale() const { return static_cast<const float*>(scale_.get()); }
  // Fresh random inputs: the previous shape's fp8 outputs, read as bf16, would
  // be garbage (infinities, NaNs) that can change a kernel's speed.
  void refill(cudaStream_t stream) const;

 private:
  DeviceMemory memory_;
  DeviceMemory scale_;
  kiln_dtype dtype_;
  uint64_t seed_;
};

// kiln's launches for one shape: kiln_args for every buffer set, launch i uses set i % sets.
class KilnLaunches {
 public:
  KilnLaunches(const kiln::Plan& plan, const std::string& kernel, int64_t hidden, int64_t tokens, float eps,
               const Arena& arena, const SetLayout& layout);
  void operator()(int index, cudaStream_t stream) const;

 private:
  const kiln::Plan& plan_;
  std::vector<kiln_args> args_;
};

}  // namespace kiln_bench
