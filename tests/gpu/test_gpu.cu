// GPU tests, driven by the kernel registry: every kernel of the library (kiln_kernel_at),
// every config set compiled in for the device, and the generic kernel at odd sizes and
// alignments, against the CPU reference (reference/include/kiln_ref) on random data, in
// bf16 and fp16, with every plan option the kernel has. Before each launch the outputs
// are poisoned and poisoned guard bytes surround every tensor; after it, every tensor the
// kernel writes must match the reference, every guard byte must be intact and every
// tensor it only reads must be unchanged. Also: CUDA-graph replay with inputs and scale
// changed in place; a PDL predecessor that writes the inputs late; launches from several
// threads; plan choices; the status of every bad launch argument (roles, null,
// alignment, aliasing, device). No kernel is named here: a kernel added to the registry
// gets every case. Group quantisers (KILN_OPTION_GROUP) also get every group size, scale
// layout and UE8M0 choice, their scales allocated as kiln_tensor_layout_of says, with special
// rows (zeros, NaN, +-inf, huge and tiny values), and every byte of the scales' span the layout
// does not write checked untouched. Every test that needs a GPU skips cleanly without one.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "kiln_ref/reference.h"
#include "gpu_test.h"
#include "late_writer.cuh"
#include "internal.h"
#include "tables.h"

namespace ref = kiln::ref;
using ref::DType;

namespace {

using kiln::test::device_count;
using kiln::test::has_gpu;

std::string device_arch() {
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  return "sm" + std::to_string(major * 10 + minor);
}

// ---- the registry ---------------------------------------------------------------------

// KILN_TEST_KERNELS=a,b limits the cases to those kernels (a quick check of a kernel
// being worked on); unset, as in CI and for results, every kernel runs.
bool selected(const std::string& kernel) {
  const char* env = std::getenv("KILN_TEST_KERNELS");
  if (env == nullptr || *env == '\0') return true;
  const std::string list = "," + std::string(env) + ",";
  return list.find("," + kernel + ",") != std::string::npos;
}

// The kernels of the library that run on one GPU. Communicator kernels (KILN_OPTION_COMM)
// need every rank of a communicator at once: tests/gpu/test_comm.cu covers them.
std::vector<kiln_kernel_desc> registry(bool all = false) {
  std::vector<kiln_kernel_desc> out;
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    if (kiln_kernel_at(i, &d) == KILN_SUCCESS && !(d.options & KILN_OPTION_COMM) && (all || selected(d.name)))
      out.push_back(d);
  }
  return out;
}

kiln_kernel_desc find_kernel(const std::string& name) {
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  kiln_kernel_find(name.c_str(), &d);
  return d;
}

const kiln_tensor_desc* tensor_for(const kiln_kernel_desc& k, int role) {
  for (int32_t i = 0; i < k.tensor_count; ++i)
    if (k.tensors[i].role == role) return &k.tensors[i];
  return nullptr;
}

bool writes(const kiln_tensor_desc& t) { return t.direction != KILN_DIR_IN; }

bool has_inout(const kiln_kernel_desc& k) {
  for (int32_t i = 0; i < k.tensor_count; ++i)
    if (k.tensors[i].direction == KILN_DIR_INOUT) return true;
  return false;
}

// A plan's options. rounding and gemma change the result: every combination a kernel
// has is tested. static_weight only lets the weight load before the PDL wait: it is
// tested once, on top of the richest combination.
// The group options (group_size, scale_layout, ue8m0) are the plan's defaults here; the
// group tests below go through every combination (group_combos).
struct Options {
  ref::Rounding rounding = ref::Rounding::single;
  bool gemma = false;
  bool static_weight = false;
  int32_t group_size = 0;  // the plan's: 0 is 128
  kiln_scale_layout scale_layout = KILN_SCALES_ROW_MAJOR;
  bool ue8m0 = false;
  bool is_default() const {
    return rounding == ref::Rounding::single && !gemma && !static_weight && group_size == 0 &&
           scale_layout == KILN_SCALES_ROW_MAJOR && !ue8m0;
  }
};

// The option bits these tests exercise; a kernel with another fails EveryKernelIsCovered.
constexpr uint32_t kKnownOptions = KILN_OPTION_ROUNDING | KILN_OPTION_GEMMA | KILN_OPTION_STATIC_WEIGHT | KILN_OPTION_GROUP;

bool has_groups(const kiln_kernel_desc& k) { return (k.options & KILN_OPTION_GROUP) != 0; }

// Every group size, scale layout and UE8M0 choice (the packed layout with ue8m0 = 0 too: it
// is taken as 1).
struct GroupChoice {
  int32_t group_size;
  kiln_scale_layout layout;
  bool ue8m0;
};
std::vector<GroupChoice> group_combos() {
  std::vector<GroupChoice> out;
  for (int32_t g : {64, 128})
    for (kiln_scale_layout l : {KILN_SCALES_ROW_MAJOR, KILN_SCALES_COL_MAJOR_TMA, KILN_SCALES_PACKED_UE8M0})
      for (bool ue8m0 : {false, true}) out.push_back({g, l, ue8m0});
  return out;
}
Options with_group(Options o, const GroupChoice& g) {
  o.group_size = g.group_size;
  o.scale_layout = g.layout;
  o.ue8m0 = g.ue8m0;
  return o;
}

std::vector<Options> option_sets(const kiln_kernel_desc& k) {
  std::vector<Options> out;
  for (ref::Rounding r : {ref::Rounding::single, ref::Rounding::vllm}) {
    if (r == ref::Rounding::vllm && !(k.options & KILN_OPTION_ROUNDING)) continue;
    for (bool g : {false, true}) {
      if (g && !(k.options & KILN_OPTION_GEMMA)) continue;
      out.push_back({r, g, false});
    }
  }
  if (k.options & KILN_OPTION_STATIC_WEIGHT) {
    Options o = out.back();
    o.static_weight = true;
    out.push_back(o);
  }
  return out;
}
Options richest(const kiln_kernel_desc& k) { return option_sets(k).back(); }

kiln_dtype api_dtype(DType d) { return d == DType::bf16 ? KILN_DTYPE_BF16 : KILN_DTYPE_FP16; }

// ---- the config sets compiled in for this device --------------------------------------

struct SetInfo {
  std::string kernel;
  int64_t hidden;
  std::vector<int64_t> thresholds;
  std::vector<const kiln::detail::Variant*> instances;  // one per distinct instance, in threshold order
};

std::vector<SetInfo> sets_for_device() {
  std::vector<SetInfo> sets;
  const kiln::detail::ArchTable* table = kiln::runtime::find_table(device_arch());
  for (size_t i = 0; table && i < table->count; ++i) {
    const auto& r = table->rows[i];
    if (!selected(r.kernel) || r.ranks > 0) continue;  // communicator kernels' sets: test_comm
    if (sets.empty() || sets.back().kernel != r.kernel || sets.back().hidden != r.hidden) sets.push_back({r.kernel, r.hidden, {}, {}});
    SetInfo& set = sets.back();
    set.thresholds.push_back(r.threshold);
    // Thresholds with one schedule share their first threshold's instance (and launcher).
    if (std::none_of(set.instances.begin(), set.instances.end(), [&](const auto* v) { return v->launch == r.launch; }))
      set.instances.push_back(&r);
  }
  return sets;
}

bool has_set(const std::string& kernel, int64_t hidden) {
  for (const SetInfo& s : sets_for_device())
    if (s.kernel == kernel && s.hidden == hidden) return true;
  return false;
}

// The hidden size of the kernel's first set on this device, if it has one.
std::optional<int64_t> tuned_hidden(const std::string& kernel) {
  for (const SetInfo& s : sets_for_device())
    if (s.kernel == kernel) return s.hidden;
  return std::nullopt;
}

// A hidden size without a set for the kernel, from `from` up.
int64_t untuned_hidden(const std::string& kernel, int64_t from) {
  while (has_set(kernel, from)) ++from;
  return from;
}

// ---- device memory, plans ---------------------------------------------------------------

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t n) : bytes(n) {
    if (cudaMalloc(&ptr, n) != cudaSuccess) ptr = nullptr;
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  unsigned char* at(size_t offset) const { return static_cast<unsigned char*>(ptr) + offset; }
};

struct PlanPtr {
  kiln_plan* p = nullptr;
  PlanPtr() = default;
  PlanPtr(PlanPtr&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
  PlanPtr(const PlanPtr&) = delete;
  ~PlanPtr() { kiln_plan_destroy(p); }
};

kiln_status make_plan(PlanPtr& out, const std::string& kernel, int64_t hidden, DType dtype,
                      kiln_set_policy policy = KILN_SET_EXACT, Options options = {}, int32_t device = -1) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel.c_str();
  o.hidden = hidden;
  o.dtype = api_dtype(dtype);
  o.policy = policy;
  o.rounding = options.rounding == ref::Rounding::vllm ? KILN_ROUNDING_VLLM : KILN_ROUNDING_SINGLE;
  o.gemma = options.gemma ? 1 : 0;
  o.static_weight = options.static_weight ? 1 : 0;
  o.group_size = options.group_size;
  o.scale_layout = options.scale_layout;
  o.ue8m0 = options.ue8m0 ? 1 : 0;
  o.device = device;
  return kiln_plan_create(&o, &out.p);
}

kiln_variant_info describe(const kiln_plan* plan, int64_t tokens) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  EXPECT_EQ(kiln_plan_describe(plan, tokens, &info), KILN_SUCCESS) << kiln_last_error();
  return info;
}

