#include "comm.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include <cuda_runtime_api.h>
#include <nccl.h>  // types and constants only: the functions come from dlopen

#include "comm_peers.h"

namespace kiln::runtime {
namespace {

// NCCL is loaded at the first communicator plan, not linked: libkiln stays usable
// without NCCL, and it calls into the very library (hence the same ncclComm_t layout)
// that the engine made its communicator with.
struct Nccl {
  ncclResult_t (*GetVersion)(int*);
  const char* (*GetErrorString)(ncclResult_t);
  const char* (*GetLastError)(ncclComm_t);
  ncclResult_t (*CommCount)(const ncclComm_t, int*);
  ncclResult_t (*CommUserRank)(const ncclComm_t, int*);
  ncclResult_t (*CommCuDevice)(const ncclComm_t, int*);
  ncclResult_t (*MemAlloc)(void**, size_t);
  ncclResult_t (*MemFree)(void*);
  ncclResult_t (*CommWindowRegister)(ncclComm_t, void*, size_t, ncclWindow_t*, int);
  ncclResult_t (*CommWindowDeregister)(ncclComm_t, ncclWindow_t);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
  std::string error;  // why loading failed; empty when every function was found
};

constexpr int kMinVersion = 22800;  // 2.28.0: symmetric windows and the LSA device API

template <class F>
bool find(void* lib, const char* name, F& f, std::string& error) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  if (f == nullptr && error.empty()) error = std::string(name) + " is missing (NCCL older than 2.28?)";
  return f != nullptr;
}

const Nccl& nccl() {
  static Nccl n{};
  static std::once_flag once;
  std::call_once(once, [] {
    const char* override_path = std::getenv("KILN_NCCL_LIBRARY");
    const char* name = override_path && *override_path ? override_path : "libnccl.so.2";
    // The copy the process has already loaded (the engine's), else a fresh load.
    void* lib = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (lib == nullptr) lib = dlopen(name, RTLD_NOW);
    if (lib == nullptr) {
      const char* why = dlerror();
      n.error = std::string("cannot load ") + name + ": " + (why ? why : "unknown error") +
                " (set KILN_NCCL_LIBRARY to its path)";
      return;
    }
    find(lib, "ncclGetVersion", n.GetVersion, n.error);
    find(lib, "ncclGetErrorString", n.GetErrorString, n.error);
    find(lib, "ncclGetLastError", n.GetLastError, n.error);
    find(lib, "ncclCommCount", n.CommCount, n.error);
    find(lib, "ncclCommUserRank", n.CommUserRank, n.error);
    find(lib, "ncclCommCuDevice", n.CommCuDevice, n.error);
    find(lib, "ncclMemAlloc", n.MemAlloc, n.error);
    find(lib, "ncclMemFree", n.MemFree, n.error);
    find(lib, "ncclCommWindowRegister", n.CommWindowRegister, n.error);
    find(lib, "ncclCommWindowDeregister", n.CommWindowDeregister, n.error);
    find(lib, "ncclAllReduce", n.AllReduce, n.error);
  });
  return n;
}

// kiln's own bytes after the kernel's workspace: each rank's tag, which its peers read to
// prove the pointers they resolved, and a word for the start-up barriers.
constexpr int64_t kTailBytes = 256;
constexpr int64_t kBarrierOffset = 128;
constexpr uint32_t kTagMagic = 0x6b696c6e;  // "kiln"

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// Restores the calling thread's device on every path out of create().
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    cudaSetDevice(device);
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

}  // namespace

