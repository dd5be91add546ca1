// kiln-bench: on the current GPU, time kiln's specialised kernels against kiln's
// generic kernel for every (kernel, dtype, hidden size, token count), next to the
// run's bandwidth ceiling (a large device-to-device copy) and launch floor (an empty
// kernel). Prints a table and an RFC-style summary, writes CSV and SVG heatmaps.
//
//   kiln-bench --out-dir results/              # defaults: both kernels, bf16, the grid
//   kiln-bench --rotate --dtype all --out-dir results/rotate
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_util.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "report.h"
#include "timing.h"
#include "workload.h"

namespace kiln_bench {
namespace {

struct Options {
  std::string kernel = "all";
  std::vector<int64_t> hidden = {2048, 4096, 5120, 8192};
  // Thresholds, the values between them, and sizes that run from DRAM at every hidden size.
  std::vector<int64_t> tokens = {1,   2,   3,    4,    8,    16,   32,    64,    128,   200,
                                 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  std::string dtype = "bf16";
  TimingOptions timing;
  RotateOptions rotate;
  int device = 0;
  uint64_t seed = 1;
  float scale = 0.1f;
  float eps = 1e-6f;
  double ceiling_gib = 4.0;
  std::string csv, svg, out_dir;
};

// One line on stderr, rewritten in place on a terminal (a line per shape otherwise).
class Progress {
 public:
  explicit Progress(int total) : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}

  void update(const std::string& what) {
    ++done_;
    const double s = std::chrono::duration<double>(Clock::now() - start_).count();
    const int width = static_cast<int>(std::to_string(total_).size());
    std::fprintf(stderr, "%s[%*d/%d] %s  (%.0f s)%s", tty_ ? "\r\033[K" : "", width, done_, total_, what.c_str(), s,
                 tty_ ? "" : "\n");
    std::fflush(stderr);
  }
  // Before anything else is printed: take the progress line away.
  void clear() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  int total_, done_ = 0;
  bool tty_;
  Clock::time_point start_;
};

std::vector<std::string> expand(const std::string& value, const std::vector<std::string>& all) {
  return value == "all" ? all : std::vector<std::string>{value};
}

kiln_dtype dtype_of(const std::string& name) { return name == "fp16" ? KILN_DTYPE_FP16 : KILN_DTYPE_BF16; }

std::string us_brief(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, us < 100 ? "%.2f" : "%.0f", us);
  return buf;
}

void print(const std::string& text, Progress& progress) {
  progress.clear();
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

// All shapes of one (kernel, dtype): one arena for all of them, two plans per hidden size.
std::vector<Result> run_group(const std::string& kernel, const std::string& dtype, const Options& o,
                              const RunInfo& info, GraphTimer& timer, Progress& progress, std::string& plans_text) {
  std::size_t arena_bytes = 0;
  for (int64_t h : o.hidden)
    for (int64_t t : o.tokens)
      arena_bytes = std::max(arena_bytes, set_layout(kernel, h, t, info.device.l2_bytes, o.rotate).working_set());
  const Arena arena(arena_bytes, dtype_of(dtype), o.seed, o.scale, timer.stream());

  std::vector<Result> results;
  for (int64_t h : o.hidden) {
    kiln::PlanOptions po;
    po.kernel = kernel;
    po.hidden = h;
    po.dtype = dtype_of(dtype);
    po.device = o.device;
    po.policy = KILN_SET_EXACT;
    const kiln::Plan exact(po);
    po.policy = KILN_SET_GENERIC;
    const kiln::Plan generic(po);
    plans_text += "plan: " + exact.summary() + "\n";

    for (int64_t t : o.tokens) {
      const std::string shape = kernel + " " + dtype + " h=" + std::to_string(h) + " T=" + std::to_string(t);
      progress.update(shape + (results.empty() ? "" : "  [last: kiln " + us_brief(results.back().kiln.us) +
                                                         " µs, generic " + us_brief(results.back().generic.us) +
                                                         " µs]"));
      arena.refill(timer.stream());
      const SetLayout layout = set_layout(kernel, h, t, info.device.l2_bytes, o.rotate);
      const int launches = graph_launches(o.timing.launches, layout.sets);
      const KilnLaunches kiln_calls(exact, kernel, h, t, o.eps, arena, layout);
      const KilnLaunches generic_calls(generic, kernel, h, t, o.eps, arena, layout);

      Result r;
      r.kernel = kernel;
      r.dtype = dtype;
      r.hidden = h;
      r.tokens = t;
      r.bytes = min_traffic_bytes(kernel, h, t);
      r.working_set = layout.working_set();
      r.sets = layout.sets;
      try {
        r.kiln = timer.time(std::cref(kiln_calls), launches, o.timing);
        r.generic = timer.time(std::cref(generic_calls), launches, o.timing);
      } catch (const std::exception& e) {
        throw std::runtime_error(shape + ": " + e.what());
      }
      const kiln_variant_info v = exact.describe(t);
      r.variant = v.name;
      r.config = v.config;
      r.schedule = v.schedule;
      r.threshold = v.threshold;
      r.fallback = v.is_fallback != 0;
      results.push_back(r);
    }
  }
  return results;
}

std::string join_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

int run(const Options& o, const std::string& command_line) {
  int device_count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&device_count));
  if (o.device < 0 || o.device >= device_count)
    throw std::runtime_error("--device " + std::to_string(o.device) + ": this machine has " +
                             std::to_string(device_count) + " CUDA device(s)");
  CUDA_CHECK(cudaSetDevice(o.device));

