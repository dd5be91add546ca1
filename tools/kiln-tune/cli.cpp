// kiln-tune's command line: see cli.h. run() is the steps in order: the kernels and
// options, the device and arch, the plans (candidates, pairs, incumbents), then either
// the dry-run listing or the builds and tuning, and the summary.
#include "cli.h"

#include <signal.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "build.h"
#include "candidates.h"
#include "config_io.h"
#include "kiln_gen/descriptor.h"
#include "lab.h"
#include "measure/progress.h"
#include "measure/text.h"
#include "tune.h"
#include "util.h"

namespace kiln_tune {
namespace {
namespace fs = std::filesystem;

#ifndef KILN_SOURCE_ROOT
#define KILN_SOURCE_ROOT "."
#endif
#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif
#ifndef KILN_BUILD_INCLUDE
#define KILN_BUILD_INCLUDE ""
#endif
constexpr const char* kToolVersion = "1";

struct Options {
  std::vector<std::string> kernels;
  std::vector<int64_t> hidden = {2048, 4096, 5120, 8192};
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 32, 128, 256, 1024};
  bool quick = false, full = false;
  bool force = false, dry_run = false, compile_only = false, no_incumbents = false;
  std::string arch;
  int device = 0;
  std::string repo, configs, incumbents, work;
  int jobs = 0;
  std::vector<std::string> grid;
  double watchdog_s = 120;
  double warmup_ms = 0;  // 0: the mode's (TimingPlan)
};

// A usage error: the message, exit status 2.
struct Usage {
  std::string message;
};

fs::path default_repo() {
  if (fs::exists("templates") && fs::exists("tools/kiln-tune/runner.cu")) return fs::current_path();
  return KILN_SOURCE_ROOT;
}

std::string find_nvcc() {
  if (const char* env = std::getenv("NVCC"); env && *env) return env;
  std::string ignored;
  if (capture_command({"nvcc", "--version"}, ignored)) return "nvcc";
  return "/usr/local/cuda/bin/nvcc";
}

GridOverrides parse_grid(const std::vector<std::string>& specs) {
  GridOverrides out;
  for (const std::string& spec : specs) {
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) throw CLI::ValidationError("--grid", "expected name=v1,v2,...: " + spec);
    std::vector<int64_t> values;
    std::stringstream in(spec.substr(eq + 1));
    for (std::string item; std::getline(in, item, ',');) {
      // 0 is a value too (a switch's off); the schema prunes what the parameter does not allow.
      const auto v = item == "0" ? std::optional<int64_t>(0) : kiln::gen::parse_positive(item, 1 << 20);
      if (!v) throw CLI::ValidationError("--grid", "not a non-negative integer: " + item + " in " + spec);
      values.push_back(*v);
    }
    out[spec.substr(0, eq)] = values;
  }
  return out;
}

// The kernels --kernel names, from kiln-gen's descriptors ("all": every one kiln-tune can
// time). A communicator kernel needs every rank of a communicator running together, which
// one tuner process per GPU cannot give: kiln-bench-comm measures those.
std::vector<const kiln::gen::KernelDescriptor*> select_kernels(const std::vector<std::string>& names) {
  std::vector<const kiln::gen::KernelDescriptor*> kernels;
  for (const std::string& k : names) {
    if (k == "all") {
      for (const auto& d : kiln::gen::kernel_descriptors())
        if (!d.comm) kernels.push_back(&d);
    } else if (const auto* d = kiln::gen::find_kernel(k)) {
      if (d->comm)
        throw Usage{"--kernel " + k + " sums over a communicator: kiln-tune times one GPU at a time; measure it with "
                    "kiln-bench-comm (tools/kiln-bench-comm)"};
      kernels.push_back(d);
    } else {
      throw Usage{"unknown kernel " + k + "; known: " + kiln::gen::kernel_list()};
    }
  }
  return kernels;
}

void check_sizes(const Options& o) {
  for (int64_t h : o.hidden)
    if (h < 1 || h > kiln::gen::kMaxHidden) throw Usage{"bad hidden size " + std::to_string(h)};
  for (int64_t n : o.batch_sizes)
    if (n < 1 || n > 1 << 20) throw Usage{"bad batch size " + std::to_string(n)};
}

