// The C API without a GPU: bucket selection, introspection, plan choices and every
// bad-input status of the launch path (validation runs before anything touches CUDA).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "internal.h"
#include "kiln/detail/select.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tables.h"

namespace {

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
          ASSERT_LT(a.threshold, b.threshold) << table->arch << " row " << i;
        }
      }
    }
    for (std::size_t i = 0; i < table->count; ++i) {
      const auto& r = table->rows[i];
      EXPECT_NE(r.launch, nullptr) << r.name;
      EXPECT_EQ(std::string(r.config).rfind("configs/" + std::string(r.kernel) + "/" + table->arch + "/", 0), 0u) << r.config;
      EXPECT_NE(std::string(r.name).find(std::string("_") + table->arch + "_h" + std::to_string(r.hidden) + "_bs"),
                std::string::npos) << r.name;
    }
  }
}

kiln_variant_info explain(const char* kernel, const char* arch, int64_t hidden, int64_t tokens, kiln_status* status) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  *status = kiln_explain(kernel, arch, hidden, tokens, &info);
  return info;
}

TEST(Explain, NamesTheVariantAndConfigFileForEveryBucketOfEverySet) {
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables()) {
    for (std::size_t i = 0; i < table->count; ++i) {
      const auto& r = table->rows[i];
      kiln_status s;
      // On the threshold itself, and one above it: same bucket unless the next threshold is there.
      const kiln_variant_info info = explain(r.kernel, table->arch, r.hidden, r.threshold, &s);
      ASSERT_EQ(s, KILN_SUCCESS) << kiln_last_error();
      EXPECT_EQ(info.threshold, r.threshold);
      EXPECT_STREQ(info.config, r.config);
      EXPECT_STREQ(info.name, r.name);
      EXPECT_STREQ(info.schedule, r.schedule);
      EXPECT_EQ(info.is_fallback, 0);
      EXPECT_EQ(info.hidden, r.hidden);
    }
  }
}

