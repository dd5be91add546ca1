#include "tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "config_io.h"
#include "pick.h"
#include "util.h"
#include "worker.h"

namespace kiln_tune {
namespace fs = std::filesystem;

TimingPlan timing_plan(Mode mode) {
  TimingPlan t;
  if (mode == Mode::full) {
    t.replays = 30;
    t.warmup_ms = 10;
    t.max_contenders = 6;
    t.retimes = 3;
  }
  return t;
}

std::vector<int64_t> timing_points(int64_t threshold, int64_t next) {
  std::vector<int64_t> points = {threshold};
  int64_t mid = 0;
  if (next == 0) mid = std::min<int64_t>(threshold * 4, std::max<int64_t>(threshold, 65536));
  else if (next - threshold >= 2)
    mid = std::clamp<int64_t>(std::llround(std::sqrt(double(threshold) * double(next))), threshold + 1, next - 1);
  if (mid > threshold) points.push_back(mid);
  return points;
}

int SetPlan::pending() const {
  int n = 0;
  for (const Pair& p : pairs) n += p.exists ? 0 : 1;
  return n;
}

int64_t SetPlan::max_tokens() const {
  int64_t m = 1;
  for (const Pair& p : pairs)
    for (int64_t t : p.points) m = std::max(m, t);
  return m;
}

double kernel_bytes(const std::string& kernel, int64_t hidden, int64_t tokens) {
  const double t = double(tokens), h = double(hidden);
  if (kernel == "silu_mul_fp8") return t * 2 * h * 2 + t * h;   // read [T, 2H] bf16, write [T, H] fp8
  if (kernel == "rms_norm_fp8") return t * h * 2 + h * 2 + t * h;  // + the weight [H]
  return 0;
}

namespace {

constexpr int kMaxRestarts = 25;

// A worker that comes back after it dies: the caller hears which command it lost.
class Session {
 public:
  Session(WorkerSpec spec, fs::path spec_file, double watchdog_s)
      : spec_(std::move(spec)), spec_file_(std::move(spec_file)), watchdog_s_(watchdog_s) {}

  enum class Outcome { answer, lost, fatal };
  struct Reply {
    Outcome outcome = Outcome::fatal;
    std::string text;  // the answer, or why it was lost
  };

  Reply call(const std::string& command) {
    if (!worker_ || !worker_->running()) {
      if (restarts_++ > kMaxRestarts) return {Outcome::fatal, "the worker died too often"};
      worker_ = std::make_unique<Worker>(spec_, spec_file_);
      std::string why;
      if (!worker_->start(std::max(300.0, watchdog_s_), why)) return {Outcome::fatal, "worker start: " + why};
    }
    std::string answer, why;
    if (!worker_->call(command, answer, watchdog_s_, why)) return {Outcome::lost, why};
    if (answer.rfind("broken ", 0) == 0) {
      worker_->stop();  // it exits by itself; the next call starts a fresh one
      return {Outcome::lost, answer.substr(7) + " (CUDA context broken)"};
    }
    return {Outcome::answer, answer};
  }

