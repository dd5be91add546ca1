// GPU tests of the communicator kernels (KILN_OPTION_COMM: allreduce_add_rms_norm and
// allreduce_add_rms_norm_fp8), through the public C API only, in one process: one NCCL
// communicator over every visible GPU (at most 8, ncclCommInitAll) and one of tensor
// parallelism 2 over the first two, one std::thread per rank (plan creation, launches and
// destruction are collective). Every case: random data per rank, the residual and weight
// the same on every rank, outputs poisoned (0xFF bytes) between poisoned guards, the CPU
// reference (reference/include/kiln_ref) on every rank, the residual written back, and
// every rank's outputs bit-identical. Also: every bucket of the tuned sets and token
// counts between and beyond, hidden sizes without a set (the generic kernel), launches
// beyond one buffer of the peer workspace, 1000 back-to-back launches, thousands of
// replays of a CUDA graph then replays with new inputs, one rank 10 ms late, and the
// statuses of a bad communicator, max_tokens or token count. Skips without two GPUs or
// when NCCL cannot make a communicator. A test that hangs (a peer never sending) is
// stopped by a watchdog after KILN_TEST_COMM_TIMEOUT seconds (default 300), naming it.
#include <gtest/gtest.h>

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "kiln_ref/reference.h"
#include "gpu_test.h"
#include "late_writer.cuh"

namespace ref = kiln::ref;
using ref::DType;