// ---- one launch's tensors -------------------------------------------------------------

constexpr uint8_t kPoison = 0x7f;  // fp8 NaN, fp16 NaN, bf16 3.4e38: no finite input gives it
constexpr size_t kGuard = 256;     // poisoned bytes before and after every tensor

float random_eps(std::mt19937_64& rng) { return std::uniform_real_distribution<float>(1e-6f, 1e-5f)(rng); }

// The values a tensor the kernel reads is filled with, by role.
std::pair<float, float> value_range(int role, bool gemma) {
  switch (role) {
    case KILN_ROLE_INPUT: return {-6.0f, 6.0f};
    case KILN_ROLE_RESIDUAL: return {-3.0f, 3.0f};
    case KILN_ROLE_WEIGHT: return gemma ? std::pair{-0.75f, 0.75f} : std::pair{0.25f, 1.75f};  // w' in [0.25, 1.75]
    case KILN_ROLE_SCALE: return {0.004f, 0.5f};  // outputs span the fp8 range; some saturate
    case KILN_ROLE_SCALE_UB: return {0.5f, 8.0f};  // a cap on max|x| (inputs reach 6): some rows capped, some not
    default: return {-1.0f, 1.0f};
  }
}

// The bytes a caller allocates for a tensor under the plan's options: kiln_tensor_layout_of's
// span, as vLLM sizes a group quantiser's scales (torch.empty_strided). It must agree with
// the reference's reading of the contract (ref::tensor_layout): a failure here, and the
// reference's span is used.
size_t allocation_bytes(const kiln_kernel_desc& k, const kiln_tensor_desc& t, DType d, int64_t hidden, int64_t tokens,
                        const Options& o) {
  const ref::TensorLayout want = ref::tensor_layout(t, ref::is_group_scales(k, t), tokens, hidden, o.group_size, o.scale_layout);
  kiln_plan_options po;
  kiln_plan_options_init(&po);
  po.kernel = k.name;
  po.hidden = hidden;
  po.dtype = api_dtype(d);
  po.group_size = o.group_size;
  po.scale_layout = o.scale_layout;
  po.ue8m0 = o.ue8m0 ? 1 : 0;
  kiln_tensor_layout got{};
  got.struct_size = sizeof got;
  const kiln_status status = kiln_tensor_layout_of(&t, &po, tokens, &got);
  if (status != KILN_SUCCESS) {
    ADD_FAILURE() << k.name << " " << t.name << ": kiln_tensor_layout_of: status " << status << ": " << kiln_last_error();
  } else if (got.elements != want.elements || got.elem_bytes != want.elem_bytes) {
    ADD_FAILURE() << k.name << " " << t.name << " hidden=" << hidden << " tokens=" << tokens << " group=" << o.group_size
                  << " layout=" << o.scale_layout << ": kiln_tensor_layout_of spans " << got.elements << " x " << got.elem_bytes
                  << " bytes, the contract " << want.elements << " x " << want.elem_bytes;
  } else {
    return static_cast<size_t>(got.elements * got.elem_bytes);
  }
  return static_cast<size_t>(want.bytes());
}

// Every tensor of one launch of a kernel, from its descriptor: the host copy (what the
// launch is given: random inputs, poisoned outputs) and a device buffer holding it
// between poisoned guards, `misalign` bytes past 16-byte alignment when asked (one
// element: the generic kernel's case). A group quantiser's scales take the span of the
// layout `options` choose (their group fields are the workspace's).
class Workspace {
 public:
  Workspace(const kiln_kernel_desc& k, DType d, int64_t hidden, int64_t tokens, bool misalign = false, Options options = {})
      : kernel_(k), dtype_(d), hidden_(hidden), tokens_(tokens), options_(options) {
    for (int32_t i = 0; i < k.tensor_count; ++i) {
      const kiln_tensor_desc& t = k.tensors[i];
      Slot& s = slots_[t.role];
      s.desc = &t;
      s.bytes = ref::is_group_scales(k, t) ? allocation_bytes(k, t, d, hidden, tokens, options)
                                           : ref::tensor_bytes(t, tokens, hidden);
      s.offset = kGuard + (misalign ? ref::elem_bytes(t.elem) : 0);
      s.buffer = std::make_unique<DeviceBuffer>(s.offset + s.bytes + kGuard);
      s.host.assign(s.bytes, kPoison);
    }
  }

  // Leave the optional tensors out (NULL in the launch and the reference), as a caller
  // without them does.
  void omit_optional() {
    for (Slot& s : slots_)
      if (s.desc && s.desc->optional) s = Slot{};
  }

  bool allocated() const {
    for (const Slot& s : slots_)
      if (s.desc && s.buffer->ptr == nullptr) return false;
    return true;
  }