 private:
  WorkerSpec spec_;
  fs::path spec_file_;
  double watchdog_s_;
  std::unique_ptr<Worker> worker_;
  int restarts_ = 0;
};

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string signed_pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f %%", v);
  return buf;
}

double rounded(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

}  // namespace

void tune_set(const SetPlan& plan, const BuiltSet& built, RunInfo& info, const TimingPlan& timing,
              Progress& progress, std::vector<PairResult>& results) {
  const CandidateSet& set = plan.candidates;
  const std::string kernel(set.kernel->name);
  const std::string label = kernel + " h=" + std::to_string(set.hidden);
  const int n = static_cast<int>(set.schedules.size());

  // A pair races the grid and its own incumbent (others' incumbents the grid lacks are not raced).
  auto races = [&](const Pair& pair, int c) { return set.from_grid(c) || c == pair.incumbent; };
  auto result_for = [&](const Pair& pair) {
    PairResult r;
    r.kernel = kernel;
    r.hidden = set.hidden;
    r.threshold = pair.threshold;
    for (int c = 0; c < n; ++c) r.tried += races(pair, c);
    return r;
  };
  auto fail_all = [&](const std::string& why) {
    for (const Pair& pair : plan.pairs) {
      if (pair.exists) continue;
      PairResult r = result_for(pair);
      r.status = "failed";
      r.failed = r.tried;
      r.note = why;
      results.push_back(r);
    }
    progress.note(label + ": " + why);
  };

  // Why each candidate is out: compile, check or timing failures; empty = good.
  std::vector<std::string> out(static_cast<std::size_t>(n));
  std::vector<int> row_of(static_cast<std::size_t>(n), -1);  // candidate -> library table row
  for (const auto& [c, why] : built.failed) out[static_cast<std::size_t>(c)] = "compile: " + why;
  for (std::size_t row = 0; row < built.table.size(); ++row) row_of[static_cast<std::size_t>(built.table[row])] = int(row);
  for (int c = 0; c < n; ++c)
    if (row_of[c] < 0 && out[c].empty()) out[c] = "compile: not built";
  for (const auto& [c, why] : built.failed) progress.note(label + " [" + set.schedules[c].text() + "] compile failed: " + why);

  WorkerSpec spec;
  spec.library = built.library;
  spec.kernel = kernel;
  spec.hidden = set.hidden;
  spec.device = info.device_index;
  for (int c : built.table) spec.schedules.push_back(set.schedules[static_cast<std::size_t>(c)].text());
  spec.check_tokens = plan.check_tokens;
  spec.max_tokens = plan.max_tokens();
  spec.seed = 20260101;
  spec.simulate = info.simulate;
  const fs::path stem = info.work / "workers" / (kernel + "_" + set.arch + "_h" + std::to_string(set.hidden));
  fs::create_directories(stem.parent_path());
  spec.log = stem.string() + ".log";
  Session session(spec, stem.string() + ".json", info.watchdog_s);

  // Once per run: the copy ceiling (4 GiB each way) and the launch floor.
  if (info.ceiling_gbps == 0) {
    progress.status(label + ": measuring the copy ceiling");
    Session::Reply r = session.call("ceiling " + std::to_string(std::size_t(4) << 30));
    if (r.outcome == Session::Outcome::fatal) return fail_all(r.text);
    std::istringstream in(r.text);
    std::string word;
    double kernel_gbps = 0, memcpy_gbps = 0;
    if (in >> word && word == "ceiling" && in >> info.ceiling_gbps >> kernel_gbps >> memcpy_gbps) {
      info.ceiling_detail = "copy kernel " + fixed(kernel_gbps, 0) + " GB/s, cudaMemcpyAsync " + fixed(memcpy_gbps, 0) +
                            " GB/s (4 GiB device to device, read + written)";
      progress.note("copy ceiling: " + fixed(info.ceiling_gbps, 0) + " GB/s (" + info.ceiling_detail + ")");
    } else {
      info.ceiling_gbps = -1;  // tried; % of ceiling is left out
      progress.note("copy ceiling not measured: " + r.text);
    }
    r = session.call("floor");
    if (r.outcome == Session::Outcome::answer && r.text.rfind("floor ", 0) == 0) info.floor_us = std::stod(r.text.substr(6));
  }

  // 1. Every candidate against the reference, before any is timed.
  int checked = 0;
  for (int c = 0; c < n; ++c) {
    if (!out[c].empty()) continue;
    progress.status(label + ": checking " + std::to_string(++checked) + "/" + std::to_string(built.table.size()) +
                    " " + set.schedules[c].text());
    Session::Reply r = session.call("check " + std::to_string(row_of[c]));
    progress.advance();
    if (r.outcome == Session::Outcome::fatal) return fail_all(r.text);
    if (r.outcome == Session::Outcome::lost) out[c] = "check: crashed: " + r.text;
    else if (r.text != "ok") out[c] = "check: " + (r.text.rfind("bad ", 0) == 0 ? r.text.substr(4) : r.text);
    if (!out[c].empty()) progress.note(label + " [" + set.schedules[c].text() + "] rejected: " + out[c]);
  }
  progress.advance(n - checked);  // the ones that never compiled

  // 2. Per pair: time, re-time the close ones, pick, write.
  for (const Pair& pair : plan.pairs) {
    PairResult result = result_for(pair);
    if (pair.exists) continue;
    const std::string pair_label = label + " bs" + std::to_string(pair.threshold);
    std::vector<std::vector<double>> us(static_cast<std::size_t>(n));

    // One timing of candidate c at point p (`replays` replays); false when it failed.
    auto time_one = [&](int c, std::size_t p, int replays, double& value) -> bool {
      Session::Reply r = session.call("time " + std::to_string(row_of[c]) + " " + std::to_string(pair.points[p]) + " " +
                                      std::to_string(timing.launches) + " " + std::to_string(replays) + " " +
                                      fixed(timing.warmup_ms, 1));
      if (r.outcome == Session::Outcome::fatal) throw std::runtime_error(r.text);
      std::istringstream in(r.text);
      std::string word;
      if (r.outcome == Session::Outcome::answer && in >> word && word == "us" && in >> value && value > 0) return true;
      out[c] = std::string("timing: ") + (r.outcome == Session::Outcome::lost ? "crashed: " : "") +
               (r.text.rfind("bad ", 0) == 0 ? r.text.substr(4) : r.text);
      progress.note(pair_label + " [" + set.schedules[c].text() + "] rejected: " + out[c]);
      return false;
    };

    try {
      int timed = 0, alive = 0;
      for (int c = 0; c < n; ++c) alive += out[c].empty() && races(pair, c);
      for (int c = 0; c < n; ++c) {
        if (!out[c].empty() || !races(pair, c)) {
          progress.advance(double(pair.points.size()));
          continue;
        }
        progress.status(pair_label + ": timing " + std::to_string(++timed) + "/" + std::to_string(alive));
        std::vector<double> row;
        for (std::size_t p = 0; p < pair.points.size(); ++p) {
          double v = 0;
          progress.advance();
          if (!time_one(c, p, timing.replays, v)) break;
          row.push_back(v);
        }
        if (out[c].empty()) us[c] = row;
      }

      // Noise guard: the close ones again, interleaved so that drift hits all alike.
      std::vector<int> close = contenders(relative_scores(us), timing.guard, timing.max_contenders);
      // The incumbent is always re-timed: a best-of-several challenger against its single
      // median would be favoured by the noise alone.
      const int inc = pair.incumbent;
      if (inc >= 0 && !us[inc].empty() && std::find(close.begin(), close.end(), inc) == close.end())
        close.push_back(inc);
      progress.add_total(double(close.size() * pair.points.size() * timing.retimes));
      for (int round = 0; round < timing.retimes && close.size() > 1; ++round) {
        progress.status(pair_label + ": re-timing " + std::to_string(close.size()) + " close candidates");
        for (int c : close) {
          if (!out[c].empty()) continue;
          for (std::size_t p = 0; p < pair.points.size(); ++p) {
            double v = 0;
            progress.advance();
            if (!time_one(c, p, 2 * timing.replays, v)) {
              us[c].clear();
              break;
            }
            us[c][p] = std::min(us[c][p], v);  // best of medians
          }
        }
      }
    } catch (const std::exception& e) {
      result.status = "failed";
      result.note = e.what();
      result.failed = result.tried;
      results.push_back(result);
      progress.note(pair_label + ": " + result.note);
      continue;
    }

    std::vector<std::vector<int64_t>> simplicity;
    for (const auto& s : set.schedules) simplicity.push_back(simplicity_key(s));
    const Choice choice = choose_against(us, simplicity, timing.tie, pair.incumbent);
    for (int c = 0; c < n; ++c) result.failed += races(pair, c) && !out[c].empty();
    if (choice.winner < 0) {
      result.status = "failed";
      result.note = "no candidate passed the checks";
      results.push_back(result);
      progress.note(pair_label + ": " + result.note);
      continue;
    }

    const int w = choice.winner;
    const double w_us = us[w][0];
    const double bytes = kernel_bytes(kernel, set.hidden, pair.threshold);
    result.winner = set.schedules[w].text();
    result.us = w_us;
    result.gbps = bytes / (w_us * 1e-6) / 1e9;
    result.pct = info.ceiling_gbps > 0 ? 100.0 * result.gbps / info.ceiling_gbps : 0;
    int timed_ok = 0;
    for (int c = 0; c < n; ++c) timed_ok += !us[c].empty();

    nlohmann::ordered_json tuning;
    tuning["tool"] = info.tool;
    if (info.simulate) tuning["simulated"] = "no GPU: synthetic timings, not for committing";
    tuning["mode"] = info.simulate ? "simulated" : (info.mode == Mode::quick ? "quick" : "full");
    tuning["gpu"] = info.device.name;
    tuning["driver"] = info.device.driver;
    tuning["cuda_driver"] = info.device.cuda_driver;
    tuning["date"] = info.date;
    tuning["tokens"] = pair.points;
    tuning["us"] = rounded(w_us, 3);
    if (pair.points.size() > 1) {
      nlohmann::ordered_json at = nlohmann::ordered_json::object();
      for (std::size_t p = 0; p < pair.points.size(); ++p) at[std::to_string(pair.points[p])] = rounded(us[w][p], 3);
      tuning["us_at_tokens"] = at;
    }
    tuning["gbps"] = rounded(result.gbps, 1);
    if (info.ceiling_gbps > 0) {
      tuning["pct_of_ceiling"] = rounded(result.pct, 1);
      tuning["ceiling_gbps"] = rounded(info.ceiling_gbps, 1);
    }
    if (info.floor_us > 0) tuning["launch_floor_us"] = rounded(info.floor_us, 3);
    tuning["candidates"] = {{"tried", result.tried}, {"failed", result.failed}, {"timed", timed_ok}};
    if (choice.runner_up >= 0) {
      const int r = choice.runner_up;
      result.runner_up = set.schedules[r].text();
      result.margin_pct = 100.0 * (us[r][0] / w_us - 1.0);
      tuning["runner_up"] = {{"schedule", result.runner_up},
                             {"us", rounded(us[r][0], 3)},
                             {"margin_pct", rounded(result.margin_pct, 2)}};
    }
    // The schedule this file replaces, and whether it stayed.
    std::string incumbent_note;
    if (!pair.incumbent_ignored.empty()) {
      result.incumbent = "ignored";
      tuning["incumbent"] = {{"ignored", pair.incumbent_ignored}};
      incumbent_note = ", incumbent ignored (invalid)";
    } else if (const int i = pair.incumbent; i >= 0) {
      nlohmann::ordered_json held = {{"schedule", set.schedules[i].text()}};
      if (us[i].empty()) {
        result.incumbent = "rejected";
        held["rejected"] = out[i];
        incumbent_note = ", incumbent rejected";
      } else {
        held["us"] = rounded(us[i][0], 3);
        if (pair.points.size() > 1) {
          nlohmann::ordered_json at = nlohmann::ordered_json::object();
          for (std::size_t p = 0; p < pair.points.size(); ++p)
            at[std::to_string(pair.points[p])] = rounded(us[i][p], 3);
          held["us_at_tokens"] = at;
        }
        result.incumbent = w == i ? "kept" : "replaced";
        result.incumbent_pct = 100.0 * (mean_ratio(us[i], us[w]) - 1.0);
        incumbent_note = w == i ? ", incumbent kept"
                                : ", replaces " + set.schedules[i].text() + " (" +
                                      signed_pct(result.incumbent_pct) + " slower)";
      }
      held["kept"] = w == i;
      tuning["incumbent"] = held;
    }
    tuning["source_hash"] = info.source_hash;
    tuning["method"] = "every candidate checked against the CPU reference (bf16 and fp16); CUDA graph of " +
                       std::to_string(timing.launches) + " launches, warm-up, median of " +
                       std::to_string(timing.replays) + " replays; candidates within " + fixed(timing.guard * 100, 0) +
                       " % re-timed " + std::to_string(timing.retimes) + "x (best median); within " +
                       fixed(timing.tie * 100, 0) + " % the simplest schedule wins; the schedule being replaced " +
                       "stays unless another is more than " + fixed(timing.tie * 100, 0) +
                       " % faster on average over the counts and no more than " + fixed(timing.tie * 100, 0) +
                       " % slower at any";

    const fs::path file = config_file(info.configs, kernel, set.arch, set.hidden, pair.threshold);
    try {
      write_file_atomic(file, config_text(set.schedules[w], set.hidden, tuning));
      result.status = "written";
    } catch (const std::exception& e) {
      result.status = "failed";
      result.note = e.what();
    }
    progress.note(pair_label + ": " + result.winner + "  " + fixed(w_us, 2) + " us" +
                  (result.pct > 0 ? ", " + fixed(result.pct, 1) + " % of ceiling" : "") +
                  (choice.runner_up >= 0 ? ", runner-up " + signed_pct(result.margin_pct) : "") + incumbent_note +
                  (result.status == "written" ? "" : "  NOT WRITTEN: " + result.note));
    results.push_back(result);
  }
}

}  // namespace kiln_tune
