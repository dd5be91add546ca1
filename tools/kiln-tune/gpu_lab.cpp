// kiln-tune's own lab: the GPU. The device through the driver (measure/device.h), the
// candidate libraries through the Builder (nvcc), and in each worker a GpuBench that
// dlopens one library and checks and times its candidates. Everything a GpuBench knows
// about a kernel comes from the library's descriptor (kiln_kernel_find: tensors by role)
// and the CPU reference (reference/include/kiln_ref): no kernel is named here.
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <type_traits>

#include "kiln/kiln.h"
#include "kiln_ref/reference.h"
#include "lab.h"
#include "runner.h"

namespace kiln_tune {
namespace {
namespace fs = std::filesystem;
using kiln::detail::LaunchParams;
using kiln::ref::DType;

constexpr uint8_t kPoison = 0x7f;    // every byte of a written tensor before a check: fp8 NaN, fp16 NaN, bf16 ~3e38
constexpr std::size_t kGuard = 256;  // poisoned bytes before a written tensor
constexpr int64_t kSpareRows = 64;   // poisoned rows after it (>= any rows_per_cta)
constexpr float kEps = 1e-6f;

// ---- the candidate library ---------------------------------------------------------

// The runner's functions, looked up in the candidate library.
struct Runner {
  decltype(&kt_runner_version) version = nullptr;
  decltype(&kt_error_name) error_name = nullptr;
  decltype(&kt_init) init = nullptr;
  decltype(&kt_broken) broken = nullptr;
  decltype(&kt_malloc) malloc = nullptr;
  decltype(&kt_upload) upload = nullptr;
  decltype(&kt_download) download = nullptr;
  decltype(&kt_memset) memset = nullptr;
  decltype(&kt_copy) copy = nullptr;
  decltype(&kt_run) run = nullptr;
  decltype(&kt_time) time = nullptr;
  decltype(&kt_ceiling) ceiling = nullptr;
  decltype(&kt_floor) floor = nullptr;
  const kt_candidate* candidates = nullptr;
  int count = 0;
};

std::string load_runner(const fs::path& library, Runner& r) {
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return std::string("dlopen: ") + dlerror();
  std::string missing;
  auto get = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  get(r.version, "kt_runner_version");
  get(r.error_name, "kt_error_name");
  get(r.init, "kt_init");
  get(r.broken, "kt_broken");
  get(r.malloc, "kt_malloc");
  get(r.upload, "kt_upload");
  get(r.download, "kt_download");
  get(r.memset, "kt_memset");
  get(r.copy, "kt_copy");
  get(r.run, "kt_run");
  get(r.time, "kt_time");
  get(r.ceiling, "kt_ceiling");
  get(r.floor, "kt_floor");
  r.candidates = static_cast<const kt_candidate*>(dlsym(lib, "kt_candidates"));
  const int* count = static_cast<const int*>(dlsym(lib, "kt_candidate_count"));
  if (!r.candidates || !count) missing += ", kt_candidates";
  if (!missing.empty()) return library.string() + " lacks " + missing;
  r.count = *count;
  if (r.version() != KT_RUNNER_VERSION) return "runner version mismatch: rebuild the candidate library";
  return "";
}

// The kiln_args role of a tensor, as the runtime passes it to a launcher.
void set_role(LaunchParams& p, kiln_role role, void* data) {
  switch (role) {
    case KILN_ROLE_INPUT: p.input = data; return;
    case KILN_ROLE_WEIGHT: p.weight = data; return;
    case KILN_ROLE_RESIDUAL: p.residual = data; return;
    case KILN_ROLE_OUTPUT: p.output = data; return;
    case KILN_ROLE_SCALES: p.scales = data; return;
    case KILN_ROLE_SCALE: p.scale = static_cast<const float*>(data); return;
    case KILN_ROLE_SCALE_UB: p.scale_ub = static_cast<const float*>(data); return;
  }
}

bool writes(const kiln_tensor_desc& t) { return t.direction != KILN_DIR_IN; }
bool reads(const kiln_tensor_desc& t) { return t.direction != KILN_DIR_OUT; }

// ---- one tensor on the device ------------------------------------------------------

// A tensor's [rows, cols] and element bytes at (hidden, tokens): the library's answer.
struct Shape {
  int64_t rows = 0, cols = 0, elem = 0;
  std::size_t bytes() const { return static_cast<std::size_t>(rows * cols * elem); }
};
Shape shape_of(const kiln_tensor_desc& t, int64_t hidden, int64_t tokens) {
  Shape s;
  if (kiln_tensor_shape(&t, hidden, tokens, &s.rows, &s.cols, &s.elem) != KILN_SUCCESS)
    throw BenchFailure{std::string("kiln_tensor_shape: ") + kiln_last_error()};
  return s;
}

// A tensor of the launch in device memory, room for `capacity` tokens: a tensor the
// kernel writes has poisoned guard bytes before it and spare rows after it.
struct DeviceTensor {
  const kiln_tensor_desc* desc = nullptr;
  int64_t hidden = 0;
  uint8_t* base = nullptr;  // [guard | rows | spare rows]

