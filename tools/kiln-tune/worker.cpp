// The worker process and the parent's handle on it: see worker.h. What a worker does
// with its candidates is its lab's Bench (lab.h); this file is the protocol.
#include "worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lab.h"
#include "measure/text.h"
#include "util.h"

extern char** environ;

namespace kiln_tune {
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- the child --

std::string fixed(const char* format, double a, double b = 0, double c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, a, b, c);
  return buf;
}

// One command; false when the context is broken and the process must end.
bool serve(Bench& bench, const std::string& line, std::string& answer) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  try {
    auto candidate = [&](int row) {
      if (row < 0 || row >= bench.count()) throw BenchFailure{"no candidate row " + std::to_string(row)};
      return row;
    };
    if (verb == "check") {
      int row = -1;
      in >> row;
      bench.check(candidate(row));
      answer = "ok";
    } else if (verb == "time") {
      int row = -1, launches = 0, replays = 0;
      int64_t tokens = 0;
      double warmup_ms = 0;
      in >> row >> tokens >> launches >> replays >> warmup_ms;
      const ReplayTime t = bench.time(candidate(row), tokens, launches, replays, warmup_ms);
      answer = fixed("us %.5f %.5f", t.median_us, t.min_us);
    } else if (verb == "ceiling") {
      std::size_t bytes = 0;
      in >> bytes;
      const CopyCeiling c = bench.ceiling(bytes);
      answer = fixed("ceiling %.1f %.1f %.1f", c.gbps, c.kernel_gbps, c.memcpy_gbps);
    } else if (verb == "floor") {
      answer = fixed("floor %.4f", bench.floor_us());
    } else {
      answer = "bad unknown command " + verb;
    }
  } catch (const BenchFailure& f) {
    answer = "bad " + f.why;
    return !bench.broken();
  }
  return true;
}

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
  return s;
}

void write_spec(const WorkerSpec& s, const fs::path& file) {
  const nlohmann::json j = {{"library", s.library.string()}, {"kernel", s.kernel},          {"hidden", s.hidden},
                            {"device", s.device},            {"schedules", s.schedules},    {"check_tokens", s.check_tokens},
                            {"max_tokens", s.max_tokens},    {"seed", s.seed}};
  write_file_atomic(file, j.dump(1) + "\n");
}

}  // namespace

int worker_main(const fs::path& spec_file, const Lab& lab) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the tuner
  std::ios::sync_with_stdio(false);
  std::string why;
  const std::unique_ptr<Bench> bench = lab.open(read_spec(spec_file), why);
  if (!bench) {
    std::cout << "failed " << why << std::endl;
    return 2;
  }
  std::cout << "ready " << bench->count() << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "quit") return 0;
    std::string answer;
    const bool usable = serve(*bench, line, answer);
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
      why = "no answer within " + kiln::measure::format_duration(timeout_s) + " (hung); worker killed";
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
