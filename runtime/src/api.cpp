// The C API: plan (start-up: pick a config set), describe, launch (every step).
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

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
  int32_t device = 0;
  std::string arch;                 // "sm90"
  const Variant* rows = nullptr;    // the config set: rows sorted by threshold; nullptr = generic
  std::vector<int32_t> thresholds;  // rows[i].threshold, contiguous for the bisection
  std::string summary;
};

namespace {

constexpr int64_t kMaxHidden = 1 << 20;
constexpr int64_t kMaxTokens = std::numeric_limits<int32_t>::max();
constexpr std::size_t kSpecialisedAlignment = 16;  // specialised variants use 16-byte accesses

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

SetRows find_set(const ArchTable* table, const char* kernel, int64_t hidden) {
  SetRows set;
  if (table == nullptr) return set;
  for (std::size_t i = 0; i < table->count; ++i) {
    const Variant& v = table->rows[i];
    if (std::strcmp(v.kernel, kernel) != 0 || v.hidden != hidden) continue;
    if (set.rows == nullptr) set.rows = &v;
    ++set.count;
  }
  return set;
}

// "2048, 4096, 5120, 8192": the hidden sizes that have sets, for a loud miss.
std::string hidden_sizes_with_sets(const ArchTable* table, const char* kernel) {
  std::string out;
  int64_t last = -1;
  for (std::size_t i = 0; table != nullptr && i < table->count; ++i) {
    const Variant& v = table->rows[i];
    if (std::strcmp(v.kernel, kernel) != 0 || v.hidden == last) continue;
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

Choice choose(const KernelInfo& kernel, const std::string& arch, int64_t hidden, kiln_set_policy policy) {
  Choice c{{}, {}, false};
  if (policy == KILN_SET_GENERIC) {
    c.why = "the generic kernel by request (KILN_SET_GENERIC)";
    return c;
  }
  const ArchTable* table = kiln::runtime::find_table(arch);
  c.set = find_set(table, kernel.name, hidden);
  if (c.set.rows != nullptr) {
    std::string thresholds;
    for (std::size_t i = 0; i < c.set.count; ++i)
      thresholds += (i ? ", " : "") + std::to_string(c.set.rows[i].threshold);
    c.why = "config set configs/" + std::string(kernel.name) + "/" + arch + "/" + std::to_string(hidden) +
            " (thresholds " + thresholds + ")";
    return c;
  }
  c.missing_set = true;
  c.why = "no " + std::string(kernel.name) + " set for " + arch + " hidden=" + std::to_string(hidden) + "; have " +
          hidden_sizes_with_sets(table, kernel.name) + " — using the generic kernel";
  return c;
}

// Names of generic kernels, with static lifetime for kiln_variant_info.
const char* generic_name_of(const KernelInfo& kernel) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const KernelInfo& k : kiln::runtime::kernels()) n.push_back(std::string(k.name) + "_generic");
    return n;
  }();
  return names[static_cast<std::size_t>(&kernel - kiln::runtime::kernels().data())].c_str();
}

// `arch` must be a string with static lifetime (kiln_variant_info's strings outlive plans).
void fill_info(kiln_variant_info* info, const KernelInfo& kernel, const char* arch, int64_t hidden,
               const Variant* row) {
  info->kernel = kernel.name;
  info->arch = arch;
  info->hidden = hidden;
  info->threshold = row ? row->threshold : 0;
  info->is_fallback = row ? 0 : 1;
  info->name = row ? row->name : generic_name_of(kernel);
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

}  // namespace

// The typed entry points: the same launch, once the plan is known to be for `kernel`.
static kiln_status launch_as(const kiln_plan* plan, const char* kernel, const kiln_args& args, void* stream) {
  if (plan != nullptr && plan->kernel != kiln::runtime::find_kernel(kernel))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_%s: the plan is for %s", kernel, plan->kernel->name);
  return kiln_launch(plan, &args, stream);
}

namespace kiln::runtime {

kiln_status plan_for_arch(const kiln_plan_options* options, const char* arch_name, int32_t device, kiln_plan** plan) {
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(options->kernel, options->hidden, &kernel); s != KILN_SUCCESS) return s;
  const std::string arch = arch_name;
  kiln_set_policy policy = options->policy;
  if (policy == KILN_SET_EXACT && env_flag("KILN_STRICT")) policy = KILN_SET_STRICT;
  Choice choice = choose(*kernel, arch, options->hidden, policy);
  if (choice.missing_set && policy == KILN_SET_STRICT)
    return fail(KILN_ERROR_NO_CONFIG_SET, "%s (strict plan)", choice.why.c_str());

