// The C API without a GPU: bucket selection, introspection (kernels, tensors by role,
// bytes), plan choices and options, struct sizes, and every bad-input status of the
// launch path. Communicator kernels (KILN_OPTION_COMM) are planned here through
// plan_for_arch with a rank count and a stand-in communicator that nothing reads; their
// plans with a real NCCL communicator are tested on GPUs (tests/gpu). Scalar and tensor arguments (null, alignment, roles, aliasing) are
// validated before anything touches CUDA; the current-device check comes last, so a
// well-formed launch without a GPU reports KILN_ERROR_NO_DEVICE.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal.h"
#include "kernels.h"
#include "kiln/detail/select.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "kiln_ref/reference.h"
#include "tables.h"

namespace {

bool has_gpu() {
  static const bool present = [] {
    int n = 0;
    const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
  }();
  return present;
}

bool is_comm(const char* kernel) {
  const kiln::runtime::KernelInfo* k = kiln::runtime::find_kernel(kernel);
  return k != nullptr && (k->options & KILN_OPTION_COMM) != 0;
}

// A communicator kernel's plan options need an ncclComm_t; plan_for_arch never reads it
// (kiln_plan_create hands it to NCCL), so a stand-in address serves the CPU tests.
void* const kStandInComm = reinterpret_cast<void*>(uintptr_t{0x1000});
constexpr int64_t kCommMaxTokens = 4096;
constexpr int32_t kCommRanks = 2;

// ---- the bucket rule ----------------------------------------------------------

TEST(SelectBucket, RoundsDownToTheLargestThresholdAtMostTokens) {
  const int32_t t[] = {1, 2, 4, 8, 32, 128, 256, 1024};
  auto pick = [&](int64_t tokens) { return t[kiln::detail::select_bucket(t, 8, tokens)]; };
  EXPECT_EQ(pick(1), 1);
  EXPECT_EQ(pick(3), 2);      // between: the lower threshold (RFC: batch 3 -> bs2)
  EXPECT_EQ(pick(6), 4);
  EXPECT_EQ(pick(16), 8);
  EXPECT_EQ(pick(64), 32);
  EXPECT_EQ(pick(200), 128);
  EXPECT_EQ(pick(512), 256);
  EXPECT_EQ(pick(2048), 1024);  // above the largest
  EXPECT_EQ(pick(1024), 1024);  // on a threshold
  for (int32_t threshold : t) EXPECT_EQ(pick(threshold), threshold);
}

TEST(SelectBucket, BelowTheSmallestThresholdUsesTheSmallest) {
  const int32_t t[] = {8, 64};
  EXPECT_EQ(kiln::detail::select_bucket(t, 2, 0), 0u);
  EXPECT_EQ(kiln::detail::select_bucket(t, 2, 7), 0u);
  EXPECT_EQ(kiln::detail::select_bucket(t, 2, 63), 0u);
  EXPECT_EQ(kiln::detail::select_bucket(t, 2, 64), 1u);
  const int32_t one[] = {32};
  EXPECT_EQ(kiln::detail::select_bucket(one, 1, 1), 0u);
  EXPECT_EQ(kiln::detail::select_bucket(one, 1, 1 << 30), 0u);
}

// ---- the compiled-in tables ---------------------------------------------------

// Rows sort by kernel, hidden size, rank count (communicator kernels), threshold; a set
// is a kernel, hidden size and rank count.
TEST(Tables, RowsAreSortedAndEachSetHasAscendingThresholds) {
  ASSERT_FALSE(kiln::runtime::tables().empty()) << "this build has no generated tables";
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables()) {
    ASSERT_GT(table->count, 0u) << table->arch;
    for (std::size_t i = 1; i < table->count; ++i) {
      const auto& a = table->rows[i - 1];
      const auto& b = table->rows[i];
      const int order = std::string(a.kernel).compare(b.kernel);
      ASSERT_LE(order, 0) << table->arch << " row " << i;
      if (order == 0) {
        ASSERT_LE(a.hidden, b.hidden) << table->arch << " row " << i;
        if (a.hidden == b.hidden) {
          ASSERT_LE(a.ranks, b.ranks) << table->arch << " row " << i;
          if (a.ranks == b.ranks) {
            ASSERT_LT(a.threshold, b.threshold) << table->arch << " row " << i;
          }
        }
      }
    }
    for (std::size_t i = 0; i < table->count; ++i) {
      const auto& r = table->rows[i];
      EXPECT_NE(r.launch, nullptr) << r.name;
      EXPECT_NE(kiln::runtime::find_kernel(r.kernel), nullptr) << r.kernel << ": a table row for a kernel not in the registry";
      // configs/<kernel>/<arch>/<hidden>/[tp<R>/]bs<N>.json and <kernel>_<arch>_h<hidden>[_tp<R>]_bs<N>
      const std::string tp = r.ranks > 0 ? "tp" + std::to_string(r.ranks) : "";
      const std::string set = "configs/" + std::string(r.kernel) + "/" + table->arch + "/" + std::to_string(r.hidden) +
                              "/" + (tp.empty() ? "" : tp + "/");
      EXPECT_EQ(std::string(r.config), set + "bs" + std::to_string(r.threshold) + ".json");
      EXPECT_NE(std::string(r.name).find(std::string("_") + table->arch + "_h" + std::to_string(r.hidden) +
                                         (tp.empty() ? "" : "_" + tp) + "_bs"),
                std::string::npos) << r.name;
      if (is_comm(r.kernel)) {
        EXPECT_GE(r.ranks, 2) << r.config;
        EXPECT_LE(r.ranks, kiln::detail::kMaxRanks) << r.config;
      } else {
        EXPECT_EQ(r.ranks, 0) << r.config << ": only communicator kernels have a rank count";
      }
    }
  }
}

// The first row of a kernel without a communicator: what the tests that plan a table's
// own set without a communicator use.
const kiln::detail::Variant& first_plain_row(const kiln::detail::ArchTable& table) {
  for (std::size_t i = 0; i < table.count; ++i)
    if (!is_comm(table.rows[i].kernel)) return table.rows[i];
  ADD_FAILURE() << table.arch << " has no row of a kernel without a communicator";
  return table.rows[0];
}

bool table_has_set(const kiln::detail::ArchTable& table, const std::string& kernel, int64_t hidden) {
  for (std::size_t i = 0; i < table.count; ++i)
    if (kernel == table.rows[i].kernel && table.rows[i].hidden == hidden) return true;
  return false;
}

// A hidden size from `from` up without a set for the kernel in any table.
int64_t untuned_hidden(const std::string& kernel, int64_t from) {
  for (bool again = true; again;) {
    again = false;
    for (const kiln::detail::ArchTable* t : kiln::runtime::tables())
      if (table_has_set(*t, kernel, from)) {
        ++from;
        again = true;
      }
  }
  return from;
}

kiln_variant_info explain(const char* kernel, const char* arch, int64_t hidden, int64_t tokens, kiln_status* status) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  info.ranks = -7;  // every answer writes it
  *status = kiln_explain(kernel, arch, hidden, tokens, &info);
  return info;
}

kiln_variant_info explain_comm(const char* kernel, const char* arch, int64_t hidden, int32_t ranks, int64_t tokens,
                               kiln_status* status) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  info.ranks = -7;
  *status = kiln_explain_comm(kernel, arch, hidden, ranks, tokens, &info);
  return info;
}

// kiln_explain, or kiln_explain_comm at `ranks` for a communicator kernel.
kiln_variant_info explain_any(const char* kernel, const char* arch, int64_t hidden, int32_t ranks, int64_t tokens,
                              kiln_status* status) {
  return is_comm(kernel) ? explain_comm(kernel, arch, hidden, ranks, tokens, status)
                         : explain(kernel, arch, hidden, tokens, status);
}

TEST(Explain, NamesTheVariantAndConfigFileForEveryBucketOfEverySet) {
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables()) {
    for (std::size_t i = 0; i < table->count; ++i) {
      const auto& r = table->rows[i];
      kiln_status s;
      const kiln_variant_info info = explain_any(r.kernel, table->arch, r.hidden, r.ranks, r.threshold, &s);
      ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
      EXPECT_EQ(info.ranks, r.ranks) << r.config;
      EXPECT_EQ(info.threshold, r.threshold);
      EXPECT_STREQ(info.config, r.config);
      EXPECT_STREQ(info.name, r.name);
      EXPECT_STREQ(info.schedule, r.schedule);
      EXPECT_EQ(info.is_fallback, 0);
      EXPECT_EQ(info.hidden, r.hidden);
      EXPECT_STREQ(info.kernel, r.kernel);
      EXPECT_STREQ(info.arch, table->arch);
    }
  }
}

TEST(Explain, MissingSetIsTheGenericKernelAndSaysSo) {
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables())
    for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
      const int64_t hidden = untuned_hidden(k.name, 5000);
      kiln_status s;
      const kiln_variant_info info = explain_any(k.name, table->arch, hidden, kCommRanks, 7, &s);
      ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
      EXPECT_EQ(info.is_fallback, 1) << k.name;
      EXPECT_EQ(info.ranks, is_comm(k.name) ? kCommRanks : 0) << k.name;
      EXPECT_EQ(std::string(info.name), std::string(k.name) + "_generic");
      EXPECT_STREQ(info.config, "");
      EXPECT_EQ(info.threshold, 0);
    }
}

TEST(Explain, ZeroTokensRunsNoVariant) {
  const kiln::detail::ArchTable& table = *kiln::runtime::tables()[0];
  const auto& r = first_plain_row(table);
  kiln_status s;
  kiln_variant_info info = explain(r.kernel, table.arch, r.hidden, 0, &s);
  ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
  EXPECT_STREQ(info.name, "");
  EXPECT_EQ(info.threshold, 0);
  EXPECT_EQ(info.is_fallback, 0) << "nothing launches, not even the generic kernel";
  EXPECT_STREQ(info.config, "");
  EXPECT_STREQ(info.schedule, "");
  EXPECT_STREQ(info.kernel, r.kernel);
  info = explain(r.kernel, table.arch, untuned_hidden(r.kernel, 5000), 0, &s);
  ASSERT_EQ(s, KILN_SUCCESS);
  EXPECT_STREQ(info.name, "");
  EXPECT_EQ(info.threshold, 0);
  EXPECT_EQ(info.is_fallback, 0);
}

TEST(Explain, BadInputsGetNamedStatuses) {
  kiln_status s;
  explain("no_such_kernel", "sm90", 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_UNKNOWN_KERNEL);
  EXPECT_NE(std::string(kiln_last_error()).find("silu_mul_fp8"), std::string::npos) << "lists the known kernels";
  explain("rms_norm_fp8", "sm90", 0, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_HIDDEN);
  explain("rms_norm_fp8", "sm90", -4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_HIDDEN);
  explain("rms_norm_fp8", "sm90", 4096, -1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_TOKENS);
  explain("rms_norm_fp8", "sm75", 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_NO_DEVICE_IMAGE);
  explain(nullptr, "sm90", 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_explain("rms_norm_fp8", "sm90", 4096, 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_variant_info wrong_size{};
  wrong_size.struct_size = 3;
  EXPECT_EQ(kiln_explain("rms_norm_fp8", "sm90", 4096, 1, &wrong_size), KILN_ERROR_INVALID_ARGUMENT);
}

// ---- kiln_explain_comm: communicator kernels, by rank count ------------------------

// Kernels without a communicator say ranks = 0, whatever the caller's struct held.
TEST(Explain, OtherKernelsSayRanksZero) {
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables()) {
    const auto& r = first_plain_row(*table);
    kiln_status s;
    EXPECT_EQ(explain(r.kernel, table->arch, r.hidden, r.threshold, &s).ranks, 0) << r.kernel;
    ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(explain(r.kernel, table->arch, untuned_hidden(r.kernel, 5000), 3, &s).ranks, 0) << "the generic kernel too";
    EXPECT_EQ(explain(r.kernel, table->arch, r.hidden, 0, &s).ranks, 0) << "and tokens = 0";
  }
}

TEST(Explain, CommunicatorKernelsAreRefusedNamingKilnExplainComm) {
  for (const char* kernel : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}) {
    ASSERT_TRUE(is_comm(kernel)) << kernel;
    kiln_status s;
    explain(kernel, "sm90", 4096, 1, &s);
    EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << kernel;
    const std::string error = kiln_last_error();
    EXPECT_NE(error.find("kiln_explain_comm"), std::string::npos) << error;
    EXPECT_NE(error.find(kernel), std::string::npos) << error;
  }
}

