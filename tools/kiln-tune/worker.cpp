#include "worker.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "../../tests/common/reference.h"  // the CPU reference and the FP8 comparison rule
#include "runner.h"
#include "util.h"

extern char** environ;

namespace kiln_tune {
namespace fs = std::filesystem;
using kiln::detail::LaunchParams;
using kiln::test::DType;

namespace {

// ---------------------------------------------------------------- the child --

constexpr uint8_t kPoison = 0x7f;      // fp8 NaN: no finite input produces it
constexpr std::size_t kGuard = 256;    // poisoned bytes before the output
constexpr int64_t kSpareRows = 64;     // poisoned rows after it (>= any rows_per_cta)
constexpr float kEps = 1e-6f;

// The runner's functions, looked up in the candidate library.
struct Runner {
  decltype(&kt_runner_version) version = nullptr;
  decltype(&kt_error_name) error_name = nullptr;
  decltype(&kt_init) init = nullptr;
  decltype(&kt_broken) broken = nullptr;
  decltype(&kt_malloc) malloc = nullptr;
  decltype(&kt_upload) upload = nullptr;
  decltype(&kt_download) download = nullptr;
  decltype(&kt_memset) memset = nullptr;
  decltype(&kt_copy) copy = nullptr;
  decltype(&kt_run) run = nullptr;
  decltype(&kt_time) time = nullptr;
  decltype(&kt_ceiling) ceiling = nullptr;
  decltype(&kt_floor) floor = nullptr;
  const kt_candidate* candidates = nullptr;
  int count = 0;
};

struct Failure {
  std::string why;
};

std::string load_runner(const fs::path& library, Runner& r) {
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) return std::string("dlopen: ") + dlerror();
  std::string missing;
  auto get = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  get(r.version, "kt_runner_version");
  get(r.error_name, "kt_error_name");
  get(r.init, "kt_init");
  get(r.broken, "kt_broken");
  get(r.malloc, "kt_malloc");
  get(r.upload, "kt_upload");
  get(r.download, "kt_download");
  get(r.memset, "kt_memset");
  get(r.copy, "kt_copy");
  get(r.run, "kt_run");
  get(r.time, "kt_time");
  get(r.ceiling, "kt_ceiling");
  get(r.floor, "kt_floor");
  r.candidates = static_cast<const kt_candidate*>(dlsym(lib, "kt_candidates"));
  const int* count = static_cast<const int*>(dlsym(lib, "kt_candidate_count"));
  if (!r.candidates || !count) missing += ", kt_candidates";
  if (!missing.empty()) return library.string() + " lacks " + missing;
  r.count = *count;
  if (r.version() != KT_RUNNER_VERSION) return "runner version mismatch: rebuild the candidate library";
  return "";
}

// One dtype's inputs for the check rows, their reference and its rounded codes.
struct CheckData {
  DType dtype;
  std::vector<uint16_t> x, w;
  std::vector<double> ref;
  std::vector<uint8_t> want;  // double_to_fp8(ref): the common case compares bytes
  void* dx = nullptr;
  void* dw = nullptr;
};

class Child {
 public:
  explicit Child(WorkerSpec spec) : spec_(std::move(spec)) {}