  const std::vector<std::string> kernels = expand(o.kernel, known_kernels());
  const std::vector<std::string> dtypes = expand(o.dtype, {"bf16", "fp16"});

  RunInfo info;
  info.device = query_device(o.device);
  info.timing = o.timing;
  info.rotate = o.rotate.enabled;
  info.rotate_factor = o.rotate.l2_factor;
  info.seed = o.seed;
  info.scale = o.scale;
  info.eps = o.eps;
  info.kiln_version = kiln_version();
  info.command_line = command_line;

  // Fail before measuring anything if this library cannot serve the device.
  {
    kiln::PlanOptions po;
    po.kernel = kernels.front();
    po.hidden = o.hidden.front();
    po.dtype = dtype_of(dtypes.front());
    po.device = o.device;
    const kiln::Plan probe(po);
  }

  if (!o.out_dir.empty()) std::filesystem::create_directories(o.out_dir);

  Stream stream;
  GraphTimer timer(stream.get());
  std::fprintf(stderr, "kiln-bench: measuring the copy ceiling (%.1f GiB) and the launch floor on %s ...\n",
               o.ceiling_gib, info.device.name.c_str());
  info.ceiling = measure_ceiling(static_cast<std::size_t>(o.ceiling_gib * 1073741824.0), info.device, stream.get());
  info.floor = measure_floor(timer, o.timing);

  const int total = static_cast<int>(kernels.size() * dtypes.size() * o.hidden.size() * o.tokens.size());
  Progress progress(total);
  std::string report = format_header(info);
  print(report, progress);

  const std::string suffix = o.rotate.enabled ? "_rotate" : "";
  const bool many_groups = kernels.size() * dtypes.size() > 1;