namespace {

constexpr size_t kGuard = 256;     // poisoned bytes before and after every tensor
constexpr uint8_t kPoison = 0xff;  // bf16/fp16/fp8 NaN: no input gives it

// ---- ranks and communicators --------------------------------------------------------------

using kiln::test::device_count;

// One NCCL communicator made by ncclCommInitAll: rank r on device r.
struct Communicator {
  std::string name;
  std::vector<ncclComm_t> comms;
  std::string error;  // why there is none
  int size() const { return static_cast<int>(comms.size()); }
};

Communicator make_communicator(const std::string& name, int ranks) {
  Communicator c;
  c.name = name;
  std::vector<int> devices(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) devices[static_cast<size_t>(r)] = r;
  c.comms.assign(static_cast<size_t>(ranks), nullptr);
  const ncclResult_t res = ncclCommInitAll(c.comms.data(), ranks, devices.data());
  if (res != ncclSuccess) {
    c.error = std::string("ncclCommInitAll over ") + std::to_string(ranks) + " GPUs: " + ncclGetErrorString(res);
    c.comms.clear();
  }
  return c;
}

// The communicators the tests run on: every visible GPU (at most 8), and TP 2 on the first
// two when there are more. Made once (NVLS off: kiln never uses multicast, and NCCL's own
// multicast setup is slow); never destroyed (the process ends).
const std::vector<Communicator>& communicators() {
  static const std::vector<Communicator> all = [] {
    std::vector<Communicator> out;
    const int n = std::min(device_count(), 8);
    if (n < 2) return out;
    setenv("NCCL_NVLS_ENABLE", "0", 0);
    out.push_back(make_communicator("world (" + std::to_string(n) + " ranks)", n));
    if (n > 2 && out.back().error.empty()) out.push_back(make_communicator("tp2 (first two GPUs)", 2));
    return out;
  }();
  return all;
}

#define REQUIRE_COMMUNICATORS()                                                                          \
  do {                                                                                                   \
    if (device_count() < 2) GTEST_SKIP() << "needs 2 GPUs, has " << device_count();                     \
    if (!communicators().front().error.empty()) GTEST_SKIP() << communicators().front().error;          \
  } while (0)

// Runs body(rank) on every rank at once, each in its own thread with the rank's device
// current, and returns the ranks' errors joined ("" when every body returned ""). A body
// that has not returned after the timeout (a launch waiting on a peer that never sends)
// ends the process with the step's name: a hang is a failure, not a stuck CI job.
std::string on_every_rank(int ranks, const std::string& step, const std::function<std::string(int)>& body) {
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    int done = 0;
    std::vector<std::string> errors;
  };
  auto shared = std::make_shared<Shared>();
  shared->errors.resize(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([shared, r, &body] {
      std::string e;
      if (const cudaError_t err = cudaSetDevice(r); err != cudaSuccess) e = std::string("cudaSetDevice: ") + cudaGetErrorString(err);
      else {
        try {
          e = body(r);
        } catch (const std::exception& ex) {
          e = ex.what();
        }
      }
      std::lock_guard<std::mutex> lock(shared->m);
      shared->errors[static_cast<size_t>(r)] = e;
      ++shared->done;
      shared->cv.notify_all();
    });
  const char* env = std::getenv("KILN_TEST_COMM_TIMEOUT");
  const int seconds = env && std::atoi(env) > 0 ? std::atoi(env) : 300;
  {
    std::unique_lock<std::mutex> lock(shared->m);
    if (!shared->cv.wait_for(lock, std::chrono::seconds(seconds), [&] { return shared->done == ranks; })) {
      std::fprintf(stderr, "test_comm: '%s' did not finish on every rank within %d s (KILN_TEST_COMM_TIMEOUT): a rank "
                   "is waiting for a peer that never sent\n", step.c_str(), seconds);
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
  for (std::thread& t : threads) t.join();
  std::string out;
  for (int r = 0; r < ranks; ++r)
    if (!shared->errors[static_cast<size_t>(r)].empty()) out += "rank " + std::to_string(r) + ": " + shared->errors[static_cast<size_t>(r)] + "\n";
  return out.empty() ? out : step + ":\n" + out;
}

std::string cuda_error(const char* what, cudaError_t e) {
  return e == cudaSuccess ? std::string() : std::string(what) + ": " + cudaGetErrorString(e);
}

// ---- the kernels ------------------------------------------------------------------------

std::vector<kiln_kernel_desc> comm_kernels() {
  std::vector<kiln_kernel_desc> out;
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    if (kiln_kernel_at(i, &d) == KILN_SUCCESS && (d.options & KILN_OPTION_COMM)) out.push_back(d);
  }
  return out;
}

const kiln_tensor_desc* tensor_for(const kiln_kernel_desc& k, int role) {
  for (int32_t i = 0; i < k.tensor_count; ++i)
    if (k.tensors[i].role == role) return &k.tensors[i];
  return nullptr;
}

struct Options {
  ref::Rounding rounding = ref::Rounding::single;
  bool gemma = false;
  bool static_weight = false;
  std::string label() const {
    return std::string(rounding == ref::Rounding::vllm ? "vllm" : "single") + (gemma ? " gemma" : "") +
           (static_weight ? " static_weight" : "");
  }
};

kiln_dtype api_dtype(DType d) { return d == DType::bf16 ? KILN_DTYPE_BF16 : KILN_DTYPE_FP16; }

// One plan per rank, created and destroyed collectively.
class Plans {
 public:
  Plans(const Communicator& c, const kiln_kernel_desc& k, int64_t hidden, DType dtype, Options o, int64_t max_tokens)
      : ranks_(c.size()), plans_(static_cast<size_t>(c.size()), nullptr) {
    error_ = on_every_rank(ranks_, std::string("kiln_plan_create ") + k.name, [&](int r) -> std::string {
      kiln_plan_options opt;
      kiln_plan_options_init(&opt);
      opt.kernel = k.name;
      opt.hidden = hidden;
      opt.dtype = api_dtype(dtype);
      opt.device = r;
      opt.rounding = o.rounding == ref::Rounding::vllm ? KILN_ROUNDING_VLLM : KILN_ROUNDING_SINGLE;
      opt.gemma = o.gemma;
      opt.static_weight = o.static_weight;
      opt.comm = c.comms[static_cast<size_t>(r)];
      opt.max_tokens = max_tokens;
      const kiln_status s = kiln_plan_create(&opt, &plans_[static_cast<size_t>(r)]);
      return s == KILN_SUCCESS ? "" : std::string(kiln_status_name(s)) + ": " + kiln_last_error();
    });
  }
  ~Plans() {
    bool any = false;
    for (kiln_plan* p : plans_) any |= p != nullptr;
    if (!any) return;
    on_every_rank(ranks_, "kiln_plan_destroy", [&](int r) {
      kiln_plan_destroy(plans_[static_cast<size_t>(r)]);
      return std::string();
    });
  }
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;

  const std::string& error() const { return error_; }
  kiln_plan* operator[](int r) const { return plans_[static_cast<size_t>(r)]; }

 private:
  int ranks_;
  std::vector<kiln_plan*> plans_;
  std::string error_;
};

kiln_variant_info describe(const kiln_plan* plan, int64_t tokens) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  if (kiln_plan_describe(plan, tokens, &info) != KILN_SUCCESS) info.name = nullptr;
  return info;
}

// The thresholds of the plan's set (empty for the generic kernel), from kiln_plan_describe.
std::vector<int64_t> thresholds(const kiln_plan* plan, int64_t max_tokens) {
  std::set<int64_t> out;
  for (int64_t t = 1; t <= max_tokens; ++t) {
    const kiln_variant_info info = describe(plan, t);
    if (info.name != nullptr && !info.is_fallback) out.insert(info.threshold);
  }
  return {out.begin(), out.end()};
}

// ---- one launch's data ------------------------------------------------------------------

// The host side of a launch: every rank's x, and the residual, weight and scale they share.
struct Inputs {
  int64_t hidden = 0, tokens = 0;
  std::vector<std::vector<uint8_t>> x;  // per rank
  std::vector<uint8_t> residual, weight;
  float scale = 1.0f;
  float eps = 1e-6f;
};

uint16_t random16(DType d, std::mt19937_64& rng, float lo, float hi) {
  const float v = lo + (hi - lo) * (static_cast<float>(rng() >> 40) * 0x1p-24f);
  return ref::from_float(d, v);
}

// New random x (each rank's own), residual, weight, scale and eps. A few x elements are
// -0 (the protocol rewrites them) and a few pairs cancel (zero sums).
void randomise(Inputs& in, int ranks, DType d, bool gemma, std::mt19937_64& rng) {
  const size_t n = static_cast<size_t>(in.tokens * in.hidden);
  in.x.resize(static_cast<size_t>(ranks));
  for (auto& x : in.x) x.resize(n * 2);
  in.residual.resize(n * 2);
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < ranks; ++k) {
      uint16_t v = random16(d, rng, -6.0f, 6.0f);
      if (i % 211 == 7) v = 0x8000;
      if (k == 1 && i % 199 == 3) std::memcpy(&v, in.x[0].data() + 2 * i, 2), v ^= 0x8000;
      std::memcpy(in.x[static_cast<size_t>(k)].data() + 2 * i, &v, 2);
    }
    const uint16_t r = random16(d, rng, -3.0f, 3.0f);
    std::memcpy(in.residual.data() + 2 * i, &r, 2);
  }
  in.weight.resize(static_cast<size_t>(in.hidden) * 2);
  for (int64_t i = 0; i < in.hidden; ++i) {
    const uint16_t w = gemma ? random16(d, rng, -0.75f, 0.75f) : random16(d, rng, 0.25f, 1.75f);
    std::memcpy(in.weight.data() + 2 * i, &w, 2);
  }
  in.scale = std::uniform_real_distribution<float>(0.004f, 0.5f)(rng);
  in.eps = std::uniform_real_distribution<float>(1e-6f, 1e-5f)(rng);
}

// The reference problem of one rank's launch of `tokens` rows from `in`.
ref::Problem problem(const kiln_kernel_desc& k, DType d, Options o, const Inputs& in, int rank, int64_t tokens) {
  ref::Problem p;
  p.kernel = k.name;
  p.dtype = d;
  p.tokens = tokens;
  p.hidden = in.hidden;
  p.eps = in.eps;
  p.rounding = o.rounding;
  p.gemma = o.gemma;
  p.inputs[KILN_ROLE_INPUT] = in.x[static_cast<size_t>(rank)].data();
  p.inputs[KILN_ROLE_RESIDUAL] = in.residual.data();
  p.inputs[KILN_ROLE_WEIGHT] = in.weight.data();
  if (tensor_for(k, KILN_ROLE_SCALE)) p.inputs[KILN_ROLE_SCALE] = &in.scale;
  for (const auto& x : in.x) p.rank_inputs.push_back(x.data());
  return p;
}

