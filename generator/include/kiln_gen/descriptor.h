// Kernel descriptors: the one place a kernel is declared. Its tensors by role, its
// scalars and semantic options, its schedule parameters with their tuning grids, and
// the rules that tie a schedule to a hidden size. Validation, the emitted instances,
// the runtime's kernel registry and typed entry points, the machine-readable kernel
// list and kiln-tune's search space all come from here (generator/src/kernels.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::gen {

struct KernelDescriptor;

// A schedule's values in schema order; only built from values that passed validation.
struct Schedule {
  const KernelDescriptor* kernel = nullptr;
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
  // kiln-tune's grids (the schema check then removes what does not fit a hidden size).
  // A stepped parameter (multiple_of > 1) also gets its steps in the grid's range that
  // divide the hidden size.
  std::vector<int64_t> quick;
  std::vector<int64_t> full;
  // A switch a config may leave out, and its value then: the template's own default. A value
  // equal to it is left out of the instance's Schedule<...> and of the schedule's text, so the
  // configs without the key keep their instances and dispatch rows byte for byte. Only the
  // last parameters of a schema have one (template defaults are trailing).
  std::optional<int64_t> default_value = std::nullopt;
  // A value above `min` needs this SM generation or newer (0: every arch); e.g. a cluster of
  // CTAs exists from sm90 on. kiln-gen rejects such a config of an older arch, kiln-tune prunes it.
  int needs_sm = 0;
  bool at_default(int64_t v) const { return default_value && *default_value == v; }
};

// A tensor of a launch, by role. These mirror kiln.h's kiln_role, kiln_direction,
// kiln_elem and kiln_extent (the emitted registry names them), without including it:
// kiln-gen builds before the header it generates.
enum class Role { input, weight, residual, output, scales, scale, scale_ub };
enum class Direction { in, out, inout };
enum class Elem { activation, fp8_e4m3, f32, i32 };  // activation: the plan's dtype
enum class Extent { one, tokens, hidden, two_hidden, groups };  // groups: ceil(H / group_size)

struct TensorSpec {
  std::string_view name;  // the typed entry point's parameter name
  Role role;
  Direction direction;
  Elem elem;
  Extent rows, cols;
  int alignment;          // bytes the specialised variants need
  bool optional = false;  // the caller may pass NULL (the kernel then goes without it)
};

enum class Scalar { eps };

// The C spellings the emitters write ("KILN_ROLE_INPUT", "float eps", ...).
std::string_view c_name(Role role);
std::string_view c_name(Direction direction);
std::string_view c_name(Elem elem);
std::string_view c_name(Extent extent);
std::string_view scalar_name(Scalar scalar);  // "eps"
std::string_view text_name(Role role);        // "input"

// A rule over several parameters and the hidden size. `key` names the derived
// quantity (shown as the key of the report line), `value` computes it, and `error`
// says what is wrong with it, or nothing when the rule holds.
struct CrossCheck {
  std::string_view key;   // "threads*vec*col_iters"
  std::string_view rule;  // "the column tile threads*vec*col_iters = N must divide hidden H"
  int64_t (*value)(const Schedule&, int64_t hidden);
  std::optional<std::string> (*error)(int64_t value, int64_t hidden);
};

struct KernelDescriptor {
  std::string_view name;       // "rms_norm_fp8": the configs/ folder, table key and entry point kiln_<name>
  std::string_view summary;    // one line: what it computes
  std::string_view header;     // "rms_norm.cuh": the template
  std::string_view cpp_namespace;  // "kiln::rms_norm_fp8": Schedule<>, launch<S>, launch_generic, probe_generic
  std::vector<TensorSpec> tensors; // the typed entry point's parameter order
  std::vector<Scalar> scalars;
  bool rounding_option = false;    // kiln_plan_options.rounding applies
  bool gemma_option = false;       // kiln_plan_options.gemma applies
  // Sums over the ranks of an NCCL communicator (kiln_plan_options.comm): its config sets
  // live one level deeper, configs/<kernel>/<arch>/<hidden>/tp<R>/bs<N>.json, the rank
  // count R is the Schedule's first argument after the hidden size, and the template
  // provides workspace_bytes() and workspace_init() for the plan's peer workspace.
  bool comm = false;
  // Quantises per group of columns (kiln_plan_options.group_size, .scale_layout, .ue8m0):
  // the template reads them from LaunchParams at run time, one instance serves them all.
  bool group_option = false;
  std::vector<ParamSpec> params;   // template argument order, after the hidden size
  std::vector<CrossCheck> checks;
  // Thread blocks a launch of `tokens` rows takes (non-decreasing in tokens), as the
  // template's launcher computes its grid: the table bounds the tokens a variant takes
  // so that no launch exceeds the grid limit (a wrapped grid would leave rows unwritten).
  int64_t (*blocks)(const Schedule&, int64_t hidden, int64_t tokens) = nullptr;

  const ParamSpec* find_param(std::string_view param) const;
  // Reads a weight: the plan option static_weight applies (derived, not declared).
  bool has_weight() const;
  // "threads, vec, rows_per_cta, cluster"
  std::string param_list() const;
};

// Every kernel, sorted by name: the descriptors of generator/src/kernels.cpp.
std::span<const KernelDescriptor> kernel_descriptors();
const KernelDescriptor* find_kernel(std::string_view name);
std::string kernel_list();  // "rms_norm_fp8, silu_mul_fp8"

// Compilation targets a config set may name.
std::span<const std::string_view> known_archs();
bool is_known_arch(std::string_view arch);
std::string arch_list();  // "sm80, sm86, ..."
// The nvcc -gencode value an arch is built with: "sm90" -> "arch=compute_90a,code=sm_90a".
std::optional<std::string_view> arch_gencode(std::string_view arch);

inline constexpr int64_t kMaxHidden = 1048576;
inline constexpr int64_t kMaxRanks = 8;  // a communicator kernel's tp<R> folders: R in [2, kMaxRanks]
inline constexpr int64_t kMaxGridBlocks = 2147483647;  // gridDim.x on sm_30 and later

// The largest token count (at most kMaxThreshold) whose launch takes at most
// kMaxGridBlocks blocks with this schedule.
int64_t max_tokens(const Schedule& schedule, int64_t hidden);
inline constexpr int64_t kMaxThreshold = 2147483647;  // the table stores int32

// "sm90" -> 90; 0 for a name without a number.
int sm_number(std::string_view arch);

// The rule `value` of `p` breaks on `arch` (ParamSpec::needs_sm), or nothing.
std::optional<std::string> arch_rule(const ParamSpec& p, int64_t value, std::string_view arch);

// Parses a decimal without sign or leading zeros in [1, max]; nothing otherwise.
std::optional<int64_t> parse_positive(std::string_view text, int64_t max);

}  // namespace kiln::gen