  kiln_plan* p = new (std::nothrow) kiln_plan;
  if (p == nullptr) return fail(KILN_ERROR_OUT_OF_MEMORY, "kiln_plan_create: out of host memory");
  p->kernel = kernel;
  p->hidden = options->hidden;
  p->dtype = options->dtype;
  p->device = device;
  p->arch = arch;
  p->rows = choice.set.rows;
  for (std::size_t i = 0; i < choice.set.count; ++i) p->thresholds.push_back(choice.set.rows[i].threshold);
  p->summary = std::string(kernel->name) + " hidden=" + std::to_string(options->hidden) + " " + dtype_name(options->dtype) +
               " on device " + std::to_string(device) + " (" + arch + "): " + choice.why;
  if (env_flag("KILN_LOG")) std::fprintf(stderr, "kiln: plan %s\n", p->summary.c_str());
  *plan = p;
  return ok();
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
  }
  return "KILN_STATUS_UNKNOWN";
}

const char* kiln_last_error(void) { return g_last_error; }

const char* kiln_version(void) { return "0.1.0"; }

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
}

kiln_status kiln_plan_create(const kiln_plan_options* options, kiln_plan** plan) {
  if (plan == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_create: plan (the out pointer) is NULL");
  *plan = nullptr;
  if (options == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_create: options is NULL");
  if (options->struct_size != sizeof(kiln_plan_options))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_create: options.struct_size = %u: must be %zu (call kiln_plan_options_init)",
                options->struct_size, sizeof(kiln_plan_options));
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(options->kernel, options->hidden, &kernel); s != KILN_SUCCESS) return s;
  if (options->dtype != KILN_DTYPE_BF16 && options->dtype != KILN_DTYPE_FP16)
    return fail(KILN_ERROR_UNSUPPORTED_DTYPE, "%s: dtype = %d: must be KILN_DTYPE_BF16 (0) or KILN_DTYPE_FP16 (1)",
                kernel->name, static_cast<int>(options->dtype));
  const kiln_set_policy policy = options->policy;
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

  return kiln::runtime::plan_for_arch(options, arch.c_str(), device, plan);
}

void kiln_plan_destroy(kiln_plan* plan) { delete plan; }

const char* kiln_plan_summary(const kiln_plan* plan) { return plan ? plan->summary.c_str() : ""; }

kiln_status kiln_plan_describe(const kiln_plan* plan, int64_t tokens, kiln_variant_info* info) {
  if (plan == nullptr || info == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_describe: plan or info is NULL");
  if (info->struct_size != sizeof(kiln_variant_info))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_plan_describe: info.struct_size = %u: must be %zu", info->struct_size,
                sizeof(kiln_variant_info));
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_plan_describe: tokens = %lld: must be in 0..%lld",
                static_cast<long long>(tokens), static_cast<long long>(kMaxTokens));
  const Variant* row = nullptr;
  if (plan->rows != nullptr) row = &plan->rows[kiln::detail::select_bucket(plan->thresholds.data(), plan->thresholds.size(), tokens)];
  fill_info(info, *plan->kernel, kiln::runtime::static_arch_name(plan->arch), plan->hidden, row);
  return ok();
}

kiln_status kiln_explain(const char* kernel_name, const char* arch, int64_t hidden, int64_t tokens, kiln_variant_info* info) {
  if (arch == nullptr || info == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain: arch or info is NULL");
  if (info->struct_size != sizeof(kiln_variant_info))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_explain: info.struct_size = %u: must be %zu", info->struct_size,
                sizeof(kiln_variant_info));
  const KernelInfo* kernel = nullptr;
  if (kiln_status s = check_kernel_and_hidden(kernel_name, hidden, &kernel); s != KILN_SUCCESS) return s;
  if (tokens < 0 || tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "kiln_explain: tokens = %lld: must be in 0..%lld", static_cast<long long>(tokens),
                static_cast<long long>(kMaxTokens));
  if (!kiln::runtime::is_target_arch(arch))
    return fail(KILN_ERROR_NO_DEVICE_IMAGE, "kiln_explain: arch '%s' is not a target of this library (built for %s)", arch,
                kiln::runtime::target_archs());
  const Choice choice = choose(*kernel, arch, hidden, KILN_SET_EXACT);
  const Variant* row = nullptr;
  if (choice.set.rows != nullptr) {
    std::vector<int32_t> thresholds;
    for (std::size_t i = 0; i < choice.set.count; ++i) thresholds.push_back(choice.set.rows[i].threshold);
    row = &choice.set.rows[kiln::detail::select_bucket(thresholds.data(), thresholds.size(), tokens)];
  }
  fill_info(info, *kernel, kiln::runtime::static_arch_name(arch), hidden, row);
  return ok();
}

