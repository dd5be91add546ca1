// CPU tests of kiln-tune: the candidate space, picking, config files and sources,
// and whole runs on a simulated lab (no GPU, synthetic timings through real worker
// processes): resume, --force, and crashing, wrong and hanging candidates.
//
// This binary is also the kiln-tune under test for those runs: `test_kiln_tune
// --kiln-tune ARGS` is kiln-tune on the simulated lab (simulated_lab.h), and it
// re-executes itself as its workers (--worker-internal). The real kiln-tune, passed as
// the first argument, is run where no GPU is needed (--dry-run).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "build.h"
#include "candidates.h"
#include "cli.h"
#include "config_io.h"
#include "kiln_gen/config_file.h"
#include "kiln_gen/source_tree.h"
#include "kiln_gen/space.h"
#include "kiln_gen/validate.h"
#include "pick.h"
#include "simulated_lab.h"
#include "tune.h"
#include "util.h"
#include "worker.h"

namespace fs = std::filesystem;
using namespace kiln_tune;

namespace {

std::string g_binary;  // the real kiln-tune executable (first argument)

const kiln::gen::KernelDescriptor& silu() { return *kiln::gen::find_kernel("silu_mul_fp8"); }
const kiln::gen::KernelDescriptor& rms() { return *kiln::gen::find_kernel("rms_norm_fp8"); }

kiln::gen::Schedule schedule(const kiln::gen::KernelDescriptor& k, std::vector<int64_t> values) {
  return {&k, std::move(values)};
}

TEST(Space, EveryCandidatePassesKilnGenAndTheInvalidAreGone) {
  for (const auto* k : {&silu(), &rms()}) {
    for (int64_t h : {2048, 4096, 5120, 8192}) {
      for (Mode m : {Mode::quick, Mode::full}) {
        const CandidateSet set = make_candidates(*k, "sm90", h, m, {});
        ASSERT_FALSE(set.schedules.empty()) << k->name << " " << h;
        for (const auto& s : set.schedules) {
          nlohmann::json j;
          for (std::size_t i = 0; i < s.values.size(); ++i) j[std::string(k->params[i].name)] = s.values[i];
          EXPECT_TRUE(kiln::gen::check_schedule(*k, j, h).schedule.has_value()) << s.text();
        }
      }
    }
  }
  // silu quick at 5120: a tile of 512 x 8 does not divide 5120; 256 x 8 x 2 does not either.
  const CandidateSet set = make_candidates(silu(), "sm90", 5120, Mode::quick, {});
  for (const auto& s : set.schedules) EXPECT_EQ(5120 % (s["threads"] * s["vec"] * s["col_iters"]), 0) << s.text();
  EXPECT_GT(set.pruned.at("schedule.threads*vec*col_iters"), 0u);
  EXPECT_EQ(set.considered, 6u * 1 * 2 * 3);  // threads 64, 128, 160, 256, 320, 512
  bool has_160 = false;
  for (const auto& s : set.schedules) has_160 = has_160 || s["threads"] == 160;
  EXPECT_TRUE(has_160);
}

TEST(Space, ClustersOnlyFromSm90) {
  const CandidateSet old = make_candidates(rms(), "sm80", 8192, Mode::full, {});
  for (const auto& s : old.schedules) EXPECT_EQ(s["cluster"], 1);
  const CandidateSet hopper = make_candidates(rms(), "sm90", 8192, Mode::full, {});
  EXPECT_GT(hopper.schedules.size(), old.schedules.size());
}

TEST(Space, OverridesAndDomains) {
  const CandidateSet set = make_candidates(silu(), "sm90", 4096, Mode::quick, {{"threads", {128}}, {"vec", {8, 3}}});
  for (const auto& s : set.schedules) {
    EXPECT_EQ(s["threads"], 128);
    EXPECT_EQ(s["vec"], 8);  // 3 is outside vec's one_of
  }
  EXPECT_TRUE(check_overrides({&silu()}, {{"cluster", {1}}}).has_value());
  EXPECT_FALSE(check_overrides({&silu(), &rms()}, {{"cluster", {1}}}).has_value());
  EXPECT_EQ(kiln::gen::power_of_two_domain(*silu().find_param("threads")),
            (std::vector<int64_t>{32, 64, 128, 256, 512, 1024}));
  EXPECT_THROW(kiln::gen::enumerate_space(silu(), 4096, {{1}}), std::invalid_argument);
}

TEST(Space, GridsAreTheDescriptors) {
  // Every kernel's grid is its descriptor's quick/full values (plus, for a stepped
  // parameter, the steps in range that divide the hidden size), and none is empty.
  for (const auto& k : kiln::gen::kernel_descriptors()) {
    for (Mode m : {Mode::quick, Mode::full}) {
      const auto grid = grid_for(k, 4096, m, {});
      ASSERT_EQ(grid.size(), k.params.size()) << k.name;
      for (std::size_t i = 0; i < grid.size(); ++i) {
        const auto& spec = k.params[i];
        const auto& want = m == Mode::quick ? spec.quick : spec.full;
        EXPECT_FALSE(grid[i].empty()) << k.name << " " << spec.name;
        for (int64_t v : want)
          EXPECT_NE(std::find(grid[i].begin(), grid[i].end(), v), grid[i].end()) << k.name << " " << spec.name << " " << v;
        if (spec.multiple_of == 1) {
          EXPECT_EQ(grid[i].size(), want.size()) << k.name << " " << spec.name;
        }
      }
      EXPECT_FALSE(make_candidates(k, "sm90", 4096, m, {}).schedules.empty()) << k.name;
    }
  }
  const auto& cluster = *rms().find_param("cluster");
  EXPECT_EQ(grid_for(rms(), 4096, Mode::full, {})[3], cluster.full);
  EXPECT_EQ(grid_for(rms(), 4096, Mode::quick, {})[3], cluster.quick);
}

TEST(Pick, SimplestWithinTieAndMargins) {
  // threads vec col_iters rows_per_cta
  std::vector<kiln::gen::Schedule> s = {schedule(silu(), {128, 8, 1, 2}), schedule(silu(), {256, 8, 1, 1}),
                                        schedule(silu(), {512, 8, 1, 1}), schedule(silu(), {64, 8, 1, 1})};
  EXPECT_LT(simplicity_key(s[1]), simplicity_key(s[0]));  // same work, rows 1 is simpler
  EXPECT_LT(simplicity_key(s[3]), simplicity_key(s[1]));
  std::vector<std::vector<int64_t>> keys;
  for (const auto& x : s) keys.push_back(simplicity_key(x));

  const std::vector<double> scores = relative_scores({{10.0}, {10.05}, {11.0}, {}});
  EXPECT_DOUBLE_EQ(scores[0], 1.0);
  EXPECT_FALSE(std::isfinite(scores[3]));
  Choice c = choose(scores, keys, 0.01);
  EXPECT_EQ(c.winner, 1);  // 0.5 % slower but simpler
  EXPECT_EQ(c.runner_up, 0);
  c = choose(scores, keys, 0.001);
  EXPECT_EQ(c.winner, 0);
  EXPECT_EQ(contenders(scores, 0.03, 4), (std::vector<int>{0, 1}));
  EXPECT_EQ(contenders(scores, 0.5, 4), (std::vector<int>{0, 1, 2}));
  // Two points: the mean of relative times.
  const std::vector<double> two = relative_scores({{1.0, 4.0}, {2.0, 2.0}});
  EXPECT_DOUBLE_EQ(two[0], 1.5);
  EXPECT_DOUBLE_EQ(two[1], 1.5);
}

TEST(Pick, ReplacingNeedsAClearWinAndNoLossAnywhere) {
  EXPECT_TRUE(replaces({0.9, 0.9}, {1.0, 1.0}, 0.01));
  EXPECT_FALSE(replaces({0.995, 0.995}, {1.0, 1.0}, 0.01));  // within noise: the incumbent stays
  EXPECT_FALSE(replaces({0.5, 1.02}, {1.0, 1.0}, 0.01));     // much faster at N, 2 % slower inside the bucket
  EXPECT_TRUE(replaces({0.5, 1.005}, {1.0, 1.0}, 0.01));     // 0.5 % slower is noise
  EXPECT_FALSE(replaces({}, {1.0}, 0.01));
  EXPECT_DOUBLE_EQ(mean_ratio({1.0, 3.0}, {2.0, 2.0}), 1.0);
}

TEST(Pick, IncumbentStaysUnlessReplaced) {
  // threads vec col_iters rows_per_cta
  std::vector<std::vector<int64_t>> keys;
  for (const auto& v : std::vector<std::vector<int64_t>>{{64, 4, 1, 1}, {256, 8, 1, 1}, {128, 8, 1, 1}, {512, 8, 1, 1}})
    keys.push_back(simplicity_key(schedule(silu(), v)));

  // Faster at N, slower inside the bucket: the best score, but it does not replace the incumbent.
  const std::vector<std::vector<double>> split = {{1.0, 1.0}, {0.8, 1.2}};
  EXPECT_EQ(choose(relative_scores(split), keys, 0.01).winner, 1);
  Choice c = choose_against(split, keys, 0.01, 0);
  EXPECT_EQ(c.winner, 0);
  EXPECT_TRUE(c.incumbent_kept);
  EXPECT_EQ(c.runner_up, 1);

  // Two candidates replace it; the tie rule picks the simpler of them; one that is only
  // faster at N is not eligible even though it scores best.
  const std::vector<std::vector<double>> beaten = {{1.0, 1.0}, {0.90, 0.90}, {0.905, 0.90}, {0.5, 1.1}};
  c = choose_against(beaten, keys, 0.01, 0);
  EXPECT_EQ(c.winner, 2);  // 128 threads: simpler than 256, within 1 %
  EXPECT_FALSE(c.incumbent_kept);

  // The fastest incumbent wins by itself; no incumbent or an untimed one: the plain rule.
  c = choose_against({{0.8, 0.8}, {0.9, 0.9}}, keys, 0.01, 0);
  EXPECT_EQ(c.winner, 0);
  EXPECT_EQ(c.runner_up, 1);
  EXPECT_EQ(choose_against(split, keys, 0.01, -1).winner, 1);
  EXPECT_EQ(choose_against({{}, {0.8, 1.2}}, keys, 0.01, 0).winner, 1);
}

TEST(Tune, TimingPointsStayInTheBucket) {
  EXPECT_EQ(timing_points(32, 128, 6144), (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(timing_points(1, 2, 6144), (std::vector<int64_t>{1}));  // the bucket is one count
  EXPECT_EQ(timing_points(2, 4, 6144), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(timing_points(4, 8, 6144), (std::vector<int64_t>{4, 6}));
  // The open-ended last bucket: also timed where its tensors take 256 MiB and miss L2.
  constexpr int64_t k16KiB = 16384;
  EXPECT_EQ(timing_points(1024, 0, k16KiB), (std::vector<int64_t>{1024, 16384}));  // 16384 x 16 KiB = 256 MiB
  EXPECT_EQ(timing_points(1, 0, k16KiB), (std::vector<int64_t>{1, 16384}));
  EXPECT_EQ(timing_points(1024, 0, 1 << 20), (std::vector<int64_t>{1024, 16384}));  // at least 16384
  EXPECT_EQ(timing_points(1024, 0, 12288), (std::vector<int64_t>{1024, 32768}));    // h = 4096, 3 bytes an element
  EXPECT_EQ(timing_points(1024, 0, 6144), (std::vector<int64_t>{1024, 65536}));     // h = 2048
  EXPECT_EQ(timing_points(1024, 0, 100), (std::vector<int64_t>{1024, 65536}));      // capped
  EXPECT_EQ(timing_points(5000, 0, 6144), (std::vector<int64_t>{5000, 65536}));     // 80000 capped
  EXPECT_EQ(timing_points(1024, 0, 0), (std::vector<int64_t>{1024, 65536}));        // no bytes: as 1 a token
  EXPECT_EQ(timing_points(100000, 0, 100), (std::vector<int64_t>{100000}));         // past the cap: N only
  EXPECT_EQ(timing_points(8192, 0, k16KiB), (std::vector<int64_t>{8192, 32768}));
  // A device's L2 raises the bytes to 4x its size where that is more than 256 MiB.
  constexpr int64_t kH200L2 = int64_t(60) << 20, kB200L2 = int64_t(126) << 20;
  EXPECT_EQ(timing_points(1024, 0, k16KiB, kH200L2), (std::vector<int64_t>{1024, 16384}));  // 240 MiB < 256
  EXPECT_EQ(timing_points(1024, 0, k16KiB, kB200L2), (std::vector<int64_t>{1024, 32768}));  // 504 MiB
  EXPECT_EQ(timing_points(1024, 0, 6144, kB200L2), (std::vector<int64_t>{1024, 65536}));    // capped
  EXPECT_EQ(timing_points(1024, 0, k16KiB, -1), (std::vector<int64_t>{1024, 16384}));       // nonsense: ignored
  EXPECT_EQ(timing_points(32768, 0, k16KiB), (std::vector<int64_t>{32768, 65536}));  // capped
  EXPECT_EQ(timing_points(65536, 0, k16KiB), (std::vector<int64_t>{65536}));
  // libkiln's kiln_min_bytes: inputs read once, outputs written once, the 4-byte scale too.
  EXPECT_DOUBLE_EQ(min_bytes("silu_mul_fp8", 4096, 2), 2 * 4096 * 4 + 2 * 4096 + 4);
  EXPECT_DOUBLE_EQ(min_bytes("rms_norm_fp8", 4096, 2), 2 * 4096 * 2 + 4096 * 2 + 2 * 4096 + 4);
  EXPECT_THROW(min_bytes("no_such_kernel", 4096, 2), std::runtime_error);
}

TEST(Configs, TextIsWhatKilnGenAccepts) {
  nlohmann::ordered_json tuning = {{"gpu", "X"}, {"us", 1.25}};
  const std::string text = config_text(schedule(rms(), {256, 8, 1, 1}), 4096, tuning);
  EXPECT_LT(text.find("\"threads\""), text.find("\"vec\""));
  EXPECT_LT(text.find("\"rows_per_cta\""), text.find("\"cluster\""));
  EXPECT_LT(text.find("\"schedule\""), text.find("\"tuning\""));
  EXPECT_EQ(text.back(), '\n');
  EXPECT_TRUE(kiln::gen::check_config_text(rms(), text, 4096).schedule.has_value());
  EXPECT_THROW(config_text(schedule(rms(), {256, 8, 1, 1}), 3000, tuning), std::runtime_error);
}

TEST(Configs, AtomicWriteLeavesNoTemporary) {
  const fs::path dir = fs::temp_directory_path() / ("kiln-tune-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const fs::path f = config_file(dir, "rms_norm_fp8", "sm90", 4096, 32);
  write_file_atomic(f, "one\n");
  write_file_atomic(f, "two\n");
  EXPECT_EQ(read_file(f), "two\n");
  EXPECT_FALSE(fs::exists(temp_name_for(f)));
  std::ofstream(temp_name_for(f)) << "half";
  EXPECT_EQ(remove_stale_temps(dir, "rms_norm_fp8", "sm90", 4096), 1);
  EXPECT_EQ(existing_thresholds(dir, "rms_norm_fp8", "sm90", 4096), (std::vector<int64_t>{32}));
  fs::remove_all(dir);
}

TEST(Build, SourcesUseTheShippedLaunchPath) {
  CandidateSet set = make_candidates(silu(), "sm90", 4096, Mode::quick, {});
  const std::string shard = shard_source(set, {0, 1});
  EXPECT_NE(shard.find("#include \"silu_mul_fp8.cuh\""), std::string::npos);
  EXPECT_NE(shard.find("using S = kiln::silu_mul_fp8::Schedule</*hidden=*/4096, /*threads=*/"), std::string::npos);
  EXPECT_NE(shard.find("return kiln::silu_mul_fp8::launch<S>(p, stream);"), std::string::npos);
  EXPECT_NE(shard.find(launcher_name(set, 1)), std::string::npos);
  const std::string table = table_source(set, {0, 1});
  EXPECT_NE(table.find("{\"" + set.schedules[1].text() + "\", &kiln::generated::" + launcher_name(set, 1) + "}"),
            std::string::npos);
  EXPECT_NE(table.find("kt_candidate_count = 2;"), std::string::npos);
}

// ---- whole runs, simulated --------------------------------------------------------

struct RunResult {
  int code = -1;
  std::string out;
};

RunResult run_binary(const std::string& command, const std::string& env) {
  const std::string cmd = env + " " + command + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) r.out += buf;
  const int status = p ? pclose(p) : -1;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A whole run of kiln-tune on the simulated lab: this binary in its kiln-tune role.
RunResult tune(const std::string& args, const std::string& env = "") {
  return run_binary(self_exe().string() + " --kiln-tune " + args, env);
}

class Simulated : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kiln-tune-sim-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Without --incumbents the repository's configs would race too: tests name their own.
  // (List options add up when repeated, so the pairs and incumbents are parameters.)
  std::string args(const std::string& extra, const std::string& pairs = "--hidden 2048,5120 --batch-sizes 1,32",
                   const std::string& incumbents = "incumbents") const {
    return "--quick --kernel silu_mul_fp8 " + pairs + " --configs " + (root_ / "configs").string() +
           " --work-dir " + (root_ / "work").string() + " --incumbents " + (root_ / incumbents).string() + " " + extra;
  }
  fs::path file(int64_t h, int64_t n, const std::string& folder = "configs") const {
    return config_file(root_ / folder, "silu_mul_fp8", "sm90", h, n);
  }
  // A hand-written config: the schedule (threads vec col_iters rows_per_cta) at h, bs n.
  void write_config(const std::string& folder, int64_t h, int64_t n, std::vector<int64_t> values) const {
    write_file_atomic(file(h, n, folder), config_text(schedule(silu(), std::move(values)), h, {{"gpu", "by hand"}}));
  }
  nlohmann::ordered_json tuning_of(int64_t h, int64_t n) const {
    return nlohmann::ordered_json::parse(read_file(file(h, n)))["tuning"];
  }
  std::string schedule_of(int64_t h, int64_t n) const {
    const auto doc = nlohmann::ordered_json::parse(read_file(file(h, n)));
    std::string text;  // schema order, as the file keeps it
    for (const auto& [k, v] : doc["schedule"].items())
      text += (text.empty() ? "" : " ") + k + "=" + v.dump();
    return text;
  }

  // The written tree, as kiln-gen validates it: no errors.
  void expect_kiln_gen_accepts() const {
    const auto v = kiln::gen::validate_tree(kiln::gen::load_tree(root_ / "configs"));
    for (const auto& d : v.errors) ADD_FAILURE() << d.line();
  }

  fs::path root_;
};

TEST_F(Simulated, WritesEveryPairThenResumes) {
  RunResult r = tune(args(""));
  ASSERT_EQ(r.code, 0) << r.out;
  for (int64_t h : {2048, 5120})
    for (int64_t n : {1, 32}) ASSERT_TRUE(fs::exists(file(h, n))) << r.out;
  expect_kiln_gen_accepts();
  const auto doc = nlohmann::json::parse(read_file(file(2048, 32)));
  EXPECT_EQ(doc["tuning"]["gpu"], "simulated");
  EXPECT_TRUE(doc["tuning"].contains("runner_up"));
  EXPECT_EQ(doc["tuning"]["candidates"]["failed"], 0);

  // Resume: the files are kept as they are.
  const std::string before = read_file(file(2048, 32));
  fs::remove(file(5120, 1));
  r = tune(args(""));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("kept"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(file(2048, 32)), before);
  EXPECT_TRUE(fs::exists(file(5120, 1)));

  // --force: written again (the date, noise and timings make the text differ or not; the file is new).
  const auto old_time = fs::last_write_time(file(2048, 32));
  r = tune(args("--force", "--hidden 2048 --batch-sizes 32"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_GE(fs::last_write_time(file(2048, 32)), old_time);
  EXPECT_NE(r.out.find("written"), std::string::npos) << r.out;
}

TEST_F(Simulated, CrashingWrongAndHangingCandidatesAreSkipped) {
  const std::string crash = "threads=256 vec=8 col_iters=1 rows_per_cta=1";
  const std::string wrong = "threads=128 vec=8 col_iters=1 rows_per_cta=1";
  const std::string hang = "threads=64 vec=8 col_iters=1 rows_per_cta=1";
  RunResult r = tune(args("--watchdog 2", "--hidden 2048 --batch-sizes 32"),
               "KILN_TUNE_SIMULATE_CRASH='" + crash + "' KILN_TUNE_SIMULATE_WRONG='" + wrong +
                   "' KILN_TUNE_SIMULATE_HANG='" + hang + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("[" + crash + "] rejected: check: crashed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[" + wrong + "] rejected: check: bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[" + hang + "] rejected: check: crashed: no answer"), std::string::npos) << r.out;
  const auto doc = nlohmann::ordered_json::parse(read_file(file(2048, 32)));
  EXPECT_EQ(doc["tuning"]["candidates"]["failed"], 3);
  std::string chosen;  // schema order, as the file keeps it
  for (const auto& [k, v] : doc["schedule"].items()) chosen += (chosen.empty() ? "" : " ") + k + "=" + v.dump();
  for (const auto& bad : {crash, wrong, hang}) EXPECT_NE(chosen, bad);
  expect_kiln_gen_accepts();
}

TEST_F(Simulated, WarmUpIsAnOptionTheConfigsRecord) {
  auto method = [&] { return tuning_of(2048, 32)["method"].get<std::string>(); };
  RunResult r = tune(args("", "--hidden 2048 --batch-sizes 32"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(method().find(", 5 ms warm-up (50 ms before a pair's first timing),"), std::string::npos) << method();
  r = tune(args("--force --warmup-ms 250", "--hidden 2048 --batch-sizes 32"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(method().find(", 250 ms warm-up (2500 ms before a pair's first timing),"), std::string::npos) << method();
  // Outside [1, 10000] ms: refused, naming the option, nothing written.
  for (const char* bad : {"0", "-5", "20000", "abc"}) {
    fs::remove_all(root_ / "configs");
    r = tune(args(std::string("--warmup-ms ") + bad, "--hidden 2048 --batch-sizes 32"));
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_NE(r.out.find("--warmup-ms"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(file(2048, 32))) << bad;
  }
}

// A GPU that runs faster until it has been busy for 2 s (its power cap not reached), and one
// schedule clearly the fastest, the last one timed. Each pair first runs a candidate for 10x the
// warm-up, its time dropped, so no candidate keeps a cool timing as its best. (Without it the
// first four candidates, timed cool at 0.6x, win.)
TEST_F(Simulated, APairIsTimedAfterThePowerSettles) {
  const std::string best = "threads=256 vec=8 col_iters=1 rows_per_cta=4";
  const RunResult r = tune(args("--warmup-ms 250", "--hidden 2048 --batch-sizes 8192"),
                           "KILN_TUNE_SIMULATE_FACTOR='" + best + "=0.75' KILN_TUNE_SIMULATE_COOL='2000=0.6'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(schedule_of(2048, 8192), best) << r.out;
}

TEST_F(Simulated, SyntheticRunsNeedTheirOwnConfigsFolder) {
  // Without --configs a synthetic run would write into the repository's configs/.
  RunResult r = tune("--quick --kernel silu_mul_fp8 --hidden 2048 --batch-sizes 32");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("synthetic"), std::string::npos) << r.out;
}

TEST_F(Simulated, TheRealToolListsCandidatesWithoutAGpu) {
  if (g_binary.empty()) GTEST_SKIP() << "pass the kiln-tune binary as the first argument";
  const RunResult r = run_binary(g_binary + " --quick --kernel all --hidden 2048 --batch-sizes 32 --dry-run --arch sm90"
                                 " --no-incumbents --configs " + (root_ / "configs").string(), "");
  ASSERT_EQ(r.code, 0) << r.out;
  // Every kernel that runs on one GPU; communicator kernels are kiln-bench-comm's.
  for (const auto& k : kiln::gen::kernel_descriptors())
    EXPECT_EQ(r.out.find(std::string(k.name) + " sm90 hidden=2048:") != std::string::npos, !k.comm) << k.name << "\n" << r.out;
  EXPECT_FALSE(fs::exists(root_ / "configs"));
}

// --grid takes a switch's 0 (weight_at_use=0 keeps only the weight-in-registers form) and
// refuses what is not a non-negative integer.
TEST_F(Simulated, TheRealToolTakesZeroInAGrid) {
  if (g_binary.empty()) GTEST_SKIP() << "pass the kiln-tune binary as the first argument";
  const std::string base = g_binary + " --quick --kernel rms_norm_per_token_fp8 --hidden 2048 --batch-sizes 32 --dry-run"
                           " --arch sm90 --no-incumbents --configs " + (root_ / "configs").string();
  RunResult r = run_binary(base + " --grid weight_at_use=0", "");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("threads=64 vec=8 rows_per_cta=1 cluster=1\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("weight_at_use=1"), std::string::npos) << r.out;
  r = run_binary(base + " --grid weight_at_use=1", "");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("weight_at_use=1"), std::string::npos) << r.out;
  for (const char* bad : {"-1", "x", "01", ""}) {
    r = run_binary(base + " --grid threads=" + bad + ",64", "");
    EXPECT_NE(r.code, 0) << bad << "\n" << r.out;
    EXPECT_NE(r.out.find("not a non-negative integer"), std::string::npos) << bad << "\n" << r.out;
  }
}

// The candidate library builds: the runner, the measuring library's timing.cu, a shard
// and the table compile with the library's flags and link into a kt.so (no GPU needed).
TEST_F(Simulated, TheRealToolBuildsACandidateLibrary) {
  if (g_binary.empty()) GTEST_SKIP() << "pass the kiln-tune binary as the first argument";
  std::string version;
  if (!capture_command({"nvcc", "--version"}, version) &&
      !capture_command({"/usr/local/cuda/bin/nvcc", "--version"}, version))
    GTEST_SKIP() << "no nvcc";
  const RunResult r = run_binary(g_binary + " --quick --kernel silu_mul_fp8 --hidden 2048 --batch-sizes 32 --compile-only"
                                 " --arch sm90 --no-incumbents --grid threads=128 --grid col_iters=1 --grid rows_per_cta=1"
                                 " --configs " + (root_ / "configs").string() + " --work-dir " + (root_ / "work").string(),
                                 "");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("silu_mul_fp8 h=2048: 1 candidates compiled"), std::string::npos) << r.out;
  bool library = false;
  for (const auto& e : fs::recursive_directory_iterator(root_ / "work")) library = library || e.path().filename() == "kt.so";
  EXPECT_TRUE(library);
}

TEST_F(Simulated, DryRunListsCandidatesAndWritesNothing) {
  RunResult r = tune(args("--dry-run"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("silu_mul_fp8 sm90 hidden=5120:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threads=64 vec=8 col_iters=1 rows_per_cta=1"), std::string::npos) << r.out;
  // Quick mode times the last bucket inside it too (4N, at least 16384 tokens and 256 MiB), not only at N.
  EXPECT_NE(r.out.find("bs32    to tune  timed at tokens 32,16384"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root_ / "configs"));
}

// The tests below race a schedule the quick grid lacks (vec 4), so it is added for its pair only.
const std::string kHand = "threads=64 vec=4 col_iters=1 rows_per_cta=1";
const std::string kBucket = "--hidden 2048 --batch-sizes 32,128";  // bs32 serves [32, 128): timed at 32 and 64

TEST_F(Simulated, IncumbentsDefaultToTheRepositoryConfigs) {
  const std::string base = "--quick --kernel silu_mul_fp8 --hidden 2048 --batch-sizes 32 --dry-run " +
                           std::string("--configs ") + (root_ / "configs").string();
  RunResult r = tune(base);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("configs, incumbents "), std::string::npos) << r.out;  // <repo>/configs
  EXPECT_NE(r.out.find("; incumbent threads="), std::string::npos) << r.out;  // the committed bs32
  r = tune(base + " --no-incumbents");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("incumbents none"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("; incumbent "), std::string::npos) << r.out;
}

TEST_F(Simulated, FastestIncumbentIsKeptInPlace) {
  // Retuning in place (--force, --incumbents = --configs): the file being replaced races.
  write_config("configs", 2048, 32, {64, 4, 1, 1});
  const std::string in_place = args("", kBucket, "configs");
  RunResult r = tune(in_place + " --dry-run");
  EXPECT_NE(r.out.find("bs32    exists: kept"), std::string::npos) << r.out;  // no --force: not tuned at all
  // h = 2048: 16384 tokens move 160 MiB, so the last bucket is timed at 32768 (256 MiB or more).
  EXPECT_NE(r.out.find("bs128   to tune  timed at tokens 128,32768\n"), std::string::npos) << r.out;

  r = tune(in_place + " --force", "KILN_TUNE_SIMULATE_FACTOR='" + kHand + "=0.8'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(schedule_of(2048, 32), kHand);
  const auto t = tuning_of(2048, 32);
  EXPECT_EQ(t["tokens"], (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(t["incumbent"]["schedule"], kHand);
  EXPECT_EQ(t["incumbent"]["kept"], true);
  EXPECT_TRUE(t["incumbent"]["us_at_tokens"].contains("64"));
  EXPECT_EQ(t["incumbent"]["us"], t["us"]);
  const int grid = t["candidates"]["tried"].get<int>() - 1;  // the grid and the incumbent
  // bs128 had no file: no incumbent, and bs32's added schedule does not race there.
  EXPECT_FALSE(tuning_of(2048, 128).contains("incumbent"));
  EXPECT_EQ(tuning_of(2048, 128)["candidates"]["tried"], grid);
  EXPECT_NE(r.out.find("incumbent kept"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("incumbents: 1 kept, 0 replaced"), std::string::npos) << r.out;
  expect_kiln_gen_accepts();
}

TEST_F(Simulated, ClearlyBeatenIncumbentIsReplaced) {
  const std::string slow = "threads=256 vec=8 col_iters=1 rows_per_cta=1";  // in the grid: not added
  write_config("incumbents", 2048, 32, {256, 8, 1, 1});
  RunResult r = tune(args("", kBucket), "KILN_TUNE_SIMULATE_FACTOR='" + slow + "=1.3'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(schedule_of(2048, 32), slow);
  const auto t = tuning_of(2048, 32);
  EXPECT_EQ(t["incumbent"]["schedule"], slow);
  EXPECT_EQ(t["incumbent"]["kept"], false);
  EXPECT_GT(t["incumbent"]["us"].get<double>(), 1.2 * t["us"].get<double>());
  EXPECT_EQ(t["candidates"]["tried"], tuning_of(2048, 128)["candidates"]["tried"]);
  EXPECT_NE(r.out.find("replaces " + slow), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("incumbents: 0 kept, 1 replaced"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(file(2048, 32, "incumbents").string() + ".bak"));
  expect_kiln_gen_accepts();
}

TEST_F(Simulated, IncumbentFasterInsideTheBucketIsKept) {
  // 40 % slower at N = 32, 10 % faster at 64 (inside [32, 128)): the grid's best wins at
  // N and on the mean score, but loses inside the bucket, so it must not replace it.
  write_config("incumbents", 2048, 32, {64, 4, 1, 1});
  RunResult r = tune(args("", kBucket),
                     "KILN_TUNE_SIMULATE_FACTOR='" + kHand + "@32=1.4;" + kHand + "@64=0.9'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(schedule_of(2048, 32), kHand);
  const auto t = tuning_of(2048, 32);
  EXPECT_EQ(t["incumbent"]["kept"], true);
  EXPECT_LT(t["runner_up"]["margin_pct"].get<double>(), -20.0) << t.dump();  // much faster at N, yet not picked
  EXPECT_LT(t["us_at_tokens"]["64"].get<double>(), t["us_at_tokens"]["32"].get<double>());
}

TEST_F(Simulated, InvalidIncumbentIsIgnoredWithAMessage) {
  // threads=100 is not a multiple of 32: kiln-gen rejects the file, so it cannot race.
  write_file_atomic(file(2048, 32, "incumbents"),
                    R"({"schedule": {"threads": 100, "vec": 8, "col_iters": 1, "rows_per_cta": 1}})");
  RunResult r = tune(args("--dry-run", "--hidden 2048 --batch-sizes 32"));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string message =
      "incumbent ignored: " + file(2048, 32, "incumbents").string() + ": kiln-gen rejects it: schedule.threads = 100";
  EXPECT_NE(r.out.find(message), std::string::npos) << r.out;
  r = tune(args("", "--hidden 2048 --batch-sizes 32"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("kiln-tune: incumbent ignored: "), std::string::npos) << r.out;
  const auto t = tuning_of(2048, 32);
  EXPECT_NE(t["incumbent"]["ignored"].get<std::string>().find("threads = 100"), std::string::npos) << t.dump();
  EXPECT_NE(r.out.find(" ignored "), std::string::npos) << r.out;  // the summary's incumbent column
  expect_kiln_gen_accepts();
}

}  // namespace

int main(int argc, char** argv) {
  const kiln_tune::Lab& lab = kiln_tune::testing::simulated_lab();
  if (argc >= 2 && std::string(argv[1]) == "--kiln-tune") return kiln_tune::tool_main(argc - 1, argv + 1, lab);
  if (argc == 3 && std::string(argv[1]) == "--worker-internal") return kiln_tune::worker_main(argv[2], lab);
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_binary = argv[1];
  return RUN_ALL_TESTS();
}