// The device the lab reports and the arch to tune for. Without a device, --dry-run and
// --compile-only still work (for --arch, or sm90).
std::string device_and_arch(const Options& o, const Lab& lab, RunInfo& info) {
  std::string arch = o.arch, why;
  if (auto d = lab.probe(o.device, why)) {
    info.device = *d;
    if (arch.empty()) arch = d->arch;
    else if (arch != d->arch && !o.dry_run && !o.compile_only)
      throw Usage{"--arch " + arch + " but device " + std::to_string(o.device) + " is " + d->arch + " (" + d->name +
                  ")"};
  } else if (o.dry_run || o.compile_only) {
    if (arch.empty()) {
      arch = "sm90";
      std::fprintf(stderr, "kiln-tune: %s; assuming --arch sm90\n", why.c_str());
    }
  } else {
    throw Usage{why};
  }
  if (!kiln::gen::is_known_arch(arch) || gencode_for(arch).empty())
    throw Usage{"unknown arch " + arch + "; known: " + kiln::gen::arch_list()};
  return arch;
}

// The tokens every candidate of a set is checked at: tiny counts, a count no
// rows_per_cta divides, and each threshold and threshold + 1 (so every bucket's
// entry point and a partial last CTA are covered).
std::vector<int64_t> check_tokens(const std::vector<int64_t>& thresholds) {
  std::set<int64_t> t = {1, 3, 17};
  for (int64_t n : thresholds) {
    t.insert(n);
    t.insert(n + 1);
  }
  return {t.begin(), t.end()};
}

struct Plans {
  std::vector<SetPlan> sets;
  std::size_t candidates = 0;  // to compile: the sets with pending pairs
};

// One set: its candidates, a pair per threshold (kept when its file exists, unless
// --force), each pair's incumbent when there is one kiln-gen accepts.
SetPlan plan_set(const kiln::gen::KernelDescriptor& k, int64_t h, const std::string& arch, Mode mode,
                 const GridOverrides& overrides, const std::vector<int64_t>& thresholds, const fs::path& configs,
                 const fs::path& incumbents, bool force, int64_t l2_bytes) {
  SetPlan plan;
  plan.candidates = make_candidates(k, arch, h, mode, overrides);
  const std::vector<int64_t> existing = existing_thresholds(configs, k.name, arch, h);
  std::set<int64_t> all(existing.begin(), existing.end());
  all.insert(thresholds.begin(), thresholds.end());
  // The bytes one more token moves (the weight and scalars are paid once).
  const std::string name(k.name);
  const auto token_bytes = static_cast<int64_t>(min_bytes(name, h, 2) - min_bytes(name, h, 1));
  for (int64_t n : thresholds) {
    Pair p;
    p.threshold = n;
    auto next = all.upper_bound(n);
    p.next = next == all.end() ? 0 : *next;
    p.points = timing_points(n, p.next, token_bytes, l2_bytes);
    p.exists = !force && std::find(existing.begin(), existing.end(), n) != existing.end();
    const fs::path held = config_file(incumbents, k.name, arch, h, n);
    if (!p.exists && !incumbents.empty() && fs::exists(held)) {
      std::string why;
      if (auto s = read_schedule(held, k, h, why)) p.incumbent = add_candidate(plan.candidates, *s);
      else p.incumbent_ignored = held.string() + ": " + why;
    }
    plan.pairs.push_back(p);
  }
  plan.check_tokens = check_tokens(thresholds);
  return plan;
}

void print_candidates(const SetPlan& plan) {
  const CandidateSet& c = plan.candidates;
  std::string pruned, added;
  for (const auto& [rule, count] : c.pruned) pruned += (pruned.empty() ? "" : ", ") + rule + " " + std::to_string(count);
  if (c.schedules.size() > c.grid)
    added = " + " + std::to_string(c.schedules.size() - c.grid) + " incumbent(s) the grid lacks";
  std::printf("%s %s hidden=%lld: %zu candidates (%zu grid points; pruned before compiling: %s)%s\n",
              std::string(c.kernel->name).c_str(), c.arch.c_str(), (long long)c.hidden, c.grid, c.considered,
              pruned.empty() ? "none" : pruned.c_str(), added.c_str());
  for (const Pair& p : plan.pairs) {
    std::string incumbent;
    if (p.incumbent >= 0)
      incumbent = "; incumbent " + c.schedules[static_cast<std::size_t>(p.incumbent)].text() +
                  (c.from_grid(p.incumbent) ? "" : " (added)");
    else if (!p.incumbent_ignored.empty())
      incumbent = "; incumbent ignored: " + p.incumbent_ignored;
    std::printf("  bs%-5lld %s  timed at tokens %s%s\n", (long long)p.threshold,
                p.exists ? "exists: kept (--force retunes)" : "to tune", join_ints(p.points).c_str(),
                incumbent.c_str());
  }
  std::printf("  checked at tokens %s\n", join_ints(plan.check_tokens).c_str());
  for (std::size_t i = 0; i < c.schedules.size(); ++i)
    std::printf("  %3zu  %s%s\n", i, c.schedules[i].text().c_str(), i < c.grid ? "" : "  (incumbent)");
}