  bool per_token() const { return desc->rows == KILN_EXTENT_TOKENS; }
  std::size_t row_bytes() const {
    const Shape one_row = shape_of(*desc, hidden, 1);
    return static_cast<std::size_t>(one_row.cols * one_row.elem);
  }
  int64_t rows(int64_t tokens) const { return shape_of(*desc, hidden, tokens).rows; }
  std::size_t bytes(int64_t tokens) const { return static_cast<std::size_t>(rows(tokens)) * row_bytes(); }
  std::size_t guard() const { return writes(*desc) ? kGuard : 0; }
  std::size_t spare() const { return writes(*desc) && per_token() ? kSpareRows * row_bytes() : 0; }
  std::size_t span(int64_t tokens) const { return guard() + bytes(tokens) + spare(); }
  uint8_t* data() const { return base + guard(); }
};

// ---- the check data of one dtype ---------------------------------------------------

// Inputs on the host for the largest check count, by role; the reference for them; and
// what the reference rounds to, by role, so that the common case compares bytes.
struct CheckData {
  DType dtype = DType::bf16;
  std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> inputs;
  kiln::ref::Problem problem;  // tokens = the largest check count
  kiln::ref::Expected want;
  std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> want_bytes;
};

// One dtype's inputs and reference, and the timing tensors filled from them, which also hold
// the check inputs on the device.
struct PerDtype {
  CheckData check;
  // The reference cut to a smaller check count, made once on first use: a check compares with
  // the reference element by element only when some byte differs from the rounded reference
  // (fp8 values near a rounding tie), and copying the cut for every candidate cost as much as
  // the comparison.
  std::map<int64_t, kiln::ref::Expected> cut;
  std::vector<DeviceTensor> timing;  // room for the largest count timed
  std::vector<void*> pristine;       // per timing tensor: its starting values when the kernel writes over it

  // Tensor k's inputs on the device, starting with the check rows: the timing tensors begin with
  // them (prepare_timing), and where a timing kernel writes over one, its pristine copy does. A check
  // puts them back with a device copy; uploading them from the host cost a PCIe round trip per count.
  const void* starting_values(std::size_t k) const { return pristine[k] ? pristine[k] : timing[k].data(); }
};

// The reference's value in the tensor's element type, as the kernel stores it.
void store_rounded(const kiln_tensor_desc& t, DType d, double v, uint8_t* out) {
  switch (t.elem) {
    case KILN_ELEM_ACTIVATION: {
      const uint16_t b = kiln::ref::round_bits(d, v);
      std::memcpy(out, &b, 2);
      return;
    }
    case KILN_ELEM_FP8_E4M3: *out = kiln::ref::double_to_fp8(v); return;
    case KILN_ELEM_F32: {
      const float f = static_cast<float>(v);
      std::memcpy(out, &f, 4);
      return;
    }
    case KILN_ELEM_I32: {
      const int32_t i = static_cast<int32_t>(v);
      std::memcpy(out, &i, 4);
      return;
    }
  }
}

// ---- the bench ---------------------------------------------------------------------

class GpuBench final : public Bench {
 public:
  explicit GpuBench(WorkerSpec spec) : spec_(std::move(spec)) {}