// The checked-in tp2 sets (configs/allreduce_add_rms_norm*/sm90/<hidden>/tp2/: bs1, bs256).
TEST(ExplainComm, NamesTheTpSetsVariantAndItsRankCount) {
  if (!kiln::runtime::is_target_arch("sm90") || kiln::runtime::find_table("sm90") == nullptr)
    GTEST_SKIP() << "this build has no sm90 tables";
  for (const char* kernel : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"})
    if (kiln::runtime::left_out(kernel)) GTEST_SKIP() << "-Dkernels= leaves " << kernel << "'s sets out of this build";
  for (const char* kernel : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}) {
    SCOPED_TRACE(kernel);
    const std::string k = kernel;
    kiln_status s;
    kiln_variant_info info = explain_comm(kernel, "sm90", 4096, 2, 1, &s);
    ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(info.ranks, 2);
    EXPECT_EQ(info.threshold, 1);
    EXPECT_EQ(info.is_fallback, 0);
    EXPECT_EQ(info.hidden, 4096);
    EXPECT_STREQ(info.kernel, kernel);
    EXPECT_STREQ(info.arch, "sm90");
    EXPECT_EQ(std::string(info.name), k + "_sm90_h4096_tp2_bs1");
    EXPECT_EQ(std::string(info.config), "configs/" + k + "/sm90/4096/tp2/bs1.json");
    EXPECT_NE(std::string(info.schedule).find("two_shot="), std::string::npos) << info.schedule;
    info = explain_comm(kernel, "sm90", 4096, 2, 255, &s);
    EXPECT_EQ(info.threshold, 1) << "below the next threshold";
    info = explain_comm(kernel, "sm90", 4096, 2, 100000, &s);
    ASSERT_EQ(s, KILN_SUCCESS);
    EXPECT_EQ(info.threshold, 256);
    EXPECT_EQ(std::string(info.name), k + "_sm90_h4096_tp2_bs256");
    // tokens = 0 launches nothing; the rank count is still the question's.
    info = explain_comm(kernel, "sm90", 4096, 2, 0, &s);
    ASSERT_EQ(s, KILN_SUCCESS);
    EXPECT_STREQ(info.name, "");
    EXPECT_EQ(info.is_fallback, 0);
    EXPECT_EQ(info.ranks, 2);
  }
}

// A hidden size or rank count without a set: the generic kernel, loudly (as for any kernel).
TEST(ExplainComm, WithoutASetItIsTheGenericKernel) {
  if (!kiln::runtime::is_target_arch("sm90")) GTEST_SKIP() << "sm90 is not a target of this build";
  kiln_status s;
  for (auto [hidden, ranks] : {std::pair<int64_t, int32_t>{5000, 2}, {4096, 5}, {4096, 3}}) {
    const kiln_variant_info info = explain_comm("allreduce_add_rms_norm", "sm90", hidden, ranks, 7, &s);
    ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(info.is_fallback, 1) << hidden << " tp" << ranks;
    EXPECT_STREQ(info.name, "allreduce_add_rms_norm_generic");
    EXPECT_STREQ(info.config, "");
    EXPECT_EQ(info.threshold, 0);
    EXPECT_EQ(info.ranks, ranks);
  }
}

TEST(ExplainComm, BadInputsGetNamedStatuses) {
  kiln_status s;
  for (int32_t ranks : {1, 9, 0, -2, 1 << 30}) {
    explain_comm("allreduce_add_rms_norm", "sm90", 4096, ranks, 1, &s);
    EXPECT_EQ(s, KILN_ERROR_UNSUPPORTED_COMM) << ranks;
    EXPECT_NE(std::string(kiln_last_error()).find("ranks = " + std::to_string(ranks)), std::string::npos)
        << kiln_last_error();
  }
  explain_comm("rms_norm_fp8", "sm90", 4096, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_last_error()).find("rms_norm_fp8 has no communicator"), std::string::npos)
      << kiln_last_error();
  EXPECT_NE(std::string(kiln_last_error()).find("kiln_explain"), std::string::npos) << kiln_last_error();
  explain_comm("no_such_kernel", "sm90", 4096, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_UNKNOWN_KERNEL);
  explain_comm(nullptr, "sm90", 4096, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  explain_comm("allreduce_add_rms_norm", "sm90", 0, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_HIDDEN);
  explain_comm("allreduce_add_rms_norm", "sm90", 4096, 2, -1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_TOKENS);
  explain_comm("allreduce_add_rms_norm", "sm75", 4096, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_NO_DEVICE_IMAGE);
  explain_comm("allreduce_add_rms_norm", nullptr, 4096, 2, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_explain_comm("allreduce_add_rms_norm", "sm90", 4096, 2, 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_variant_info wrong_size{};
  wrong_size.struct_size = 3;
  EXPECT_EQ(kiln_explain_comm("allreduce_add_rms_norm", "sm90", 4096, 2, 1, &wrong_size), KILN_ERROR_INVALID_ARGUMENT);
}

// ---- introspection: the kernels, without a GPU ------------------------------------

kiln_kernel_desc kernel_at(int32_t i) {
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  EXPECT_EQ(kiln_kernel_at(i, &d), KILN_SUCCESS) << kiln_last_error();
  return d;
}

kiln_kernel_desc kernel_desc(const char* name) {
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  EXPECT_EQ(kiln_kernel_find(name, &d), KILN_SUCCESS) << kiln_last_error();
  return d;
}

TEST(Introspection, ListsExactlyTheRegistrysKernelsSortedByName) {
  const auto registry = kiln::runtime::kernels();
  ASSERT_EQ(kiln_kernel_count(), static_cast<int32_t>(registry.size()));
  ASSERT_GT(kiln_kernel_count(), 0);
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    const kiln_kernel_desc d = kernel_at(i);
    const kiln::runtime::KernelInfo& k = registry[static_cast<std::size_t>(i)];
    EXPECT_EQ(d.struct_size, sizeof d);
    EXPECT_STREQ(d.name, k.name);
    EXPECT_STREQ(d.summary, k.summary);
    EXPECT_GT(std::strlen(d.summary), 0u) << d.name;
    EXPECT_EQ(d.tensor_count, k.tensor_count);
    EXPECT_EQ(d.tensors, k.tensors);
    EXPECT_EQ(d.options, k.options);
    EXPECT_EQ(d.scalars, k.scalars);
    if (i > 0) {
      EXPECT_LT(std::string(kernel_at(i - 1).name), std::string(d.name)) << "sorted by name, no duplicates";
    }
    kiln_kernel_desc found{};
    found.struct_size = sizeof found;
    ASSERT_EQ(kiln_kernel_find(d.name, &found), KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(std::memcmp(&found, &d, sizeof d), 0) << d.name << ": kiln_kernel_find and kiln_kernel_at disagree";
    // Each role once; each tensor named, aligned at least to its element.
    std::vector<int> roles;
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      const kiln_tensor_desc& td = d.tensors[t];
      roles.push_back(td.role);
      EXPECT_GE(td.role, 0);
      EXPECT_LT(td.role, KILN_ROLE_SLOTS);
      EXPECT_GT(std::strlen(td.name), 0u);
      EXPECT_GE(static_cast<std::size_t>(td.alignment), kiln::ref::elem_bytes(td.elem)) << d.name << " " << td.name;
    }
    std::sort(roles.begin(), roles.end());
    EXPECT_EQ(std::adjacent_find(roles.begin(), roles.end()), roles.end()) << d.name << " has a role twice";
  }
}

TEST(Introspection, BadQueriesGetNamedStatuses) {
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  EXPECT_EQ(kiln_kernel_at(-1, &d), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_kernel_at(kiln_kernel_count(), &d), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_kernel_at(0, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_kernel_find("no_such_kernel", &d), KILN_ERROR_UNKNOWN_KERNEL);
  EXPECT_NE(std::string(kiln_last_error()).find(kernel_at(0).name), std::string::npos) << "lists the known kernels";
  EXPECT_EQ(kiln_kernel_find(nullptr, &d), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_kernel_find(kernel_at(0).name, nullptr), KILN_ERROR_INVALID_ARGUMENT);
}

// The C ABI's facts about the kernels, spelled out once here as a golden: the roles,
// directions (vLLM's in-place contract) and options each kernel declares.
TEST(Introspection, TensorsAndOptionsOfEachKernel) {
  struct Want {
    const char* kernel;
    std::map<int, kiln_direction> roles;
    uint32_t options;
  };
  const uint32_t norm_options = KILN_OPTION_ROUNDING | KILN_OPTION_GEMMA | KILN_OPTION_STATIC_WEIGHT;
  const Want wants[] = {
      {"fused_add_rms_norm", {{KILN_ROLE_INPUT, KILN_DIR_INOUT}, {KILN_ROLE_RESIDUAL, KILN_DIR_INOUT}, {KILN_ROLE_WEIGHT, KILN_DIR_IN}}, norm_options},
      {"fused_add_rms_norm_fp8",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_RESIDUAL, KILN_DIR_INOUT},
        {KILN_ROLE_WEIGHT, KILN_DIR_IN}, {KILN_ROLE_SCALE, KILN_DIR_IN}},
       norm_options},
      {"rms_norm", {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_WEIGHT, KILN_DIR_IN}}, norm_options},
      {"rms_norm_fp8",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_WEIGHT, KILN_DIR_IN}, {KILN_ROLE_SCALE, KILN_DIR_IN}},
       norm_options},
      {"silu_mul_fp8", {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_SCALE, KILN_DIR_IN}}, 0},
      {"per_token_group_fp8", {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_SCALES, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}},
       KILN_OPTION_GROUP},
      {"rms_norm_group_fp8",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_SCALES, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN},
        {KILN_ROLE_WEIGHT, KILN_DIR_IN}},
       norm_options | KILN_OPTION_GROUP},
      {"fused_add_rms_norm_group_fp8",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_SCALES, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN},
        {KILN_ROLE_RESIDUAL, KILN_DIR_INOUT}, {KILN_ROLE_WEIGHT, KILN_DIR_IN}},
       norm_options | KILN_OPTION_GROUP},
      {"silu_mul_group_fp8", {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_SCALES, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}},
       KILN_OPTION_GROUP},
      {"allreduce_add_rms_norm",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_RESIDUAL, KILN_DIR_INOUT},
        {KILN_ROLE_WEIGHT, KILN_DIR_IN}},
       norm_options | KILN_OPTION_COMM},
      {"allreduce_add_rms_norm_fp8",
       {{KILN_ROLE_OUTPUT, KILN_DIR_OUT}, {KILN_ROLE_INPUT, KILN_DIR_IN}, {KILN_ROLE_RESIDUAL, KILN_DIR_INOUT},
        {KILN_ROLE_WEIGHT, KILN_DIR_IN}, {KILN_ROLE_SCALE, KILN_DIR_IN}},
       norm_options | KILN_OPTION_COMM},
  };
  for (const Want& w : wants) {
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    ASSERT_EQ(kiln_kernel_find(w.kernel, &d), KILN_SUCCESS) << w.kernel << ": " << kiln_last_error();
    EXPECT_EQ(d.options, w.options) << w.kernel;
    std::map<int, kiln_direction> got;
    for (int32_t t = 0; t < d.tensor_count; ++t) got[d.tensors[t].role] = d.tensors[t].direction;
    EXPECT_EQ(got, w.roles) << w.kernel;
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      const kiln_tensor_desc& td = d.tensors[t];
      if (td.role == KILN_ROLE_SCALE) {
        EXPECT_EQ(td.elem, KILN_ELEM_F32);
        EXPECT_EQ(td.rows, KILN_EXTENT_ONE);
        EXPECT_EQ(td.cols, KILN_EXTENT_ONE);
      }
      if (td.role == KILN_ROLE_OUTPUT) {
        EXPECT_EQ(td.elem, std::string(w.kernel).ends_with("_fp8") ? KILN_ELEM_FP8_E4M3 : KILN_ELEM_ACTIVATION) << w.kernel;
      }
    }
  }
  kiln_kernel_desc silu{};
  silu.struct_size = sizeof silu;
  ASSERT_EQ(kiln_kernel_find("silu_mul_fp8", &silu), KILN_SUCCESS);
  for (int32_t t = 0; t < silu.tensor_count; ++t)
    if (silu.tensors[t].role == KILN_ROLE_INPUT) {
      EXPECT_EQ(silu.tensors[t].cols, KILN_EXTENT_2HIDDEN);
    }
}

