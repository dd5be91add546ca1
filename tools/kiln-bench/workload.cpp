// Kernels, buffer sets and launches, all from the library's descriptors: see workload.h.
#include "workload.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "device_kernels.h"

namespace kiln_bench {

namespace {

constexpr std::size_t kAlign = 256;

std::size_t align_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

bool is_written(const kiln_tensor_desc& t) { return t.direction != KILN_DIR_IN; }
bool is_read(const kiln_tensor_desc& t) { return t.direction != KILN_DIR_OUT; }

// One seed per (set, tensor): every buffer holds its own values, the same ones each fill.
uint64_t seed_of(uint64_t seed, int set, std::size_t tensor) {
  return seed * 1000003u + static_cast<uint64_t>(set) * 1009u + tensor;
}

}  // namespace

bool Kernel::writes_an_input() const {
  return std::any_of(tensors().begin(), tensors().end(),
                     [](const kiln_tensor_desc& t) { return t.direction == KILN_DIR_INOUT; });
}

std::vector<Kernel> library_kernels() {
  std::vector<Kernel> out;
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    Kernel k;
    k.desc.struct_size = sizeof k.desc;
    kiln::check(kiln_kernel_at(i, &k.desc));
    k.name = k.desc.name;
    for (int32_t t = 0; t < k.desc.tensor_count; ++t)
      if (!k.desc.tensors[t].optional) k.launched.push_back(k.desc.tensors[t]);
    // A communicator kernel runs on every rank at once: kiln-bench-comm measures it.
    if (k.has_option(KILN_OPTION_COMM)) continue;
    out.push_back(k);
  }
  return out;
}

std::string kernel_names(const std::vector<Kernel>& kernels) {
  std::string s;
  for (const Kernel& k : kernels) s += (s.empty() ? "" : ", ") + k.name;
  return s;
}

std::size_t tensor_bytes(const kiln_tensor_desc& t, int64_t hidden, int64_t tokens) {
  int64_t rows = 0, cols = 0, elem = 0;
  kiln::check(kiln_tensor_shape(&t, hidden, tokens, &rows, &cols, &elem));
  // Per-group scales: room for every group size and layout (groups of 64, T padded to 4),
  // so one buffer serves whichever options the plan has.
  if (t.cols == KILN_EXTENT_GROUPS) return static_cast<std::size_t>((tokens + 3) / 4 * 4 * ((hidden + 63) / 64) * elem);
  return static_cast<std::size_t>(rows * cols * elem);
}

static std::size_t element_bytes(const kiln_tensor_desc& t) {
  int64_t rows = 0, cols = 0, elem = 0;
  kiln::check(kiln_tensor_shape(&t, 1, 1, &rows, &cols, &elem));
  return static_cast<std::size_t>(elem);
}

double min_bytes(const Kernel& kernel, kiln_dtype dtype, int64_t hidden, int64_t tokens) {
  int64_t bytes = 0;
  kiln::check(kiln_min_bytes(kernel.name.c_str(), dtype, hidden, tokens, &bytes));
  return static_cast<double>(bytes);
}

