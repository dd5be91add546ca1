// Every kernel kiln knows, declared once. Adding a kernel: its descriptor here, its
// template in templates/, its CPU reference in reference/, its configs and its tests.
// Semantics of each: docs/design.md, "Kernel semantics".
#include <algorithm>
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
std::optional<std::string> at_least(int64_t value, int64_t) {
  if (value >= Limit) return std::nullopt;
  return "must be at least " + std::to_string(Limit);
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
// An optional cap on a row's max|x| before its dynamic scale is taken (vLLM's scale_ub).
constexpr TensorSpec kScaleUb{"scale_ub", Role::scale_ub, Direction::in, Elem::f32, Extent::one, Extent::one, 4, true};
// The per-row scales a dynamic per-token quantiser writes: [T] fp32.
constexpr TensorSpec kTokenScales{"scales", Role::scales, Direction::out, Elem::f32, Extent::tokens, Extent::one, 4};
// The per-group scales a group quantiser writes: [T, G] in the plan's scale layout.
constexpr TensorSpec kGroupScales{"scales", Role::scales, Direction::out, Elem::f32, Extent::tokens, Extent::groups, 4};

// A group quantiser reduces a group over the lanes that hold it: with vec >= 4 a group of
// 64 or 128 columns lies in at most 32 consecutive lanes of one warp (threads is a
// multiple of 32, so every tile of threads * vec columns holds whole groups).
CrossCheck group_in_warp() {
  return {"vec", "a group of 64 or 128 columns must lie within one warp: vec >= 4",
          [](const Schedule& s, int64_t) { return s["vec"]; }, at_least<4>};
}

// The group quantisers: the per-token kernels with a scale per group of columns.
KernelDescriptor with_groups(KernelDescriptor k) {
  k.group_option = true;
  k.checks.push_back(group_in_warp());
  return k;
}

// The RMSNorm family shares one template (templates/rms_norm.cuh) and one schedule:
// `threads` threads own a row, `rows_per_cta` rows per CTA, `cluster` CTAs split a row.
std::vector<ParamSpec> rms_norm_params() {
  return {
      {"threads", 32, 1024, {}, 32, "threads per row", {64, 128, 256, 512}, {32, 64, 128, 256, 512, 1024}},
      {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access", {8}, {4, 8}},
      {"rows_per_cta", 1, 16, {}, 1, "rows per CTA, `threads` threads each", {1, 2, 4}, {1, 2, 4, 8, 16}},
      {"cluster", 1, 8, {1, 2, 4, 8}, 1, "CTAs of a thread-block cluster that split one row", {1}, {1, 2, 4, 8},
       std::nullopt, 90},
  };
}

// The norm quantisers' and the add kinds' switch (with a default, so the configs without it
// read as before): where each thread reads its slice of the weight. 0 loads it with x and
// holds it in registers through the row's reductions, which small batches want (no L2 round
// trip after the first reduction); 1 loads it where it is used, which frees those registers
// for occupancy at DRAM-sized batches. kiln-tune chooses per bucket.
KernelDescriptor with_weight_switch(KernelDescriptor k) {
  k.params.push_back({"weight_at_use", 0, 1, {}, 1,
                      "1: read the weight where it is used, not held in registers through the row's reductions",
                      {0, 1}, {0, 1}, 0});
  return k;
}

// The add kinds' switch (after weight_at_use: the template's order): whether x and the
// residual reach registers through shared memory. Loaded into registers, the compiler may
// issue the two rows' loads in pairs, each pair's add before the next pair's loads, and where
// it does depends on the dtype as well; staged, every load of a row is in flight at once, at
// the price of a round trip through shared memory. kiln-tune chooses per bucket.
KernelDescriptor with_stage_switch(KernelDescriptor k) {
  k.params.push_back({"stage", 0, 1, {}, 1,
                      "1: stage x and the residual through shared memory (all of a row's loads in flight at once)",
                      {0, 1}, {0, 1}, 0});
  k.checks.push_back({"stage*rows_per_cta*hidden/cluster*4",
                      "the staged rows of x and the residual (2 bytes an element each) fit in 48 KiB of static shared memory",
                      [](const Schedule& s, int64_t hidden) {
                        return s["stage"] * s["rows_per_cta"] * (hidden / s["cluster"]) * 4;
                      },
                      at_most<48 * 1024>});
  k.checks.push_back({"vec*2 (staged)", "cp.async moves at least 4 bytes: a staged schedule needs vec >= 2",
                      [](const Schedule& s, int64_t) { return s["stage"] ? s["vec"] * 2 : 4; }, at_least<4>});
  return k;
}

// The kinds that add a residual: both switches.
KernelDescriptor with_add_switches(KernelDescriptor k) { return with_stage_switch(with_weight_switch(std::move(k))); }

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

// Dynamic per-token FP8 quantisation: the RMSNorm template without the norm (no weight,
// no eps, no options), one row per `threads` threads (times `cluster` CTAs).
KernelDescriptor per_token_fp8() {
  KernelDescriptor k = rms_norm_kernel("per_token_fp8", "kiln::per_token_fp8",
                                       "s = max(min(max|x|, ub) / 448, 1/(448*512)) per row (ub: the optional scale_ub); out = fp8(x / s), scales = s",
                                       {kFp8Out, kTokenScales, kInput, kScaleUb});
  k.scalars = {};
  k.rounding_option = false;
  k.gemma_option = false;
  return k;
}

// Per-token-group FP8 quantisation: per_token_fp8 with a scale per group of g columns.
KernelDescriptor per_token_group_fp8() {
  KernelDescriptor k = with_groups(rms_norm_kernel(
      "per_token_group_fp8", "kiln::per_token_group_fp8",
      "s = max(max|x|, 1e-10) / 448 per (row, group of g columns), UE8M0 optional; out = fp8(x / s), scales = s",
      {kFp8Out, kGroupScales, kInput}));
  k.scalars = {};
  k.rounding_option = false;
  k.gemma_option = false;
  return k;
}

KernelDescriptor silu_mul_fp8(bool groups = false) {
  if (groups) {
    KernelDescriptor k = with_groups(silu_mul_fp8());
    k.name = "silu_mul_group_fp8";
    k.summary = "y = silu(a) * b, a = x[:, :H], b = x[:, H:]; s = max(max|y|, 1e-10) / 448 per (row, group); "
                "out = fp8(y / s), scales = s";
    k.cpp_namespace = "kiln::silu_mul_group_fp8";
    k.tensors = {kFp8Out, kGroupScales,
                 {"input", Role::input, Direction::in, Elem::activation, Extent::tokens, Extent::two_hidden, 16}};
    return k;
  }
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

// The tensor-parallel all-reduce fused with the residual add and RMSNorm: x summed over
// the ranks of an NCCL communicator in rank order (bit-identical on every rank), then
// fused_add_rms_norm(_fp8)'s math. Peer memory is NCCL symmetric-window memory reached by
// plain loads and stores (templates/allreduce_add_rms_norm.cuh); NVLink multicast is never used.
KernelDescriptor allreduce_add_rms_norm(bool fp8) {
  std::vector<TensorSpec> tensors = {fp8 ? kFp8Out : kOut, kInput, kResidual, kWeight};
  if (fp8) tensors.push_back(kScale);
  return {
      .name = fp8 ? "allreduce_add_rms_norm_fp8" : "allreduce_add_rms_norm",
      .summary = fp8 ? "r = round(sum_ranks(x) + r) over residual on every rank; out = fp8(rms_norm(r) * w / scale)"
                     : "r = round(sum_ranks(x) + r) over residual on every rank; out = round(rms_norm(r) * w)",
      .header = "allreduce_add_rms_norm.cuh",
      .cpp_namespace = fp8 ? "kiln::allreduce_add_rms_norm_fp8" : "kiln::allreduce_add_rms_norm",
      .tensors = std::move(tensors),
      .scalars = {Scalar::eps},
      .rounding_option = true,
      .gemma_option = true,
      .comm = true,
      .params =
          {
              {"threads", 32, 1024, {}, 32, "threads per row", {128, 256, 512, 1024}, {64, 128, 256, 512, 1024}},
              {"vec", 1, 8, {1, 2, 4, 8}, 1, "elements per vector access", {8}, {4, 8}},
              {"two_shot", 0, 1, {}, 1, "0: one-shot (every rank reads every rank's rows); 1: two-shot "
               "(reduce-scatter by rows, norm, all-gather)", {0, 1}, {0, 1}},
          },
      .checks =
          {
              {"threads*vec", "the row slice threads*vec = N must divide hidden H",
               [](const Schedule& s, int64_t) { return s["threads"] * s["vec"]; }, must_divide},
              {"hidden/(threads*vec)", "the row slice per thread lives in registers",
               [](const Schedule& s, int64_t hidden) { return ceil_div(hidden, s["threads"] * s["vec"]); },
               at_most<32>},
          },
      // CTAs spin on their peers, so the grid stays co-resident: at most one CTA per SM
      // of the largest GPU, rows strided over it.
      .blocks = [](const Schedule&, int64_t, int64_t tokens) { return std::min<int64_t>(tokens, 1024); },
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
      with_add_switches(rms_norm_kernel("fused_add_rms_norm", "kiln::fused_add_rms_norm",
                      "r = round(x + r) over residual; x = round(rms_norm(r) * w) over input (vLLM's in-place contract)",
                      {kInputInOut, kResidual, kWeight})),
      with_add_switches(rms_norm_kernel("fused_add_rms_norm_fp8", "kiln::fused_add_rms_norm_fp8",
                      "r = round(x + r) over residual; out = fp8(rms_norm(r) * w / scale)",
                      {kFp8Out, kInput, kResidual, kWeight, kScale})),
      silu_mul_fp8(),
      with_weight_switch(rms_norm_kernel("rms_norm_per_token_fp8", "kiln::rms_norm_per_token_fp8",
                      "y = rms_norm(x) * w; s = max(max|y| / 448, 1/(448*512)) per row; out = fp8(y / s), scales = s",
                      {kFp8Out, kTokenScales, kInput, kWeight})),
      with_add_switches(rms_norm_kernel("fused_add_rms_norm_per_token_fp8", "kiln::fused_add_rms_norm_per_token_fp8",
                      "r = round(x + r) over residual; y = rms_norm(r) * w; out = fp8(y / s), scales = s per row",
                      {kFp8Out, kTokenScales, kInput, kResidual, kWeight})),
      per_token_fp8(),
      with_weight_switch(with_groups(rms_norm_kernel(
          "rms_norm_group_fp8", "kiln::rms_norm_group_fp8",
          "y = rms_norm(x) * w; s = max(max|y|, 1e-10) / 448 per (row, group); out = fp8(y / s), scales = s",
          {kFp8Out, kGroupScales, kInput, kWeight}))),
      with_add_switches(with_groups(rms_norm_kernel(
          "fused_add_rms_norm_group_fp8", "kiln::fused_add_rms_norm_group_fp8",
          "r = round(x + r) over residual; y = rms_norm(r) * w; out = fp8(y / s), scales = s per (row, group)",
          {kFp8Out, kGroupScales, kInput, kResidual, kWeight}))),
      per_token_group_fp8(),
      silu_mul_fp8(true),
      allreduce_add_rms_norm(false),
      allreduce_add_rms_norm(true),
  };
}

}  // namespace kiln::gen
