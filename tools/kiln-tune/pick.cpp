#include "pick.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kiln_tune {
namespace {
constexpr double kNone = std::numeric_limits<double>::infinity();
}

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
  for (std::size_t c = 0; c < scores.size(); ++c) {
    if (static_cast<int>(c) == choice.winner || !std::isfinite(scores[c])) continue;
    if (choice.runner_up < 0 || scores[c] < scores[static_cast<std::size_t>(choice.runner_up)])
      choice.runner_up = static_cast<int>(c);
  }
  return choice;
}

}  // namespace kiln_tune
