#include "kiln_gen/config_file.h"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

namespace kiln::gen {
using nlohmann::json;
namespace {

constexpr std::size_t kMaxRendered = 60;
constexpr int kMaxNesting = 64;

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (int64_t v : values) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out;
}

// The first rule a parameter's value breaks, or nothing; `out` gets the value.
std::optional<std::string> param_error(const ParamSpec& param, const json& value, int64_t& out) {
  if (!value.is_number_integer()) return "must be a JSON integer";
  const bool too_big = value.is_number_unsigned() &&
                       value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  out = too_big ? std::numeric_limits<int64_t>::max() : value.get<int64_t>();
  if (too_big || out < param.min || out > param.max)
    return "must be in " + std::to_string(param.min) + ".." + std::to_string(param.max);
  if (!param.one_of.empty() && std::find(param.one_of.begin(), param.one_of.end(), out) == param.one_of.end())
    return "must be one of " + join(param.one_of);
  if (out % param.multiple_of != 0) return "must be a multiple of " + std::to_string(param.multiple_of);
  return std::nullopt;
}

void run_cross_checks(const KernelDescriptor& kernel, const Schedule& schedule, int64_t hidden,
                      std::vector<Issue>& issues) {
  for (const CrossCheck& check : kernel.checks) {
    const int64_t value = check.value(schedule, hidden);
    if (auto error = check.error(value, hidden))
      issues.push_back({"schedule." + std::string(check.key), std::to_string(value),
                        *error + " (" + std::string(check.rule) + ")"});
  }
}

// Splits nlohmann's "[json.exception.parse_error.101] parse error at line 3,
// column 5: <what>" into "line 3, column 5" and "<what>".
Issue syntax_issue(const json::parse_error& e) {
  std::string message = e.what();
  const std::size_t at = message.find("at line ");
  const std::size_t colon = at == std::string::npos ? at : message.find(": ", at);
  if (colon == std::string::npos) return {"json", "(malformed)", message};
  return {"json", message.substr(at + 3, colon - at - 3), "malformed JSON: " + message.substr(colon + 2)};
}

// nlohmann keeps the last of repeated keys silently; other readers keep the first.
// Reporting them keeps every reader of a config in agreement.
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(std::vector<Issue>& issues) : issues_(issues) {}

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: frames_.push_back({true, {}, {}}); break;
      case json::parse_event_t::array_start: frames_.push_back({false, {}, {}}); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: frames_.pop_back(); break;
      case json::parse_event_t::key: on_key(parsed.get<std::string>()); break;
      case json::parse_event_t::value: break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> seen;
    std::string key;
  };

  void on_key(const std::string& key) {
    Frame& top = frames_.back();
    top.key = key;
    if (!top.seen.insert(key).second) issues_.push_back({dotted(), "(repeated)", "duplicate key in one JSON object"});
  }

  std::string dotted() const {
    std::string path;
    for (const Frame& f : frames_)
      if (f.object) path += (path.empty() ? "" : ".") + f.key;
    return path;
  }

  std::vector<Issue>& issues_;
  std::vector<Frame> frames_;
};

// "[json.exception.out_of_range.406] number overflow ..." -> "number overflow ...".
std::string strip_exception_id(const std::string& message) {
  if (message.starts_with("[json.exception.")) {
    const std::size_t end = message.find("] ");
    if (end != std::string::npos) return message.substr(end + 2);
  }
  return message;
}

// Config files are two or three levels deep. A deeper document is refused before
// nlohmann parses it: its parser, destructor and dump() recurse per level, and a
// file of 100,000 '[' would overflow the stack. Brackets inside strings do not count.
std::optional<Issue> nesting_error(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  std::size_t line = 1, column = 0;
  for (char c : text) {
    ++column;
    if (c == '\n') {
      ++line;
      column = 0;
    }
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting)
        return Issue{"json", "line " + std::to_string(line) + ", column " + std::to_string(column),
                     "nested deeper than " + std::to_string(kMaxNesting) +
                         " levels (a config file is an object of objects, 2 or 3 levels deep)"};
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return std::nullopt;
}

ScheduleCheck check_config_text_unguarded(const KernelDescriptor& kernel, std::string_view text, int64_t hidden,
                                          std::string_view arch);

}  // namespace

