// The C API: plan (start-up: pick a config set), describe, launch (every step).
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "comm.h"
#include "entry.h"
#include "internal.h"
#include "kernels.h"
#include "kiln/detail/select.h"
#include "kiln/kiln.h"
#include "tables.h"

using kiln::detail::ArchTable;
using kiln::detail::Variant;
using kiln::runtime::KernelInfo;

struct kiln_plan {
  const KernelInfo* kernel = nullptr;
  int64_t hidden = 0;
  kiln_dtype dtype = KILN_DTYPE_BF16;
  kiln_rounding rounding = KILN_ROUNDING_SINGLE;
  bool gemma = false;
  bool static_weight = false;
  uint32_t roles = 0;               // bit r: the kernel has a tensor of role r
  int32_t device = 0;
  std::string arch;                 // "sm90"
  const Variant* rows = nullptr;    // the config set: rows sorted by threshold; nullptr = generic
  std::vector<int32_t> thresholds;  // rows[i].threshold, contiguous for the bisection
  std::string summary;
  int32_t ranks = 0;                // communicator kernels: the communicator's size
  int64_t max_tokens = 0;           // communicator kernels: the most tokens a launch may take
  int32_t group_size = 0;           // group quantisers: 64 or 128 (0 for the others)
  kiln_scale_layout scale_layout = KILN_SCALES_ROW_MAJOR;
  bool ue8m0 = false;
  std::unique_ptr<kiln::runtime::Comm> comm;  // communicator kernels: the peers' workspace
};

namespace {

constexpr int64_t kMaxHidden = 1 << 20;
constexpr int64_t kMaxTokens = std::numeric_limits<int32_t>::max();

thread_local char g_last_error[1024] = "";

kiln_status fail(kiln_status status, const char* format, ...) __attribute__((format(printf, 2, 3)));
kiln_status fail(kiln_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_last_error, sizeof g_last_error, format, args);
  va_end(args);
  return status;
}

// kiln_last_error keeps the thread's last *failure*; success leaves it alone.
kiln_status ok() { return KILN_SUCCESS; }