// generated/kernels.json (kiln-gen's machine-readable list, for tools and Python) and
// the library's registry list the same kernels with the same tensors.
std::string kernels_json_path() {
  if (const char* env = std::getenv("KILN_KERNELS_JSON")) return env;
  if (std::ifstream(KILN_KERNELS_JSON).good()) return KILN_KERNELS_JSON;
  return "generated/kernels.json";
}

const char* elem_c_name(kiln_elem e) {
  switch (e) {
    case KILN_ELEM_ACTIVATION: return "KILN_ELEM_ACTIVATION";
    case KILN_ELEM_FP8_E4M3: return "KILN_ELEM_FP8_E4M3";
    case KILN_ELEM_F32: return "KILN_ELEM_F32";
    case KILN_ELEM_I32: return "KILN_ELEM_I32";
  }
  return "?";
}

const char* extent_c_name(kiln_extent e) {
  switch (e) {
    case KILN_EXTENT_ONE: return "KILN_EXTENT_ONE";
    case KILN_EXTENT_TOKENS: return "KILN_EXTENT_TOKENS";
    case KILN_EXTENT_HIDDEN: return "KILN_EXTENT_HIDDEN";
    case KILN_EXTENT_2HIDDEN: return "KILN_EXTENT_2HIDDEN";
    case KILN_EXTENT_GROUPS: return "KILN_EXTENT_GROUPS";
  }
  return "?";
}

const char* direction_name(kiln_direction d) {
  switch (d) {
    case KILN_DIR_IN: return "in";
    case KILN_DIR_OUT: return "out";
    case KILN_DIR_INOUT: return "inout";
  }
  return "?";
}

TEST(Introspection, KernelsJsonAndTheRegistryListTheSameKernels) {
  const std::string path = kernels_json_path();
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot read " << path << " (set KILN_KERNELS_JSON)";
  const nlohmann::json doc = nlohmann::json::parse(in);
  const nlohmann::json& list = doc.at("kernels");
  std::vector<std::string> json_names, lib_names;
  for (const auto& k : list) json_names.push_back(k.at("name").get<std::string>());
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) lib_names.push_back(kernel_at(i).name);
  ASSERT_EQ(json_names, lib_names) << path << " and kiln_kernel_at disagree: regenerate, or rebuild the library";
  for (const auto& k : list) {
    const std::string name = k.at("name").get<std::string>();
    kiln_kernel_desc d{};
    d.struct_size = sizeof d;
    ASSERT_EQ(kiln_kernel_find(name.c_str(), &d), KILN_SUCCESS);
    EXPECT_EQ(k.at("summary").get<std::string>(), d.summary) << name;
    EXPECT_EQ(k.at("entry_point").get<std::string>(), "kiln_" + name);
    const auto& tensors = k.at("tensors");
    ASSERT_EQ(tensors.size(), static_cast<std::size_t>(d.tensor_count)) << name;
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      const auto& j = tensors[static_cast<std::size_t>(t)];
      const kiln_tensor_desc& td = d.tensors[t];
      const std::string where = name + " tensor " + std::to_string(t);
      EXPECT_EQ(j.at("name").get<std::string>(), td.name) << where;
      EXPECT_EQ(j.at("role").get<std::string>(), kiln::ref::role_name(td.role)) << where;
      EXPECT_EQ(j.at("direction").get<std::string>(), direction_name(td.direction)) << where;
      EXPECT_EQ(j.at("elem").get<std::string>(), elem_c_name(td.elem)) << where;
      EXPECT_EQ(j.at("rows").get<std::string>(), extent_c_name(td.rows)) << where;
      EXPECT_EQ(j.at("cols").get<std::string>(), extent_c_name(td.cols)) << where;
      EXPECT_EQ(j.at("alignment").get<int>(), td.alignment) << where;
      EXPECT_EQ(j.at("optional").get<bool>(), td.optional != 0) << where;
    }
    uint32_t options = 0, scalars = 0;
    for (const auto& o : k.at("options")) {
      const std::string s = o.get<std::string>();
      if (s == "rounding") options |= KILN_OPTION_ROUNDING;
      else if (s == "gemma") options |= KILN_OPTION_GEMMA;
      else if (s == "static_weight") options |= KILN_OPTION_STATIC_WEIGHT;
      else if (s == "comm") options |= KILN_OPTION_COMM;
      else if (s == "group") options |= KILN_OPTION_GROUP;
      else ADD_FAILURE() << name << ": unknown option " << s << " in " << path;
    }
    for (const auto& o : k.at("scalars")) {
      const std::string s = o.get<std::string>();
      if (s == "eps") scalars |= KILN_SCALAR_EPS;
      else ADD_FAILURE() << name << ": unknown scalar " << s << " in " << path;
    }
    EXPECT_EQ(options, d.options) << name;
    EXPECT_EQ(scalars, d.scalars) << name;
  }
}

// A communicator kernel's registry row names the workspace hooks its plans call
// (workspace_bytes, workspace_init); every other row leaves them null.
TEST(Introspection, WorkspaceHooksExactlyForCommunicatorKernels) {
  int comm = 0;
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    const bool has = (k.options & KILN_OPTION_COMM) != 0;
    comm += has;
    EXPECT_EQ(k.workspace_bytes != nullptr, has) << k.name;
    EXPECT_EQ(k.workspace_init != nullptr, has) << k.name;
    if (!has) continue;
    // What each rank allocates: positive, whole 16-byte vectors, growing with max_tokens
    // but bounded (the template caps its receive buffers).
    for (auto dtype : {kiln::detail::DType::bf16, kiln::detail::DType::fp16})
      for (int64_t hidden : {int64_t{1}, int64_t{2048}, int64_t{5120}, int64_t{1} << 20}) {
        int64_t last = 0;
        for (int32_t ranks = 2; ranks <= kiln::detail::kMaxRanks; ++ranks)
          for (int64_t max_tokens : {int64_t{1}, int64_t{512}, int64_t{16384}, int64_t{INT32_MAX}}) {
            const int64_t bytes = k.workspace_bytes(dtype, hidden, ranks, max_tokens);
            SCOPED_TRACE(std::string(k.name) + " H=" + std::to_string(hidden) + " R=" + std::to_string(ranks) +
                         " max_tokens=" + std::to_string(max_tokens));
            EXPECT_GT(bytes, 0);
            EXPECT_EQ(bytes % 16, 0);
            EXPECT_LE(bytes, int64_t{1} << 30);
            if (max_tokens > 1) {
              EXPECT_GE(bytes, last);
            }
            last = bytes;
          }
      }
  }
  EXPECT_EQ(comm, 2) << "allreduce_add_rms_norm and allreduce_add_rms_norm_fp8";
}

// ---- the bytes a launch must move --------------------------------------------------

int64_t min_bytes(const char* kernel, kiln_dtype dtype, int64_t hidden, int64_t tokens, kiln_status* status = nullptr) {
  int64_t bytes = -1;
  const kiln_status s = kiln_min_bytes(kernel, dtype, hidden, tokens, &bytes);
  if (status) *status = s;
  else EXPECT_EQ(s, KILN_SUCCESS) << kernel << ": " << kiln_last_error();
  return bytes;
}

TEST(MinBytes, EachKernelAtH4096T2) {
  // Each input read once, each output written once, an in-out tensor both; the scale 4.
  EXPECT_EQ(min_bytes("rms_norm", KILN_DTYPE_BF16, 4096, 2), 2 * 4096 * 2 + 2 * 4096 * 2 + 4096 * 2);
  EXPECT_EQ(min_bytes("rms_norm_fp8", KILN_DTYPE_BF16, 4096, 2), 2 * 4096 * 2 + 4096 * 2 + 2 * 4096 + 4);
  EXPECT_EQ(min_bytes("fused_add_rms_norm", KILN_DTYPE_BF16, 4096, 2),
            2 * (2 * 4096 * 2) + 2 * (2 * 4096 * 2) + 4096 * 2);  // x and the residual read and written
  EXPECT_EQ(min_bytes("fused_add_rms_norm_fp8", KILN_DTYPE_BF16, 4096, 2),
            2 * 4096 * 2 + 2 * (2 * 4096 * 2) + 4096 * 2 + 2 * 4096 + 4);
  EXPECT_EQ(min_bytes("silu_mul_fp8", KILN_DTYPE_BF16, 4096, 2), 2 * 2 * 4096 * 2 + 2 * 4096 + 4);
}

TEST(MinBytes, EveryKernelFollowsItsTensors) {
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    const kiln_kernel_desc d = kernel_at(i);
    for (auto [hidden, tokens] : {std::pair<int64_t, int64_t>{1, 1}, {1000, 0}, {4096, 2}, {8192, 4099}, {5120, 1}}) {
      int64_t want = 0;
      for (int32_t t = 0; t < d.tensor_count; ++t)
        want += static_cast<int64_t>(kiln::ref::tensor_bytes(d.tensors[t], tokens, hidden)) *
                (d.tensors[t].direction == KILN_DIR_INOUT ? 2 : 1);
      EXPECT_EQ(min_bytes(d.name, KILN_DTYPE_BF16, hidden, tokens), want) << d.name << " H=" << hidden << " T=" << tokens;
      EXPECT_EQ(min_bytes(d.name, KILN_DTYPE_FP16, hidden, tokens), want) << d.name << " fp16";
    }
  }
}

// The library's shape of each tensor agrees with the reference's, independently computed.
TEST(TensorShape, EveryTensorAgreesWithTheReference) {
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    const kiln_kernel_desc d = kernel_at(i);
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      int64_t rows = -1, cols = -1, elem = -1;
      ASSERT_EQ(kiln_tensor_shape(&d.tensors[t], 5120, 7, &rows, &cols, &elem), KILN_SUCCESS) << kiln_last_error();
      EXPECT_EQ(static_cast<std::size_t>(rows * cols * elem), kiln::ref::tensor_bytes(d.tensors[t], 7, 5120))
          << d.name << "." << d.tensors[t].name;
    }
  }
  const kiln_kernel_desc d = kernel_at(0);
  int64_t rows, cols, elem;
  EXPECT_EQ(kiln_tensor_shape(nullptr, 1, 1, &rows, &cols, &elem), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_tensor_shape(&d.tensors[0], 0, 1, &rows, &cols, &elem), KILN_ERROR_INVALID_HIDDEN);
  EXPECT_EQ(kiln_tensor_shape(&d.tensors[0], 1, -1, &rows, &cols, &elem), KILN_ERROR_INVALID_TOKENS);
  kiln_tensor_desc bogus = d.tensors[0];
  bogus.cols = static_cast<kiln_extent>(99);
  EXPECT_EQ(kiln_tensor_shape(&bogus, 1, 1, &rows, &cols, &elem), KILN_ERROR_INVALID_ARGUMENT);
}

