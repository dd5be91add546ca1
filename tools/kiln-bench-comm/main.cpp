// kiln-bench-comm: kiln's communicator kernels timed as a tensor-parallel server runs
// them. One process, one thread per GPU, one NCCL communicator over them (NVLink
// multicast off); on every rank, per (kernel, hidden, tokens), a CUDA graph of N
// back-to-back launches replayed together on all ranks, per-call time = median replay / N,
// and the slowest rank's figure reported. The baseline is the two-step path an engine
// runs today: ncclAllReduce, then kiln's single-GPU fused kernel (the kernel's
// `baseline` below). Prints a table and a summary; writes CSV and an SVG heatmap.
//
//   kiln-bench-comm --out-dir results/            # every communicator kernel, the grid
//   kiln-bench-comm --kernel <kernel> --hidden 4096 --tokens 1,32,1024
#include <CLI/CLI.hpp>
#include <nccl.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "measure/cuda.h"
#include "measure/device.h"
#include "measure/text.h"
#include "measure/timing.h"

namespace {

using kiln::measure::DeviceMemory;

struct Options {
  int ranks = 2;
  std::string kernel = "all";
  std::vector<int64_t> hidden = {2048, 4096, 5120, 8192};
  std::vector<int64_t> tokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
  std::string dtype = "bf16";
  int launches = 20;
  int replays = 30;
  int warmup = 5;
  std::string out_dir;
};

#define NCCL_CHECK(call)                                                                          \
  do {                                                                                            \
    const ncclResult_t r_ = (call);                                                               \
    if (r_ != ncclSuccess) throw std::runtime_error(std::string(#call) + ": " + ncclGetErrorString(r_)); \
  } while (0)

// A communicator kernel and the single-GPU kernel an engine runs after ncclAllReduce
// instead: same tensors, but the norm reads the all-reduced x.
struct Kernel {
  std::string name, baseline;
  bool fp8 = false;
};

std::vector<Kernel> comm_kernels() {
  std::vector<Kernel> out;
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    kiln::check(kiln_kernel_at(i, &d));
    if (!(d.options & KILN_OPTION_COMM)) continue;
    Kernel k;
    k.name = d.name;
    for (int32_t t = 0; t < d.tensor_count; ++t) k.fp8 = k.fp8 || d.tensors[t].elem == KILN_ELEM_FP8_E4M3;
    // allreduce_<rest>'s two-step path is ncclAllReduce, then kiln's fused_<rest> kernel.
    const std::string rest = k.name.substr(k.name.find('_') + 1);
    k.baseline = "fused_" + rest;
    kiln_kernel_desc b{};
    b.struct_size = sizeof b;
    if (kiln_kernel_find(k.baseline.c_str(), &b) != KILN_SUCCESS)
      throw std::runtime_error(k.name + ": no baseline kernel " + k.baseline + " in this library");
    out.push_back(k);
  }
  return out;
}

// One rank's buffers, sized for the largest shape.
struct Rank {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  DeviceMemory x, residual, weight, out, sum, scale;
};

struct Sample {
  double kiln_us = 0, baseline_us = 0, nccl_us = 0;  // slowest rank's median per call
  std::string variant;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Every rank captures `enqueue` `launches` times into a graph; all replay it together
// (a barrier before each replay is queued); per-call median of this rank's replays.
template <class Enqueue>
double time_graph(Rank& r, std::barrier<>& sync, const Options& o, Enqueue enqueue) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  KILN_CUDA_CHECK(cudaStreamBeginCapture(r.stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < o.launches; ++i) enqueue();
  KILN_CUDA_CHECK(cudaStreamEndCapture(r.stream, &graph));
  KILN_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  std::vector<cudaEvent_t> events(2 * static_cast<std::size_t>(o.replays));
  for (cudaEvent_t& e : events) KILN_CUDA_CHECK(cudaEventCreate(&e));
  for (int i = 0; i < o.warmup; ++i) KILN_CUDA_CHECK(cudaGraphLaunch(exec, r.stream));
  KILN_CUDA_CHECK(cudaStreamSynchronize(r.stream));
  sync.arrive_and_wait();
  for (int i = 0; i < o.replays; ++i) {
    KILN_CUDA_CHECK(cudaEventRecord(events[2 * i], r.stream));
    KILN_CUDA_CHECK(cudaGraphLaunch(exec, r.stream));
    KILN_CUDA_CHECK(cudaEventRecord(events[2 * i + 1], r.stream));
  }
  KILN_CUDA_CHECK(cudaStreamSynchronize(r.stream));
  std::vector<double> us;
  for (int i = 0; i < o.replays; ++i) {
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, events[2 * i], events[2 * i + 1]));
    us.push_back(1e3 * ms / o.launches);
  }
  for (cudaEvent_t e : events) cudaEventDestroy(e);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  sync.arrive_and_wait();
  return median_of(us);
}

std::string fmt(double v, int digits = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

struct Row {
  std::string kernel;
  int64_t hidden, tokens;
  Sample s;
  double speedup() const { return s.baseline_us / s.kiln_us; }
};

std::string summary(const std::vector<Row>& rows, const Options& o, const std::string& device) {
  std::string out;
  std::map<std::string, std::vector<const Row*>> by_kernel;
  for (const Row& r : rows) by_kernel[r.kernel].push_back(&r);
  for (auto& [kernel, rs] : by_kernel) {
    double log_small = 0, worst_small = 0, min_all = 1e30;
    int n_small = 0;
    const Row* min_row = nullptr;
    std::string slower;
    for (const Row* r : rs) {
      if (r->tokens <= 128) {
        log_small += std::log(r->speedup());
        ++n_small;
      }
      if (r->tokens <= 32) worst_small = std::max(worst_small, r->s.kiln_us);
      if (r->speedup() < min_all) {
        min_all = r->speedup();
        min_row = r;
      }
      if (r->speedup() < 1.0)
        slower += " h=" + std::to_string(r->hidden) + " T=" + std::to_string(r->tokens) + " (" + fmt(r->speedup(), 3) + "x)";
    }
    out += kernel + " " + o.dtype + ", " + std::to_string(o.ranks) + " ranks, " + device + ":\n";
    out += "  vs ncclAllReduce + kiln's fused kernel: geomean " + fmt(std::exp(log_small / std::max(n_small, 1)), 2) +
           "x at T <= 128 (target >= 2x); min " + fmt(min_all, 3) + "x at h=" + std::to_string(min_row->hidden) +
           " T=" + std::to_string(min_row->tokens) + "\n";
    out += "  slowest call at T <= 32: " + fmt(worst_small) + " us (target <= 4 us)\n";
    out += "  slower than the two-step path at:" + (slower.empty() ? std::string(" none") : slower) + "\n";
  }
  return out;
}

// Hidden x tokens, colour = speedup over the two-step path, text = kiln's us.
std::string svg(const std::vector<Row>& rows, const std::string& kernel, const std::string& title) {
  std::vector<int64_t> hs, ts;
  for (const Row& r : rows)
    if (r.kernel == kernel) {
      if (std::find(hs.begin(), hs.end(), r.hidden) == hs.end()) hs.push_back(r.hidden);
      if (std::find(ts.begin(), ts.end(), r.tokens) == ts.end()) ts.push_back(r.tokens);
    }
  const int cw = 64, ch = 40, left = 80, top = 80;
  const int w = left + cw * static_cast<int>(ts.size()) + 20, h = top + ch * static_cast<int>(hs.size()) + 40;
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" font-family=\"sans-serif\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<text x=\"" + std::to_string(left) +
       "\" y=\"24\" font-size=\"15\" font-weight=\"600\">" + title + "</text>\n";
  s += "<text x=\"" + std::to_string(left) +
       "\" y=\"44\" font-size=\"11\">colour: speedup over ncclAllReduce + fused kernel (red &lt; 1, white 1, green "
       "&#8805; 3); text: kiln us per call</text>\n";
  for (std::size_t j = 0; j < ts.size(); ++j)
    s += "<text x=\"" + std::to_string(left + cw * static_cast<int>(j) + cw / 2) + "\" y=\"" + std::to_string(top - 8) +
         "\" font-size=\"11\" text-anchor=\"middle\">" + std::to_string(ts[j]) + "</text>\n";
  for (std::size_t i = 0; i < hs.size(); ++i)
    s += "<text x=\"" + std::to_string(left - 8) + "\" y=\"" + std::to_string(top + ch * static_cast<int>(i) + ch / 2 + 4) +
         "\" font-size=\"12\" text-anchor=\"end\">" + std::to_string(hs[i]) + "</text>\n";
  for (const Row& r : rows) {
    if (r.kernel != kernel) continue;
    const int i = static_cast<int>(std::find(hs.begin(), hs.end(), r.hidden) - hs.begin());
    const int j = static_cast<int>(std::find(ts.begin(), ts.end(), r.tokens) - ts.begin());
    const double sp = r.speedup();
    int red = 255, green = 255, blue = 255;
    if (sp < 1) {
      green = blue = static_cast<int>(255 * std::max(0.0, sp));
    } else {
      const double f = std::min(1.0, (sp - 1) / 2);
      red = blue = static_cast<int>(255 * (1 - 0.7 * f));
    }
    char colour[16];
    std::snprintf(colour, sizeof colour, "#%02x%02x%02x", red, green, blue);
    const int x = left + cw * j, y = top + ch * i;
    s += "<g><title>h=" + std::to_string(r.hidden) + " T=" + std::to_string(r.tokens) + ": kiln " + fmt(r.s.kiln_us, 3) +
         " us (" + r.s.variant + "), two-step " + fmt(r.s.baseline_us, 3) + " us, ncclAllReduce alone " +
         fmt(r.s.nccl_us, 3) + " us, " + fmt(sp, 2) + "x</title><rect x=\"" + std::to_string(x) + "\" y=\"" +
         std::to_string(y) + "\" width=\"" + std::to_string(cw) + "\" height=\"" + std::to_string(ch) + "\" fill=\"" +
         colour + "\" stroke=\"#fff\"/><text x=\"" + std::to_string(x + cw / 2) + "\" y=\"" + std::to_string(y + 17) +
         "\" font-size=\"11\" text-anchor=\"middle\">" + fmt(r.s.kiln_us, r.s.kiln_us < 10 ? 2 : 1) +
         "</text><text x=\"" + std::to_string(x + cw / 2) + "\" y=\"" + std::to_string(y + 32) +
         "\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">" + fmt(sp, 2) + "x</text></g>\n";
  }
  return s + "</svg>\n";
}

int run(const Options& o) {
  if (const char* nvls = std::getenv("NCCL_NVLS_ENABLE"); nvls == nullptr || std::string(nvls) != "0")
    setenv("NCCL_NVLS_ENABLE", "0", 1);  // NVLink multicast is never used (it can take a shared host down)
  int devices = 0;
  KILN_CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices < o.ranks)
    throw std::runtime_error("--ranks " + std::to_string(o.ranks) + " needs that many GPUs; this machine has " +
                             std::to_string(devices));
  std::vector<Kernel> kernels;
  for (const Kernel& k : comm_kernels())
    if (o.kernel == "all" || o.kernel == k.name) kernels.push_back(k);
  if (kernels.empty()) throw std::runtime_error("--kernel " + o.kernel + ": no such communicator kernel");

  std::vector<int> device_ids(static_cast<std::size_t>(o.ranks));
  for (int i = 0; i < o.ranks; ++i) device_ids[i] = i;
  std::vector<ncclComm_t> comms(static_cast<std::size_t>(o.ranks));
  NCCL_CHECK(ncclCommInitAll(comms.data(), o.ranks, device_ids.data()));
  std::string why;
  const kiln::measure::DeviceInfo info = kiln::measure::probe_device(0, why).value_or(kiln::measure::DeviceInfo{});
  const kiln_dtype dtype = o.dtype == "fp16" ? KILN_DTYPE_FP16 : KILN_DTYPE_BF16;
  const int64_t max_t = *std::max_element(o.tokens.begin(), o.tokens.end());
  const int64_t max_h = *std::max_element(o.hidden.begin(), o.hidden.end());
  const std::size_t act = static_cast<std::size_t>(max_t * max_h) * 2;

  std::vector<Row> rows;
  std::vector<std::map<std::string, Sample>> per_rank(static_cast<std::size_t>(o.ranks));
  std::barrier sync(o.ranks);
  std::vector<std::string> errors(static_cast<std::size_t>(o.ranks));
  auto key = [](const std::string& k, int64_t h, int64_t t) { return k + "/" + std::to_string(h) + "/" + std::to_string(t); };

  auto rank_main = [&](int rank) {
    try {
      Rank r;
      r.device = rank;
      r.comm = comms[rank];
      KILN_CUDA_CHECK(cudaSetDevice(rank));
      KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking));
      r.x = DeviceMemory(act);
      r.residual = DeviceMemory(act);
      r.out = DeviceMemory(act);
      r.sum = DeviceMemory(act);
      r.weight = DeviceMemory(static_cast<std::size_t>(max_h) * 2);
      r.scale = DeviceMemory(sizeof(float));
      const bool bf16 = dtype == KILN_DTYPE_BF16;
      kiln::measure::fill_normal(static_cast<uint16_t*>(r.x.get()), act / 2, bf16, 1 + rank, 0.5f, r.stream);
      kiln::measure::fill_normal(static_cast<uint16_t*>(r.residual.get()), act / 2, bf16, 7, 0.5f, r.stream);
      kiln::measure::fill_normal(static_cast<uint16_t*>(r.weight.get()), static_cast<std::size_t>(max_h), bf16, 9, 1.0f,
                                 r.stream);
      const float scale = 0.05f;
      KILN_CUDA_CHECK(cudaMemcpyAsync(r.scale.get(), &scale, sizeof scale, cudaMemcpyHostToDevice, r.stream));
      KILN_CUDA_CHECK(cudaStreamSynchronize(r.stream));
      for (const Kernel& k : kernels)
        for (int64_t h : o.hidden) {
          kiln::PlanOptions po;
          po.kernel = k.name;
          po.hidden = h;
          po.dtype = dtype;
          po.device = rank;
          po.comm = r.comm;
          po.max_tokens = max_t;
          po.static_weight = true;  // model weights, as an engine declares them (both paths)
          kiln::Plan plan(po);  // collective: every rank's thread is here
          kiln::PlanOptions bo = po;
          bo.kernel = k.baseline;
          bo.comm = nullptr;
          bo.max_tokens = 0;
          kiln::Plan base(bo);
          for (int64_t t : o.tokens) {
            kiln_args a;
            kiln_args_init(&a);
            a.tokens = t;
            a.hidden = h;
            a.dtype = dtype;
            a.tensors[KILN_ROLE_INPUT] = r.x.get();
            a.tensors[KILN_ROLE_RESIDUAL] = r.residual.get();
            a.tensors[KILN_ROLE_WEIGHT] = r.weight.get();
            a.tensors[KILN_ROLE_OUTPUT] = r.out.get();
            if (k.fp8) a.tensors[KILN_ROLE_SCALE] = r.scale.get();
            // The two-step path: the sum lands in `sum`, which the fused kernel reads
            // (and, without fp8, writes its norm over: vLLM's in-place contract).
            kiln_args b = a;
            b.tensors[KILN_ROLE_INPUT] = r.sum.get();
            if (!k.fp8) b.tensors[KILN_ROLE_OUTPUT] = nullptr;
            const ncclDataType_t nt = bf16 ? ncclBfloat16 : ncclFloat16;
            const auto count = static_cast<std::size_t>(t * h);
            Sample s;
            s.variant = plan.describe(t).name;
            s.kiln_us = time_graph(r, sync, o, [&] { plan.launch(a, r.stream); });
            // NCCL connects lazily at a collective's first call: outside the capture.
            NCCL_CHECK(ncclAllReduce(r.x.get(), r.sum.get(), count, nt, ncclSum, r.comm, r.stream));
            KILN_CUDA_CHECK(cudaStreamSynchronize(r.stream));
            s.baseline_us = time_graph(r, sync, o, [&] {
              NCCL_CHECK(ncclAllReduce(r.x.get(), r.sum.get(), count, nt, ncclSum, r.comm, r.stream));
              base.launch(b, r.stream);
            });
            s.nccl_us = time_graph(r, sync, o, [&] {
              NCCL_CHECK(ncclAllReduce(r.x.get(), r.sum.get(), count, nt, ncclSum, r.comm, r.stream));
            });
            per_rank[rank][key(k.name, h, t)] = s;
            if (rank == 0) {
              std::fprintf(stderr, "\r%s h=%lld T=%lld      ", k.name.c_str(), static_cast<long long>(h),
                           static_cast<long long>(t));
            }
          }
          sync.arrive_and_wait();  // every rank's launches done before the plans go (collective)
        }
      cudaStreamDestroy(r.stream);
    } catch (const std::exception& e) {
      errors[rank] = e.what();
      std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
      std::_Exit(1);  // the other ranks would wait for this one forever
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < o.ranks; ++i) threads.emplace_back(rank_main, i);
  for (std::thread& t : threads) t.join();
  std::fprintf(stderr, "\n");
  for (ncclComm_t c : comms) ncclCommDestroy(c);

