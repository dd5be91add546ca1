// What every GPU test binary needs before its first test: the device count, a check that a
// CUDA call succeeded, and the clean skip on a machine without a GPU (CI has none).
#pragma once

#include <gtest/gtest.h>

#include <cuda_runtime.h>

namespace kiln::test {

// Visible CUDA devices, 0 when there is no driver or no device (asked once).
inline int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
    cudaGetLastError();  // a failed query leaves a sticky error for the next call to read
    return n;
  }();
  return count;
}

inline bool has_gpu() { return device_count() > 0; }

}  // namespace kiln::test

// Fails the test (and returns from it) when a CUDA runtime call does not succeed.
#define CUDA_OK(call)                                                          \
  do {                                                                         \
    const cudaError_t err_ = (call);                                           \
    ASSERT_EQ(err_, cudaSuccess) << #call << ": " << cudaGetErrorString(err_); \
  } while (0)

#define REQUIRE_GPU() \
  if (!kiln::test::has_gpu()) GTEST_SKIP() << "no CUDA device"