int print_dry_run(const Plans& plans) {
  std::size_t pairs = 0, pending = 0;
  for (const SetPlan& p : plans.sets) {
    print_candidates(p);
    pairs += p.pairs.size();
    pending += static_cast<std::size_t>(p.pending());
  }
  std::printf("\n%zu pairs (%zu to tune), %zu candidates to compile\n", pairs, pending, plans.candidates);
  return 0;
}

void print_summary(const std::vector<PairResult>& results, const RunInfo& info) {
  std::printf("\n%-14s %6s %6s  %-8s %-46s %9s %8s %7s %9s %9s %s\n", "kernel", "hidden", "bs", "status", "winner",
              "us", "GB/s", "%ceil", "runner-up", "incumbent", "tried/failed");
  int kept = 0, replaced = 0;
  for (const PairResult& r : results) {
    char us[16] = "", gbps[16] = "", pct[16] = "", margin[16] = "", incumbent[16] = "";
    if (r.status == "written") {
      std::snprintf(us, sizeof us, "%.2f", r.us);
      std::snprintf(gbps, sizeof gbps, "%.0f", r.gbps);
      if (r.pct > 0) std::snprintf(pct, sizeof pct, "%.1f", r.pct);
      if (!r.runner_up.empty()) std::snprintf(margin, sizeof margin, "%+.1f%%", r.margin_pct);
      // A replaced incumbent shows how much slower it was than the new pick.
      if (r.incumbent == "replaced") std::snprintf(incumbent, sizeof incumbent, "%+.1f%%", r.incumbent_pct);
      else std::snprintf(incumbent, sizeof incumbent, "%s", r.incumbent.c_str());
      kept += r.incumbent == "kept";
      replaced += r.incumbent == "replaced";
    }
    std::printf("%-14s %6lld %6lld  %-8s %-46s %9s %8s %7s %9s %9s %d/%d%s%s\n", r.kernel.c_str(), (long long)r.hidden,
                (long long)r.threshold, r.status.c_str(), r.winner.c_str(), us, gbps, pct, margin, incumbent, r.tried,
                r.failed, r.note.empty() ? "" : "  ", r.note.c_str());
  }
  if (kept + replaced > 0) std::printf("\nincumbents: %d kept, %d replaced\n", kept, replaced);
  if (info.ceiling_gbps > 0)
    std::printf("\ncopy ceiling %.0f GB/s (%s); launch floor %.2f us\n", info.ceiling_gbps, info.ceiling_detail.c_str(),
                info.floor_us);
}

// Failed results for every pending pair of a set that has no library.
void fail_set(const SetPlan& plan, const std::string& why, std::vector<PairResult>& results) {
  for (const Pair& p : plan.pairs) {
    if (p.exists) continue;
    PairResult r;
    r.kernel = plan.candidates.kernel->name;
    r.hidden = plan.candidates.hidden;
    r.threshold = p.threshold;
    r.status = "failed";
    r.tried = r.failed = static_cast<int>(plan.candidates.schedules.size());
    r.note = why;
    results.push_back(r);
  }
}

