// Choosing a pair's winner from timings: pure functions, tested without a GPU.
//
// A candidate's score is the mean, over the pair's timed token counts, of its time
// relative to the fastest candidate at that count (1.0 = fastest everywhere). The
// noise guard re-times the contenders (scores within `guard` of the best) and keeps
// each one's best median; then, among the candidates within `tie` of the best, the
// simplest schedule wins, so that two runs on one GPU pick the same schedule or one
// just as fast.
//
// The incumbent (the schedule the pair's config file holds now) is in the race too,
// and it stays unless a challenger is clearly better across the bucket: a pick that is
// only faster at N must not replace one that is faster elsewhere in the bucket.
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
  int winner = -1;              // -1: no candidate has a score
  int runner_up = -1;           // the best-scoring other candidate, -1 if none
  bool incumbent_kept = false;  // choose_against: no challenger replaced the incumbent
};

// `simplicity[c]`: smaller is simpler (candidates.h, simplicity_key).
Choice choose(const std::vector<double>& scores, const std::vector<std::vector<int64_t>>& simplicity, double tie);

// Whether `challenger` may replace `incumbent` (times at the same token counts): on
// average over the counts it takes more than `margin` less time (mean of
// challenger / incumbent < 1 - margin), and at no count more than `margin` more.
bool replaces(const std::vector<double>& challenger, const std::vector<double>& incumbent, double margin);

// The mean over the counts of a's time over b's (1.0: as fast on average).
double mean_ratio(const std::vector<double>& a, const std::vector<double>& b);

// `choose` with an incumbent (candidate index; -1 or untimed: none): the winner is
// the incumbent unless some candidates replace() it with `margin` = `tie`; then it is
// chosen among those by the usual rule. The runner-up is the best of all the others.
Choice choose_against(const std::vector<std::vector<double>>& us, const std::vector<std::vector<int64_t>>& simplicity,
                      double tie, int incumbent);

}  // namespace kiln_tune
