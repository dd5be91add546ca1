// Choosing a pair's winner from timings: pure functions, tested without a GPU.
//
// A candidate's score is the mean, over the pair's timed token counts, of its time
// relative to the fastest candidate at that count (1.0 = fastest everywhere). The
// noise guard re-times the contenders (scores within `guard` of the best) and keeps
// each one's best median; then, among the candidates within `tie` of the best, the
// simplest schedule wins, so that two runs on one GPU pick the same schedule or one
// just as fast.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln_tune {

// us[c][p]: candidate c's time at point p; a candidate that failed has an empty row.
std::vector<double> relative_scores(const std::vector<std::vector<double>>& us);

// Candidates whose score is within `guard` (0.03 = 3 %) of the best, best first, at
// most `max_count` (and at least the best two when there are two).
std::vector<int> contenders(const std::vector<double>& scores, double guard, int max_count);

struct Choice {
  int winner = -1;     // -1: no candidate has a score
  int runner_up = -1;  // the best-scoring other candidate, -1 if none
};

// `simplicity[c]`: smaller is simpler (candidates.h, simplicity_key).
Choice choose(const std::vector<double>& scores, const std::vector<std::vector<int64_t>>& simplicity, double tie);

}  // namespace kiln_tune