  for (const Kernel& k : kernels)
    for (int64_t h : o.hidden)
      for (int64_t t : o.tokens) {
        Row row{k.name, h, t, {}};
        for (int i = 0; i < o.ranks; ++i) {  // the slowest rank sets the step's pace
          const Sample& s = per_rank[i][key(k.name, h, t)];
          row.s.kiln_us = std::max(row.s.kiln_us, s.kiln_us);
          row.s.baseline_us = std::max(row.s.baseline_us, s.baseline_us);
          row.s.nccl_us = std::max(row.s.nccl_us, s.nccl_us);
          row.s.variant = s.variant;
        }
        rows.push_back(row);
      }

  const std::string device = info.name + " x" + std::to_string(o.ranks);
  std::string table = "kernel hidden tokens kiln_us two_step_us nccl_allreduce_us speedup variant\n";
  for (const Row& r : rows)
    table += r.kernel + " " + std::to_string(r.hidden) + " " + std::to_string(r.tokens) + " " + fmt(r.s.kiln_us, 3) + " " +
             fmt(r.s.baseline_us, 3) + " " + fmt(r.s.nccl_us, 3) + " " + fmt(r.speedup(), 3) + " " + r.s.variant + "\n";
  const std::string head = "kiln-bench-comm: " + device + ", driver " + info.driver + ", kiln " + kiln_version() + ", " +
                           kiln::measure::utc_datetime() + "; " + o.dtype + "; CUDA graph of " + std::to_string(o.launches) +
                           " launches, median of " + std::to_string(o.replays) +
                           " replays on every rank, slowest rank reported; static_weight on both paths; NCCL_NVLS_ENABLE=0\n";
  const std::string sum = summary(rows, o, device);
  std::printf("%s\n%s\n%s", head.c_str(), table.c_str(), sum.c_str());
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    std::ofstream(o.out_dir + "/results.csv") << "# " << head << table;
    std::ofstream(o.out_dir + "/summary.txt") << head << "\n" << sum;
    for (const Kernel& k : kernels)
      std::ofstream(o.out_dir + "/" + k.name + "_" + o.dtype + ".svg")
          << svg(rows, k.name, "kiln " + k.name + " · " + o.dtype + " · " + device);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"kiln-bench-comm: time kiln's communicator kernels on every rank against ncclAllReduce + kiln's "
               "fused kernel"};
  app.add_option("--ranks", o.ranks, "GPUs, one rank each (the communicator size)")->check(CLI::Range(2, 8));
  app.add_option("--kernel", o.kernel, "a communicator kernel, or all");
  app.add_option("--hidden", o.hidden, "hidden sizes")->delimiter(',');
  app.add_option("--tokens", o.tokens, "token counts")->delimiter(',');
  app.add_option("--dtype", o.dtype, "bf16 or fp16")->check(CLI::IsMember({"bf16", "fp16"}));
  app.add_option("--launches", o.launches, "launches per CUDA graph")->check(CLI::Range(1, 1000));
  app.add_option("--replays", o.replays, "timed replays (median)")->check(CLI::Range(1, 10000));
  app.add_option("--out-dir", o.out_dir, "write results.csv, summary.txt and one SVG per kernel here");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln-bench-comm: %s\n", e.what());
    return 1;
  }
}
