// The simulated lab: see simulated_lab.h.
#include "simulated_lab.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "kiln/kiln.h"

namespace kiln_tune::testing {
namespace {

bool env_names(const char* var, const std::string& schedule) {
  const char* v = std::getenv(var);
  return v && schedule == v;
}

// KILN_TUNE_SIMULATE_FACTOR: how much slower `schedule` is made at `tokens`.
double factor_for(const std::string& schedule, int64_t tokens) {
  const char* v = std::getenv("KILN_TUNE_SIMULATE_FACTOR");
  std::stringstream in(v ? v : "");
  double factor = 1.0;
  for (std::string item; std::getline(in, item, ';');) {
    const std::size_t eq = item.rfind('='), at = item.rfind('@');
    if (eq == std::string::npos) continue;
    const bool some_count = at != std::string::npos && at < eq;
    const std::string name = item.substr(0, some_count ? at : eq);
    if (name != schedule || (some_count && std::stoll(item.substr(at + 1, eq - at - 1)) != tokens)) continue;
    factor *= std::stod(item.substr(eq + 1));
  }
  return factor;
}

// KILN_TUNE_SIMULATE_COOL: the factor of a timing after `warmed_ms` of warm-up in all.
double cool_factor(double warmed_ms) {
  const char* v = std::getenv("KILN_TUNE_SIMULATE_COOL");
  if (!v) return 1.0;
  const std::string s = v;
  const std::size_t eq = s.find('=');
  return warmed_ms < std::stod(s.substr(0, eq)) ? std::stod(s.substr(eq + 1)) : 1.0;
}

class SimulatedBench final : public Bench {
 public:
  explicit SimulatedBench(WorkerSpec spec) : spec_(std::move(spec)) {}

  int count() const override { return static_cast<int>(spec_.schedules.size()); }

  void check(int row) override {
    const std::string& s = spec_.schedules[static_cast<std::size_t>(row)];
    if (env_names("KILN_TUNE_SIMULATE_CRASH", s)) std::abort();
    if (env_names("KILN_TUNE_SIMULATE_HANG", s)) std::this_thread::sleep_for(std::chrono::hours(1));
    if (env_names("KILN_TUNE_SIMULATE_WRONG", s)) throw BenchFailure{"bf16 tokens=17: wrong out[3, 5] (simulated)"};
  }

  // A smooth cost model: 2 µs plus the kernel's bytes (kiln_min_bytes) at 3 TB/s, scaled
  // by how far the schedule is from a sweet spot; enough structure for the picking logic.
  ReplayTime time(int row, int64_t tokens, int, int, double warmup_ms) override {
    if (tokens < 1 || tokens > spec_.max_tokens) throw BenchFailure{"tokens out of range"};
    const std::string& schedule = spec_.schedules[static_cast<std::size_t>(row)];
    std::istringstream in(schedule);
    double penalty = 1.0;
    for (std::string kv; in >> kv;) {
      const std::string name = kv.substr(0, kv.find('='));
      const double v = std::stod(kv.substr(kv.find('=') + 1));
      if (name == "threads") penalty += 0.08 * std::fabs(std::log2(v / 256.0));
      else if (name == "vec") penalty += 0.2 * std::log2(8.0 / v);
      else penalty += 0.03 * std::log2(v) * (tokens < 64 ? 2.0 : -0.5);
    }
    int64_t bytes = 0;
    if (kiln_min_bytes(spec_.kernel.c_str(), KILN_DTYPE_BF16, spec_.hidden, tokens, &bytes) != KILN_SUCCESS)
      throw BenchFailure{kiln_last_error()};
    static std::mt19937_64 noise(std::random_device{}());
    std::normal_distribution<double> jitter(1.0, 0.003);
    const double us = (2.0 + static_cast<double>(bytes) / 3.0e6 * std::max(0.5, penalty)) * jitter(noise) *
                      factor_for(schedule, tokens) * cool_factor(warmed_ms_ += warmup_ms);
    return {us, us * 0.99};
  }

  CopyCeiling ceiling(std::size_t) override { return {3000, 2950, 3000}; }
  double floor_us() override { return 2.0; }
  bool broken() override { return false; }

 private:
  WorkerSpec spec_;
  double warmed_ms_ = 0;  // the warm-ups of every timing so far
};

class SimulatedLab final : public Lab {
 public:
  std::optional<kiln::measure::DeviceInfo> probe(int index, std::string&) const override {
    kiln::measure::DeviceInfo d;
    d.index = index;
    d.name = "simulated";
    d.arch = "sm90";
    d.driver = d.cuda_driver = "none";
    return d;
  }

  std::string synthetic() const override { return "no GPU: synthetic timings, not for committing"; }

  // Nothing to compile: every candidate is a row of the (imaginary) library.
  std::shared_future<BuiltSet> build(Builder&, const CandidateSet& set) const override {
    BuiltSet built;
    built.ok = true;
    built.cached = true;
    for (std::size_t c = 0; c < set.schedules.size(); ++c) built.table.push_back(static_cast<int>(c));
    std::promise<BuiltSet> ready;
    ready.set_value(std::move(built));
    return ready.get_future().share();
  }

  std::unique_ptr<Bench> open(const WorkerSpec& spec, std::string&) const override {
    return std::make_unique<SimulatedBench>(spec);
  }
};

}  // namespace

const Lab& simulated_lab() {
  static const SimulatedLab lab;
  return lab;
}

}  // namespace kiln_tune::testing