  // Everything before "ready": the kernel, the library, the context, buffers, references.
  std::string prepare() {
    desc_.struct_size = sizeof desc_;
    if (kiln_kernel_find(spec_.kernel.c_str(), &desc_) != KILN_SUCCESS)
      return std::string("kiln_kernel_find: ") + kiln_last_error();
    for (int32_t i = 0; i < desc_.tensor_count; ++i)
      if (!desc_.tensors[i].optional) required_.push_back(desc_.tensors[i]);
    if (!kiln::ref::has_reference(spec_.kernel))
      return "no CPU reference for " + spec_.kernel + " (reference/include/kiln_ref/reference.h)";
    check_rows_ = 1;
    for (int64_t t : spec_.check_tokens) check_rows_ = std::max(check_rows_, t);
    rows_ = std::max(check_rows_, spec_.max_tokens);

    if (std::string e = load_runner(spec_.library, r_); !e.empty()) return e;
    if (r_.count != static_cast<int>(spec_.schedules.size())) return "the library's table does not match the candidates";
    for (int i = 0; i < r_.count; ++i)
      if (spec_.schedules[i] != r_.candidates[i].schedule)
        return "table row " + std::to_string(i) + " is " + r_.candidates[i].schedule + ", expected " + spec_.schedules[i];
    if (int e = r_.init(spec_.device)) return std::string("CUDA initialisation: ") + r_.error_name(e);
    try {
      for (DType d : {DType::bf16, DType::fp16}) dtypes_.push_back({make_data(d), {}, {}, {}});
      check_ = allocate(check_rows_);
      for (PerDtype& x : dtypes_) {
        x.timing = allocate(rows_);
        prepare_timing(x);
      }
      for (const DeviceTensor& b : check_)
        if (writes(*b.desc)) got_[b.desc->role].resize(b.span(check_rows_));
    } catch (const BenchFailure& f) {
      return f.why;
    }
    return "";
  }

  int count() const override { return r_.count; }

  void check(int row) override {
    for (int64_t t : spec_.check_tokens) check_one(row, dtypes_[0], t);
    // fp16 shares the schedule: a smaller set of sizes is enough.
    for (int64_t t : {std::min<int64_t>(17, check_rows_), check_rows_}) check_one(row, dtypes_[1], t);
  }

  // The mean of the times in bf16 and in fp16: one schedule serves both, and the compiler's
  // code for the two can differ in registers and load order (H200: one add kind's schedule
  // reached 99 % of the copy ceiling in bf16 and 79 % in fp16).
  ReplayTime time(int row, int64_t tokens, int launches, int replays, double warmup_ms) override {
    if (tokens < 1 || tokens > rows_) throw BenchFailure{"tokens out of range"};
    ReplayTime mean;
    for (const PerDtype& x : dtypes_) {
      const LaunchParams p = params(x.check.dtype, x.timing, tokens);
      std::vector<kt_restore> restores;
      for (std::size_t k = 0; k < x.timing.size(); ++k)
        if (x.pristine[k]) restores.push_back({x.timing[k].data(), x.pristine[k], x.timing[k].bytes(tokens)});
      ReplayTime t;
      if (int e = r_.time(r_.candidates[row].launch, &p, launches, replays, warmup_ms, restores.data(),
                          static_cast<int>(restores.size()), &t.median_us, &t.min_us))
        throw BenchFailure{std::string("timing: ") + r_.error_name(e)};
      mean.median_us += t.median_us / static_cast<double>(dtypes_.size());
      mean.min_us += t.min_us / static_cast<double>(dtypes_.size());
    }
    return mean;
  }