// Builds every set with pending pairs (in the background, in order) and tunes each as
// its library is ready; returns the exit status.
int build_and_tune(const Plans& plans, const Options& o, const Lab& lab, Builder& builder, RunInfo& info,
                   const TimingPlan& timing) {
  kiln::measure::Progress progress;
  std::vector<std::shared_future<BuiltSet>> builds(plans.sets.size());
  for (std::size_t i = 0; i < plans.sets.size(); ++i) {
    const SetPlan& plan = plans.sets[i];
    if (plan.pending() == 0) continue;
    builds[i] = lab.build(builder, plan.candidates);
    const double n = static_cast<double>(plan.candidates.schedules.size());
    double units = n;
    for (const Pair& p : plan.pairs)
      if (!p.exists) units += n * static_cast<double>(p.points.size());
    progress.add_total(units);
  }

  std::vector<PairResult> results;
  int exit_code = 0;
  for (std::size_t i = 0; i < plans.sets.size(); ++i) {
    const SetPlan& plan = plans.sets[i];
    const std::string label = std::string(plan.candidates.kernel->name) + " h=" + std::to_string(plan.candidates.hidden);
    for (const Pair& p : plan.pairs) {
      if (!p.exists) continue;
      PairResult r;
      r.kernel = plan.candidates.kernel->name;
      r.hidden = plan.candidates.hidden;
      r.threshold = p.threshold;
      r.status = "kept";
      r.note = "exists (--force retunes)";
      results.push_back(r);
    }
    if (plan.pending() == 0) continue;

    while (builds[i].wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
      progress.status(label + ": compiling (" + std::to_string(builder.jobs_done()) + "/" +
                      std::to_string(builder.jobs_total()) + " nvcc jobs done)");
    const BuiltSet built = builds[i].get();
    if (built.ok)
      progress.note(label + ": " + std::to_string(built.table.size()) + " candidates " +
                    (built.cached ? "(cached build)" : "compiled") +
                    (built.failed.empty() ? "" : ", " + std::to_string(built.failed.size()) + " failed to compile"));
    if (o.compile_only) {
      if (!built.ok) progress.note(label + ": " + built.error), exit_code = 1;
      continue;
    }
    if (!built.ok) {  // nothing to run: every pending pair fails with the reason
      progress.note(label + ": " + built.error);
      fail_set(plan, built.error, results);
      continue;
    }
    tune_set(plan, built, info, timing, progress, results);
  }
  progress.finish();
  if (o.compile_only) {
    std::printf("compiled into %s\n", info.work.c_str());
    return exit_code;
  }
  std::sort(results.begin(), results.end(), [](const PairResult& a, const PairResult& b) {
    return std::tie(a.kernel, a.hidden, a.threshold) < std::tie(b.kernel, b.hidden, b.threshold);
  });
  print_summary(results, info);
  for (const PairResult& r : results) exit_code = r.status == "failed" ? 1 : exit_code;
  std::printf("next: kiln-gen, then git diff configs generated (README.md, \"Retuning and regenerating\")\n");
  return exit_code;
}

int run(const Options& o, const Lab& lab) {
  const std::vector<const kiln::gen::KernelDescriptor*> kernels = select_kernels(o.kernels);
  const GridOverrides overrides = parse_grid(o.grid);
  if (auto e = check_overrides(kernels, overrides)) throw Usage{*e};
  check_sizes(o);
  RunInfo info;
  info.synthetic = lab.synthetic();
  if (!info.synthetic.empty() && o.configs.empty())
    throw Usage{"this run's timings are synthetic (" + info.synthetic +
                "): name a --configs folder outside the repository's"};
  const Mode mode = o.quick ? Mode::quick : Mode::full;
  info.mode = mode;
  info.force = o.force;
  info.device_index = o.device;
  info.watchdog_s = o.watchdog_s;
  info.date = kiln::measure::utc_date();
  info.tool = std::string("kiln-tune ") + kToolVersion + " (kiln " + KILN_VERSION + ")";
  const std::string arch = device_and_arch(o, lab, info);

  const fs::path repo = o.repo.empty() ? default_repo() : fs::path(o.repo);
  if (!fs::exists(repo / "templates") || !fs::exists(repo / "tools/kiln-tune/runner.cu"))
    throw Usage{repo.string() + " is not a kiln repository (no templates/ or tools/kiln-tune/)"};
  info.configs = o.configs.empty() ? repo / "configs" : fs::path(o.configs);
  // The configs a retune replaces: the repository's, whether written in place or elsewhere.
  const fs::path incumbents = o.no_incumbents         ? fs::path()
                              : o.incumbents.empty() ? repo / "configs"
                                                     : fs::path(o.incumbents);
  info.work = o.work.empty() ? repo / "build-kiln-tune" : fs::path(o.work);

  std::vector<int64_t> thresholds = o.batch_sizes;
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  Plans plans;
  for (const auto* k : kernels)
    for (int64_t h : o.hidden) {
      plans.sets.push_back(plan_set(*k, h, arch, mode, overrides, thresholds, info.configs, incumbents, o.force,
                                    static_cast<int64_t>(info.device.l2_bytes)));
      if (plans.sets.back().pending() > 0) plans.candidates += plans.sets.back().candidates.schedules.size();
    }

  std::printf("kiln-tune %s mode, %s, arch %s, configs %s, incumbents %s\n", mode_name(mode),
              info.device.name.empty() ? "no GPU" : (info.device.name + " (driver " + info.device.driver + ")").c_str(),
              arch.c_str(), info.configs.c_str(), incumbents.empty() ? "none" : incumbents.c_str());
  for (const SetPlan& p : plans.sets)
    for (const Pair& pair : p.pairs)
      if (!pair.incumbent_ignored.empty())
        std::fprintf(stderr, "kiln-tune: incumbent ignored: %s\n", pair.incumbent_ignored.c_str());
  if (o.dry_run) return print_dry_run(plans);

  for (const SetPlan& p : plans.sets)
    if (int n = remove_stale_temps(info.configs, p.candidates.kernel->name, arch, p.candidates.hidden))
      std::fprintf(stderr, "removed %d temporary file(s) an interrupted run left\n", n);

  Toolchain tc;
  tc.repo = repo;
  tc.build_include = KILN_BUILD_INCLUDE;
  tc.nvcc = find_nvcc();
  tc.arch = arch;
  tc.gencode = gencode_for(arch);
  tc.work = info.work;
  tc.jobs = o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  tc.shard_size = static_cast<int>(std::clamp<std::size_t>(plans.candidates / (2 * tc.jobs) + 1, 2, 12));
  Builder builder(tc);
  info.source_hash = builder.inputs_hash();
  TimingPlan timing = timing_plan(mode);
  if (o.warmup_ms > 0) timing.warmup_ms = o.warmup_ms;
  return build_and_tune(plans, o, lab, builder, info, timing);
}

void add_options(CLI::App& app, Options& o) {
  app.add_option("--kernel", o.kernels, "kernel(s) to tune, comma separated, or all")->required()->delimiter(',');
  app.add_option("--hidden", o.hidden, "hidden sizes")->delimiter(',')->capture_default_str();
  app.add_option("--batch-sizes", o.batch_sizes, "batch thresholds (one config file each)")
      ->delimiter(',')
      ->capture_default_str();
  auto* quick = app.add_flag("--quick", o.quick, "small grid, fewer replays (about a minute)");
  app.add_flag("--full", o.full, "wide grid incl. clusters, more replays (default)")->excludes(quick);
  app.add_flag("--force", o.force, "retune pairs whose config file exists");
  app.add_flag("--dry-run", o.dry_run, "list the candidates and pairs, touch nothing (no GPU needed)");
  app.add_flag("--compile-only", o.compile_only, "compile the candidate libraries into the work folder, no GPU");
  app.add_option("--arch", o.arch, "target arch (default: the device's)");
  app.add_option("--device", o.device, "CUDA device index")->capture_default_str();
  app.add_option("--repo", o.repo, "kiln repository (default: . if it has templates/, else the build's source)");
  app.add_option("--configs", o.configs, "configs folder to write (default: <repo>/configs)");
  auto* incumbents = app.add_option("--incumbents", o.incumbents,
                                    "configs whose schedules a retuned pair must clearly beat to replace them "
                                    "(default: <repo>/configs)");
  app.add_flag("--no-incumbents", o.no_incumbents, "race the grid alone")->excludes(incumbents);
  app.add_option("--work-dir", o.work, "build cache and worker logs (default: <repo>/build-kiln-tune)");
  app.add_option("--jobs", o.jobs, "nvcc processes at once (default: CPU count)");
  app.add_option("--grid", o.grid, "replace a parameter's grid: name=v1,v2,... (repeatable)");
  app.add_option("--watchdog", o.watchdog_s, "seconds a candidate may run before it counts as hung")
      ->capture_default_str();
  // A GPU streaming DRAM-sized tensors comes close to its power limit within a second or two and
  // then lowers its SM clock; a few milliseconds of warm-up time each candidate in a short, cooler
  // burst. Each pair also pre-heats for 10x the warm-up (TimingPlan::preheat_ms).
  app.add_option("--warmup-ms", o.warmup_ms,
                 "warm-up before each timing, in ms (default: 5, --full 10); with 300 the DRAM buckets are "
                 "timed at the clock a sustained load runs at")
      ->check(CLI::Range(1.0, 10000.0));
}

}  // namespace

int tool_main(int argc, char** argv, const Lab& lab) {
  signal(SIGPIPE, SIG_IGN);  // a dead worker's pipe is reported, not fatal
  Options o;
  CLI::App app{"kiln-tune: measure candidate schedules on this GPU and write configs/<kernel>/<arch>/<hidden>/bs<N>.json"};
  add_options(app, o);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o, lab);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const Usage& u) {
    std::fprintf(stderr, "kiln-tune: %s\n", u.message.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln-tune: %s\n", e.what());
    return 2;
  }
}

}  // namespace kiln_tune
