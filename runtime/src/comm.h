// Communicator kernels' peer memory (KILN_OPTION_COMM): NCCL symmetric windows reached by
// plain loads and stores. A plan of such a kernel owns one Comm.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels.h"
#include "kiln/detail/table.h"
#include "kiln/kiln.h"

namespace kiln::runtime {

// What went wrong, for kiln_last_error; status is KILN_SUCCESS when nothing did.
struct CommError {
  kiln_status status = KILN_SUCCESS;
  std::string message;
};

class Comm {
 public:
  // Collective over the ranks of `nccl_comm` (an ncclComm_t): every rank calls it with the
  // same kernel, hidden, dtype and max_tokens, at the same time. Loads libnccl.so.2 (the one
  // the process has loaded already, else $KILN_NCCL_LIBRARY or the default search), checks
  // the communicator (2..8 ranks, on `device`), allocates the kernel's workspace with
  // ncclMemAlloc, registers it as a symmetric window, resolves every rank's workspace to a
  // pointer this rank can load from and store to, proves each by reading a tag its owner
  // wrote, prepares the workspace and waits for every rank before returning.
  static std::unique_ptr<Comm> create(const KernelInfo& kernel, void* nccl_comm, int32_t device,
                                      detail::DType dtype, int64_t hidden, int64_t max_tokens, CommError& error);
  ~Comm();  // collective too: deregisters the window and frees the workspace
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  const detail::CommState& state() const { return state_; }

 private:
  Comm() = default;
  detail::CommState state_{};
  void* nccl_comm_ = nullptr;
  void* window_ = nullptr;     // ncclWindow_t
  void* workspace_ = nullptr;  // ncclMemAlloc'd
  int32_t device_ = 0;
};

}  // namespace kiln::runtime