  CopyCeiling ceiling(std::size_t bytes) override {
    CopyCeiling c;
    if (int e = r_.ceiling(bytes, &c.gbps, &c.kernel_gbps, &c.memcpy_gbps))
      throw BenchFailure{std::string("copy ceiling: ") + r_.error_name(e)};
    return c;
  }

  double floor_us() override {
    double us = 0;
    if (int e = r_.floor(20, 30, &us)) throw BenchFailure{std::string("launch floor: ") + r_.error_name(e)};
    return us;
  }

  bool broken() override { return r_.broken() != 0; }

 private:
  // The tensors a launch passes: an optional one (a scale_ub role) is left out,
  // as a caller without it would, so candidates are tuned and checked on the common path.
  std::span<const kiln_tensor_desc> tensors() const { return required_; }

  void must(int e) const {
    if (e) throw BenchFailure{r_.error_name(e)};
  }

  void* alloc(std::size_t bytes) {
    void* p = nullptr;
    must(r_.malloc(&p, std::max<std::size_t>(bytes, 1)));
    return p;
  }

  std::vector<DeviceTensor> allocate(int64_t tokens) {
    std::vector<DeviceTensor> out;
    for (const kiln_tensor_desc& t : tensors()) {
      DeviceTensor d{&t, spec_.hidden, nullptr};
      d.base = static_cast<uint8_t*>(alloc(d.span(tokens)));
      out.push_back(d);
    }
    return out;
  }

  // Random inputs of one dtype for the largest check count (never zero; the weight in
  // [0.25, 1.75]), the per-tensor scale chosen so that the fp8 outputs span the fp8 range
  // with a few saturating, and the reference.
  CheckData make_data(DType d) {
    CheckData c;
    c.dtype = d;
    const uint64_t seed = spec_.seed * 2654435761u + (d == DType::bf16 ? 0 : 1);
    for (const kiln_tensor_desc& t : tensors()) {
      if (!reads(t)) continue;
      const Shape shape = shape_of(t, spec_.hidden, check_rows_);
      const int64_t rows = shape.rows, cols = shape.cols;
      std::vector<uint8_t>& host = c.inputs[t.role];
      host.resize(shape.bytes());
      if (t.role == KILN_ROLE_SCALE && t.elem == KILN_ELEM_F32 && rows * cols == 1) continue;  // below
      if (t.elem != KILN_ELEM_ACTIVATION)
        throw BenchFailure{"the worker has no inputs for " + std::string(t.name) + " of " + spec_.kernel};
      auto* values = reinterpret_cast<uint16_t*>(host.data());
      const bool weight = t.role == KILN_ROLE_WEIGHT;
      kiln::ref::for_each_row(rows, [&](int64_t r) {
        std::mt19937_64 rng(seed * 1000003u + static_cast<uint64_t>(t.role) * 7919u + static_cast<uint64_t>(r));
        std::uniform_real_distribution<float> in(weight ? 0.25f : -3.0f, weight ? 1.75f : 3.0f);
        for (int64_t i = 0; i < cols; ++i) {
          float v = in(rng);
          if (std::fabs(v) < 1e-3f) v = std::copysign(1e-3f, v);  // random, never zero
          values[r * cols + i] = kiln::ref::from_float(d, v);
        }
      });
    }
    c.problem.kernel = spec_.kernel;
    c.problem.dtype = d;
    c.problem.tokens = check_rows_;
    c.problem.hidden = spec_.hidden;
    c.problem.eps = kEps;
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role)
      c.problem.inputs[role] = c.inputs[role].empty() ? nullptr : c.inputs[role].data();
    if (!c.inputs[KILN_ROLE_SCALE].empty()) set_scale(c, calibrated_scale(c));
    try {
      c.want = kiln::ref::reference(c.problem);
    } catch (const std::exception& e) {
      throw BenchFailure{e.what()};
    }
    for (const kiln_tensor_desc& t : tensors()) {
      if (!writes(t)) continue;
      const std::vector<double>& value = c.want.roles[t.role].value;
      const std::size_t size = static_cast<std::size_t>(shape_of(t, spec_.hidden, 1).elem);
      std::vector<uint8_t>& bytes = c.want_bytes[t.role];
      bytes.resize(value.size() * size);
      for (std::size_t i = 0; i < value.size(); ++i) store_rounded(t, d, value[i], bytes.data() + i * size);
    }
    return c;
  }