  // Everything before "ready": library, context, buffers, references.
  std::string prepare() {
    rms_ = spec_.kernel == "rms_norm_fp8";
    if (!rms_ && spec_.kernel != "silu_mul_fp8") return "the worker knows no reference for " + spec_.kernel;
    width_ = rms_ ? spec_.hidden : 2 * spec_.hidden;
    scale_ = rms_ ? 0.007f : 0.06f;  // outputs span the fp8 range, a few saturate
    // fp32 accumulation of the sum of squares moves rms results more than silu's
    // (the windows tests/gpu/test_gpu.cu uses).
    window_ = rms_ ? std::ldexp(1.0, -16) : std::ldexp(1.0, -18);
    check_rows_ = 1;
    for (int64_t t : spec_.check_tokens) check_rows_ = std::max(check_rows_, t);
    if (spec_.simulate) return "";

    if (std::string e = load_runner(spec_.library, r_); !e.empty()) return e;
    if (r_.count != static_cast<int>(spec_.schedules.size())) return "the library's table does not match the candidates";
    for (int i = 0; i < r_.count; ++i)
      if (spec_.schedules[i] != r_.candidates[i].schedule)
        return "table row " + std::to_string(i) + " is " + r_.candidates[i].schedule + ", expected " + spec_.schedules[i];
    if (int e = r_.init(spec_.device)) return std::string("CUDA initialisation: ") + r_.error_name(e);

    rows_ = std::max(check_rows_, spec_.max_tokens);
    out_bytes_ = kGuard + static_cast<std::size_t>((rows_ + kSpareRows) * spec_.hidden);
    try {
      dx_ = alloc(static_cast<std::size_t>(rows_ * width_) * 2);
      dout_ = static_cast<uint8_t*>(alloc(out_bytes_));
      dscale_ = static_cast<float*>(alloc(sizeof(float)));
      must(r_.upload(dscale_, &scale_, sizeof scale_));
      for (DType d : {DType::bf16, DType::fp16}) data_.push_back(make_data(d));
      // Timing input: the bf16 check rows, repeated over every row timed.
      const std::size_t row_bytes = static_cast<std::size_t>(width_) * 2;
      must(r_.upload(dx_, data_[0].x.data(), data_[0].x.size() * 2));
      for (int64_t done = check_rows_; done < rows_;) {
        const int64_t n = std::min(done, rows_ - done);
        must(r_.copy(static_cast<uint8_t*>(dx_) + done * row_bytes, dx_, static_cast<std::size_t>(n) * row_bytes));
        done += n;
      }
    } catch (const Failure& f) {
      return f.why;
    }
    return "";
  }

  int count() const { return spec_.simulate ? static_cast<int>(spec_.schedules.size()) : r_.count; }

  // One command; false when the context is broken and the process must end.
  bool serve(const std::string& line, std::string& answer) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    try {
      if (verb == "check") {
        int row = -1;
        in >> row;
        answer = check(candidate(row));
      } else if (verb == "time") {
        int row = -1, launches = 0, replays = 0;
        int64_t tokens = 0;
        double warmup_ms = 0;
        in >> row >> tokens >> launches >> replays >> warmup_ms;
        answer = time(candidate(row), tokens, launches, replays, warmup_ms);
      } else if (verb == "ceiling") {
        std::size_t bytes = 0;
        in >> bytes;
        answer = ceiling(bytes);
      } else if (verb == "floor") {
        answer = floor();
      } else {
        answer = "bad unknown command " + verb;
      }
    } catch (const Failure& f) {
      answer = "bad " + f.why;
      return spec_.simulate || !r_.broken();
    }
    return true;
  }

 private:
  void must(int e) {
    if (e) throw Failure{r_.error_name(e)};
  }
  void* alloc(std::size_t bytes) {
    void* p = nullptr;
    must(r_.malloc(&p, bytes));
    return p;
  }

  int candidate(int row) const {
    if (row < 0 || row >= count()) throw Failure{"no candidate row " + std::to_string(row)};
    return row;
  }

  CheckData make_data(DType d) {
    CheckData c;
    c.dtype = d;
    const int64_t rows = check_rows_;
    c.x.resize(static_cast<std::size_t>(rows * width_));
    const float range = rms_ ? 3.0f : 6.0f;
    const uint64_t seed = spec_.seed * 2654435761u + (d == DType::bf16 ? 0 : 1);
    kiln::test::for_each_row(rows, [&](int64_t t) {
      std::mt19937_64 rng(seed * 1000003u + static_cast<uint64_t>(t));
      std::uniform_real_distribution<float> in(-range, range);
      for (int64_t i = 0; i < width_; ++i) {
        float v = in(rng);
        if (std::fabs(v) < 1e-3f) v = std::copysign(1e-3f, v);  // random, never zero
        c.x[static_cast<std::size_t>(t * width_ + i)] = kiln::test::from_float(d, v);
      }
    });
    std::mt19937_64 rng(seed + 77);
    std::uniform_real_distribution<float> wd(0.25f, 1.75f);
    c.w.resize(static_cast<std::size_t>(spec_.hidden));
    for (auto& v : c.w) v = kiln::test::from_float(d, wd(rng));
    if (rms_) kiln::test::rms_norm_fp8_reference(d, c.x, c.w, rows, spec_.hidden, kEps, scale_, c.ref);
    else kiln::test::silu_mul_fp8_reference(d, c.x, rows, spec_.hidden, scale_, c.ref);
    c.want.resize(c.ref.size());
    kiln::test::for_each_row(rows, [&](int64_t t) {
      for (int64_t i = t * spec_.hidden; i < (t + 1) * spec_.hidden; ++i)
        c.want[static_cast<std::size_t>(i)] = kiln::test::double_to_fp8(c.ref[static_cast<std::size_t>(i)]);
    });
    c.dx = alloc(c.x.size() * 2);
    c.dw = alloc(c.w.size() * 2);
    must(r_.upload(c.dx, c.x.data(), c.x.size() * 2));
    must(r_.upload(c.dw, c.w.data(), c.w.size() * 2));
    return c;
  }