// A reference of fewer tokens is the first rows of a larger one's, every list and rule of it:
// Expected::Tensor::first, with which kiln-tune checks a smaller count against one reference.
TEST(Reference, FewerTokensAreTheFirstRows) {
  constexpr int64_t H = 256, T = 5, fewer = 3;
  int with_alt = 0, with_alt2 = 0, checked = 0;
  for (int32_t i = 0; i < kiln_kernel_count(); ++i) {
    const kiln_kernel_desc d = kernel_at(i);
    if ((d.options & KILN_OPTION_COMM) || !kiln::ref::has_reference(d.name)) continue;
    kiln::ref::Problem p;
    p.kernel = d.name;
    p.hidden = H;
    p.tokens = T;
    // vllm rounding where the kernel has it: the convention whose outputs have alternatives.
    if (d.options & KILN_OPTION_ROUNDING) p.rounding = kiln::ref::Rounding::vllm;
    std::array<std::vector<uint8_t>, KILN_ROLE_SLOTS> inputs;
    std::mt19937 rng(static_cast<uint32_t>(i));
    std::uniform_real_distribution<float> value(-3.0f, 3.0f);
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      const kiln_tensor_desc& td = d.tensors[t];
      if (td.direction == KILN_DIR_OUT || td.optional) continue;
      std::vector<uint8_t>& bytes = inputs[td.role];
      bytes.resize(kiln::ref::tensor_bytes(td, T, H));
      for (std::size_t k = 0; k < bytes.size(); k += kiln::ref::elem_bytes(td.elem)) {
        if (td.elem == KILN_ELEM_F32) {
          const float scale = 0.02f;  // a per-tensor fp8 scale
          std::memcpy(&bytes[k], &scale, sizeof scale);
        } else {
          const uint16_t v = kiln::ref::from_float(p.dtype, value(rng));
          std::memcpy(&bytes[k], &v, sizeof v);
        }
      }
      p.inputs[td.role] = bytes.data();
    }
    const kiln::ref::Expected all = kiln::ref::reference(p);
    p.tokens = fewer;
    const kiln::ref::Expected some = kiln::ref::reference(p);
    for (int32_t t = 0; t < d.tensor_count; ++t) {
      const kiln_tensor_desc& td = d.tensors[t];
      if (td.direction == KILN_DIR_IN) continue;
      const auto n = static_cast<std::size_t>(kiln::ref::tensor_elems(td, fewer, H));
      const kiln::ref::Expected::Tensor cut = all.roles[td.role].first(n);
      const kiln::ref::Expected::Tensor& want = some.roles[td.role];
      const std::string where = std::string(d.name) + "." + td.name;
      EXPECT_FALSE(want.value.empty()) << where;
      EXPECT_EQ(cut.value, want.value) << where;
      EXPECT_EQ(cut.alt, want.alt) << where;
      EXPECT_EQ(cut.alt2, want.alt2) << where;
      EXPECT_EQ(cut.exact, want.exact) << where;
      EXPECT_EQ(cut.window, want.window) << where;
      with_alt += !want.alt.empty();
      with_alt2 += !want.alt2.empty();
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
  EXPECT_GT(with_alt, 0);   // the lists first() must cut are there to cut
  EXPECT_GT(with_alt2, 0);
}

// ---- group quantisers' scale layouts (kiln_tensor_layout_of) ----------------------------------

kiln_tensor_desc scales_of(const char* kernel) {
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  EXPECT_EQ(kiln_kernel_find(kernel, &d), KILN_SUCCESS) << kiln_last_error();
  for (int32_t t = 0; t < d.tensor_count; ++t)
    if (d.tensors[t].role == KILN_ROLE_SCALES) return d.tensors[t];
  ADD_FAILURE() << kernel << " has no scales tensor";
  return {};
}

kiln_plan_options group_options(const char* kernel, int64_t hidden, int32_t group_size, kiln_scale_layout layout) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel;
  o.hidden = hidden;
  o.group_size = group_size;
  o.scale_layout = layout;
  return o;
}

kiln_tensor_layout layout_for(const kiln_tensor_desc& t, const kiln_plan_options& o, int64_t tokens,
                              kiln_status* status = nullptr) {
  kiln_tensor_layout l{};
  l.struct_size = sizeof l;
  const kiln_status s = kiln_tensor_layout_of(&t, &o, tokens, &l);
  if (status) *status = s;
  else EXPECT_EQ(s, KILN_SUCCESS) << kiln_last_error();
  return l;
}

// The three layouts, as vLLM allocates them: H = 1000 with g = 128 is G = 8 groups (the last
// partial); T = 5 pads to T4 = 8.
TEST(TensorLayout, GroupScalesFollowTheLayoutAsVllmAllocatesIt) {
  for (const char* kernel : {"per_token_group_fp8", "rms_norm_group_fp8", "fused_add_rms_norm_group_fp8",
                             "silu_mul_group_fp8"}) {
    const kiln_tensor_desc t = scales_of(kernel);
    EXPECT_EQ(t.cols, KILN_EXTENT_GROUPS) << kernel;
    kiln_tensor_layout l = layout_for(t, group_options(kernel, 1000, 0, KILN_SCALES_ROW_MAJOR), 5);
    EXPECT_EQ((std::array<int64_t, 6>{l.rows, l.cols, l.row_stride, l.col_stride, l.elements, l.elem_bytes}),
              (std::array<int64_t, 6>{5, 8, 8, 1, 40, 4})) << kernel << " row-major, group 128 by default";
    l = layout_for(t, group_options(kernel, 1000, 64, KILN_SCALES_ROW_MAJOR), 5);
    EXPECT_EQ((std::array<int64_t, 6>{l.rows, l.cols, l.row_stride, l.col_stride, l.elements, l.elem_bytes}),
              (std::array<int64_t, 6>{5, 16, 16, 1, 80, 4})) << kernel << " row-major, group 64";
    l = layout_for(t, group_options(kernel, 1000, 128, KILN_SCALES_COL_MAJOR_TMA), 5);
    EXPECT_EQ((std::array<int64_t, 6>{l.rows, l.cols, l.row_stride, l.col_stride, l.elements, l.elem_bytes}),
              (std::array<int64_t, 6>{5, 8, 1, 8, 7 * 8 + 5, 4})) << kernel << " TMA-aligned: (G-1)*T4 + T";
    l = layout_for(t, group_options(kernel, 1000, 128, KILN_SCALES_PACKED_UE8M0), 5);
    EXPECT_EQ((std::array<int64_t, 6>{l.rows, l.cols, l.row_stride, l.col_stride, l.elements, l.elem_bytes}),
              (std::array<int64_t, 6>{5, 2, 1, 8, 1 * 8 + 5, 4})) << kernel << " packed: ceil(G/4) int32 columns";
    l = layout_for(t, group_options(kernel, 4096, 128, KILN_SCALES_PACKED_UE8M0), 8);
    EXPECT_EQ((std::array<int64_t, 3>{l.cols, l.col_stride, l.elements}), (std::array<int64_t, 3>{8, 8, 64})) << kernel;
    l = layout_for(t, group_options(kernel, 4096, 128, KILN_SCALES_COL_MAJOR_TMA), 0);
    EXPECT_EQ(l.elements, 0) << kernel << ": no tokens, nothing to allocate";
  }
  // Tensors other than group scales are row-major, as kiln_tensor_shape gives them.
  kiln_kernel_desc d{};
  d.struct_size = sizeof d;
  ASSERT_EQ(kiln_kernel_find("silu_mul_group_fp8", &d), KILN_SUCCESS);
  for (int32_t i = 0; i < d.tensor_count; ++i) {
    if (d.tensors[i].role == KILN_ROLE_SCALES) continue;
    const kiln_tensor_layout l = layout_for(d.tensors[i], group_options(d.name, 4096, 64, KILN_SCALES_COL_MAJOR_TMA), 3);
    int64_t rows, cols, elem;
    ASSERT_EQ(kiln_tensor_shape(&d.tensors[i], 4096, 3, &rows, &cols, &elem), KILN_SUCCESS);
    EXPECT_EQ((std::array<int64_t, 6>{l.rows, l.cols, l.row_stride, l.col_stride, l.elements, l.elem_bytes}),
              (std::array<int64_t, 6>{rows, cols, cols, 1, rows * cols, elem})) << d.tensors[i].name;
  }
}

