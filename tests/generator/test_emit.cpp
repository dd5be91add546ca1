// Plan (sharing identical schedules) and the emitters' exact formats, in memory.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "kiln_gen/emit.h"
#include "kiln_gen/names.h"
#include "kiln_gen/plan.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

Schedule rms_schedule(int64_t threads, int64_t vec, int64_t rows, int64_t cluster) {
  return {find_kernel("rms_norm_fp8"), {threads, vec, rows, cluster}};
}

ConfigSet rms_set(const std::string& arch, int64_t hidden, const std::vector<std::pair<int64_t, Schedule>>& entries) {
  ConfigSet set{find_kernel("rms_norm_fp8"), arch, hidden, /*ranks=*/0, {}};
  for (const auto& [threshold, schedule] : entries)
    set.entries.push_back({threshold, "configs/rms_norm_fp8/" + arch + "/" + std::to_string(hidden) + "/bs" +
                                          std::to_string(threshold) + ".json",
                           schedule});
  return set;
}

Schedule allreduce_schedule(int64_t threads, int64_t vec, int64_t two_shot, const char* kernel = "allreduce_add_rms_norm") {
  return {find_kernel(kernel), {threads, vec, two_shot}};
}

// A communicator kernel's set: configs/<kernel>/<arch>/<hidden>/tp<ranks>/bs<N>.json.
ConfigSet allreduce_set(const std::string& arch, int64_t hidden, int64_t ranks,
                        const std::vector<std::pair<int64_t, Schedule>>& entries,
                        const std::string& kernel = "allreduce_add_rms_norm") {
  ConfigSet set{find_kernel(kernel), arch, hidden, ranks, {}};
  for (const auto& [threshold, schedule] : entries)
    set.entries.push_back({threshold, config_path(kernel, arch, hidden, threshold, ranks), schedule});
  return set;
}

TEST(Plan, IdenticalSchedulesShareTheLowestThresholdsInstanceEvenWhenNotAdjacent) {
  const Schedule a = rms_schedule(256, 8, 1, 1), b = rms_schedule(256, 8, 2, 1);
  const Plan plan = make_plan({rms_set("sm90", 2048, {{1, a}, {2, b}, {4, a}, {8, b}, {16, a}})});
  ASSERT_EQ(plan.archs.size(), 1u);
  const ArchPlan& arch = plan.archs[0];
  ASSERT_EQ(arch.instances.size(), 2u);
  EXPECT_EQ(arch.instances[0].name, "rms_norm_fp8_sm90_h2048_bs1");
  EXPECT_EQ(arch.instances[0].configs,
            (std::vector<std::string>{"configs/rms_norm_fp8/sm90/2048/bs1.json", "configs/rms_norm_fp8/sm90/2048/bs4.json",
                                      "configs/rms_norm_fp8/sm90/2048/bs16.json"}));
  EXPECT_EQ(arch.instances[1].name, "rms_norm_fp8_sm90_h2048_bs2");
  std::vector<std::string> row_instances;
  for (const Row& row : arch.rows) row_instances.push_back(row.instance);
  EXPECT_EQ(row_instances, (std::vector<std::string>{"rms_norm_fp8_sm90_h2048_bs1", "rms_norm_fp8_sm90_h2048_bs2",
                                                     "rms_norm_fp8_sm90_h2048_bs1", "rms_norm_fp8_sm90_h2048_bs2",
                                                     "rms_norm_fp8_sm90_h2048_bs1"}));
  EXPECT_EQ(arch.rows[3].config, "configs/rms_norm_fp8/sm90/2048/bs8.json");  // a row keeps its own config
}

TEST(Plan, SharingStaysWithinOneSet) {
  const Schedule a = rms_schedule(256, 8, 1, 1);
  const Plan plan = make_plan({rms_set("sm100", 2048, {{1, a}}), rms_set("sm90", 2048, {{1, a}}),
                               rms_set("sm90", 4096, {{1, a}})});
  ASSERT_EQ(plan.archs.size(), 2u);
  EXPECT_EQ(plan.archs[0].arch, "sm100");
  EXPECT_EQ(plan.archs[1].arch, "sm90");
  ASSERT_EQ(plan.archs[1].instances.size(), 2u);
  EXPECT_EQ(plan.archs[1].instances[0].name, "rms_norm_fp8_sm90_h2048_bs1");
  EXPECT_EQ(plan.archs[1].instances[1].name, "rms_norm_fp8_sm90_h4096_bs1");
}

