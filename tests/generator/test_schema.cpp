// Kernel schemas and single-file validation, rule by rule.
#include <gtest/gtest.h>

#include <set>

#include "kiln_gen/config_file.h"
#include "kiln_gen/names.h"
#include "kiln_gen/descriptor.h"

namespace kiln::gen {
namespace {

using nlohmann::json;

const KernelDescriptor& rms() { return *find_kernel("rms_norm_fp8"); }
const KernelDescriptor& silu() { return *find_kernel("silu_mul_fp8"); }
const KernelDescriptor& allreduce() { return *find_kernel("allreduce_add_rms_norm"); }

json good_rms() { return {{"threads", 256}, {"vec", 8}, {"rows_per_cta", 1}, {"cluster", 1}}; }    // at 4096
json good_silu() { return {{"threads", 128}, {"vec", 8}, {"col_iters", 1}, {"rows_per_cta", 1}}; }  // at 4096
json good_allreduce() { return {{"threads", 512}, {"vec", 8}, {"two_shot", 0}}; }                  // at 4096

// A schedule that passes for k at hidden 4096, by its template; a kernel with a new
// template fails here until it has one, so the schema-driven tests below cover it.
json good_for(const KernelDescriptor& k) {
  if (k.header == "rms_norm.cuh") return good_rms();
  if (k.header == "silu_mul_fp8.cuh") return good_silu();
  if (k.header == "allreduce_add_rms_norm.cuh") return good_allreduce();
  ADD_FAILURE() << k.name << ": no good schedule for template " << k.header << " in test_schema.cpp";
  return json::object();
}

json with(json schedule, const std::string& key, json value) {
  schedule[key] = std::move(value);
  return schedule;
}

std::vector<std::string> issue_lines(const ScheduleCheck& check) {
  std::vector<std::string> lines;
  for (const Issue& i : check.issues) lines.push_back(i.key + " = " + i.value + ": " + i.rule);
  return lines;
}

// The one issue a schedule gets, as "key = value: rule".
std::string only_issue(const KernelDescriptor& k, const json& schedule, int64_t hidden = 4096) {
  const ScheduleCheck check = check_schedule(k, schedule, hidden);
  EXPECT_FALSE(check.schedule.has_value());
  const auto lines = issue_lines(check);
  EXPECT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  return lines.empty() ? "" : lines.front();
}

std::vector<std::string> param_names(const KernelDescriptor& k) {
  std::vector<std::string> names;
  for (const ParamSpec& p : k.params) names.emplace_back(p.name);
  return names;
}

TEST(Registry, ListsKernelsSortedByName) {
  EXPECT_EQ(kernel_list(), "allreduce_add_rms_norm, allreduce_add_rms_norm_fp8, fused_add_rms_norm, fused_add_rms_norm_fp8, fused_add_rms_norm_group_fp8, fused_add_rms_norm_per_token_fp8, per_token_fp8, per_token_group_fp8, rms_norm, rms_norm_fp8, rms_norm_group_fp8, rms_norm_per_token_fp8, silu_mul_fp8, silu_mul_group_fp8");
  EXPECT_EQ(find_kernel("gelu_fp8"), nullptr);
}

TEST(Registry, RmsNormFp8HeaderNamespaceAndParamOrder) {
  EXPECT_EQ(rms().header, "rms_norm.cuh");
  EXPECT_EQ(rms().cpp_namespace, "kiln::rms_norm_fp8");
  EXPECT_EQ(param_names(rms()), (std::vector<std::string>{"threads", "vec", "rows_per_cta", "cluster"}));
}

TEST(Registry, SiluMulFp8HeaderNamespaceAndParamOrder) {
  EXPECT_EQ(silu().header, "silu_mul_fp8.cuh");
  EXPECT_EQ(silu().cpp_namespace, "kiln::silu_mul_fp8");
  EXPECT_EQ(param_names(silu()), (std::vector<std::string>{"threads", "vec", "col_iters", "rows_per_cta"}));
}

TEST(Registry, EveryParamIsConsistentAndDocumented) {
  for (const KernelDescriptor& k : kernel_descriptors())
    for (const ParamSpec& p : k.params) {
      SCOPED_TRACE(std::string(k.name) + "." + std::string(p.name));
      EXPECT_LE(p.min, p.max);
      EXPECT_GE(p.multiple_of, 1);
      EXPECT_FALSE(p.doc.empty());
      for (int64_t v : p.one_of) EXPECT_TRUE(v >= p.min && v <= p.max) << v;
    }
}

// A descriptor is what the runtime validates launches against: its roles must be
// unique, its tensors well formed, and it must write something.
TEST(Registry, EveryDescriptorIsWellFormed) {
  for (const KernelDescriptor& k : kernel_descriptors()) {
    SCOPED_TRACE(std::string(k.name));
    EXPECT_FALSE(k.summary.empty());
    EXPECT_EQ(k.cpp_namespace, "kiln::" + std::string(k.name)) << "one name: the namespace is the kernel's";
    std::set<Role> roles;
    std::set<std::string_view> names;
    bool writes = false;
    for (const TensorSpec& t : k.tensors) {
      EXPECT_TRUE(roles.insert(t.role).second) << "role " << text_name(t.role) << " twice";
      EXPECT_TRUE(names.insert(t.name).second) << "tensor name " << t.name << " twice";
      EXPECT_TRUE(t.alignment > 0 && (t.alignment & (t.alignment - 1)) == 0) << t.name << ": alignment " << t.alignment;
      writes |= t.direction != Direction::in;
      if (t.role == Role::scale || t.role == Role::scale_ub) {
        // The typed entry points pass both as const float*.
        EXPECT_TRUE(t.elem == Elem::f32 && t.direction == Direction::in) << t.name;
      }
    }
    EXPECT_TRUE(writes) << "a kernel with no output";
    ASSERT_NE(k.blocks, nullptr) << "the table bounds tokens by the grid: blocks is required";
    for (const ParamSpec& p : k.params) {
      EXPECT_FALSE(p.quick.empty()) << p.name << ": kiln-tune needs a quick grid";
      EXPECT_FALSE(p.full.empty()) << p.name << ": kiln-tune needs a full grid";
    }
  }
}

// One template, one schedule: every kernel of the family takes rms_norm's parameters first, in
// its order; the switches (ParamsWithADefaultAreLastAndInRange) come after them.
TEST(Registry, RmsNormFamilySharesOneTemplateAndSchema) {
  const std::vector<std::string> base = param_names(rms());
  for (const char* name : {"rms_norm", "fused_add_rms_norm", "fused_add_rms_norm_fp8"}) {
    const KernelDescriptor* k = find_kernel(name);
    ASSERT_NE(k, nullptr) << name;
    EXPECT_EQ(k->header, "rms_norm.cuh");
    const std::vector<std::string> names = param_names(*k);
    ASSERT_GE(names.size(), base.size()) << name;
    EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + base.size()), base) << name;
    for (std::size_t i = base.size(); i < names.size(); ++i)
      EXPECT_TRUE(k->params[i].default_value.has_value()) << name << "." << names[i] << ": a switch has a default";
    EXPECT_TRUE(k->rounding_option && k->gemma_option);
  }
  EXPECT_FALSE(silu().rounding_option || silu().gemma_option);
}