TEST(TensorLayout, BadGroupOptionsGetNamedStatuses) {
  const kiln_tensor_desc t = scales_of("per_token_group_fp8");
  kiln_status s;
  for (int32_t g : {32, 96, 256, -1}) {
    layout_for(t, group_options("per_token_group_fp8", 4096, g, KILN_SCALES_ROW_MAJOR), 1, &s);
    EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << "group_size " << g;
    EXPECT_NE(std::string(kiln_last_error()).find("group_size"), std::string::npos) << kiln_last_error();
  }
  layout_for(t, group_options("per_token_group_fp8", 4096, 128, static_cast<kiln_scale_layout>(3)), 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_last_error()).find("scale_layout = 3"), std::string::npos) << kiln_last_error();
  kiln_plan_options o = group_options("per_token_group_fp8", 4096, 128, KILN_SCALES_ROW_MAJOR);
  o.ue8m0 = 2;
  layout_for(t, o, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  // A kernel without groups refuses every group option.
  const kiln_tensor_desc per_token = scales_of("per_token_fp8");
  layout_for(per_token, group_options("per_token_fp8", 4096, 128, KILN_SCALES_ROW_MAJOR), 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_last_error()).find("no scale groups"), std::string::npos) << kiln_last_error();
  o = group_options("per_token_fp8", 4096, 0, KILN_SCALES_ROW_MAJOR);
  o.ue8m0 = 1;
  layout_for(per_token, o, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  // Unknown kernel, bad hidden, bad tokens, NULLs, a wrong struct_size.
  layout_for(t, group_options("no_such_kernel", 4096, 0, KILN_SCALES_ROW_MAJOR), 1, &s);
  EXPECT_EQ(s, KILN_ERROR_UNKNOWN_KERNEL);
  layout_for(t, group_options("per_token_group_fp8", 0, 0, KILN_SCALES_ROW_MAJOR), 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_HIDDEN);
  layout_for(t, group_options("per_token_group_fp8", 4096, 0, KILN_SCALES_ROW_MAJOR), -1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_TOKENS);
  o = group_options("per_token_group_fp8", 4096, 0, KILN_SCALES_ROW_MAJOR);
  kiln_tensor_layout l{};
  l.struct_size = sizeof l;
  EXPECT_EQ(kiln_tensor_layout_of(nullptr, &o, 1, &l), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_tensor_layout_of(&t, nullptr, 1, &l), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_tensor_layout_of(&t, &o, 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  l.struct_size = 8;
  EXPECT_EQ(kiln_tensor_layout_of(&t, &o, 1, &l), KILN_ERROR_INVALID_ARGUMENT);
}

// A kiln 0.4 caller's options end at max_tokens: it gets group_size 0 (128), row-major, no UE8M0.
TEST(TensorLayout, AKiln04OptionsStructGetsTheGroupDefaults) {
  constexpr std::size_t kV4 = offsetof(kiln_plan_options, group_size);
  static_assert(kV4 >= offsetof(kiln_plan_options, max_tokens) + sizeof(int64_t));
  kiln_plan_options o = group_options("per_token_group_fp8", 1000, 64, KILN_SCALES_COL_MAJOR_TMA);
  o.struct_size = kV4;  // the group fields past it are not read
  const kiln_tensor_layout l = layout_for(scales_of("per_token_group_fp8"), o, 5);
  EXPECT_EQ((std::array<int64_t, 3>{l.cols, l.row_stride, l.elements}), (std::array<int64_t, 3>{8, 8, 40}));
}

TEST(MinBytes, BadInputsGetNamedStatuses) {
  kiln_status s;
  min_bytes("no_such_kernel", KILN_DTYPE_BF16, 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_UNKNOWN_KERNEL);
  min_bytes(nullptr, KILN_DTYPE_BF16, 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  min_bytes("rms_norm_fp8", static_cast<kiln_dtype>(5), 4096, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_UNSUPPORTED_DTYPE);
  min_bytes("rms_norm_fp8", KILN_DTYPE_BF16, 0, 1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_HIDDEN);
  min_bytes("rms_norm_fp8", KILN_DTYPE_BF16, 4096, -1, &s);
  EXPECT_EQ(s, KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_min_bytes("rms_norm_fp8", KILN_DTYPE_BF16, 4096, 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
}

// ---- plans for an arch, without a device --------------------------------------

struct PlanDeleter {
  void operator()(kiln_plan* p) const { kiln_plan_destroy(p); }
};
using PlanPtr = std::unique_ptr<kiln_plan, PlanDeleter>;

const kiln::detail::ArchTable& first_table() { return *kiln::runtime::tables()[0]; }

// Plan options for a kernel and hidden size, every other field at its default.
kiln_plan_options options_for(const char* kernel, int64_t hidden) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel;
  o.hidden = hidden;
  return o;
}

// A plan for the first table's arch from options the caller filled; a communicator
// kernel's gets the stand-in communicator, kCommMaxTokens and kCommRanks ranks.
PlanPtr plan_with(kiln_plan_options o, kiln_status* status = nullptr) {
  const bool comm = is_comm(o.kernel);
  if (comm) {
    o.comm = kStandInComm;
    o.max_tokens = kCommMaxTokens;
  }
  kiln_plan* p = nullptr;
  const kiln_status s = kiln::runtime::plan_for_arch(&o, first_table().arch, 0, &p, comm ? kCommRanks : 0);
  if (status) *status = s;
  return PlanPtr(p);
}

PlanPtr plan_for(const char* kernel, int64_t hidden, kiln_set_policy policy = KILN_SET_EXACT, kiln_status* status = nullptr,
                 kiln_rounding rounding = KILN_ROUNDING_SINGLE, int32_t gemma = 0, int32_t static_weight = 0) {
  kiln_plan_options o = options_for(kernel, hidden);
  o.policy = policy;
  o.rounding = rounding;
  o.gemma = gemma;
  o.static_weight = static_weight;
  return plan_with(o, status);
}

kiln_variant_info describe(const kiln_plan* plan, int64_t tokens) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  EXPECT_EQ(kiln_plan_describe(plan, tokens, &info), KILN_SUCCESS) << kiln_last_error();
  return info;
}

TEST(Plan, DispatchBelowOnBetweenAndAboveThresholds) {
  const auto& table = first_table();
  const auto& row0 = first_plain_row(table);
  std::vector<int32_t> thresholds;
  for (std::size_t i = 0; i < table.count; ++i)
    if (std::string(table.rows[i].kernel) == row0.kernel && table.rows[i].hidden == row0.hidden)
      thresholds.push_back(table.rows[i].threshold);
  ASSERT_GE(thresholds.size(), 2u);
  PlanPtr plan = plan_for(row0.kernel, row0.hidden);
  ASSERT_TRUE(plan) << kiln_last_error();
  // tokens = 0 launches nothing: no variant, threshold 0.
  EXPECT_EQ(describe(plan.get(), 0).threshold, 0);
  EXPECT_STREQ(describe(plan.get(), 0).name, "");
  EXPECT_EQ(describe(plan.get(), 1).threshold, thresholds.front());  // below the smallest, or on it
  if (thresholds.front() > 1) {
    EXPECT_EQ(describe(plan.get(), thresholds.front() - 1).threshold, thresholds.front());
  }
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    EXPECT_EQ(describe(plan.get(), thresholds[i]).threshold, thresholds[i]);
    if (i + 1 < thresholds.size() && thresholds[i + 1] > thresholds[i] + 1) {
      EXPECT_EQ(describe(plan.get(), thresholds[i + 1] - 1).threshold, thresholds[i]) << "between";
    }
  }
  EXPECT_EQ(describe(plan.get(), thresholds.back() * 10 + 7).threshold, thresholds.back());
  EXPECT_EQ(describe(plan.get(), INT32_MAX).threshold, thresholds.back());
  EXPECT_NE(std::string(kiln_plan_summary(plan.get())).find("config set configs/"), std::string::npos);
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  EXPECT_EQ(kiln_plan_describe(plan.get(), -1, &info), KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_plan_describe(nullptr, 1, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_plan_describe(plan.get(), 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
}

// A kernel whose sets -Dkernels= leaves out runs its generic kernel at every hidden size, and
// its plan says why; no other kernel's summary says so. (The full build leaves none out, so
// there this checks the second half; CI's -Dkernels= build runs it too.)
TEST(Plan, SummarySaysWhenDkernelsLeavesTheSetsOut) {
  const std::string why = "this build's -Dkernels= leaves its sets out";
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    SCOPED_TRACE(k.name);
    PlanPtr plan = plan_for(k.name, 4096);
    ASSERT_TRUE(plan) << kiln_last_error();
    const std::string summary = kiln_plan_summary(plan.get());
    EXPECT_EQ(summary.find(why) != std::string::npos, kiln::runtime::left_out(k.name)) << summary;
    if (!kiln::runtime::left_out(k.name)) continue;
    EXPECT_EQ(describe(plan.get(), 1).is_fallback, 1);
    kiln_status s;
    EXPECT_FALSE(plan_for(k.name, 4096, KILN_SET_STRICT, &s));
    EXPECT_EQ(s, KILN_ERROR_NO_CONFIG_SET);
    EXPECT_NE(std::string(kiln_last_error()).find(why), std::string::npos) << kiln_last_error();
  }
}

TEST(Plan, MissingSetFallsBackLoudlyAndStrictRefuses) {
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    const int64_t hidden = untuned_hidden(k.name, 5000);
    PlanPtr plan = plan_for(k.name, hidden);
    ASSERT_TRUE(plan) << kiln_last_error();
    EXPECT_EQ(describe(plan.get(), 1).is_fallback, 1);
    const std::string summary = kiln_plan_summary(plan.get());
    EXPECT_NE(summary.find("no " + std::string(k.name) + " set for"), std::string::npos) << summary;
    EXPECT_NE(summary.find("using the generic kernel"), std::string::npos) << summary;
    EXPECT_NE(summary.find("have "), std::string::npos) << summary;
    EXPECT_EQ(describe(plan.get(), 1).ranks, is_comm(k.name) ? kCommRanks : 0) << k.name;

    kiln_status s;
    PlanPtr strict = plan_for(k.name, hidden, KILN_SET_STRICT, &s);
    EXPECT_EQ(s, KILN_ERROR_NO_CONFIG_SET);
    EXPECT_FALSE(strict);
    EXPECT_NE(std::string(kiln_last_error()).find("hidden=" + std::to_string(hidden)), std::string::npos) << kiln_last_error();

    setenv("KILN_STRICT", "1", 1);
    PlanPtr strict_env = plan_for(k.name, hidden, KILN_SET_EXACT, &s);
    unsetenv("KILN_STRICT");
    EXPECT_EQ(s, KILN_ERROR_NO_CONFIG_SET);
  }
}

TEST(Plan, DescribedStringsOutliveThePlan) {
  kiln_variant_info info{};
  {
    PlanPtr plan = plan_for("rms_norm_fp8", 5000);  // fallback: no table row owns these strings
    ASSERT_TRUE(plan);
    info = describe(plan.get(), 3);
  }
  EXPECT_STREQ(info.arch, first_table().arch);
  EXPECT_STREQ(info.name, "rms_norm_fp8_generic");
  EXPECT_STREQ(info.kernel, "rms_norm_fp8");
}

TEST(Plan, GenericByRequestEvenWhenASetExists) {
  const auto& row0 = first_plain_row(first_table());
  PlanPtr plan = plan_for(row0.kernel, row0.hidden, KILN_SET_GENERIC);
  ASSERT_TRUE(plan);
  const kiln_variant_info info = describe(plan.get(), 64);
  EXPECT_EQ(info.is_fallback, 1);
  EXPECT_EQ(std::string(info.name), std::string(row0.kernel) + "_generic");
}

TEST(Plan, LogEnvironmentVariablePrintsTheChoice) {
  setenv("KILN_LOG", "1", 1);
  testing::internal::CaptureStderr();
  PlanPtr plan = plan_for("silu_mul_fp8", 1000);
  const std::string err = testing::internal::GetCapturedStderr();
  unsetenv("KILN_LOG");
  EXPECT_NE(err.find("kiln: plan silu_mul_fp8 hidden=1000"), std::string::npos) << err;
  EXPECT_NE(err.find("generic kernel"), std::string::npos) << err;
}

// ---- plan options: rounding and gemma, where the kernel has them ------------------

PlanPtr group_plan(const char* kernel, int32_t group_size, kiln_scale_layout layout, int32_t ue8m0, kiln_status* status,
                   int64_t hidden = 4096) {
  kiln_plan_options o = options_for(kernel, hidden);
  o.group_size = group_size;
  o.scale_layout = layout;
  o.ue8m0 = ue8m0;
  return plan_with(o, status);
}

// group_size, scale_layout and ue8m0: resolved and reported by a group quantiser's plan
// (0 = 128; the packed layout implies ue8m0), refused by every other kernel and out of range.
TEST(PlanOptions, GroupOptionsOnlyOnGroupQuantisers) {
  int group_kernels = 0;
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    if (k.options & KILN_OPTION_COMM) continue;  // their plans need a communicator (below)
    kiln_status s;
    if (!(k.options & KILN_OPTION_GROUP)) {
      group_plan(k.name, 128, KILN_SCALES_ROW_MAJOR, 0, &s);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name;
      EXPECT_NE(std::string(kiln_last_error()).find("no scale groups"), std::string::npos) << kiln_last_error();
      group_plan(k.name, 0, KILN_SCALES_COL_MAJOR_TMA, 0, &s);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name;
      group_plan(k.name, 0, KILN_SCALES_ROW_MAJOR, 1, &s);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name;
      continue;
    }
    ++group_kernels;
    struct Want {
      int32_t group_size;
      kiln_scale_layout layout;
      int32_t ue8m0;
      const char* summary;
    };
    for (const Want& w : {Want{0, KILN_SCALES_ROW_MAJOR, 0, " group_size=128 scales=row_major on"},
                          Want{64, KILN_SCALES_COL_MAJOR_TMA, 0, " group_size=64 scales=col_major_tma on"},
                          Want{128, KILN_SCALES_COL_MAJOR_TMA, 1, " group_size=128 scales=col_major_tma ue8m0 on"},
                          Want{128, KILN_SCALES_PACKED_UE8M0, 0, " group_size=128 scales=packed_ue8m0 ue8m0 on"},
                          Want{64, KILN_SCALES_PACKED_UE8M0, 1, " group_size=64 scales=packed_ue8m0 ue8m0 on"}}) {
      PlanPtr plan = group_plan(k.name, w.group_size, w.layout, w.ue8m0, &s);
      ASSERT_EQ(s, KILN_SUCCESS) << k.name << ": " << kiln_last_error();
      EXPECT_NE(std::string(kiln_plan_summary(plan.get())).find(w.summary), std::string::npos)
          << kiln_plan_summary(plan.get());
    }
    for (int32_t bad : {32, 96, 256, -64, 1}) {
      group_plan(k.name, bad, KILN_SCALES_ROW_MAJOR, 0, &s);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " group_size=" << bad;
      EXPECT_NE(std::string(kiln_last_error()).find("group_size = " + std::to_string(bad)), std::string::npos)
          << kiln_last_error();
    }
    for (int bad : {3, -1}) {
      group_plan(k.name, 0, static_cast<kiln_scale_layout>(bad), 0, &s);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " scale_layout=" << bad;
    }
    group_plan(k.name, 0, KILN_SCALES_ROW_MAJOR, 2, &s);
    EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " ue8m0=2";
  }
  EXPECT_EQ(group_kernels, 4);
}

// Each option, set alone: accepted and reported in the summary where the kernel has it,
// KILN_ERROR_INVALID_ARGUMENT naming it where not.
TEST(PlanOptions, EachOptionOnlyWhereTheKernelHasIt) {
  struct Option {
    const char* name;
    uint32_t bit;
    kiln_rounding rounding;
    int32_t gemma, static_weight;
    const char* in_summary;
  };
  const Option options[] = {
      {"rounding", KILN_OPTION_ROUNDING, KILN_ROUNDING_VLLM, 0, 0, " rounding=vllm"},
      {"gemma", KILN_OPTION_GEMMA, KILN_ROUNDING_SINGLE, 1, 0, " gemma"},
      {"static_weight", KILN_OPTION_STATIC_WEIGHT, KILN_ROUNDING_SINGLE, 0, 1, " static_weight"},
  };
  // PlanOptions.CommunicatorKernelsNeedCommAndMaxTokens, PlanOptions.GroupOptionsOnlyOnGroupQuantisers
  uint32_t known = KILN_OPTION_COMM | KILN_OPTION_GROUP;
  for (const Option& o : options) known |= o.bit;
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    EXPECT_EQ(k.options & ~known, 0u) << k.name << " has an option this test does not know";
    for (const Option& o : options) {
      kiln_status s;
      PlanPtr plan = plan_for(k.name, 1000, KILN_SET_EXACT, &s, o.rounding, o.gemma, o.static_weight);
      if (k.options & o.bit) {
        ASSERT_EQ(s, KILN_SUCCESS) << k.name << " " << o.name << ": " << kiln_last_error();
        EXPECT_NE(std::string(kiln_plan_summary(plan.get())).find(o.in_summary), std::string::npos) << kiln_plan_summary(plan.get());
      } else {
        EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " " << o.name;
        EXPECT_NE(std::string(kiln_last_error()).find(o.name), std::string::npos) << kiln_last_error();
      }
    }
    // Defaults say nothing; out-of-range values are refused whatever the kernel.
    kiln_status s;
    PlanPtr plan = plan_for(k.name, 1000, KILN_SET_EXACT, &s);
    ASSERT_EQ(s, KILN_SUCCESS);
    for (const Option& o : options)
      EXPECT_EQ(std::string(kiln_plan_summary(plan.get())).find(o.in_summary), std::string::npos) << kiln_plan_summary(plan.get());
    for (int bad : {2, -1, 7}) {
      plan_for(k.name, 1000, KILN_SET_EXACT, &s, static_cast<kiln_rounding>(bad));
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " rounding=" << bad;
      plan_for(k.name, 1000, KILN_SET_EXACT, &s, KILN_ROUNDING_SINGLE, bad);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " gemma=" << bad;
      plan_for(k.name, 1000, KILN_SET_EXACT, &s, KILN_ROUNDING_SINGLE, 0, bad);
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << k.name << " static_weight=" << bad;
    }
  }
  kiln_status s;
  EXPECT_FALSE(plan_for("silu_mul_fp8", 4096, KILN_SET_EXACT, &s, KILN_ROUNDING_SINGLE, 1));
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_FALSE(plan_for("silu_mul_fp8", 4096, KILN_SET_EXACT, &s, KILN_ROUNDING_VLLM));
  EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(plan_for("fused_add_rms_norm", 4096, KILN_SET_EXACT, &s, KILN_ROUNDING_VLLM, 1, 1)) << kiln_last_error();
}

// ---- plan options: comm and max_tokens (KILN_OPTION_COMM) -------------------------

kiln_status comm_plan(const char* kernel, void* comm, int64_t max_tokens, int32_t ranks, PlanPtr* out = nullptr,
                      int64_t hidden = 4096) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel;
  o.hidden = hidden;
  o.comm = comm;
  o.max_tokens = max_tokens;
  kiln_plan* p = nullptr;
  const kiln_status s = kiln::runtime::plan_for_arch(&o, first_table().arch, 0, &p, ranks);
  PlanPtr plan(p);
  if (out) *out = std::move(plan);
  return s;
}