  void set_scale(CheckData& c, float scale) const {
    std::memcpy(c.inputs[KILN_ROLE_SCALE].data(), &scale, sizeof scale);
  }

  // The scale that maps the largest fp8 output of the reference at scale 1 to 500: the
  // outputs span the fp8 range and the largest few saturate at 448.
  float calibrated_scale(CheckData& c) const {
    set_scale(c, 1.0f);
    kiln::ref::Expected unit;
    try {
      unit = kiln::ref::reference(c.problem);
    } catch (const std::exception& e) {
      throw BenchFailure{e.what()};
    }
    double largest = 0;
    for (const kiln_tensor_desc& t : tensors())
      if (writes(t) && t.elem == KILN_ELEM_FP8_E4M3)
        for (double v : unit.roles[t.role].value)
          if (std::isfinite(v)) largest = std::max(largest, std::fabs(v));
    return largest > 0 ? static_cast<float>(largest / 500.0) : 1.0f;
  }

  LaunchParams params(DType d, const std::vector<DeviceTensor>& buffers, int64_t tokens) const {
    LaunchParams p{};
    p.dtype = d == DType::bf16 ? kiln::detail::DType::bf16 : kiln::detail::DType::fp16;
    for (const DeviceTensor& b : buffers) set_role(p, b.desc->role, b.data());
    p.tokens = tokens;
    p.hidden = spec_.hidden;
    p.eps = kEps;
    p.rounding = kiln::detail::Rounding::single;
    p.gemma = false;
    // Group quantisers at the plan defaults (group 128, row-major fp32 scales), as a plan
    // with kiln_plan_options_init's values resolves them; the reference assumes the same.
    if (desc_.options & KILN_OPTION_GROUP) p.group_size = KILN_DEFAULT_GROUP_SIZE;
    return p;
  }

  // One dtype's timing inputs: its check rows repeated over every row timed, and for each
  // tensor the kernel writes over, a pristine copy that every replay starts from.
  void prepare_timing(PerDtype& x) {
    x.pristine.assign(x.timing.size(), nullptr);
    for (std::size_t k = 0; k < x.timing.size(); ++k) {
      const DeviceTensor& b = x.timing[k];
      if (!reads(*b.desc)) continue;
      const std::vector<uint8_t>& host = x.check.inputs[b.desc->role];
      must(r_.upload(b.data(), host.data(), host.size()));
      if (b.per_token())
        for (int64_t done = check_rows_; done < rows_;) {
          const int64_t n = std::min(done, rows_ - done);
          must(r_.copy(b.data() + done * b.row_bytes(), b.data(), static_cast<std::size_t>(n) * b.row_bytes()));
          done += n;
        }
      if (writes(*b.desc)) {
        x.pristine[k] = alloc(b.bytes(rows_));
        must(r_.copy(x.pristine[k], b.data(), b.bytes(rows_)));
      }
    }
  }

