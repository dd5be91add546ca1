// Every kernel kiln knows, declared once. Adding a kernel: its descriptor here, its
// template in templates/, its CPU reference in reference/, its configs and its tests.
// Semantics of each: docs/design.md, "Kernel semantics".
#include <string>
#include <vector>

#include "kiln_gen/descriptor.h"

namespace kiln::gen {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::optional<std::string> must_divide(int64_t value, int64_t hidden) {
  if (hidden % value == 0) return std::nullopt;
  return "does not divide hidden " + std::to_string(hidden);
}

template <int64_t Limit>
std::optional<std::string> at_most(int64_t value, int64_t) {
  if (value <= Limit) return std::nullopt;
  return "must be at most " + std::to_string(Limit);
}

// Tensors, in the typed entry points' parameter order. Specialised variants move
// 16 bytes per access, so every row-major tensor they touch is 16-byte aligned.
constexpr TensorSpec kFp8Out{"out", Role::output, Direction::out, Elem::fp8_e4m3, Extent::tokens, Extent::hidden, 16};
constexpr TensorSpec kOut{"out", Role::output, Direction::out, Elem::activation, Extent::tokens, Extent::hidden, 16};
constexpr TensorSpec kInput{"input", Role::input, Direction::in, Elem::activation, Extent::tokens, Extent::hidden, 16};
constexpr TensorSpec kInputInOut{"input", Role::input, Direction::inout, Elem::activation, Extent::tokens,
                                 Extent::hidden, 16};
constexpr TensorSpec kResidual{"residual", Role::residual, Direction::inout, Elem::activation, Extent::tokens,
                               Extent::hidden, 16};
constexpr TensorSpec kWeight{"weight", Role::weight, Direction::in, Elem::activation, Extent::one, Extent::hidden, 16};
constexpr TensorSpec kScale{"scale", Role::scale, Direction::in, Elem::f32, Extent::one, Extent::one, 4};

// The RMSNorm family shares one template (templates/rms_norm.cuh) and one schedule:
// `threads` threads own a row, `rows_per_cta` rows per CTA, `cluster` CTAs split a row.
std::vector<ParamSpec> rms_norm_params() {
  return {
      {"threads", 32, 1024, {}, 32, "threads per row", {64, 128, 256, 512}, {32, 64, 128, 256, 512, 1024}},
      {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access", {8}, {4, 8}},
      {"rows_per_cta", 1, 16, {}, 1, "rows per CTA, `threads` threads each", {1, 2, 4}, {1, 2, 4, 8, 16}},
      {"cluster", 1, 8, {1, 2, 4, 8}, 1, "CTAs of a thread-block cluster that split one row", {1}, {1, 2, 4, 8}},
  };
}

std::vector<CrossCheck> rms_norm_checks() {
  return {
      {"threads*rows_per_cta", "a CTA holds at most 1024 threads",
       [](const Schedule& s, int64_t) { return s["threads"] * s["rows_per_cta"]; }, at_most<1024>},
      {"cluster*threads*vec", "the row slice cluster*threads*vec = N must divide hidden H",
       [](const Schedule& s, int64_t) { return s["cluster"] * s["threads"] * s["vec"]; }, must_divide},
      {"hidden/(cluster*threads*vec)", "the row slice per thread lives in registers",
       [](const Schedule& s, int64_t hidden) { return ceil_div(hidden, s["cluster"] * s["threads"] * s["vec"]); },
       at_most<32>},
  };
}

KernelDescriptor rms_norm_kernel(std::string_view name, std::string_view cpp_namespace, std::string_view summary,
                                 std::vector<TensorSpec> tensors) {
  return {
      .name = name,
      .summary = summary,
      .header = "rms_norm.cuh",
      .cpp_namespace = cpp_namespace,
      .tensors = std::move(tensors),
      .scalars = {Scalar::eps},
      .rounding_option = true,
      .gemma_option = true,
      .params = rms_norm_params(),
      .checks = rms_norm_checks(),
      // rows_per_cta rows per CTA, `cluster` CTAs per row group
      .blocks = [](const Schedule& s, int64_t, int64_t tokens) {
        return ceil_div(tokens, s["rows_per_cta"]) * s["cluster"];
      },
  };
}

KernelDescriptor silu_mul_fp8() {
  return {
      .name = "silu_mul_fp8",
      .summary = "out = fp8(silu(a) * b / scale), a = x[:, :H], b = x[:, H:]",
      .header = "silu_mul_fp8.cuh",
      .cpp_namespace = "kiln::silu_mul_fp8",
      .tensors = {kFp8Out,
                  {"input", Role::input, Direction::in, Elem::activation, Extent::tokens, Extent::two_hidden, 16},
                  kScale},
      .scalars = {},
      .params =
          {
              {"threads", 32, 1024, {}, 32, "threads per CTA", {64, 128, 256, 512}, {32, 64, 128, 256, 512, 1024}},
              {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access", {8}, {4, 8}},
              {"col_iters", 1, 16, {}, 1, "vectors per thread per row within the CTA's column tile", {1, 2},
               {1, 2, 4, 8}},
              {"rows_per_cta", 1, 64, {}, 1, "rows per CTA", {1, 2, 4}, {1, 2, 4, 8, 16}},
          },
      .checks =
          {
              {"threads*vec*col_iters", "the column tile threads*vec*col_iters = N must divide hidden H",
               [](const Schedule& s, int64_t) { return s["threads"] * s["vec"] * s["col_iters"]; }, must_divide},
              {"rows_per_cta*col_iters", "vectors in flight per thread: register budget",
               [](const Schedule& s, int64_t) { return s["rows_per_cta"] * s["col_iters"]; }, at_most<32>},
          },
      // rows_per_cta rows x one column tile per CTA
      .blocks = [](const Schedule& s, int64_t hidden, int64_t tokens) {
        return ceil_div(tokens, s["rows_per_cta"]) * (hidden / (s["threads"] * s["vec"] * s["col_iters"]));
      },
  };
}

}  // namespace

std::vector<KernelDescriptor> all_kernels() {
  return {
      rms_norm_kernel("rms_norm", "kiln::rms_norm",
                      "out = round(x * rsqrt(mean(x^2) + eps) * w)", {kOut, kInput, kWeight}),
      rms_norm_kernel("rms_norm_fp8", "kiln::rms_norm_fp8",
                      "out = fp8(x * rsqrt(mean(x^2) + eps) * w / scale)",
                      {kFp8Out, kInput, kWeight, kScale}),
      rms_norm_kernel("fused_add_rms_norm", "kiln::fused_add_rms_norm",
                      "r = round(x + r) over residual; x = round(rms_norm(r) * w) over input (vLLM's in-place contract)",
                      {kInputInOut, kResidual, kWeight}),
      rms_norm_kernel("fused_add_rms_norm_fp8", "kiln::fused_add_rms_norm_fp8",
                      "r = round(x + r) over residual; out = fp8(rms_norm(r) * w / scale)",
                      {kFp8Out, kInput, kResidual, kWeight, kScale}),
      silu_mul_fp8(),
  };
}

}  // namespace kiln::gen