kiln_status cuda_failure(cudaError_t err, const char* what) {
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidKernelImage)
    return fail(KILN_ERROR_NO_DEVICE_IMAGE, "%s: this library holds no kernel image for the device (built for %s): %s",
                what, kiln::runtime::target_archs(), cudaGetErrorString(err));
  if (err == cudaErrorNoDevice || err == cudaErrorInvalidDevice || err == cudaErrorInsufficientDriver)
    return fail(KILN_ERROR_NO_DEVICE, "%s: %s", what, cudaGetErrorString(err));
  return fail(KILN_ERROR_CUDA, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

const char* dtype_name(kiln_dtype d) { return d == KILN_DTYPE_BF16 ? "bf16" : "fp16"; }

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

// The rows of one config set in a table, or {nullptr, 0}.
struct SetRows {
  const Variant* rows = nullptr;
  std::size_t count = 0;
};

SetRows find_set(const ArchTable* table, const char* kernel, int64_t hidden, int32_t ranks) {
  SetRows set;
  if (table == nullptr) return set;
  for (std::size_t i = 0; i < table->count; ++i) {
    const Variant& v = table->rows[i];
    if (std::strcmp(v.kernel, kernel) != 0 || v.hidden != hidden || v.ranks != ranks) continue;
    if (set.rows == nullptr) set.rows = &v;
    ++set.count;
  }
  return set;
}

// "2048, 4096, 5120, 8192": the hidden sizes that have sets, for a loud miss.
std::string hidden_sizes_with_sets(const ArchTable* table, const char* kernel, int32_t ranks) {
  std::string out;
  int64_t last = -1;
  for (std::size_t i = 0; table != nullptr && i < table->count; ++i) {
    const Variant& v = table->rows[i];
    if (std::strcmp(v.kernel, kernel) != 0 || v.ranks != ranks || v.hidden == last) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(v.hidden);
    last = v.hidden;
  }
  return out.empty() ? "none" : out;
}

// Plan-time choice shared by kiln_plan_create and kiln_explain.
struct Choice {
  SetRows set;       // empty: the generic kernel
  std::string why;   // the summary's tail
  bool missing_set;  // the generic kernel runs because no set exists (strict turns this into an error)
};

// "" or "/tp2": a communicator kernel's sets lie one level below the hidden size.
std::string ranks_folder(int32_t ranks) { return ranks > 0 ? "/tp" + std::to_string(ranks) : std::string(); }

Choice choose(const KernelInfo& kernel, const std::string& arch, int64_t hidden, int32_t ranks,
              kiln_set_policy policy) {
  Choice c{{}, {}, false};
  if (policy == KILN_SET_GENERIC) {
    c.why = "the generic kernel by request (KILN_SET_GENERIC)";
    return c;
  }
  const ArchTable* table = kiln::runtime::find_table(arch);
  c.set = find_set(table, kernel.name, hidden, ranks);
  if (c.set.rows != nullptr) {
    std::string thresholds;
    for (std::size_t i = 0; i < c.set.count; ++i)
      thresholds += (i ? ", " : "") + std::to_string(c.set.rows[i].threshold);
    c.why = "config set configs/" + std::string(kernel.name) + "/" + arch + "/" + std::to_string(hidden) +
            ranks_folder(ranks) + " (thresholds " + thresholds + ")";
    return c;
  }
  c.missing_set = true;
  c.why = "no " + std::string(kernel.name) + " set for " + arch + " hidden=" + std::to_string(hidden) +
          (ranks > 0 ? " ranks=" + std::to_string(ranks) : std::string()) + "; have " +
          hidden_sizes_with_sets(table, kernel.name, ranks) +
          (kiln::runtime::left_out(kernel.name) ? " (this build's -Dkernels= leaves its sets out)" : "") +
          " — using the generic kernel";
  return c;
}

// `arch` must be a string with static lifetime (kiln_variant_info's strings outlive plans).
void fill_info(kiln_variant_info* info, const KernelInfo& kernel, const char* arch, int64_t hidden, int32_t ranks,
               const Variant* row) {
  info->ranks = ranks;
  info->kernel = kernel.name;
  info->arch = arch;
  info->hidden = hidden;
  info->threshold = row ? row->threshold : 0;
  info->is_fallback = row ? 0 : 1;
  info->name = row ? row->name : kernel.generic_name;
  info->config = row ? row->config : "";
  info->schedule = row ? row->schedule : "";
}

std::string known_kernels() {
  std::string out;
  for (const KernelInfo& k : kiln::runtime::kernels()) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

kiln_status check_kernel_and_hidden(const char* name, int64_t hidden, const KernelInfo** out) {
  if (name == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kernel name is NULL; known kernels: %s", known_kernels().c_str());
  *out = kiln::runtime::find_kernel(name);
  if (*out == nullptr) return fail(KILN_ERROR_UNKNOWN_KERNEL, "unknown kernel '%s'; known kernels: %s", name, known_kernels().c_str());
  if (hidden <= 0 || hidden > kMaxHidden)
    return fail(KILN_ERROR_INVALID_HIDDEN, "%s: hidden = %lld: must be in 1..%lld", name, static_cast<long long>(hidden),
                static_cast<long long>(kMaxHidden));
  return KILN_SUCCESS;
}

bool aligned(const void* p, std::size_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

// Structs that start with their size grow at the end: a caller's older, smaller struct
// (at least `min_size` bytes) is read as far as it goes and the rest keeps `out`'s
// defaults; a larger one is a caller built against a newer kiln.
template <class T>
kiln_status read_sized(const T* in, std::size_t min_size, T* out, const char* what) {
  const std::size_t size = in->struct_size;
  if (size < min_size || size > sizeof(T))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s.struct_size = %zu: must be in %zu..%zu (call its _init function)", what,
                size, min_size, sizeof(T));
  std::memcpy(static_cast<void*>(out), in, size);
  out->struct_size = static_cast<uint32_t>(sizeof(T));
  return KILN_SUCCESS;
}

// The sizes of each struct in kiln 0.1 / 0.2, the oldest a caller may pass.
constexpr std::size_t kPlanOptionsV1 = offsetof(kiln_plan_options, policy) + sizeof(kiln_set_policy);
constexpr std::size_t kArgsV2 = offsetof(kiln_args, eps) + sizeof(float);
// 0.2's sizeof(kiln_args) was 96 (eps, then tail padding): a struct that size has no dtype.
constexpr std::size_t kArgsV3 = offsetof(kiln_args, dtype) + sizeof(kiln_dtype);
static_assert(kArgsV3 > 96, "a 0.2 caller's kiln_args must not reach dtype");
constexpr std::size_t kVariantInfoV1 = offsetof(kiln_variant_info, schedule) + sizeof(const char*);
constexpr std::size_t kKernelDescV2 = offsetof(kiln_kernel_desc, scalars) + sizeof(uint32_t);

std::size_t elem_bytes(kiln_elem elem) {
  switch (elem) {
    case KILN_ELEM_ACTIVATION: return 2;
    case KILN_ELEM_FP8_E4M3: return 1;
    case KILN_ELEM_F32:
    case KILN_ELEM_I32: return 4;
  }
  return 0;
}

int64_t extent(kiln_extent e, int64_t tokens, int64_t hidden, int32_t group_size = KILN_DEFAULT_GROUP_SIZE) {
  switch (e) {
    case KILN_EXTENT_ONE: return 1;
    case KILN_EXTENT_TOKENS: return tokens;
    case KILN_EXTENT_HIDDEN: return hidden;
    case KILN_EXTENT_2HIDDEN: return 2 * hidden;
    case KILN_EXTENT_GROUPS: return (hidden + group_size - 1) / group_size;
  }
  return 0;
}

// A tensor's storage under the group options (docs/design.md, "Scale layouts"): only a
// per-group scales tensor depends on them; every other tensor is row-major [rows, cols].
kiln_tensor_layout layout_of(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden, int32_t group_size,
                             kiln_scale_layout scale_layout) {
  kiln_tensor_layout l{};
  l.struct_size = sizeof l;
  l.rows = extent(t.rows, tokens, hidden, group_size);
  l.cols = extent(t.cols, tokens, hidden, group_size);
  l.elem_bytes = static_cast<int64_t>(elem_bytes(t.elem));
  l.row_stride = l.cols;
  l.col_stride = 1;
  l.elements = l.rows * l.cols;
  if (t.cols != KILN_EXTENT_GROUPS || scale_layout == KILN_SCALES_ROW_MAJOR) return l;
  // Column-major with T padded to T4: column j at j * T4, the last column's pad rows not allocated.
  const int64_t t4 = (l.rows + 3) / 4 * 4;
  if (scale_layout == KILN_SCALES_PACKED_UE8M0) l.cols = (l.cols + 3) / 4;  // four exponent bytes per int32
  l.row_stride = 1;
  l.col_stride = t4;
  l.elements = l.rows == 0 ? 0 : (l.cols - 1) * t4 + l.rows;
  return l;
}

int64_t tensor_bytes(const kiln_tensor_desc& t, int64_t tokens, int64_t hidden, int32_t group_size = KILN_DEFAULT_GROUP_SIZE,
                     kiln_scale_layout scale_layout = KILN_SCALES_ROW_MAJOR) {
  const kiln_tensor_layout l = layout_of(t, tokens, hidden, group_size, scale_layout);
  return l.elements * l.elem_bytes;
}

const char* layout_name(kiln_scale_layout l) {
  switch (l) {
    case KILN_SCALES_ROW_MAJOR: return "row_major";
    case KILN_SCALES_COL_MAJOR_TMA: return "col_major_tma";
    case KILN_SCALES_PACKED_UE8M0: return "packed_ue8m0";
  }
  return "?";
}

const char* role_name(int role) {
  static const char* const names[] = {"input", "weight", "residual", "output", "scales", "scale", "scale_ub"};
  return role >= 0 && role < static_cast<int>(sizeof names / sizeof names[0]) ? names[role] : "reserved";
}

// Bit r set: the kernel has a tensor of role r (worked out once, at plan time).
uint32_t role_mask(const KernelInfo& kernel) {
  uint32_t mask = 0;
  for (int32_t i = 0; i < kernel.tensor_count; ++i) mask |= 1u << kernel.tensors[i].role;
  return mask;
}

// Null, alignment and aliasing, over the kernel's roles in one loop.
kiln_status check_tensors(const kiln_plan& plan, const kiln_args& args, const Variant* row) {
  const KernelInfo& kernel = *plan.kernel;
  const uint32_t roles = plan.roles;
  const char* name = kernel.name;
  for (int role = 0; role < KILN_ROLE_SLOTS; ++role) {
    if (!(roles >> role & 1u) && args.tensors[role] != nullptr)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no %s tensor: tensors[%d] must be NULL, got %p", name,
                  role_name(role), role, args.tensors[role]);
  }
  for (int32_t i = 0; i < kernel.tensor_count; ++i) {
    const kiln_tensor_desc& t = kernel.tensors[i];
    const void* p = args.tensors[t.role];
    if (p == nullptr && t.optional) continue;
    if (p == nullptr) return fail(KILN_ERROR_NULL_POINTER, "%s: %s (tensors[%d]) is NULL", name, t.name, t.role);
    // A specialised variant needs its declared alignment; the generic kernel, the element's.
    const std::size_t need = row ? static_cast<std::size_t>(t.alignment) : elem_bytes(t.elem);
    if (!aligned(p, need))
      return fail(KILN_ERROR_MISALIGNED_POINTER, "%s: %s %p is not %zu-byte aligned (%s)", name, t.name, p, need,
                  row ? row->name : "element size");
  }
  for (int32_t i = 0; i < kernel.tensor_count; ++i) {
    for (int32_t j = i + 1; j < kernel.tensor_count; ++j) {
      const kiln_tensor_desc &a = kernel.tensors[i], &b = kernel.tensors[j];
      if (a.direction == KILN_DIR_IN && b.direction == KILN_DIR_IN) continue;
      if (args.tensors[a.role] == nullptr || args.tensors[b.role] == nullptr) continue;  // an optional tensor left out
      const auto pa = reinterpret_cast<uintptr_t>(args.tensors[a.role]), pb = reinterpret_cast<uintptr_t>(args.tensors[b.role]);
      const auto na = static_cast<uintptr_t>(tensor_bytes(a, args.tokens, args.hidden, plan.group_size, plan.scale_layout));
      const auto nb = static_cast<uintptr_t>(tensor_bytes(b, args.tokens, args.hidden, plan.group_size, plan.scale_layout));
      if (pa < pb + nb && pb < pa + na)
        return fail(KILN_ERROR_ALIASING, "%s: %s [%p, +%zu bytes) overlaps %s [%p, +%zu bytes); a tensor the kernel writes "
                    "must not overlap another (in-place use goes through an in-out role)", name, a.name,
                    args.tensors[a.role], static_cast<std::size_t>(na), b.name, args.tensors[b.role],
                    static_cast<std::size_t>(nb));
    }
  }
  return KILN_SUCCESS;
}

void fill_desc(const KernelInfo& k, kiln_kernel_desc* desc) {
  desc->name = k.name;
  desc->summary = k.summary;
  desc->tensor_count = k.tensor_count;
  desc->tensors = k.tensors;
  desc->options = k.options;
  desc->scalars = k.scalars;
}

// The group options: in range, and 0 for a kernel without groups.
kiln_status check_group_options(const KernelInfo& kernel, const kiln_plan_options& o) {
  if (!(kernel.options & KILN_OPTION_GROUP)) {
    if (o.group_size != 0 || o.scale_layout != KILN_SCALES_ROW_MAJOR || o.ue8m0 != 0)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no scale groups: group_size, scale_layout and ue8m0 must be 0 "
                  "(got %d, %d, %d)", kernel.name, o.group_size, static_cast<int>(o.scale_layout), o.ue8m0);
  } else {
    if (o.group_size != 0 && o.group_size != 64 && o.group_size != 128)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: group_size = %d: must be 128 or 64 (0 = 128)", kernel.name,
                  o.group_size);
    if (o.scale_layout != KILN_SCALES_ROW_MAJOR && o.scale_layout != KILN_SCALES_COL_MAJOR_TMA &&
        o.scale_layout != KILN_SCALES_PACKED_UE8M0)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: scale_layout = %d: must be KILN_SCALES_ROW_MAJOR (0), "
                  "KILN_SCALES_COL_MAJOR_TMA (1) or KILN_SCALES_PACKED_UE8M0 (2)", kernel.name,
                  static_cast<int>(o.scale_layout));
    if (o.ue8m0 != 0 && o.ue8m0 != 1)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: ue8m0 = %d: must be 0 or 1", kernel.name, o.ue8m0);
  }
  return KILN_SUCCESS;
}

