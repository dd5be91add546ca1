// Tuning one config set: see tune.h. tune_set is a SetTuner's steps in order: the run's
// reference points, every candidate checked, then per pair the candidates timed, the
// close ones re-timed, a winner picked and its config file written.
#include "tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "config_io.h"
#include "kiln/kiln.h"
#include "pick.h"
#include "util.h"
#include "worker.h"

namespace kiln_tune {
namespace fs = std::filesystem;
using kiln::measure::Progress;

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

// The last bucket's second timing point: where the tensors miss L2 (at least kDramBytes, 4x the
// H200's 60 MiB L2 rounded up, as kiln-bench's ceiling shapes, or 4x the device's L2 where that
// is more), and at most kMaxTimedTokens tokens, which keeps the buffers of the RFC's hidden
// sizes well within a GPU's memory.
constexpr int64_t kDramTokens = 16384;
constexpr int64_t kDramBytes = int64_t(256) << 20;
constexpr int64_t kMaxTimedTokens = 65536;

std::vector<int64_t> timing_points(int64_t threshold, int64_t next, int64_t token_bytes, int64_t l2_bytes) {
  std::vector<int64_t> points = {threshold};
  int64_t mid = 0;
  // The open-ended last bucket serves every larger count: time it where the tensors no longer
  // fit in L2 too, where the bandwidth ceiling is measured, not only at its threshold: 4x the
  // threshold, at least 16384 tokens, doubled until they move kDramBytes or 4x L2 (h = 2048
  // needs 65536 for some kernels); never above kMaxTimedTokens.
  if (next == 0) {
    const int64_t dram_bytes = std::max<int64_t>(kDramBytes, 4 * std::max<int64_t>(l2_bytes, 0));
    mid = std::max<int64_t>(threshold * 4, kDramTokens);
    while (mid < kMaxTimedTokens && mid * std::max<int64_t>(token_bytes, 1) < dram_bytes) mid *= 2;
    mid = std::min<int64_t>(mid, std::max<int64_t>(threshold, kMaxTimedTokens));
  } else if (next - threshold >= 2) {
    mid = std::clamp<int64_t>(std::llround(std::sqrt(double(threshold) * double(next))), threshold + 1, next - 1);
  }
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

double min_bytes(const std::string& kernel, int64_t hidden, int64_t tokens) {
  int64_t bytes = 0;
  if (kiln_min_bytes(kernel.c_str(), KILN_DTYPE_BF16, hidden, tokens, &bytes) != KILN_SUCCESS)
    throw std::runtime_error(std::string("kiln_min_bytes: ") + kiln_last_error());
  return static_cast<double>(bytes);
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

// {"32": 3.1, "64": 3.22}: one candidate's times at the pair's counts.
nlohmann::ordered_json times_at(const Pair& pair, const std::vector<double>& us) {
  nlohmann::ordered_json at = nlohmann::ordered_json::object();
  for (std::size_t p = 0; p < pair.points.size(); ++p) at[std::to_string(pair.points[p])] = rounded(us[p], 3);
  return at;
}

// The answer "bad <why>" as "<why>".
std::string reason(const std::string& answer) { return answer.rfind("bad ", 0) == 0 ? answer.substr(4) : answer; }

class SetTuner {
 public:
  SetTuner(const SetPlan& plan, const BuiltSet& built, RunInfo& info, const TimingPlan& timing, Progress& progress,
           std::vector<PairResult>& results)
      : plan_(plan), set_(plan.candidates), built_(built), info_(info), timing_(timing), progress_(progress),
        results_(results), kernel_(set_.kernel->name), label_(kernel_ + " h=" + std::to_string(set_.hidden)),
        n_(static_cast<int>(set_.schedules.size())), out_(static_cast<std::size_t>(n_)),
        row_of_(static_cast<std::size_t>(n_), -1), session_(worker_spec(), spec_stem() + ".json", info.watchdog_s) {
    for (const auto& [c, why] : built.failed) out_[static_cast<std::size_t>(c)] = "compile: " + why;
    for (std::size_t row = 0; row < built.table.size(); ++row) row_of_[static_cast<std::size_t>(built.table[row])] = int(row);
    for (int c = 0; c < n_; ++c)
      if (row_of_[c] < 0 && out_[c].empty()) out_[c] = "compile: not built";
    for (const auto& [c, why] : built.failed)
      progress_.note(label_ + " [" + set_.schedules[c].text() + "] compile failed: " + why);
  }

  void run() {
    if (info_.ceiling_gbps == 0 && !measure_reference_points()) return;
    if (!check_candidates()) return;
    for (const Pair& pair : plan_.pairs)
      if (!pair.exists) tune_pair(pair);
  }

 private:
  // A pair races the grid and its own incumbent (others' incumbents the grid lacks are not raced).
  bool races(const Pair& pair, int c) const { return set_.from_grid(c) || c == pair.incumbent; }

  PairResult result_for(const Pair& pair) const {
    PairResult r;
    r.kernel = kernel_;
    r.hidden = set_.hidden;
    r.threshold = pair.threshold;
    for (int c = 0; c < n_; ++c) r.tried += races(pair, c);
    return r;
  }

  std::string spec_stem() const {
    return (info_.work / "workers" / (kernel_ + "_" + set_.arch + "_h" + std::to_string(set_.hidden))).string();
  }

  WorkerSpec worker_spec() const {
    WorkerSpec spec;
    spec.library = built_.library;
    spec.kernel = kernel_;
    spec.hidden = set_.hidden;
    spec.device = info_.device_index;
    for (int c : built_.table) spec.schedules.push_back(set_.schedules[static_cast<std::size_t>(c)].text());
    spec.check_tokens = plan_.check_tokens;
    spec.max_tokens = plan_.max_tokens();
    spec.seed = 20260101;
    fs::create_directories(fs::path(spec_stem()).parent_path());
    spec.log = spec_stem() + ".log";
    return spec;
  }

  // Every pending pair fails with `why`.
  void fail_all(const std::string& why) {
    for (const Pair& pair : plan_.pairs) {
      if (pair.exists) continue;
      PairResult r = result_for(pair);
      r.status = "failed";
      r.failed = r.tried;
      r.note = why;
      results_.push_back(r);
    }
    progress_.note(label_ + ": " + why);
  }

  // Once per run: the copy ceiling (4 GiB each way) and the launch floor. False: no worker.
  bool measure_reference_points() {
    progress_.status(label_ + ": measuring the copy ceiling");
    Session::Reply r = session_.call("ceiling " + std::to_string(std::size_t(4) << 30));
    if (r.outcome == Session::Outcome::fatal) {
      fail_all(r.text);
      return false;
    }
    std::istringstream in(r.text);
    std::string word;
    double kernel_gbps = 0, memcpy_gbps = 0;
    if (in >> word && word == "ceiling" && in >> info_.ceiling_gbps >> kernel_gbps >> memcpy_gbps) {
      info_.ceiling_detail = "copy kernel " + fixed(kernel_gbps, 0) + " GB/s, cudaMemcpyAsync " +
                             fixed(memcpy_gbps, 0) + " GB/s (4 GiB device to device, read + written)";
      progress_.note("copy ceiling: " + fixed(info_.ceiling_gbps, 0) + " GB/s (" + info_.ceiling_detail + ")");
    } else {
      info_.ceiling_gbps = -1;  // tried; % of ceiling is left out
      progress_.note("copy ceiling not measured: " + r.text);
    }
    r = session_.call("floor");
    if (r.outcome == Session::Outcome::answer && r.text.rfind("floor ", 0) == 0)
      info_.floor_us = std::stod(r.text.substr(6));
    return true;
  }

  // Every candidate against the reference, before any is timed. False: no worker.
  bool check_candidates() {
    int checked = 0;
    for (int c = 0; c < n_; ++c) {
      if (!out_[c].empty()) continue;
      progress_.status(label_ + ": checking " + std::to_string(++checked) + "/" +
                       std::to_string(built_.table.size()) + " " + set_.schedules[c].text());
      Session::Reply r = session_.call("check " + std::to_string(row_of_[c]));
      progress_.advance();
      if (r.outcome == Session::Outcome::fatal) {
        fail_all(r.text);
        return false;
      }
      if (r.outcome == Session::Outcome::lost) out_[c] = "check: crashed: " + r.text;
      else if (r.text != "ok") out_[c] = "check: " + reason(r.text);
      if (!out_[c].empty()) progress_.note(label_ + " [" + set_.schedules[c].text() + "] rejected: " + out_[c]);
    }
    progress_.advance(n_ - checked);  // the ones that never compiled
    return true;
  }

  // One timing of candidate c at the pair's point p (`replays` replays after `warmup_ms`); false
  // when it failed (the candidate is then out). Throws when the worker cannot go on.
  bool time_one(const Pair& pair, int c, std::size_t p, int replays, double warmup_ms, double& value) {
    Session::Reply r = session_.call("time " + std::to_string(row_of_[c]) + " " + std::to_string(pair.points[p]) +
                                     " " + std::to_string(timing_.launches) + " " + std::to_string(replays) + " " +
                                     fixed(warmup_ms, 1));
    if (r.outcome == Session::Outcome::fatal) throw std::runtime_error(r.text);
    std::istringstream in(r.text);
    std::string word;
    if (r.outcome == Session::Outcome::answer && in >> word && word == "us" && in >> value && value > 0) return true;
    out_[c] = std::string("timing: ") + (r.outcome == Session::Outcome::lost ? "crashed: " : "") + reason(r.text);
    progress_.note(pair_label(pair) + " [" + set_.schedules[c].text() + "] rejected: " + out_[c]);
    return false;
  }

  std::string pair_label(const Pair& pair) const { return label_ + " bs" + std::to_string(pair.threshold); }

  // us[c][p]: every racing candidate at every point of the pair; empty for the ones out.
  std::vector<std::vector<double>> time_candidates(const Pair& pair) {
    std::vector<std::vector<double>> us(static_cast<std::size_t>(n_));
    preheat(pair);
    int timed = 0, alive = 0;
    for (int c = 0; c < n_; ++c) alive += out_[c].empty() && races(pair, c);
    for (int c = 0; c < n_; ++c) {
      if (!out_[c].empty() || !races(pair, c)) {
        progress_.advance(double(pair.points.size()));
        continue;
      }
      progress_.status(pair_label(pair) + ": timing " + std::to_string(++timed) + "/" + std::to_string(alive));
      std::vector<double> row;
      for (std::size_t p = 0; p < pair.points.size(); ++p) {
        double v = 0;
        progress_.advance();
        if (!time_one(pair, c, p, timing_.replays, timing_.warmup_ms, v)) break;
        row.push_back(v);
      }
      if (out_[c].empty()) us[c] = row;
    }
    return us;
  }

  // The pair's first racing candidate at its largest count for timing_.preheat_ms(), the result
  // dropped (TimingPlan). A candidate that fails here is out, as it would be at its first timing.
  void preheat(const Pair& pair) {
    for (int c = 0; c < n_; ++c) {
      if (!out_[c].empty() || !races(pair, c)) continue;
      progress_.status(pair_label(pair) + ": pre-heating for " + fixed(timing_.preheat_ms(), 0) + " ms");
      double ignored = 0;
      if (time_one(pair, c, pair.points.size() - 1, 1, timing_.preheat_ms(), ignored)) return;
    }
  }

  // Noise guard: the close ones again, interleaved so that drift hits all alike, twice
  // the replays each; every candidate keeps its best median. The incumbent is always
  // re-timed: a best-of-several challenger against its single median would be favoured
  // by the noise alone.
  void retime_close(const Pair& pair, std::vector<std::vector<double>>& us) {
    std::vector<int> close = contenders(relative_scores(us), timing_.guard, timing_.max_contenders);
    const int inc = pair.incumbent;
    if (inc >= 0 && !us[inc].empty() && std::find(close.begin(), close.end(), inc) == close.end())
      close.push_back(inc);
    progress_.add_total(double(close.size() * pair.points.size() * timing_.retimes));
    for (int round = 0; round < timing_.retimes && close.size() > 1; ++round) {
      progress_.status(pair_label(pair) + ": re-timing " + std::to_string(close.size()) + " close candidates");
      for (int c : close) {
        if (!out_[c].empty()) continue;
        for (std::size_t p = 0; p < pair.points.size(); ++p) {
          double v = 0;
          progress_.advance();
          if (!time_one(pair, c, p, 2 * timing_.replays, timing_.warmup_ms, v)) {
            us[c].clear();
            break;
          }
          us[c][p] = std::min(us[c][p], v);  // best of medians
        }
      }
    }
  }

  void tune_pair(const Pair& pair) {
    PairResult result = result_for(pair);
    std::vector<std::vector<double>> us;
    try {
      us = time_candidates(pair);
      retime_close(pair, us);
    } catch (const std::exception& e) {
      result.status = "failed";
      result.note = e.what();
      result.failed = result.tried;
      results_.push_back(result);
      progress_.note(pair_label(pair) + ": " + result.note);
      return;
    }
    std::vector<std::vector<int64_t>> simplicity;
    for (const auto& s : set_.schedules) simplicity.push_back(simplicity_key(s));
    const Choice choice = choose_against(us, simplicity, timing_.tie, pair.incumbent);
    for (int c = 0; c < n_; ++c) result.failed += races(pair, c) && !out_[c].empty();
    if (choice.winner < 0) {
      result.status = "failed";
      result.note = "no candidate passed the checks";
      results_.push_back(result);
      progress_.note(pair_label(pair) + ": " + result.note);
      return;
    }
    write_winner(pair, choice, us, result);
  }

  // The winner's figures into `result`, its provenance, the file; a note and the result.
  void write_winner(const Pair& pair, const Choice& choice, const std::vector<std::vector<double>>& us,
                    PairResult& result) {
    const int w = choice.winner;
    result.winner = set_.schedules[w].text();
    result.us = us[w][0];
    result.gbps = min_bytes(kernel_, set_.hidden, pair.threshold) / (result.us * 1e-6) / 1e9;
    result.pct = info_.ceiling_gbps > 0 ? 100.0 * result.gbps / info_.ceiling_gbps : 0;
    if (choice.runner_up >= 0) {
      result.runner_up = set_.schedules[choice.runner_up].text();
      result.margin_pct = 100.0 * (us[choice.runner_up][0] / result.us - 1.0);
    }
    std::string incumbent_note;
    const nlohmann::ordered_json tuning = tuning_record(pair, choice, us, result, incumbent_note);
    const fs::path file = config_file(info_.configs, kernel_, set_.arch, set_.hidden, pair.threshold);
    try {
      write_file_atomic(file, config_text(set_.schedules[w], set_.hidden, tuning));
      result.status = "written";
    } catch (const std::exception& e) {
      result.status = "failed";
      result.note = e.what();
    }
    progress_.note(pair_label(pair) + ": " + result.winner + "  " + fixed(result.us, 2) + " us" +
                   (result.pct > 0 ? ", " + fixed(result.pct, 1) + " % of ceiling" : "") +
                   (choice.runner_up >= 0 ? ", runner-up " + signed_pct(result.margin_pct) : "") + incumbent_note +
                   (result.status == "written" ? "" : "  NOT WRITTEN: " + result.note));
    results_.push_back(result);
  }

  // The config file's "tuning" block; sets result.incumbent* and a note about it.
  nlohmann::ordered_json tuning_record(const Pair& pair, const Choice& choice,
                                       const std::vector<std::vector<double>>& us, PairResult& result,
                                       std::string& incumbent_note) const {
    const int w = choice.winner;
    nlohmann::ordered_json tuning;
    tuning["tool"] = info_.tool;
    if (!info_.synthetic.empty()) tuning["simulated"] = info_.synthetic;
    tuning["mode"] = !info_.synthetic.empty() ? "simulated" : mode_name(info_.mode);
    tuning["gpu"] = info_.device.name;
    tuning["driver"] = info_.device.driver;
    tuning["cuda_driver"] = info_.device.cuda_driver;
    tuning["date"] = info_.date;
    tuning["tokens"] = pair.points;
    tuning["us"] = rounded(result.us, 3);
    if (pair.points.size() > 1) tuning["us_at_tokens"] = times_at(pair, us[w]);
    tuning["gbps"] = rounded(result.gbps, 1);
    if (info_.ceiling_gbps > 0) {
      tuning["pct_of_ceiling"] = rounded(result.pct, 1);
      tuning["ceiling_gbps"] = rounded(info_.ceiling_gbps, 1);
    }
    if (info_.floor_us > 0) tuning["launch_floor_us"] = rounded(info_.floor_us, 3);
    int timed_ok = 0;
    for (int c = 0; c < n_; ++c) timed_ok += !us[c].empty();
    tuning["candidates"] = {{"tried", result.tried}, {"failed", result.failed}, {"timed", timed_ok}};
    if (choice.runner_up >= 0)
      tuning["runner_up"] = {{"schedule", result.runner_up},
                             {"us", rounded(us[choice.runner_up][0], 3)},
                             {"margin_pct", rounded(result.margin_pct, 2)}};
    // The schedule this file replaces, and whether it stayed.
    if (!pair.incumbent_ignored.empty()) {
      result.incumbent = "ignored";
      tuning["incumbent"] = {{"ignored", pair.incumbent_ignored}};
      incumbent_note = ", incumbent ignored (invalid)";
    } else if (const int i = pair.incumbent; i >= 0) {
      nlohmann::ordered_json held = {{"schedule", set_.schedules[i].text()}};
      if (us[i].empty()) {
        result.incumbent = "rejected";
        held["rejected"] = out_[i];
        incumbent_note = ", incumbent rejected";
      } else {
        held["us"] = rounded(us[i][0], 3);
        if (pair.points.size() > 1) held["us_at_tokens"] = times_at(pair, us[i]);
        result.incumbent = w == i ? "kept" : "replaced";
        result.incumbent_pct = 100.0 * (mean_ratio(us[i], us[w]) - 1.0);
        incumbent_note = w == i ? ", incumbent kept"
                                : ", replaces " + set_.schedules[i].text() + " (" +
                                      signed_pct(result.incumbent_pct) + " slower)";
      }
      held["kept"] = w == i;
      tuning["incumbent"] = held;
    }
    tuning["source_hash"] = info_.source_hash;
    tuning["method"] = method_text();
    return tuning;
  }

  std::string method_text() const {
    const std::string tie = fixed(timing_.tie * 100, 0);
    return "every candidate checked against the CPU reference (bf16 and fp16); timed in bf16 and fp16, the "
           "mean; CUDA graph of " +
           std::to_string(timing_.launches) + " launches, " + fixed(timing_.warmup_ms, 0) + " ms warm-up (" +
           fixed(timing_.preheat_ms(), 0) + " ms before a pair's first timing), median of " +
           std::to_string(timing_.replays) + " replays; candidates within " + fixed(timing_.guard * 100, 0) +
           " % re-timed " + std::to_string(timing_.retimes) + "x (best median); within " + tie +
           " % the simplest schedule wins; the schedule being replaced stays unless another is more than " + tie +
           " % faster on average over the counts and no more than " + tie + " % slower at any";
  }

  const SetPlan& plan_;
  const CandidateSet& set_;
  const BuiltSet& built_;
  RunInfo& info_;
  const TimingPlan& timing_;
  Progress& progress_;
  std::vector<PairResult>& results_;
  const std::string kernel_, label_;
  const int n_;
  std::vector<std::string> out_;  // why each candidate is out (compile, check, timing); empty = good
  std::vector<int> row_of_;       // candidate -> library table row
  Session session_;
};

}  // namespace

void tune_set(const SetPlan& plan, const BuiltSet& built, RunInfo& info, const TimingPlan& timing, Progress& progress,
              std::vector<PairResult>& results) {
  SetTuner(plan, built, info, timing, progress, results).run();
}

}  // namespace kiln_tune