  // Poisoned outputs, the inputs of `tokens` rows, one launch; nothing written around the
  // written tensors; then every written byte against the reference. Throws when wrong.
  // The written bytes land in got_, host buffers sized once for the largest count.
  void check_one(int row, PerDtype& x, int64_t tokens) {
    const CheckData& c = x.check;
    const std::string at = std::string(kiln::ref::dtype_name(c.dtype)) + " tokens=" + std::to_string(tokens);
    for (std::size_t k = 0; k < check_.size(); ++k) {
      const DeviceTensor& b = check_[k];
      if (writes(*b.desc)) must(r_.memset(b.base, kPoison, b.span(tokens)));
      if (reads(*b.desc)) must(r_.copy(b.data(), x.starting_values(k), b.bytes(tokens)));
    }
    const LaunchParams p = params(c.dtype, check_, tokens);
    if (int e = r_.run(r_.candidates[row].launch, &p)) throw BenchFailure{at + ": " + r_.error_name(e)};

    bool same = true;
    for (const DeviceTensor& b : check_) {
      if (!writes(*b.desc)) continue;
      uint8_t* g = got_[b.desc->role].data();
      const std::size_t span = b.span(tokens);
      must(r_.download(g, b.base, span));
      const std::string name = b.desc->name;
      for (std::size_t i = 0; i < b.guard(); ++i)
        if (g[i] != kPoison) throw BenchFailure{at + ": wrote before " + name};
      for (std::size_t i = b.guard() + b.bytes(tokens); i < span; ++i)
        if (g[i] != kPoison)
          throw BenchFailure{at + ": wrote past the last row of " + name + " (row " +
                             std::to_string(tokens + (i - b.guard() - b.bytes(tokens)) / b.row_bytes()) + ")"};
      same = same && std::memcmp(g + b.guard(), c.want_bytes[b.desc->role].data(), b.bytes(tokens)) == 0;
    }
    if (same) return;  // the common case: every byte is the rounded reference
    if (std::string e = compare(x, tokens); !e.empty()) throw BenchFailure{at + ": " + e};
  }

  // The reference of the first `tokens` rows: all of it at the largest check count, else its
  // cut, made on first use.
  const kiln::ref::Expected& reference_of(PerDtype& x, int64_t tokens) const {
    const kiln::ref::Expected& full = x.check.want;
    if (tokens == check_rows_) return full;
    auto [it, made] = x.cut.try_emplace(tokens);
    kiln::ref::Expected& want = it->second;
    if (!made) return want;
    want.tie_window = full.tie_window;
    for (const DeviceTensor& b : check_) {
      if (!writes(*b.desc)) continue;
      const auto n = static_cast<std::size_t>(kiln::ref::tensor_elems(*b.desc, tokens, spec_.hidden));
      want.roles[b.desc->role] = full.roles[b.desc->role].first(n);
    }
    return want;
  }

  // The reference's own rule (kiln::ref::check) on the first `tokens` rows of got_.
  std::string compare(PerDtype& x, int64_t tokens) const {
    kiln::ref::Problem p = x.check.problem;
    p.tokens = tokens;
    kiln::ref::Tensors outputs{};
    for (const DeviceTensor& b : check_)
      if (writes(*b.desc)) outputs[b.desc->role] = got_[b.desc->role].data() + b.guard();
    return kiln::ref::check(desc_, p, outputs, reference_of(x, tokens));
  }

  WorkerSpec spec_;
  kiln_kernel_desc desc_{};
  std::vector<kiln_tensor_desc> required_;  // desc_'s tensors without the optional ones (tensors())
  Runner r_;
  int64_t check_rows_ = 1, rows_ = 1;
  std::vector<PerDtype> dtypes_;     // bf16, fp16
  std::vector<DeviceTensor> check_;  // with guards, room for the largest check count
  std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> got_;  // by role: a check's written bytes, downloaded
};

class GpuLab final : public Lab {
 public:
  std::optional<kiln::measure::DeviceInfo> probe(int index, std::string& why) const override {
    return kiln::measure::probe_device(index, why);
  }

  std::shared_future<BuiltSet> build(Builder& builder, const CandidateSet& set) const override {
    return builder.submit(set);
  }

  std::unique_ptr<Bench> open(const WorkerSpec& spec, std::string& why) const override {
    auto bench = std::make_unique<GpuBench>(spec);
    why = bench->prepare();
    if (!why.empty()) return nullptr;
    return bench;
  }
};

}  // namespace

const Lab& gpu_lab() {
  static const GpuLab lab;
  return lab;
}

}  // namespace kiln_tune
