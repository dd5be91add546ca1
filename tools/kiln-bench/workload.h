// What kiln-bench runs, learnt from the library it links (kiln_kernel_count/at): the
// kernels and their tensors by role, the buffer sets of a shape (rotated so the working
// set leaves L2, or one set), their contents, and a plan's launches. No kernel is named
// here: a kernel added to the library is benchmarked as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "measure/cuda.h"
#include "measure/timing.h"

namespace kiln_bench {

// A kernel of the linked library, as it describes itself.
struct Kernel {
  std::string name;
  kiln_kernel_desc desc{};  // its tensors live as long as the library
  // desc's tensors without the optional ones (a scale_ub role): kiln-bench
  // measures the common call, which leaves them NULL.
  std::vector<kiln_tensor_desc> launched;

  std::span<const kiln_tensor_desc> tensors() const { return launched; }
  bool has_option(uint32_t option) const { return (desc.options & option) != 0; }
  bool reads_eps() const { return (desc.scalars & KILN_SCALAR_EPS) != 0; }
  bool writes_an_input() const;  // some tensor is in-out (written over in place)
};

// Every kernel of the library that runs on one GPU, in its order (sorted by name);
// communicator kernels are kiln-bench-comm's.
std::vector<Kernel> library_kernels();
// "<kernel>, <kernel>, ...", as the library lists them.
std::string kernel_names(const std::vector<Kernel>& kernels);

// Bytes of one tensor of a launch of `tokens` rows (the buffer layout; the traffic a
// launch must move is kiln_min_bytes's).
std::size_t tensor_bytes(const kiln_tensor_desc& tensor, int64_t hidden, int64_t tokens);
// kiln_min_bytes: each input read once, each output written once, in-out tensors both.
double min_bytes(const Kernel& kernel, kiln_dtype dtype, int64_t hidden, int64_t tokens);

// Where a shape's buffer sets lie in the arena: `sets` copies of the kernel's tensors
// (descriptor order), each 256-byte aligned, `stride` bytes apart.
struct SetLayout {
  std::vector<std::size_t> offsets;  // per tensor, inside a set
  std::size_t stride = 0;
  int sets = 1;
  std::size_t working_set() const { return stride * static_cast<std::size_t>(sets); }
};

struct RotateOptions {
  bool enabled = false;
  double l2_factor = 4.0;  // working set >= this x L2
  int max_sets = 1024;     // a graph holds at least `sets` launches: bounds tiny shapes
};

SetLayout set_layout(const Kernel& kernel, int64_t hidden, int64_t tokens, std::size_t l2_bytes,
                     const RotateOptions& rotate);

// Launches per graph for a shape: at least `launches`, a whole number of passes over the sets.
int graph_launches(int launches, int sets);

// What the inputs hold.
struct Contents {
  kiln_dtype dtype = KILN_DTYPE_BF16;
  uint64_t seed = 1;
  float scale = 0.1f;  // the per-tensor scale (KILN_ROLE_SCALE)
};

// Device memory for every shape of one (kernel, dtype): the largest working set.
class Arena {
 public:
  explicit Arena(std::size_t bytes);
  unsigned char* base() const { return memory_.at(0); }
  std::size_t size() const { return memory_.size(); }

 private:
  kiln::measure::DeviceMemory memory_;
};

// One shape's buffer sets in an arena, and what they hold.
class BufferSets {
 public:
  BufferSets(const Kernel& kernel, int64_t hidden, int64_t tokens, const SetLayout& layout, const Arena& arena,
             const Contents& contents);

  // Every input of every set: activations (and weights, residuals) seeded normal(0, 1),
  // never zero, the same values each time; the per-tensor scale; outputs left alone.
  void fill_inputs(cudaStream_t stream) const;
  // The in-out tensors only, back to their filled values: what a kernel that writes
  // over its inputs needs before every replay (see main.cpp). Nothing for other kernels.
  void reset_written_inputs(cudaStream_t stream) const;
  // How many values of the tensors the kernel writes are NaN or infinite, in all sets.
  uint64_t count_nonfinite(cudaStream_t stream) const;

  void* tensor(int set, std::size_t index) const;
  const Kernel& kernel() const { return kernel_; }
  const SetLayout& layout() const { return layout_; }
  kiln_dtype dtype() const { return contents_.dtype; }

 private:
  void fill(cudaStream_t stream, bool written_only) const;

  const Kernel& kernel_;
  int64_t hidden_, tokens_;
  SetLayout layout_;
  unsigned char* base_;
  Contents contents_;
  kiln::measure::DeviceMemory counter_;  // count_nonfinite's device counter
};

// A plan's launches for one shape: kiln_args by role for every buffer set; launch i
// uses set i % sets.
class KilnLaunches {
 public:
  KilnLaunches(const kiln::Plan& plan, const BufferSets& buffers, int64_t hidden, int64_t tokens, float eps);
  void operator()(int index, cudaStream_t stream) const;

 private:
  const kiln::Plan& plan_;
  std::vector<kiln_args> args_;
};

}  // namespace kiln_bench