  // New random values in every tensor the kernel reads; outputs poisoned.
  void randomise(std::mt19937_64& rng, bool gemma) {
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      Slot& s = slots_[role];
      if (!s.desc) continue;
      if (s.desc->direction == KILN_DIR_OUT) {
        std::fill(s.host.begin(), s.host.end(), kPoison);
        continue;
      }
      fill(s, rng(), value_range(role, gemma));
    }
  }

  // Special rows in what the kernel reads (after randomise): zeros, a group of zeros, NaN and
  // +-inf, huge values (the dtype's largest for x alone; for a norm or a product, the most
  // that keeps fp32 sums of squares and products finite, as the double reference assumes),
  // tiny ones (a group amax below the 1e-10 floor in bf16). Row i % T for the i-th: with few
  // tokens the later ones overwrite the earlier. A kernel with gate and up halves ([T, 2H])
  // gets NaN in a, the infinities and zeros in b, huge values in both (a > 0: silu(a) = a).
  void add_special_rows() {
    Slot& in = slots_[KILN_ROLE_INPUT];
    if (!in.desc || tokens_ == 0 || hidden_ == 0) return;
    const bool halves = in.desc->cols == KILN_EXTENT_2HIDDEN;
    const bool norm = slots_[KILN_ROLE_WEIGHT].desc != nullptr;
    const int64_t H = hidden_, W = halves ? 2 * H : H;
    const int64_t g = options_.group_size ? options_.group_size : 128;
    const bool bf16 = dtype_ == DType::bf16;
    const uint16_t nan = bf16 ? 0x7fc0 : 0x7e00, inf = bf16 ? 0x7f80 : 0x7c00, largest = bf16 ? 0x7f7f : 0x7bff;
    const uint16_t tiny = bf16 ? ref::from_float(dtype_, 1e-12f) : uint16_t{0x0001};
    const uint16_t huge = !norm && !halves ? largest : ref::from_float(dtype_, bf16 ? 1e15f : 30000.0f);
    auto put = [&](int64_t row, int64_t col, uint16_t v) {
      std::memcpy(in.host.data() + static_cast<size_t>(row * W + col) * 2, &v, 2);
    };
    auto zero_residual = [&](int64_t row, int64_t from, int64_t to) {
      Slot& r = slots_[KILN_ROLE_RESIDUAL];
      if (r.desc) std::memset(r.host.data() + static_cast<size_t>(row * H + from) * 2, 0, static_cast<size_t>(to - from) * 2);
    };
    const int64_t b = halves ? H : 0;  // where the values that reach y unscaled start (b of a * b)
    int64_t row = 0 % tokens_;          // 0: zeros
    for (int64_t c = 0; c < W; ++c) put(row, c, 0);
    zero_residual(row, 0, H);
    row = 1 % tokens_;  // 1: the first group zero
    for (int64_t c = 0; c < std::min(g, H); ++c) put(row, b + c, 0);
    if (!halves) zero_residual(row, 0, std::min(g, H));
    row = 2 % tokens_;  // 2: NaN, +inf in the second group (where there is one), -inf last
    put(row, 0, nan);
    put(row, b + std::min(H - 1, g + 3), inf);
    put(row, b + H - 1, static_cast<uint16_t>(inf | 0x8000));
    row = 3 % tokens_;  // 3: huge values, every fifth column, alternating signs
    for (int64_t c = 0; c < H; c += 5) {
      if (halves) put(row, c, huge);
      put(row, b + c, (c / 5) % 2 ? static_cast<uint16_t>(huge | 0x8000) : huge);
    }
    row = 4 % tokens_;  // 4: tiny values
    for (int64_t c = 0; c < W; ++c) put(row, c, (c % 2) ? static_cast<uint16_t>(tiny | 0x8000) : tiny);
  }

  // Every buffer poisoned, every tensor written from its host copy, in `stream`, which
  // is then synchronised (a pageable copy may return before it lands; launches may go
  // to another, non-blocking stream).
  std::string upload(cudaStream_t stream = nullptr) const {
    for (const Slot& s : slots_) {
      if (!s.desc) continue;
      if (cudaMemsetAsync(s.buffer->ptr, kPoison, s.buffer->bytes, stream) != cudaSuccess) return "cudaMemsetAsync failed";
      if (cudaMemcpyAsync(s.buffer->at(s.offset), s.host.data(), s.bytes, cudaMemcpyHostToDevice, stream) != cudaSuccess)
        return "cudaMemcpyAsync to the device failed";
    }
    const cudaError_t err = cudaStreamSynchronize(stream);
    return err == cudaSuccess ? "" : std::string("upload: ") + cudaGetErrorString(err);
  }

  // The in-out tensors' device values become their host copies (the next launch's inputs).
  std::string pull_inout(cudaStream_t stream = nullptr) {
    for (Slot& s : slots_)
      if (s.desc && s.desc->direction == KILN_DIR_INOUT &&
          cudaMemcpyAsync(s.host.data(), s.buffer->at(s.offset), s.bytes, cudaMemcpyDeviceToHost, stream) != cudaSuccess)
        return "cudaMemcpyAsync from the device failed";
    const cudaError_t err = cudaStreamSynchronize(stream);
    return err == cudaSuccess ? "" : std::string("pull: ") + cudaGetErrorString(err);
  }

  void* device(int role) const { return slots_[role].desc ? slots_[role].buffer->at(slots_[role].offset) : nullptr; }
  size_t bytes(int role) const { return slots_[role].bytes; }
  const std::vector<uint8_t>& host(int role) const { return slots_[role].host; }

  kiln_args args(float eps) const {
    kiln_args a;
    kiln_args_init(&a);
    a.dtype = api_dtype(dtype_);
    a.tokens = tokens_;
    a.hidden = hidden_;
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) a.tensors[role] = device(role);
    a.eps = eps;
    return a;
  }

  // What the reference needs: the options and the host copies of what the kernel reads
  // (the group options: the workspace's, which sized the scales), and a group quantiser's
  // scales as poisoned before the launch (the bytes its layout does not write must stay so).
  ref::Problem problem(float eps, Options o) const {
    ref::Problem p;
    p.kernel = kernel_.name;
    p.dtype = dtype_;
    p.tokens = tokens_;
    p.hidden = hidden_;
    p.eps = eps;
    p.rounding = o.rounding;
    p.gemma = o.gemma;
    p.group_size = options_.group_size ? options_.group_size : 128;
    p.scale_layout = options_.scale_layout;
    p.ue8m0 = options_.ue8m0;
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      const Slot& s = slots_[role];
      if (s.desc && (s.desc->direction != KILN_DIR_OUT || ref::is_group_scales(kernel_, *s.desc))) p.inputs[role] = s.host.data();
    }
    return p;
  }

  // Every buffer back from the device (in `stream`, after the launch in it): guards
  // intact, then ref::check of every tensor (written ones against `want`, read-only
  // ones unchanged). "" when right.
  std::string check(const ref::Problem& p, const ref::Expected& want, cudaStream_t stream = nullptr) const {
    std::string report;
    ref::Tensors got{};
    std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> copies;
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      const Slot& s = slots_[role];
      if (!s.desc) continue;
      copies[role].resize(s.buffer->bytes);
      if (cudaMemcpyAsync(copies[role].data(), s.buffer->ptr, s.buffer->bytes, cudaMemcpyDeviceToHost, stream) != cudaSuccess)
        return "cudaMemcpyAsync back failed";
    }
    if (const cudaError_t err = cudaStreamSynchronize(stream); err != cudaSuccess)
      return std::string("copy back: ") + cudaGetErrorString(err);
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      const Slot& s = slots_[role];
      if (!s.desc) continue;
      const std::vector<uint8_t>& c = copies[role];
      size_t before = 0, after = 0, nearest_before = 0, nearest_after = 0;
      for (size_t i = 0; i < s.offset; ++i)
        if (c[i] != kPoison) ++before, nearest_before = s.offset - i;
      for (size_t i = s.offset + s.bytes; i < c.size(); ++i)
        if (c[i] != kPoison && after++ == 0) nearest_after = i - (s.offset + s.bytes) + 1;
      if (before || after)
        report += p.label() + ": " + s.desc->name + " (" + ref::role_name(role) + "): guard bytes written, " +
                  std::to_string(before) + " before it (nearest " + std::to_string(nearest_before) + " bytes before), " +
                  std::to_string(after) + " after it (nearest " + std::to_string(nearest_after) + " bytes after)\n";
      got[role] = c.data() + s.offset;
    }
    return report + ref::check(kernel_, p, got, want);
  }

 private:
  struct Slot {
    const kiln_tensor_desc* desc = nullptr;
    size_t bytes = 0, offset = 0;
    std::unique_ptr<DeviceBuffer> buffer;
    std::vector<uint8_t> host;
  };

  // Rows fill in parallel, each from its own generator seeded from `seed`.
  void fill(Slot& s, uint64_t seed, std::pair<float, float> range) {
    const kiln_tensor_desc& t = *s.desc;
    const int32_t g = options_.group_size ? options_.group_size : 128;
    const int64_t rows = ref::extent(t.rows, tokens_, hidden_, g), cols = ref::extent(t.cols, tokens_, hidden_, g);
    const size_t size = ref::elem_bytes(t.elem);
    const DType d = dtype_;
    const float lo = range.first, width = range.second - range.first;
    ref::for_each_row(rows, [&](int64_t r) {
      std::mt19937_64 rng(seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(r));
      unsigned char* row = s.host.data() + static_cast<size_t>(r * cols) * size;
      for (int64_t c = 0; c < cols; ++c) {
        // 24 random bits (std::uniform_real_distribution is 5x slower, and rows are many)
        const float v = lo + width * (static_cast<float>(rng() >> 40) * 0x1p-24f);
        unsigned char* at = row + static_cast<size_t>(c) * size;
        switch (t.elem) {
          case KILN_ELEM_ACTIVATION: {
            const uint16_t b = ref::from_float(d, v);
            std::memcpy(at, &b, 2);
            break;
          }
          case KILN_ELEM_FP8_E4M3: *at = ref::double_to_fp8(v); break;
          case KILN_ELEM_F32: std::memcpy(at, &v, 4); break;
          case KILN_ELEM_I32: {
            const int32_t i = static_cast<int32_t>(v * 1000);
            std::memcpy(at, &i, 4);
            break;
          }
        }
      }
    });
  }

  kiln_kernel_desc kernel_;
  DType dtype_;
  int64_t hidden_, tokens_;
  Options options_;
  std::array<Slot, KILN_ROLE_SLOTS> slots_;
};

// ---- one case: plan, random data, launch, check -----------------------------------------

struct Case {
  kiln_kernel_desc kernel;
  DType dtype = DType::bf16;
  int64_t hidden = 0, tokens = 0;
  Options options;
  bool misalign = false;
  kiln_set_policy policy = KILN_SET_EXACT;
  bool specials = false;  // Workspace::add_special_rows
  const kiln::detail::Variant* instance = nullptr;  // launched directly, with the plan's parameters (launch_params)
};

void run_case(const Case& c, std::mt19937_64& rng, bool expect_fallback) {
  PlanPtr plan;
  ASSERT_EQ(make_plan(plan, c.kernel.name, c.hidden, c.dtype, c.policy, c.options), KILN_SUCCESS) << kiln_last_error();
  const kiln_variant_info info = describe(plan.p, c.tokens);
  ASSERT_EQ(info.is_fallback, expect_fallback ? 1 : 0) << kiln_plan_summary(plan.p);
  const std::string name = c.instance ? c.instance->name : info.name;
  Workspace ws(c.kernel, c.dtype, c.hidden, c.tokens, c.misalign, c.options);
  ASSERT_TRUE(ws.allocated()) << "cudaMalloc failed";
  if (rng() % 2) ws.omit_optional();  // optional tensors (scale_ub) given in half the cases
  ws.randomise(rng, c.options.gemma);
  if (c.specials) ws.add_special_rows();
  const float eps = random_eps(rng);
  ASSERT_EQ(ws.upload(), "");
  const kiln_args args = ws.args(eps);
  const ref::Problem p = ws.problem(eps, c.options);
  if (c.instance) {
    ASSERT_EQ(c.instance->launch(kiln::runtime::launch_params(*plan.p, args), nullptr), cudaSuccess) << name << ": " << p.label();
  } else {
    ASSERT_EQ(kiln_launch(plan.p, &args, nullptr), KILN_SUCCESS)
        << p.label() << (c.misalign ? " (misaligned)" : "") << ": " << kiln_last_error();
  }
  CUDA_OK(cudaDeviceSynchronize());
  const ref::Expected want = ref::reference(p);
  ASSERT_EQ(ws.check(p, want), "") << name << (c.instance ? " (launched directly)" : "") << (c.misalign ? " (misaligned)" : "")
                                   << (c.specials ? " (special rows)" : "");
}

const std::vector<int64_t> kTokenCounts = {1, 3, 17, 255, 1024, 4099};

// ---- tests ------------------------------------------------------------------------------

// The GPU cases below cover every kernel of the registry; each needs its CPU reference,
// and every option it has must be one these tests know how to exercise.
TEST(Gpu, EveryKernelHasACpuReference) {
  const auto kernels = registry(/*all=*/true);
  int32_t comm_kernels = 0;  // each needs its reference too: test_comm checks against it
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    ASSERT_EQ(kiln_kernel_at(i, &d), KILN_SUCCESS);
    if (!(d.options & KILN_OPTION_COMM)) continue;
    ++comm_kernels;
    EXPECT_TRUE(ref::has_reference(d.name)) << d.name << " has no CPU reference";
  }
  ASSERT_EQ(static_cast<int32_t>(kernels.size()) + comm_kernels, kiln_kernel_count());
  ASSERT_FALSE(kernels.empty());
  for (const kiln_kernel_desc& k : kernels) {
    EXPECT_TRUE(ref::has_reference(k.name)) << k.name << " has no CPU reference: add one to reference/include/kiln_ref/reference.h";
    EXPECT_EQ(k.options & ~kKnownOptions, 0u) << k.name << " has options these tests do not exercise: extend Options";
  }
  for (const ref::ReferenceEntry& r : ref::references())
    EXPECT_NE(find_kernel(std::string(r.kernel)).name, nullptr)
        << "the reference of '" << r.kernel << "' names no kernel of this library";
}