// The semantic options: each in range, and only those the kernel accepts.
kiln_status check_options(const KernelInfo& kernel, const kiln_plan_options& o) {
  if (o.rounding != KILN_ROUNDING_SINGLE && o.rounding != KILN_ROUNDING_VLLM)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: rounding = %d: must be KILN_ROUNDING_SINGLE (0) or KILN_ROUNDING_VLLM (1)",
                kernel.name, static_cast<int>(o.rounding));
  if (o.rounding != KILN_ROUNDING_SINGLE && !(kernel.options & KILN_OPTION_ROUNDING))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no rounding option: rounding must be KILN_ROUNDING_SINGLE", kernel.name);
  if (o.gemma != 0 && o.gemma != 1)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: gemma = %d: must be 0 or 1", kernel.name, o.gemma);
  if (o.gemma && !(kernel.options & KILN_OPTION_GEMMA))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no gemma option: gemma must be 0", kernel.name);
  if (o.static_weight != 0 && o.static_weight != 1)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: static_weight = %d: must be 0 or 1", kernel.name, o.static_weight);
  if (o.static_weight && !(kernel.options & KILN_OPTION_STATIC_WEIGHT))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no weight: static_weight must be 0", kernel.name);
  if (kiln_status s = check_group_options(kernel, o); s != KILN_SUCCESS) return s;
  if (!(kernel.options & KILN_OPTION_COMM)) {
    if (o.comm != nullptr)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no communicator: comm must be NULL", kernel.name);
    if (o.max_tokens != 0)
      return fail(KILN_ERROR_INVALID_ARGUMENT, "%s has no communicator: max_tokens must be 0", kernel.name);
    return KILN_SUCCESS;
  }
  if (o.comm == nullptr)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s sums over the ranks of an NCCL communicator: comm (an ncclComm_t) is NULL",
                kernel.name);
  if (o.max_tokens <= 0 || o.max_tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: max_tokens = %lld: must be in 1..%lld (the most tokens a launch takes; "
                "it sizes the peer workspace)", kernel.name, static_cast<long long>(o.max_tokens),
                static_cast<long long>(kMaxTokens));
  return KILN_SUCCESS;
}

}  // namespace