kiln_status kiln_launch(const kiln_plan* plan, const kiln_args* args, void* stream) {
  if (plan == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_launch: plan is NULL");
  if (args == nullptr) return fail(KILN_ERROR_INVALID_ARGUMENT, "kiln_launch: args is NULL");
  const char* name = plan->kernel->name;
  if (args->struct_size != sizeof(kiln_args))
    return fail(KILN_ERROR_INVALID_ARGUMENT, "%s: args.struct_size = %u: must be %zu (call kiln_args_init)", name,
                args->struct_size, sizeof(kiln_args));
  if (args->tokens < 0 || args->tokens > kMaxTokens)
    return fail(KILN_ERROR_INVALID_TOKENS, "%s: tokens = %lld: must be in 0..%lld", name,
                static_cast<long long>(args->tokens), static_cast<long long>(kMaxTokens));
  if (args->hidden != plan->hidden)
    return fail(KILN_ERROR_HIDDEN_MISMATCH, "%s: hidden = %lld but the plan was made for hidden = %lld", name,
                static_cast<long long>(args->hidden), static_cast<long long>(plan->hidden));
  if (args->tokens == 0) return ok();

  const bool needs_weight = plan->kernel->needs_weight;
  if (args->input == nullptr) return fail(KILN_ERROR_NULL_POINTER, "%s: input is NULL", name);
  if (args->output == nullptr) return fail(KILN_ERROR_NULL_POINTER, "%s: output is NULL", name);
  if (args->scale == nullptr) return fail(KILN_ERROR_NULL_POINTER, "%s: scale is NULL", name);
  if (needs_weight && args->weight == nullptr) return fail(KILN_ERROR_NULL_POINTER, "%s: weight is NULL", name);

  const Variant* row = nullptr;
  if (plan->rows != nullptr) row = &plan->rows[kiln::detail::select_bucket(plan->thresholds.data(), plan->thresholds.size(), args->tokens)];
  // Elements must be aligned to their own size; a specialised variant needs 16 bytes.
  const std::size_t in_align = row ? kSpecialisedAlignment : 2;
  const std::size_t out_align = row ? kSpecialisedAlignment : 1;
  if (!aligned(args->input, in_align))
    return fail(KILN_ERROR_MISALIGNED_POINTER, "%s: input %p is not %zu-byte aligned (%s)", name, args->input, in_align,
                row ? row->name : "element size");
  if (needs_weight && !aligned(args->weight, in_align))
    return fail(KILN_ERROR_MISALIGNED_POINTER, "%s: weight %p is not %zu-byte aligned (%s)", name, args->weight, in_align,
                row ? row->name : "element size");
  if (!aligned(args->output, out_align))
    return fail(KILN_ERROR_MISALIGNED_POINTER, "%s: output %p is not %zu-byte aligned (%s)", name, args->output, out_align,
                row ? row->name : "element size");
  if (!aligned(args->scale, alignof(float)))
    return fail(KILN_ERROR_MISALIGNED_POINTER, "%s: scale %p is not 4-byte aligned", name, static_cast<const void*>(args->scale));

  const kiln::detail::LaunchParams params{
      plan->dtype == KILN_DTYPE_BF16 ? kiln::detail::DType::bf16 : kiln::detail::DType::fp16,
      args->input, args->weight, args->output, args->scale, args->tokens, args->hidden, args->eps};
  const cudaError_t err = (row ? row->launch : plan->kernel->generic)(params, static_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) return cuda_failure(err, row ? row->name : generic_name_of(*plan->kernel));
  return KILN_SUCCESS;
}

kiln_status kiln_silu_mul_fp8(const kiln_plan* plan, void* out, const void* input, const float* scale, int64_t tokens,
                              int64_t hidden, void* stream) {
  kiln_args args;
  kiln_args_init(&args);
  args.input = input;
  args.output = out;
  args.scale = scale;
  args.tokens = tokens;
  args.hidden = hidden;
  return launch_as(plan, "silu_mul_fp8", args, stream);
}

kiln_status kiln_rms_norm_fp8(const kiln_plan* plan, void* out, const void* input, const void* weight, const float* scale,
                              float eps, int64_t tokens, int64_t hidden, void* stream) {
  kiln_args args;
  kiln_args_init(&args);
  args.input = input;
  args.weight = weight;
  args.output = out;
  args.scale = scale;
  args.eps = eps;
  args.tokens = tokens;
  args.hidden = hidden;
  return launch_as(plan, "rms_norm_fp8", args, stream);
}

}  // extern "C"
