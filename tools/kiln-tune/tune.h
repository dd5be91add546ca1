// Tuning one config set (kernel, arch, hidden size) on the GPU, through a worker:
// check every candidate against the reference, then per batch threshold time the
// good ones, re-time the close ones, pick, and write the config file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "build.h"
#include "candidates.h"
#include "measure/device.h"
#include "measure/progress.h"

namespace kiln_tune {

struct TimingPlan {
  int launches = 20;          // launches per CUDA graph
  int replays = 15;           // timed replays (median)
  double warmup_ms = 5;       // warm-up replays: at least 3 and this long
  // Before a pair's first timing, one timing this long whose result is dropped, so the first
  // candidate is not timed on a cold GPU while the rest run warm (re-timing keeps a candidate's
  // best median). H200, a DRAM-bound pair after the idle of compiling and checking: 128 -> 663 W
  // in about a second, the 700 W cap and a lower SM clock only some 12 s later (run 108), which
  // the pre-heat does not wait for. 10x the warm-up, at most 3 s.
  double preheat_ms() const { return std::min(10 * warmup_ms, 3000.0); }
  double guard = 0.03;        // re-time candidates within 3 % of the best ...
  int max_contenders = 4;     // ... at most this many ...
  int retimes = 2;            // ... this many more times each (2x replays), best median kept
  double tie = 0.01;          // within 1 %: equal (the simplest schedule wins; the incumbent stays)
};
TimingPlan timing_plan(Mode mode);

struct Pair {
  int64_t threshold = 0;
  int64_t next = 0;             // the next threshold of the set (0: none): the bucket is [threshold, next)
  std::vector<int64_t> points;  // token counts timed
  bool exists = false;          // a config file is there already (kept, not tuned)
  int incumbent = -1;           // candidate index of the schedule being replaced (-1: none)
  std::string incumbent_ignored;  // why an existing incumbent file is not raced (empty: it is, or none)
};

// The token counts a pair is timed at: the threshold and a count inside its bucket
// (the geometric middle of [threshold, next); for the last bucket 4x the threshold and at
// least 16384, doubled until its tensors (token_bytes a token) take 256 MiB, or 4x l2_bytes
// where that is more, and miss L2, but at most 65536), because the bucket's config serves every
// count in it, not only the threshold. l2_bytes: the device's L2, 0 when unknown (--dry-run).
std::vector<int64_t> timing_points(int64_t threshold, int64_t next, int64_t token_bytes, int64_t l2_bytes = 0);

struct SetPlan {
  CandidateSet candidates;
  std::vector<Pair> pairs;              // every requested threshold, ascending
  std::vector<int64_t> check_tokens;    // every candidate is checked at these
  int pending() const;                  // pairs to tune now
  int64_t max_tokens() const;           // the largest count timed
};

// The run-wide facts every config's provenance quotes.
struct RunInfo {
  kiln::measure::DeviceInfo device;
  Mode mode = Mode::full;
  std::string tool;            // "kiln-tune 1 (kiln 0.1.0)"
  std::string source_hash;     // templates, runtime headers, runner, nvcc version
  std::string date;
  double ceiling_gbps = 0;     // 0: not measured
  std::string ceiling_detail;
  double floor_us = 0;
  bool force = false;
  std::string synthetic;       // non-empty: the lab's timings are synthetic (Lab::synthetic)
  std::filesystem::path configs, work;
  int device_index = 0;
  double watchdog_s = 120;
};

struct PairResult {
  std::string kernel;
  int64_t hidden = 0, threshold = 0;
  std::string status;  // "written", "kept", "failed"
  std::string winner, runner_up, note;
  double us = 0, gbps = 0, pct = 0, margin_pct = 0;
  int tried = 0, failed = 0;
  // The schedule being replaced: "" none, "kept" (it won or no challenger replaced it),
  // "replaced", "ignored" (kiln-gen rejects its file), "rejected" (failed its check or timing).
  std::string incumbent;
  double incumbent_pct = 0;  // replaced: its mean time over the winner's at the timed counts, - 1, in %
};

// Runs one set; appends a result per requested pair. Measures the ceiling and the
// launch floor first when `info` has none yet.
void tune_set(const SetPlan& plan, const BuiltSet& built, RunInfo& info, const TimingPlan& timing,
              kiln::measure::Progress& progress, std::vector<PairResult>& results);

// The fewest bytes a bf16 launch of `tokens` rows moves: libkiln's kiln_min_bytes, the
// one formula kiln-bench and Python use too (each input read once, each output written
// once, in-out tensors both). Throws for a kernel the library does not have.
double min_bytes(const std::string& kernel, int64_t hidden, int64_t tokens);

}  // namespace kiln_tune