// One rank's device tensors, by role, for up to `rows` rows, each between poisoned guards.
class RankTensors {
 public:
  RankTensors(const kiln_kernel_desc& k, int64_t hidden, int64_t rows) : hidden_(hidden), rows_(rows) {
    for (int32_t i = 0; i < k.tensor_count; ++i) {
      const kiln_tensor_desc& t = k.tensors[i];
      Slot& s = slots_[static_cast<size_t>(t.role)];
      s.desc = &t;
      s.bytes = ref::tensor_bytes(t, rows, hidden);
      if (cudaMalloc(&s.base, s.bytes + 2 * kGuard) != cudaSuccess) s.base = nullptr, error_ = "cudaMalloc failed";
    }
  }
  ~RankTensors() {
    for (Slot& s : slots_) cudaFree(s.base);
  }
  RankTensors(const RankTensors&) = delete;
  RankTensors& operator=(const RankTensors&) = delete;

  const std::string& error() const { return error_; }
  void* device(int role) const {
    const Slot& s = slots_[static_cast<size_t>(role)];
    return s.desc ? s.base + kGuard : nullptr;
  }

  // Everything poisoned, then the first `tokens` rows of what the kernel reads from `in`.
  std::string upload(const Inputs& in, int rank, int64_t tokens, cudaStream_t s) const {
    if (std::string e = poison(s); !e.empty()) return e;
    return write_inputs(in, rank, tokens, s);
  }

  // Everything poisoned, guards included (on `s`).
  std::string poison(cudaStream_t s) const {
    for (const Slot& slot : slots_)
      if (slot.desc)
        if (std::string e = cuda_error("cudaMemsetAsync", cudaMemsetAsync(slot.base, kPoison, slot.bytes + 2 * kGuard, s)); !e.empty())
          return e;
    return "";
  }

  // The first `tokens` rows of x (this rank's) and of the residual, the weight and the scale.
  std::string write_inputs(const Inputs& in, int rank, int64_t tokens, cudaStream_t s) const {
    std::string e = each_input(in, rank, tokens, [&](int, void* dst, const void* src, size_t bytes) {
      return cuda_error("cudaMemcpyAsync", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
    });
    if (e.empty()) e = cuda_error("cudaStreamSynchronize", cudaStreamSynchronize(s));
    return e;
  }

  // write_inputs's values, written by `writer` when it is launched, over the poison (the
  // weight at once with static_weight: the caller then promises no kernel writes it).
  std::string stage_inputs(const Inputs& in, int rank, int64_t tokens, bool static_weight,
                           kiln::test::LateWriter& writer) const {
    return each_input(in, rank, tokens, [&](int role, void* dst, const void* src, size_t bytes) {
      if (static_weight && role == KILN_ROLE_WEIGHT)
        return cuda_error("cudaMemcpy", cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
      return writer.add(dst, src, bytes);
    });
  }

  kiln_args args(DType d, int64_t tokens, float eps) const {
    kiln_args a;
    kiln_args_init(&a);
    a.dtype = api_dtype(d);
    a.tokens = tokens;
    a.hidden = hidden_;
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) a.tensors[role] = device(role);
    a.eps = eps;
    return a;
  }

  // Every buffer back, guards included (after the launches in `s`).
  struct Copy {
    std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> bytes;  // guard, rows_ rows, guard
    const uint8_t* data(int role) const { return bytes[static_cast<size_t>(role)].data() + kGuard; }
  };
  std::string download(Copy& c, cudaStream_t s) const {
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
      const Slot& slot = slots_[static_cast<size_t>(role)];
      if (!slot.desc) continue;
      c.bytes[static_cast<size_t>(role)].resize(slot.bytes + 2 * kGuard);
      if (std::string e = cuda_error("cudaMemcpyAsync", cudaMemcpyAsync(c.bytes[static_cast<size_t>(role)].data(), slot.base,
                                                                         slot.bytes + 2 * kGuard, cudaMemcpyDeviceToHost, s));
          !e.empty())
        return e;
    }
    return cuda_error("cudaStreamSynchronize", cudaStreamSynchronize(s));
  }

  // Guards intact; and past row `tokens`, each tensor the kernel writes still poisoned
  // (when `untouched_tail`: a single launch of `tokens` rows on freshly uploaded buffers).
  std::string check_guards(const Copy& c, int64_t tokens, bool untouched_tail) const {
    std::string out;
    for (const Slot& slot : slots_) {
      if (!slot.desc) continue;
      const std::vector<uint8_t>& b = c.bytes[static_cast<size_t>(slot.desc->role)];
      const bool writes = slot.desc->direction != KILN_DIR_IN;
      const size_t tail = writes && untouched_tail ? kGuard + static_cast<size_t>(tokens) * (slot.bytes / static_cast<size_t>(rows_))
                                                   : kGuard + slot.bytes;
      if (slot.desc->rows != KILN_EXTENT_TOKENS && tail != kGuard + slot.bytes) continue;
      size_t before = 0, after = 0;
      for (size_t i = 0; i < kGuard; ++i) before += b[i] != kPoison;
      for (size_t i = tail; i < b.size(); ++i) after += b[i] != kPoison;
      if (before || after)
        out += std::string(slot.desc->name) + ": " + std::to_string(before) + " guard bytes written before it, " +
               std::to_string(after) + " bytes written past its " + std::to_string(tokens) + " rows\n";
    }
    return out;
  }

 private:
  // put(role, device address, host address, bytes) for each input the kernel has: the first
  // `tokens` rows of x (this rank's) and of the residual, the weight and the scale. "" or the
  // first error.
  template <class Put>
  std::string each_input(const Inputs& in, int rank, int64_t tokens, Put put) const {
    const size_t n = static_cast<size_t>(tokens * hidden_) * 2;
    const struct {
      int role;
      const void* src;
      size_t bytes;
    } inputs[] = {{KILN_ROLE_INPUT, in.x[static_cast<size_t>(rank)].data(), n},
                  {KILN_ROLE_RESIDUAL, in.residual.data(), n},
                  {KILN_ROLE_WEIGHT, in.weight.data(), in.weight.size()},
                  {KILN_ROLE_SCALE, &in.scale, sizeof in.scale}};
    for (const auto& i : inputs) {
      if (device(i.role) == nullptr || i.bytes == 0) continue;
      if (std::string e = put(i.role, device(i.role), i.src, i.bytes); !e.empty()) return e;
    }
    return "";
  }

