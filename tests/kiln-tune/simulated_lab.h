// A lab without a GPU, for the tuner's own tests (test-only: linked by test_kiln_tune,
// never by kiln-tune). Real worker processes answer with synthetic timings from a smooth
// cost model plus 0.3 % noise, and the environment injects faults:
//   KILN_TUNE_SIMULATE_CRASH|WRONG|HANG=<schedule>   that candidate aborts, answers wrong or hangs in its check
//   KILN_TUNE_SIMULATE_FACTOR='<schedule>@<tokens>=<factor>;...'   scales a schedule's time at one count
//                                                      (at every count without "@<tokens>")
//   KILN_TUNE_SIMULATE_COOL='<ms>=<factor>'   a cool GPU: a worker's timings run <factor> times as long
//                                             until its warm-ups add up to <ms> (a power cap not yet reached)
#pragma once

#include "lab.h"

namespace kiln_tune::testing {

const Lab& simulated_lab();

}  // namespace kiln_tune::testing