std::string render_value(const json& value) {
  // Values come from documents checked by nesting_error, so dump's recursion is bounded.
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (text.size() > kMaxRendered) text = text.substr(0, kMaxRendered - 3) + "...";
  return text;
}

ScheduleCheck check_schedule(const KernelDescriptor& kernel, const json& schedule, int64_t hidden,
                             std::string_view arch) {
  ScheduleCheck result;
  if (!schedule.is_object()) {
    result.issues.push_back({"schedule", render_value(schedule), "must be an object with " + kernel.param_list()});
    return result;
  }
  for (const auto& [key, value] : schedule.items())
    if (!kernel.find_param(key))
      result.issues.push_back({"schedule." + key, render_value(value),
                               "unknown key; " + std::string(kernel.name) + " takes " + kernel.param_list()});
  Schedule parsed{&kernel, {}};
  for (const ParamSpec& param : kernel.params) {
    const std::string key = "schedule." + std::string(param.name);
    int64_t value = 0;
    if (!schedule.contains(param.name)) {
      if (param.default_value) value = *param.default_value;
      else result.issues.push_back({key, "(missing)", "required: " + std::string(param.doc)});
    } else if (auto error = param_error(param, schedule.at(std::string(param.name)), value)) {
      result.issues.push_back({key, render_value(schedule.at(std::string(param.name))), *error});
    }
    parsed.values.push_back(value);
  }
  for (std::size_t i = 0; i < kernel.params.size() && !arch.empty(); ++i)
    if (auto rule = arch_rule(kernel.params[i], parsed.values[i], arch))
      result.issues.push_back({"schedule." + std::string(kernel.params[i].name), std::to_string(parsed.values[i]), *rule});
  if (!result.issues.empty()) return result;  // cross-checks need every value valid
  run_cross_checks(kernel, parsed, hidden, result.issues);
  if (result.issues.empty()) result.schedule = std::move(parsed);
  return result;
}

ScheduleCheck check_config_text(const KernelDescriptor& kernel, std::string_view text, int64_t hidden,
                                std::string_view arch) {
  // Nothing a file holds may escape as an exception: every failure is an issue of the file.
  try {
    return check_config_text_unguarded(kernel, text, hidden, arch);
  } catch (const std::exception& e) {
    ScheduleCheck result;
    result.issues = {{"json", "(unreadable)", std::string("cannot be checked: ") + strip_exception_id(e.what())}};
    return result;
  }
}

namespace {

ScheduleCheck check_config_text_unguarded(const KernelDescriptor& kernel, std::string_view text, int64_t hidden,
                                          std::string_view arch) {
  ScheduleCheck result;
  if (std::optional<Issue> deep = nesting_error(text)) {
    result.issues = {*deep};
    return result;
  }
  json doc;
  try {
    doc = json::parse(text, DuplicateKeyFinder(result.issues));
  } catch (const json::parse_error& e) {
    result.issues = {syntax_issue(e)};
    return result;
  } catch (const json::out_of_range& e) {  // 1e400: a number beyond double
    result.issues = {{"json", "(number)", "number out of range: " + strip_exception_id(e.what())}};
    return result;
  } catch (const json::exception& e) {
    result.issues = {{"json", "(malformed)", "malformed JSON: " + strip_exception_id(e.what())}};
    return result;
  }
  if (!result.issues.empty()) return result;  // repeated keys: which value was meant is unknown
  if (!doc.is_object()) {
    result.issues.push_back({"document", render_value(doc), R"(must be a JSON object with "schedule" and optional "tuning")"});
    return result;
  }
  for (const auto& [key, value] : doc.items())
    if (key != "schedule" && key != "tuning")
      result.issues.push_back({key, render_value(value), "unknown top-level key; allowed: schedule, tuning"});
  if (doc.contains("tuning") && !doc["tuning"].is_object())
    result.issues.push_back({"tuning", render_value(doc["tuning"]), "must be an object (free-form provenance)"});
  if (!doc.contains("schedule")) {
    result.issues.push_back({"schedule", "(missing)", "required: an object with " + kernel.param_list()});
    return result;
  }
  ScheduleCheck schedule = check_schedule(kernel, doc["schedule"], hidden, arch);
  result.issues.insert(result.issues.end(), schedule.issues.begin(), schedule.issues.end());
  if (result.issues.empty()) result.schedule = std::move(schedule.schedule);
  return result;
}

}  // namespace
}  // namespace kiln::gen
