// A predecessor that writes a kiln kernel's inputs late: with PDL on, the kernel may start
// before the kernel in front of it has finished, and must still read only what that kernel
// wrote (docs/design.md, "PDL"). Used by test_gpu and test_comm.
//
//   LateWriter w;
//   w.add(device_tensor, host_values, bytes);   // the tensor holds stale values until then
//   w.launch(stream);                            // then kiln_launch on the same stream
//   ... synchronise the stream before w goes out of scope (it frees the staged copies).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::test {

constexpr int kMaxLateSegments = 16;

struct LateSegments {
  unsigned char* dst[kMaxLateSegments];
  const unsigned char* src[kMaxLateSegments];
  int64_t bytes[kMaxLateSegments];
  int count;
};

__global__ void slow_fill(LateSegments s) {
  // Let the kernel behind start at once (PDL starts it when every block here has triggered or
  // exited): a read before its wait then sees the stale values, not the finished data.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const long long start = clock64();
  while (clock64() - start < 20000) {
  }
  for (int k = 0; k < s.count; ++k)
    if (i < s.bytes[k]) s.dst[k][i] = s.src[k][i];
}

class LateWriter {
 public:
  LateWriter() = default;
  ~LateWriter() {
    for (int k = 0; k < seg_.count; ++k) cudaFree(const_cast<unsigned char*>(seg_.src[k]));
  }
  LateWriter(const LateWriter&) = delete;
  LateWriter& operator=(const LateWriter&) = delete;

  // `bytes` of `host` to be written to `dst` by launch(): staged in device memory now.
  // "" when staged.
  std::string add(void* dst, const void* host, size_t bytes) {
    if (bytes == 0) return "";
    if (seg_.count == kMaxLateSegments) return "LateWriter: more than " + std::to_string(kMaxLateSegments) + " tensors";
    void* staged = nullptr;
    if (cudaError_t e = cudaMalloc(&staged, bytes); e != cudaSuccess) return std::string("cudaMalloc: ") + cudaGetErrorString(e);
    seg_.src[seg_.count] = static_cast<const unsigned char*>(staged);
    seg_.dst[seg_.count] = static_cast<unsigned char*>(dst);
    seg_.bytes[seg_.count++] = static_cast<int64_t>(bytes);
    if (cudaError_t e = cudaMemcpy(staged, host, bytes, cudaMemcpyHostToDevice); e != cudaSuccess)
      return std::string("cudaMemcpy: ") + cudaGetErrorString(e);
    longest_ = std::max(longest_, static_cast<int64_t>(bytes));
    return "";
  }

  // The slow writer, on `stream`. "" when launched.
  std::string launch(cudaStream_t stream) const {
    if (seg_.count == 0) return "";
    slow_fill<<<static_cast<unsigned>((longest_ + 255) / 256), 256, 0, stream>>>(seg_);
    const cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? "" : std::string("slow_fill: ") + cudaGetErrorString(e);
  }

 private:
  LateSegments seg_{};
  int64_t longest_ = 0;
};

}  // namespace kiln::test
