// Graph-replay timing, the copy ceiling, the launch floor, and what the device is.
#include "timing.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <fstream>
#include <regex>

#include "device_kernels.h"

namespace kiln_bench {

namespace {

constexpr int kGateBatch = 200;                       // replays queued behind one gate
constexpr unsigned long long kGateTimeoutNs = 2'000'000'000ull;

void write_flag(int* flag, int value) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *reinterpret_cast<volatile int*>(flag) = value;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// The NVIDIA kernel module's version ("580.65.06"); cudart does not report it.
std::string kernel_driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "unknown";
  std::smatch m;
  if (std::regex_search(line, m, std::regex(R"(\b(\d{3,}\.\d+(\.\d+)?)\b)"))) return m[1];
  return "unknown";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

GraphTimer::GraphTimer(cudaStream_t stream) : stream_(stream) {
  CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_flags_), 2 * sizeof(int), cudaHostAllocMapped));
  host_flags_[0] = host_flags_[1] = 0;
  CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_flags_), host_flags_, 0));
}

GraphTimer::~GraphTimer() {
  if (host_flags_) cudaFreeHost(host_flags_);
}

Timing GraphTimer::time(const Enqueue& enqueue, int launches, const TimingOptions& options) {
  // Outside a graph first: loads the module and reports a bad launch plainly.
  enqueue(0, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));

  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    for (int i = 0; i < launches; ++i) enqueue(i, stream_);
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream_, &broken);
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  GraphExec exec(graph);
  CUDA_CHECK(cudaGraphUpload(exec.get(), stream_));

  while (starts_.size() < 2) {
    starts_.emplace_back();
    stops_.emplace_back();
  }

  // Warm-up: batches that double until at least 3 replays and warmup_ms have run.
  int warm = 0;
  double warm_ms = 0.0;
  for (int batch = 3; warm < 3 || warm_ms < options.warmup_ms; batch = std::min(2 * batch, 4096)) {
    CUDA_CHECK(cudaEventRecord(starts_[0].get(), stream_));
    for (int i = 0; i < batch; ++i) CUDA_CHECK(cudaGraphLaunch(exec.get(), stream_));
    CUDA_CHECK(cudaEventRecord(stops_[0].get(), stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    warm_ms += elapsed_ms(starts_[0], stops_[0]);
    warm += batch;
  }
  const double replay_ms = warm_ms / warm;

  int replays = std::max(1, options.replays);
  if (replay_ms * replays > options.max_seconds * 1e3) {
    const int fewest = std::min(std::max(1, options.min_replays), replays);
    replays = std::clamp(static_cast<int>(options.max_seconds * 1e3 / replay_ms), fewest, replays);
  }
  while (starts_.size() < static_cast<std::size_t>(replays)) {
    starts_.emplace_back();
    stops_.emplace_back();
  }

  // Timed replays, queued behind a gate so the host never lags the GPU.
  Timing t;
  for (int first = 0; first < replays; first += kGateBatch) {
    const int n = std::min(kGateBatch, replays - first);
    write_flag(&host_flags_[0], 0);
    write_flag(&host_flags_[1], 0);
    CUDA_CHECK(device::launch_gate(device_flags_, device_flags_ + 1, kGateTimeoutNs, stream_));
    for (int i = first; i < first + n; ++i) {
      CUDA_CHECK(cudaEventRecord(starts_[i].get(), stream_));
      CUDA_CHECK(cudaGraphLaunch(exec.get(), stream_));
      CUDA_CHECK(cudaEventRecord(stops_[i].get(), stream_));
    }
    write_flag(&host_flags_[0], 1);
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (*reinterpret_cast<volatile int*>(&host_flags_[1]) != 0) t.gate_timed_out = true;
  }

  std::vector<double> ms;
  ms.reserve(replays);
  for (int i = 0; i < replays; ++i) ms.push_back(elapsed_ms(starts_[i], stops_[i]));
  t.launches = launches;
  t.replays = replays;
  t.us = median(ms) * 1e3 / launches;
  t.us_min = *std::min_element(ms.begin(), ms.end()) * 1e3 / launches;
  return t;
}

DeviceInfo query_device(int index) {
  DeviceInfo d;
  d.index = index;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  d.name = prop.name;
  d.arch = "sm" + std::to_string(prop.major * 10 + prop.minor);
  d.sms = prop.multiProcessorCount;
  d.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  d.memory_bytes = prop.totalGlobalMem;
  int v = 0;
  CUDA_CHECK(cudaDriverGetVersion(&v));
  d.cuda_driver = version_string(v);
  CUDA_CHECK(cudaRuntimeGetVersion(&v));
  d.cuda_runtime = version_string(v);
  d.driver = kernel_driver_version();
  d.date = utc_now();
  return d;
}

Ceiling measure_ceiling(std::size_t bytes, const DeviceInfo& device, cudaStream_t stream, int samples) {
  bytes = std::max<std::size_t>(bytes / (1 << 20), 1) << 20;  // whole MiB: 16-byte vectors throughout
  DeviceMemory src(bytes), dst(bytes);
  CUDA_CHECK(device::launch_fill_normal(static_cast<uint16_t*>(src.get()), bytes / 2, true, 7, 1.0f, stream));
  CUDA_CHECK(cudaMemsetAsync(dst.get(), 0, bytes, stream));

  std::vector<Event> starts(samples), stops(samples);
  // Median milliseconds of `samples` runs of op (after one untimed run).
  auto time_op = [&](const std::function<void()>& op) {
    op();
    for (int i = 0; i < samples; ++i) {
      CUDA_CHECK(cudaEventRecord(starts[i].get(), stream));
      op();
      CUDA_CHECK(cudaEventRecord(stops[i].get(), stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<double> ms;
    for (int i = 0; i < samples; ++i) ms.push_back(elapsed_ms(starts[i], stops[i]));
    return median(ms);
  };
  auto gbps = [&](double ms) { return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9; };

  Ceiling c;
  c.bytes = bytes;
  c.samples = samples;
  for (const bool streaming : {false, true}) {
    for (const int threads : {256, 512, 1024}) {
      int per_sm = 0;
      CUDA_CHECK(device::copy_blocks_per_sm(threads, streaming, &per_sm));
      const int blocks = std::max(1, per_sm) * device.sms;
      const double rate = gbps(time_op([&] {
        CUDA_CHECK(device::launch_copy(src.get(), dst.get(), bytes, blocks, threads, streaming, stream));
      }));
      if (rate > c.kernel_gbps) {
        c.kernel_gbps = rate;
        c.kernel_config = std::to_string(threads) + " threads x " + std::to_string(blocks) + " CTAs" +
                          (streaming ? ", streaming hints" : "");
      }
    }
  }
  c.memcpy_gbps = gbps(time_op([&] {
    CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
  }));
  c.gbps = std::max(c.kernel_gbps, c.memcpy_gbps);
  return c;
}

Floor measure_floor(GraphTimer& timer, const TimingOptions& options) {
  Floor f;
  f.plain_us = timer.time([](int, cudaStream_t s) { CUDA_CHECK(device::launch_empty(false, s)); },
                          options.launches, options).us;
  f.pdl_us = timer.time([](int, cudaStream_t s) { CUDA_CHECK(device::launch_empty(true, s)); },
                        options.launches, options).us;
  f.us = std::min(f.plain_us, f.pdl_us);
  return f;
}

}  // namespace kiln_bench