// The communicator kernels (KILN_OPTION_COMM): one template, fused_add_rms_norm(_fp8)'s
// tensors and options, and the only descriptors with comm set.
TEST(Registry, AllreduceKernelsAreTheCommunicatorKernels) {
  std::vector<std::string> comm;
  for (const KernelDescriptor& k : kernel_descriptors())
    if (k.comm) comm.emplace_back(k.name);
  EXPECT_EQ(comm, (std::vector<std::string>{"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}));
  for (const char* name : {"allreduce_add_rms_norm", "allreduce_add_rms_norm_fp8"}) {
    SCOPED_TRACE(name);
    const KernelDescriptor* k = find_kernel(name);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->header, "allreduce_add_rms_norm.cuh");
    EXPECT_EQ(param_names(*k), (std::vector<std::string>{"threads", "vec", "two_shot"}));
    EXPECT_TRUE(k->rounding_option && k->gemma_option && k->has_weight());
    EXPECT_EQ(k->scalars, std::vector<Scalar>{Scalar::eps});
  }
  // The same tensors, by role and direction, as the single-GPU fused add + norm that writes out.
  auto roles = [](const KernelDescriptor& k) {
    std::vector<std::pair<Role, Direction>> out;
    for (const TensorSpec& t : k.tensors) out.emplace_back(t.role, t.direction);
    return out;
  };
  EXPECT_EQ(roles(*find_kernel("allreduce_add_rms_norm_fp8")), roles(*find_kernel("fused_add_rms_norm_fp8")));
  EXPECT_EQ(roles(*find_kernel("allreduce_add_rms_norm")),
            (std::vector<std::pair<Role, Direction>>{{Role::output, Direction::out},
                                                     {Role::input, Direction::in},
                                                     {Role::residual, Direction::inout},
                                                     {Role::weight, Direction::in}}));
  // A communicator kernel's grid stays co-resident: at most 1024 CTAs, whatever the tokens.
  const KernelDescriptor& k = allreduce();
  const Schedule s{&k, {512, 8, 0}};
  EXPECT_EQ(k.blocks(s, 4096, 1), 1);
  EXPECT_EQ(k.blocks(s, 4096, 1024), 1024);
  EXPECT_EQ(k.blocks(s, 4096, kMaxThreshold), 1024);
}

TEST(Registry, KnownArchsAreTheSupportedTargets) {
  EXPECT_EQ(arch_list(), "sm80, sm86, sm89, sm90, sm100, sm103, sm120");
  EXPECT_TRUE(is_known_arch("sm90"));
  EXPECT_FALSE(is_known_arch("sm91"));
  EXPECT_FALSE(is_known_arch("SM90"));
}

TEST(Names, OneSchemeForInstanceConfigAndPaths) {
  EXPECT_EQ(instance_name("rms_norm_fp8", "sm90", 4096, 32), "rms_norm_fp8_sm90_h4096_bs32");
  EXPECT_EQ(set_path("rms_norm_fp8", "sm90", 4096), "configs/rms_norm_fp8/sm90/4096");
  EXPECT_EQ(config_path("rms_norm_fp8", "sm90", 4096, 32), "configs/rms_norm_fp8/sm90/4096/bs32.json");
  EXPECT_EQ(instance_path("rms_norm_fp8", "sm90", 4096, 32), "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs32.cu");
  EXPECT_EQ(dispatch_path("sm100"), "dispatch_sm100.cpp");
  EXPECT_EQ(leave_out_macro("rms_norm_fp8"), "KILN_LEAVE_OUT_RMS_NORM_FP8");
}

// A communicator kernel's rank count is one level below the hidden size in paths and
// follows the hidden size in names; ranks = 0 (every other kernel) adds nothing.
TEST(Names, RanksAddATpLevelAfterTheHiddenSize) {
  EXPECT_EQ(instance_name("allreduce_add_rms_norm", "sm90", 4096, 512, 2), "allreduce_add_rms_norm_sm90_h4096_tp2_bs512");
  EXPECT_EQ(instance_name("allreduce_add_rms_norm_fp8", "sm100", 8192, 1, 8),
            "allreduce_add_rms_norm_fp8_sm100_h8192_tp8_bs1");
  EXPECT_EQ(set_path("allreduce_add_rms_norm", "sm90", 4096, 2), "configs/allreduce_add_rms_norm/sm90/4096/tp2");
  EXPECT_EQ(config_path("allreduce_add_rms_norm", "sm90", 4096, 512, 2),
            "configs/allreduce_add_rms_norm/sm90/4096/tp2/bs512.json");
  EXPECT_EQ(instance_path("allreduce_add_rms_norm", "sm90", 4096, 512, 2),
            "allreduce_add_rms_norm/sm90/4096/tp2/allreduce_add_rms_norm_sm90_h4096_tp2_bs512.cu");
  EXPECT_EQ(instance_name("rms_norm_fp8", "sm90", 4096, 32, 0), instance_name("rms_norm_fp8", "sm90", 4096, 32));
  EXPECT_EQ(set_path("rms_norm_fp8", "sm90", 4096, 0), "configs/rms_norm_fp8/sm90/4096");
  EXPECT_EQ(config_path("rms_norm_fp8", "sm90", 4096, 32, 0), "configs/rms_norm_fp8/sm90/4096/bs32.json");
  EXPECT_EQ(instance_path("rms_norm_fp8", "sm90", 4096, 32, 0), "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs32.cu");
}

TEST(ParsePositive, AcceptsPlainDecimalsUpToTheLimit) {
  EXPECT_EQ(parse_positive("1", kMaxHidden), 1);
  EXPECT_EQ(parse_positive("4096", kMaxHidden), 4096);
  EXPECT_EQ(parse_positive("1048576", kMaxHidden), 1048576);
}

TEST(ParsePositive, RejectsZeroSignsLeadingZerosJunkAndOverflow) {
  for (const char* bad : {"", "0", "01", "-1", "+1", "1a", "4k", " 1", "1048577", "99999999999999999999"})
    EXPECT_EQ(parse_positive(bad, kMaxHidden), std::nullopt) << bad;
}

TEST(CheckSchedule, GoodSchedulesPassWithValuesInSchemaOrder) {
  const ScheduleCheck r = check_schedule(rms(), good_rms(), 4096);
  ASSERT_TRUE(r.schedule.has_value()) << ::testing::PrintToString(issue_lines(r));
  EXPECT_EQ(r.schedule->values, (std::vector<int64_t>{256, 8, 1, 1}));
  EXPECT_EQ(r.schedule->text(), "threads=256 vec=8 rows_per_cta=1 cluster=1");
  const ScheduleCheck s = check_schedule(silu(), good_silu(), 4096);
  ASSERT_TRUE(s.schedule.has_value());
  EXPECT_EQ(s.schedule->text(), "threads=128 vec=8 col_iters=1 rows_per_cta=1");
  EXPECT_EQ((*s.schedule)["col_iters"], 1);
}

// A switch with a default (the norm quantisers' weight_at_use): a config may leave it out, and
// at its default it is left out of the text and of the instance's template arguments, so the
// configs written before it existed keep their instances and dispatch rows byte for byte.
TEST(CheckSchedule, ASwitchAtItsDefaultMayBeLeftOutAndIsNotWritten) {
  const KernelDescriptor& k = *find_kernel("rms_norm_group_fp8");
  ASSERT_EQ(param_names(k).back(), "weight_at_use");
  const ScheduleCheck absent = check_schedule(k, good_rms(), 4096);
  ASSERT_TRUE(absent.schedule.has_value()) << ::testing::PrintToString(issue_lines(absent));
  EXPECT_EQ(absent.schedule->values, (std::vector<int64_t>{256, 8, 1, 1, 0}));
  EXPECT_EQ(absent.schedule->text(), "threads=256 vec=8 rows_per_cta=1 cluster=1");
  const ScheduleCheck zero = check_schedule(k, with(good_rms(), "weight_at_use", 0), 4096);
  ASSERT_TRUE(zero.schedule.has_value());
  EXPECT_EQ(zero.schedule, absent.schedule);
  const ScheduleCheck one = check_schedule(k, with(good_rms(), "weight_at_use", 1), 4096);
  ASSERT_TRUE(one.schedule.has_value());
  EXPECT_EQ(one.schedule->text(), "threads=256 vec=8 rows_per_cta=1 cluster=1 weight_at_use=1");
  EXPECT_EQ(only_issue(k, with(good_rms(), "weight_at_use", 2)).rfind("schedule.weight_at_use = 2: ", 0), 0u);
  // Kernels without the switch still require every key.
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "weight_at_use", 1)).rfind("schedule.weight_at_use = 1: unknown key", 0), 0u);
}

