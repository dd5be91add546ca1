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
 * A communicator kernel's launches (KILN_OPTION_COMM) are steps of a protocol between its
 * ranks, each waiting for its peers' data: every rank launches the same sequence of token
 * counts, and one rank's launches of a plan must be ordered (one stream, or streams ordered
 * by events).
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

#include "kiln/version.h" /* KILN_VERSION_MAJOR, _MINOR, _PATCH, _STRING: generated from meson.build */

typedef enum kiln_status {
  KILN_SUCCESS = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1,   /* a null handle or options struct, a bad enum, a bad struct_size, an option the kernel lacks */
  KILN_ERROR_UNKNOWN_KERNEL = 2,     /* no kernel of that name in this library */
  KILN_ERROR_UNSUPPORTED_DTYPE = 3,  /* dtype is not bf16 or fp16 */
  KILN_ERROR_INVALID_HIDDEN = 4,     /* hidden size <= 0 or beyond what the kernels address */
  KILN_ERROR_HIDDEN_MISMATCH = 5,    /* a launch's hidden size differs from the plan's */
  KILN_ERROR_NULL_POINTER = 6,       /* a tensor the kernel needs is null */
  KILN_ERROR_MISALIGNED_POINTER = 7, /* a pointer is not aligned as the chosen variant needs */
  KILN_ERROR_INVALID_TOKENS = 8,     /* tokens < 0, or more than the chosen variant's grid can take (kiln_args) */
  KILN_ERROR_NO_CONFIG_SET = 9,      /* strict plan: no tuned config set for this hidden size */
  KILN_ERROR_NO_DEVICE_IMAGE = 10,   /* this library holds no SASS for the device's architecture */
  KILN_ERROR_NO_DEVICE = 11,         /* no CUDA device, or the device index is out of range */
  KILN_ERROR_CUDA = 12,              /* the CUDA runtime reported an error (message has it) */
  KILN_ERROR_OUT_OF_MEMORY = 13,     /* host memory for a plan could not be allocated */
  KILN_ERROR_ALIASING = 14,          /* a tensor the kernel writes overlaps another tensor of the launch */
  KILN_ERROR_WRONG_DEVICE = 15,      /* the calling thread's current device is not the plan's */
  KILN_ERROR_DTYPE_MISMATCH = 16,    /* kiln_args.dtype is unset or differs from the plan's dtype */
  KILN_ERROR_NCCL = 17,              /* a communicator kernel: libnccl.so.2 could not be loaded, is older than 2.28
                                      * (no symmetric windows), or an NCCL call failed (the message has its error) */
  KILN_ERROR_UNSUPPORTED_COMM = 18   /* the communicator has one rank or more than 8, or its peers' memory cannot be
                                      * reached by load/store (no NVLink or PCIe P2P symmetric memory) */
} kiln_status;

typedef enum kiln_dtype {
  KILN_DTYPE_UNSET = -1, /* kiln_args_init's value: a launch refuses it (a plan refuses it too) */
  KILN_DTYPE_BF16 = 0,
  KILN_DTYPE_FP16 = 1
} kiln_dtype;

/* How a plan picks its config set (docs/design.md, "runtime"). */
typedef enum kiln_set_policy {
  KILN_SET_EXACT = 0,   /* the set for this hidden size; without one, the generic kernel (reported) */
  KILN_SET_STRICT = 1,  /* the set for this hidden size, or KILN_ERROR_NO_CONFIG_SET */
  KILN_SET_GENERIC = 2  /* always the generic kernel (a baseline, or to rule kiln's tuning out) */
} kiln_set_policy;

/* Where a norm kernel rounds to the input dtype (docs/design.md, "Kernel semantics"). */
typedef enum kiln_rounding {
  KILN_ROUNDING_SINGLE = 0, /* fp32 from load to the one final rounding */
  KILN_ROUNDING_VLLM = 1    /* round where vLLM's unfused CUDA kernels round: a drop-in for its _C ops */
} kiln_rounding;

/* ---- kernels are data: every kernel's tensors, by role ----------------------------- */

/* A launch passes its tensors by role: kiln_args.tensors[KILN_ROLE_...]. */
typedef enum kiln_role {
  KILN_ROLE_INPUT = 0,    /* x: the activations read (in-out where a kernel writes its result over x) */
  KILN_ROLE_WEIGHT = 1,   /* the norm weight [H] */
  KILN_ROLE_RESIDUAL = 2, /* the residual stream, read and written (x + r written over r) */
  KILN_ROLE_OUTPUT = 3,   /* the result */
  KILN_ROLE_SCALES = 4,   /* per-row or per-group scales a quantising kernel writes */
  KILN_ROLE_SCALE = 5,    /* the per-tensor fp32 scale in device memory (outputs are multiplied by 1/scale) */
  KILN_ROLE_SCALE_UB = 6  /* an optional fp32 [1] cap in device memory on what a dynamic scale is taken from (since 0.5) */
} kiln_role;
#define KILN_ROLE_SLOTS 8 /* kiln_args.tensors has room for roles still to come */

