#include "kiln_gen/schema.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>

namespace kiln::gen {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::optional<std::string> must_divide(int64_t value, int64_t hidden) {
  if (hidden % value == 0) return std::nullopt;
  return "does not divide hidden " + std::to_string(hidden);
}

template <int64_t Limit>
std::optional<std::string> at_most(int64_t value, int64_t) {
  if (value <= Limit) return std::nullopt;
  return "must be at most " + std::to_string(Limit);
}

KernelSchema rms_norm_fp8() {
  return {
      .name = "rms_norm_fp8",
      .header = "rms_norm_fp8.cuh",
      .cpp_namespace = "kiln::rms_norm_fp8",
      .params =
          {
              {"threads", 32, 1024, {}, 32, "threads per row"},
              {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access"},
              {"rows_per_cta", 1, 16, {}, 1, "rows per CTA, `threads` threads each"},
              {"cluster", 1, 8, {1, 2, 4, 8}, 1, "CTAs of a thread-block cluster that split one row"},
          },
      .checks =
          {
              {"threads*rows_per_cta", "a CTA holds at most 1024 threads",
               [](const Schedule& s, int64_t) { return s["threads"] * s["rows_per_cta"]; }, at_most<1024>},
              {"cluster*threads*vec", "the row slice cluster*threads*vec = N must divide hidden H",
               [](const Schedule& s, int64_t) { return s["cluster"] * s["threads"] * s["vec"]; }, must_divide},
              {"hidden/(cluster*threads*vec)", "the row slice per thread lives in registers",
               [](const Schedule& s, int64_t hidden) {
                 return ceil_div(hidden, s["cluster"] * s["threads"] * s["vec"]);
               },
               at_most<32>},
          },
  };
}

KernelSchema silu_mul_fp8() {
  return {
      .name = "silu_mul_fp8",
      .header = "silu_mul_fp8.cuh",
      .cpp_namespace = "kiln::silu_mul_fp8",
      .params =
          {
              {"threads", 32, 1024, {}, 32, "threads per CTA"},
              {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access"},
              {"col_iters", 1, 16, {}, 1, "vectors per thread per row within the CTA's column tile"},
              {"rows_per_cta", 1, 64, {}, 1, "rows per CTA"},
          },
      .checks =
          {
              {"threads*vec*col_iters", "the column tile threads*vec*col_iters = N must divide hidden H",
               [](const Schedule& s, int64_t) { return s["threads"] * s["vec"] * s["col_iters"]; }, must_divide},
              {"rows_per_cta*col_iters", "vectors in flight per thread: register budget",
               [](const Schedule& s, int64_t) { return s["rows_per_cta"] * s["col_iters"]; }, at_most<32>},
          },
  };
}

std::vector<KernelSchema> make_registry() {
  std::vector<KernelSchema> all = {rms_norm_fp8(), silu_mul_fp8()};
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return all;
}

// Folder names under configs/<kernel>/, and the nvcc target each is built as (SASS
// only: code= names a real arch, so no PTX is embedded; the "a" targets enable
// arch-specific instructions). The build and kiln-tune read this table too.
struct Arch {
  std::string_view name, gencode;
};
constexpr std::array<Arch, 7> kArchTable = {{
    {"sm80", "arch=compute_80,code=sm_80"},
    {"sm86", "arch=compute_86,code=sm_86"},
    {"sm89", "arch=compute_89,code=sm_89"},
    {"sm90", "arch=compute_90a,code=sm_90a"},
    {"sm100", "arch=compute_100a,code=sm_100a"},
    {"sm103", "arch=compute_103a,code=sm_103a"},
    {"sm120", "arch=compute_120a,code=sm_120a"},
}};
constexpr std::array<std::string_view, kArchTable.size()> kArchs = [] {
  std::array<std::string_view, kArchTable.size()> names{};
  for (std::size_t i = 0; i < kArchTable.size(); ++i) names[i] = kArchTable[i].name;
  return names;
}();

template <class Range, class Name>
std::string join_names(const Range& range, Name name) {
  std::string out;
  for (const auto& item : range) {
    if (!out.empty()) out += ", ";
    out += name(item);
  }
  return out;
}

}  // namespace

int64_t Schedule::operator[](std::string_view param) const {
  for (std::size_t i = 0; i < kernel->params.size(); ++i)
    if (kernel->params[i].name == param) return values.at(i);
  // A schema's own check names a parameter it does not have: a bug in the schema.
  throw std::logic_error("schema " + std::string(kernel->name) + " has no parameter " + std::string(param));
}

std::string Schedule::text() const {
  std::string out;
  for (std::size_t i = 0; i < kernel->params.size(); ++i) {
    if (i) out += ' ';
    out += std::string(kernel->params[i].name) + "=" + std::to_string(values.at(i));
  }
  return out;
}

const ParamSpec* KernelSchema::find_param(std::string_view param) const {
  for (const ParamSpec& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

std::string KernelSchema::param_list() const {
  return join_names(params, [](const ParamSpec& p) { return std::string(p.name); });
}

std::span<const KernelSchema> kernel_schemas() {
  static const std::vector<KernelSchema> registry = make_registry();
  return registry;
}

const KernelSchema* find_kernel(std::string_view name) {
  for (const KernelSchema& k : kernel_schemas())
    if (k.name == name) return &k;
  return nullptr;
}

std::string kernel_list() {
  return join_names(kernel_schemas(), [](const KernelSchema& k) { return std::string(k.name); });
}

std::span<const std::string_view> known_archs() { return kArchs; }

bool is_known_arch(std::string_view arch) {
  return std::find(kArchs.begin(), kArchs.end(), arch) != kArchs.end();
}

std::optional<std::string_view> arch_gencode(std::string_view arch) {
  for (const Arch& a : kArchTable)
    if (a.name == arch) return a.gencode;
  return std::nullopt;
}

std::string arch_list() {
  return join_names(kArchs, [](std::string_view a) { return std::string(a); });
}

std::optional<int64_t> parse_positive(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 18 || text[0] == '0') return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

}  // namespace kiln::gen
