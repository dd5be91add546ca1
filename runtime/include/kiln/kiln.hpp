// kiln C++ API: a thin RAII layer over kiln.h. Failures throw kiln::Error, which
// carries the status and the message; the launch path stays allocation-free on success.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "kiln/kiln.h"

namespace kiln {

class Error : public std::runtime_error {
 public:
  Error(kiln_status status, const std::string& message)
      : std::runtime_error(std::string(kiln_status_name(status)) + ": " + message), status_(status) {}
  kiln_status status() const noexcept { return status_; }

 private:
  kiln_status status_;
};

inline void check(kiln_status status) {
  if (status != KILN_SUCCESS) throw Error(status, kiln_last_error());
}

struct PlanOptions {
  std::string kernel;
  int64_t hidden = 0;
  kiln_dtype dtype = KILN_DTYPE_BF16;
  int device = -1;
  kiln_set_policy policy = KILN_SET_EXACT;
  kiln_rounding rounding = KILN_ROUNDING_SINGLE;
  bool gemma = false;
  bool static_weight = false;
  void* comm = nullptr;    // communicator kernels: the ncclComm_t (plan creation is then collective)
  int64_t max_tokens = 0;  // communicator kernels: the most tokens a launch takes
  int32_t group_size = 0;  // group quantisers: 128 or 64 (0 = 128)
  kiln_scale_layout scale_layout = KILN_SCALES_ROW_MAJOR;  // group quantisers
  bool ue8m0 = false;      // group quantisers: power-of-two scales
};

class Plan {
 public:
  explicit Plan(const PlanOptions& o) {
    kiln_plan_options c;
    kiln_plan_options_init(&c);
    c.kernel = o.kernel.c_str();
    c.hidden = o.hidden;
    c.dtype = o.dtype;
    c.device = o.device;
    c.policy = o.policy;
    c.rounding = o.rounding;
    c.gemma = o.gemma ? 1 : 0;
    c.static_weight = o.static_weight ? 1 : 0;
    c.comm = o.comm;
    c.max_tokens = o.max_tokens;
    c.group_size = o.group_size;
    c.scale_layout = o.scale_layout;
    c.ue8m0 = o.ue8m0 ? 1 : 0;
    check(kiln_plan_create(&c, &plan_));
  }
  Plan(Plan&& other) noexcept : plan_(std::exchange(other.plan_, nullptr)) {}
  Plan& operator=(Plan&& other) noexcept {
    std::swap(plan_, other.plan_);
    return *this;
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() { kiln_plan_destroy(plan_); }

  const kiln_plan* get() const noexcept { return plan_; }
  std::string summary() const { return kiln_plan_summary(plan_); }
  bool is_fallback() const { return describe(1).is_fallback != 0; }

  kiln_variant_info describe(int64_t tokens) const {
    kiln_variant_info info{};
    info.struct_size = sizeof info;
    check(kiln_plan_describe(plan_, tokens, &info));
    return info;
  }

  // Every kernel's launch: tensors by role (kiln_args.tensors[KILN_ROLE_...]). The typed
  // C entry points (kiln/kernels.h) take plan.get().
  void launch(const kiln_args& args, void* stream = nullptr) const { check(kiln_launch(plan_, &args, stream)); }

 private:
  kiln_plan* plan_ = nullptr;
};

}  // namespace kiln