  std::vector<Result> all;
  for (const std::string& kernel : kernels) {
    for (const std::string& dtype : dtypes) {
      std::string plans;
      const std::vector<Result> group = run_group(kernel, dtype, o, info, timer, progress, plans);
      const std::string text = format_table(group, info) + plans + "\n" + format_targets(group, info) +
                               format_summary(group, info, kernel + " " + dtype + " on " + info.device.name);
      print(text, progress);
      report += text;

      const std::string stem = kernel + "_" + dtype + suffix;
      if (!o.out_dir.empty()) {
        write_csv((std::filesystem::path(o.out_dir) / (stem + ".csv")).string(), group, info);
        write_file((std::filesystem::path(o.out_dir) / (stem + ".svg")).string(), make_svg(group, info));
      }
      if (!o.svg.empty()) {
        std::filesystem::path p(o.svg);
        if (many_groups) p.replace_filename(p.stem().string() + "_" + kernel + "_" + dtype + p.extension().string());
        write_file(p.string(), make_svg(group, info));
      }
      all.insert(all.end(), group.begin(), group.end());
    }
  }
  if (many_groups) {
    const std::string text = format_summary(all, info, "all kernels and dtypes on " + info.device.name);
    print(text, progress);
    report += text;
  }
  if (!o.csv.empty()) write_csv(o.csv, all, info);
  if (!o.out_dir.empty()) {
    const std::filesystem::path summary =
        std::filesystem::path(o.out_dir) / ("summary_" + o.kernel + "_" + o.dtype + suffix + ".txt");
    write_file(summary.string(), report);
    std::fprintf(stderr, "kiln-bench: wrote %s and the CSV/SVG files beside it\n", summary.string().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace kiln_bench

int main(int argc, char** argv) {
  using kiln_bench::Options;
  Options o;
  CLI::App app{"kiln-bench: kiln's specialised kernels vs its generic kernel, the copy ceiling and the launch floor "
               "(CUDA-graph replays, median per call)"};
  app.add_option("--kernel", o.kernel, "silu_mul_fp8, rms_norm_fp8 or all")
      ->check(CLI::IsMember({"silu_mul_fp8", "rms_norm_fp8", "all"}))
      ->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden sizes, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--tokens", o.tokens, "token counts, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--dtype", o.dtype, "input dtype: bf16, fp16 or all")
      ->check(CLI::IsMember({"bf16", "fp16", "all"}))
      ->capture_default_str();
  app.add_option("--launches", o.timing.launches, "back-to-back launches captured per CUDA graph")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--replays", o.timing.replays, "graph replays timed; the median is taken")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--min-replays", o.timing.min_replays, "fewest replays when --max-seconds cuts them down")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-seconds", o.timing.max_seconds, "time bound for the replays of one measurement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup-ms", o.timing.warmup_ms, "warm-up replays for at least this long")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--rotate", o.rotate.enabled,
               "rotate among enough buffer sets that the working set exceeds --rotate-factor x L2 (measures mid "
               "sizes from DRAM)");
  app.add_option("--rotate-factor", o.rotate.l2_factor, "working set in multiples of the L2 size with --rotate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rotate-max-sets", o.rotate.max_sets, "at most this many buffer sets (= launches per graph)")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--device", o.device, "CUDA device index")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the random inputs")->capture_default_str();
  app.add_option("--scale", o.scale, "the fp8 scale (outputs are multiplied by 1/scale)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--eps", o.eps, "rms_norm_fp8 epsilon")->capture_default_str();
  app.add_option("--ceiling-gib", o.ceiling_gib, "GiB copied to measure the bandwidth ceiling")
      ->check(CLI::Range(0.01, 64.0))
      ->capture_default_str();
  app.add_option("--out-dir", o.out_dir,
                 "write <kernel>_<dtype>[_rotate].csv and .svg per kernel and dtype, and summary_*.txt, here");
  app.add_option("--csv", o.csv, "write every row to this CSV file");
  app.add_option("--svg", o.svg, "write the heatmap here (with several kernels/dtypes: <stem>_<kernel>_<dtype>.svg)");
  CLI11_PARSE(app, argc, argv);

  for (int64_t h : o.hidden)
    if (h <= 0) return std::fprintf(stderr, "kiln-bench: --hidden %lld: must be positive\n", static_cast<long long>(h)), 2;
  for (int64_t t : o.tokens)
    if (t <= 0) return std::fprintf(stderr, "kiln-bench: --tokens %lld: must be positive\n", static_cast<long long>(t)), 2;
  for (auto* list : {&o.hidden, &o.tokens}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  if (o.hidden.empty() || o.tokens.empty()) return std::fprintf(stderr, "kiln-bench: no shapes to run\n"), 2;

  try {
    return kiln_bench::run(o, kiln_bench::join_command_line(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nkiln-bench: error: %s\n", e.what());
    return 1;
  }
}