// Template defaults are trailing: so are the parameters with a default, in every schema.
TEST(Registry, ParamsWithADefaultAreLastAndInRange) {
  for (const KernelDescriptor& k : kernel_descriptors()) {
    bool seen_default = false;
    for (const ParamSpec& p : k.params) {
      SCOPED_TRACE(std::string(k.name) + "." + std::string(p.name));
      if (p.default_value) {
        EXPECT_TRUE(*p.default_value >= p.min && *p.default_value <= p.max);
        seen_default = true;
      } else {
        EXPECT_FALSE(seen_default) << "a parameter without a default follows one with a default";
      }
    }
  }
  // The norm quantisers have the weight switch, the add kinds the weight switch and then the
  // stage switch (the template's order); the other norm kernels and the rest neither.
  for (const char* name : {"rms_norm_per_token_fp8", "rms_norm_group_fp8"})
    EXPECT_EQ(param_names(*find_kernel(name)).back(), "weight_at_use") << name;
  for (const char* name : {"fused_add_rms_norm", "fused_add_rms_norm_fp8", "fused_add_rms_norm_per_token_fp8",
                           "fused_add_rms_norm_group_fp8"}) {
    const std::vector<std::string> names = param_names(*find_kernel(name));
    ASSERT_GE(names.size(), 2u);
    EXPECT_EQ(names[names.size() - 2], "weight_at_use") << name;
    EXPECT_EQ(names.back(), "stage") << name;
  }
  for (const char* name : {"rms_norm", "per_token_fp8", "per_token_group_fp8", "silu_mul_group_fp8"}) {
    EXPECT_NE(param_names(*find_kernel(name)).back(), "weight_at_use") << name;
    EXPECT_NE(param_names(*find_kernel(name)).back(), "stage") << name;
  }
}