// Sets of one kernel, arch and hidden size but another rank count are separate sets:
// nothing is shared across them, and instances and rows carry their rank count.
TEST(Plan, CommunicatorSetsArePerRankCountAndNeverShareAcrossIt) {
  const Schedule a = allreduce_schedule(512, 8, 0), b = allreduce_schedule(512, 8, 1);
  const Plan plan = make_plan({allreduce_set("sm90", 4096, 2, {{1, a}, {512, b}}),
                               allreduce_set("sm90", 4096, 4, {{1, a}, {8, a}})});
  ASSERT_EQ(plan.archs.size(), 1u);
  const ArchPlan& arch = plan.archs[0];
  std::vector<std::string> instances;
  for (const Instance& i : arch.instances) instances.push_back(i.name + " ranks=" + std::to_string(i.ranks));
  EXPECT_EQ(instances, (std::vector<std::string>{"allreduce_add_rms_norm_sm90_h4096_tp2_bs1 ranks=2",
                                                 "allreduce_add_rms_norm_sm90_h4096_tp2_bs512 ranks=2",
                                                 "allreduce_add_rms_norm_sm90_h4096_tp4_bs1 ranks=4"}));
  EXPECT_EQ(arch.instances[2].configs,
            (std::vector<std::string>{"configs/allreduce_add_rms_norm/sm90/4096/tp4/bs1.json",
                                      "configs/allreduce_add_rms_norm/sm90/4096/tp4/bs8.json"}));
  std::vector<std::string> rows;
  for (const Row& r : arch.rows)
    rows.push_back(r.config + " -> " + r.instance + " ranks=" + std::to_string(r.ranks));
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs1.json -> allreduce_add_rms_norm_sm90_h4096_tp2_bs1 ranks=2",
                      "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs512.json -> allreduce_add_rms_norm_sm90_h4096_tp2_bs512 ranks=2",
                      "configs/allreduce_add_rms_norm/sm90/4096/tp4/bs1.json -> allreduce_add_rms_norm_sm90_h4096_tp4_bs1 ranks=4",
                      "configs/allreduce_add_rms_norm/sm90/4096/tp4/bs8.json -> allreduce_add_rms_norm_sm90_h4096_tp4_bs1 ranks=4",
                  }));
  // Every other kernel's instances and rows have ranks 0.
  const Plan other = make_plan({rms_set("sm90", 2048, {{1, rms_schedule(256, 8, 1, 1)}})});
  EXPECT_EQ(other.archs[0].instances[0].ranks, 0);
  EXPECT_EQ(other.archs[0].rows[0].ranks, 0);
}

TEST(EmitInstance, SharedInstanceMatchesTheDesignExample) {
  const Instance instance{"rms_norm_fp8_sm90_h4096_bs32",
                          find_kernel("rms_norm_fp8"),
                          "sm90",
                          4096,
                          32,
                          rms_schedule(256, 8, 1, 1),
                          {"configs/rms_norm_fp8/sm90/4096/bs32.json", "configs/rms_norm_fp8/sm90/4096/bs128.json"}};
  EXPECT_EQ(emit_instance(instance),
            R"(// Generated by kiln-gen from configs/rms_norm_fp8/sm90/4096/bs32.json
// and configs/rms_norm_fp8/sm90/4096/bs128.json (identical schedule).
// Do not edit: change the config and regenerate (README.md, "Retuning and regenerating").
#include "rms_norm.cuh"

namespace kiln::generated {

cudaError_t rms_norm_fp8_sm90_h4096_bs32(const kiln::detail::LaunchParams& p, cudaStream_t stream) {
  using S = kiln::rms_norm_fp8::Schedule</*hidden=*/4096, /*threads=*/256, /*vec=*/8, /*rows_per_cta=*/1, /*cluster=*/1>;
  return kiln::rms_norm_fp8::launch<S>(p, stream);
}

}  // namespace kiln::generated
)");
}