  struct Slot {
    const kiln_tensor_desc* desc = nullptr;
    size_t bytes = 0;
    uint8_t* base = nullptr;
  };
  int64_t hidden_, rows_;
  std::array<Slot, KILN_ROLE_SLOTS> slots_{};
  std::string error_;
};

// What every rank holds after a launch, against the reference of that launch and against
// rank 0 (bit for bit): "" when right.
std::string check_ranks(const kiln_kernel_desc& k, DType d, Options o, const Inputs& in, int64_t tokens,
                        const std::vector<RankTensors::Copy>& copies) {
  ref::Problem p0 = problem(k, d, o, in, 0, tokens);
  const ref::Expected want = ref::reference(p0);
  std::string out;
  for (size_t r = 0; r < copies.size(); ++r) {
    const ref::Problem p = problem(k, d, o, in, static_cast<int>(r), tokens);
    ref::Tensors got{};
    for (int role = 0; role < KILN_ROLE_SLOTS; ++role)
      if (!copies[r].bytes[static_cast<size_t>(role)].empty()) got[static_cast<size_t>(role)] = copies[r].data(role);
    if (std::string e = ref::check(k, p, got, want); !e.empty()) out += "rank " + std::to_string(r) + ": " + e + "\n";
    if (r == 0) continue;
    for (int32_t i = 0; i < k.tensor_count; ++i) {
      const kiln_tensor_desc& t = k.tensors[i];
      if (t.direction == KILN_DIR_IN) continue;
      const size_t n = ref::tensor_bytes(t, tokens, in.hidden);
      if (std::memcmp(copies[r].data(t.role), copies[0].data(t.role), n) != 0)
        out += "rank " + std::to_string(r) + ": " + t.name + " differs from rank 0's (ranks must agree bit for bit)\n";
    }
  }
  return out;
}

// Spins ~`ns` nanoseconds: a rank's stream made late.
__global__ void spin_for(uint64_t ns) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

// Per-rank streams and tensors of one test.
struct Ranks {
  std::vector<cudaStream_t> streams;
  std::vector<std::unique_ptr<RankTensors>> tensors;
  std::string error;

  Ranks(int n, const kiln_kernel_desc& k, int64_t hidden, int64_t rows) : streams(static_cast<size_t>(n)), tensors(static_cast<size_t>(n)) {
    error = on_every_rank(n, "allocate", [&](int r) {
      tensors[static_cast<size_t>(r)] = std::make_unique<RankTensors>(k, hidden, rows);
      if (!tensors[static_cast<size_t>(r)]->error().empty()) return tensors[static_cast<size_t>(r)]->error();
      return cuda_error("cudaStreamCreate", cudaStreamCreateWithFlags(&streams[static_cast<size_t>(r)], cudaStreamNonBlocking));
    });
  }
  ~Ranks() {
    on_every_rank(static_cast<int>(streams.size()), "free", [&](int r) {
      if (streams[static_cast<size_t>(r)]) cudaStreamDestroy(streams[static_cast<size_t>(r)]);
      tensors[static_cast<size_t>(r)].reset();
      return std::string();
    });
  }
  int size() const { return static_cast<int>(streams.size()); }
  RankTensors& at(int r) { return *tensors[static_cast<size_t>(r)]; }
  cudaStream_t stream(int r) const { return streams[static_cast<size_t>(r)]; }
};

// How a launch's inputs reach the device.
enum class Upload {
  before,             // written and synchronised before the launch
  behind_late_writer  // written by a slow kernel just before it on the stream, which lets it
                      // start at once (PDL): the kernel must wait for it before reading
};

// One launch of `tokens` rows on every rank from freshly uploaded `in` (rank `late` first
// spins 10 ms), then the whole check. "" when right.
std::string launch_and_check(const Plans& plans, Ranks& ranks, const kiln_kernel_desc& k, DType d, Options o, const Inputs& in,
                             int64_t tokens, int late = -1, Upload upload = Upload::before) {
  std::vector<RankTensors::Copy> copies(static_cast<size_t>(ranks.size()));
  std::string e = on_every_rank(ranks.size(), "upload, launch, download", [&](int r) {
    RankTensors& t = ranks.at(r);
    cudaStream_t s = ranks.stream(r);
    kiln::test::LateWriter writer;  // its staged copies live until the download below synchronises
    if (upload == Upload::before) {
      if (std::string e2 = t.upload(in, r, tokens, s); !e2.empty()) return e2;
    } else {
      if (std::string e2 = t.poison(s); !e2.empty()) return e2;
      if (std::string e2 = cuda_error("cudaStreamSynchronize", cudaStreamSynchronize(s)); !e2.empty()) return e2;
      if (std::string e2 = t.stage_inputs(in, r, tokens, o.static_weight, writer); !e2.empty()) return e2;
      if (std::string e2 = writer.launch(s); !e2.empty()) return e2;
    }
    if (r == late) spin_for<<<1, 1, 0, s>>>(10'000'000);
    const kiln_args a = t.args(d, tokens, in.eps);
    if (const kiln_status st = kiln_launch(plans[r], &a, s); st != KILN_SUCCESS)
      return std::string("kiln_launch: ") + kiln_status_name(st) + ": " + kiln_last_error();
    if (std::string e2 = cuda_error("the launch", cudaStreamSynchronize(s)); !e2.empty()) return e2;
    if (std::string e2 = t.download(copies[static_cast<size_t>(r)], s); !e2.empty()) return e2;
    return t.check_guards(copies[static_cast<size_t>(r)], tokens, true);
  });
  if (!e.empty()) return e;
  return check_ranks(k, d, o, in, tokens, copies);
}

std::string case_label(const Communicator& c, const kiln_kernel_desc& k, DType d, Options o, int64_t hidden, int64_t tokens,
                       const kiln_plan* plan) {
  const kiln_variant_info info = describe(plan, tokens);
  return std::string(k.name) + " " + ref::dtype_name(d) + " hidden=" + std::to_string(hidden) + " tokens=" +
         std::to_string(tokens) + " " + o.label() + " on " + c.name + " -> " + (info.name ? info.name : "?");
}

