#include "kiln_gen/cli.h"

#include <algorithm>
#include <optional>
#include <system_error>

#include <CLI/CLI.hpp>

#include "kiln_gen/emit.h"
#include "kiln_gen/output.h"
#include "kiln_gen/plan.h"
#include "kiln_gen/source_tree.h"
#include "kiln_gen/validate.h"

#ifndef KILN_SOURCE_ROOT
#error "KILN_SOURCE_ROOT must name the repository root (generator/meson.build sets it)"
#endif

namespace kiln::gen {
namespace fs = std::filesystem;
namespace {

// A path as the user gave it, safe to print.
// How reports name a root the user gave: as given (escaped), with one trailing slash ("my/configs/").
std::string as_label(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  path = escape_text(path, kMaxPathBytes);
  return path == "/" ? path : path + "/";
}

std::string shown(const fs::path& p) { return "'" + escape_text(p.string(), kMaxPathBytes) + "'"; }

// An absolute, normalised path with symlinks resolved where the path exists.
fs::path real_path(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec).lexically_normal();
  if (ec) return p;
  if (!abs.has_filename() && abs != abs.root_path()) abs = abs.parent_path();
  const fs::path real = fs::weakly_canonical(abs, ec);
  return ec ? abs : real;
}

// True when `inner` is `outer` or lies below it.
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

// Why --configs and --out cannot be used as given, or nothing.
std::optional<std::string> refuse_paths(const Options& o) {
  std::error_code ec;
  if (o.configs.empty())
    return "--configs is empty: give the folder that holds the configs, or leave --configs out for the "
           "repository's configs/";
  const fs::file_status configs_status = fs::status(o.configs, ec);
  if (!fs::exists(configs_status))
    return "--configs " + shown(o.configs) + " does not exist" +
           (ec && ec != std::errc::no_such_file_or_directory ? " or cannot be reached (" + ec.message() + ")" : "") +
           ": give the folder that holds <kernel>/<arch>/<hidden>/bs<N>.json";
  if (!fs::is_directory(configs_status))
    return "--configs " + shown(o.configs) + " is not a folder: give the folder that holds <kernel>/<arch>/<hidden>/bs<N>.json";
  if (o.explain) return std::nullopt;
  if (o.out.empty())
    return "--out is empty: give the folder to generate into, or leave --out out for the repository's generated/";
  const fs::file_status out_status = fs::status(o.out, ec);
  if (fs::exists(out_status) && !fs::is_directory(out_status))
    return "--out " + shown(o.out) +
           " is an existing file, not a folder: kiln-gen replaces the whole --out folder, so it would destroy "
           "the file; give a folder path";
  const fs::path out = real_path(o.out), configs = real_path(o.configs);
  if (out == configs)
    return "--out " + shown(o.out) + " is the --configs folder " + shown(o.configs) +
           ": writing would replace the configs with generated files; give an output folder outside the config tree";
  if (within(out, configs))
    return "--out " + shown(o.out) + " is inside --configs " + shown(o.configs) +
           ": the output would be read as configs and writing would change the config tree; give an output folder "
           "outside it";
  if (within(configs, out))
    return "--out " + shown(o.out) + " contains --configs " + shown(o.configs) +
           ": writing would delete the configs; give an output folder that holds no configs, such as "
           "<project>/generated";
  const fs::path cwd = real_path(fs::current_path(ec));
  if (!ec && within(cwd, out))
    return "--out " + shown(o.out) + (out == cwd ? " is the current folder" : " contains the current folder") +
           ": kiln-gen replaces the whole --out folder; give a folder of its own, such as generated";
  return std::nullopt;
}

// Folders of the config tree that could not be listed: the tree is incomplete.
void add_unlistable(const SourceTree& tree, const Options& o, std::vector<Diagnostic>& errors) {
  for (const auto& [rel, why] : tree.unlistable)
    errors.push_back({rel.empty() ? "configs" : "configs/" + rel, "folder", rel.empty() ? o.configs.string() : rel,
                      "cannot be listed: " + why});
}

bool tree_is_empty(const SourceTree& tree) {
  return std::all_of(tree.entries.begin(), tree.entries.end(),
                     [](const SourceEntry& e) { return e.path == "README.md"; });
}

// The validator names files "configs/<kernel>/..."; reports name them under the root the
// user gave (--configs DIR gives "DIR/<kernel>/..."), so a path can be pasted as it is.
std::vector<Diagnostic> under_given_root(std::vector<Diagnostic> errors, const std::string& label) {
  constexpr std::string_view kRoot = "configs/";
  for (Diagnostic& d : errors) {
    if (d.path + "/" == kRoot) d.path = label.size() > 1 ? label.substr(0, label.size() - 1) : label;
    else if (d.path.starts_with(kRoot)) d.path = label + d.path.substr(kRoot.size());
  }
  return errors;
}

int report_config_errors(const std::vector<Diagnostic>& errors, const Options& o, std::ostream& err) {
  const std::vector<std::string> lines = sorted_lines(under_given_root(errors, o.configs_label));
  for (const std::string& line : lines) err << line << "\n";
  err << "kiln-gen: " << lines.size() << (lines.size() == 1 ? " problem" : " problems") << " in "
      << o.configs_label << "; " << o.out_label << " left unchanged\n";
  return kExitBadInput;
}

int run_check(const Options& o, const FileMap& files, std::ostream& out, std::ostream& err) {
  const std::vector<std::string> findings = check_tree(o.out, files, o.out_label);
  for (const std::string& line : findings) out << line << "\n";
  if (findings.empty()) {
    out << o.out_label << " is up to date\n";
    return kExitOk;
  }
  err << "kiln-gen: " << o.out_label << " differs from what " << o.configs_label
      << " gives: run kiln-gen to regenerate\n";
  return kExitStale;
}

int run_write(const Options& o, const FileMap& files, std::ostream& out, std::ostream& err) {
  try {
    const WriteSummary s = write_tree(o.out, files, WriteOptions{o.lock_wait_seconds});
    out << "kiln-gen: " << o.out_label << ": " << s.files << " files, " << s.changed << " changed, " << s.removed
        << " removed\n";
    return kExitOk;
  } catch (const WriteRefused& e) {
    err << "kiln-gen: --out " << shown(o.out) << " " << escape_text(e.what(), kMaxRuleBytes)
        << ": refusing to replace it. Give a new or empty folder, or one kiln-gen wrote (it holds "
        << kMarkerName << "); move the folder away yourself if it is yours to discard\n";
    return kExitBadInput;
  } catch (const LockBusy& e) {
    err << "kiln-gen: cannot write " << shown(o.out) << ": " << escape_text(e.what(), kMaxRuleBytes) << "\n";
    return kExitWriteFailed;
  } catch (const std::exception& e) {
    err << "kiln-gen: cannot write " << shown(o.out) << ": " << escape_text(e.what(), kMaxRuleBytes) << "; "
        << o.out_label << " left as it was\n";
    return kExitWriteFailed;
  }
}

}  // namespace