TEST(Gpu, EveryConfigSetMatchesTheReference) {
  REQUIRE_GPU();
  const auto sets = sets_for_device();
  ASSERT_FALSE(sets.empty()) << "no config sets for " << device_arch() << " in this build";
  std::mt19937_64 rng(2024);
  int cases = 0;
  for (const SetInfo& set : sets) {
    const kiln_kernel_desc k = find_kernel(set.kernel);
    ASSERT_NE(k.name, nullptr) << set.kernel << " has a config set but is not in the registry";
    for (const Options& o : option_sets(k)) {
      // Through the plan: with default options kTokenCounts and every threshold +-1 (a
      // bucket bsN serves N up to the next threshold); with the others a count between two
      // thresholds. Then, with the other options, every instance of the set launched directly
      // at 17 rows, so that an instance whose bucket starts at thousands of rows is checked under
      // each option set without a CPU reference of that many rows.
      std::set<int64_t> tokens = {3};
      std::vector<const kiln::detail::Variant*> direct = set.instances;
      if (o.is_default()) {
        tokens.insert(kTokenCounts.begin(), kTokenCounts.end());
        for (int64_t t : set.thresholds) tokens.insert({t - 1, t, t + 1});
        tokens.erase(0);
        direct.clear();
      }
      for (DType d : {DType::bf16, DType::fp16}) {
        for (int64_t t : tokens) {
          run_case({k, d, set.hidden, t, o}, rng, false);
          if (HasFatalFailure()) return;
          ++cases;
        }
        for (const kiln::detail::Variant* v : direct) {
          Case c{k, d, set.hidden, 17, o};
          c.instance = v;
          run_case(c, rng, false);
          if (HasFatalFailure()) return;
          ++cases;
        }
      }
    }
    // A group quantiser's instances under every group size, scale layout and UE8M0 choice.
    for (const GroupChoice& g : has_groups(k) ? group_combos() : std::vector<GroupChoice>{})
      for (const kiln::detail::Variant* v : set.instances) {
        Case c{k, DType::bf16, set.hidden, 17, with_group(Options{}, g)};
        c.instance = v;
        run_case(c, rng, false);
        if (HasFatalFailure()) return;
        ++cases;
      }
  }
  RecordProperty("cases", cases);
}

TEST(Gpu, GenericKernelAtOddSizesAndAlignments) {
  REQUIRE_GPU();
  std::mt19937_64 rng(7);
  int cases = 0;
  for (const kiln_kernel_desc& k : registry())
    for (int64_t hidden : {1, 8, 128, 1000, 1003, 3584, 5000, 8200})
      for (const Options& o : option_sets(k)) {
        const std::vector<int64_t> tokens = o.is_default() ? kTokenCounts : std::vector<int64_t>{3, 255};
        // A size with a set gets the generic kernel by request.
        const kiln_set_policy policy = has_set(k.name, hidden) ? KILN_SET_GENERIC : KILN_SET_EXACT;
        for (int64_t t : tokens)
          for (DType d : {DType::bf16, DType::fp16})
            for (bool misalign : {false, true}) {
              run_case({k, d, hidden, t, o, misalign, policy}, rng, true);
              if (HasFatalFailure()) return;
              ++cases;
            }
      }
  RecordProperty("cases", cases);
}

TEST(Gpu, GenericByRequestMatchesTheReferenceOnTunedSizes) {
  REQUIRE_GPU();
  std::mt19937_64 rng(11);
  for (const SetInfo& set : sets_for_device()) {
    const kiln_kernel_desc k = find_kernel(set.kernel);
    for (const Options& o : option_sets(k))
      for (int64_t tokens : {1, 33, 1000}) {
        run_case({k, DType::bf16, set.hidden, tokens, o, false, KILN_SET_GENERIC}, rng, true);
        if (HasFatalFailure()) return;
      }
  }
}

// ---- group quantisers (KILN_OPTION_GROUP) ------------------------------------------------

std::vector<kiln_kernel_desc> group_kernels() {
  std::vector<kiln_kernel_desc> out;
  for (const kiln_kernel_desc& k : registry())
    if (has_groups(k)) out.push_back(k);
  return out;
}

// Token counts over every bucket of the tuned sets, odd ones, and T % 4 != 0 (the TMA
// layouts pad T to T4).
const std::vector<int64_t> kGroupTokens = {1, 2, 3, 4, 8, 17, 32, 100, 128, 256, 1000, 1024, 2000};

// kiln_tensor_layout_of against the contract, for every tensor of every kernel: the group
// scales in each layout (written out by hand for one shape, by ref::tensor_layout for the
// rest), every other tensor row-major as kiln_tensor_shape. Host only.
TEST(Gpu, TensorLayoutsFollowTheScaleLayoutContract) {
  int checked = 0;
  for (const kiln_kernel_desc& k : registry(/*all=*/true)) {
    for (int32_t i = 0; i < k.tensor_count; ++i) {
      const kiln_tensor_desc& t = k.tensors[i];
      const bool group = ref::is_group_scales(k, t);
      for (int64_t hidden : {7, 96, 1000, 2048, 4160})
        for (int64_t tokens : {0, 1, 3, 4, 5, 17, 1000})
          for (const GroupChoice& c : group_combos()) {
            if (!group && !(c.group_size == 128 && c.layout == KILN_SCALES_ROW_MAJOR && !c.ue8m0)) continue;
            kiln_plan_options o;
            kiln_plan_options_init(&o);
            o.kernel = k.name;
            o.hidden = hidden;
            if (group) {
              o.group_size = c.group_size;
              o.scale_layout = c.layout;
              o.ue8m0 = c.ue8m0 ? 1 : 0;
            }
            kiln_tensor_layout got{};
            got.struct_size = sizeof got;
            ASSERT_EQ(kiln_tensor_layout_of(&t, &o, tokens, &got), KILN_SUCCESS) << k.name << " " << t.name << ": " << kiln_last_error();
            const ref::TensorLayout want =
                ref::tensor_layout(t, group, tokens, hidden, group ? c.group_size : 128, group ? c.layout : KILN_SCALES_ROW_MAJOR);
            const std::string what = std::string(k.name) + " " + t.name + " hidden=" + std::to_string(hidden) +
                                     " tokens=" + std::to_string(tokens) + " group=" + std::to_string(c.group_size) +
                                     " layout=" + std::to_string(c.layout);
            EXPECT_EQ(got.rows, want.rows) << what;
            EXPECT_EQ(got.elements, want.elements) << what;
            if (tokens > 0 || !group) {  // no tokens: nothing to address (the contract gives no strides)
              EXPECT_EQ(got.cols, want.cols) << what;
              EXPECT_EQ(got.row_stride, want.row_stride) << what;
              EXPECT_EQ(got.col_stride, want.col_stride) << what;
            }
            EXPECT_EQ(got.elem_bytes, want.elem_bytes) << what;
            if (!group) {
              int64_t rows = 0, cols = 0, elem = 0;
              ASSERT_EQ(kiln_tensor_shape(&t, hidden, tokens, &rows, &cols, &elem), KILN_SUCCESS) << kiln_last_error();
              EXPECT_EQ(got.rows * got.cols, rows * cols) << what;
              EXPECT_EQ(got.elem_bytes, elem) << what;
            }
            ++checked;
          }
    }
  }
  // The contract's numbers, by hand: H = 4160, T = 5 (T4 = 8); g = 128: G = 33, 9 words a row.
  for (const kiln_kernel_desc& k : group_kernels()) {
    const kiln_tensor_desc* scales = tensor_for(k, KILN_ROLE_SCALES);
    ASSERT_NE(scales, nullptr) << k.name;
    struct Hand {
      int32_t g;
      kiln_scale_layout layout;
      int64_t rows, cols, row_stride, col_stride, elements;
    };
    for (const Hand& h : {Hand{128, KILN_SCALES_ROW_MAJOR, 5, 33, 33, 1, 165}, Hand{64, KILN_SCALES_ROW_MAJOR, 5, 65, 65, 1, 325},
                          Hand{128, KILN_SCALES_COL_MAJOR_TMA, 5, 33, 1, 8, 32 * 8 + 5},
                          Hand{128, KILN_SCALES_PACKED_UE8M0, 5, 9, 1, 8, 8 * 8 + 5},
                          Hand{64, KILN_SCALES_PACKED_UE8M0, 5, 17, 1, 8, 16 * 8 + 5}}) {
      const ref::TensorLayout l = ref::tensor_layout(*scales, true, 5, 4160, h.g, h.layout);
      EXPECT_EQ(l.rows, h.rows);
      EXPECT_EQ(l.cols, h.cols);
      EXPECT_EQ(l.row_stride, h.row_stride);
      EXPECT_EQ(l.col_stride, h.col_stride);
      EXPECT_EQ(l.elements, h.elements) << k.name << " group=" << h.g << " layout=" << h.layout;
      EXPECT_EQ(l.elem_bytes, 4);
    }
  }
  RecordProperty("checked", checked);
}

