// GPU tests: every config set compiled into this library and the generic kernel at
// odd sizes, against the double-precision CPU reference on random data with
// poisoned outputs; CUDA-graph replay with inputs and scale changed in place;
// a PDL predecessor that writes the input late; launches from several threads.
// Every test skips cleanly when there is no GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/reference.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tables.h"

using kiln::test::DType;

namespace {

#define CUDA_OK(call)                                                                   \
  do {                                                                                  \
    const cudaError_t err_ = (call);                                                    \
    ASSERT_EQ(err_, cudaSuccess) << #call << ": " << cudaGetErrorString(err_);          \
  } while (0)

bool has_gpu() {
  static const bool present = [] {
    int n = 0;
    const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
  }();
  return present;
}

#define REQUIRE_GPU() \
  if (!has_gpu()) GTEST_SKIP() << "no CUDA device"

std::string device_arch() {
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  return "sm" + std::to_string(major * 10 + minor);
}

constexpr uint8_t kPoison = 0x7f;  // fp8 NaN: no finite input produces it
constexpr size_t kGuard = 256;     // poisoned bytes around every output

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t n) : bytes(n) {
    if (cudaMalloc(&ptr, n) != cudaSuccess) ptr = nullptr;
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  unsigned char* bytes_at(size_t offset) const { return static_cast<unsigned char*>(ptr) + offset; }
};

kiln_dtype api_dtype(DType d) { return d == DType::bf16 ? KILN_DTYPE_BF16 : KILN_DTYPE_FP16; }
const char* dtype_name(DType d) { return d == DType::bf16 ? "bf16" : "fp16"; }
bool is_rms(const std::string& kernel) { return kernel == "rms_norm_fp8"; }

// One problem: random inputs on the host, their copies on the device, the reference.
struct Problem {
  std::string kernel;
  DType dtype;
  int64_t hidden, tokens;
  size_t in_offset = 0;   // elements: 1 makes every input row start misaligned
  size_t out_offset = 0;  // bytes
  float scale = 1.0f, eps = 1e-6f;
  std::vector<uint16_t> x, w;
  std::vector<double> ref;
  DeviceBuffer *dx = nullptr, *dw = nullptr, *dout = nullptr, *dscale = nullptr;

  Problem(std::string k, DType d, int64_t h, int64_t t, size_t in_off = 0, size_t out_off = 0)
      : kernel(std::move(k)), dtype(d), hidden(h), tokens(t), in_offset(in_off), out_offset(out_off) {}
  Problem(const Problem&) = delete;
  Problem& operator=(const Problem&) = delete;

  int64_t width() const { return is_rms(kernel) ? hidden : 2 * hidden; }

  void randomise(std::mt19937_64& rng) {
    std::uniform_real_distribution<float> in(is_rms(kernel) ? -3.0f : -6.0f, is_rms(kernel) ? 3.0f : 6.0f);
    std::uniform_real_distribution<float> wd(0.25f, 1.75f), sd(0.004f, 0.5f), ed(1e-6f, 1e-5f);
    x.resize(static_cast<size_t>(tokens * width()));
    // One generator per row, seeded from the shared one, so rows fill in parallel.
    const uint64_t seed = rng();
    kiln::test::for_each_row(tokens, [&](int64_t t) {
      std::mt19937_64 row_rng(seed + static_cast<uint64_t>(t));
      auto row_in = in;
      for (int64_t i = 0; i < width(); ++i) x[t * width() + i] = kiln::test::from_float(dtype, row_in(row_rng));
    });
    w.resize(static_cast<size_t>(hidden));
    for (auto& v : w) v = kiln::test::from_float(dtype, wd(rng));
    scale = sd(rng);
    eps = ed(rng);
    recompute();
  }

  void recompute() {
    if (is_rms(kernel)) kiln::test::rms_norm_fp8_reference(dtype, x, w, tokens, hidden, eps, scale, ref);
    else kiln::test::silu_mul_fp8_reference(dtype, x, tokens, hidden, scale, ref);
  }

  void allocate() {
    dx = new DeviceBuffer((x.size() + in_offset) * 2);
    dw = new DeviceBuffer((w.size() + in_offset) * 2);
    dout = new DeviceBuffer(static_cast<size_t>(tokens * hidden) + out_offset + 2 * kGuard);
    dscale = new DeviceBuffer(sizeof(float));
  }
  ~Problem() { delete dx; delete dw; delete dout; delete dscale; }

