// The worker: a child process (this executable, re-executed) that does the GPU work
// of one (kernel, hidden size) through that set's candidate library: the Bench of the
// run's Lab (lab.h). A candidate that faults poisons the CUDA context for good, so it
// must not be the process that keeps the results: the parent records every answer,
// and when a worker dies or hangs it marks the candidate in flight as failed and
// starts a fresh worker.
//
// Protocol: one command line in, one answer line out.
//   check <row>                                  -> ok | bad <why>
//   time <row> <tokens> <launches> <replays> <warmup_ms> -> us <median> <min> | bad <why>
//   ceiling <bytes>                              -> ceiling <GB/s> <kernel GB/s> <memcpy GB/s> | bad <why>
//   floor                                        -> floor <us> | bad <why>
//   quit
// A failure that broke the CUDA context is answered "broken <why>" instead of "bad
// <why>", and the worker exits after it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kiln_tune {

class Lab;

struct WorkerSpec {
  std::filesystem::path library;         // kt.so
  std::string kernel;                    // a descriptor's name
  int64_t hidden = 0;
  int device = 0;
  std::vector<std::string> schedules;    // the library's table, row by row (checked at start)
  std::vector<int64_t> check_tokens;     // token counts every candidate is checked at (bf16)
  int64_t max_tokens = 1;                // the largest token count timed
  uint64_t seed = 1;
  std::filesystem::path log;             // the worker's stderr goes here
};

// `kiln-tune --worker-internal <spec.json>`: the child's main, answering through `lab`.
int worker_main(const std::filesystem::path& spec_file, const Lab& lab);

// The parent's handle on one worker process.
class Worker {
 public:
  Worker(WorkerSpec spec, std::filesystem::path spec_file);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the process and waits for it to be ready (references computed).
  bool start(double timeout_s, std::string& why);
  // One command, one answer. false: the worker died or hung (and is now gone); `why` says how.
  bool call(const std::string& command, std::string& answer, double timeout_s, std::string& why);
  bool running() const { return pid_ > 0; }
  void stop();  // "quit", then wait briefly, then kill

 private:
  bool read_line(std::string& line, double timeout_s, std::string& why);
  std::string reap(bool kill_first);

  WorkerSpec spec_;
  std::filesystem::path spec_file_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
};

}  // namespace kiln_tune
