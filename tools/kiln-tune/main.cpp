// kiln-tune: on the current GPU, measure every candidate schedule of a kernel for
// each (hidden size, batch threshold) and write the winners as
// configs/<kernel>/<arch>/<hidden>/bs<N>.json with their provenance.
//
//   kiln-tune --kernel <kernel> --quick                # the RFC grid: 4 hidden sizes x 8 thresholds
//   kiln-tune --kernel all --hidden 4096 --batch-sizes 1,32,1024 --dry-run
//
// The candidates come from the kernel's descriptor (grids and schema; kiln-gen's
// validation prunes them), are compiled from templates/ with kiln-gen's instance
// emitter, checked against the CPU reference and timed in worker processes: this
// executable, re-executed. See README.md next to this file.
#include <string>

#include "cli.h"
#include "lab.h"
#include "worker.h"

int main(int argc, char** argv) {
  const kiln_tune::Lab& lab = kiln_tune::gpu_lab();
  if (argc == 3 && std::string(argv[1]) == "--worker-internal") return kiln_tune::worker_main(argv[2], lab);
  return kiln_tune::tool_main(argc, argv, lab);
}