// The group quantisers' contract modelled in fp32, independently of the reference (what a
// right kernel writes, byte for byte): ref::check must accept it, special rows and every
// layout included, and must catch a wrong scale, a wrong padding byte and a written byte the
// layout leaves alone. Host only: the reference itself is under test.
namespace model {

float scale_of(float amax, bool ue8m0) {
  float s = std::max(amax, 1e-10f) / 448.0f;
  if (ue8m0) {
    s = std::max(s, 1e-10f);
    uint32_t b;
    std::memcpy(&b, &s, 4);
    b = (((b >> 23) & 0xffu) + ((b & 0x7fffffu) != 0)) << 23;
    std::memcpy(&s, &b, 4);
  }
  return s;
}

// One launch on host copies: the outputs (out [T, H] fp8, the scales' span) and the residual.
void run(const kiln_kernel_desc& k, const ref::Problem& p, const Options& o, std::vector<uint8_t>& out,
         std::vector<uint8_t>& scales, std::vector<uint16_t>* residual) {
  const DType d = p.dtype;
  const int64_t T = p.tokens, H = p.hidden, g = o.group_size ? o.group_size : 128, G = (H + g - 1) / g, T4 = (T + 3) / 4 * 4;
  const bool ue8m0 = o.ue8m0 || o.scale_layout == KILN_SCALES_PACKED_UE8M0;
  const auto* x = static_cast<const uint16_t*>(p.inputs[KILN_ROLE_INPUT]);
  const auto* w = static_cast<const uint16_t*>(p.inputs[KILN_ROLE_WEIGHT]);
  const bool halves = tensor_for(k, KILN_ROLE_INPUT)->cols == KILN_EXTENT_2HIDDEN;
  const bool vllm = o.rounding == ref::Rounding::vllm;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> y(static_cast<size_t>(H));
    float ss = 0;
    for (int64_t i = 0; i < H; ++i) {
      if (halves) {
        const float a = ref::to_float(d, x[t * 2 * H + i]), b = ref::to_float(d, x[t * 2 * H + H + i]);
        y[i] = a / (1.0f + std::exp(-a)) * b;
        continue;
      }
      float v = ref::to_float(d, x[t * H + i]);
      if (residual) {
        const uint16_t r = ref::from_float(d, v + ref::to_float(d, (*residual)[t * H + i]));
        (*residual)[t * H + i] = r;
        v = ref::to_float(d, r);
      }
      y[i] = v;
      ss += v * v;
    }
    if (w) {
      const float rinv = 1.0f / std::sqrt(ss / static_cast<float>(H) + p.eps);
      for (int64_t i = 0; i < H; ++i) {
        const float wi = o.gemma ? 1.0f + ref::to_float(d, w[i]) : ref::to_float(d, w[i]);
        y[i] = vllm ? ref::to_float(d, ref::from_float(d, ref::to_float(d, ref::from_float(d, y[i] * rinv)) * wi)) : y[i] * rinv * wi;
      }
    }
    for (int64_t q = 0; q < G; ++q) {
      const int64_t lo = q * g, hi = std::min(H, lo + g);
      float amax = 0;
      for (int64_t i = lo; i < hi; ++i) amax = std::fmax(amax, std::fabs(y[i]));
      const float s = scale_of(amax, ue8m0);
      for (int64_t i = lo; i < hi; ++i) out[t * H + i] = ref::double_to_fp8(static_cast<double>(y[i] / s));
      if (o.scale_layout == KILN_SCALES_PACKED_UE8M0) {
        uint32_t b;
        std::memcpy(&b, &s, 4);
        scales[4 * ((q / 4) * T4 + t) + q % 4] = static_cast<uint8_t>(b >> 23);
      } else {
        std::memcpy(&scales[4 * (o.scale_layout == KILN_SCALES_ROW_MAJOR ? t * G + q : q * T4 + t)], &s, 4);
      }
    }
    if (o.scale_layout == KILN_SCALES_PACKED_UE8M0)
      for (int64_t q = G; q < (G + 3) / 4 * 4; ++q) scales[4 * ((q / 4) * T4 + t) + q % 4] = 0;
  }
  if (o.scale_layout == KILN_SCALES_PACKED_UE8M0)
    for (int64_t j = 0; j + 1 < (G + 3) / 4; ++j)
      for (int64_t t = T; t < T4; ++t) std::memset(&scales[4 * (j * T4 + t)], 0, 4);
}

}  // namespace model

TEST(Gpu, GroupReferenceAcceptsTheContractAndCatchesWrongBytes) {
  std::mt19937_64 rng(29);
  int cases = 0;
  for (const kiln_kernel_desc& k : registry(/*all=*/true)) {
    if (!has_groups(k)) continue;
    const kiln_tensor_desc* scales_desc = tensor_for(k, KILN_ROLE_SCALES);
    ASSERT_NE(scales_desc, nullptr);
    for (int64_t hidden : {7, 96, 1000, 4160})
      for (int64_t tokens : {1, 3, 5})
        for (const GroupChoice& c : group_combos()) {
          const auto sets = option_sets(k);
          const Options o = with_group(sets[static_cast<size_t>(cases) % sets.size()], c);
          const DType d = cases % 2 ? DType::fp16 : DType::bf16;
          ++cases;
          // Host copies only: random inputs, poisoned outputs.
          const ref::TensorLayout l = ref::tensor_layout(*scales_desc, true, tokens, hidden, c.group_size, c.layout);
          ref::Problem p;
          p.kernel = k.name;
          p.dtype = d;
          p.tokens = tokens;
          p.hidden = hidden;
          p.eps = 1e-6f;
          p.rounding = o.rounding;
          p.gemma = o.gemma;
          p.group_size = c.group_size;
          p.scale_layout = c.layout;
          p.ue8m0 = c.ue8m0;
          std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> host;
          for (int32_t i = 0; i < k.tensor_count; ++i) {
            const kiln_tensor_desc& t = k.tensors[i];
            const size_t n = t.role == KILN_ROLE_SCALES ? static_cast<size_t>(l.bytes()) : ref::tensor_bytes(t, tokens, hidden);
            host[t.role].assign(n, kPoison);
            if (t.direction == KILN_DIR_OUT) continue;
            const auto range = value_range(t.role, o.gemma);
            for (size_t e = 0; e < n / 2; ++e) {
              const float v = std::uniform_real_distribution<float>(range.first, range.second)(rng);
              const uint16_t b = ref::from_float(d, v);
              std::memcpy(&host[t.role][2 * e], &b, 2);
            }
          }
          // Special rows: zeros in row 0, NaN and +-inf in the last (the gate half of a [T, 2H] input).
          const bool halves = tensor_for(k, KILN_ROLE_INPUT)->cols == KILN_EXTENT_2HIDDEN;
          const int64_t W = halves ? 2 * hidden : hidden;
          std::fill_n(host[KILN_ROLE_INPUT].begin(), 2 * W, uint8_t{0});
          if (tokens > 1) {
            const uint16_t nan = d == DType::bf16 ? 0x7fc0 : 0x7e00, inf = d == DType::bf16 ? 0x7f80 : 0x7c00;
            const int64_t row = (tokens - 1) * W, b = halves ? hidden : 0;
            std::memcpy(&host[KILN_ROLE_INPUT][2 * row], &nan, 2);
            std::memcpy(&host[KILN_ROLE_INPUT][2 * (row + b + hidden - 1)], &inf, 2);
          }
          for (int32_t i = 0; i < k.tensor_count; ++i)
            if (k.tensors[i].direction != KILN_DIR_OUT || k.tensors[i].role == KILN_ROLE_SCALES)
              p.inputs[k.tensors[i].role] = host[k.tensors[i].role].data();
          std::vector<uint8_t> out(static_cast<size_t>(tokens * hidden), kPoison), scales(host[KILN_ROLE_SCALES]);
          std::vector<uint16_t> residual;
          if (tensor_for(k, KILN_ROLE_RESIDUAL)) {
            residual.resize(static_cast<size_t>(tokens * hidden));
            std::memcpy(residual.data(), host[KILN_ROLE_RESIDUAL].data(), residual.size() * 2);
          }
          model::run(k, p, o, out, scales, residual.empty() ? nullptr : &residual);
          const ref::Expected want = ref::reference(p);
          ref::Tensors got{};
          for (int32_t i = 0; i < k.tensor_count; ++i) got[k.tensors[i].role] = host[k.tensors[i].role].data();
          got[KILN_ROLE_OUTPUT] = out.data();
          got[KILN_ROLE_SCALES] = scales.data();
          if (!residual.empty()) got[KILN_ROLE_RESIDUAL] = residual.data();
          ASSERT_EQ(ref::check(k, p, got, want), "") << "the fp32 model of the contract";
          // Wrong bytes the check must see: the first scale (its exponent, or a high
          // mantissa bit), a padding byte (packed: pad group, then a pad row), a byte the
          // layout leaves alone (col_major_tma: rows [T, T4) of the first column).
          const int64_t G = ref::group_count(hidden, c.group_size), T4 = ref::round_up4(tokens);
          std::vector<size_t> wrong = {c.layout == KILN_SCALES_PACKED_UE8M0 ? size_t{0} : size_t{2}};
          if (c.layout == KILN_SCALES_PACKED_UE8M0 && G % 4) wrong.push_back(static_cast<size_t>(4 * ((G / 4) * T4) + 3));
          if (c.layout == KILN_SCALES_PACKED_UE8M0 && G > 4 && T4 > tokens) wrong.push_back(static_cast<size_t>(4 * tokens + 1));
          if (c.layout == KILN_SCALES_COL_MAJOR_TMA && G > 1 && T4 > tokens) wrong.push_back(static_cast<size_t>(4 * tokens));
          for (size_t at : wrong) {
            std::vector<uint8_t> bad = scales;
            bad[at] ^= 0x11;
            got[KILN_ROLE_SCALES] = bad.data();
            EXPECT_NE(ref::check(k, p, got, want), "") << p.label() << ": scales byte " << at << " changed, unseen";
          }
          if (HasFailure()) return;
        }
  }
  // Hand-picked: an all-zero group, one whose amax is 448 (s = 1), and 449 (UE8M0 s = 2).
  const kiln_kernel_desc k = find_kernel("per_token_group_fp8");
  if (k.name != nullptr) {
    std::vector<uint16_t> x(3 * 64, 0);
    x[64] = ref::from_float(DType::bf16, 448.0f);
    x[128] = ref::from_float(DType::bf16, -449.0f);  // bf16: 448
    x[129] = ref::from_float(DType::bf16, 450.0f);   // bf16: 450
    for (bool ue8m0 : {false, true}) {
      ref::Problem p;
      p.kernel = k.name;
      p.tokens = 1;
      p.hidden = 192;
      p.group_size = 64;
      p.ue8m0 = ue8m0;
      p.inputs[KILN_ROLE_INPUT] = x.data();
      const ref::Expected e = ref::reference(p);
      const auto& s = e.roles[KILN_ROLE_SCALES].value;
      ASSERT_EQ(s.size(), 3u);
      EXPECT_EQ(s[0], ue8m0 ? std::ldexp(1.0, -33) : static_cast<double>(1e-10f / 448.0f));
      EXPECT_EQ(s[1], 1.0);
      EXPECT_EQ(s[2], ue8m0 ? 2.0 : static_cast<double>(450.0f / 448.0f));
      EXPECT_EQ(ref::detail::ue8m0_exponent(ref::detail::group_scale(0, true)), 94);
      EXPECT_EQ(ref::detail::ue8m0_exponent(ref::detail::group_scale(INFINITY, true)), 255);
      EXPECT_EQ(e.roles[KILN_ROLE_OUTPUT].value[64], 448.0);
    }
  }
  RecordProperty("cases", cases);
}