std::vector<Options> option_sets(const kiln_kernel_desc& k) {
  std::vector<Options> out = {{}};
  if (k.options & KILN_OPTION_ROUNDING) out.push_back({ref::Rounding::vllm, false, false});
  if (k.options & KILN_OPTION_GEMMA) out.push_back({ref::Rounding::single, true, false});
  out.push_back({(k.options & KILN_OPTION_ROUNDING) ? ref::Rounding::vllm : ref::Rounding::single,
                 (k.options & KILN_OPTION_GEMMA) != 0, (k.options & KILN_OPTION_STATIC_WEIGHT) != 0});
  return out;
}

// Token counts for a plan: 1, every threshold and its neighbours, counts between two
// thresholds and beyond the last, odd counts, and max_tokens.
std::vector<int64_t> token_counts(const std::vector<int64_t>& thresholds, int64_t max_tokens, bool all) {
  std::set<int64_t> t = {1, max_tokens};
  if (all) t.insert({3, 17, 255});
  for (size_t i = 0; i < thresholds.size(); ++i) {
    const int64_t b = thresholds[i];
    t.insert(b);
    if (all) t.insert({b - 1, b + 1});
    const int64_t next = i + 1 < thresholds.size() ? thresholds[i + 1] : max_tokens;
    t.insert((b + next) / 2 | 1);  // between this bucket and the next (or max_tokens), odd
  }
  std::vector<int64_t> out;
  for (int64_t v : t)
    if (v >= 1 && v <= max_tokens) out.push_back(v);
  return out;
}

// Every case of one plan: random data per token count, one launch each, checked.
void run_plan_cases(const Communicator& c, const kiln_kernel_desc& k, int64_t hidden, DType d, Options o, int64_t max_tokens,
                    bool expect_set, bool all_counts, std::mt19937_64& rng, int* cases) {
  Plans plans(c, k, hidden, d, o, max_tokens);
  ASSERT_EQ(plans.error(), "");
  const kiln_variant_info info = describe(plans[0], 1);
  ASSERT_NE(info.name, nullptr) << kiln_last_error();
  EXPECT_EQ(info.ranks, c.size()) << kiln_plan_summary(plans[0]);
  if (expect_set) {
    // The tuned sets are for tensor parallelism 2; other communicator sizes may fall back.
    if (c.size() == 2) EXPECT_EQ(info.is_fallback, 0) << kiln_plan_summary(plans[0]);
  } else {
    EXPECT_EQ(info.is_fallback, 1) << kiln_plan_summary(plans[0]);
  }
  const std::vector<int64_t> buckets = thresholds(plans[0], max_tokens);
  Ranks ranks(c.size(), k, hidden, max_tokens);
  ASSERT_EQ(ranks.error, "");
  for (int64_t tokens : token_counts(buckets, max_tokens, all_counts)) {
    Inputs in;
    in.hidden = hidden;
    in.tokens = tokens;
    randomise(in, c.size(), d, o.gemma, rng);
    ASSERT_EQ(launch_and_check(plans, ranks, k, d, o, in, tokens), "") << case_label(c, k, d, o, hidden, tokens, plans[0]);
    ++*cases;
  }
}

// ---- tests ------------------------------------------------------------------------------

TEST(Comm, TheCommunicatorKernelsHaveCpuReferences) {
  const auto kernels = comm_kernels();
  ASSERT_GE(kernels.size(), 2u) << "allreduce_add_rms_norm and allreduce_add_rms_norm_fp8 are not in the registry";
  for (const kiln_kernel_desc& k : kernels) {
    EXPECT_TRUE(ref::has_reference(k.name)) << k.name;
    EXPECT_NE(tensor_for(k, KILN_ROLE_INPUT), nullptr) << k.name;
    EXPECT_NE(tensor_for(k, KILN_ROLE_RESIDUAL), nullptr) << k.name;
    EXPECT_NE(tensor_for(k, KILN_ROLE_OUTPUT), nullptr) << k.name;
  }
}

// Every bucket of every tuned set (the hidden sizes on the grid), counts between and
// beyond, T = 1 and max_tokens; bf16 and fp16; every option.
TEST(Comm, EveryBucketMatchesTheReferenceOnEveryRank) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(2024);
  int cases = 0;
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels())
      for (int64_t hidden : {2048, 4096, 5120, 8192})
        for (const Options& o : option_sets(k))
          for (DType d : {DType::bf16, DType::fp16}) {
            const bool plain = !o.gemma && o.rounding == ref::Rounding::single && !o.static_weight;
            if (!plain && d == DType::fp16) continue;  // the options once, in bf16
            run_plan_cases(c, k, hidden, d, o, /*max_tokens=*/1024, /*expect_set=*/true, /*all_counts=*/plain, rng, &cases);
            if (HasFatalFailure()) return;
          }
  RecordProperty("cases", cases);
}

// Hidden sizes without a set: the generic kernel (also at an odd size, element by element).
TEST(Comm, HiddenSizesOffTheGridUseTheGenericKernel) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(7);
  int cases = 0;
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels())
      for (int64_t hidden : {1000, 3000, 1003})
        for (const Options& o : option_sets(k))
          for (DType d : {DType::bf16, DType::fp16}) {
            const bool plain = !o.gemma && o.rounding == ref::Rounding::single && !o.static_weight;
            if (!plain && d == DType::fp16) continue;
            run_plan_cases(c, k, hidden, d, o, /*max_tokens=*/300, /*expect_set=*/false, /*all_counts=*/plain, rng, &cases);
            if (HasFatalFailure()) return;
          }
  RecordProperty("cases", cases);
}

// More tokens than one buffer of the peer workspace holds (the launch splits into rounds),
// up to max_tokens = 16384 at hidden 8192.
TEST(Comm, LargeTokenCountsUpToMaxTokens) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(17);
  constexpr int64_t kHidden = 8192, kMax = 16384;
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels()) {
      Plans plans(c, k, kHidden, DType::bf16, {}, kMax);
      ASSERT_EQ(plans.error(), "");
      Ranks ranks(c.size(), k, kHidden, kMax);
      ASSERT_EQ(ranks.error, "");
      for (int64_t tokens : {int64_t{4097}, int64_t{9001}, kMax}) {
        Inputs in;
        in.hidden = kHidden;
        in.tokens = tokens;
        randomise(in, c.size(), DType::bf16, false, rng);
        ASSERT_EQ(launch_and_check(plans, ranks, k, DType::bf16, {}, in, tokens), "")
            << case_label(c, k, DType::bf16, {}, kHidden, tokens, plans[0]);
      }
    }
}

