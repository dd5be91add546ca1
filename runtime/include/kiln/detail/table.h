// kiln dispatch-table types: the contract between the rows kiln-gen writes into
// generated/dispatch_<arch>.cpp and the runtime that reads them at plan time.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "kiln/kiln.h"

// Generated tables static_assert against this, so a table written by an older or
// newer kiln-gen fails to compile instead of being misread.
#define KILN_TABLE_FORMAT 5

namespace kiln::detail {

enum class DType : int32_t { bf16 = 0, fp16 = 1 };
enum class Rounding : int32_t { single = 0, vllm = 1 };  // kiln_rounding
enum class ScaleLayout : int32_t { row_major = 0, col_major_tma = 1, packed_ue8m0 = 2 };  // kiln_scale_layout

// The most ranks a communicator kernel serves (kiln_plan_options.comm).
constexpr int kMaxRanks = 8;

// A communicator kernel's view of its plan's peers (KILN_OPTION_COMM), fixed at plan time:
// the plan allocated `workspace_bytes` on every rank with ncclMemAlloc, registered them as
// one NCCL symmetric window, and resolved each rank's workspace to a pointer this rank can
// load from and store to (NCCL's LSA pointers). The kernel's template owns the layout.
struct CommState {
  int32_t rank;                // this rank in the communicator
  int32_t ranks;               // the communicator's size, 2 .. kMaxRanks
  void* peers[kMaxRanks];      // every rank's workspace as this rank addresses it; [rank] is its own
  int64_t workspace_bytes;     // of each rank's workspace
  int64_t max_tokens;          // the plan's max_tokens: the most rows a launch brings
  int32_t sm_count;            // the device's SMs: a grid that spins on its peers must stay co-resident
};

// Everything a kernel may need for one launch, the tensors by role (kiln_role). Each
// kernel reads the fields its descriptor names and ignores the rest; the runtime has
// validated them already (null, alignment, aliasing, hidden, tokens).
struct LaunchParams {
  DType dtype;
  void* input;          // [tokens, hidden] or [tokens, 2*hidden]; in-out where the kernel writes over x
  const void* weight;   // [hidden]
  void* residual;       // [tokens, hidden], in-out
  void* output;         // [tokens, hidden]: fp8 e4m3fn or the input dtype
  void* scales;         // per-row or per-group scales written
  const float* scale;   // per-tensor fp32 scale in device memory
  const float* scale_ub;  // optional cap on a dynamic scale's max|x| (null: none)
  int64_t tokens;       // > 0
  int64_t hidden;       // the plan's hidden size (generic kernels read it)
  float eps;
  Rounding rounding;    // plan option
  bool gemma;           // plan option: (1 + w)
  bool static_weight;   // plan option: the weight may be read before the PDL wait
  const CommState* comm;  // communicator kernels: the plan's peers (host memory; null for the others)
  // Group quantisers (KILN_OPTION_GROUP), plan options; 0 / row_major / false for the others.
  int32_t group_size;        // 128 or 64 columns per scale
  ScaleLayout scale_layout;  // how `scales` is laid out
  bool ue8m0;                // scales rounded up to powers of two (always with packed_ue8m0)
};

using Launcher = cudaError_t (*)(const LaunchParams&, cudaStream_t);

// One row per (kernel, hidden, threshold). Rows are sorted by kernel, hidden,
// threshold. Thresholds whose schedules are identical share one instance: `name`
// and `launch` are then the first such threshold's, and `config` stays the row's own.
struct Variant {
  const char* kernel;    // the kernel's name, as its descriptor gives it
  int32_t hidden;        // 4096
  int32_t threshold;     // 32 (from bs32.json)
  const char* name;      // "<kernel>_sm90_h4096_bs32": the instance that runs
  const char* config;    // "configs/<kernel>/sm90/4096/bs32.json"
  const char* schedule;  // "threads=256 vec=8 rows_per_cta=1 cluster=1"
  int64_t max_tokens;    // the most tokens one launch may take: its grid stays within 2^31 - 1 blocks
  Launcher launch;
  int32_t ranks;         // communicator kernels: the communicator size it serves (configs/<kernel>/<arch>/<hidden>/tp<ranks>/); 0 for the others
};

// One row of the kernel registry (generated/kernels.cu), written from a kernel's
// descriptor: what introspection answers, what a launch is validated against, and
// the generic kernel that runs when no config set exists.
struct KernelEntry {
  const char* name;                // the descriptor's name
  const char* summary;             // one line: what it computes
  const kiln_tensor_desc* tensors;
  int32_t tensor_count;
  uint32_t options;                // KILN_OPTION_* it accepts
  uint32_t scalars;                // KILN_SCALAR_* it reads
  const char* generic_name;        // "<kernel>_generic"
  Launcher generic;                // hidden at run time, any element-aligned pointers
  cudaError_t (*probe)();          // cudaErrorNoKernelImageForDevice when this build has no SASS for the device
  // Communicator kernels (KILN_OPTION_COMM): the bytes of peer workspace each rank needs,
  // and how a fresh workspace is prepared before the first launch. Null for the others.
  int64_t (*workspace_bytes)(DType dtype, int64_t hidden, int32_t ranks, int64_t max_tokens);
  cudaError_t (*workspace_init)(void* workspace, int64_t bytes, cudaStream_t stream);
};

struct KernelRegistry {
  const KernelEntry* rows;         // sorted by name
  std::size_t count;
};

struct ArchTable {
  const char* arch;      // "sm90"
  const Variant* rows;
  std::size_t count;
};

}  // namespace kiln::detail