typedef enum kiln_direction { KILN_DIR_IN = 0, KILN_DIR_OUT = 1, KILN_DIR_INOUT = 2 } kiln_direction;

typedef enum kiln_elem {
  KILN_ELEM_ACTIVATION = 0, /* the plan's dtype (bf16 or fp16) */
  KILN_ELEM_FP8_E4M3 = 1,
  KILN_ELEM_F32 = 2,
  KILN_ELEM_I32 = 3
} kiln_elem;

/* One dimension of a tensor, in terms of the launch's tokens T and hidden size H. */
typedef enum kiln_extent {
  KILN_EXTENT_ONE = 0,
  KILN_EXTENT_TOKENS = 1,    /* T */
  KILN_EXTENT_HIDDEN = 2,    /* H */
  KILN_EXTENT_2HIDDEN = 3,   /* 2H (an activation's gate and up halves) */
  KILN_EXTENT_GROUPS = 4     /* G = ceil(H / group_size): a per-group scales tensor's columns (KILN_OPTION_GROUP) */
} kiln_extent;

/* How a group quantiser lays out its scales [T, G] (KILN_OPTION_GROUP; docs/design.md, "Scale layouts").
 * T4 is T rounded up to a multiple of 4. kiln_tensor_layout gives each one's shape, strides and size. */
typedef enum kiln_scale_layout {
  KILN_SCALES_ROW_MAJOR = 0,     /* fp32, scale (t, g) at element t*G + g */
  KILN_SCALES_COL_MAJOR_TMA = 1, /* fp32, scale (t, g) at element g*T4 + t: the TMA-aligned layout DeepGEMM reads;
                                  * (G-1)*T4 + T elements, rows T..T4-1 are not written */
  KILN_SCALES_PACKED_UE8M0 = 2   /* int32, byte g%4 of word (g/4)*T4 + t holds the biased exponent of scale (t, g)
                                  * (a power of two: implies ue8m0); ((G+3)/4 - 1)*T4 + T words, padding bytes written 0 */
} kiln_scale_layout;

/* Semantic options a kernel accepts (kiln_kernel_desc.options). */
#define KILN_OPTION_ROUNDING 0x1u /* kiln_plan_options.rounding */
#define KILN_OPTION_GEMMA 0x2u    /* kiln_plan_options.gemma: the norm multiplies by (1 + w) */
#define KILN_OPTION_STATIC_WEIGHT 0x4u /* kiln_plan_options.static_weight (every kernel with a weight) */
#define KILN_OPTION_COMM 0x8u     /* kiln_plan_options.comm and .max_tokens: the kernel reduces over the ranks of an
                                   * NCCL communicator; such a plan's create and destroy are collective */
#define KILN_OPTION_GROUP 0x10u   /* kiln_plan_options.group_size, .scale_layout and .ue8m0: per-group scales */
#define KILN_DEFAULT_GROUP_SIZE 128 /* the group size of kiln_plan_options.group_size = 0 */
/* Scalars a kernel reads from kiln_args (kiln_kernel_desc.scalars). */
#define KILN_SCALAR_EPS 0x1u

typedef struct kiln_tensor_desc {
  const char* name;          /* the parameter name of the typed entry point: "out", "input", ... */
  kiln_role role;
  kiln_direction direction;
  kiln_elem elem;
  kiln_extent rows, cols;    /* shape [rows, cols], rows contiguous */
  int32_t alignment;         /* bytes the specialised variants need; the generic kernel needs element alignment */
  int32_t optional;          /* since 0.5: 1 = the tensor may be NULL (the kernel then goes without it) */
} kiln_tensor_desc;

typedef struct kiln_kernel_desc {
  uint32_t struct_size;      /* set it before the call */
  const char* name;          /* the kernel's name (its configs/ folder) */
  const char* summary;       /* one line: what it computes */
  int32_t tensor_count;
  const kiln_tensor_desc* tensors; /* static lifetime */
  uint32_t options;          /* KILN_OPTION_* bits */
  uint32_t scalars;          /* KILN_SCALAR_* bits */
} kiln_kernel_desc;