// The add kinds' stage switch: the staged rows of x and the residual must fit in a CTA's 48 KiB
// of static shared memory, and a staged vector is at least 4 bytes (cp.async). Without the
// switch neither check binds.
TEST(CheckSchedule, AStagedScheduleFitsInSharedMemoryAndMovesFourBytes) {
  const KernelDescriptor& k = *find_kernel("fused_add_rms_norm_group_fp8");
  const ScheduleCheck one = check_schedule(k, with(good_rms(), "stage", 1), 4096);
  ASSERT_TRUE(one.schedule.has_value()) << ::testing::PrintToString(issue_lines(one));
  EXPECT_EQ(one.schedule->text(), "threads=256 vec=8 rows_per_cta=1 cluster=1 stage=1");
  // 4 rows of 8192 columns: 4 * 8192 * 4 bytes = 128 KiB staged; fine unstaged.
  json big = with(with(with(good_rms(), "rows_per_cta", 4), "threads", 256), "stage", 1);
  EXPECT_EQ(only_issue(k, big, 8192),
            "schedule.stage*rows_per_cta*hidden/cluster*4 = 131072: must be at most 49152 (the staged rows of x and "
            "the residual (2 bytes an element each) fit in 48 KiB of static shared memory)");
  EXPECT_TRUE(check_schedule(k, with(big, "stage", 0), 8192).schedule.has_value());
  // A cluster splits the row, and each CTA stages its slice only.
  EXPECT_TRUE(check_schedule(k, with(with(big, "cluster", 4), "rows_per_cta", 1), 8192).schedule.has_value());
  const KernelDescriptor& plain = *find_kernel("fused_add_rms_norm");
  json narrow = with(with(with(good_rms(), "vec", 1), "threads", 512), "stage", 1);
  EXPECT_EQ(only_issue(plain, narrow, 4096),
            "schedule.vec*2 (staged) = 2: must be at least 4 (cp.async moves at least 4 bytes: a staged schedule needs "
            "vec >= 2)");
  EXPECT_TRUE(check_schedule(plain, with(narrow, "stage", 0), 4096).schedule.has_value());
  EXPECT_EQ(only_issue(plain, with(good_rms(), "stage", 2)).rfind("schedule.stage = 2: ", 0), 0u);
}