// Plan-time refusals: a group size other than 64 or 128 (0 is 128), a scale layout that is
// none of the three, and group options on a kernel without KILN_OPTION_GROUP.
TEST(Gpu, GroupOptionsAreCheckedAtPlanTime) {
  REQUIRE_GPU();
  auto create = [](const kiln_kernel_desc& k, int32_t group, int32_t layout, int32_t ue8m0) {
    kiln_plan_options o;
    kiln_plan_options_init(&o);
    o.kernel = k.name;
    o.hidden = tuned_hidden(k.name).value_or(4096);
    o.group_size = group;
    o.scale_layout = static_cast<kiln_scale_layout>(layout);
    o.ue8m0 = ue8m0;
    PlanPtr plan;
    const kiln_status s = kiln_plan_create(&o, &plan.p);
    if (s != KILN_SUCCESS) EXPECT_EQ(plan.p, nullptr) << k.name << ": a refused plan must be NULL";
    return s;
  };
  int group = 0, other = 0;
  for (const kiln_kernel_desc& k : registry()) {
    if (!has_groups(k)) {
      ++other;
      for (int32_t g : {64, 128})
        EXPECT_EQ(create(k, g, 0, 0), KILN_ERROR_INVALID_ARGUMENT) << k.name << " has no groups: group_size " << g;
      continue;
    }
    ++group;
    for (int32_t g : {0, 64, 128})
      for (int32_t layout : {0, 1, 2})
        for (int32_t ue8m0 : {0, 1})
          EXPECT_EQ(create(k, g, layout, ue8m0), KILN_SUCCESS)
              << k.name << " group=" << g << " layout=" << layout << " ue8m0=" << ue8m0 << ": " << kiln_last_error();
    for (int32_t g : {32, 96, 256, -128}) {
      EXPECT_EQ(create(k, g, 0, 0), KILN_ERROR_INVALID_ARGUMENT) << k.name << " group_size " << g;
      EXPECT_NE(std::string(kiln_last_error()).find("group_size"), std::string::npos) << kiln_last_error();
    }
    for (int32_t layout : {3, -1}) {
      EXPECT_EQ(create(k, 128, layout, 0), KILN_ERROR_INVALID_ARGUMENT) << k.name << " scale_layout " << layout;
      EXPECT_NE(std::string(kiln_last_error()).find("scale_layout"), std::string::npos) << kiln_last_error();
    }
  }
  RecordProperty("group_kernels", group);
  RecordProperty("other_kernels", other);
}

// The specialised variants of every tuned set of a group quantiser: every bucket's token
// counts (and every threshold), each of bf16 and fp16 x group size x layout x UE8M0 (x the
// kernel's rounding and gemma options, in turn) at least once per set (rotated across sets),
// a third of the cases with special rows. (EveryConfigSetMatchesTheReference adds every
// threshold +-1 at the default options.)
TEST(Gpu, GroupQuantisersMatchTheReferenceOnEveryTunedSet) {
  REQUIRE_GPU();
  std::mt19937_64 rng(31);
  const std::vector<GroupChoice> combos = group_combos();
  const std::vector<int64_t> small = {1, 3, 5, 17, 33, 127};
  int cases = 0, sets = 0;
  for (const SetInfo& set : sets_for_device()) {
    const kiln_kernel_desc k = find_kernel(set.kernel);
    if (!has_groups(k)) continue;
    ++sets;
    std::set<int64_t> token_set(kGroupTokens.begin(), kGroupTokens.end());
    token_set.insert(set.thresholds.begin(), set.thresholds.end());
    const std::vector<int64_t> tokens(token_set.begin(), token_set.end());
    const auto options = option_sets(k);
    const size_t variants = 2 * combos.size();  // x {bf16, fp16}
    const size_t n = std::max(tokens.size(), variants) + variants / 2;
    for (size_t i = 0; i < n; ++i) {
      const size_t v = (i + static_cast<size_t>(sets)) % variants;  // rotated per set
      const DType d = v < combos.size() ? DType::bf16 : DType::fp16;
      const Options o = with_group(options[i % options.size()], combos[v % combos.size()]);
      // Every count once, then small ones (the reference of 2000 x 8192 is the slow part).
      const int64_t t = i < tokens.size() ? tokens[i] : small[i % small.size()];
      Case c{k, d, set.hidden, t, o};
      c.specials = i % 3 == 1;
      run_case(c, rng, false);
      if (HasFatalFailure()) return;
      ++cases;
    }
  }
  RecordProperty("sets", sets);
  RecordProperty("cases", cases);
}

// The generic kernel: hidden sizes off the tuned grid (a partial last group where 64 or 128
// does not divide H: 1000, 96, 7; G % 4 != 0 for the packed padding: 4160), a tuned size by
// request, odd token counts, misaligned tensors; every variant of dtype x group size x layout
// x UE8M0, special rows in a third.
TEST(Gpu, GroupQuantisersMatchTheReferenceThroughTheGenericKernel) {
  REQUIRE_GPU();
  std::mt19937_64 rng(37);
  const std::vector<GroupChoice> combos = group_combos();
  const std::vector<int64_t> tokens = {1, 3, 5, 17, 33, 255, 1000};
  int cases = 0;
  for (const kiln_kernel_desc& k : group_kernels()) {
    const auto options = option_sets(k);
    for (int64_t hidden : {int64_t{4160}, int64_t{1000}, int64_t{96}, int64_t{7}, tuned_hidden(k.name).value_or(4096)}) {
      const kiln_set_policy policy = has_set(k.name, hidden) ? KILN_SET_GENERIC : KILN_SET_EXACT;
      for (size_t v = 0; v < 2 * combos.size(); ++v) {
        const size_t i = static_cast<size_t>(cases);
        Case c{k, v < combos.size() ? DType::bf16 : DType::fp16, hidden, tokens[i % tokens.size()],
               with_group(options[i % options.size()], combos[v % combos.size()])};
        c.misalign = i % 5 == 2;
        c.policy = policy;
        c.specials = i % 3 == 1;
        run_case(c, rng, true);
        if (HasFatalFailure()) return;
        ++cases;
      }
    }
  }
  RecordProperty("cases", cases);
}

// vLLM's in-place contract, layer after layer: a kernel with in-out tensors (x and the
// residual of fused_add_rms_norm) launched twice, the second time on what the first
// left in them, each launch against the reference of its own inputs.
TEST(Gpu, InOutTensorsChainAcrossLaunches) {
  REQUIRE_GPU();
  std::mt19937_64 rng(13);
  int kernels = 0;
  for (const kiln_kernel_desc& k : registry()) {
    if (!has_inout(k)) continue;
    ++kernels;
    for (int64_t hidden : {tuned_hidden(k.name).value_or(4096), untuned_hidden(k.name, 1000)})
      for (const Options& o : option_sets(k))
        for (DType d : {DType::bf16, DType::fp16}) {
          PlanPtr plan;
          ASSERT_EQ(make_plan(plan, k.name, hidden, d, KILN_SET_EXACT, o), KILN_SUCCESS) << kiln_last_error();
          Workspace ws(k, d, hidden, 33);
          ASSERT_TRUE(ws.allocated());
          ws.randomise(rng, o.gemma);
          const float eps = random_eps(rng);
          for (int step = 0; step < 2; ++step) {
            if (step > 0) {
              ASSERT_EQ(ws.pull_inout(), "");
            }
            ASSERT_EQ(ws.upload(), "");
            const kiln_args args = ws.args(eps);
            ASSERT_EQ(kiln_launch(plan.p, &args, nullptr), KILN_SUCCESS) << kiln_last_error();
            CUDA_OK(cudaDeviceSynchronize());
            const ref::Problem p = ws.problem(eps, o);
            ASSERT_EQ(ws.check(p, ref::reference(p)), "") << "launch " << step + 1 << " of the chain";
          }
        }
  }
  RecordProperty("kernels", kernels);
}