/* ---- plans and launches ------------------------------------------------------------ */

typedef struct kiln_plan kiln_plan; /* opaque; immutable once created */

typedef struct kiln_plan_options {
  uint32_t struct_size;   /* sizeof(kiln_plan_options); kiln_plan_options_init sets it */
  const char* kernel;     /* a kernel's name; kiln_kernel_at lists them */
  int64_t hidden;         /* H */
  kiln_dtype dtype;       /* input dtype */
  int32_t device;         /* CUDA device index; -1 = the calling thread's current device */
  kiln_set_policy policy; /* KILN_SET_EXACT unless set; the environment KILN_STRICT=1 upgrades EXACT to STRICT */
  /* since 0.2; a caller's 0.1 struct (without these) gets the defaults */
  kiln_rounding rounding; /* KILN_ROUNDING_SINGLE unless set; kernels with KILN_OPTION_ROUNDING */
  int32_t gemma;          /* 0 unless set; 1: w is replaced by (1 + w), in fp32 (KILN_OPTION_GEMMA) */
  int32_t static_weight;  /* 0 unless set; 1: the caller promises no kernel writes the weight while kiln kernels
                           * may run (true of model weights), so a launch may read it before waiting for its
                           * predecessor (PDL) and small batches do not wait on it; a schedule that reads the
                           * weight where it uses it reads it after the wait anyway (KILN_OPTION_STATIC_WEIGHT) */
  /* since 0.4; a caller's 0.3 struct (without these) gets NULL and 0 */
  void* comm;             /* KILN_OPTION_COMM kernels: the ncclComm_t whose ranks are summed; NULL for the others.
                           * Collective: every rank of comm creates its plan with the same options (its own device),
                           * at the same time (one thread or process per rank), and destroys it the same way. */
  int64_t max_tokens;     /* KILN_OPTION_COMM kernels: the most tokens one launch may take; it sizes the peer
                           * workspace the plan allocates once (ncclMemAlloc). A launch beyond it gets
                           * KILN_ERROR_INVALID_TOKENS. Must be > 0 for those kernels, 0 for the others. */
  /* since 0.5; a caller's 0.4 struct (without these) gets 0 */
  int32_t group_size;     /* KILN_OPTION_GROUP kernels: columns per scale, 128 or 64 (0 = KILN_DEFAULT_GROUP_SIZE); 0 for the others */
  kiln_scale_layout scale_layout; /* KILN_OPTION_GROUP kernels: KILN_SCALES_ROW_MAJOR unless set */
  int32_t ue8m0;          /* KILN_OPTION_GROUP kernels: 1 = each scale rounded up to a power of two (UE8M0);
                           * KILN_SCALES_PACKED_UE8M0 needs it (0 there is taken as 1) */
} kiln_plan_options;

/* Arguments of one launch. Pointers are device pointers; rows are contiguous. */
typedef struct kiln_args {
  uint32_t struct_size;   /* sizeof(kiln_args); kiln_args_init sets it */
  int64_t tokens;         /* T >= 0; 0 launches nothing */
  int64_t hidden;         /* must equal the plan's H */
  void* tensors[KILN_ROLE_SLOTS]; /* by kiln_role; roles the kernel does not have must be NULL */
  float eps;              /* kernels with KILN_SCALAR_EPS */
  /* since 0.3; a caller's 0.2 struct (96 bytes: eps and tail padding) is not checked */
  int32_t reserved;       /* never read; it puts dtype past 0.2's tail padding, so the two sizes differ */
  kiln_dtype dtype;       /* the dtype the caller's activation tensors hold: must equal the plan's, so fp16 data
                           * through a bf16 plan is KILN_ERROR_DTYPE_MISMATCH, not wrong numbers. kiln_args_init
                           * sets KILN_DTYPE_UNSET, which a launch refuses: say what the tensors are */
} kiln_args;

/* Which compiled variant serves a launch (introspection; strings live as long as the library). */
typedef struct kiln_variant_info {
  uint32_t struct_size;   /* sizeof(kiln_variant_info); set it before the call */
  const char* kernel;     /* the kernel's name */
  const char* arch;       /* "sm90" */
  int64_t hidden;
  int32_t threshold;      /* the bucket's threshold (bs<N>); 0 for the generic kernel and for tokens = 0 */
  int32_t is_fallback;    /* 1: the generic kernel runs (no config set, or KILN_SET_GENERIC); 0 for tokens = 0 */
  const char* name;       /* "<kernel>_sm90_h4096_bs32", "<kernel>_generic", or "" for tokens = 0 */
  const char* config;     /* "configs/<kernel>/sm90/4096/bs32.json", or "" */
  const char* schedule;   /* "threads=256 vec=8 rows_per_cta=1 cluster=1", or "" */
  /* since 0.4 */
  int32_t ranks;          /* KILN_OPTION_COMM kernels: the communicator size the variant is built for; 0 for the others */
} kiln_variant_info;