// --- every parameter, every rule, driven by the schema itself --------------------

TEST(CheckSchedule, EveryParamRejectsNonIntegerJsonTypes) {
  for (const KernelDescriptor& k : kernel_descriptors())
    for (const ParamSpec& p : k.params)
      for (const json& bad : {json(8.0), json(true), json("8"), json(nullptr), json::array({8}), json::object()}) {
        const std::string key = "schedule." + std::string(p.name);
        EXPECT_EQ(only_issue(k, with(good_for(k), std::string(p.name), bad)),
                  key + " = " + render_value(bad) + ": must be a JSON integer");
      }
}

TEST(CheckSchedule, EveryParamRejectsValuesJustOutsideItsRange) {
  for (const KernelDescriptor& k : kernel_descriptors())
    for (const ParamSpec& p : k.params) {
      const std::string range = "must be in " + std::to_string(p.min) + ".." + std::to_string(p.max);
      const std::string key = "schedule." + std::string(p.name);
      EXPECT_EQ(only_issue(k, with(good_for(k), std::string(p.name), p.min - 1)),
                key + " = " + std::to_string(p.min - 1) + ": " + range);
      EXPECT_EQ(only_issue(k, with(good_for(k), std::string(p.name), p.max + 1)),
                key + " = " + std::to_string(p.max + 1) + ": " + range);
    }
}

