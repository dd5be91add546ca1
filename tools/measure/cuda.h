// Checked CUDA runtime calls and small RAII owners (memory, stream, event, graph) for
// kiln's measuring code. A failure throws CudaError, which names the call, file:line
// and the error, and keeps the cudaError_t for callers that must return it (kiln-tune's
// candidate libraries answer with error codes).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "measure/text.h"

namespace kiln::measure {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

[[noreturn]] inline void throw_cuda(cudaError_t err, const char* call, const char* file, int line) {
  cudaGetLastError();  // clears a non-sticky error, so the next call does not see it
  throw CudaError(err, std::string(file) + ":" + std::to_string(line) + ": " + call + ": " + cudaGetErrorName(err) +
                           " (" + cudaGetErrorString(err) + ")");
}

#define KILN_CUDA_CHECK(call)                                                      \
  do {                                                                             \
    const cudaError_t kiln_cuda_check_err_ = (call);                               \
    if (kiln_cuda_check_err_ != cudaSuccess)                                       \
      ::kiln::measure::throw_cuda(kiln_cuda_check_err_, #call, __FILE__, __LINE__); \
  } while (0)

class DeviceMemory {
 public:
  DeviceMemory() = default;
  explicit DeviceMemory(std::size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    if (const cudaError_t err = cudaMalloc(&ptr_, bytes); err != cudaSuccess) {
      cudaGetLastError();
      ptr_ = nullptr;
      throw CudaError(err, "cudaMalloc(" + format_bytes(static_cast<double>(bytes)) + "): " + cudaGetErrorString(err));
    }
  }
  DeviceMemory(DeviceMemory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() {
    if (ptr_) cudaFree(ptr_);
  }

  void* get() const { return ptr_; }
  unsigned char* at(std::size_t offset) const { return static_cast<unsigned char*>(ptr_) + offset; }
  std::size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

class Stream {
 public:
  Stream() { KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(stream_); }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { KILN_CUDA_CHECK(cudaEventCreate(&event_)); }
  Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() {
    if (event_) cudaEventDestroy(event_);
  }
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Milliseconds between two recorded events (both complete).
inline float elapsed_ms(const Event& start, const Event& stop) {
  float ms = 0.0f;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms;
}

class GraphExec {
 public:
  explicit GraphExec(cudaGraph_t graph) {
    const cudaError_t err = cudaGraphInstantiate(&exec_, graph, 0);
    cudaGraphDestroy(graph);
    KILN_CUDA_CHECK(err);
  }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  ~GraphExec() {
    if (exec_) cudaGraphExecDestroy(exec_);
  }
  cudaGraphExec_t get() const { return exec_; }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace kiln::measure