KILN_API const char* kiln_status_name(kiln_status status); /* "KILN_ERROR_NULL_POINTER" */
KILN_API const char* kiln_last_error(void);                /* this thread's last failure; "" if none */
KILN_API const char* kiln_version(void);

/* The kernels of this library, without a GPU: index 0 .. kiln_kernel_count() - 1, sorted by name. */
KILN_API int32_t kiln_kernel_count(void);
KILN_API kiln_status kiln_kernel_at(int32_t index, kiln_kernel_desc* desc);
KILN_API kiln_status kiln_kernel_find(const char* name, kiln_kernel_desc* desc);
/* The fewest bytes a launch of `tokens` rows must move: each input read once, each output
 * written once, an in-out tensor both. The one formula kiln-bench, kiln-tune and Python use. */
KILN_API kiln_status kiln_min_bytes(const char* kernel, kiln_dtype dtype, int64_t hidden, int64_t tokens, int64_t* bytes);

/* One tensor's shape at (hidden, tokens): rows, cols and the bytes of one element (per-group
 * scales: the default options, group_size 128 row-major; kiln_tensor_layout_of takes the options). */
KILN_API kiln_status kiln_tensor_shape(const kiln_tensor_desc* tensor, int64_t hidden, int64_t tokens, int64_t* rows,
                                       int64_t* cols, int64_t* elem_bytes);

KILN_API void kiln_plan_options_init(kiln_plan_options* options);
KILN_API void kiln_args_init(kiln_args* args);

/* A tensor's storage under a kernel's options (the group scales' layout depends on group_size and
 * scale_layout): shape [rows, cols], element (i, j) at i*row_stride + j*col_stride, and the elements a
 * launch may touch, which is what to allocate (torch.empty_strided((rows, cols), (row_stride, col_stride))
 * allocates exactly that). For every other tensor it is kiln_tensor_shape's, row-major. */
typedef struct kiln_tensor_layout {
  uint32_t struct_size;   /* set it before the call */
  int64_t rows, cols;
  int64_t row_stride, col_stride; /* in elements */
  int64_t elements;       /* the span, in elements */
  int64_t elem_bytes;
} kiln_tensor_layout;
KILN_API kiln_status kiln_tensor_layout_of(const kiln_tensor_desc* tensor, const kiln_plan_options* options,
                                           int64_t tokens, kiln_tensor_layout* layout);

/* Start-up: pick the config set for (kernel, hidden, dtype, device). */
KILN_API kiln_status kiln_plan_create(const kiln_plan_options* options, kiln_plan** plan);
/* Destroying a plan twice, or using it after, is undefined behaviour (as free()). NULL is ignored. */
KILN_API void kiln_plan_destroy(kiln_plan* plan);
/* One line: what the plan chose and why (a fallback names the sets that exist). Lives with the plan. */
KILN_API const char* kiln_plan_summary(const kiln_plan* plan);
KILN_API kiln_status kiln_plan_describe(const kiln_plan* plan, int64_t tokens, kiln_variant_info* info);

/* The same answer without a device: which variant would serve (kernel, arch, hidden, tokens).
 * A communicator kernel (KILN_OPTION_COMM) is explained by kiln_explain_comm, for a rank count. */
KILN_API kiln_status kiln_explain(const char* kernel, const char* arch, int64_t hidden, int64_t tokens,
                                  kiln_variant_info* info);
KILN_API kiln_status kiln_explain_comm(const char* kernel, const char* arch, int64_t hidden, int32_t ranks,
                                       int64_t tokens, kiln_variant_info* info);

/* Every step: launch on `stream` (a cudaStream_t), on the plan's device: the calling
 * thread's current device must be the plan's (else KILN_ERROR_WRONG_DEVICE). */
KILN_API kiln_status kiln_launch(const kiln_plan* plan, const kiln_args* args, void* stream);

#ifdef __cplusplus
}
#endif

/* One typed entry point per kernel (kiln_<kernel>), generated from the descriptors. Kernel
 * sources (templates/common.cuh) leave them out, so adding a kernel does not rebuild the others. */
#ifndef KILN_NO_TYPED_ENTRY_POINTS
#include "kiln/kernels.h"
#endif

#endif /* KILN_KILN_H */