TEST(CheckSchedule, EveryAllowedSetRejectsAValueInRangeButNotListed) {
  int sets = 0;
  for (const KernelDescriptor& k : kernel_descriptors())
    for (const ParamSpec& p : k.params)
      for (int64_t v = p.min; !p.one_of.empty() && v <= p.max; ++v)
        if (std::find(p.one_of.begin(), p.one_of.end(), v) == p.one_of.end()) {
          const std::string issue = only_issue(k, with(good_for(k), std::string(p.name), v));
          EXPECT_NE(issue.find("must be one of"), std::string::npos) << issue;
          ++sets;
          break;
        }
  // vec and cluster of the ten kernels on the RMSNorm template; vec of silu_mul_fp8 and
  // silu_mul_group_fp8; vec of the two all-reduce kernels
  EXPECT_EQ(sets, 24);
}

TEST(CheckSchedule, EveryMultipleOfRuleRejectsANonMultiple) {
  int rules = 0;
  for (const KernelDescriptor& k : kernel_descriptors())
    for (const ParamSpec& p : k.params)
      if (p.multiple_of > 1) {
        const int64_t v = p.min + 1;
        EXPECT_EQ(only_issue(k, with(good_for(k), std::string(p.name), v)),
                  "schedule." + std::string(p.name) + " = " + std::to_string(v) + ": must be a multiple of " +
                      std::to_string(p.multiple_of));
        ++rules;
      }
  // threads of every kernel, and no other stepped parameter
  EXPECT_EQ(rules, static_cast<int>(kernel_descriptors().size()));
}

// --- the same rules with the values written out -----------------------------------

TEST(CheckSchedule, RmsThreadsRangeAndMultipleOf32) {
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "threads", 1056)), "schedule.threads = 1056: must be in 32..1024");
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "threads", 16)), "schedule.threads = 16: must be in 32..1024");
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "threads", 48)), "schedule.threads = 48: must be a multiple of 32");
}

TEST(CheckSchedule, VecMustBeOneOf1248) {
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "vec", 3)), "schedule.vec = 3: must be one of 1, 2, 4, 8");
  EXPECT_EQ(only_issue(silu(), with(good_silu(), "vec", 6)), "schedule.vec = 6: must be one of 1, 2, 4, 8");
  EXPECT_EQ(only_issue(silu(), with(good_silu(), "vec", 16)), "schedule.vec = 16: must be in 1..8");
}

TEST(CheckSchedule, RmsRowsPerCtaAndClusterRanges) {
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "rows_per_cta", 17)), "schedule.rows_per_cta = 17: must be in 1..16");
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "cluster", 3)), "schedule.cluster = 3: must be one of 1, 2, 4, 8");
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "cluster", 0)), "schedule.cluster = 0: must be in 1..8");
}

TEST(CheckSchedule, SiluColItersAndRowsPerCtaRanges) {
  EXPECT_EQ(only_issue(silu(), with(good_silu(), "col_iters", 0)), "schedule.col_iters = 0: must be in 1..16");
  EXPECT_EQ(only_issue(silu(), with(good_silu(), "col_iters", 17)), "schedule.col_iters = 17: must be in 1..16");
  EXPECT_EQ(only_issue(silu(), with(good_silu(), "rows_per_cta", 65)), "schedule.rows_per_cta = 65: must be in 1..64");
}

TEST(CheckSchedule, AllreduceTwoShotIsZeroOrOne) {
  const ScheduleCheck good = check_schedule(allreduce(), with(good_allreduce(), "two_shot", 1), 4096);
  ASSERT_TRUE(good.schedule.has_value()) << ::testing::PrintToString(issue_lines(good));
  EXPECT_EQ(good.schedule->text(), "threads=512 vec=8 two_shot=1");
  EXPECT_EQ(only_issue(allreduce(), with(good_allreduce(), "two_shot", 2)), "schedule.two_shot = 2: must be in 0..1");
  // The rank count is the folder's (tp<R>), never a schedule key.
  EXPECT_EQ(only_issue(allreduce(), with(good_allreduce(), "ranks", 2)),
            "schedule.ranks = 2: unknown key; allreduce_add_rms_norm takes threads, vec, two_shot");
}

TEST(CheckSchedule, IntegerBeyondInt64IsOutOfRange) {
  const json huge = json::parse("18446744073709551615");
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "threads", huge)),
            "schedule.threads = 18446744073709551615: must be in 32..1024");
}

TEST(CheckSchedule, MissingAndUnknownKeysAreEachReported) {
  json s = good_rms();
  s.erase("cluster");
  s["warps"] = 4;
  const auto lines = issue_lines(check_schedule(rms(), s, 4096));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "schedule.warps = 4: unknown key; rms_norm_fp8 takes threads, vec, rows_per_cta, cluster",
                       "schedule.cluster = (missing): required: CTAs of a thread-block cluster that split one row",
                   }));
}