// kiln_plan_options_init leaves both unset.
TEST(PlanOptions, InitLeavesCommNullAndMaxTokensZero) {
  kiln_plan_options o;
  std::memset(&o, 0x5a, sizeof o);
  kiln_plan_options_init(&o);
  EXPECT_EQ(o.comm, nullptr);
  EXPECT_EQ(o.max_tokens, 0);
  EXPECT_EQ(o.struct_size, sizeof o);
}

// A communicator kernel needs a communicator and 1 <= max_tokens <= 2^31 - 1; each refusal
// names the kernel and the field.
TEST(PlanOptions, CommunicatorKernelsNeedCommAndMaxTokens) {
  for (const char* kernel : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}) {
    SCOPED_TRACE(kernel);
    EXPECT_EQ(comm_plan(kernel, nullptr, kCommMaxTokens, kCommRanks), KILN_ERROR_INVALID_ARGUMENT);
    std::string error = kiln_last_error();
    EXPECT_NE(error.find(kernel), std::string::npos) << error;
    EXPECT_NE(error.find("comm"), std::string::npos) << error;
    EXPECT_NE(error.find("NULL"), std::string::npos) << error;
    for (int64_t bad : {int64_t{0}, int64_t{-1}, int64_t{INT32_MAX} + 1, std::numeric_limits<int64_t>::max(),
                        std::numeric_limits<int64_t>::min()}) {
      EXPECT_EQ(comm_plan(kernel, kStandInComm, bad, kCommRanks), KILN_ERROR_INVALID_ARGUMENT) << bad;
      error = kiln_last_error();
      EXPECT_NE(error.find(kernel), std::string::npos) << error;
      EXPECT_NE(error.find("max_tokens = " + std::to_string(bad)), std::string::npos) << error;
    }
    // Without either: the communicator is named first.
    EXPECT_EQ(comm_plan(kernel, nullptr, 0, kCommRanks), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_last_error()).find("comm"), std::string::npos) << kiln_last_error();
    for (int64_t good : {int64_t{1}, int64_t{512}, int64_t{INT32_MAX}}) {
      PlanPtr plan;
      ASSERT_EQ(comm_plan(kernel, kStandInComm, good, kCommRanks, &plan), KILN_SUCCESS) << good << ": " << kiln_last_error();
      EXPECT_NE(std::string(kiln_plan_summary(plan.get())).find(" ranks=2 max_tokens=" + std::to_string(good)),
                std::string::npos)
          << kiln_plan_summary(plan.get());
    }
  }
}

// Every other kernel refuses both: comm must be NULL and max_tokens 0.
TEST(PlanOptions, OtherKernelsRefuseCommAndMaxTokens) {
  for (const kiln::runtime::KernelInfo& k : kiln::runtime::kernels()) {
    if (k.options & KILN_OPTION_COMM) continue;
    SCOPED_TRACE(k.name);
    EXPECT_EQ(comm_plan(k.name, kStandInComm, 0, 0), KILN_ERROR_INVALID_ARGUMENT);
    std::string error = kiln_last_error();
    EXPECT_NE(error.find(std::string(k.name) + " has no communicator"), std::string::npos) << error;
    EXPECT_NE(error.find("comm must be NULL"), std::string::npos) << error;
    for (int64_t bad : {int64_t{1}, int64_t{-1}, int64_t{4096}}) {
      EXPECT_EQ(comm_plan(k.name, nullptr, bad, 0), KILN_ERROR_INVALID_ARGUMENT) << bad;
      error = kiln_last_error();
      EXPECT_NE(error.find(k.name), std::string::npos) << error;
      EXPECT_NE(error.find("max_tokens must be 0"), std::string::npos) << error;
    }
    PlanPtr plan;
    ASSERT_EQ(comm_plan(k.name, nullptr, 0, 0, &plan), KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(std::string(kiln_plan_summary(plan.get())).find("ranks="), std::string::npos) << kiln_plan_summary(plan.get());
    EXPECT_EQ(describe(plan.get(), 3).ranks, 0);
  }
}

// A communicator plan picks the set of its rank count (tp<R>), else the generic kernel.
TEST(PlanOptions, ACommunicatorPlanUsesItsRankCountsSet) {
  if (std::string(first_table().arch) != "sm90") GTEST_SKIP() << "the checked-in tp2 sets are sm90's";
  if (kiln::runtime::left_out("allreduce_add_rms_norm")) GTEST_SKIP() << "-Dkernels= leaves its sets out of this build";
  PlanPtr plan;
  ASSERT_EQ(comm_plan("allreduce_add_rms_norm", kStandInComm, 1024, 2, &plan), KILN_SUCCESS) << kiln_last_error();
  const std::string summary = kiln_plan_summary(plan.get());
  EXPECT_NE(summary.find("config set configs/allreduce_add_rms_norm/sm90/4096/tp2 (thresholds 1, 256)"), std::string::npos)
      << summary;
  kiln_variant_info info = describe(plan.get(), 600);
  EXPECT_STREQ(info.name, "allreduce_add_rms_norm_sm90_h4096_tp2_bs256");
  EXPECT_STREQ(info.config, "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs256.json");
  EXPECT_EQ(info.ranks, 2);
  EXPECT_EQ(info.is_fallback, 0);
  // Eight ranks have their own set (tp8); three have none: the generic kernel, saying which rank count missed.
  ASSERT_EQ(comm_plan("allreduce_add_rms_norm", kStandInComm, 1024, 8, &plan), KILN_SUCCESS) << kiln_last_error();
  info = describe(plan.get(), 600);
  EXPECT_EQ(info.is_fallback, 0);
  EXPECT_STREQ(info.name, "allreduce_add_rms_norm_sm90_h4096_tp8_bs256");
  EXPECT_EQ(info.ranks, 8);
  ASSERT_EQ(comm_plan("allreduce_add_rms_norm", kStandInComm, 1024, 3, &plan), KILN_SUCCESS) << kiln_last_error();
  info = describe(plan.get(), 600);
  EXPECT_EQ(info.is_fallback, 1);
  EXPECT_EQ(info.ranks, 3);
  EXPECT_NE(std::string(kiln_plan_summary(plan.get())).find("no allreduce_add_rms_norm set for sm90 hidden=4096 ranks=3"),
            std::string::npos)
      << kiln_plan_summary(plan.get());
  // KILN_SET_STRICT turns that into an error.
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "allreduce_add_rms_norm";
  o.hidden = 4096;
  o.comm = kStandInComm;
  o.max_tokens = 1024;
  o.policy = KILN_SET_STRICT;
  kiln_plan* p = nullptr;
  EXPECT_EQ(kiln::runtime::plan_for_arch(&o, "sm90", 0, &p, 3), KILN_ERROR_NO_CONFIG_SET);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(kiln::runtime::plan_for_arch(&o, "sm90", 0, &p, 2), KILN_SUCCESS) << kiln_last_error();
  kiln_plan_destroy(p);
}

// kiln_plan_create checks comm and max_tokens before it looks for a device (or NCCL): the
// same refusals on a machine without either.
TEST(PlanCreate, CommOptionsAreCheckedBeforeAnyDeviceWork) {
  struct Case {
    const char* kernel;
    void* comm;
    int64_t max_tokens;
    const char* field;
  };
  const Case cases[] = {
      {"allreduce_add_rms_norm", nullptr, 1024, "comm"},
      {"allreduce_add_rms_norm_fp8", nullptr, 0, "comm"},
      {"allreduce_add_rms_norm", kStandInComm, 0, "max_tokens"},
      {"allreduce_add_rms_norm", kStandInComm, -5, "max_tokens"},
      {"allreduce_add_rms_norm_fp8", kStandInComm, int64_t{INT32_MAX} + 1, "max_tokens"},
      {"rms_norm_fp8", kStandInComm, 0, "comm"},
      {"silu_mul_fp8", nullptr, 16, "max_tokens"},
  };
  for (const Case& c : cases) {
    kiln_plan_options o;
    kiln_plan_options_init(&o);
    o.kernel = c.kernel;
    o.hidden = 4096;
    o.comm = c.comm;
    o.max_tokens = c.max_tokens;
    kiln_plan* p = reinterpret_cast<kiln_plan*>(0x1);
    EXPECT_EQ(kiln_plan_create(&o, &p), KILN_ERROR_INVALID_ARGUMENT) << c.kernel << " " << c.field;
    EXPECT_EQ(p, nullptr);
    const std::string error = kiln_last_error();
    EXPECT_NE(error.find(c.kernel), std::string::npos) << error;
    EXPECT_NE(error.find(c.field), std::string::npos) << error;
  }
}

// A kiln 0.3 caller's options end at static_weight: it gets comm = NULL and max_tokens = 0,
// whatever lies after; so a communicator kernel is refused for want of a communicator and
// every other kernel plans as before.
TEST(PlanCreate, An03OptionsStructHasNoCommunicator) {
  constexpr std::size_t kV3 = offsetof(kiln_plan_options, comm);
  static_assert(kV3 >= offsetof(kiln_plan_options, static_weight) + sizeof(int32_t));  // comm follows static_weight
  for (const char* kernel : {"allreduce_add_rms_norm", "rms_norm_fp8"}) {
    kiln_plan_options o;
    kiln_plan_options_init(&o);
    o.kernel = kernel;
    o.hidden = 4096;
    alignas(kiln_plan_options) unsigned char buffer[sizeof(kiln_plan_options)];
    std::memset(buffer, 0xff, sizeof buffer);  // comm = 0xff..ff, max_tokens = -1 if they were read
    std::memcpy(buffer, &o, kV3);
    const uint32_t size = kV3;
    std::memcpy(buffer, &size, sizeof size);
    kiln_plan* p = nullptr;
    const kiln_status s = kiln_plan_create(reinterpret_cast<const kiln_plan_options*>(buffer), &p);
    if (is_comm(kernel)) {
      EXPECT_EQ(s, KILN_ERROR_INVALID_ARGUMENT) << kiln_last_error();
      EXPECT_NE(std::string(kiln_last_error()).find("comm (an ncclComm_t) is NULL"), std::string::npos) << kiln_last_error();
    } else if (has_gpu()) {
      EXPECT_EQ(s, KILN_SUCCESS) << kiln_last_error();
      kiln_plan_destroy(p);
    } else {
      EXPECT_EQ(s, KILN_ERROR_NO_DEVICE) << "past the option checks, the device is missing: " << kiln_last_error();
    }
  }
}

// ---- bad input: plan options ----------------------------------------------------

TEST(PlanCreate, BadOptionsGetNamedStatusesBeforeAnyDeviceWork) {
  kiln_plan* p = reinterpret_cast<kiln_plan*>(0x1);
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = 4096;
  EXPECT_EQ(kiln_plan_create(&o, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_plan_create(nullptr, &p), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(p, nullptr) << "the out pointer is cleared on failure";

  kiln_plan_options bad = o;
  bad.struct_size = 8;
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_INVALID_ARGUMENT);
  bad = o;
  bad.kernel = "no_such_kernel";
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_UNKNOWN_KERNEL);
  bad = o;
  bad.kernel = nullptr;
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_INVALID_ARGUMENT);
  bad = o;
  bad.hidden = 0;
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_INVALID_HIDDEN);
  bad.hidden = (int64_t{1} << 20) + 1;
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_INVALID_HIDDEN);
  bad = o;
  bad.dtype = static_cast<kiln_dtype>(7);
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_UNSUPPORTED_DTYPE);
  EXPECT_NE(std::string(kiln_last_error()).find("dtype = 7"), std::string::npos) << kiln_last_error();
  bad = o;
  bad.policy = static_cast<kiln_set_policy>(9);
  EXPECT_EQ(kiln_plan_create(&bad, &p), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(p, nullptr);
}