namespace kiln::runtime {

kiln_status launch_as(const kiln_plan* plan, const char* kernel, const kiln_args* args, void* stream) {
  if (plan != nullptr && plan->kernel != find_kernel(kernel))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_%s: the plan is for %s", kernel, plan->kernel->name);
  return kiln_launch(plan, args, stream);
}

kiln_status plan_for_arch(const kiln_plan_options* options, const char* arch_name, int32_t device, kiln_plan** plan,
                          int32_t ranks) {
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(options->kernel, options->hidden, &kernel); s != KILN_SUCCESS) return s;
  if (kiln_status s = check_options(*kernel, *options); s != KILN_SUCCESS) return s;
  const std::string arch = arch_name;
  kiln_set_policy policy = options->policy;
  if (policy == KILN_SET_EXACT && env_flag("KILN_STRICT")) policy = KILN_SET_STRICT;
  Choice choice = choose(*kernel, arch, options->hidden, ranks, policy);
  if (choice.missing_set && policy == KILN_SET_STRICT)
    return fail(KILN_ERROR_NO_CONFIG_SET, "%s (strict plan)", choice.why.c_str());

  kiln_plan* p = new (std::nothrow) kiln_plan;
  if (p == nullptr) return fail(KILN_ERROR_OUT_OF_MEMORY, "kiln_plan_create: out of host memory");
  p->kernel = kernel;
  p->hidden = options->hidden;
  p->dtype = options->dtype;
  p->rounding = options->rounding;
  p->gemma = options->gemma != 0;
  p->static_weight = options->static_weight != 0;
  p->roles = role_mask(*kernel);
  p->ranks = ranks;
  p->max_tokens = options->max_tokens;
  if (kernel->options & KILN_OPTION_GROUP) {
    p->group_size = options->group_size == 0 ? KILN_DEFAULT_GROUP_SIZE : options->group_size;
    p->scale_layout = options->scale_layout;
    p->ue8m0 = options->ue8m0 != 0 || options->scale_layout == KILN_SCALES_PACKED_UE8M0;
  }
  p->device = device;
  p->arch = arch;
  p->rows = choice.set.rows;
  for (std::size_t i = 0; i < choice.set.count; ++i) p->thresholds.push_back(choice.set.rows[i].threshold);
  std::string opts;
  if (options->rounding == KILN_ROUNDING_VLLM) opts += " rounding=vllm";
  if (options->gemma) opts += " gemma";
  if (options->static_weight) opts += " static_weight";
  if (p->group_size > 0)
    opts += " group_size=" + std::to_string(p->group_size) + " scales=" + layout_name(p->scale_layout) +
            (p->ue8m0 ? " ue8m0" : "");
  if (ranks > 0) opts += " ranks=" + std::to_string(ranks) + " max_tokens=" + std::to_string(options->max_tokens);
  p->summary = std::string(kernel->name) + " hidden=" + std::to_string(options->hidden) + " " + dtype_name(options->dtype) +
               opts + " on device " + std::to_string(device) + " (" + arch + "): " + choice.why;
  if (env_flag("KILN_LOG")) std::fprintf(stderr, "kiln: plan %s\n", p->summary.c_str());
  *plan = p;
  return ok();
}

