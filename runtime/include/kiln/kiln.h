/* kiln C API: plan once at start-up, launch every step.
 *
 * Stable ABI: plain C types, opaque handles, structs that start with their own
 * size so they can grow. No CUDA header is needed: a stream is passed as void*
 * (a cudaStream_t; NULL is the legacy default stream).
 *
 * Every entry point returns a kiln_status. On failure, kiln_last_error() gives a
 * message for the calling thread that names what was wrong and what was expected.
 * Launches allocate nothing, never synchronise, query no device attributes, are
 * safe to call from several threads on one plan, and can be captured in a CUDA graph.
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define KILN_API __declspec(dllexport)
#else
#define KILN_API __attribute__((visibility("default")))
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1

typedef enum kiln_status {
  KILN_SUCCESS = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1,   /* a null handle or options struct, a bad enum, a bad struct_size */
  KILN_ERROR_UNKNOWN_KERNEL = 2,     /* no kernel of that name in this library */
  KILN_ERROR_UNSUPPORTED_DTYPE = 3,  /* dtype is not bf16 or fp16 */
  KILN_ERROR_INVALID_HIDDEN = 4,     /* hidden size <= 0 or beyond what the kernels address */
  KILN_ERROR_HIDDEN_MISMATCH = 5,    /* a launch's hidden size differs from the plan's */
  KILN_ERROR_NULL_POINTER = 6,       /* a tensor or scale pointer the kernel needs is null */
  KILN_ERROR_MISALIGNED_POINTER = 7, /* a pointer is not aligned as the chosen variant needs */
  KILN_ERROR_INVALID_TOKENS = 8,     /* tokens < 0 */
  KILN_ERROR_NO_CONFIG_SET = 9,      /* strict plan: no tuned config set for this hidden size */
  KILN_ERROR_NO_DEVICE_IMAGE = 10,   /* this library holds no SASS for the device's architecture */
  KILN_ERROR_NO_DEVICE = 11,         /* no CUDA device, or the device index is out of range */
  KILN_ERROR_CUDA = 12,              /* the CUDA runtime reported an error (message has it) */
  KILN_ERROR_OUT_OF_MEMORY = 13      /* host memory for a plan could not be allocated */
} kiln_status;

typedef enum kiln_dtype { KILN_DTYPE_BF16 = 0, KILN_DTYPE_FP16 = 1 } kiln_dtype;

/* How a plan picks its config set (DESIGN.md, "runtime"). */
typedef enum kiln_set_policy {
  KILN_SET_EXACT = 0,   /* the set for this hidden size; without one, the generic kernel (reported) */
  KILN_SET_STRICT = 1,  /* the set for this hidden size, or KILN_ERROR_NO_CONFIG_SET */
  KILN_SET_GENERIC = 2  /* always the generic kernel (a baseline, or to rule kiln's tuning out) */
} kiln_set_policy;

typedef struct kiln_plan kiln_plan; /* opaque; immutable once created */

typedef struct kiln_plan_options {
  uint32_t struct_size;   /* sizeof(kiln_plan_options); kiln_plan_options_init sets it */
  const char* kernel;     /* "silu_mul_fp8", "rms_norm_fp8" */
  int64_t hidden;         /* H: silu_mul_fp8 reads [T, 2H] and writes [T, H] */
  kiln_dtype dtype;       /* input dtype; outputs are fp8 e4m3fn */
  int32_t device;         /* CUDA device index; -1 = the calling thread's current device */
  kiln_set_policy policy; /* KILN_SET_EXACT unless set; the environment KILN_STRICT=1 upgrades EXACT to STRICT */
} kiln_plan_options;

/* Arguments of one launch. Pointers are device pointers; rows are contiguous. */
typedef struct kiln_args {
  uint32_t struct_size;   /* sizeof(kiln_args); kiln_args_init sets it */
  const void* input;      /* [tokens, H] (silu_mul_fp8: [tokens, 2H]) in the plan's dtype */
  const void* weight;     /* rms_norm_fp8: [H] in the plan's dtype; unused (may be NULL) otherwise */
  void* output;           /* [tokens, H] fp8 e4m3fn */
  const float* scale;     /* one fp32 in device memory; outputs are multiplied by 1/scale */
  int64_t tokens;         /* T >= 0; 0 launches nothing */
  int64_t hidden;         /* must equal the plan's H */
  float eps;              /* rms_norm_fp8 only */
} kiln_args;

/* Which compiled variant serves a launch (introspection; strings live as long as the library). */
typedef struct kiln_variant_info {
  uint32_t struct_size;   /* sizeof(kiln_variant_info); set it before the call */
  const char* kernel;     /* "rms_norm_fp8" */
  const char* arch;       /* "sm90" */
  int64_t hidden;
  int32_t threshold;      /* the bucket's threshold (bs<N>); 0 for the generic kernel */
  int32_t is_fallback;    /* 1: the generic kernel runs (no config set, or KILN_SET_GENERIC) */
  const char* name;       /* "rms_norm_fp8_sm90_h4096_bs32", or "rms_norm_fp8_generic" */
  const char* config;     /* "configs/rms_norm_fp8/sm90/4096/bs32.json", or "" */
  const char* schedule;   /* "threads=256 vec=8 rows_per_cta=1 cluster=1", or "" */
} kiln_variant_info;

KILN_API const char* kiln_status_name(kiln_status status); /* "KILN_ERROR_NULL_POINTER" */
KILN_API const char* kiln_last_error(void);                /* this thread's last failure; "" if none */
KILN_API const char* kiln_version(void);

KILN_API void kiln_plan_options_init(kiln_plan_options* options);
KILN_API void kiln_args_init(kiln_args* args);

/* Start-up: pick the config set for (kernel, hidden, dtype, device). */
KILN_API kiln_status kiln_plan_create(const kiln_plan_options* options, kiln_plan** plan);
KILN_API void kiln_plan_destroy(kiln_plan* plan);
/* One line: what the plan chose and why (a fallback names the sets that exist). Lives with the plan. */
KILN_API const char* kiln_plan_summary(const kiln_plan* plan);
KILN_API kiln_status kiln_plan_describe(const kiln_plan* plan, int64_t tokens, kiln_variant_info* info);

/* The same answer without a device: which variant would serve (kernel, arch, hidden, tokens). */
KILN_API kiln_status kiln_explain(const char* kernel, const char* arch, int64_t hidden, int64_t tokens,
                                  kiln_variant_info* info);

/* Every step: launch on `stream` (a cudaStream_t). */
KILN_API kiln_status kiln_launch(const kiln_plan* plan, const kiln_args* args, void* stream);
KILN_API kiln_status kiln_silu_mul_fp8(const kiln_plan* plan, void* out, const void* input, const float* scale,
                                       int64_t tokens, int64_t hidden, void* stream);
KILN_API kiln_status kiln_rms_norm_fp8(const kiln_plan* plan, void* out, const void* input, const void* weight,
                                       const float* scale, float eps, int64_t tokens, int64_t hidden, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_H */
