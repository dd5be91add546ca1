#include "kiln_gen/explain.h"

#include <sstream>

#include "kiln/detail/select.h"
#include "kiln_gen/names.h"
#include "kiln_gen/descriptor.h"

namespace kiln::gen {
namespace {

std::vector<const Row*> set_rows(const Plan& plan, const ExplainQuery& q) {
  std::vector<const Row*> rows;
  for (const ArchPlan& arch : plan.archs)
    if (arch.arch == q.arch)
      for (const Row& row : arch.rows)
        if (row.kernel->name == q.kernel && row.hidden == q.hidden && row.ranks == q.ranks) rows.push_back(&row);
  return rows;
}

// The hidden sizes that do have a set, for the miss message.
std::string hidden_sizes(const Plan& plan, const ExplainQuery& q) {
  std::string out;
  int64_t last = 0;
  for (const ArchPlan& arch : plan.archs)
    if (arch.arch == q.arch)
      for (const Row& row : arch.rows)
        if (row.kernel->name == q.kernel && row.ranks == q.ranks && row.hidden != last) {
          out += (out.empty() ? "" : ", ") + std::to_string(row.hidden);
          last = row.hidden;
        }
  return out.empty() ? "none" : out;
}

std::string why(const std::vector<int32_t>& thresholds, std::size_t chosen, int64_t tokens) {
  if (tokens < thresholds.front())
    return "tokens=" + std::to_string(tokens) + " is below the smallest threshold, which is used";
  if (tokens == thresholds[chosen]) return "tokens=" + std::to_string(tokens) + " is a threshold";
  return "the largest threshold <= tokens=" + std::to_string(tokens);
}

std::string describe(const std::vector<const Row*>& rows, const ExplainQuery& q) {
  std::vector<int32_t> thresholds;
  std::string listed;
  for (const Row* row : rows) {
    thresholds.push_back(static_cast<int32_t>(row->threshold));
    listed += (listed.empty() ? "" : ", ") + std::to_string(row->threshold);
  }
  std::ostringstream out;
  out << q.kernel << " on " << q.arch << ", hidden=" << q.hidden;
  if (q.ranks > 0) out << ", ranks=" << q.ranks;
  out << ", tokens=" << q.tokens << "\n"
      << "config set:  " << set_path(q.kernel, q.arch, q.hidden, q.ranks) << "/\n"
      << "thresholds:  " << listed << "\n";
  if (q.tokens == 0) {
    out << "chosen:      none: tokens=0 launches nothing (and succeeds)\n";
    return out.str();
  }
  const std::size_t chosen = kiln::detail::select_bucket(thresholds.data(), thresholds.size(), q.tokens);
  const Row& row = *rows[chosen];
  out << "chosen:      bs" << row.threshold << " (" << why(thresholds, chosen, q.tokens) << ")\n"
      << "config file: " << row.config << "\n"
      << "instance:    " << row.instance;
  if (row.instance_threshold != row.threshold)
    out << " (bs" << row.threshold << " shares bs" << row.instance_threshold << "'s identical schedule)";
  out << "\n"
      << "schedule:    " << row.schedule.text() << "\n";
  return out.str();
}

}  // namespace

std::optional<std::string> query_error(const ExplainQuery& q) {
  if (!find_kernel(q.kernel)) return "kiln-gen: --explain: unknown kernel '" + q.kernel + "'; known: " + kernel_list();
  if (!is_known_arch(q.arch)) return "kiln-gen: --arch: unknown arch '" + q.arch + "'; known: " + arch_list();
  if (q.hidden < 1) return "kiln-gen: --hidden must be at least 1";
  if (q.tokens < 0) return "kiln-gen: --tokens must be at least 0";
  const bool comm = find_kernel(q.kernel)->comm;
  if (comm && (q.ranks < 2 || q.ranks > kMaxRanks))
    return "kiln-gen: --explain " + q.kernel + " sums over a communicator: give --ranks R, R from 2 to " +
           std::to_string(kMaxRanks);
  if (!comm && q.ranks != 0) return "kiln-gen: --ranks: " + q.kernel + " has no communicator";
  return std::nullopt;
}

ExplainAnswer explain(const Plan& plan, const ExplainQuery& q) {
  if (auto error = query_error(q)) return {2, *error + "\n"};
  const std::vector<const Row*> rows = set_rows(plan, q);
  if (rows.empty())
    return {0, "no " + q.kernel + " set for " + q.arch + " hidden=" + std::to_string(q.hidden) +
                   (q.ranks > 0 ? " ranks=" + std::to_string(q.ranks) : std::string()) + "; have " +
                   hidden_sizes(plan, q) + " — the generic kernel runs\n"};
  return {0, describe(rows, q)};
}

}  // namespace kiln::gen