kiln::detail::LaunchParams launch_params(const kiln_plan& plan, const kiln_args& args) {
  return {plan.dtype == KILN_DTYPE_BF16 ? kiln::detail::DType::bf16 : kiln::detail::DType::fp16,
          args.tensors[KILN_ROLE_INPUT],
          args.tensors[KILN_ROLE_WEIGHT],
          args.tensors[KILN_ROLE_RESIDUAL],
          args.tensors[KILN_ROLE_OUTPUT],
          args.tensors[KILN_ROLE_SCALES],
          static_cast<const float*>(args.tensors[KILN_ROLE_SCALE]),
          static_cast<const float*>(args.tensors[KILN_ROLE_SCALE_UB]),
          args.tokens,
          args.hidden,
          args.eps,
          plan.rounding == KILN_ROUNDING_VLLM ? kiln::detail::Rounding::vllm : kiln::detail::Rounding::single,
          plan.gemma,
          plan.static_weight,
          plan.comm ? &plan.comm->state() : nullptr,
          plan.group_size,
          static_cast<kiln::detail::ScaleLayout>(plan.scale_layout),
          plan.ue8m0};
}

}  // namespace kiln::runtime


extern "C" {

const char* kiln_status_name(kiln_status status) {
  switch (status) {
    case KILN_SUCCESS: return "KILN_SUCCESS";
    case KILN_ERROR_INVALID_ARGUMENT: return "KILN_ERROR_INVALID_ARGUMENT";
    case KILN_ERROR_UNKNOWN_KERNEL: return "KILN_ERROR_UNKNOWN_KERNEL";
    case KILN_ERROR_UNSUPPORTED_DTYPE: return "KILN_ERROR_UNSUPPORTED_DTYPE";
    case KILN_ERROR_INVALID_HIDDEN: return "KILN_ERROR_INVALID_HIDDEN";
    case KILN_ERROR_HIDDEN_MISMATCH: return "KILN_ERROR_HIDDEN_MISMATCH";
    case KILN_ERROR_NULL_POINTER: return "KILN_ERROR_NULL_POINTER";
    case KILN_ERROR_MISALIGNED_POINTER: return "KILN_ERROR_MISALIGNED_POINTER";
    case KILN_ERROR_INVALID_TOKENS: return "KILN_ERROR_INVALID_TOKENS";
    case KILN_ERROR_NO_CONFIG_SET: return "KILN_ERROR_NO_CONFIG_SET";
    case KILN_ERROR_NO_DEVICE_IMAGE: return "KILN_ERROR_NO_DEVICE_IMAGE";
    case KILN_ERROR_NO_DEVICE: return "KILN_ERROR_NO_DEVICE";
    case KILN_ERROR_CUDA: return "KILN_ERROR_CUDA";
    case KILN_ERROR_OUT_OF_MEMORY: return "KILN_ERROR_OUT_OF_MEMORY";
    case KILN_ERROR_ALIASING: return "KILN_ERROR_ALIASING";
    case KILN_ERROR_WRONG_DEVICE: return "KILN_ERROR_WRONG_DEVICE";
    case KILN_ERROR_DTYPE_MISMATCH: return "KILN_ERROR_DTYPE_MISMATCH";
    case KILN_ERROR_NCCL: return "KILN_ERROR_NCCL";
    case KILN_ERROR_UNSUPPORTED_COMM: return "KILN_ERROR_UNSUPPORTED_COMM";
  }
  return "KILN_STATUS_UNKNOWN";
}

const char* kiln_last_error(void) { return g_last_error; }

const char* kiln_version(void) { return KILN_VERSION_STRING; }

void kiln_plan_options_init(kiln_plan_options* options) {
  if (options == nullptr) return;
  *options = kiln_plan_options{};
  options->struct_size = sizeof(kiln_plan_options);
  options->dtype = KILN_DTYPE_BF16;
  options->device = -1;
  options->policy = KILN_SET_EXACT;
}

void kiln_args_init(kiln_args* args) {
  if (args == nullptr) return;
  *args = kiln_args{};
  args->struct_size = sizeof(kiln_args);
  args->eps = 1e-6f;
  args->dtype = KILN_DTYPE_UNSET;
}

kiln_status kiln_plan_create(const kiln_plan_options* caller_options, kiln_plan** plan) {
  if (plan == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_create: plan (the out pointer) is NULL");
  *plan = nullptr;
  if (caller_options == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_create: options is NULL");
  kiln_plan_options full;
  kiln_plan_options_init(&full);
  if (kiln_status s = read_sized(caller_options, kPlanOptionsV1, &full, "kiln_plan_create: options"); s != KILN_SUCCESS)
    return s;
  const kiln_plan_options* options = &full;
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(options->kernel, options->hidden, &kernel); s != KILN_SUCCESS) return s;
  if (options->dtype != KILN_DTYPE_BF16 && options->dtype != KILN_DTYPE_FP16)
    return fail(KILN_ERROR_UNSUPPORTED_DTYPE, "%s: dtype = %d: must be KILN_DTYPE_BF16 (0) or KILN_DTYPE_FP16 (1)",
                kernel->name, static_cast<int>(options->dtype));
  const kiln_set_policy policy = options->policy;
  if (kiln_status s = check_options(*kernel, *options); s != KILN_SUCCESS) return s;
  if (policy != KILN_SET_EXACT && policy != KILN_SET_STRICT && policy != KILN_SET_GENERIC)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: policy = %d: must be KILN_SET_EXACT, KILN_SET_STRICT or KILN_SET_GENERIC",
                kernel->name, static_cast<int>(policy));

  // The device: its arch picks the table; the probe proves this build has its SASS.
  int device_count = 0;
  if (cudaError_t err = cudaGetDeviceCount(&device_count); err != cudaSuccess || device_count == 0) {
    cudaGetLastError();
    return fail(KILN_ERROR_NO_DEVICE, "kiln_plan_create: no CUDA device (%s)",
                err == cudaSuccess ? "device count is 0" : cudaGetErrorString(err));
  }
  int device = options->device;
  if (device == -1 && cudaGetDevice(&device) != cudaSuccess) return cuda_failure(cudaGetLastError(), "cudaGetDevice");
  if (device < 0 || device >= device_count)
    return fail(KILN_ERROR_NO_DEVICE, "kiln_plan_create: device = %d: must be -1 or in 0..%d", options->device, device_count - 1);
  int major = 0, minor = 0;
  if (cudaError_t err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device); err != cudaSuccess)
    return cuda_failure(err, "cudaDeviceGetAttribute");
  if (cudaError_t err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device); err != cudaSuccess)
    return cuda_failure(err, "cudaDeviceGetAttribute");
  const std::string arch = "sm" + std::to_string(major * 10 + minor);
  if (!kiln::runtime::is_target_arch(arch))
    return fail(KILN_ERROR_NO_DEVICE_IMAGE, "%s: device %d is %s; this library holds SASS for %s only (rebuild with -Darchs=...,%s)",
                kernel->name, device, arch.c_str(), kiln::runtime::target_archs(), arch.c_str());
  {
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(device);
    const cudaError_t err = kernel->probe();
    cudaSetDevice(previous);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return cuda_failure(err, kernel->name);
    }
  }

  if (!(kernel->options & KILN_OPTION_COMM)) return kiln::runtime::plan_for_arch(options, arch.c_str(), device, plan);

  // A communicator kernel: the peers' workspace first (collective; it knows the rank
  // count that picks the config set), then the plan that owns it.
  kiln::runtime::CommError comm_error;
  std::unique_ptr<kiln::runtime::Comm> comm = kiln::runtime::Comm::create(
      *kernel, options->comm, device,
      options->dtype == KILN_DTYPE_BF16 ? kiln::detail::DType::bf16 : kiln::detail::DType::fp16, options->hidden,
      options->max_tokens, comm_error);
  if (comm == nullptr) return fail(comm_error.status, "%s", comm_error.message.c_str());
  const int32_t ranks = comm->state().ranks;
  if (kiln_status s = kiln::runtime::plan_for_arch(options, arch.c_str(), device, plan, ranks); s != KILN_SUCCESS)
    return s;
  (*plan)->comm = std::move(comm);
  return KILN_SUCCESS;
}