  LaunchParams params(const CheckData& c, void* input, int64_t tokens) const {
    return {c.dtype == DType::bf16 ? kiln::detail::DType::bf16 : kiln::detail::DType::fp16,
            input, rms_ ? c.dw : nullptr, dout_ + kGuard, dscale_, tokens, spec_.hidden, kEps};
  }

  // Poisoned output, one launch, every byte compared; also nothing written around it.
  std::string check_one(int row, const CheckData& c, int64_t tokens) {
    const std::string at = std::string(c.dtype == DType::bf16 ? "bf16" : "fp16") + " tokens=" + std::to_string(tokens);
    const int64_t H = spec_.hidden;
    const std::size_t span = kGuard + static_cast<std::size_t>((tokens + kSpareRows) * H);
    must(r_.memset(dout_, kPoison, span));
    const LaunchParams p = params(c, c.dx, tokens);
    if (int e = r_.run(r_.candidates[row].launch, &p)) return at + ": " + r_.error_name(e);
    std::vector<uint8_t> got(span);
    must(r_.download(got.data(), dout_, span));
    for (std::size_t i = 0; i < kGuard; ++i)
      if (got[i] != kPoison) return at + ": wrote before the output";
    const uint8_t* out = got.data() + kGuard;
    for (int64_t i = tokens * H; i < (tokens + kSpareRows) * H; ++i)
      if (out[i] != kPoison) return at + ": wrote past the last row (row " + std::to_string(i / H) + ")";
    for (int64_t t = 0; t < tokens; ++t) {
      const std::size_t base = static_cast<std::size_t>(t * H);
      if (std::memcmp(out + base, c.want.data() + base, static_cast<std::size_t>(H)) == 0) continue;
      for (int64_t j = 0; j < H; ++j) {
        bool tie = false;
        const uint8_t g = out[base + j];
        if (kiln::test::fp8_matches(g, c.ref[base + j], window_, &tie)) continue;
        char buf[160];
        std::snprintf(buf, sizeof buf, ": wrong out[%lld, %lld] = 0x%02x, reference %.6g -> 0x%02x", (long long)t,
                      (long long)j, g, c.ref[base + j], kiln::test::double_to_fp8(c.ref[base + j]));
        return at + buf;
      }
    }
    return "";
  }

  std::string check(int row) {
    if (spec_.simulate) return simulated_check(row);
    for (int64_t t : spec_.check_tokens)
      if (std::string e = check_one(row, data_[0], t); !e.empty()) throw Failure{e};
    // fp16 shares the schedule: a smaller set of sizes is enough.
    for (int64_t t : {std::min<int64_t>(17, check_rows_), check_rows_})
      if (std::string e = check_one(row, data_[1], t); !e.empty()) throw Failure{e};
    return "ok";
  }

  std::string time(int row, int64_t tokens, int launches, int replays, double warmup_ms) {
    if (tokens < 1 || tokens > std::max(rows_, spec_.max_tokens)) throw Failure{"tokens out of range"};
    if (spec_.simulate) return simulated_time(row, tokens);
    const LaunchParams p = params(data_[0], dx_, tokens);
    double median = 0, fastest = 0;
    if (int e = r_.time(r_.candidates[row].launch, &p, launches, replays, warmup_ms, &median, &fastest))
      throw Failure{std::string("timing: ") + r_.error_name(e)};
    char buf[64];
    std::snprintf(buf, sizeof buf, "us %.5f %.5f", median, fastest);
    return buf;
  }