// One rank's stream is 10 ms late: the others wait for it (no barrier, no timeout) and
// every rank still gets the right, identical answer; for each schedule.
TEST(Comm, OneRankLate) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(5);
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels())
      for (int64_t hidden : {4096, 1000}) {
        Plans plans(c, k, hidden, DType::bf16, {}, 1024);
        ASSERT_EQ(plans.error(), "");
        Ranks ranks(c.size(), k, hidden, 1024);
        ASSERT_EQ(ranks.error, "");
        for (int64_t tokens : {int64_t{1}, int64_t{33}, int64_t{1024}})
          for (int late : {c.size() - 1, 0}) {
            Inputs in;
            in.hidden = hidden;
            in.tokens = tokens;
            randomise(in, c.size(), DType::bf16, false, rng);
            ASSERT_EQ(launch_and_check(plans, ranks, k, DType::bf16, {}, in, tokens, late), "")
                << case_label(c, k, DType::bf16, {}, hidden, tokens, plans[0]) << ", rank " << late << " late";
          }
      }
}

// Each rank's inputs written by a slow kernel that lets kiln's start at once (PDL): kiln must
// wait before it reads any of them (docs/design.md, "PDL"). With static_weight the weight is
// written beforehand, as the caller then promises. A tuned size's buckets at T = 1, 33 and
// 1024, and the generic kernel.
TEST(Comm, ProgrammaticDependentLaunchWaitsForThePredecessor) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(23);
  int cases = 0;
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels())
      for (int64_t hidden : {4096, 1000})
        for (bool static_weight : {false, true}) {
          if (static_weight && !(k.options & KILN_OPTION_STATIC_WEIGHT)) continue;
          const Options o{ref::Rounding::single, false, static_weight};
          Plans plans(c, k, hidden, DType::bf16, o, 1024);
          ASSERT_EQ(plans.error(), "");
          Ranks ranks(c.size(), k, hidden, 1024);
          ASSERT_EQ(ranks.error, "");
          for (int64_t tokens : {int64_t{1}, int64_t{33}, int64_t{1024}}) {
            Inputs in;
            in.hidden = hidden;
            in.tokens = tokens;
            randomise(in, c.size(), DType::bf16, false, rng);
            ASSERT_EQ(launch_and_check(plans, ranks, k, DType::bf16, o, in, tokens, -1, Upload::behind_late_writer), "")
                << case_label(c, k, DType::bf16, o, hidden, tokens, plans[0]) << ", behind a late writer";
            ++cases;
          }
        }
  RecordProperty("cases", cases);
}

// `in` with the residual the reference leaves after one launch of `tokens` rows.
Inputs after_launch(const kiln_kernel_desc& k, DType d, Options o, Inputs in, int64_t tokens) {
  const ref::Expected e = ref::reference(problem(k, d, o, in, 0, tokens));
  const std::vector<double>& r = e.roles[KILN_ROLE_RESIDUAL].value;
  for (size_t j = 0; j < r.size(); ++j) {
    const uint16_t b = ref::round_bits(d, r[j]);
    std::memcpy(in.residual.data() + 2 * j, &b, 2);
  }
  return in;
}

// Launches of `counts` rows one after another on the same buffers, from `start`: the
// residual chains through all of them. The last launch against its reference (its inputs
// as the launches before left them), the residual's every row against the chain's, every
// rank identical. "" when right.
std::string check_chain(const kiln_kernel_desc& k, DType d, Options o, const Inputs& start, const std::vector<int64_t>& counts,
                        const std::vector<RankTensors::Copy>& copies) {
  Inputs last = start;
  for (size_t i = 0; i + 1 < counts.size(); ++i) last = after_launch(k, d, o, std::move(last), counts[i]);
  std::string out = check_ranks(k, d, o, last, counts.back(), copies);
  const Inputs end = after_launch(k, d, o, last, counts.back());
  for (size_t r = 0; r < copies.size(); ++r)
    if (std::memcmp(copies[r].data(KILN_ROLE_RESIDUAL), end.residual.data(), end.residual.size()) != 0)
      out += "rank " + std::to_string(r) + ": the residual after the chain of " + std::to_string(counts.size()) +
             " launches differs from the reference's (rows past the last launch's hold earlier launches' results)\n";
  return out;
}

TEST(Comm, ThousandBackToBackLaunchesAlternatingTokenCounts) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(11);
  const Communicator& c = communicators().back();  // tp2 where there is one
  constexpr int64_t kHidden = 4096, kRows = 700;
  for (const kiln_kernel_desc& k : comm_kernels()) {
    Plans plans(c, k, kHidden, DType::bf16, {}, kRows);
    ASSERT_EQ(plans.error(), "");
    Ranks ranks(c.size(), k, kHidden, kRows);
    ASSERT_EQ(ranks.error, "");
    std::vector<int64_t> counts;
    for (int i = 0; i < 1000; ++i) counts.push_back(std::array<int64_t, 5>{1, 37, kRows, 5, 130}[static_cast<size_t>(i % 5)]);
    counts.back() = 64;
    Inputs in;
    in.hidden = kHidden;
    in.tokens = kRows;
    randomise(in, c.size(), DType::bf16, false, rng);
    std::vector<RankTensors::Copy> copies(static_cast<size_t>(c.size()));
    const std::string e = on_every_rank(c.size(), "1000 launches", [&](int r) {
      RankTensors& t = ranks.at(r);
      cudaStream_t s = ranks.stream(r);
      if (std::string e2 = t.upload(in, r, kRows, s); !e2.empty()) return e2;
      for (int64_t tokens : counts) {
        const kiln_args a = t.args(DType::bf16, tokens, in.eps);
        if (const kiln_status st = kiln_launch(plans[r], &a, s); st != KILN_SUCCESS)
          return std::string("kiln_launch: ") + kiln_status_name(st) + ": " + kiln_last_error();
      }
      if (std::string e2 = cuda_error("the launches", cudaStreamSynchronize(s)); !e2.empty()) return e2;
      if (std::string e2 = t.download(copies[static_cast<size_t>(r)], s); !e2.empty()) return e2;
      return t.check_guards(copies[static_cast<size_t>(r)], kRows, false);
    });
    ASSERT_EQ(e, "");
    ASSERT_EQ(check_chain(k, DType::bf16, {}, in, counts, copies), "") << k.name << " on " << c.name;
  }
}

