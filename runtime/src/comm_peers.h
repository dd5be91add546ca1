// comm_peers.cu's host entry: kept apart so that comm.cpp needs no NCCL device header.
#pragma once

#include <cuda_runtime_api.h>

namespace kiln::runtime {

// One thread writes window's pointer to every rank's memory (ranks entries, by world
// rank) and this rank's world rank, into device memory, on `stream`.
cudaError_t resolve_peer_pointers(void* window, int ranks, void** device_peers, int* device_world_rank,
                                  cudaStream_t stream);

}  // namespace kiln::runtime
