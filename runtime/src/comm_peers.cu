// The one piece of NCCL device code in kiln: turning a symmetric window into the plain
// pointers kiln's kernels store to and load from. NCCL 2.28 answers this only on the
// device, so plan creation runs this kernel once; launches never touch NCCL.
#include <nccl.h>
#include <nccl_device.h>

#include "comm_peers.h"

namespace kiln::runtime {
namespace {

__global__ void resolve_peers(ncclWindow_t window, int ranks, void** peers, int* world_rank) {
  for (int r = 0; r < ranks; ++r) peers[r] = ncclGetPeerPointer(window, 0, r);  // by world rank
  *world_rank = window->worldRank;
}

}  // namespace

cudaError_t resolve_peer_pointers(void* window, int ranks, void** device_peers, int* device_world_rank,
                                  cudaStream_t stream) {
  resolve_peers<<<1, 1, 0, stream>>>(static_cast<ncclWindow_t>(window), ranks, device_peers, device_world_rank);
  return cudaGetLastError();
}

}  // namespace kiln::runtime