void kiln_plan_destroy(kiln_plan* plan) { delete plan; }

const char* kiln_plan_summary(const kiln_plan* plan) { return plan ? plan->summary.c_str() : ""; }

}  // extern "C"

// Output structs: filled in full here, copied back as far as the caller's struct goes.
static kiln_status check_info(const kiln_variant_info* info, const char* what) {
  if (info->struct_size < kVariantInfoV1 || info->struct_size > sizeof(kiln_variant_info))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: info.struct_size = %u: must be in %zu..%zu", what, info->struct_size,
                kVariantInfoV1, sizeof(kiln_variant_info));
  return KILN_SUCCESS;
}

template <class T>
static void copy_back(const T& full, T* out) {
  const uint32_t size = out->struct_size;
  std::memcpy(static_cast<void*>(out), &full, size);
  out->struct_size = size;
}

// tokens = 0 launches nothing: no variant serves it (kiln-gen --explain says the same).
static void fill_info_for(kiln_variant_info* info, const KernelInfo& kernel, const char* arch, int64_t hidden,
                          int32_t ranks, const Variant* rows, const int32_t* thresholds, std::size_t count, int64_t tokens) {
  kiln_variant_info full{};
  full.struct_size = sizeof full;
  const Variant* row = rows && tokens > 0 ? &rows[kiln::detail::select_bucket(thresholds, count, tokens)] : nullptr;
  fill_info(&full, kernel, arch, hidden, ranks, row);
  if (tokens == 0) {  // nothing launches: neither a specialised nor the generic kernel
    full.name = "";
    full.is_fallback = 0;
  }
  copy_back(full, info);
}

// kiln_explain and kiln_explain_comm, once their arguments are checked.
static kiln_status explain_for(const KernelInfo& kernel, const char* arch, int64_t hidden, int32_t ranks, int64_t tokens,
                               kiln_variant_info* info) {
  const Choice choice = choose(kernel, arch, hidden, ranks, KILN_SET_EXACT);
  std::vector<int32_t> thresholds;
  for (std::size_t i = 0; i < choice.set.count; ++i) thresholds.push_back(choice.set.rows[i].threshold);
  fill_info_for(info, kernel, kiln::runtime::static_arch_name(arch), hidden, ranks, choice.set.rows, thresholds.data(),
                thresholds.size(), tokens);
  return ok();
}