// kiln 0.1's kiln_plan_options ended at `policy`: such a caller keeps working, and the
// fields it does not know (rounding, gemma, static_weight) take their defaults, whatever
// lies after it.
TEST(PlanCreate, AnOlderSmallerOptionsStructGetsTheDefaults) {
  constexpr std::size_t kV1 = offsetof(kiln_plan_options, policy) + sizeof(kiln_set_policy);
  static_assert(kV1 < sizeof(kiln_plan_options));
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = 4096;
  alignas(kiln_plan_options) unsigned char buffer[sizeof(kiln_plan_options) + 16];
  std::memset(buffer, 0xff, sizeof buffer);  // every later option = -1 if it were read
  std::memcpy(buffer, &o, kV1);
  const uint32_t size = kV1;
  std::memcpy(buffer, &size, sizeof size);
  const auto* old = reinterpret_cast<const kiln_plan_options*>(buffer);
  kiln_plan* p = nullptr;
  const kiln_status s = kiln_plan_create(old, &p);
  if (has_gpu()) {
    ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
    const std::string summary = kiln_plan_summary(p);
    EXPECT_EQ(summary.find("rounding="), std::string::npos) << summary;
    EXPECT_EQ(summary.find(" gemma"), std::string::npos) << summary;
    EXPECT_EQ(summary.find(" static_weight"), std::string::npos) << summary;
    kiln_plan_destroy(p);
  } else {
    EXPECT_EQ(s, KILN_ERROR_NO_DEVICE) << "past the struct check, the device is missing: " << kiln_last_error();
  }
  // Too small even for 0.1, or larger than this library's: refused before any device work.
  uint32_t bad = kV1 - 4;
  std::memcpy(buffer, &bad, sizeof bad);
  EXPECT_EQ(kiln_plan_create(old, &p), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_last_error()).find("struct_size"), std::string::npos) << kiln_last_error();
  bad = sizeof(kiln_plan_options) + 8;
  std::memcpy(buffer, &bad, sizeof bad);
  EXPECT_EQ(kiln_plan_create(old, &p), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(p, nullptr);
}

TEST(PlanCreate, WithoutADeviceSaysSo) {
  if (has_gpu()) GTEST_SKIP() << "a GPU is present";
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = 4096;
  kiln_plan* p = nullptr;
  EXPECT_EQ(kiln_plan_create(&o, &p), KILN_ERROR_NO_DEVICE);
  EXPECT_EQ(p, nullptr);
  EXPECT_THROW(kiln::Plan({"rms_norm_fp8", 4096}), kiln::Error);
}

// ---- output structs: a caller's older, smaller struct is written only as far as it goes ----

// Calls `fill` on a T of `size` bytes inside a buffer of 0xab bytes; returns the status
// and checks nothing past `size` was written.
template <class T, class Fill>
kiln_status fill_sized(std::size_t size, Fill fill, T* out) {
  alignas(T) unsigned char buffer[sizeof(T) + 32];
  std::memset(buffer, 0xab, sizeof buffer);
  const uint32_t s = static_cast<uint32_t>(size);
  std::memcpy(buffer, &s, sizeof s);
  const kiln_status status = fill(reinterpret_cast<T*>(buffer));
  for (std::size_t i = std::max<std::size_t>(size, sizeof s); i < sizeof buffer; ++i)
    if (buffer[i] != 0xab) {
      ADD_FAILURE() << "byte " << i << " written past struct_size = " << size;
      break;
    }
  std::memcpy(static_cast<void*>(out), buffer, sizeof(T));
  return status;
}

TEST(StructSize, VariantInfoIsWrittenOnlyAsFarAsTheCallersStructGoes) {
  // The oldest kiln_variant_info ends at `schedule`; 0.4 added `ranks` after it.
  constexpr std::size_t kOldest = offsetof(kiln_variant_info, schedule) + sizeof(const char*);
  static_assert(kOldest == offsetof(kiln_variant_info, ranks));
  const auto& r = first_plain_row(first_table());
  PlanPtr plan = plan_for(r.kernel, r.hidden);
  ASSERT_TRUE(plan);
  for (std::size_t size : {kOldest, sizeof(kiln_variant_info)}) {
    kiln_variant_info info;
    ASSERT_EQ(fill_sized<kiln_variant_info>(size, [&](kiln_variant_info* i) { return kiln_explain(r.kernel, first_table().arch, r.hidden, r.threshold, i); }, &info),
              KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(info.struct_size, size) << "struct_size is the caller's";
    EXPECT_STREQ(info.name, r.name);
    EXPECT_STREQ(info.schedule, r.schedule);
    ASSERT_EQ(fill_sized<kiln_variant_info>(size, [&](kiln_variant_info* i) { return kiln_plan_describe(plan.get(), r.threshold, i); }, &info),
              KILN_SUCCESS) << kiln_last_error();
    EXPECT_STREQ(info.name, r.name);
    if (size == sizeof(kiln_variant_info)) {
      EXPECT_EQ(info.ranks, 0);
    }
  }
  // kiln_explain_comm too: an old struct gets everything but the rank count.
  if (kiln::runtime::is_target_arch("sm90")) {
    for (std::size_t size : {kOldest, sizeof(kiln_variant_info)}) {
      kiln_variant_info comm_info;
      ASSERT_EQ(fill_sized<kiln_variant_info>(
                    size, [&](kiln_variant_info* i) { return kiln_explain_comm("allreduce_add_rms_norm", "sm90", 4096, 2, 1, i); },
                    &comm_info),
                KILN_SUCCESS)
          << kiln_last_error();
      EXPECT_EQ(comm_info.struct_size, size);
      EXPECT_STREQ(comm_info.kernel, "allreduce_add_rms_norm");
      if (size == sizeof(kiln_variant_info)) {
        EXPECT_EQ(comm_info.ranks, 2);
      }
    }
  }
  kiln_variant_info info;
  for (std::size_t size : {kOldest - 1, sizeof(kiln_variant_info) + 8}) {
    EXPECT_EQ(fill_sized<kiln_variant_info>(size, [&](kiln_variant_info* i) { return kiln_explain(r.kernel, first_table().arch, r.hidden, 1, i); }, &info),
              KILN_ERROR_INVALID_ARGUMENT) << size;
    EXPECT_EQ(fill_sized<kiln_variant_info>(size, [&](kiln_variant_info* i) { return kiln_plan_describe(plan.get(), 1, i); }, &info),
              KILN_ERROR_INVALID_ARGUMENT) << size;
  }
}

TEST(StructSize, KernelDescIsWrittenOnlyAsFarAsTheCallersStructGoes) {
  // The oldest kiln_kernel_desc (kiln 0.2) ends at `scalars`.
  constexpr std::size_t kOldest = offsetof(kiln_kernel_desc, scalars) + sizeof(uint32_t);
  const kiln::runtime::KernelInfo& k = kiln::runtime::kernels()[0];
  for (std::size_t size : {kOldest, sizeof(kiln_kernel_desc)}) {
    kiln_kernel_desc d;
    ASSERT_EQ(fill_sized<kiln_kernel_desc>(size, [&](kiln_kernel_desc* p) { return kiln_kernel_at(0, p); }, &d), KILN_SUCCESS)
        << kiln_last_error();
    EXPECT_EQ(d.struct_size, size);
    EXPECT_STREQ(d.name, k.name);
    EXPECT_EQ(d.scalars, k.scalars);
    ASSERT_EQ(fill_sized<kiln_kernel_desc>(size, [&](kiln_kernel_desc* p) { return kiln_kernel_find(k.name, p); }, &d),
              KILN_SUCCESS) << kiln_last_error();
    EXPECT_EQ(d.tensors, k.tensors);
  }
  kiln_kernel_desc d;
  for (std::size_t size : {kOldest - 1, std::size_t{4}, sizeof(kiln_kernel_desc) + 8}) {
    EXPECT_EQ(fill_sized<kiln_kernel_desc>(size, [&](kiln_kernel_desc* p) { return kiln_kernel_at(0, p); }, &d),
              KILN_ERROR_INVALID_ARGUMENT) << size;
    EXPECT_EQ(fill_sized<kiln_kernel_desc>(size, [&](kiln_kernel_desc* p) { return kiln_kernel_find(k.name, p); }, &d),
              KILN_ERROR_INVALID_ARGUMENT) << size;
  }
}

// ---- bad input: launches (all rejected before a kernel is launched) --------------

// Fake but well-aligned addresses: validation must reject before any use. kiln_launch
// checks every argument before the thread's current device, so these need no GPU.

struct LaunchValidation : testing::Test {
  static constexpr int64_t kTokens = 4;
  alignas(256) static inline unsigned char buffer[1 << 20];
  // One rms_norm_fp8 set of the first table: H and the place of each tensor.
  int64_t H = 0;
  unsigned char* in = nullptr;
  unsigned char* w = nullptr;
  unsigned char* out = nullptr;
  float* scale = nullptr;

  void SetUp() override {
    if (kiln::runtime::left_out("rms_norm_fp8")) GTEST_SKIP() << "-Dkernels= leaves rms_norm_fp8's sets out of this build";
    const auto& t = first_table();
    for (std::size_t i = 0; i < t.count && H == 0; ++i)
      if (std::string(t.rows[i].kernel) == "rms_norm_fp8") H = t.rows[i].hidden;
    ASSERT_GT(H, 0) << "no rms_norm_fp8 set in " << t.arch;
    ASSERT_LE(kTokens * H * 2 * 3 + 1024, static_cast<int64_t>(sizeof buffer));
    std::size_t at = 0;
    auto place = [&](std::size_t bytes) {
      unsigned char* p = buffer + at;
      at += (bytes + 255) / 256 * 256;
      return p;
    };
    in = place(kTokens * H * 2);
    w = place(H * 2);
    out = place(kTokens * H);
    scale = reinterpret_cast<float*>(place(4));
  }
};

TEST_F(LaunchValidation, ScalarArgumentsAreCheckedBeforeAnyDeviceWork) {
  PlanPtr rms = plan_for("rms_norm_fp8", H);
  ASSERT_TRUE(rms);
  ASSERT_EQ(describe(rms.get(), 4).is_fallback, 0);
  EXPECT_EQ(kiln_rms_norm_fp8(nullptr, out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 1, H, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_launch(rms.get(), nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_launch(nullptr, nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_args args{};
  args.struct_size = 5;
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_args_init(&args);
  args.struct_size = sizeof(kiln_args) + 8;  // a newer kiln's struct
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, -1, H, nullptr), KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, int64_t{1} << 40, H, nullptr), KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H + 8, nullptr), KILN_ERROR_HIDDEN_MISMATCH);
  EXPECT_NE(std::string(kiln_last_error()).find("plan was made for hidden = " + std::to_string(H)), std::string::npos)
      << kiln_last_error();
  // The wrong typed entry point for the plan's kernel.
  EXPECT_EQ(kiln_silu_mul_fp8(rms.get(), out, in, scale, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_fused_add_rms_norm(rms.get(), in, out, w, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  // tokens == 0 launches nothing and succeeds, whatever the pointers.
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), nullptr, nullptr, nullptr, nullptr, 1e-6f, KILN_DTYPE_BF16, 0, H, nullptr), KILN_SUCCESS);
  kiln_args_init(&args);
  args.dtype = KILN_DTYPE_BF16;
  args.hidden = H;
  args.tokens = 0;
  args.tensors[KILN_ROLE_RESIDUAL] = in;
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_SUCCESS);
}

