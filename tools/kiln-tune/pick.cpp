#include "pick.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kiln_tune {
namespace {
constexpr double kNone = std::numeric_limits<double>::infinity();

// The best-scoring candidate other than `winner`, -1 if none.
int best_other(const std::vector<double>& scores, int winner) {
  int best = -1;
  for (std::size_t c = 0; c < scores.size(); ++c) {
    if (static_cast<int>(c) == winner || !std::isfinite(scores[c])) continue;
    if (best < 0 || scores[c] < scores[static_cast<std::size_t>(best)]) best = static_cast<int>(c);
  }
  return best;
}
}  // namespace

std::vector<double> relative_scores(const std::vector<std::vector<double>>& us) {
  std::size_t points = 0;
  for (const auto& row : us) points = std::max(points, row.size());
  std::vector<double> best(points, kNone);
  for (const auto& row : us)
    for (std::size_t p = 0; p < row.size(); ++p) best[p] = std::min(best[p], row[p]);
  std::vector<double> scores(us.size(), kNone);
  for (std::size_t c = 0; c < us.size(); ++c) {
    if (us[c].size() != points || points == 0) continue;
    double sum = 0;
    for (std::size_t p = 0; p < points; ++p) sum += us[c][p] / best[p];
    scores[c] = sum / static_cast<double>(points);
  }
  return scores;
}

std::vector<int> contenders(const std::vector<double>& scores, double guard, int max_count) {
  std::vector<int> order;
  for (std::size_t c = 0; c < scores.size(); ++c)
    if (std::isfinite(scores[c])) order.push_back(static_cast<int>(c));
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] < scores[b]; });
  if (order.empty()) return order;
  const double limit = scores[order[0]] * (1.0 + guard);
  std::vector<int> out;
  for (int c : order) {
    if (static_cast<int>(out.size()) >= std::max(max_count, 2)) break;
    if (out.size() >= 2 && scores[c] > limit) break;
    out.push_back(c);
  }
  return out;
}

Choice choose(const std::vector<double>& scores, const std::vector<std::vector<int64_t>>& simplicity, double tie) {
  Choice choice;
  double best = kNone;
  for (double s : scores) best = std::min(best, s);
  if (!std::isfinite(best)) return choice;
  for (std::size_t c = 0; c < scores.size(); ++c) {
    if (!(scores[c] <= best * (1.0 + tie))) continue;
    if (choice.winner < 0 || simplicity[c] < simplicity[static_cast<std::size_t>(choice.winner)])
      choice.winner = static_cast<int>(c);
  }
  choice.runner_up = best_other(scores, choice.winner);
  return choice;
}

double mean_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || a.size() != b.size()) return kNone;
  double sum = 0;
  for (std::size_t p = 0; p < a.size(); ++p) sum += a[p] / b[p];
  return sum / static_cast<double>(a.size());
}

bool replaces(const std::vector<double>& challenger, const std::vector<double>& incumbent, double margin) {
  if (!(mean_ratio(challenger, incumbent) < 1.0 - margin)) return false;
  for (std::size_t p = 0; p < challenger.size(); ++p)
    if (challenger[p] > incumbent[p] * (1.0 + margin)) return false;  // slower somewhere in the bucket
  return true;
}

Choice choose_against(const std::vector<std::vector<double>>& us, const std::vector<std::vector<int64_t>>& simplicity,
                      double tie, int incumbent) {
  const std::vector<double> scores = relative_scores(us);
  if (incumbent < 0 || !std::isfinite(scores[static_cast<std::size_t>(incumbent)]))
    return choose(scores, simplicity, tie);
  const auto& held = us[static_cast<std::size_t>(incumbent)];
  std::vector<double> challengers(scores.size(), kNone);  // only those that replace the incumbent may win
  for (std::size_t c = 0; c < scores.size(); ++c)
    if (static_cast<int>(c) != incumbent && std::isfinite(scores[c]) && replaces(us[c], held, tie))
      challengers[c] = scores[c];
  Choice choice = choose(challengers, simplicity, tie);
  if (choice.winner < 0) {
    choice.winner = incumbent;
    choice.incumbent_kept = true;
  }
  choice.runner_up = best_other(scores, choice.winner);
  return choice;
}

}  // namespace kiln_tune