TEST(CheckSchedule, ScheduleMustBeAnObject) {
  EXPECT_EQ(only_issue(silu(), json::array({128, 8, 1, 1})),
            "schedule = [128,8,1,1]: must be an object with threads, vec, col_iters, rows_per_cta");
}

TEST(CheckSchedule, SeveralBadParamsAreAllReported) {
  json s = good_rms();
  s["vec"] = 3;
  s["rows_per_cta"] = "1";
  EXPECT_EQ(check_schedule(rms(), s, 4096).issues.size(), 2u);
}

// --- cross-checks against the hidden size -----------------------------------------

TEST(CrossCheck, SiluColumnTileMustDivideHidden) {
  const json s = {{"threads", 256}, {"vec", 8}, {"col_iters", 2}, {"rows_per_cta", 1}};
  EXPECT_TRUE(check_schedule(silu(), s, 4096).schedule.has_value());
  EXPECT_EQ(only_issue(silu(), s, 5120),
            "schedule.threads*vec*col_iters = 4096: does not divide hidden 5120 "
            "(the column tile threads*vec*col_iters = N must divide hidden H)");
}

TEST(CrossCheck, SiluVectorsInFlightAtMost32) {
  const json ok = {{"threads", 128}, {"vec", 8}, {"col_iters", 4}, {"rows_per_cta", 8}};
  EXPECT_TRUE(check_schedule(silu(), ok, 4096).schedule.has_value());  // 32: the limit itself
  EXPECT_EQ(only_issue(silu(), with(ok, "rows_per_cta", 9), 4096),
            "schedule.rows_per_cta*col_iters = 36: must be at most 32 (vectors in flight per thread: register budget)");
}

TEST(CrossCheck, RmsThreadsTimesRowsAtMost1024) {
  EXPECT_TRUE(check_schedule(rms(), with(good_rms(), "rows_per_cta", 4), 4096).schedule.has_value());  // 1024
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "rows_per_cta", 5), 4096),
            "schedule.threads*rows_per_cta = 1280: must be at most 1024 (a CTA holds at most 1024 threads)");
}

TEST(CrossCheck, RmsRowSliceMustDivideHidden) {
  EXPECT_EQ(only_issue(rms(), good_rms(), 5120),
            "schedule.cluster*threads*vec = 2048: does not divide hidden 5120 "
            "(the row slice cluster*threads*vec = N must divide hidden H)");
  EXPECT_NE(only_issue(rms(), with(good_rms(), "cluster", 4), 4096).find("cluster*threads*vec = 8192"),
            std::string::npos);
}

TEST(CrossCheck, RmsRowSlicePerThreadAtMost32) {
  const json s = {{"threads", 32}, {"vec", 8}, {"rows_per_cta", 1}, {"cluster", 1}};
  EXPECT_TRUE(check_schedule(rms(), s, 8192).schedule.has_value());  // 32 per thread: the limit
  EXPECT_EQ(only_issue(rms(), s, 16384),
            "schedule.hidden/(cluster*threads*vec) = 64: must be at most 32 (the row slice per thread lives in registers)");
}

TEST(CrossCheck, AllreduceRowSliceMustDivideHiddenAndFitInRegisters) {
  EXPECT_EQ(only_issue(allreduce(), good_allreduce(), 5120),
            "schedule.threads*vec = 4096: does not divide hidden 5120 "
            "(the row slice threads*vec = N must divide hidden H)");
  const json small = {{"threads", 32}, {"vec", 8}, {"two_shot", 1}};
  EXPECT_TRUE(check_schedule(allreduce(), small, 8192).schedule.has_value());  // 32 per thread: the limit
  EXPECT_EQ(only_issue(allreduce(), small, 16384),
            "schedule.hidden/(threads*vec) = 64: must be at most 32 (the row slice per thread lives in registers)");
}

