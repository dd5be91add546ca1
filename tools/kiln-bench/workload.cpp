// Shapes' traffic and buffer sets, the arena, and kiln launches: see workload.h.
#include "workload.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "device_kernels.h"

namespace kiln_bench {

namespace {

constexpr std::size_t kAlign = 256;
constexpr std::size_t kElement = 2;  // bf16 and fp16

std::size_t align_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

TensorBytes tensor_bytes(const std::string& kernel, int64_t hidden, int64_t tokens) {
  const auto h = static_cast<std::size_t>(hidden), t = static_cast<std::size_t>(tokens);
  TensorBytes b;
  if (kernel == "silu_mul_fp8") {
    b.input = t * 2 * h * kElement;
  } else {
    b.input = t * h * kElement;
    b.weight = h * kElement;
  }
  b.output = t * h;
  return b;
}

double min_traffic_bytes(const std::string& kernel, int64_t hidden, int64_t tokens) {
  const TensorBytes b = tensor_bytes(kernel, hidden, tokens);
  return static_cast<double>(b.input + b.weight + b.output + sizeof(float));
}

SetLayout set_layout(const std::string& kernel, int64_t hidden, int64_t tokens, std::size_t l2_bytes,
                     const RotateOptions& rotate) {
  const TensorBytes b = tensor_bytes(kernel, hidden, tokens);
  SetLayout l;
  l.input = 0;
  l.weight = align_up(b.input);
  l.output = l.weight + align_up(b.weight);
  l.stride = l.output + align_up(b.output);
  if (rotate.enabled) {
    const double target = rotate.l2_factor * static_cast<double>(l2_bytes);
    const double needed = std::ceil(target / static_cast<double>(l.stride));
    l.sets = static_cast<int>(std::clamp(needed, 1.0, static_cast<double>(std::max(1, rotate.max_sets))));
  }
  return l;
}

int graph_launches(int launches, int sets) {
  sets = std::max(1, sets);
  return sets * ((std::max(1, launches) + sets - 1) / sets);
}

Arena::Arena(std::size_t bytes, kiln_dtype dtype, uint64_t seed, float scale, cudaStream_t stream)
    : memory_(align_up(bytes)), scale_(sizeof(float)), dtype_(dtype), seed_(seed) {
  CUDA_CHECK(cudaMemcpyAsync(scale_.get(), &scale, sizeof scale, cudaMemcpyHostToDevice, stream));
  refill(stream);
}

void Arena::refill(cudaStream_t stream) const {
  CUDA_CHECK(device::launch_fill_normal(static_cast<uint16_t*>(memory_.get()), memory_.size() / kElement,
                                        dtype_ == KILN_DTYPE_BF16, seed_, 1.0f, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

KilnLaunches::KilnLaunches(const kiln::Plan& plan, const std::string& kernel, int64_t hidden, int64_t tokens,
                           float eps, const Arena& arena, const SetLayout& layout)
    : plan_(plan) {
  if (layout.working_set() > arena.size())
    throw std::logic_error("kiln-bench: the arena is smaller than the shape's working set");
  for (int s = 0; s < layout.sets; ++s) {
    unsigned char* set = arena.base() + static_cast<std::size_t>(s) * layout.stride;
    kiln_args a;
    kiln_args_init(&a);
    a.input = set + layout.input;
    a.weight = has_weight(kernel) ? set + layout.weight : nullptr;
    a.output = set + layout.output;
    a.scale = arena.scale();
    a.tokens = tokens;
    a.hidden = hidden;
    a.eps = eps;
    args_.push_back(a);
  }
}

void KilnLaunches::operator()(int index, cudaStream_t stream) const {
  plan_.launch(args_[static_cast<std::size_t>(index) % args_.size()], stream);
}

}  // namespace kiln_bench