SetLayout set_layout(const Kernel& kernel, int64_t hidden, int64_t tokens, std::size_t l2_bytes,
                     const RotateOptions& rotate) {
  SetLayout l;
  for (const kiln_tensor_desc& t : kernel.tensors()) {
    l.offsets.push_back(l.stride);
    l.stride += align_up(tensor_bytes(t, hidden, tokens));
  }
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

Arena::Arena(std::size_t bytes) : memory_(align_up(std::max<std::size_t>(bytes, 1))) {}

BufferSets::BufferSets(const Kernel& kernel, int64_t hidden, int64_t tokens, const SetLayout& layout,
                       const Arena& arena, const Contents& contents)
    : kernel_(kernel), hidden_(hidden), tokens_(tokens), layout_(layout), base_(arena.base()), contents_(contents),
      counter_(sizeof(unsigned long long)) {
  if (layout.working_set() > arena.size())
    throw std::logic_error("kiln-bench: the arena is smaller than the shape's working set");
}

void* BufferSets::tensor(int set, std::size_t index) const {
  return base_ + static_cast<std::size_t>(set) * layout_.stride + layout_.offsets.at(index);
}

void BufferSets::fill(cudaStream_t stream, bool written_only) const {
  const auto tensors = kernel_.tensors();
  for (int s = 0; s < layout_.sets; ++s) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const kiln_tensor_desc& t = tensors[i];
      if (!is_read(t) || (written_only && !is_written(t))) continue;
      void* p = tensor(s, i);
      const std::size_t bytes = tensor_bytes(t, hidden_, tokens_);
      if (t.role == KILN_ROLE_SCALE && t.elem == KILN_ELEM_F32 && bytes == sizeof(float)) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(p, &contents_.scale, sizeof(float), cudaMemcpyHostToDevice, stream));
      } else if (t.elem == KILN_ELEM_ACTIVATION) {
        kiln::measure::fill_normal(static_cast<uint16_t*>(p), bytes / 2, contents_.dtype == KILN_DTYPE_BF16,
                                   seed_of(contents_.seed, s, i), 1.0f, stream);
      } else {
        throw std::runtime_error(kernel_.name + ": kiln-bench does not know what to put into " + t.name +
                                 " (an input that is neither activations nor the per-tensor scale)");
      }
    }
  }
}

void BufferSets::fill_inputs(cudaStream_t stream) const {
  fill(stream, false);
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
}

// Runs between gated replays (measure::GraphTimer): kernels only, nothing that waits on
// the stream (a pageable host copy would).
void BufferSets::reset_written_inputs(cudaStream_t stream) const {
  if (kernel_.writes_an_input()) fill(stream, true);
}

uint64_t BufferSets::count_nonfinite(cudaStream_t stream) const {
  auto* counter = static_cast<unsigned long long*>(counter_.get());
  KILN_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof *counter, stream));
  const auto tensors = kernel_.tensors();
  for (int s = 0; s < layout_.sets; ++s) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const kiln_tensor_desc& t = tensors[i];
      // Group scales are skipped: their layout (packed exponent bytes, padded columns) is
      // the plan's, and the fp8 output they scale is counted.
      if (!is_written(t) || t.elem == KILN_ELEM_I32 || t.cols == KILN_EXTENT_GROUPS) continue;
      const std::size_t bytes = tensor_bytes(t, hidden_, tokens_);
      const auto values = t.elem == KILN_ELEM_ACTIVATION ? device::Values::half16
                          : t.elem == KILN_ELEM_FP8_E4M3 ? device::Values::fp8_e4m3
                                                         : device::Values::f32;
      KILN_CUDA_CHECK(device::count_nonfinite(tensor(s, i), bytes / element_bytes(t), values,
                                              contents_.dtype == KILN_DTYPE_BF16, counter, stream));
    }
  }
  unsigned long long n = 0;
  KILN_CUDA_CHECK(cudaMemcpyAsync(&n, counter, sizeof n, cudaMemcpyDeviceToHost, stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
  return n;
}

KilnLaunches::KilnLaunches(const kiln::Plan& plan, const BufferSets& buffers, int64_t hidden, int64_t tokens,
                           float eps)
    : plan_(plan) {
  const auto tensors = buffers.kernel().tensors();
  for (int s = 0; s < buffers.layout().sets; ++s) {
    kiln_args a;
    kiln_args_init(&a);
    a.dtype = buffers.dtype();
    a.tokens = tokens;
    a.hidden = hidden;
    for (std::size_t i = 0; i < tensors.size(); ++i) a.tensors[tensors[i].role] = buffers.tensor(s, i);
    if (buffers.kernel().reads_eps()) a.eps = eps;
    args_.push_back(a);
  }
}

void KilnLaunches::operator()(int index, cudaStream_t stream) const {
  plan_.launch(args_[static_cast<std::size_t>(index) % args_.size()], stream);
}

}  // namespace kiln_bench