// A switch at its default is the template's own: left out of the arguments; away from it, last.
TEST(EmitInstance, ASwitchIsWrittenOnlyAwayFromItsDefault) {
  const KernelDescriptor* k = find_kernel("rms_norm_group_fp8");
  const auto using_line = [&](int64_t weight_at_use) {
    const Instance instance{"rms_norm_group_fp8_sm90_h4096_bs1", k, "sm90", 4096, 1,
                            Schedule{k, {256, 8, 1, 1, weight_at_use}},
                            {"configs/rms_norm_group_fp8/sm90/4096/bs1.json"}};
    const std::string text = emit_instance(instance);
    const std::size_t at = text.find("  using S = ");
    return text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_EQ(using_line(0), "  using S = kiln::rms_norm_group_fp8::Schedule</*hidden=*/4096, /*threads=*/256, /*vec=*/8, "
                           "/*rows_per_cta=*/1, /*cluster=*/1>;");
  EXPECT_EQ(using_line(1), "  using S = kiln::rms_norm_group_fp8::Schedule</*hidden=*/4096, /*threads=*/256, /*vec=*/8, "
                           "/*rows_per_cta=*/1, /*cluster=*/1, /*weight_at_use=*/1>;");
}

TEST(EmitInstance, UnsharedInstanceBannerNamesOneFile) {
  const Instance instance{"silu_mul_fp8_sm100_h2048_bs1",
                          find_kernel("silu_mul_fp8"),
                          "sm100",
                          2048,
                          1,
                          {find_kernel("silu_mul_fp8"), {256, 8, 1, 4}},
                          {"configs/silu_mul_fp8/sm100/2048/bs1.json"}};
  const std::string text = emit_instance(instance);
  EXPECT_TRUE(text.starts_with("// Generated by kiln-gen from configs/silu_mul_fp8/sm100/2048/bs1.json\n"
                               "// Do not edit: change the config and regenerate"))
      << text;
  EXPECT_NE(text.find("using S = kiln::silu_mul_fp8::Schedule</*hidden=*/2048, /*threads=*/256, /*vec=*/8, "
                      "/*col_iters=*/1, /*rows_per_cta=*/4>;\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("identical schedule"), std::string::npos);
}

// A communicator kernel's Schedule takes the rank count right after the hidden size.
TEST(EmitInstance, CommunicatorKernelGetsTheRanksArgumentAfterTheHiddenSize) {
  const Instance instance{"allreduce_add_rms_norm_fp8_sm90_h4096_tp2_bs512",
                          find_kernel("allreduce_add_rms_norm_fp8"),
                          "sm90",
                          4096,
                          512,
                          allreduce_schedule(512, 8, 1, "allreduce_add_rms_norm_fp8"),
                          {"configs/allreduce_add_rms_norm_fp8/sm90/4096/tp2/bs512.json"},
                          2};
  EXPECT_EQ(emit_instance(instance),
            R"(// Generated by kiln-gen from configs/allreduce_add_rms_norm_fp8/sm90/4096/tp2/bs512.json
// Do not edit: change the config and regenerate (README.md, "Retuning and regenerating").
#include "allreduce_add_rms_norm.cuh"

namespace kiln::generated {

cudaError_t allreduce_add_rms_norm_fp8_sm90_h4096_tp2_bs512(const kiln::detail::LaunchParams& p, cudaStream_t stream) {
  using S = kiln::allreduce_add_rms_norm_fp8::Schedule</*hidden=*/4096, /*ranks=*/2, /*threads=*/512, /*vec=*/8, /*two_shot=*/1>;
  return kiln::allreduce_add_rms_norm_fp8::launch<S>(p, stream);
}

}  // namespace kiln::generated
)");
  // The rank count comes from the instance (its tp<R> folder), not a fixed 2.
  Instance tp8 = instance;
  tp8.ranks = 8;
  EXPECT_NE(emit_instance(tp8).find("Schedule</*hidden=*/4096, /*ranks=*/8, /*threads=*/512,"), std::string::npos);
}

TEST(EmitInstance, OtherKernelsGetNoRanksArgument) {
  const Plan plan = make_plan({rms_set("sm90", 2048, {{1, rms_schedule(256, 8, 1, 1)}})});
  const std::string text = emit_instance(plan.archs[0].instances[0]);
  EXPECT_NE(text.find("Schedule</*hidden=*/2048, /*threads=*/256,"), std::string::npos) << text;
  EXPECT_EQ(text.find("ranks"), std::string::npos) << text;
}

TEST(EmitInstance, ThreeSharingFilesAreAllNamed) {
  const Schedule a = rms_schedule(256, 8, 1, 1);
  const Plan plan = make_plan({rms_set("sm90", 2048, {{1, a}, {8, a}, {64, a}})});
  const std::vector<std::string> lines = lines_of(emit_instance(plan.archs[0].instances[0]));
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(lines.begin(), lines.begin() + 4),
            (std::vector<std::string>{
                "// Generated by kiln-gen from configs/rms_norm_fp8/sm90/2048/bs1.json",
                "// and configs/rms_norm_fp8/sm90/2048/bs8.json",
                "// and configs/rms_norm_fp8/sm90/2048/bs64.json (identical schedule).",
                "// Do not edit: change the config and regenerate (README.md, \"Retuning and regenerating\").",
            }));
}

TEST(EmitDispatch, OneSortedRowPerConfigWithSharingComment) {
  const Schedule a = rms_schedule(256, 8, 1, 1), b = rms_schedule(256, 8, 2, 1);
  const Plan plan = make_plan({rms_set("sm90", 2048, {{1, a}, {2, a}, {4, b}})});
  EXPECT_EQ(emit_dispatch(plan.archs[0]),
            R"(// Generated by kiln-gen from the 3 config files under configs/*/sm90/.
// Do not edit: change the configs and regenerate (README.md, "Retuning and regenerating").
// A kernel's part is compiled unless meson defines KILN_LEAVE_OUT_<KERNEL> (-Dkernels= without it).
#include "kiln/detail/table.h"

static_assert(KILN_TABLE_FORMAT == 5, "generated/ was written by another kiln-gen: regenerate");

namespace kiln::generated {

#ifndef KILN_LEAVE_OUT_RMS_NORM_FP8
cudaError_t rms_norm_fp8_sm90_h2048_bs1(const kiln::detail::LaunchParams&, cudaStream_t);
cudaError_t rms_norm_fp8_sm90_h2048_bs4(const kiln::detail::LaunchParams&, cudaStream_t);
#endif

namespace {
// kernel, hidden, threshold, instance, config file, schedule, most tokens, launcher, ranks
constexpr kiln::detail::Variant kRows[] = {
#ifndef KILN_LEAVE_OUT_RMS_NORM_FP8
    {"rms_norm_fp8", 2048, 1, "rms_norm_fp8_sm90_h2048_bs1", "configs/rms_norm_fp8/sm90/2048/bs1.json", "threads=256 vec=8 rows_per_cta=1 cluster=1", 2147483647, &rms_norm_fp8_sm90_h2048_bs1, 0},
    {"rms_norm_fp8", 2048, 2, "rms_norm_fp8_sm90_h2048_bs1", "configs/rms_norm_fp8/sm90/2048/bs2.json", "threads=256 vec=8 rows_per_cta=1 cluster=1", 2147483647, &rms_norm_fp8_sm90_h2048_bs1, 0},  // shares bs1's instance
    {"rms_norm_fp8", 2048, 4, "rms_norm_fp8_sm90_h2048_bs4", "configs/rms_norm_fp8/sm90/2048/bs4.json", "threads=256 vec=8 rows_per_cta=2 cluster=1", 2147483647, &rms_norm_fp8_sm90_h2048_bs4, 0},
#endif
};
}  // namespace

extern const kiln::detail::ArchTable table_sm90 = {"sm90", kRows, sizeof(kRows) / sizeof(kRows[0])};

}  // namespace kiln::generated
)");
}

// A communicator kernel's rows end with the set's rank count (the last Variant field);
// its grid is capped, so the token bound is the largest threshold.
TEST(EmitDispatch, CommunicatorRowsEndWithTheirRankCount) {
  const Schedule a = allreduce_schedule(512, 8, 0), b = allreduce_schedule(512, 8, 1);
  const Plan plan = make_plan({allreduce_set("sm90", 4096, 2, {{1, a}, {8, a}, {512, b}}),
                               allreduce_set("sm90", 4096, 8, {{1, b}}),
                               rms_set("sm90", 4096, {{1, rms_schedule(512, 8, 1, 1)}})});
  const std::vector<std::string> lines = lines_of(emit_dispatch(plan.archs[0]));
  std::vector<std::string> rows;
  for (const std::string& line : lines)
    if (line.starts_with("    {")) rows.push_back(line);
  EXPECT_EQ(rows, (std::vector<std::string>{
      R"(    {"allreduce_add_rms_norm", 4096, 1, "allreduce_add_rms_norm_sm90_h4096_tp2_bs1", "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs1.json", "threads=512 vec=8 two_shot=0", 2147483647, &allreduce_add_rms_norm_sm90_h4096_tp2_bs1, 2},)",
      R"(    {"allreduce_add_rms_norm", 4096, 8, "allreduce_add_rms_norm_sm90_h4096_tp2_bs1", "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs8.json", "threads=512 vec=8 two_shot=0", 2147483647, &allreduce_add_rms_norm_sm90_h4096_tp2_bs1, 2},  // shares bs1's instance)",
      R"(    {"allreduce_add_rms_norm", 4096, 512, "allreduce_add_rms_norm_sm90_h4096_tp2_bs512", "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs512.json", "threads=512 vec=8 two_shot=1", 2147483647, &allreduce_add_rms_norm_sm90_h4096_tp2_bs512, 2},)",
      R"(    {"allreduce_add_rms_norm", 4096, 1, "allreduce_add_rms_norm_sm90_h4096_tp8_bs1", "configs/allreduce_add_rms_norm/sm90/4096/tp8/bs1.json", "threads=512 vec=8 two_shot=1", 2147483647, &allreduce_add_rms_norm_sm90_h4096_tp8_bs1, 8},)",
      R"(    {"rms_norm_fp8", 4096, 1, "rms_norm_fp8_sm90_h4096_bs1", "configs/rms_norm_fp8/sm90/4096/bs1.json", "threads=512 vec=8 rows_per_cta=1 cluster=1", 2147483647, &rms_norm_fp8_sm90_h4096_bs1, 0},)",
  }));
  EXPECT_NE(std::find(lines.begin(), lines.end(),
                      "cudaError_t allreduce_add_rms_norm_sm90_h4096_tp8_bs1(const kiln::detail::LaunchParams&, cudaStream_t);"),
            lines.end());
  // Each kernel's declarations and rows sit inside its own guard, once each.
  std::vector<std::string> guards;
  for (const std::string& line : lines)
    if (line.starts_with("#")) guards.push_back(line);
  EXPECT_EQ(guards, (std::vector<std::string>{"#include \"kiln/detail/table.h\"",
                                              "#ifndef KILN_LEAVE_OUT_ALLREDUCE_ADD_RMS_NORM", "#endif",
                                              "#ifndef KILN_LEAVE_OUT_RMS_NORM_FP8", "#endif",
                                              "#ifndef KILN_LEAVE_OUT_ALLREDUCE_ADD_RMS_NORM", "#endif",
                                              "#ifndef KILN_LEAVE_OUT_RMS_NORM_FP8", "#endif"}));
}

// A row's token bound keeps its launch within 2^31 - 1 blocks, by the descriptor's grid.
TEST(EmitDispatch, MostTokensKeepsTheGridWithinTheLimit) {
  EXPECT_EQ(max_tokens(rms_schedule(256, 8, 1, 1), 2048), kMaxThreshold);
  EXPECT_EQ(max_tokens(rms_schedule(256, 8, 1, 8), 16384), kMaxGridBlocks / 8);  // 8 CTAs per row
  const KernelDescriptor& silu = *find_kernel("silu_mul_fp8");
  const Schedule tile_256{&silu, {64, 4, 1, 1}};                                 // 32 column tiles at 8192
  EXPECT_EQ(max_tokens(tile_256, 8192), kMaxGridBlocks / 32);
  const Schedule four_rows{&silu, {64, 4, 1, 4}};                                // 4 rows per CTA
  EXPECT_EQ(max_tokens(four_rows, 8192), kMaxGridBlocks / 32 * 4);
  for (int64_t t : {max_tokens(tile_256, 8192), max_tokens(four_rows, 8192)}) {
    const Schedule& s = t == max_tokens(tile_256, 8192) ? tile_256 : four_rows;
    EXPECT_LE(silu.blocks(s, 8192, t), kMaxGridBlocks);
    EXPECT_GT(silu.blocks(s, 8192, t + 1), kMaxGridBlocks);
  }
}

TEST(EmitDispatch, BannerSaysOneConfigFileInTheSingular) {
  const Plan plan = make_plan({rms_set("sm100", 4096, {{1, rms_schedule(512, 8, 1, 1)}})});
  EXPECT_TRUE(emit_dispatch(plan.archs[0]).starts_with("// Generated by kiln-gen from the 1 config file under configs/*/sm100/.\n"));
}

TEST(EmitMeson, EveryKnownArchHasItsSassOnlyTarget) {
  for (std::string_view arch : known_archs()) {
    const auto gencode = arch_gencode(arch);
    ASSERT_TRUE(gencode.has_value()) << arch;
    // code= must name a real arch (sm_XX): a compute_XX there would embed PTX.
    EXPECT_NE(gencode->find(",code=sm_" + std::string(arch.substr(2))), std::string_view::npos) << *gencode;
  }
  EXPECT_EQ(*arch_gencode("sm90"), "arch=compute_90a,code=sm_90a");
  EXPECT_FALSE(arch_gencode("sm91").has_value());
}

TEST(EmitMeson, OneFileListPerArchSortedByArchName) {
  const Schedule a = rms_schedule(256, 8, 1, 1), b = rms_schedule(256, 8, 2, 1);
  const Plan plan = make_plan({rms_set("sm100", 2048, {{1, a}}), rms_set("sm90", 2048, {{1, a}, {2, b}, {4, a}})});
  EXPECT_EQ(emit_meson(plan),
            R"(# Generated by kiln-gen from configs/. Do not edit: regenerate (README.md, "Retuning and regenerating").
# Every arch a config set may name, with the nvcc target it is built as (SASS only).
kiln_arch_gencode = {
  'sm80': 'arch=compute_80,code=sm_80',
  'sm86': 'arch=compute_86,code=sm_86',
  'sm89': 'arch=compute_89,code=sm_89',
  'sm90': 'arch=compute_90a,code=sm_90a',
  'sm100': 'arch=compute_100a,code=sm_100a',
  'sm103': 'arch=compute_103a,code=sm_103a',
  'sm120': 'arch=compute_120a,code=sm_120a',
}
# The kernel registry (every target arch) and the typed entry points.
kiln_registry_sources = files('kernels.cu', 'entry_points.cpp')
)" + meson_kernel_block() + R"(# Per arch, its dispatch table and each kernel's instances: the root meson.build compiles
# them for that arch only, the instances of the kernels -Dkernels= names (default: all).
kiln_dispatch_sources = {
  'sm100': files('dispatch_sm100.cpp'),
  'sm90': files('dispatch_sm90.cpp'),
}
kiln_generated_sources = {
  'sm100': {
    'rms_norm_fp8': files(
      'rms_norm_fp8/sm100/2048/rms_norm_fp8_sm100_h2048_bs1.cu',
    ),
  },
  'sm90': {
    'rms_norm_fp8': files(
      'rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs1.cu',
      'rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs2.cu',
    ),
  },
}
)");
  // The block lists every kernel of the descriptors (meson_kernel_block); an entry reads so:
  EXPECT_NE(emit_meson(plan).find("  'rms_norm_fp8': 'KILN_LEAVE_OUT_RMS_NORM_FP8',\n"), std::string::npos);
}

TEST(EmitAll, PathsMirrorConfigPathsAndEveryFileIsLfTerminated) {
  const FileMap files = emit_dir(fixture_configs());
  std::vector<std::string> paths;
  for (const auto& [path, content] : files) {
    paths.push_back(path);
    EXPECT_TRUE(content.ends_with("\n")) << path;
    EXPECT_EQ(content.find('\r'), std::string::npos) << path;
  }
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "allreduce_add_rms_norm/sm90/4096/tp2/allreduce_add_rms_norm_sm90_h4096_tp2_bs1.cu",
                       "allreduce_add_rms_norm/sm90/4096/tp2/allreduce_add_rms_norm_sm90_h4096_tp2_bs512.cu",
                       "allreduce_add_rms_norm_fp8/sm100/2048/tp4/allreduce_add_rms_norm_fp8_sm100_h2048_tp4_bs1.cu",
                       "dispatch_sm100.cpp",
                       "dispatch_sm90.cpp",
                       "entry_points.cpp",
                       "include/kiln/kernels.h",
                       "kernels.cu",
                       "kernels.json",
                       "meson.build",
                       "rms_norm_fp8/sm100/4096/rms_norm_fp8_sm100_h4096_bs1.cu",
                       "rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs1.cu",
                       "rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs16.cu",
                       "rms_norm_fp8/sm90/2048/rms_norm_fp8_sm90_h2048_bs2.cu",
                       "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs64.cu",
                       "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs8.cu",
                       "silu_mul_fp8/sm100/2048/silu_mul_fp8_sm100_h2048_bs1.cu",
                       "silu_mul_fp8/sm90/5120/silu_mul_fp8_sm90_h5120_bs1.cu",
                       "silu_mul_fp8/sm90/5120/silu_mul_fp8_sm90_h5120_bs256.cu",
                   }));
}