extern "C" {

kiln_status kiln_plan_describe(const kiln_plan* plan, int64_t tokens, kiln_variant_info* info) {
  if (plan == nullptr || info == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_describe: plan or info is NULL");
  if (kiln_status s = check_info(info, "kiln_plan_describe"); s != KILN_SUCCESS) return s;
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_plan_describe: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  fill_info_for(info, *plan->kernel, kiln::runtime::static_arch_name(plan->arch), plan->hidden, plan->ranks, plan->rows,
                plan->thresholds.data(), plan->thresholds.size(), tokens);
  return ok();
}

kiln_status kiln_explain(const char* kernel_name, const char* arch, int64_t hidden, int64_t tokens, kiln_variant_info* info) {
  if (arch == nullptr || info == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain: arch or info is NULL");
  if (kiln_status s = check_info(info, "kiln_explain"); s != KILN_SUCCESS) return s;
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(kernel_name, hidden, &kernel); s != KILN_SUCCESS) return s;
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_explain: tokens = %lld: must be in 0..%lld", static_cast<long long>(tokens),
                static_cast<long long>(kMaxTokens));
  if (!kiln::runtime::is_target_arch(arch))
    return fail(KILN_ERROR_NO_DEVICE_IMAGE, "kiln_explain: arch '%s' is not a target of this library (built for %s)", arch,
                kiln::runtime::target_archs());
  if (kernel->options & KILN_OPTION_COMM)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain: %s sums over a communicator: use kiln_explain_comm, which "
                "takes the rank count", kernel->name);
  return explain_for(*kernel, arch, hidden, 0, tokens, info);
}

kiln_status kiln_explain_comm(const char* kernel_name, const char* arch, int64_t hidden, int32_t ranks, int64_t tokens,
                              kiln_variant_info* info) {
  if (arch == nullptr || info == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain_comm: arch or info is NULL");
  if (kiln_status s = check_info(info, "kiln_explain_comm"); s != KILN_SUCCESS) return s;
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(kernel_name, hidden, &kernel); s != KILN_SUCCESS) return s;
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_explain_comm: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  if (!(kernel->options & KILN_OPTION_COMM))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain_comm: %s has no communicator: use kiln_explain", kernel->name);
  if (ranks < 2 || ranks > kiln::detail::kMaxRanks)
    return fail(KILN_ERROR_UNSUPPORTED_COMM, "kiln_explain_comm: ranks = %d: must be in 2..%d", ranks,
                kiln::detail::kMaxRanks);
  if (!kiln::runtime::is_target_arch(arch))
    return fail(KILN_ERROR_NO_DEVICE_IMAGE, "kiln_explain_comm: arch '%s' is not a target of this library (built for %s)",
                arch, kiln::runtime::target_archs());
  return explain_for(*kernel, arch, hidden, ranks, tokens, info);
}

}  // extern "C"

static kiln_status describe_kernel(const KernelInfo& k, kiln_kernel_desc* desc, const char* what) {
  if (desc->struct_size < kKernelDescV2 || desc->struct_size > sizeof(kiln_kernel_desc))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: desc.struct_size = %u: must be in %zu..%zu", what, desc->struct_size,
                kKernelDescV2, sizeof(kiln_kernel_desc));
  kiln_kernel_desc full{};
  full.struct_size = sizeof full;
  fill_desc(k, &full);
  copy_back(full, desc);
  return ok();
}

extern "C" {

kiln_status kiln_tensor_shape(const kiln_tensor_desc* tensor, int64_t hidden, int64_t tokens, int64_t* rows,
                              int64_t* cols, int64_t* elem) {
  if (tensor == nullptr || rows == nullptr || cols == nullptr || elem == nullptr)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_tensor_shape: tensor, rows, cols or elem_bytes is NULL");
  if (hidden <= 0 || hidden > kMaxHidden)
    return fail(KILN_ERROR_INVALID_HIDDEN, "kiln_tensor_shape: hidden = %lld: must be in 1..%lld",
                static_cast<long long>(hidden), static_cast<long long>(kMaxHidden));
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_tensor_shape: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  *rows = extent(tensor->rows, tokens, hidden);
  *cols = extent(tensor->cols, tokens, hidden);
  *elem = static_cast<int64_t>(elem_bytes(tensor->elem));
  if (*rows == 0 && tensor->rows != KILN_EXTENT_TOKENS)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_tensor_shape: %s has an unknown extent", tensor->name);
  if (*cols == 0 || *elem == 0)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_tensor_shape: %s has an unknown extent or element", tensor->name);
  return ok();
}

kiln_status kiln_tensor_layout_of(const kiln_tensor_desc* tensor, const kiln_plan_options* caller_options, int64_t tokens,
                                  kiln_tensor_layout* layout) {
  if (tensor == nullptr || caller_options == nullptr || layout == nullptr)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_tensor_layout_of: tensor, options or layout is NULL");
  if (layout->struct_size != sizeof(kiln_tensor_layout))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_tensor_layout_of: layout.struct_size = %u: must be %zu",
                layout->struct_size, sizeof(kiln_tensor_layout));
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  if (kiln_status s = read_sized(caller_options, kPlanOptionsV1, &o, "kiln_tensor_layout_of: options"); s != KILN_SUCCESS)
    return s;
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(o.kernel, o.hidden, &kernel); s != KILN_SUCCESS) return s;
  if (kiln_status s = check_group_options(*kernel, o); s != KILN_SUCCESS) return s;
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_tensor_layout_of: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  int64_t rows = 0, cols = 0, elem = 0;
  if (kiln_status s = kiln_tensor_shape(tensor, o.hidden, tokens, &rows, &cols, &elem); s != KILN_SUCCESS) return s;
  const int32_t group_size = o.group_size == 0 ? KILN_DEFAULT_GROUP_SIZE : o.group_size;
  *layout = layout_of(*tensor, tokens, o.hidden, group_size, o.scale_layout);
  return ok();
}