// Capture launches in a graph, then change the inputs and the scale in place and
// replay: the replay must compute from the new values (the scale is read on device).
TEST(Gpu, GraphReplaySeesInputsAndScaleChangedInPlace) {
  REQUIRE_GPU();
  std::mt19937_64 rng(3);
  for (const kiln_kernel_desc& k : registry()) {
    struct Shape {
      int64_t hidden, tokens;
      Options options;
    };
    const int64_t tuned = tuned_hidden(k.name).value_or(4096);
    for (Shape s : {Shape{tuned, 100, {}}, Shape{untuned_hidden(k.name, 1000), 17, richest(k)}, Shape{tuned, 1500, richest(k)}}) {
      PlanPtr plan;
      ASSERT_EQ(make_plan(plan, k.name, s.hidden, DType::bf16, KILN_SET_EXACT, s.options), KILN_SUCCESS) << kiln_last_error();
      Workspace ws(k, DType::bf16, s.hidden, s.tokens);
      ASSERT_TRUE(ws.allocated());
      ws.randomise(rng, s.options.gemma);
      const float eps = random_eps(rng);  // a kernel argument, frozen at capture
      ASSERT_EQ(ws.upload(), "");
      cudaStream_t stream;
      CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      cudaGraph_t graph;
      cudaGraphExec_t exec;
      // An in-place kernel's launches would compound: one launch per graph there.
      const int launches = has_inout(k) ? 1 : 3;
      const kiln_args args = ws.args(eps);
      CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < launches; ++i) ASSERT_EQ(kiln_launch(plan.p, &args, stream), KILN_SUCCESS) << kiln_last_error();
      CUDA_OK(cudaStreamEndCapture(stream, &graph));
      CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
      for (int round = 0; round < 3; ++round) {
        if (round > 0) {
          ws.randomise(rng, s.options.gemma);  // new inputs, weight and scale, same buffers
          ASSERT_EQ(ws.upload(), "");
        }
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        const ref::Problem p = ws.problem(eps, s.options);
        ASSERT_EQ(ws.check(p, ref::reference(p)), "") << (round == 0 ? "first replay" : "replay after changing the inputs");
      }
      CUDA_OK(cudaGraphExecDestroy(exec));
      CUDA_OK(cudaGraphDestroy(graph));
      CUDA_OK(cudaStreamDestroy(stream));
    }
  }
}

// One kernel launched behind slow_fill, which writes every tensor the kernel reads over
// stale zeros. With static_weight the caller promises the weight is not written while
// kiln kernels may run: the predecessor then leaves the weight alone (the kernel may
// read it before the wait).
// `instance`: launched directly, not through a plan.
void run_behind_a_late_writer(const kiln_kernel_desc& k, int64_t hidden, int64_t tokens, bool static_weight,
                              std::mt19937_64& rng, const kiln::detail::Variant* instance = nullptr) {
  const Options options{ref::Rounding::single, false, static_weight};
  PlanPtr plan;
  ASSERT_EQ(make_plan(plan, k.name, hidden, DType::bf16, KILN_SET_EXACT, options), KILN_SUCCESS) << kiln_last_error();
  Workspace ws(k, DType::bf16, hidden, tokens);
  ASSERT_TRUE(ws.allocated());
  ws.randomise(rng, false);
  const float eps = random_eps(rng);
  ASSERT_EQ(ws.upload(), "");
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  kiln::test::LateWriter writer;
  for (int32_t i = 0; i < k.tensor_count; ++i) {
    const kiln_tensor_desc& t = k.tensors[i];
    if (t.direction == KILN_DIR_OUT || (static_weight && t.role == KILN_ROLE_WEIGHT)) continue;
    const size_t n = ws.bytes(t.role);
    ASSERT_EQ(writer.add(ws.device(t.role), ws.host(t.role).data(), n), "");
    CUDA_OK(cudaMemsetAsync(ws.device(t.role), 0, n, stream));  // stale values the kernel must not see
  }
  ASSERT_EQ(writer.launch(stream), "");
  const kiln_args args = ws.args(eps);
  if (instance)
    ASSERT_EQ(instance->launch(kiln::runtime::launch_params(*plan.p, args), stream), cudaSuccess) << instance->name;
  else
    ASSERT_EQ(kiln_launch(plan.p, &args, stream), KILN_SUCCESS) << kiln_last_error();
  CUDA_OK(cudaStreamSynchronize(stream));
  const ref::Problem p = ws.problem(eps, options);
  ASSERT_EQ(ws.check(p, ref::reference(p)), "")
      << (instance ? instance->name : k.name) << " h=" << hidden << " T=" << tokens << (static_weight ? " static_weight" : "");
  CUDA_OK(cudaStreamDestroy(stream));
}

// Through a plan (the kernel's first set, or the generic kernel where it has none), then every
// tuned instance launched directly at the same 64 rows: the schedules differ in where they
// read the weight (before the wait, after it, or where it is used).
TEST(Gpu, ProgrammaticDependentLaunchWaitsForThePredecessor) {
  REQUIRE_GPU();
  std::mt19937_64 rng(5);
  const std::vector<SetInfo> sets = sets_for_device();
  int cases = 0;
  for (const kiln_kernel_desc& k : registry())
    for (bool static_weight : {false, true}) {
      if (static_weight && !(k.options & KILN_OPTION_STATIC_WEIGHT)) continue;
      run_behind_a_late_writer(k, tuned_hidden(k.name).value_or(4096), 64, static_weight, rng);
      if (HasFatalFailure()) return;
      ++cases;
      for (const SetInfo& set : sets) {
        if (set.kernel != k.name) continue;
        for (const kiln::detail::Variant* v : set.instances) {
          run_behind_a_late_writer(k, set.hidden, 64, static_weight, rng, v);
          if (HasFatalFailure()) return;
          ++cases;
        }
      }
    }
  RecordProperty("cases", cases);
}