// The descriptor-derived files: one registry row, one typed entry point and one list
// entry per kernel, each naming the kernel's tensors by role in descriptor order.
TEST(EmitRegistry, OneRowPerKernelWithTensorsByRole) {
  const std::string text = emit_registry(kernel_descriptors());
  EXPECT_NE(text.find("#include \"rms_norm.cuh\"\n#include \"silu_mul_fp8.cuh\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("constexpr kiln_tensor_desc kFusedAddRmsNormTensors[] = {\n"
                      "    {\"input\", KILN_ROLE_INPUT, KILN_DIR_INOUT, KILN_ELEM_ACTIVATION, KILN_EXTENT_TOKENS, "
                      "KILN_EXTENT_HIDDEN, 16, 0},\n"
                      "    {\"residual\", KILN_ROLE_RESIDUAL, KILN_DIR_INOUT,"),
            std::string::npos)
      << text;
  for (const KernelDescriptor& k : kernel_descriptors())
    EXPECT_NE(text.find("&kiln::" + std::string(k.name) + "::launch_generic<>"), std::string::npos) << k.name;
  EXPECT_NE(text.find("KILN_OPTION_ROUNDING | KILN_OPTION_GEMMA | KILN_OPTION_STATIC_WEIGHT, KILN_SCALAR_EPS, \"rms_norm_generic\""),
            std::string::npos);
}

// A tensor row's last field says whether the caller may pass NULL: per_token_fp8's
// scale_ub (vLLM's optional cap) is the one optional tensor; every other row says 0.
TEST(EmitRegistry, PerTokenFp8MarksScaleUbOptional) {
  const std::string text = emit_registry(kernel_descriptors());
  EXPECT_NE(text.find("constexpr kiln_tensor_desc kPerTokenFp8Tensors[] = {\n"
                      "    {\"out\", KILN_ROLE_OUTPUT, KILN_DIR_OUT, KILN_ELEM_FP8_E4M3, KILN_EXTENT_TOKENS, "
                      "KILN_EXTENT_HIDDEN, 16, 0},\n"
                      "    {\"scales\", KILN_ROLE_SCALES, KILN_DIR_OUT, KILN_ELEM_F32, KILN_EXTENT_TOKENS, "
                      "KILN_EXTENT_ONE, 4, 0},\n"
                      "    {\"input\", KILN_ROLE_INPUT, KILN_DIR_IN, KILN_ELEM_ACTIVATION, KILN_EXTENT_TOKENS, "
                      "KILN_EXTENT_HIDDEN, 16, 0},\n"
                      "    {\"scale_ub\", KILN_ROLE_SCALE_UB, KILN_DIR_IN, KILN_ELEM_F32, KILN_EXTENT_ONE, "
                      "KILN_EXTENT_ONE, 4, 1},\n"
                      "};\n"),
            std::string::npos)
      << text;
  // Every tensor row of every kernel ends in its optional flag: 0, but for that one 1.
  std::size_t rows = 0, optional = 0, tensors = 0;
  for (const std::string& line : lines_of(text)) {
    if (!line.starts_with("    {\"") || line.find("KILN_ROLE_") == std::string::npos) continue;
    ++rows;
    if (line.ends_with(", 1},")) ++optional;
    else EXPECT_TRUE(line.ends_with(", 0},")) << line;
  }
  for (const KernelDescriptor& k : kernel_descriptors()) tensors += k.tensors.size();
  EXPECT_EQ(rows, tensors);
  EXPECT_EQ(optional, 1u);
}

// A communicator kernel's row names its template's workspace hooks (KernelEntry's last two
// fields) and KILN_OPTION_COMM; every other row leaves them out (null).
TEST(EmitRegistry, CommunicatorRowsNameTheirWorkspaceHooks) {
  const std::string text = emit_registry(kernel_descriptors());
  EXPECT_NE(text.find("#include \"allreduce_add_rms_norm.cuh\"\n#include \"rms_norm.cuh\"\n"), std::string::npos) << text;
  for (const char* name : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}) {
    const std::string ns = std::string("kiln::") + name;
    EXPECT_NE(text.find("KILN_OPTION_ROUNDING | KILN_OPTION_GEMMA | KILN_OPTION_STATIC_WEIGHT | KILN_OPTION_COMM, "
                        "KILN_SCALAR_EPS, \"" + std::string(name) + "_generic\", &" + ns + "::launch_generic<>, &" + ns +
                        "::probe_generic<>,\n     &" + ns + "::workspace_bytes, &" + ns + "::workspace_init},\n"),
              std::string::npos)
        << name << "\n" << text;
  }
  std::size_t hooks = 0, comm = 0;
  for (std::size_t at = 0; (at = text.find("::workspace_bytes, &", at)) != std::string::npos; ++at) ++hooks;
  for (std::size_t at = 0; (at = text.find("KILN_OPTION_COMM", at)) != std::string::npos; ++at) ++comm;
  EXPECT_EQ(hooks, 2u);
  EXPECT_EQ(comm, 2u);
  EXPECT_NE(text.find("&kiln::rms_norm::probe_generic<>, nullptr, nullptr},\n"), std::string::npos)
      << "a non-comm row's hooks are written as null";
}