  void upload() const {
    cudaMemcpy(input(), x.data(), x.size() * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(weight(), w.data(), w.size() * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(dscale->ptr, &scale, sizeof scale, cudaMemcpyHostToDevice);
    cudaMemset(dout->ptr, kPoison, dout->bytes);
  }
  void* input() const { return dx->bytes_at(in_offset * 2); }
  void* weight() const { return dw->bytes_at(in_offset * 2); }
  void* output() const { return dout->bytes_at(kGuard + out_offset); }
  const float* scale_ptr() const { return static_cast<const float*>(dscale->ptr); }

  kiln_status launch(const kiln_plan* plan, cudaStream_t stream = nullptr) const {
    kiln_args a;
    kiln_args_init(&a);
    a.input = input();
    a.weight = is_rms(kernel) ? weight() : nullptr;
    a.output = output();
    a.scale = scale_ptr();
    a.tokens = tokens;
    a.hidden = hidden;
    a.eps = eps;
    return kiln_launch(plan, &a, stream);
  }

  std::string label() const {
    std::ostringstream s;
    s << kernel << " " << dtype_name(dtype) << " hidden=" << hidden << " tokens=" << tokens;
    if (in_offset || out_offset) s << " (misaligned)";
    return s.str();
  }

  // Every output byte against the reference; guards untouched. Returns "" when right.
  std::string check(int* near_ties = nullptr) const {
    std::vector<uint8_t> got(dout->bytes);
    if (cudaMemcpy(got.data(), dout->ptr, got.size(), cudaMemcpyDeviceToHost) != cudaSuccess) return "copy back failed";
    const size_t begin = kGuard + out_offset, n = static_cast<size_t>(tokens * hidden);
    for (size_t i = 0; i < begin; ++i)
      if (got[i] != kPoison) return label() + ": wrote before the output, byte " + std::to_string(i);
    for (size_t i = begin + n; i < got.size(); ++i)
      if (got[i] != kPoison) return label() + ": wrote past the output, byte " + std::to_string(i - begin - n);
    // fp32 accumulation of the sum of squares moves rms results more than silu's.
    const double window = is_rms(kernel) ? std::ldexp(1.0, -16) : std::ldexp(1.0, -18);
    // Rows are checked in parallel; each marks its bad bytes, reported in order below.
    std::vector<uint8_t> wrong(n, 0);
    std::vector<int> row_ties(static_cast<size_t>(tokens), 0);
    kiln::test::for_each_row(tokens, [&](int64_t t) {
      for (int64_t j = 0; j < hidden; ++j) {
        const size_t i = static_cast<size_t>(t * hidden + j);
        bool tie = false;
        if (!kiln::test::fp8_matches(got[begin + i], ref[i], window, &tie)) wrong[i] = 1;
        row_ties[t] += tie;
      }
    });
    int ties = 0, bad = 0;
    for (int v : row_ties) ties += v;
    std::ostringstream first;
    for (size_t i = 0; i < n; ++i) {
      if (!wrong[i]) continue;
      if (bad++ == 0)
        first << label() << ": out[" << i / hidden << ", " << i % hidden << "] = 0x" << std::hex << int(got[begin + i])
              << " (" << kiln::test::fp8_to_double(got[begin + i]) << "), reference " << ref[i] << " -> 0x"
              << int(kiln::test::double_to_fp8(ref[i])) << std::dec;
    }
    if (near_ties) *near_ties = ties;
    if (bad) return first.str() + " (" + std::to_string(bad) + " of " + std::to_string(n) + " wrong)";
    return "";
  }
};

struct PlanPtr {
  kiln_plan* p = nullptr;
  ~PlanPtr() { kiln_plan_destroy(p); }
};

kiln_status make_plan(PlanPtr& out, const std::string& kernel, int64_t hidden, DType dtype,
                      kiln_set_policy policy = KILN_SET_EXACT) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel.c_str();
  o.hidden = hidden;
  o.dtype = api_dtype(dtype);
  o.policy = policy;
  return kiln_plan_create(&o, &out.p);
}

void run_case(Problem& p, std::mt19937_64& rng, kiln_set_policy policy, bool expect_fallback) {
  PlanPtr plan;
  ASSERT_EQ(make_plan(plan, p.kernel, p.hidden, p.dtype, policy), KILN_SUCCESS) << kiln_last_error();
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  ASSERT_EQ(kiln_plan_describe(plan.p, p.tokens, &info), KILN_SUCCESS);
  ASSERT_EQ(info.is_fallback, expect_fallback ? 1 : 0) << kiln_plan_summary(plan.p);
  p.randomise(rng);
  p.allocate();
  p.upload();
  ASSERT_EQ(p.launch(plan.p), KILN_SUCCESS) << p.label() << ": " << kiln_last_error();
  CUDA_OK(cudaDeviceSynchronize());
  const std::string err = p.check();
  ASSERT_EQ(err, "") << info.name;
}

// The distinct (kernel, hidden) sets compiled in for this device, with their thresholds.
struct SetInfo {
  std::string kernel;
  int64_t hidden;
  std::vector<int64_t> thresholds;
};
std::vector<SetInfo> sets_for_device() {
  std::vector<SetInfo> sets;
  const kiln::detail::ArchTable* table = kiln::runtime::find_table(device_arch());
  for (size_t i = 0; table && i < table->count; ++i) {
    const auto& r = table->rows[i];
    if (sets.empty() || sets.back().kernel != r.kernel || sets.back().hidden != r.hidden) sets.push_back({r.kernel, r.hidden, {}});
    sets.back().thresholds.push_back(r.threshold);
  }
  return sets;
}

const std::vector<int64_t> kTokenCounts = {1, 3, 17, 255, 1024, 4099};

TEST(Gpu, EveryConfigSetMatchesTheReference) {
  REQUIRE_GPU();
  const auto sets = sets_for_device();
  ASSERT_FALSE(sets.empty()) << "no config sets for " << device_arch() << " in this build";
  std::mt19937_64 rng(2024);
  int cases = 0;
  for (const SetInfo& set : sets) {
    std::set<int64_t> tokens(kTokenCounts.begin(), kTokenCounts.end());
    for (int64_t t : set.thresholds) { tokens.insert(t); tokens.insert(t + 1); }
    for (DType d : {DType::bf16, DType::fp16})
      for (int64_t t : tokens) {
        Problem p(set.kernel, d, set.hidden, t);
        run_case(p, rng, KILN_SET_EXACT, false);
        if (HasFatalFailure()) return;
        ++cases;
      }
  }
  RecordProperty("cases", cases);
}

TEST(Gpu, GenericKernelAtOddSizesAndAlignments) {
  REQUIRE_GPU();
  std::mt19937_64 rng(7);
  for (const char* kernel : {"rms_norm_fp8", "silu_mul_fp8"})
    for (int64_t hidden : {128, 1000, 1536, 3584, 7168, 8200})
      for (int64_t tokens : kTokenCounts)
        for (DType d : {DType::bf16, DType::fp16})
          for (size_t misalign : {0, 1}) {
            Problem p(kernel, d, hidden, tokens, misalign, misalign);
            run_case(p, rng, KILN_SET_EXACT, true);
            if (HasFatalFailure()) return;
          }
}

TEST(Gpu, GenericByRequestMatchesTheReferenceOnTunedSizes) {
  REQUIRE_GPU();
  std::mt19937_64 rng(11);
  for (const SetInfo& set : sets_for_device())
    for (int64_t tokens : {1, 33, 1000}) {
      Problem p(set.kernel, DType::bf16, set.hidden, tokens);
      run_case(p, rng, KILN_SET_GENERIC, true);
      if (HasFatalFailure()) return;
    }
}

// Capture launches in a graph, then change the inputs and the scale in place and
// replay: the replay must compute from the new values (the scale is read on device).
TEST(Gpu, GraphReplaySeesInputsAndScaleChangedInPlace) {
  REQUIRE_GPU();
  std::mt19937_64 rng(3);
  struct Shape { const char* kernel; int64_t hidden; int64_t tokens; };
  for (Shape s : {Shape{"rms_norm_fp8", 4096, 100}, Shape{"silu_mul_fp8", 8192, 3}, Shape{"rms_norm_fp8", 1000, 17},
                  Shape{"silu_mul_fp8", 2048, 1500}}) {
    Problem p(s.kernel, DType::bf16, s.hidden, s.tokens);
    PlanPtr plan;
    ASSERT_EQ(make_plan(plan, p.kernel, p.hidden, p.dtype), KILN_SUCCESS) << kiln_last_error();
    p.randomise(rng);
    p.allocate();
    p.upload();
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 3; ++i) ASSERT_EQ(p.launch(plan.p, stream), KILN_SUCCESS) << kiln_last_error();
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    ASSERT_EQ(p.check(), "") << "first replay";
    for (int round = 0; round < 2; ++round) {
      const float captured_eps = p.eps;  // eps is a kernel argument, frozen at capture
      p.randomise(rng);
      p.eps = captured_eps;
      p.recompute();
      cudaMemcpy(p.input(), p.x.data(), p.x.size() * 2, cudaMemcpyHostToDevice);
      cudaMemcpy(p.weight(), p.w.data(), p.w.size() * 2, cudaMemcpyHostToDevice);
      cudaMemcpy(p.dscale->ptr, &p.scale, sizeof p.scale, cudaMemcpyHostToDevice);
      cudaMemset(p.dout->ptr, kPoison, p.dout->bytes);
      CUDA_OK(cudaGraphLaunch(exec, stream));
      CUDA_OK(cudaStreamSynchronize(stream));
      ASSERT_EQ(p.check(), "") << "replay " << round;
    }
    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(stream));
  }
}