// The caller states its tensors' dtype; fp16 data through a bf16 plan is refused, not
// computed wrong. A 0.2 caller's struct ends before the field and is not checked.
TEST_F(LaunchValidation, TheTensorsDtypeMustBeThePlans) {
  PlanPtr rms = plan_for("rms_norm_fp8", H);
  ASSERT_TRUE(rms);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_FP16, 4, H, nullptr),
            KILN_ERROR_DTYPE_MISMATCH);
  EXPECT_NE(std::string(kiln_last_error()).find("plan was made for bf16"), std::string::npos) << kiln_last_error();
  EXPECT_STREQ(kiln_status_name(KILN_ERROR_DTYPE_MISMATCH), "KILN_ERROR_DTYPE_MISMATCH");
  kiln_args args;
  kiln_args_init(&args);
  EXPECT_EQ(args.dtype, KILN_DTYPE_UNSET);
  args.hidden = H;
  args.tokens = 0;  // even a launch of nothing says what it holds
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_DTYPE_MISMATCH);
  EXPECT_NE(std::string(kiln_last_error()).find("args.dtype is unset"), std::string::npos) << kiln_last_error();
  args.dtype = static_cast<kiln_dtype>(7);
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_DTYPE_MISMATCH);
  args.dtype = KILN_DTYPE_BF16;
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_SUCCESS) << kiln_last_error();
  kiln_args old;
  kiln_args_init(&old);
  old.struct_size = 98;  // between 0.2's and 0.3's: it would cut dtype in two
  EXPECT_EQ(kiln_launch(rms.get(), &old, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  old.struct_size = 96;  // 0.2's sizeof(kiln_args): eps, then tail padding
  old.dtype = KILN_DTYPE_FP16;  // where 0.2's struct ended: never read
  old.hidden = H;
  old.tokens = 0;
  EXPECT_EQ(kiln_launch(rms.get(), &old, nullptr), KILN_SUCCESS) << kiln_last_error();
  // An fp16 plan refuses bf16 tensors the same way.
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = H;
  o.dtype = KILN_DTYPE_FP16;
  kiln_plan* p = nullptr;
  ASSERT_EQ(kiln::runtime::plan_for_arch(&o, first_table().arch, 0, &p), KILN_SUCCESS) << kiln_last_error();
  PlanPtr half(p);
  EXPECT_EQ(kiln_rms_norm_fp8(half.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr),
            KILN_ERROR_DTYPE_MISMATCH);
  EXPECT_EQ(kiln_rms_norm_fp8(half.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_FP16, 0, H, nullptr), KILN_SUCCESS)
      << kiln_last_error();
}

TEST_F(LaunchValidation, TensorChecksNeedNoDevice) {
  PlanPtr rms = plan_for("rms_norm_fp8", H);
  ASSERT_TRUE(rms);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), nullptr, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, nullptr, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, nullptr, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_NE(std::string(kiln_last_error()).find("weight"), std::string::npos) << kiln_last_error();
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, nullptr, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  // A specialised variant needs 16-byte aligned tensors.
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in + 2, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w + 8, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out + 1, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, H, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(scale) + 1), 1e-6f, KILN_DTYPE_BF16,
                              4, H, nullptr),
            KILN_ERROR_MISALIGNED_POINTER);
  // A role the kernel does not have must be NULL.
  kiln_args args;
  kiln_args_init(&args);
  args.dtype = KILN_DTYPE_BF16;
  args.tokens = kTokens;
  args.hidden = H;
  args.tensors[KILN_ROLE_INPUT] = in;
  args.tensors[KILN_ROLE_WEIGHT] = w;
  args.tensors[KILN_ROLE_OUTPUT] = out;
  args.tensors[KILN_ROLE_SCALE] = scale;
  kiln_args bad = args;
  bad.tensors[KILN_ROLE_RESIDUAL] = buffer + (1 << 19);
  EXPECT_EQ(kiln_launch(rms.get(), &bad, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  bad = args;
  bad.tensors[KILN_ROLE_SLOTS - 1] = buffer + (1 << 19);  // a slot no role uses yet
  EXPECT_EQ(kiln_launch(rms.get(), &bad, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  // The output must not overlap another tensor.
  bad = args;
  bad.tensors[KILN_ROLE_OUTPUT] = in;
  EXPECT_EQ(kiln_launch(rms.get(), &bad, nullptr), KILN_ERROR_ALIASING);
  bad = args;
  bad.tensors[KILN_ROLE_OUTPUT] = in + 16;
  EXPECT_EQ(kiln_launch(rms.get(), &bad, nullptr), KILN_ERROR_ALIASING);
  bad = args;
  bad.tensors[KILN_ROLE_SCALE] = out + 16;
  EXPECT_EQ(kiln_launch(rms.get(), &bad, nullptr), KILN_ERROR_ALIASING);
  EXPECT_NE(std::string(kiln_last_error()).find("overlaps"), std::string::npos) << kiln_last_error();
  // An in-place kernel: x and the residual are both written; they must not overlap.
  PlanPtr fused = plan_for("fused_add_rms_norm", H);
  ASSERT_TRUE(fused) << kiln_last_error();
  EXPECT_EQ(kiln_fused_add_rms_norm(fused.get(), in, in, w, 1e-6f, KILN_DTYPE_BF16, kTokens, H, nullptr), KILN_ERROR_ALIASING);
  EXPECT_EQ(kiln_fused_add_rms_norm(fused.get(), in, in + H * 2, w, 1e-6f, KILN_DTYPE_BF16, kTokens, H, nullptr),
            KILN_ERROR_ALIASING);
  // Every argument well formed: only then the device, which this machine may lack.
  if (!has_gpu()) {
    EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_NO_DEVICE) << kiln_last_error();
  }
}

// A launch whose grid would pass 2^31 - 1 blocks is refused, never wrapped: each table
// row carries the most tokens its schedule's grid allows.
TEST_F(LaunchValidation, TokensBeyondTheGridLimitAreRefused) {
  const auto& t = first_table();
  const kiln::detail::Variant* bounded = nullptr;
  for (std::size_t i = 0; i < t.count && bounded == nullptr; ++i)
    if (t.rows[i].max_tokens < std::numeric_limits<int32_t>::max()) bounded = &t.rows[i];
  ASSERT_NE(bounded, nullptr) << "no row of " << t.arch << " has a grid that large tokens overflow";
  for (std::size_t i = 0; i < t.count; ++i) {
    EXPECT_GE(t.rows[i].max_tokens, t.rows[i].threshold) << t.rows[i].config;
    EXPECT_LE(t.rows[i].max_tokens, std::numeric_limits<int32_t>::max()) << t.rows[i].config;
  }
  PlanPtr plan = plan_for(bounded->kernel, bounded->hidden);
  ASSERT_TRUE(plan) << kiln_last_error();
  const kiln_kernel_desc desc = kernel_desc(bounded->kernel);
  kiln_args args;
  kiln_args_init(&args);
  args.dtype = KILN_DTYPE_BF16;
  args.hidden = bounded->hidden;
  for (int32_t i = 0; i < desc.tensor_count; ++i) args.tensors[desc.tensors[i].role] = buffer + 256 * i;
  // The largest threshold's row serves any count above it: find the row the count selects.
  args.tokens = std::numeric_limits<int32_t>::max();
  const kiln_variant_info top = describe(plan.get(), args.tokens);
  int64_t top_max = 0;
  for (std::size_t i = 0; i < t.count; ++i)
    if (std::string(t.rows[i].config) == top.config) top_max = t.rows[i].max_tokens;
  ASSERT_GT(top_max, 0);
  if (top_max < args.tokens) {
    EXPECT_EQ(kiln_launch(plan.get(), &args, nullptr), KILN_ERROR_INVALID_TOKENS);
    EXPECT_NE(std::string(kiln_last_error()).find("2^31 - 1 blocks"), std::string::npos) << kiln_last_error();
  }
  // The bounded row itself, one token past its bound, when that count still selects it.
  args.tokens = bounded->max_tokens + 1;
  if (std::string(describe(plan.get(), args.tokens).config) == bounded->config) {
    EXPECT_EQ(kiln_launch(plan.get(), &args, nullptr), KILN_ERROR_INVALID_TOKENS) << kiln_last_error();
  }
}

TEST_F(LaunchValidation, GenericPlanNeedsOnlyElementAlignment) {
  PlanPtr generic = plan_for("silu_mul_fp8", 1000);
  ASSERT_TRUE(generic);
  EXPECT_EQ(kiln_silu_mul_fp8(generic.get(), out, in + 1, scale, KILN_DTYPE_BF16, 4, 1000, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_NE(std::string(kiln_last_error()).find("element size"), std::string::npos) << kiln_last_error();
  EXPECT_EQ(kiln_rms_norm_fp8(generic.get(), out, in, w, scale, 1e-6f, KILN_DTYPE_BF16, 4, 1000, nullptr), KILN_ERROR_INVALID_ARGUMENT);
}

TEST(StatusNames, EveryStatusHasAName) {
  for (int s = KILN_SUCCESS; s <= KILN_ERROR_UNSUPPORTED_COMM; ++s) {
    const std::string name = kiln_status_name(static_cast<kiln_status>(s));
    EXPECT_EQ(name.rfind("KILN_", 0), 0u) << s;
    EXPECT_NE(name, "KILN_STATUS_UNKNOWN") << s;
  }
  EXPECT_STREQ(kiln_status_name(KILN_ERROR_ALIASING), "KILN_ERROR_ALIASING");
  EXPECT_STREQ(kiln_status_name(KILN_ERROR_WRONG_DEVICE), "KILN_ERROR_WRONG_DEVICE");
  EXPECT_EQ(KILN_ERROR_NCCL, 17);
  EXPECT_EQ(KILN_ERROR_UNSUPPORTED_COMM, 18);
  EXPECT_STREQ(kiln_status_name(KILN_ERROR_NCCL), "KILN_ERROR_NCCL");
  EXPECT_STREQ(kiln_status_name(KILN_ERROR_UNSUPPORTED_COMM), "KILN_ERROR_UNSUPPORTED_COMM");
  EXPECT_STREQ(kiln_status_name(static_cast<kiln_status>(19)), "KILN_STATUS_UNKNOWN");
  EXPECT_STREQ(kiln_status_name(static_cast<kiln_status>(999)), "KILN_STATUS_UNKNOWN");
}

}  // namespace