  std::string ceiling(std::size_t bytes) {
    if (spec_.simulate) return "ceiling 3000 2950 3000";
    double gbps = 0, kernel = 0, memcpy = 0;
    if (int e = r_.ceiling(bytes, &gbps, &kernel, &memcpy)) throw Failure{std::string("copy ceiling: ") + r_.error_name(e)};
    char buf[96];
    std::snprintf(buf, sizeof buf, "ceiling %.1f %.1f %.1f", gbps, kernel, memcpy);
    return buf;
  }

  std::string floor() {
    if (spec_.simulate) return "floor 2.000";
    double us = 0;
    if (int e = r_.floor(20, 30, &us)) throw Failure{std::string("launch floor: ") + r_.error_name(e)};
    char buf[64];
    std::snprintf(buf, sizeof buf, "floor %.4f", us);
    return buf;
  }

  // ---- simulation: the tuner's own tests, without a GPU ------------------------

  static bool env_names(const char* var, const std::string& schedule) {
    const char* v = std::getenv(var);
    return v && schedule == v;
  }

  std::string simulated_check(int row) {
    const std::string& s = spec_.schedules[static_cast<std::size_t>(row)];
    if (env_names("KILN_TUNE_SIMULATE_CRASH", s)) std::abort();
    if (env_names("KILN_TUNE_SIMULATE_HANG", s)) std::this_thread::sleep_for(std::chrono::hours(1));
    if (env_names("KILN_TUNE_SIMULATE_WRONG", s)) throw Failure{"bf16 tokens=17: wrong out[3, 5] (simulated)"};
    return "ok";
  }

  // KILN_TUNE_SIMULATE_FACTOR='<schedule>@<tokens>=<factor>;...' scales one schedule's
  // time at one token count ("@<tokens>" left out: at every count), so that tests can
  // make a schedule faster or slower in part of a bucket.
  static double simulated_factor(const std::string& schedule, int64_t tokens) {
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

  // A smooth cost model plus 0.3 % noise: enough structure for the picking logic.
  std::string simulated_time(int row, int64_t tokens) {
    std::istringstream in(spec_.schedules[static_cast<std::size_t>(row)]);
    double penalty = 1.0;
    for (std::string kv; in >> kv;) {
      const std::string name = kv.substr(0, kv.find('='));
      const double v = std::stod(kv.substr(kv.find('=') + 1));
      if (name == "threads") penalty += 0.08 * std::fabs(std::log2(v / 256.0));
      else if (name == "vec") penalty += 0.2 * std::log2(8.0 / v);
      else penalty += 0.03 * std::log2(v) * (tokens < 64 ? 2.0 : -0.5);
    }
    const double bytes = static_cast<double>(tokens * spec_.hidden) * (rms_ ? 3.0 : 5.0);
    static std::mt19937_64 noise(std::random_device{}());
    std::normal_distribution<double> jitter(1.0, 0.003);
    const double us = (2.0 + bytes / 3.0e6 * std::max(0.5, penalty)) * jitter(noise) *  // 3 TB/s
                      simulated_factor(spec_.schedules[static_cast<std::size_t>(row)], tokens);
    char buf[64];
    std::snprintf(buf, sizeof buf, "us %.5f %.5f", us, us * 0.99);
    return buf;
  }

  WorkerSpec spec_;
  Runner r_;
  bool rms_ = false;
  int64_t width_ = 0, check_rows_ = 1, rows_ = 1;
  float scale_ = 1.0f;
  double window_ = 0;
  std::size_t out_bytes_ = 0;
  void* dx_ = nullptr;
  uint8_t* dout_ = nullptr;
  float* dscale_ = nullptr;
  std::vector<CheckData> data_;
};

WorkerSpec read_spec(const fs::path& file) {
  const auto j = nlohmann::json::parse(read_file(file));
  WorkerSpec s;
  s.library = j.at("library").get<std::string>();
  s.kernel = j.at("kernel").get<std::string>();
  s.hidden = j.at("hidden").get<int64_t>();
  s.device = j.at("device").get<int>();
  s.schedules = j.at("schedules").get<std::vector<std::string>>();
  s.check_tokens = j.at("check_tokens").get<std::vector<int64_t>>();
  s.max_tokens = j.at("max_tokens").get<int64_t>();
  s.seed = j.at("seed").get<uint64_t>();
  s.simulate = j.at("simulate").get<bool>();
  return s;
}

void write_spec(const WorkerSpec& s, const fs::path& file) {
  const nlohmann::json j = {{"library", s.library.string()}, {"kernel", s.kernel},          {"hidden", s.hidden},
                            {"device", s.device},            {"schedules", s.schedules},    {"check_tokens", s.check_tokens},
                            {"max_tokens", s.max_tokens},    {"seed", s.seed},              {"simulate", s.simulate}};
  write_file_atomic(file, j.dump(1) + "\n");
}

}  // namespace