// A predecessor that writes the input slowly: with PDL on, kiln's kernel may start
// early, and must still read only what the predecessor wrote.
__global__ void slow_fill(uint16_t* x, const uint16_t* src, int64_t n) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  long long start = clock64();
  while (clock64() - start < 20000) {
  }
  if (i < n) x[i] = src[i];
}

TEST(Gpu, ProgrammaticDependentLaunchWaitsForThePredecessor) {
  REQUIRE_GPU();
  std::mt19937_64 rng(5);
  for (const char* kernel : {"rms_norm_fp8", "silu_mul_fp8"}) {
    Problem p(kernel, DType::bf16, 4096, 64);
    PlanPtr plan;
    ASSERT_EQ(make_plan(plan, p.kernel, p.hidden, p.dtype), KILN_SUCCESS);
    p.randomise(rng);
    p.allocate();
    p.upload();
    DeviceBuffer staging(p.x.size() * 2);
    CUDA_OK(cudaMemcpy(staging.ptr, p.x.data(), p.x.size() * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(p.input(), 0, p.x.size() * 2));  // stale input the kernel must not see
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const int64_t n = static_cast<int64_t>(p.x.size());
    slow_fill<<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(static_cast<uint16_t*>(p.input()),
                                                                           static_cast<const uint16_t*>(staging.ptr), n);
    ASSERT_EQ(p.launch(plan.p, stream), KILN_SUCCESS) << kiln_last_error();
    CUDA_OK(cudaStreamSynchronize(stream));
    ASSERT_EQ(p.check(), "");
    CUDA_OK(cudaStreamDestroy(stream));
  }
}

TEST(Gpu, ConcurrentLaunchesFromSeveralThreadsShareOnePlan) {
  REQUIRE_GPU();
  constexpr int kThreads = 4;
  PlanPtr rms, silu;
  ASSERT_EQ(make_plan(rms, "rms_norm_fp8", 4096, DType::bf16), KILN_SUCCESS);
  ASSERT_EQ(make_plan(silu, "silu_mul_fp8", 4096, DType::bf16), KILN_SUCCESS);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      cudaStream_t stream;
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      for (int i = 0; i < 6 && errors[t].empty(); ++i) {
        const bool use_rms = (i + t) % 2 == 0;
        Problem p(use_rms ? "rms_norm_fp8" : "silu_mul_fp8", DType::bf16, 4096, int64_t{1} + 97 * i + 13 * t);
        p.randomise(rng);
        p.allocate();
        p.upload();
        for (int k = 0; k < 5; ++k)
          if (p.launch(use_rms ? rms.p : silu.p, stream) != KILN_SUCCESS) errors[t] = kiln_last_error();
        cudaStreamSynchronize(stream);
        if (errors[t].empty()) errors[t] = p.check();
      }
      cudaStreamDestroy(stream);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST(Gpu, PlanReportsItsChoiceAndStrictRefusesAMissingSet) {
  REQUIRE_GPU();
  const auto sets = sets_for_device();
  ASSERT_FALSE(sets.empty());
  kiln::Plan tuned({sets[0].kernel, sets[0].hidden});
  EXPECT_FALSE(tuned.is_fallback());
  EXPECT_NE(tuned.summary().find("config set configs/" + sets[0].kernel + "/" + device_arch()), std::string::npos)
      << tuned.summary();
  kiln::Plan fallback({"rms_norm_fp8", 5000});
  EXPECT_TRUE(fallback.is_fallback());
  EXPECT_NE(fallback.summary().find("no rms_norm_fp8 set for " + device_arch() + " hidden=5000"), std::string::npos);
  try {
    kiln::Plan strict({"rms_norm_fp8", 5000, KILN_DTYPE_BF16, -1, KILN_SET_STRICT});
    FAIL() << "a strict plan without a set must throw";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(e.status(), KILN_ERROR_NO_CONFIG_SET);
  }
  int count = 0;
  cudaGetDeviceCount(&count);
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = 4096;
  o.device = count;  // one past the last
  kiln_plan* p = nullptr;
  EXPECT_EQ(kiln_plan_create(&o, &p), KILN_ERROR_NO_DEVICE);
}

}  // namespace
