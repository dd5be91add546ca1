// kiln-bench: on the current GPU, time kiln's specialised kernels against kiln's
// generic kernel for every (kernel, dtype, hidden size, token count), next to the
// run's bandwidth ceiling (a large device-to-device copy) and launch floor (an empty
// kernel). Prints a table and an RFC-style summary, writes CSV and SVG heatmaps.
// The kernels, their tensors and their bytes come from the library (kiln_kernel_at,
// kiln_min_bytes); the timing from the measuring library (tools/measure).
//
//   kiln-bench --out-dir results/              # defaults: every kernel, bf16, the grid
//   kiln-bench --rotate --dtype all --out-dir results/rotate
//   kiln-bench --kernel <kernel> --rounding vllm --gemma   # any kernel kiln_kernel_at lists
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "measure/progress.h"
#include "measure/text.h"
#include "measure/timing.h"
#include "report.h"
#include "workload.h"

namespace kiln_bench {
namespace {

using kiln::measure::Progress;

struct Options {
  std::string kernel = "all";
  std::vector<int64_t> hidden = {2048, 4096, 5120, 8192};
  // Thresholds, the values between them, and sizes that run from DRAM at every hidden size.
  std::vector<int64_t> tokens = {1,   2,   3,    4,    8,    16,   32,    64,    128,   200,
                                 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  std::string dtype = "bf16";
  std::string rounding = "single";
  bool gemma = false;
  bool static_weight = false;  // kernels with KILN_OPTION_STATIC_WEIGHT
  int group_size = KILN_DEFAULT_GROUP_SIZE;  // group quantisers (KILN_OPTION_GROUP)
  std::string scale_layout = "row_major";
  bool ue8m0 = false;
  kiln::measure::TimingOptions timing;
  RotateOptions rotate;
  int device = 0;
  uint64_t seed = 1;
  float scale = 0.1f;
  float eps = 1e-6f;
  double ceiling_gib = 4.0;
  std::string csv, svg, out_dir;
};

kiln_dtype dtype_of(const std::string& name) { return name == "fp16" ? KILN_DTYPE_FP16 : KILN_DTYPE_BF16; }

// The kernels --kernel names: one of the library's, or all of them.
std::vector<Kernel> select_kernels(const std::vector<Kernel>& all, const std::string& name) {
  if (name == "all") return all;
  for (const Kernel& k : all)
    if (k.name == name) return {k};
  throw std::invalid_argument("--kernel " + name + ": no such kernel in this library; it has: " + kernel_names(all) +
                              " (or all)");
}

// The plan's options where the kernel has them (others ignore --rounding, --gemma, --static-weight
// and the group options).
kiln::PlanOptions plan_options(const Kernel& kernel, int64_t hidden, const std::string& dtype, const Options& o,
                               kiln_set_policy policy) {
  kiln::PlanOptions po;
  po.kernel = kernel.name;
  po.hidden = hidden;
  po.dtype = dtype_of(dtype);
  po.device = o.device;
  po.policy = policy;
  if (kernel.has_option(KILN_OPTION_ROUNDING) && o.rounding == "vllm") po.rounding = KILN_ROUNDING_VLLM;
  if (kernel.has_option(KILN_OPTION_GEMMA)) po.gemma = o.gemma;
  if (kernel.has_option(KILN_OPTION_STATIC_WEIGHT)) po.static_weight = o.static_weight;
  if (kernel.has_option(KILN_OPTION_GROUP)) {
    po.group_size = o.group_size;
    po.scale_layout = o.scale_layout == "col_major_tma"  ? KILN_SCALES_COL_MAJOR_TMA
                      : o.scale_layout == "packed_ue8m0" ? KILN_SCALES_PACKED_UE8M0
                                                         : KILN_SCALES_ROW_MAJOR;
    po.ue8m0 = o.ue8m0;
  }
  return po;
}

// "_g64_col_major_tma_ue8m0" for a group quantiser away from group 128, row-major, fp32 scales.
std::string group_suffix(const Options& o) {
  std::string s;
  if (o.group_size != KILN_DEFAULT_GROUP_SIZE) s += "_g" + std::to_string(o.group_size);
  if (o.scale_layout != "row_major") s += "_" + o.scale_layout;
  if (o.ue8m0) s += "_ue8m0";
  return s;
}

// "_vllm_gemma_static_weight..." for the non-default options the kernels run with, "" for none:
// an option counts when one of them has it (one kernel for its files, all of the run's for
// its summary).
std::string options_suffix(std::span<const Kernel> kernels, const Options& o) {
  const auto has = [&](uint32_t option) {
    return std::any_of(kernels.begin(), kernels.end(), [&](const Kernel& k) { return k.has_option(option); });
  };
  std::string s;
  if (has(KILN_OPTION_ROUNDING) && o.rounding == "vllm") s += "_vllm";
  if (has(KILN_OPTION_GEMMA) && o.gemma) s += "_gemma";
  if (has(KILN_OPTION_STATIC_WEIGHT) && o.static_weight) s += "_static_weight";
  if (has(KILN_OPTION_GROUP)) s += group_suffix(o);
  return s;
}

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

// One shape, both plans. A kernel that writes over its inputs (in-out tensors) would feed
// its own output back launch after launch and replay after replay: a fused residual add
// grows the residual every launch, which overflows fp16 after a few
// hundred launches. So its in-out tensors are refilled before every replay, outside the
// timed events: each replay starts from the same values, and the feedback is bounded by
// the launches of one graph (20 by default: the residual stays below ~1.3e3 in fp16 at
// H = 8192). Afterwards the written tensors are scanned, and any NaN or infinity is
// reported with the shape.
Result measure_shape(const Kernel& kernel, const std::string& dtype, int64_t h, int64_t t, const Options& o,
                     const RunInfo& info, const Arena& arena, const kiln::Plan& exact, const kiln::Plan& generic,
                     kiln::measure::GraphTimer& timer) {
  const SetLayout layout = set_layout(kernel, h, t, info.device.l2_bytes, o.rotate);
  const BufferSets buffers(kernel, h, t, layout, arena, {dtype_of(dtype), o.seed, o.scale});
  buffers.fill_inputs(timer.stream());
  const int launches = graph_launches(o.timing.launches, layout.sets);
  const KilnLaunches kiln_calls(exact, buffers, h, t, o.eps);
  const KilnLaunches generic_calls(generic, buffers, h, t, o.eps);
  kiln::measure::Reset reset;
  if (kernel.writes_an_input()) reset = [&buffers](cudaStream_t s) { buffers.reset_written_inputs(s); };

  Result r;
  r.kernel = kernel.name;
  r.dtype = dtype;
  r.hidden = h;
  r.tokens = t;
  r.bytes = min_bytes(kernel, dtype_of(dtype), h, t);
  r.working_set = layout.working_set();
  r.sets = layout.sets;
  r.refilled = static_cast<bool>(reset);
  r.kiln = timer.time(std::cref(kiln_calls), launches, o.timing, reset);
  r.nonfinite = buffers.count_nonfinite(timer.stream());
  r.generic = timer.time(std::cref(generic_calls), launches, o.timing, reset);
  r.nonfinite += buffers.count_nonfinite(timer.stream());
  const kiln_variant_info v = exact.describe(t);
  r.variant = v.name;
  r.config = v.config;
  r.schedule = v.schedule;
  r.threshold = v.threshold;
  r.fallback = v.is_fallback != 0;
  if (kernel.has_option(KILN_OPTION_ROUNDING)) r.rounding = o.rounding;
  if (kernel.has_option(KILN_OPTION_GEMMA)) r.gemma = o.gemma ? "1" : "0";
  if (kernel.has_option(KILN_OPTION_STATIC_WEIGHT)) r.static_weight = o.static_weight ? "1" : "0";
  return r;
}

// All shapes of one (kernel, dtype): one arena for all of them, two plans per hidden size.
std::vector<Result> run_group(const Kernel& kernel, const std::string& dtype, const Options& o, const RunInfo& info,
                              kiln::measure::GraphTimer& timer, Progress& progress, std::string& plans_text) {
  std::size_t arena_bytes = 0;
  for (int64_t h : o.hidden)
    for (int64_t t : o.tokens)
      arena_bytes = std::max(arena_bytes, set_layout(kernel, h, t, info.device.l2_bytes, o.rotate).working_set());
  const Arena arena(arena_bytes);

  std::vector<Result> results;
  for (int64_t h : o.hidden) {
    const kiln::Plan exact(plan_options(kernel, h, dtype, o, KILN_SET_EXACT));
    const kiln::Plan generic(plan_options(kernel, h, dtype, o, KILN_SET_GENERIC));
    plans_text += "plan: " + exact.summary() + "\n";
    for (int64_t t : o.tokens) {
      const std::string shape = kernel.name + " " + dtype + " h=" + std::to_string(h) + " T=" + std::to_string(t);
      progress.status(shape + (results.empty() ? "" : "  [last: kiln " + us_brief(results.back().kiln.us) +
                                                         " µs, generic " + us_brief(results.back().generic.us) +
                                                         " µs]"));
      try {
        results.push_back(measure_shape(kernel, dtype, h, t, o, info, arena, exact, generic, timer));
      } catch (const std::exception& e) {
        throw std::runtime_error(shape + ": " + e.what());
      }
      if (results.back().nonfinite)
        progress.note("kiln-bench: " + shape + ": " + std::to_string(results.back().nonfinite) +
                      " NaN or infinite values in the tensors it wrote (timing may be off)");
      progress.advance();
    }
  }
  return results;
}

std::string join_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

RunInfo run_info(const Options& o, const std::string& command_line) {
  RunInfo info;
  std::string why;
  const auto device = kiln::measure::probe_device(o.device, why);
  if (!device) throw std::runtime_error(why);
  info.device = *device;
  int runtime = 0;
  KILN_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  info.cuda_runtime = kiln::measure::cuda_version_text(runtime);
  info.date = kiln::measure::utc_datetime();
  info.timing = o.timing;
  info.rotate = o.rotate.enabled;
  info.rotate_factor = o.rotate.l2_factor;
  info.seed = o.seed;
  info.scale = o.scale;
  info.eps = o.eps;
  info.options = "rounding " + o.rounding + (o.gemma ? ", gemma" : "") + (o.static_weight ? ", static weight" : "") +
                 "; group " + std::to_string(o.group_size) +
                 ", " + o.scale_layout + " scales" + (o.ue8m0 ? ", ue8m0" : "") + " (kernels with those options)";
  info.kiln_version = kiln_version();
  info.command_line = command_line;
  return info;
}

// Writes one (kernel, dtype)'s CSV and heatmap where the options ask for them.
void write_group(const std::vector<Result>& group, const RunInfo& info, const Options& o, const std::string& stem,
                 const std::string& kernel_dtype, bool many_groups) {
  if (!o.out_dir.empty()) {
    write_csv((std::filesystem::path(o.out_dir) / (stem + ".csv")).string(), group, info);
    write_file((std::filesystem::path(o.out_dir) / (stem + ".svg")).string(), make_svg(group, info));
  }
  if (!o.svg.empty()) {
    std::filesystem::path p(o.svg);
    if (many_groups) p.replace_filename(p.stem().string() + "_" + kernel_dtype + p.extension().string());
    write_file(p.string(), make_svg(group, info));
  }
}

int run(const Options& o, const std::string& command_line) {
  int device_count = 0;
  KILN_CUDA_CHECK(cudaGetDeviceCount(&device_count));
  if (o.device < 0 || o.device >= device_count)
    throw std::runtime_error("--device " + std::to_string(o.device) + ": this machine has " +
                             std::to_string(device_count) + " CUDA device(s)");
  KILN_CUDA_CHECK(cudaSetDevice(o.device));

  const std::vector<Kernel> kernels = select_kernels(library_kernels(), o.kernel);
  const std::vector<std::string> dtypes = o.dtype == "all" ? std::vector<std::string>{"bf16", "fp16"}
                                                           : std::vector<std::string>{o.dtype};
  RunInfo info = run_info(o, command_line);

  // Fail before measuring anything if this library cannot serve the device.
  const kiln::Plan probe(plan_options(kernels.front(), o.hidden.front(), dtypes.front(), o, KILN_SET_EXACT));
  if (!o.out_dir.empty()) std::filesystem::create_directories(o.out_dir);

  kiln::measure::Stream stream;
  kiln::measure::GraphTimer timer(stream.get());
  std::fprintf(stderr, "kiln-bench: measuring the copy ceiling (%.1f GiB) and the launch floor on %s ...\n",
               o.ceiling_gib, info.device.name.c_str());
  info.ceiling = kiln::measure::measure_ceiling(static_cast<std::size_t>(o.ceiling_gib * 1073741824.0), stream.get());
  info.floor = kiln::measure::measure_floor(timer, o.timing);

  Progress progress(0);  // in a log: one line per shape
  progress.add_total(static_cast<double>(kernels.size() * dtypes.size() * o.hidden.size() * o.tokens.size()));
  std::string report = format_header(info);
  print(report, progress);

  const std::string rotate_suffix = o.rotate.enabled ? "_rotate" : "";
  const bool many_groups = kernels.size() * dtypes.size() > 1;
  std::vector<Result> all;
  for (const Kernel& kernel : kernels) {
    for (const std::string& dtype : dtypes) {
      std::string plans;
      const std::vector<Result> group = run_group(kernel, dtype, o, info, timer, progress, plans);
      const std::string text = format_table(group, info) + plans + "\n" + format_targets(group, info) +
                               format_summary(group, info, kernel.name + " " + dtype + " on " + info.device.name);
      print(text, progress);
      report += text;
      write_group(group, info, o, kernel.name + "_" + dtype + options_suffix({&kernel, 1}, o) + rotate_suffix,
                  kernel.name + "_" + dtype, many_groups);
      all.insert(all.end(), group.begin(), group.end());
    }
  }
  if (many_groups) {
    const std::string text = format_summary(all, info, "all kernels and dtypes on " + info.device.name);
    print(text, progress);
    report += text;
  }
  progress.finish();
  if (!o.csv.empty()) write_csv(o.csv, all, info);
  if (!o.out_dir.empty()) {
    const std::string name = "summary_" + o.kernel + "_" + o.dtype + options_suffix(kernels, o) + rotate_suffix + ".txt";
    const std::filesystem::path summary = std::filesystem::path(o.out_dir) / name;
    write_file(summary.string(), report);
    std::fprintf(stderr, "kiln-bench: wrote %s and the CSV/SVG files beside it\n", summary.string().c_str());
  }
  return 0;
}

void add_options(CLI::App& app, Options& o) {
  app.add_option("--kernel", o.kernel, "a kernel of the library, or all")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden sizes, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--tokens", o.tokens, "token counts, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--dtype", o.dtype, "input dtype: bf16, fp16 or all")
      ->check(CLI::IsMember({"bf16", "fp16", "all"}))
      ->capture_default_str();
  app.add_option("--rounding", o.rounding, "rounding convention of the kernels that have one: single or vllm")
      ->check(CLI::IsMember({"single", "vllm"}))
      ->capture_default_str();
  app.add_flag("--gemma", o.gemma, "the norm multiplies by (1 + w), for the kernels that have the option");
  app.add_flag("--static-weight", o.static_weight,
               "promise that no kernel writes the weight (kernels with the option may load it before the PDL wait)");
  app.add_option("--group-size", o.group_size, "columns per scale of the group quantisers: 128 or 64")
      ->check(CLI::IsMember({64, 128}))
      ->capture_default_str();
  app.add_option("--scale-layout", o.scale_layout, "the group quantisers' scales: row_major, col_major_tma or packed_ue8m0")
      ->check(CLI::IsMember({"row_major", "col_major_tma", "packed_ue8m0"}))
      ->capture_default_str();
  app.add_flag("--ue8m0", o.ue8m0, "the group quantisers round their scales up to powers of two");
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
  app.add_option("--scale", o.scale, "the per-tensor scale of the fp8 kernels (outputs are multiplied by 1/scale)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--eps", o.eps, "epsilon of the kernels that read one")->capture_default_str();
  app.add_option("--ceiling-gib", o.ceiling_gib, "GiB copied to measure the bandwidth ceiling")
      ->check(CLI::Range(0.01, 64.0))
      ->capture_default_str();
  app.add_option("--out-dir", o.out_dir,
                 "write <kernel>_<dtype>[_vllm][_gemma][_rotate].csv and .svg per kernel and dtype, and "
                 "summary_*.txt, here");
  app.add_option("--csv", o.csv, "write every row to this CSV file");
  app.add_option("--svg", o.svg, "write the heatmap here (with several kernels/dtypes: <stem>_<kernel>_<dtype>.svg)");
}

// Positive, sorted, without repeats; false (and a message) when a value is not positive.
bool normalise(std::vector<int64_t>& values, const char* option) {
  for (int64_t v : values)
    if (v <= 0) {
      std::fprintf(stderr, "kiln-bench: %s %lld: must be positive\n", option, static_cast<long long>(v));
      return false;
    }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return true;
}

}  // namespace
}  // namespace kiln_bench

int main(int argc, char** argv) {
  kiln_bench::Options o;
  CLI::App app{"kiln-bench: kiln's specialised kernels vs its generic kernel, the copy ceiling and the launch floor "
               "(CUDA-graph replays, median per call)"};
  kiln_bench::add_options(app, o);
  CLI11_PARSE(app, argc, argv);
  if (!kiln_bench::normalise(o.hidden, "--hidden") || !kiln_bench::normalise(o.tokens, "--tokens")) return 2;
  if (o.hidden.empty() || o.tokens.empty()) return std::fprintf(stderr, "kiln-bench: no shapes to run\n"), 2;
  try {
    kiln_bench::select_kernels(kiln_bench::library_kernels(), o.kernel);  // an unknown name is a usage error
  } catch (const std::exception& e) {
    return std::fprintf(stderr, "kiln-bench: %s\n", e.what()), 2;
  }
  try {
    return kiln_bench::run(o, kiln_bench::join_command_line(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nkiln-bench: error: %s\n", e.what());
    return 1;
  }
}
