#include "kiln_gen/validate.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "kiln_gen/config_file.h"

namespace kiln::gen {
namespace {

using Kind = SourceEntry::Kind;

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1)
    parts.push_back(path.substr(start, slash - start));
  parts.push_back(path.substr(start));
  return parts;
}

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// What each level of configs/ holds, for messages about things that do not belong.
constexpr std::string_view kLevelContents[] = {
    "the configs root holds kernel folders (and README.md)",
    "a kernel folder holds arch folders",
    "an arch folder holds hidden-size folders",
    "a config set holds only bs<N>.json files",
    "a config set holds only bs<N>.json files",
};
constexpr std::string_view kCommHiddenContents =
    "a communicator kernel's hidden-size folder holds tp<R> folders (R ranks, 2 to 8)";

constexpr std::string_view kEmptyRule[] = {
    "",
    "a kernel folder needs at least one arch folder",
    "an arch folder needs at least one hidden-size folder",
    "a config set needs at least one bs<N>.json file",
    "a config set needs at least one bs<N>.json file",
};

// Where a kernel's config files lie: configs/<kernel>/<arch>/<hidden>/[tp<R>/]bs<N>.json.
std::size_t file_depth(const KernelDescriptor& kernel) { return kernel.comm ? 5 : 4; }

// Walks the sorted listing once; a folder that is rejected hides everything below it,
// so one wrong name gives one message, not one per file inside.
class TreeValidator {
 public:
  explicit TreeValidator(const SourceTree& tree) : tree_(tree) {}

  Validated run() {
    if (!tree_.root_is_folder) {
      error("configs", "folder", "(missing)", "the configs root must be a folder");
      return std::move(result_);
    }
    for (const SourceEntry& entry : tree_.entries) ++children_[parent_of(entry.path)];
    for (const SourceEntry& entry : tree_.entries) visit(entry);
    for (auto& [key, set] : sets_)
      if (!set.entries.empty()) result_.sets.push_back(std::move(set));
    return std::move(result_);
  }

 private:
  void error(const std::string& path, std::string key, std::string value, std::string rule) {
    result_.errors.push_back({path, std::move(key), std::move(value), std::move(rule)});
  }

  void visit(const SourceEntry& entry) {
    const std::string parent = parent_of(entry.path);
    if (skipped_.count(parent)) {
      skipped_.insert(entry.path);
      return;
    }
    const std::vector<std::string> parts = split(entry.path);
    const std::string label = "configs/" + entry.path;
    const std::size_t depth = parts.size();
    const bool accepted = entry.kind == Kind::other   ? reject_other(label, parts.back())
                          : entry.kind == Kind::file  ? visit_file(entry, label, parts)
                                                      : visit_folder(label, parts);
    if (!accepted) {
      skipped_.insert(entry.path);
    } else if (entry.kind == Kind::folder && depth < file_depth(*find_kernel(parts[0])) &&
               children_[entry.path] == 0) {
      const bool comm_hidden = depth == 3 && find_kernel(parts[0])->comm;
      error(label, "folder", "(empty)",
            comm_hidden ? "a communicator kernel's hidden-size folder needs at least one tp<R> folder"
                        : std::string(kEmptyRule[depth]));
    }
  }

  bool reject_other(const std::string& label, const std::string& name) {
    error(label, "file", name, "not a regular file or folder (a broken link?)");
    return false;
  }

  bool visit_folder(const std::string& label, const std::vector<std::string>& parts) {
    const std::string& name = parts.back();
    switch (parts.size()) {
      case 1:
        if (find_kernel(name)) return true;
        error(label, "kernel", name, "unknown kernel; known: " + kernel_list());
        return false;
      case 2:
        if (is_known_arch(name)) return true;
        error(label, "arch", name, "unknown arch; known: " + arch_list());
        return false;
      case 3:
        if (parse_positive(name, kMaxHidden)) return true;
        error(label, "hidden", name,
              "must be a positive integer without leading zeros, at most " + std::to_string(kMaxHidden));
        return false;
      case 4:
        if (!find_kernel(parts[0])->comm) break;
        if (name.starts_with("tp") && parse_positive(name.substr(2), kMaxRanks).value_or(0) >= 2) return true;
        error(label, "ranks", name,
              "must be tp<R>, R the communicator size from 2 to " + std::to_string(kMaxRanks) +
                  " without leading zeros");
        return false;
      default:
        break;
    }
    error(label, "folder", name, "unexpected folder; " + std::string(kLevelContents[3]));
    return false;
  }