// A CUDA graph of 20 launches (alternating token counts) on every rank, replayed 3000
// times: no host involvement, every rank identical; then new inputs copied into the same
// buffers and one more replay, checked against the reference of its 20 launches; then a
// graph of one launch replayed after each change of its inputs.
TEST(Comm, CudaGraphReplaysThousandsOfTimesThenSeesNewInputs) {
  REQUIRE_COMMUNICATORS();
  std::mt19937_64 rng(3);
  constexpr int64_t kHidden = 4096, kRows = 600;
  const char* env = std::getenv("KILN_TEST_COMM_REPLAYS");
  const int replays = env && std::atoi(env) > 0 ? std::atoi(env) : 3000;
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels()) {
      const Options o{ref::Rounding::vllm, true, true};
      Plans plans(c, k, kHidden, DType::bf16, o, kRows);
      ASSERT_EQ(plans.error(), "");
      Ranks ranks(c.size(), k, kHidden, kRows);
      ASSERT_EQ(ranks.error, "");
      std::vector<int64_t> counts;
      for (int i = 0; i < 20; ++i) counts.push_back(std::array<int64_t, 4>{3, kRows, 1, 77}[static_cast<size_t>(i % 4)]);
      Inputs in;
      in.hidden = kHidden;
      in.tokens = kRows;
      randomise(in, c.size(), DType::bf16, o.gemma, rng);
      std::vector<cudaGraphExec_t> many(static_cast<size_t>(c.size())), one(static_cast<size_t>(c.size()));
      std::string e = on_every_rank(c.size(), "capture", [&](int r) -> std::string {
        RankTensors& t = ranks.at(r);
        cudaStream_t s = ranks.stream(r);
        if (std::string e2 = t.upload(in, r, kRows, s); !e2.empty()) return e2;
        for (auto* exec : {&many, &one}) {
          cudaGraph_t g;
          if (std::string e2 = cuda_error("capture", cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal)); !e2.empty())
            return e2;
          for (int64_t tokens : exec == &many ? counts : std::vector<int64_t>{37}) {
            const kiln_args a = t.args(DType::bf16, tokens, in.eps);
            if (const kiln_status st = kiln_launch(plans[r], &a, s); st != KILN_SUCCESS) {
              cudaStreamEndCapture(s, &g);
              return std::string("kiln_launch in a capture: ") + kiln_status_name(st) + ": " + kiln_last_error();
            }
          }
          if (std::string e2 = cuda_error("end capture", cudaStreamEndCapture(s, &g)); !e2.empty()) return e2;
          if (std::string e2 = cuda_error("instantiate", cudaGraphInstantiate(&(*exec)[static_cast<size_t>(r)], g, 0)); !e2.empty())
            return e2;
          cudaGraphDestroy(g);
        }
        return std::string();
      });
      ASSERT_EQ(e, "");
      // Thousands of replays: the residual compounds; every rank must agree and the
      // guards stay intact.
      std::vector<RankTensors::Copy> copies(static_cast<size_t>(c.size()));
      e = on_every_rank(c.size(), std::to_string(replays) + " replays", [&](int r) -> std::string {
        cudaStream_t s = ranks.stream(r);
        for (int i = 0; i < replays; ++i)
          if (std::string e2 = cuda_error("cudaGraphLaunch", cudaGraphLaunch(many[static_cast<size_t>(r)], s)); !e2.empty())
            return e2;
        if (std::string e2 = cuda_error("the replays", cudaStreamSynchronize(s)); !e2.empty()) return e2;
        if (std::string e2 = ranks.at(r).download(copies[static_cast<size_t>(r)], s); !e2.empty()) return e2;
        return ranks.at(r).check_guards(copies[static_cast<size_t>(r)], kRows, false);
      });
      ASSERT_EQ(e, "");
      for (size_t r = 1; r < copies.size(); ++r)
        for (int role : {KILN_ROLE_RESIDUAL, KILN_ROLE_OUTPUT})
          ASSERT_EQ(std::memcmp(copies[r].data(role), copies[0].data(role), copies[0].bytes[static_cast<size_t>(role)].size() - 2 * kGuard), 0)
              << "rank " << r << " differs from rank 0 after " << replays << " replays (" << ref::role_name(role) << ")";
      // New inputs into the same buffers, one replay of the 20 launches, checked.
      randomise(in, c.size(), DType::bf16, o.gemma, rng);
      e = on_every_rank(c.size(), "replay with new inputs", [&](int r) -> std::string {
        RankTensors& t = ranks.at(r);
        cudaStream_t s = ranks.stream(r);
        if (std::string e2 = t.upload(in, r, kRows, s); !e2.empty()) return e2;
        if (std::string e2 = cuda_error("cudaGraphLaunch", cudaGraphLaunch(many[static_cast<size_t>(r)], s)); !e2.empty()) return e2;
        if (std::string e2 = cuda_error("the replay", cudaStreamSynchronize(s)); !e2.empty()) return e2;
        return t.download(copies[static_cast<size_t>(r)], s);
      });
      ASSERT_EQ(e, "");
      ASSERT_EQ(check_chain(k, DType::bf16, o, in, counts, copies), "")
          << k.name << " on " << c.name << ": the 20-launch graph replayed with new inputs";
      // The one-launch graph: new x (cudaMemcpy into the same buffers) before each replay.
      for (int round = 0; round < 3; ++round) {
        randomise(in, c.size(), DType::bf16, o.gemma, rng);
        e = on_every_rank(c.size(), "one-launch replay", [&](int r) -> std::string {
          RankTensors& t = ranks.at(r);
          cudaStream_t s = ranks.stream(r);
          // 37 rows only: the rest stays poisoned, so a write past them shows in the guards.
          if (std::string e2 = t.upload(in, r, 37, s); !e2.empty()) return e2;
          if (std::string e2 = cuda_error("cudaGraphLaunch", cudaGraphLaunch(one[static_cast<size_t>(r)], s)); !e2.empty()) return e2;
          if (std::string e2 = cuda_error("the replay", cudaStreamSynchronize(s)); !e2.empty()) return e2;
          if (std::string e2 = t.download(copies[static_cast<size_t>(r)], s); !e2.empty()) return e2;
          return t.check_guards(copies[static_cast<size_t>(r)], 37, true);
        });
        ASSERT_EQ(e, "");
        ASSERT_EQ(check_ranks(k, DType::bf16, o, in, 37, copies), "") << k.name << " on " << c.name << ": replay " << round;
      }
      on_every_rank(c.size(), "destroy graphs", [&](int r) {
        cudaGraphExecDestroy(many[static_cast<size_t>(r)]);
        cudaGraphExecDestroy(one[static_cast<size_t>(r)]);
        return std::string();
      });
    }
}