TEST(Explain, MissingSetIsTheGenericKernelAndSaysSo) {
  for (const kiln::detail::ArchTable* table : kiln::runtime::tables()) {
    kiln_status s;
    const kiln_variant_info info = explain("rms_norm_fp8", table->arch, 5000, 7, &s);
    ASSERT_EQ(s, KILN_SUCCESS);
    EXPECT_EQ(info.is_fallback, 1);
    EXPECT_STREQ(info.name, "rms_norm_fp8_generic");
    EXPECT_STREQ(info.config, "");
    EXPECT_EQ(info.threshold, 0);
  }
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

// ---- plans for an arch, without a device --------------------------------------

struct PlanDeleter {
  void operator()(kiln_plan* p) const { kiln_plan_destroy(p); }
};
using PlanPtr = std::unique_ptr<kiln_plan, PlanDeleter>;

const kiln::detail::ArchTable& first_table() { return *kiln::runtime::tables()[0]; }

PlanPtr plan_for(const char* kernel, int64_t hidden, kiln_set_policy policy = KILN_SET_EXACT, kiln_status* status = nullptr) {
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = kernel;
  o.hidden = hidden;
  o.policy = policy;
  kiln_plan* p = nullptr;
  const kiln_status s = kiln::runtime::plan_for_arch(&o, first_table().arch, 0, &p);
  if (status) *status = s;
  return PlanPtr(p);
}

kiln_variant_info describe(const kiln_plan* plan, int64_t tokens) {
  kiln_variant_info info{};
  info.struct_size = sizeof info;
  EXPECT_EQ(kiln_plan_describe(plan, tokens, &info), KILN_SUCCESS) << kiln_last_error();
  return info;
}

TEST(Plan, DispatchBelowOnBetweenAndAboveThresholds) {
  const auto& table = first_table();
  const auto& row0 = table.rows[0];
  std::vector<int32_t> thresholds;
  for (std::size_t i = 0; i < table.count; ++i)
    if (std::string(table.rows[i].kernel) == row0.kernel && table.rows[i].hidden == row0.hidden)
      thresholds.push_back(table.rows[i].threshold);
  ASSERT_GE(thresholds.size(), 2u);
  PlanPtr plan = plan_for(row0.kernel, row0.hidden);
  ASSERT_TRUE(plan) << kiln_last_error();
  EXPECT_EQ(describe(plan.get(), 0).threshold, thresholds.front());  // tokens 0 and below the smallest
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
}

TEST(Plan, MissingSetFallsBackLoudlyAndStrictRefuses) {
  PlanPtr plan = plan_for("rms_norm_fp8", 5000);
  ASSERT_TRUE(plan);
  EXPECT_EQ(describe(plan.get(), 1).is_fallback, 1);
  const std::string summary = kiln_plan_summary(plan.get());
  EXPECT_NE(summary.find("no rms_norm_fp8 set for"), std::string::npos) << summary;
  EXPECT_NE(summary.find("using the generic kernel"), std::string::npos) << summary;
  EXPECT_NE(summary.find("have "), std::string::npos) << summary;

  kiln_status s;
  PlanPtr strict = plan_for("rms_norm_fp8", 5000, KILN_SET_STRICT, &s);
  EXPECT_EQ(s, KILN_ERROR_NO_CONFIG_SET);
  EXPECT_FALSE(strict);
  EXPECT_NE(std::string(kiln_last_error()).find("hidden=5000"), std::string::npos) << kiln_last_error();

  setenv("KILN_STRICT", "1", 1);
  PlanPtr strict_env = plan_for("rms_norm_fp8", 5000, KILN_SET_EXACT, &s);
  unsetenv("KILN_STRICT");
  EXPECT_EQ(s, KILN_ERROR_NO_CONFIG_SET);
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
  const auto& row0 = first_table().rows[0];
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
  bad.kernel = "rms_norm";
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

TEST(PlanCreate, WithoutADeviceSaysSo) {
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) GTEST_SKIP() << "a GPU is present";
  kiln_plan_options o;
  kiln_plan_options_init(&o);
  o.kernel = "rms_norm_fp8";
  o.hidden = 4096;
  kiln_plan* p = nullptr;
  EXPECT_EQ(kiln_plan_create(&o, &p), KILN_ERROR_NO_DEVICE);
  EXPECT_EQ(p, nullptr);
  EXPECT_THROW(kiln::Plan({"rms_norm_fp8", 4096}), kiln::Error);
}

// ---- bad input: launches (all rejected before a kernel is launched) --------------

struct LaunchValidation : testing::Test {
  // Fake but well-aligned device addresses: validation must reject before any use.
  alignas(16) static inline unsigned char buffer[4096];
  const void* in = buffer;
  const void* w = buffer + 256;
  void* out = buffer + 512;
  const float* scale = reinterpret_cast<const float*>(buffer + 1024);
};

TEST_F(LaunchValidation, EveryBadArgumentHasItsStatus) {
  ASSERT_STREQ(first_table().rows[0].kernel, "rms_norm_fp8") << "rows sort by kernel name";
  const int64_t H = first_table().rows[0].hidden;
  PlanPtr rms = plan_for("rms_norm_fp8", H);
  ASSERT_TRUE(rms);
  ASSERT_EQ(describe(rms.get(), 4).is_fallback, 0);
  EXPECT_EQ(kiln_rms_norm_fp8(nullptr, out, in, w, scale, 1e-6f, 1, H, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_launch(rms.get(), nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  kiln_args args{};
  args.struct_size = 5;
  EXPECT_EQ(kiln_launch(rms.get(), &args, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, -1, H, nullptr), KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, int64_t{1} << 40, H, nullptr), KILN_ERROR_INVALID_TOKENS);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, scale, 1e-6f, 4, H + 8, nullptr), KILN_ERROR_HIDDEN_MISMATCH);
  EXPECT_NE(std::string(kiln_last_error()).find("plan was made for hidden = " + std::to_string(H)), std::string::npos)
      << kiln_last_error();
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), nullptr, in, w, scale, 1e-6f, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, nullptr, w, scale, 1e-6f, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, nullptr, scale, 1e-6f, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  EXPECT_NE(std::string(kiln_last_error()).find("weight"), std::string::npos);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, nullptr, 1e-6f, 4, H, nullptr), KILN_ERROR_NULL_POINTER);
  // A specialised variant needs 16-byte aligned tensors.
  const auto* in_off = static_cast<const unsigned char*>(in) + 2;
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in_off, w, scale, 1e-6f, 4, H, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, static_cast<const unsigned char*>(w) + 8, scale, 1e-6f, 4, H, nullptr),
            KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), static_cast<unsigned char*>(out) + 1, in, w, scale, 1e-6f, 4, H, nullptr),
            KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), out, in, w, reinterpret_cast<const float*>(buffer + 1025), 1e-6f, 4, H, nullptr),
            KILN_ERROR_MISALIGNED_POINTER);
  // The wrong typed entry point for the plan's kernel.
  EXPECT_EQ(kiln_silu_mul_fp8(rms.get(), out, in, scale, 4, H, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  // tokens == 0 launches nothing and succeeds, whatever the pointers.
  EXPECT_EQ(kiln_rms_norm_fp8(rms.get(), nullptr, nullptr, nullptr, nullptr, 1e-6f, 0, H, nullptr), KILN_SUCCESS);
}

TEST_F(LaunchValidation, GenericPlanNeedsOnlyElementAlignment) {
  PlanPtr generic = plan_for("silu_mul_fp8", 1000);
  ASSERT_TRUE(generic);
  const auto* in_odd_byte = static_cast<const unsigned char*>(in) + 1;
  EXPECT_EQ(kiln_silu_mul_fp8(generic.get(), out, in_odd_byte, scale, 4, 1000, nullptr), KILN_ERROR_MISALIGNED_POINTER);
  EXPECT_NE(std::string(kiln_last_error()).find("element size"), std::string::npos) << kiln_last_error();
  EXPECT_EQ(kiln_rms_norm_fp8(generic.get(), out, in, w, scale, 1e-6f, 4, 1000, nullptr), KILN_ERROR_INVALID_ARGUMENT);
}

TEST(StatusNames, EveryStatusHasAName) {
  for (int s = KILN_SUCCESS; s <= KILN_ERROR_OUT_OF_MEMORY; ++s)
    EXPECT_EQ(std::string(kiln_status_name(static_cast<kiln_status>(s))).rfind("KILN_", 0), 0u) << s;
  EXPECT_STREQ(kiln_status_name(static_cast<kiln_status>(999)), "KILN_STATUS_UNKNOWN");
}

}  // namespace
