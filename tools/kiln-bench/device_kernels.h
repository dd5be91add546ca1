// kiln-bench's own device code, behind host functions. The measuring itself (graphs,
// ceiling, floor, random fill) is the measuring library's (tools/measure).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace kiln_bench::device {

enum class Values { half16, fp8_e4m3, f32 };  // half16: bf16 or fp16 (same NaN/inf encoding: all-ones exponent)

// Adds to *counter how many of the `count` values at `data` are NaN or infinite.
cudaError_t count_nonfinite(const void* data, std::size_t count, Values values, bool bf16,
                            unsigned long long* counter, cudaStream_t stream);

}  // namespace kiln_bench::device