// ---- errors -----------------------------------------------------------------------------

kiln_plan_options comm_options(const kiln_kernel_desc& k, void* comm, int64_t max_tokens) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = k.name;
  o.hidden = 4096;
  o.dtype = KILN_DTYPE_BF16;
  o.device = 0;
  o.comm = comm;
  o.max_tokens = max_tokens;
  return o;
}

TEST(Comm, NullCommunicatorIsAnInvalidArgument) {
  REQUIRE_COMMUNICATORS();
  for (const kiln_kernel_desc& k : comm_kernels()) {
    const kiln_plan_options o = comm_options(k, nullptr, 64);
    kiln_plan* plan = nullptr;
    EXPECT_EQ(kiln_plan_create(&o, &plan), KILN_ERROR_INVALID_ARGUMENT) << k.name;
    EXPECT_EQ(plan, nullptr);
    EXPECT_NE(std::string(kiln_last_error()).find("comm"), std::string::npos) << kiln_last_error();
  }
}

TEST(Comm, MaxTokensZeroIsAnInvalidArgument) {
  REQUIRE_COMMUNICATORS();
  const Communicator& c = communicators().front();
  for (const kiln_kernel_desc& k : comm_kernels()) {
    // Refused before any collective call, so one rank alone may ask.
    const kiln_plan_options o = comm_options(k, c.comms[0], 0);
    kiln_plan* plan = nullptr;
    EXPECT_EQ(kiln_plan_create(&o, &plan), KILN_ERROR_INVALID_ARGUMENT) << k.name;
    EXPECT_EQ(plan, nullptr);
    EXPECT_NE(std::string(kiln_last_error()).find("max_tokens"), std::string::npos) << kiln_last_error();
  }
}

TEST(Comm, KernelWithoutCommunicatorRefusesOne) {
  REQUIRE_COMMUNICATORS();
  kiln_kernel_desc k{};
  k.struct_size = sizeof k;
  ASSERT_EQ(kiln_kernel_find("fused_add_rms_norm", &k), KILN_SUCCESS);
  kiln_plan_options o = comm_options(k, communicators().front().comms[0], 0);
  kiln_plan* plan = nullptr;
  EXPECT_EQ(kiln_plan_create(&o, &plan), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(plan, nullptr);
}

TEST(Comm, OneRankCommunicatorIsUnsupported) {
  REQUIRE_COMMUNICATORS();
  Communicator single = make_communicator("one rank", 1);
  if (!single.error.empty()) GTEST_SKIP() << single.error;
  for (const kiln_kernel_desc& k : comm_kernels()) {
    const kiln_plan_options o = comm_options(k, single.comms[0], 64);
    kiln_plan* plan = nullptr;
    EXPECT_EQ(kiln_plan_create(&o, &plan), KILN_ERROR_UNSUPPORTED_COMM) << k.name << ": " << kiln_last_error();
    EXPECT_EQ(plan, nullptr);
  }
  ncclCommDestroy(single.comms[0]);
}

TEST(Comm, TokensBeyondMaxTokensAreRefusedAtLaunch) {
  REQUIRE_COMMUNICATORS();
  const Communicator& c = communicators().front();
  constexpr int64_t kMax = 64;
  for (const kiln_kernel_desc& k : comm_kernels()) {
    Plans plans(c, k, 4096, DType::bf16, {}, kMax);
    ASSERT_EQ(plans.error(), "");
    Ranks ranks(c.size(), k, 4096, kMax + 1);
    ASSERT_EQ(ranks.error, "");
    const std::string e = on_every_rank(c.size(), "launch past max_tokens", [&](int r) -> std::string {
      const kiln_args a = ranks.at(r).args(DType::bf16, kMax + 1, 1e-6f);
      const kiln_status s = kiln_launch(plans[r], &a, ranks.stream(r));
      if (s != KILN_ERROR_INVALID_TOKENS)
        return std::string("kiln_launch of max_tokens + 1 rows returned ") + kiln_status_name(s) + ", not KILN_ERROR_INVALID_TOKENS";
      if (std::string(kiln_last_error()).find("max_tokens") == std::string::npos)
        return std::string("the message does not name max_tokens: ") + kiln_last_error();
      return cuda_error("the stream", cudaStreamSynchronize(ranks.stream(r)));
    });
    EXPECT_EQ(e, "") << k.name;
    // The plan still works afterwards (nothing was launched on any rank).
    std::mt19937_64 rng(23);
    Inputs in;
    in.hidden = 4096;
    in.tokens = kMax;
    randomise(in, c.size(), DType::bf16, false, rng);
    EXPECT_EQ(launch_and_check(plans, ranks, k, DType::bf16, {}, in, kMax), "") << k.name;
  }
}

// What a plan reports: the communicator size, in describe and the summary.
TEST(Comm, PlansDescribeTheirRanks) {
  REQUIRE_COMMUNICATORS();
  for (const Communicator& c : communicators())
    for (const kiln_kernel_desc& k : comm_kernels()) {
      Plans plans(c, k, 4096, DType::bf16, {}, 256);
      ASSERT_EQ(plans.error(), "");
      for (int r = 0; r < c.size(); ++r) {
        const kiln_variant_info info = describe(plans[r], 7);
        ASSERT_NE(info.name, nullptr) << kiln_last_error();
        EXPECT_EQ(info.ranks, c.size());
        EXPECT_STREQ(info.kernel, k.name);
        EXPECT_NE(std::string(kiln_plan_summary(plans[r])).find("ranks=" + std::to_string(c.size())), std::string::npos)
            << kiln_plan_summary(plans[r]);
      }
    }
}

}  // namespace
