// Kernel schemas: the one list of kernels kiln-gen knows, their schedule parameters
// and the rules that tie a schedule to a hidden size. Validation, the emitted template
// arguments and (later) the tuner's search space all read these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::gen {

struct KernelSchema;

// A schedule's values in schema order; only built from values that passed validation.
struct Schedule {
  const KernelSchema* kernel = nullptr;
  std::vector<int64_t> values;

  // The value of a parameter by name; the name must be one of the schema's.
  int64_t operator[](std::string_view param) const;
  // "threads=256 vec=8 rows_per_cta=1 cluster=1": schema order, one space apart.
  std::string text() const;
  bool operator==(const Schedule&) const = default;
};

struct ParamSpec {
  std::string_view name;
  int64_t min = 0;
  int64_t max = 0;
  std::vector<int64_t> one_of;  // empty: any value in [min, max]
  int64_t multiple_of = 1;
  std::string_view doc;
};

// A rule over several parameters and the hidden size. `key` names the derived
// quantity (shown as the key of the report line), `value` computes it, and `error`
// says what is wrong with it, or nothing when the rule holds.
struct CrossCheck {
  std::string_view key;   // "threads*vec*col_iters"
  std::string_view rule;  // "the column tile threads*vec*col_iters = N must divide hidden H"
  int64_t (*value)(const Schedule&, int64_t hidden);
  std::optional<std::string> (*error)(int64_t value, int64_t hidden);
};

struct KernelSchema {
  std::string_view name;       // "rms_norm_fp8": the configs/ folder and table key
  std::string_view header;     // "rms_norm_fp8.cuh"
  std::string_view cpp_namespace;  // "kiln::rms_norm_fp8"
  std::vector<ParamSpec> params;   // template argument order, after the hidden size
  std::vector<CrossCheck> checks;

  const ParamSpec* find_param(std::string_view param) const;
  // "threads, vec, rows_per_cta, cluster"
  std::string param_list() const;
};

// Every kernel, sorted by name. Adding a kernel means adding one entry here.
std::span<const KernelSchema> kernel_schemas();
const KernelSchema* find_kernel(std::string_view name);
std::string kernel_list();  // "rms_norm_fp8, silu_mul_fp8"

// Compilation targets a config set may name.
std::span<const std::string_view> known_archs();
bool is_known_arch(std::string_view arch);
std::string arch_list();  // "sm80, sm86, ..."
// The nvcc -gencode value an arch is built with: "sm90" -> "arch=compute_90a,code=sm_90a".
std::optional<std::string_view> arch_gencode(std::string_view arch);

inline constexpr int64_t kMaxHidden = 1048576;
inline constexpr int64_t kMaxThreshold = 2147483647;  // the table stores int32

// Parses a decimal without sign or leading zeros in [1, max]; nothing otherwise.
std::optional<int64_t> parse_positive(std::string_view text, int64_t max);

}  // namespace kiln::gen