int32_t kiln_kernel_count(void) { return static_cast<int32_t>(kiln::runtime::kernels().size()); }

kiln_status kiln_kernel_at(int32_t index, kiln_kernel_desc* desc) {
  if (desc == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_kernel_at: desc is NULL");
  if (index < 0 || index >= kiln_kernel_count())
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_kernel_at: index = %d: must be in 0..%d", index, kiln_kernel_count() - 1);
  return describe_kernel(kiln::runtime::kernels()[static_cast<std::size_t>(index)], desc, "kiln_kernel_at");
}

kiln_status kiln_kernel_find(const char* name, kiln_kernel_desc* desc) {
  if (desc == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_kernel_find: desc is NULL");
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(name, 1, &kernel); s != KILN_SUCCESS) return s;
  return describe_kernel(*kernel, desc, "kiln_kernel_find");
}

kiln_status kiln_min_bytes(const char* kernel_name, kiln_dtype dtype, int64_t hidden, int64_t tokens, int64_t* bytes) {
  if (bytes == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_min_bytes: bytes is NULL");
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(kernel_name, hidden, &kernel); s != KILN_SUCCESS) return s;
  if (dtype != KILN_DTYPE_BF16 && dtype != KILN_DTYPE_FP16)
    return fail(KILN_ERROR_UNSUPPORTED_DTYPE, "kiln_min_bytes: dtype = %d: must be KILN_DTYPE_BF16 or KILN_DTYPE_FP16",
                static_cast<int>(dtype));
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_min_bytes: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  int64_t total = 0;
  for (int32_t i = 0; i < kernel->tensor_count; ++i) {
    const kiln_tensor_desc& t = kernel->tensors[i];
    total += tensor_bytes(t, tokens, hidden) * (t.direction == KILN_DIR_INOUT ? 2 : 1);
  }
  *bytes = total;
  return ok();
}

kiln_status kiln_launch(const kiln_plan* plan, const kiln_args* caller_args, void* stream) {
  if (plan == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_launch: plan is NULL");
  if (caller_args == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_launch: args is NULL");
  const char* name = plan->kernel->name;
  kiln_args args;
  kiln_args_init(&args);
  // 0.2's struct is 92 bytes (96 with its tail padding), 0.3's reaches past dtype: a size
  // between them would cut dtype in two.
  if (caller_args->struct_size > 96 && caller_args->struct_size < kArgsV3)
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: args.struct_size = %u: must be 92..96 (kiln 0.2) or %zu..%zu", name,
                caller_args->struct_size, kArgsV3, sizeof(kiln_args));
  if (kiln_status s = read_sized(caller_args, kArgsV2, &args, name); s != KILN_SUCCESS) return s;
  if (args.tokens < 0 || args.tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "%s: tokens = %lld: must be in 0..%lld", name,
                static_cast<long long>(args.tokens), static_cast<long long>(kMaxTokens));
  if (args.hidden != plan->hidden)
    return fail(KILN_ERROR_HIDDEN_MISMATCH, "%s: hidden = %lld but the plan was made for hidden = %lld", name,
                static_cast<long long>(args.hidden), static_cast<long long>(plan->hidden));
  // A 0.2 caller's struct has no dtype to check; a 0.3 one must say what its tensors hold.
  if (caller_args->struct_size >= kArgsV3 && args.dtype != plan->dtype) {
    if (args.dtype == KILN_DTYPE_UNSET)
      return fail(KILN_ERROR_DTYPE_MISMATCH, "%s: args.dtype is unset: set it to the tensors' dtype (the plan is %s)", name,
                  dtype_name(plan->dtype));
    return fail(KILN_ERROR_DTYPE_MISMATCH, "%s: args.dtype = %d but the plan was made for %s", name,
                static_cast<int>(args.dtype), dtype_name(plan->dtype));
  }
  if (plan->max_tokens > 0 && args.tokens > plan->max_tokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "%s: tokens = %lld: the plan's max_tokens is %lld (its peer workspace holds "
                "no more)", name, static_cast<long long>(args.tokens), static_cast<long long>(plan->max_tokens));
  if (args.tokens == 0) return ok();
  const Variant* row = nullptr;
  if (plan->rows != nullptr) row = &plan->rows[kiln::detail::select_bucket(plan->thresholds.data(), plan->thresholds.size(), args.tokens)];
  if (row != nullptr && args.tokens > row->max_tokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "%s: tokens = %lld: %s takes at most %lld (its grid would exceed 2^31 - 1 blocks)",
                name, static_cast<long long>(args.tokens), row->name, static_cast<long long>(row->max_tokens));
  if (kiln_status s = check_tensors(*plan, args, row); s != KILN_SUCCESS) return s;
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess) return cuda_failure(cudaGetLastError(), "cudaGetDevice");
  if (current != plan->device)
    return fail(KILN_ERROR_WRONG_DEVICE, "%s: the plan is for device %d but the current device is %d (cudaSetDevice first)",
                name, plan->device, current);


  const kiln::detail::LaunchParams params = kiln::runtime::launch_params(*plan, args);
  const cudaError_t err = (row ? row->launch : plan->kernel->generic)(params, static_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) return cuda_failure(err, row ? row->name : plan->kernel->generic_name);
  return KILN_SUCCESS;
}

}  // extern "C"