int run_unguarded(const Options& o, std::ostream& out, std::ostream& err);

fs::path default_configs_dir() { return fs::path(KILN_SOURCE_ROOT) / "configs"; }
fs::path default_out_dir() { return fs::path(KILN_SOURCE_ROOT) / "generated"; }

int run(const Options& o, std::ostream& out, std::ostream& err) {
  try {
    return run_unguarded(o, out, err);
  } catch (const std::exception& e) {  // a last resort: nothing kiln-gen meets may crash it
    err << "kiln-gen: internal error: " << escape_text(e.what(), kMaxRuleBytes) << "; " << o.out_label
        << " left as it was\n";
    return kExitWriteFailed;
  }
}

int run_unguarded(const Options& o, std::ostream& out, std::ostream& err) {
  if (o.explain) {
    if (auto error = query_error(*o.explain)) {
      err << escape_text(*error, kMaxRuleBytes) << "\n";
      return kExitBadInput;
    }
  }
  if (auto why = refuse_paths(o)) {
    err << "kiln-gen: " << *why << "\n";
    return kExitBadInput;
  }
  const SourceTree tree = load_tree(o.configs);
  if (!o.explain && !o.allow_empty && tree.unlistable.empty() && tree_is_empty(tree)) {
    err << "kiln-gen: --configs " << shown(o.configs)
        << " holds no configs: generating from it would remove every generated instance. Check the path, or "
           "pass --allow-empty if an empty tree is meant; "
        << o.out_label << " left unchanged\n";
    return kExitBadInput;
  }
  Validated validated = validate_tree(tree);
  add_unlistable(tree, o, validated.errors);
  if (!validated.errors.empty()) return report_config_errors(validated.errors, o, err);
  const Plan plan = make_plan(validated.sets);
  if (o.explain) {
    const ExplainAnswer answer = explain(plan, *o.explain);
    (answer.exit_code == kExitOk ? out : err) << answer.text;
    return answer.exit_code;
  }
  const FileMap files = emit_all(plan);
  return o.check ? run_check(o, files, out, err) : run_write(o, files, out, err);
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"kiln-gen: validate configs/ and generate generated/ (kernel instances, dispatch tables, "
               "per-arch source lists)",
               "kiln-gen"};
  std::string configs, out_dir;
  bool check = false;
  ExplainQuery query;
  app.add_option("--configs", configs, "config tree to read (default: the repository's configs/)")
      ->type_name("DIR");
  auto* out_opt = app.add_option("--out", out_dir, "folder to generate (default: the repository's generated/)")
                      ->type_name("DIR");
  bool allow_empty = false;
  auto* allow_empty_opt = app.add_flag("--allow-empty", allow_empty,
                                       "accept a --configs folder with no configs (the output then holds no "
                                       "instances); without it an empty tree is an error");
  auto* configs_opt = app.get_option("--configs");
  auto* check_opt = app.add_flag("--check", check,
                                 "write nothing; exit 1 and list stale, missing and extra files when the "
                                 "output differs from what the configs give");
  auto* explain_opt = app.add_option("--explain", query.kernel,
                                     "say which config and instance run for KERNEL (needs --arch, --hidden, "
                                     "--tokens); writes nothing")
                          ->type_name("KERNEL");
  auto* arch_opt = app.add_option("--arch", query.arch, "arch for --explain, e.g. sm90")->type_name("ARCH");
  auto* hidden_opt =
      app.add_option("--hidden", query.hidden, "hidden size for --explain")->type_name("H")->check(CLI::PositiveNumber);
  auto* tokens_opt = app.add_option("--tokens", query.tokens, "token count for --explain")
                         ->type_name("T")
                         ->check(CLI::NonNegativeNumber);
  auto* ranks_opt = app.add_option("--ranks", query.ranks,
                                   "communicator size for --explain of a communicator kernel (tp<R> sets)")
                        ->type_name("R")
                        ->check(CLI::PositiveNumber);
  (void)allow_empty_opt;
  explain_opt->needs(arch_opt)->needs(hidden_opt)->needs(tokens_opt)->excludes(check_opt)->excludes(out_opt);
  arch_opt->needs(explain_opt);
  hidden_opt->needs(explain_opt);
  tokens_opt->needs(explain_opt);
  ranks_opt->needs(explain_opt);
  app.footer(
      "Exit codes: 0 done (or up to date); 1 --check found differences; 2 invalid configs, unknown "
      "kernel/arch, or a refused --configs/--out; 3 a write failed or another kiln-gen held the output's lock; "
      "other non-zero codes are command-line usage errors.\n");

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err);
  }
  Options o;
  // A given but empty path is refused (run), never taken for the default.
  o.configs = configs_opt->count() ? fs::path(configs) : default_configs_dir();
  o.out = out_opt->count() ? fs::path(out_dir) : default_out_dir();
  if (configs_opt->count()) o.configs_label = as_label(configs);
  if (out_opt->count()) o.out_label = as_label(out_dir);
  o.check = check;
  o.allow_empty = allow_empty;
  if (*explain_opt) o.explain = query;
  return run(o, out, err);
}

}  // namespace kiln::gen
