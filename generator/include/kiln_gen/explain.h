// --explain: which instance runs for (kernel, arch, hidden, tokens), and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kiln_gen/plan.h"

namespace kiln::gen {

struct ExplainQuery {
  std::string kernel;
  std::string arch;
  int64_t hidden = 0;
  int64_t tokens = 0;
  int64_t ranks = 0;  // communicator kernels: the communicator size (--ranks); 0 for the others
};

struct ExplainAnswer {
  int exit_code = 0;  // 0, or 2 for an unknown kernel or arch
  std::string text;   // ends with a newline
};

// An error line for an unknown kernel or arch or an impossible count, or nothing.
std::optional<std::string> query_error(const ExplainQuery& query);

ExplainAnswer explain(const Plan& plan, const ExplainQuery& query);

}  // namespace kiln::gen
