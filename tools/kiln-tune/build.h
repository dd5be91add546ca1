// Compiling candidates: per (kernel, hidden size), every candidate's launcher is
// emitted by kiln-gen's own instance emitter (so the tuned kernel is the shipped
// kernel), the launchers are split into shards that nvcc compiles in parallel, and
// the shards, a table {schedule, launcher}, runner.cu and the measuring library's
// timing.cu (tools/measure) are linked into one shared library (kt.so) that a worker
// process dlopens. Results are cached by content: a
// resumed run reuses every object and library whose inputs did not change.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "candidates.h"

namespace kiln_tune {

struct Toolchain {
  std::filesystem::path repo;  // holds templates/, runtime/include/, generated/include/, tools/kiln-tune/, tools/measure/
  std::filesystem::path build_include;  // the build's runtime/include: the generated kiln/version.h
  std::string nvcc;            // "nvcc" or a path
  std::string arch;            // "sm90"
  std::string gencode;         // "arch=compute_90a,code=sm_90a"
  std::filesystem::path work;  // the cache root
  int jobs = 1;                // nvcc processes at once
  int shard_size = 8;          // candidates per compiled source
};

struct BuiltSet {
  bool ok = false;
  std::string error;                  // why there is no library
  std::filesystem::path library;      // .../kt.so
  std::vector<int> table;             // table row -> candidate index in the set
  std::map<int, std::string> failed;  // candidate index -> compiler message
  bool cached = false;                // the library was already there
};

// The compiler flags, without paths (they are part of the cache key).
std::vector<std::string> compile_flags(const Toolchain& tc);

// nvcc's -gencode for a kiln arch, as the root meson.build compiles the library:
// "arch=compute_90a,code=sm_90a". Empty for an arch it does not know.
std::string gencode_for(const std::string& arch);

// The sources, as pure functions of their inputs (tests call them in memory).
std::string launcher_name(const CandidateSet& set, int index);
std::string shard_source(const CandidateSet& set, const std::vector<int>& indices);
std::string table_source(const CandidateSet& set, const std::vector<int>& indices);

class Builder {
 public:
  explicit Builder(Toolchain tc);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // Starts compiling in the background; the future is ready when the library is.
  std::shared_future<BuiltSet> submit(const CandidateSet& set);

  // The hash of everything a candidate library depends on but the candidates.
  const std::string& inputs_hash() const { return inputs_hash_; }

  // Compiler processes finished and queued or running, for the progress line.
  int jobs_done() const { return done_; }
  int jobs_total() const { return total_; }

 private:
  struct SetJob;
  void post(std::function<void()> task);
  void worker_loop();
  void compile_shard(const std::shared_ptr<SetJob>& job, std::size_t shard);
  void link(const std::shared_ptr<SetJob>& job);
  void link_set(const std::shared_ptr<SetJob>& job);
  bool compile(const std::filesystem::path& source, const std::filesystem::path& object, std::string& message);
  std::vector<std::filesystem::path> runner_objects(std::string& error);

  Toolchain tc_;
  std::string inputs_hash_;  // templates, runtime headers, runner and measuring sources, nvcc version, flags
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  std::atomic<int> done_{0}, total_{0};
  std::once_flag runner_once_;
  std::vector<std::filesystem::path> runner_paths_;
  std::string runner_error_;
};

}  // namespace kiln_tune