std::unique_ptr<Comm> Comm::create(const KernelInfo& kernel, void* nccl_comm, int32_t device, detail::DType dtype,
                                   int64_t hidden, int64_t max_tokens, CommError& error) {
  auto failed = [&](kiln_status status, std::string message) {
    error = {status, std::string(kernel.name) + ": " + std::move(message)};
    return nullptr;
  };
  const Nccl& n = nccl();
  if (!n.error.empty()) return failed(KILN_ERROR_NCCL, n.error);
  int version = 0;
  n.GetVersion(&version);
  if (version < kMinVersion)
    return failed(KILN_ERROR_NCCL, "NCCL " + std::to_string(version) + " has no symmetric windows: 2.28 or later needed");

  auto* comm = static_cast<ncclComm_t>(nccl_comm);
  auto nccl_failed = [&](ncclResult_t r, const char* call) {
    const char* last = n.GetLastError(comm);
    return failed(KILN_ERROR_NCCL, std::string(call) + ": " + n.GetErrorString(r) + (last && *last ? std::string(" (") + last + ")" : ""));
  };
  int ranks = 0, rank = 0, comm_device = -1;
  if (ncclResult_t r = n.CommCount(comm, &ranks); r != ncclSuccess) return nccl_failed(r, "ncclCommCount");
  if (ncclResult_t r = n.CommUserRank(comm, &rank); r != ncclSuccess) return nccl_failed(r, "ncclCommUserRank");
  if (ncclResult_t r = n.CommCuDevice(comm, &comm_device); r != ncclSuccess) return nccl_failed(r, "ncclCommCuDevice");
  if (ranks < 2 || ranks > detail::kMaxRanks)
    return failed(KILN_ERROR_UNSUPPORTED_COMM, "the communicator has " + std::to_string(ranks) +
                                                   " rank(s): the kernel sums over 2 to " +
                                                   std::to_string(detail::kMaxRanks));
  if (comm_device != device)
    return failed(KILN_ERROR_INVALID_ARGUMENT, "the communicator's rank " + std::to_string(rank) + " is on device " +
                                                   std::to_string(comm_device) + " but the plan is for device " +
                                                   std::to_string(device));

  DeviceGuard guard(device);
  std::unique_ptr<Comm> c(new Comm);
  c->nccl_comm_ = nccl_comm;
  c->device_ = device;
  const int64_t bytes = kernel.workspace_bytes(dtype, hidden, ranks, max_tokens);
  const int64_t total = round_up(bytes, 256) + kTailBytes;
  auto cuda_failed = [&](cudaError_t e, const char* call) {
    cudaGetLastError();
    return failed(KILN_ERROR_CUDA, std::string(call) + ": " + cudaGetErrorString(e));
  };
  if (ncclResult_t r = n.MemAlloc(&c->workspace_, static_cast<size_t>(total)); r != ncclSuccess)
    return nccl_failed(r, "ncclMemAlloc");
  ncclWindow_t window = nullptr;
  if (ncclResult_t r = n.CommWindowRegister(comm, c->workspace_, static_cast<size_t>(total), &window,
                                            NCCL_WIN_COLL_SYMMETRIC);
      r != ncclSuccess)
    return nccl_failed(r, "ncclCommWindowRegister");
  c->window_ = window;
  // Without symmetric memory (no P2P, or CUDA's VMM off) registration succeeds but
  // hands back a host-side handle that no kernel can read.
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, window) != cudaSuccess || attributes.type != cudaMemoryTypeDevice) {
    cudaGetLastError();
    return failed(KILN_ERROR_UNSUPPORTED_COMM,
                  "NCCL gave no device-side symmetric window: the ranks' memory cannot be reached by load/store "
                  "(no NVLink or P2P, or NCCL_CUMEM_ENABLE=0)");
  }

  cudaStream_t stream = nullptr;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); e != cudaSuccess)
    return cuda_failed(e, "cudaStreamCreateWithFlags");
  struct StreamGuard {
    cudaStream_t s;
    ~StreamGuard() { cudaStreamDestroy(s); }
  } stream_guard{stream};
  struct Resolved {
    void* peers[detail::kMaxRanks];
    int world_rank;
  };
  Resolved* resolved = nullptr;
  if (cudaError_t e = cudaMalloc(&resolved, sizeof(Resolved)); e != cudaSuccess) return cuda_failed(e, "cudaMalloc");
  Resolved host{};
  cudaError_t e = resolve_peer_pointers(window, ranks, resolved->peers, &resolved->world_rank, stream);
  if (e == cudaSuccess) e = cudaMemcpyAsync(&host, resolved, sizeof host, cudaMemcpyDeviceToHost, stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  cudaFree(resolved);
  if (e != cudaSuccess) return cuda_failed(e, "resolving the peers' pointers");
  if (host.world_rank != rank)
    return failed(KILN_ERROR_UNSUPPORTED_COMM, "NCCL's window says rank " + std::to_string(host.world_rank) +
                                                   " where the communicator says " + std::to_string(rank));

  // Every rank writes its tag, waits for all (a one-word all-reduce), then reads every
  // rank's tag through the pointer it resolved: a wrong or unmapped pointer fails here.
  char* tail = static_cast<char*>(c->workspace_) + round_up(bytes, 256);
  const int64_t tail_offset = round_up(bytes, 256);
  const uint32_t tag[2] = {kTagMagic, static_cast<uint32_t>(rank)};
  auto barrier = [&]() -> bool {
    auto* word = reinterpret_cast<float*>(tail + kBarrierOffset);
    return n.AllReduce(word, word, 1, ncclFloat32, ncclSum, comm, stream) == ncclSuccess &&
           cudaStreamSynchronize(stream) == cudaSuccess;
  };
  if (cudaError_t e2 = cudaMemcpyAsync(tail, tag, sizeof tag, cudaMemcpyHostToDevice, stream); e2 != cudaSuccess)
    return cuda_failed(e2, "writing the rank's tag");
  if (cudaError_t e2 = cudaStreamSynchronize(stream); e2 != cudaSuccess) return cuda_failed(e2, "writing the rank's tag");
  if (!barrier()) return failed(KILN_ERROR_NCCL, "the start-up barrier (ncclAllReduce of one word) failed");
  for (int r = 0; r < ranks; ++r) {
    uint32_t seen[2] = {0, 0};
    const char* peer_tail = static_cast<const char*>(host.peers[r]) + tail_offset;
    if (cudaMemcpyAsync(seen, peer_tail, sizeof seen, cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
        cudaStreamSynchronize(stream) != cudaSuccess || seen[0] != kTagMagic || seen[1] != static_cast<uint32_t>(r)) {
      cudaGetLastError();
      return failed(KILN_ERROR_UNSUPPORTED_COMM, "rank " + std::to_string(r) +
                                                     "'s workspace cannot be read through its NCCL LSA pointer");
    }
    c->state_.peers[r] = host.peers[r];
  }

  if (cudaError_t e2 = kernel.workspace_init(c->workspace_, bytes, stream); e2 != cudaSuccess)
    return cuda_failed(e2, "preparing the workspace");
  if (cudaError_t e2 = cudaStreamSynchronize(stream); e2 != cudaSuccess) return cuda_failed(e2, "preparing the workspace");
  // No rank may store into a peer's workspace before that peer has prepared it.
  if (!barrier()) return failed(KILN_ERROR_NCCL, "the start-up barrier (ncclAllReduce of one word) failed");

  int sm_count = 0;
  cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device);
  c->state_.rank = rank;
  c->state_.ranks = ranks;
  c->state_.workspace_bytes = bytes;
  c->state_.max_tokens = max_tokens;
  c->state_.sm_count = sm_count;
  return c;
}

Comm::~Comm() {
  const Nccl& n = nccl();
  DeviceGuard guard(device_);
  cudaDeviceSynchronize();  // no launch may still use the workspace
  if (window_ != nullptr) n.CommWindowDeregister(static_cast<ncclComm_t>(nccl_comm_), static_cast<ncclWindow_t>(window_));
  if (workspace_ != nullptr) n.MemFree(workspace_);
}

}  // namespace kiln::runtime