// The group quantisers (KILN_OPTION_GROUP) reduce a group of 64 or 128 columns within one
// warp, which takes vec >= 4; every other kernel still takes vec 1 and 2.
TEST(CrossCheck, GroupKernelsTakeVecAtLeast4) {
  const std::string rule = "must be at least 4 (a group of 64 or 128 columns must lie within one warp: vec >= 4)";
  std::vector<std::string> groups;
  for (const KernelDescriptor& k : kernel_descriptors()) {
    SCOPED_TRACE(std::string(k.name));
    if (k.group_option) groups.emplace_back(k.name);
    for (int64_t vec : {1, 2}) {
      const json s = with(good_for(k), "vec", vec);  // every other rule holds at 4096
      if (k.group_option) {
        EXPECT_EQ(only_issue(k, s), "schedule.vec = " + std::to_string(vec) + ": " + rule);
      } else {
        const ScheduleCheck r = check_schedule(k, s, 4096);
        EXPECT_TRUE(r.schedule.has_value()) << ::testing::PrintToString(issue_lines(r));
      }
    }
    for (int64_t vec : {4, 8}) {
      const ScheduleCheck r = check_schedule(k, with(good_for(k), "vec", vec), 4096);
      EXPECT_TRUE(r.schedule.has_value()) << vec << ": " << ::testing::PrintToString(issue_lines(r));
    }
  }
  EXPECT_EQ(groups, (std::vector<std::string>{"fused_add_rms_norm_group_fp8", "per_token_group_fp8",
                                              "rms_norm_group_fp8", "silu_mul_group_fp8"}));
}

TEST(CrossCheck, SkippedWhileAParamIsInvalid) {
  // vec=3 would also break the row-slice division; only the parameter is reported.
  EXPECT_EQ(only_issue(rms(), with(good_rms(), "vec", 3), 4096), "schedule.vec = 3: must be one of 1, 2, 4, 8");
}

// --- whole config files -------------------------------------------------------------

std::vector<std::string> text_issues(std::string_view text, const KernelDescriptor& k = rms()) {
  return issue_lines(check_config_text(k, text, 4096));
}

TEST(ConfigText, ScheduleWithFreeFormTuningPasses) {
  const std::string text = R"({"schedule": {"threads": 256, "vec": 8, "rows_per_cta": 1, "cluster": 1},
                               "tuning": {"gpu": "H100", "us": 2.5, "tried": [1, 2], "nested": {"a": null}}})";
  EXPECT_TRUE(check_config_text(rms(), text, 4096).schedule.has_value());
}

TEST(ConfigText, MalformedJsonReportsLineAndColumn) {
  const auto lines = text_issues("{\n  \"schedule\": {\"threads\": 256,,}\n}\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("json = line 2, column 31: malformed JSON: ")) << lines[0];
}

TEST(ConfigText, DocumentMustBeAnObject) {
  EXPECT_EQ(text_issues("[1]"), (std::vector<std::string>{
                                    R"(document = [1]: must be a JSON object with "schedule" and optional "tuning")"}));
}

TEST(ConfigText, ScheduleIsRequired) {
  EXPECT_EQ(text_issues(R"({"tuning": {}})"),
            (std::vector<std::string>{"schedule = (missing): required: an object with threads, vec, rows_per_cta, cluster"}));
}

TEST(ConfigText, UnknownTopLevelKeyIsAnError) {
  const auto lines = text_issues(R"({"schedule": {"threads": 256, "vec": 8, "rows_per_cta": 1, "cluster": 1}, "note": 1})");
  EXPECT_EQ(lines, (std::vector<std::string>{"note = 1: unknown top-level key; allowed: schedule, tuning"}));
}

TEST(ConfigText, TuningMustBeAnObject) {
  const auto lines =
      text_issues(R"({"schedule": {"threads": 256, "vec": 8, "rows_per_cta": 1, "cluster": 1}, "tuning": [1]})");
  EXPECT_EQ(lines, (std::vector<std::string>{"tuning = [1]: must be an object (free-form provenance)"}));
}

TEST(ConfigText, RepeatedKeysAreReportedAndNotGuessedAt) {
  const auto lines =
      text_issues(R"({"schedule": {"threads": 256, "vec": 8, "vec": 3, "rows_per_cta": 1, "cluster": 1}})");
  EXPECT_EQ(lines, (std::vector<std::string>{"schedule.vec = (repeated): duplicate key in one JSON object"}));
}

TEST(ConfigText, LongValuesAreCutShortInReports) {
  const std::string rendered = render_value(json(std::string(200, 'x')));
  EXPECT_EQ(rendered.size(), 60u);
  EXPECT_TRUE(rendered.ends_with("..."));
}

}  // namespace
}  // namespace kiln::gen
