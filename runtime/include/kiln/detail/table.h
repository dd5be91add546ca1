// kiln dispatch-table types: the contract between the rows kiln-gen writes into
// generated/dispatch_<arch>.cpp and the runtime that reads them at plan time.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

// Generated tables static_assert against this, so a table written by an older or
// newer kiln-gen fails to compile instead of being misread.
#define KILN_TABLE_FORMAT 1

namespace kiln::detail {

enum class DType : int32_t { bf16 = 0, fp16 = 1 };

// Everything a kernel may need for one launch. Each kernel reads the fields its
// semantics name and ignores the rest; the runtime has validated them already.
struct LaunchParams {
  DType dtype;
  const void* input;    // [tokens, hidden] (silu_mul_fp8: [tokens, 2*hidden])
  const void* weight;   // [hidden] or nullptr
  void* output;         // [tokens, hidden] fp8 e4m3fn
  const float* scale;   // per-tensor fp32 scale in device memory
  int64_t tokens;       // > 0
  int64_t hidden;       // the plan's hidden size (generic kernels read it)
  float eps;
};

using Launcher = cudaError_t (*)(const LaunchParams&, cudaStream_t);

// One row per (kernel, hidden, threshold). Rows are sorted by kernel, hidden,
// threshold. Thresholds whose schedules are identical share one instance: `name`
// and `launch` are then the first such threshold's, and `config` stays the row's own.
struct Variant {
  const char* kernel;    // "rms_norm_fp8"
  int32_t hidden;        // 4096
  int32_t threshold;     // 32 (from bs32.json)
  const char* name;      // "rms_norm_fp8_sm90_h4096_bs32": the instance that runs
  const char* config;    // "configs/rms_norm_fp8/sm90/4096/bs32.json"
  const char* schedule;  // "threads=256 vec=8 rows_per_cta=1 cluster=1"
  Launcher launch;
};

struct ArchTable {
  const char* arch;      // "sm90"
  const Variant* rows;
  std::size_t count;
};

}  // namespace kiln::detail