int worker_main(const fs::path& spec_file) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the tuner
  std::ios::sync_with_stdio(false);
  Child child(read_spec(spec_file));
  if (std::string e = child.prepare(); !e.empty()) {
    std::cout << "failed " << e << std::endl;
    return 2;
  }
  std::cout << "ready " << child.count() << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "quit") return 0;
    std::string answer;
    const bool usable = child.serve(line, answer);
    if (!usable) answer = "broken " + answer.substr(answer.find(' ') + 1);
    std::cout << answer << std::endl;
    if (!usable) std::_Exit(3);  // a sticky CUDA error: this context is gone; skip its teardown
  }
  return 0;
}

// --------------------------------------------------------------- the parent --

Worker::Worker(WorkerSpec spec, fs::path spec_file) : spec_(std::move(spec)), spec_file_(std::move(spec_file)) {}

Worker::~Worker() { stop(); }

bool Worker::start(double timeout_s, std::string& why) {
  write_spec(spec_, spec_file_);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, spec_.log.empty() ? "/dev/null" : spec_.log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  const std::string exe = self_exe().string();
  std::vector<std::string> args = {exe, "--worker-internal", spec_file_.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  buffer_.clear();
  if (rc != 0) {
    pid_ = -1;
    why = std::string("cannot start the worker: ") + std::strerror(rc);
    stop();
    return false;
  }
  std::string line;
  if (!read_line(line, timeout_s, why)) return false;
  if (line.rfind("ready ", 0) != 0) {
    why = line.rfind("failed ", 0) == 0 ? line.substr(7) : "unexpected worker greeting: " + line;
    reap(true);
    return false;
  }
  return true;
}

bool Worker::call(const std::string& command, std::string& answer, double timeout_s, std::string& why) {
  if (pid_ <= 0) {
    why = "no worker";
    return false;
  }
  const std::string line = command + "\n";
  if (::write(to_child_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    why = reap(true);
    return false;
  }
  return read_line(answer, timeout_s, why);
}

bool Worker::read_line(std::string& line, double timeout_s, std::string& why) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    if (const std::size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      reap(true);
      why = "no answer within " + format_duration(timeout_s) + " (hung); worker killed";
      return false;
    }
    pollfd p = {from_child_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min(left * 1000.0, 1000.0)) + 1);
    if (r < 0 && errno != EINTR) {
      why = reap(true);
      return false;
    }
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(from_child_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      why = reap(false);
      return false;
    }
  }
}

// Waits for the worker (killing it first if asked); says how it ended.
std::string Worker::reap(bool kill_first) {
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
  to_child_ = from_child_ = -1;
  if (pid_ <= 0) return "no worker";
  if (kill_first) ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFSIGNALED(status)) return std::string("worker killed by signal ") + strsignal(WTERMSIG(status));
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    return code == 3 ? "the CUDA context broke (sticky error)" : "worker exited with code " + std::to_string(code);
  }
  return "worker ended";
}

void Worker::stop() {
  if (pid_ <= 0) return;
  const std::string quit = "quit\n";
  [[maybe_unused]] ssize_t ignored = ::write(to_child_, quit.data(), quit.size());
  for (int i = 0; i < 100; ++i) {  // up to a second to exit by itself
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      reap(false);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reap(true);
}

}  // namespace kiln_tune