TEST(Gpu, ConcurrentLaunchesFromSeveralThreadsShareOnePlan) {
  REQUIRE_GPU();
  constexpr int kThreads = 4;
  constexpr int64_t kHidden = 4096;
  const auto kernels = registry();
  std::vector<PlanPtr> plans(kernels.size());
  for (size_t i = 0; i < kernels.size(); ++i)
    ASSERT_EQ(make_plan(plans[i], kernels[i].name, kHidden, DType::bf16), KILN_SUCCESS) << kiln_last_error();
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      cudaStream_t stream;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      for (int i = 0; i < 6 && errors[t].empty(); ++i) {
        const size_t which = static_cast<size_t>(i + t) % kernels.size();
        const kiln_kernel_desc& k = kernels[which];
        Workspace ws(k, DType::bf16, kHidden, int64_t{1} + 97 * i + 13 * t);
        ws.randomise(rng, false);
        const float eps = random_eps(rng);
        if (!ws.allocated()) errors[t] = "cudaMalloc failed";
        if (errors[t].empty()) errors[t] = ws.upload(stream);
        if (!errors[t].empty()) break;
        const kiln_args args = ws.args(eps);
        // An in-place kernel's launches would compound: one launch there.
        for (int n = 0; n < (has_inout(k) ? 1 : 5); ++n)
          if (kiln_launch(plans[which].p, &args, stream) != KILN_SUCCESS) errors[t] = kiln_last_error();
        cudaStreamSynchronize(stream);
        if (!errors[t].empty()) break;
        try {
          const ref::Problem p = ws.problem(eps, {});
          errors[t] = ws.check(p, ref::reference(p), stream);
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      }
      cudaStreamDestroy(stream);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST(Gpu, PlanReportsItsChoiceAndStrictRefusesAMissingSet) {
  REQUIRE_GPU();
  const std::string arch = device_arch();
  ASSERT_FALSE(sets_for_device().empty());
  for (const kiln_kernel_desc& k : registry()) {
    if (const auto hidden = tuned_hidden(k.name)) {
      kiln::Plan tuned({k.name, *hidden});
      EXPECT_FALSE(tuned.is_fallback()) << tuned.summary();
      EXPECT_NE(tuned.summary().find("config set configs/" + std::string(k.name) + "/" + arch), std::string::npos)
          << tuned.summary();
    }
    const int64_t missing = untuned_hidden(k.name, 5000);
    kiln::Plan fallback({k.name, missing});
    EXPECT_TRUE(fallback.is_fallback());
    EXPECT_NE(fallback.summary().find("no " + std::string(k.name) + " set for " + arch + " hidden=" + std::to_string(missing)),
              std::string::npos) << fallback.summary();
    try {
      kiln::Plan strict({k.name, missing, KILN_DTYPE_BF16, -1, KILN_SET_STRICT});
      ADD_FAILURE() << k.name << ": a strict plan without a set must throw";
    } catch (const kiln::Error& e) {
      EXPECT_EQ(e.status(), KILN_ERROR_NO_CONFIG_SET) << e.what();
    }
  }
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  const kiln_kernel_desc first = registry().front();
  o.kernel = first.name;
  o.hidden = 4096;
  o.device = device_count();  // one past the last
  kiln_plan* p = nullptr;
  EXPECT_EQ(kiln_plan_create(&o, &p), KILN_ERROR_NO_DEVICE);
  EXPECT_EQ(p, nullptr);
}

// ---- bad launch arguments, on real device buffers ------------------------------------------

// A plan and a valid launch of every kernel: first the specialised variant (where the
// kernel has a set), then the generic kernel.
struct ValidLaunch {
  kiln_kernel_desc kernel;
  bool specialised;
  PlanPtr plan;
  std::unique_ptr<Workspace> ws;
  kiln_args args;
};

std::vector<ValidLaunch> valid_launches(int64_t tokens) {
  std::vector<ValidLaunch> out;
  std::mt19937_64 rng(17);
  for (const kiln_kernel_desc& k : registry()) {
    std::vector<std::pair<int64_t, kiln_set_policy>> plans;
    if (const auto h = tuned_hidden(k.name)) plans.push_back({*h, KILN_SET_EXACT});
    plans.push_back({untuned_hidden(k.name, 1000), KILN_SET_EXACT});
    for (auto [hidden, policy] : plans) {
      ValidLaunch v{k, policy == KILN_SET_EXACT && has_set(k.name, hidden), {}, nullptr, {}};
      EXPECT_EQ(make_plan(v.plan, k.name, hidden, DType::bf16, policy), KILN_SUCCESS) << kiln_last_error();
      v.ws = std::make_unique<Workspace>(k, DType::bf16, hidden, tokens);
      v.ws->randomise(rng, false);
      EXPECT_EQ(v.ws->upload(), "");
      v.args = v.ws->args(1e-6f);
      out.push_back(std::move(v));
    }
  }
  return out;
}

TEST(Gpu, TensorsForRolesTheKernelLacksAreRejected) {
  REQUIRE_GPU();
  DeviceBuffer spare(4096);
  for (ValidLaunch& v : valid_launches(4)) {
    ASSERT_EQ(kiln_launch(v.plan.p, &v.args, nullptr), KILN_SUCCESS) << v.kernel.name << ": " << kiln_last_error();
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      if (tensor_for(v.kernel, role)) continue;
      kiln_args bad = v.args;
      bad.tensors[role] = spare.ptr;
      EXPECT_EQ(kiln_launch(v.plan.p, &bad, nullptr), KILN_ERROR_INVALID_ARGUMENT) << v.kernel.name << " role " << role;
      EXPECT_NE(std::string(kiln_last_error()).find("tensors[" + std::to_string(role) + "] must be NULL"), std::string::npos)
          << kiln_last_error();
    }
  }
  CUDA_OK(cudaDeviceSynchronize());
}

TEST(Gpu, NullAndMisalignedTensorsAreRejected) {
  REQUIRE_GPU();
  for (ValidLaunch& v : valid_launches(4)) {
    const std::string what = std::string(v.kernel.name) + (v.specialised ? " (specialised)" : " (generic)");
    ASSERT_EQ(kiln_launch(v.plan.p, &v.args, nullptr), KILN_SUCCESS) << what << ": " << kiln_last_error();
    for (int32_t i = 0; i < v.kernel.tensor_count; ++i) {
      const kiln_tensor_desc& t = v.kernel.tensors[i];
      kiln_args bad = v.args;
      bad.tensors[t.role] = nullptr;
      if (t.optional) {  // NULL is allowed: the kernel goes without it
        EXPECT_EQ(kiln_launch(v.plan.p, &bad, nullptr), KILN_SUCCESS) << what << " " << t.name << ": " << kiln_last_error();
      } else {
        EXPECT_EQ(kiln_launch(v.plan.p, &bad, nullptr), KILN_ERROR_NULL_POINTER) << what << " " << t.name;
        EXPECT_NE(std::string(kiln_last_error()).find(t.name), std::string::npos) << kiln_last_error();
      }
      // A specialised variant needs the declared alignment, the generic kernel the element's.
      const size_t elem = ref::elem_bytes(t.elem);
      const size_t need = v.specialised ? static_cast<size_t>(t.alignment) : elem;
      for (size_t shift : {size_t{1}, elem}) {
        bad = v.args;
        bad.tensors[t.role] = static_cast<unsigned char*>(v.args.tensors[t.role]) + shift;  // the guard after it has room
        const kiln_status want = shift % need ? KILN_ERROR_MISALIGNED_POINTER : KILN_SUCCESS;
        EXPECT_EQ(kiln_launch(v.plan.p, &bad, nullptr), want) << what << " " << t.name << " + " << shift << " bytes: "
                                                               << kiln_last_error();
      }
    }
    CUDA_OK(cudaDeviceSynchronize());
  }
}

// A tensor the kernel writes must not overlap another tensor of the launch; tensors it
// only reads may overlap each other; tensors that touch do not overlap.
TEST(Gpu, OverlappingTensorsAreRejected) {
  REQUIRE_GPU();
  constexpr int64_t kTokens = 4;
  for (ValidLaunch& v : valid_launches(kTokens)) {
    const kiln_kernel_desc& k = v.kernel;
    // Every tensor back to back in one buffer, 16-byte aligned.
    std::array<size_t, KILN_ROLE_SLOTS> at{}, size{};
    size_t total = 0;
    for (int32_t i = 0; i < k.tensor_count; ++i) {
      const kiln_tensor_desc& t = k.tensors[i];
      size[t.role] = v.ws->bytes(t.role);
      at[t.role] = total;
      total += (size[t.role] + 15) / 16 * 16;
    }
    DeviceBuffer block(total + 256);
    ASSERT_NE(block.ptr, nullptr);
    CUDA_OK(cudaMemset(block.ptr, 0, block.bytes));
    kiln_args packed = v.args;
    for (int32_t i = 0; i < k.tensor_count; ++i) packed.tensors[k.tensors[i].role] = block.at(at[k.tensors[i].role]);
    ASSERT_EQ(kiln_launch(v.plan.p, &packed, nullptr), KILN_SUCCESS)
        << k.name << ": tensors back to back (touching where a size is a multiple of 16): " << kiln_last_error();
    for (int32_t i = 0; i < k.tensor_count; ++i)
      for (int32_t j = 0; j < k.tensor_count; ++j) {
        if (i == j) continue;
        const kiln_tensor_desc &a = k.tensors[i], &b = k.tensors[j];
        const bool allowed = !writes(a) && !writes(b);
        // b starts where a starts, then 16 bytes into a (where a is longer than that).
        for (size_t into : {size_t{0}, size_t{16}}) {
          if (into >= size[a.role]) continue;
          if (allowed && into + size[b.role] > size[a.role]) continue;  // would launch past a into the rest
          kiln_args bad = packed;
          bad.tensors[b.role] = block.at(at[a.role] + into);
          const kiln_status s = kiln_launch(v.plan.p, &bad, nullptr);
          if (allowed) {
            EXPECT_EQ(s, KILN_SUCCESS) << k.name << ": " << b.name << " inside " << a.name
                                       << " (both only read): " << kiln_last_error();
          } else {
            EXPECT_EQ(s, KILN_ERROR_ALIASING) << k.name << ": " << b.name << " " << into << " bytes into " << a.name;
            EXPECT_NE(std::string(kiln_last_error()).find("overlaps"), std::string::npos) << kiln_last_error();
          }
        }
      }
    CUDA_OK(cudaDeviceSynchronize());
  }
}

TEST(Gpu, LaunchFromAnotherCurrentDeviceIsRefused) {
  REQUIRE_GPU();
  if (device_count() < 2)
    GTEST_SKIP() << "needs two GPUs to make another device current; this machine has " << device_count();
  CUDA_OK(cudaSetDevice(0));
  std::mt19937_64 rng(19);
  for (const kiln_kernel_desc& k : registry()) {
    const int64_t hidden = tuned_hidden(k.name).value_or(4096);
    PlanPtr plan;
    ASSERT_EQ(make_plan(plan, k.name, hidden, DType::bf16, KILN_SET_EXACT, {}, 0), KILN_SUCCESS) << kiln_last_error();
    Workspace ws(k, DType::bf16, hidden, 8);
    ASSERT_TRUE(ws.allocated());
    ws.randomise(rng, false);
    ASSERT_EQ(ws.upload(), "");
    kiln_args args = ws.args(1e-6f);
    CUDA_OK(cudaSetDevice(1));
    EXPECT_EQ(kiln_launch(plan.p, &args, nullptr), KILN_ERROR_WRONG_DEVICE) << k.name;
    EXPECT_NE(std::string(kiln_last_error()).find("current device is 1"), std::string::npos) << kiln_last_error();
    args.tokens = 0;  // launches nothing: no device involved
    EXPECT_EQ(kiln_launch(plan.p, &args, nullptr), KILN_SUCCESS) << kiln_last_error();
    args.tokens = 8;
    CUDA_OK(cudaSetDevice(0));
    EXPECT_EQ(kiln_launch(plan.p, &args, nullptr), KILN_SUCCESS) << kiln_last_error();
    CUDA_OK(cudaDeviceSynchronize());
    const ref::Problem p = ws.problem(1e-6f, {});
    EXPECT_EQ(ws.check(p, ref::reference(p)), "");
  }
}

}  // namespace