  // A communicator kernel's set lies one level deeper (tp<R>); its name is known valid here.
  static int64_t ranks_of(const KernelDescriptor& kernel, const std::vector<std::string>& parts) {
    return kernel.comm ? *parse_positive(parts[3].substr(2), kMaxRanks) : 0;
  }

  bool visit_file(const SourceEntry& entry, const std::string& label, const std::vector<std::string>& parts) {
    const std::string& name = parts.back();
    if (parts.size() == 1 && name == "README.md") return true;
    const std::size_t depth = parts.size() == 1 ? 4 : file_depth(*find_kernel(parts[0]));
    if (parts.size() < depth) {
      const bool comm_hidden = parts.size() == 4;  // a file beside a communicator kernel's tp<R> folders
      error(label, "file", name,
            "unexpected file; " +
                std::string(comm_hidden ? kCommHiddenContents : kLevelContents[parts.size() - 1]));
      return false;
    }
    const std::optional<int64_t> threshold = threshold_of(label, name);
    if (!threshold) return false;
    if (!entry.readable) {
      error(label, "file", name, entry.unread_why.empty() ? "cannot be read" : entry.unread_why);
      return false;
    }
    add_config(entry, label, parts, *threshold);
    return true;
  }

  // bs<N>.json -> N, or an error about the name.
  std::optional<int64_t> threshold_of(const std::string& label, const std::string& name) {
    const bool shaped = name.size() > 7 && name.starts_with("bs") && name.ends_with(".json");
    const std::string digits = shaped ? name.substr(2, name.size() - 7) : "";
    const bool decimal = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
                         (digits == "0" || digits[0] != '0');
    if (!decimal) {
      error(label, "file name", name, "must be bs<N>.json, N a positive integer without leading zeros");
    } else if (digits == "0") {
      error(label, "file name", name, "threshold 0: thresholds start at 1 (tokens == 0 launches nothing)");
    } else if (auto n = parse_positive(digits, kMaxThreshold)) {
      return n;
    } else {
      error(label, "file name", name, "threshold must be at most " + std::to_string(kMaxThreshold));
    }
    return std::nullopt;
  }

  void add_config(const SourceEntry& entry, const std::string& label, const std::vector<std::string>& parts,
                  int64_t threshold) {
    const KernelDescriptor& kernel = *find_kernel(parts[0]);
    const int64_t hidden = *parse_positive(parts[2], kMaxHidden);
    const int64_t ranks = ranks_of(kernel, parts);
    ScheduleCheck check = check_config_text(kernel, entry.text, hidden, parts[1]);
    for (Issue& issue : check.issues) error(label, issue.key, issue.value, issue.rule);
    ConfigSet& set = sets_[{parts[0], parts[1], hidden, ranks}];
    set.kernel = &kernel;
    set.arch = parts[1];
    set.hidden = hidden;
    set.ranks = ranks;
    if (!thresholds_[label.substr(0, label.rfind('/'))].emplace(threshold, label).second) {
      error(label, "file name", parts.back(), "duplicate threshold " + std::to_string(threshold));
      return;
    }
    if (check.schedule) insert_sorted(set, {threshold, label, std::move(*check.schedule)});
  }

  static void insert_sorted(ConfigSet& set, ConfigEntry entry) {
    auto at = std::find_if(set.entries.begin(), set.entries.end(),
                           [&](const ConfigEntry& e) { return e.threshold > entry.threshold; });
    set.entries.insert(at, std::move(entry));
  }

  const SourceTree& tree_;
  Validated result_;
  std::map<std::string, int> children_;   // folder path -> direct children
  std::set<std::string> skipped_;         // rejected entries and everything below them
  std::map<std::tuple<std::string, std::string, int64_t, int64_t>, ConfigSet> sets_;
  std::map<std::string, std::map<int64_t, std::string>> thresholds_;  // set path -> threshold -> file
};

}  // namespace

Validated validate_tree(const SourceTree& tree) { return TreeValidator(tree).run(); }

}  // namespace kiln::gen