TEST(EmitEntryPoints, DeclarationAndDefinitionAgreeAndFillEveryRole) {
  const std::string header = emit_entry_header(kernel_descriptors());
  const std::string source = emit_entry_points(kernel_descriptors());
  const std::string signature =
      "kiln_status kiln_fused_add_rms_norm_fp8(const kiln_plan* plan, void* out, const void* input, void* residual, "
      "const void* weight, const float* scale, float eps, kiln_dtype dtype, int64_t tokens, int64_t hidden, void* stream)";
  EXPECT_NE(header.find("KILN_API " + signature + ";"), std::string::npos) << header;
  EXPECT_NE(source.find(signature + " {"), std::string::npos) << source;
  for (const char* role : {"OUTPUT] = out;", "INPUT] = const_cast<void*>(input);", "RESIDUAL] = residual;",
                           "WEIGHT] = const_cast<void*>(weight);", "SCALE] = const_cast<float*>(scale);"})
    EXPECT_NE(source.find(std::string("args.tensors[KILN_ROLE_") + role), std::string::npos) << role;
  EXPECT_NE(source.find("return kiln::runtime::launch_as(plan, \"fused_add_rms_norm_fp8\", &args, stream);"),
            std::string::npos);
}

TEST(EmitKernelList, MachineReadableAndComplete) {
  const nlohmann::json list = nlohmann::json::parse(emit_kernel_list(kernel_descriptors()));
  ASSERT_EQ(list["kernels"].size(), kernel_descriptors().size());
  std::vector<std::string> names;
  for (const nlohmann::json& k : list["kernels"]) names.push_back(k["name"]);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << ::testing::PrintToString(names);
  EXPECT_EQ(names.front(), "allreduce_add_rms_norm");
  auto kernel = [&](const std::string& name) -> const nlohmann::json& {
    for (const nlohmann::json& k : list["kernels"])
      if (k["name"] == name) return k;
    ADD_FAILURE() << name << " is not listed";
    return list["kernels"][0];
  };
  const nlohmann::json& fused = kernel("fused_add_rms_norm");
  EXPECT_EQ(fused["entry_point"], "kiln_fused_add_rms_norm");
  EXPECT_EQ(fused["tensors"][0]["role"], "input");
  EXPECT_EQ(fused["tensors"][0]["direction"], "inout");
  EXPECT_EQ(fused["options"], nlohmann::json::array({"rounding", "gemma", "static_weight"}));
  EXPECT_EQ(fused["schedule"][0]["name"], "threads");
  // Communicator kernels say so ("comm"): a client knows it needs a communicator.
  const nlohmann::json& allreduce = kernel("allreduce_add_rms_norm_fp8");
  EXPECT_EQ(allreduce["entry_point"], "kiln_allreduce_add_rms_norm_fp8");
  EXPECT_EQ(allreduce["options"], nlohmann::json::array({"rounding", "gemma", "static_weight", "comm"}));
  EXPECT_EQ(allreduce["schedule"][2]["name"], "two_shot");
  for (const nlohmann::json& k : list["kernels"]) {
    const bool comm = std::find(k["options"].begin(), k["options"].end(), "comm") != k["options"].end();
    EXPECT_EQ(comm, find_kernel(k["name"].get<std::string>())->comm) << k["name"];
  }
}

}  // namespace
}  // namespace kiln::gen::test
