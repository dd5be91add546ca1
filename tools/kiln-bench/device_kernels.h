// kiln-bench's own device code, behind host functions: the bandwidth-ceiling copy,
// the launch-floor empty kernels, the replay gate and the random fill.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace kiln_bench::device {

// Copy `bytes` (a multiple of 16) from src to dst with 16-byte loads and stores,
// grid-stride, four vectors in flight per thread; `streaming` uses evict-first
// cache hints (ld.global.cs / st.global.cs).
cudaError_t launch_copy(const void* src, void* dst, std::size_t bytes, int blocks, int threads, bool streaming,
                        cudaStream_t stream);
// Resident CTAs per SM for launch_copy at `threads` threads per CTA.
cudaError_t copy_blocks_per_sm(int threads, bool streaming, int* blocks);

// One CTA of 32 threads that does nothing. With `pdl`, it is launched with
// programmatic stream serialization (as kiln launches its kernels) and waits on /
// releases its neighbours the way a kiln kernel does.
cudaError_t launch_empty(bool pdl, cudaStream_t stream);

// Holds the stream until the host sets *flag (host-mapped memory) to non-zero, so
// that everything enqueued behind it is queued before the GPU starts on it. Gives
// up after timeout_ns and sets *timed_out.
cudaError_t launch_gate(const volatile int* flag, int* timed_out, unsigned long long timeout_ns, cudaStream_t stream);

// Fill `count` 16-bit values (bf16 if `bf16`, else fp16) with seeded normal(0, stddev)
// numbers, never zero (magnitudes below stddev/1024 are pushed out to it).
cudaError_t launch_fill_normal(uint16_t* dst, std::size_t count, bool bf16, uint64_t seed, float stddev,
                               cudaStream_t stream);

}  // namespace kiln_bench::device
