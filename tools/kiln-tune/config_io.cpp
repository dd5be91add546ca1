#include "config_io.h"

#include <algorithm>
#include <stdexcept>

#include "kiln_gen/config_file.h"
#include "util.h"

namespace kiln_tune {
namespace fs = std::filesystem;

fs::path config_file(const fs::path& configs, std::string_view kernel, std::string_view arch, int64_t hidden,
                     int64_t threshold) {
  return configs / std::string(kernel) / std::string(arch) / std::to_string(hidden) /
         ("bs" + std::to_string(threshold) + ".json");
}

std::vector<int64_t> existing_thresholds(const fs::path& configs, std::string_view kernel, std::string_view arch,
                                         int64_t hidden) {
  std::vector<int64_t> out;
  std::error_code ec;
  const fs::path dir = configs / std::string(kernel) / std::string(arch) / std::to_string(hidden);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= 7 || !name.starts_with("bs") || !name.ends_with(".json")) continue;
    if (auto n = kiln::gen::parse_positive(name.substr(2, name.size() - 7), kiln::gen::kMaxThreshold)) out.push_back(*n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int remove_stale_temps(const fs::path& configs, std::string_view kernel, std::string_view arch, int64_t hidden) {
  int removed = 0;
  std::error_code ec;
  const fs::path dir = configs / std::string(kernel) / std::string(arch) / std::to_string(hidden);
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") && name.ends_with(".kiln-tune-tmp")) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) removed += fs::remove(p, ec) ? 1 : 0;
  return removed;
}

namespace {
std::string describe(const std::vector<kiln::gen::Issue>& issues) {
  std::vector<std::string> parts;
  for (const auto& issue : issues) parts.push_back(issue.key + " = " + issue.value + ": " + issue.rule);
  return " " + join(parts, "; ");
}
}  // namespace

std::optional<kiln::gen::Schedule> read_schedule(const fs::path& file, const kiln::gen::KernelDescriptor& kernel,
                                                 int64_t hidden, std::string& why) {
  std::string text;
  try {
    text = read_file(file);
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
  kiln::gen::ScheduleCheck check = kiln::gen::check_config_text(kernel, text, hidden);
  if (!check.schedule) why = "kiln-gen rejects it:" + describe(check.issues);
  return check.schedule;
}

std::string config_text(const kiln::gen::Schedule& schedule, int64_t hidden, const nlohmann::ordered_json& tuning) {
  nlohmann::ordered_json doc;
  nlohmann::ordered_json s = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < schedule.values.size(); ++i)  // schema order; a switch at its default left out
    if (!schedule.kernel->params[i].at_default(schedule.values[i]))
      s[std::string(schedule.kernel->params[i].name)] = schedule.values[i];
  doc["schedule"] = s;
  doc["tuning"] = tuning;
  std::string text = doc.dump(2) + "\n";
  // The same check kiln-gen runs on the file: never write one it would reject.
  const kiln::gen::ScheduleCheck check = kiln::gen::check_config_text(*schedule.kernel, text, hidden);
  if (!check.schedule) throw std::runtime_error("kiln-gen would reject the config:" + describe(check.issues));
  return text;
}

}  // namespace kiln_tune
