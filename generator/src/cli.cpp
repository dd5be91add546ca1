#include "kiln_gen/cli.h"

#include <algorithm>

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

int report_config_errors(const std::vector<Diagnostic>& errors, const Options& o, std::ostream& err) {
  const std::vector<std::string> lines = sorted_lines(errors);
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
    const WriteSummary s = write_tree(o.out, files);
    out << "kiln-gen: " << o.out_label << ": " << s.files << " files, " << s.changed << " changed, " << s.removed
        << " removed\n";
    return kExitOk;
  } catch (const fs::filesystem_error& e) {
    err << "kiln-gen: cannot write " << o.out_label << ": " << e.what() << "\n";
    return kExitWriteFailed;
  }
}

}  // namespace

fs::path default_configs_dir() { return fs::path(KILN_SOURCE_ROOT) / "configs"; }
fs::path default_out_dir() { return fs::path(KILN_SOURCE_ROOT) / "generated"; }

int run(const Options& o, std::ostream& out, std::ostream& err) {
  if (o.explain) {
    if (auto error = query_error(*o.explain)) {
      err << *error << "\n";
      return kExitBadInput;
    }
  }
  const Validated validated = validate_tree(load_tree(o.configs));
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
  explain_opt->needs(arch_opt)->needs(hidden_opt)->needs(tokens_opt)->excludes(check_opt)->excludes(out_opt);
  arch_opt->needs(explain_opt);
  hidden_opt->needs(explain_opt);
  tokens_opt->needs(explain_opt);
  app.footer(
      "Exit codes: 0 done (or up to date); 1 --check found differences; 2 invalid configs or unknown "
      "kernel/arch; 3 a write failed; other non-zero codes are command-line usage errors.\n");

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err);
  }
  Options o;
  o.configs = configs.empty() ? default_configs_dir() : fs::path(configs);
  o.out = out_dir.empty() ? default_out_dir() : fs::path(out_dir);
  o.check = check;
  if (*explain_opt) o.explain = query;
  return run(o, out, err);
}

}  // namespace kiln::gen
