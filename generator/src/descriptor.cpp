#include "kiln_gen/descriptor.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>

namespace kiln::gen {
namespace {

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
    if (kernel->params[i].at_default(values.at(i))) continue;
    if (!out.empty()) out += ' ';
    out += std::string(kernel->params[i].name) + "=" + std::to_string(values.at(i));
  }
  return out;
}

const ParamSpec* KernelDescriptor::find_param(std::string_view param) const {
  for (const ParamSpec& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

int64_t max_tokens(const Schedule& schedule, int64_t hidden) {
  const auto fits = [&](int64_t tokens) { return schedule.kernel->blocks(schedule, hidden, tokens) <= kMaxGridBlocks; };
  if (fits(kMaxThreshold)) return kMaxThreshold;
  int64_t lo = 0, hi = kMaxThreshold;  // fits(lo), !fits(hi)
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

bool KernelDescriptor::has_weight() const {
  return std::any_of(tensors.begin(), tensors.end(), [](const TensorSpec& t) { return t.role == Role::weight; });
}

std::string KernelDescriptor::param_list() const {
  return join_names(params, [](const ParamSpec& p) { return std::string(p.name); });
}

std::vector<KernelDescriptor> all_kernels();  // generator/src/kernels.cpp

std::span<const KernelDescriptor> kernel_descriptors() {
  static const std::vector<KernelDescriptor> registry = [] {
    std::vector<KernelDescriptor> all = all_kernels();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return all;
  }();
  return registry;
}

std::string_view c_name(Role role) {
  switch (role) {
    case Role::input: return "KILN_ROLE_INPUT";
    case Role::weight: return "KILN_ROLE_WEIGHT";
    case Role::residual: return "KILN_ROLE_RESIDUAL";
    case Role::output: return "KILN_ROLE_OUTPUT";
    case Role::scales: return "KILN_ROLE_SCALES";
    case Role::scale: return "KILN_ROLE_SCALE";
    case Role::scale_ub: return "KILN_ROLE_SCALE_UB";
  }
  throw std::logic_error("unknown role");
}

std::string_view text_name(Role role) {
  switch (role) {
    case Role::input: return "input";
    case Role::weight: return "weight";
    case Role::residual: return "residual";
    case Role::output: return "output";
    case Role::scales: return "scales";
    case Role::scale: return "scale";
    case Role::scale_ub: return "scale_ub";
  }
  throw std::logic_error("unknown role");
}

std::string_view c_name(Direction direction) {
  switch (direction) {
    case Direction::in: return "KILN_DIR_IN";
    case Direction::out: return "KILN_DIR_OUT";
    case Direction::inout: return "KILN_DIR_INOUT";
  }
  throw std::logic_error("unknown direction");
}

std::string_view c_name(Elem elem) {
  switch (elem) {
    case Elem::activation: return "KILN_ELEM_ACTIVATION";
    case Elem::fp8_e4m3: return "KILN_ELEM_FP8_E4M3";
    case Elem::f32: return "KILN_ELEM_F32";
    case Elem::i32: return "KILN_ELEM_I32";
  }
  throw std::logic_error("unknown elem");
}

std::string_view c_name(Extent extent) {
  switch (extent) {
    case Extent::one: return "KILN_EXTENT_ONE";
    case Extent::tokens: return "KILN_EXTENT_TOKENS";
    case Extent::hidden: return "KILN_EXTENT_HIDDEN";
    case Extent::two_hidden: return "KILN_EXTENT_2HIDDEN";
    case Extent::groups: return "KILN_EXTENT_GROUPS";
  }
  throw std::logic_error("unknown extent");
}

std::string_view scalar_name(Scalar scalar) {
  switch (scalar) {
    case Scalar::eps: return "eps";
  }
  throw std::logic_error("unknown scalar");
}

const KernelDescriptor* find_kernel(std::string_view name) {
  for (const KernelDescriptor& k : kernel_descriptors())
    if (k.name == name) return &k;
  return nullptr;
}

std::string kernel_list() {
  return join_names(kernel_descriptors(), [](const KernelDescriptor& k) { return std::string(k.name); });
}

std::span<const std::string_view> known_archs() { return kArchs; }

bool is_known_arch(std::string_view arch) {
  return std::find(kArchs.begin(), kArchs.end(), arch) != kArchs.end();
}

int sm_number(std::string_view arch) {
  if (!arch.starts_with("sm")) return 0;
  return static_cast<int>(parse_positive(arch.substr(2), 9999).value_or(0));
}

std::optional<std::string> arch_rule(const ParamSpec& p, int64_t value, std::string_view arch) {
  if (p.needs_sm == 0 || value <= p.min || sm_number(arch) >= p.needs_sm) return std::nullopt;
  return "a value above " + std::to_string(p.min) + " needs sm" + std::to_string(p.needs_sm) +
         " or newer; this config is for " + std::string(arch);
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
