#include "build.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kiln_gen/descriptor.h"
#include "kiln_gen/emit.h"
#include "kiln_gen/plan.h"
#include "util.h"

namespace kiln_tune {
namespace fs = std::filesystem;

// Bumped when the layout of the cache or the generated sources change.
constexpr int64_t kBuildFormat = 2;

// The GPU side every candidate library links, besides its candidates: kiln-tune's runner
// and the measuring library's one translation unit (tools/measure/meson.build builds the
// same file for kiln-bench). Paths as #included with -I tools.
constexpr const char* kRunnerSources[] = {"kiln-tune/runner.cu", "measure/timing.cu"};

struct Builder::SetJob {
  CandidateSet set;
  fs::path dir;
  std::vector<std::vector<int>> shards;
  std::mutex mutex;
  std::vector<fs::path> objects;
  std::vector<int> compiled;
  std::map<int, std::string> failed;
  std::atomic<int> remaining{0};
  std::promise<BuiltSet> promise;
};

std::vector<std::string> compile_flags(const Toolchain& tc) {
  // As the root meson.build compiles the library (release: -O3 -DNDEBUG, C++20, the
  // arch's -gencode); -fPIC because the objects go into a shared library.
  return {"-std=c++20", "-O3",          "-DNDEBUG", "-Xcompiler=-fPIC", "-gencode=" + tc.gencode,
          "-Xcudafe",   "--diag_suppress=esa_on_defaulted_function_ignored"};
}

std::string gencode_for(const std::string& arch) {
  // kiln-gen's arch table is the build's too: the tuned code is the shipped code.
  const auto gencode = kiln::gen::arch_gencode(arch);
  return gencode ? std::string(*gencode) : std::string();
}

std::string launcher_name(const CandidateSet& set, int index) {
  return "kt_" + std::string(set.kernel->name) + "_h" + std::to_string(set.hidden) + "_c" + std::to_string(index);
}

std::string shard_source(const CandidateSet& set, const std::vector<int>& indices) {
  std::string out = "// kiln-tune candidates: " + std::string(set.kernel->name) + " " + set.arch + " hidden=" +
                    std::to_string(set.hidden) + ". Each block below is kiln-gen's emit_instance().\n";
  for (int i : indices) {
    kiln::gen::Instance instance;
    instance.name = launcher_name(set, i);
    instance.kernel = set.kernel;
    instance.arch = set.arch;
    instance.hidden = set.hidden;
    instance.schedule = set.schedules.at(static_cast<std::size_t>(i));
    instance.configs = {"kiln-tune candidate " + std::to_string(i) + " (" + instance.schedule.text() + ")"};
    out += '\n';
    out += kiln::gen::emit_instance(instance);
  }
  return out;
}

std::string table_source(const CandidateSet& set, const std::vector<int>& indices) {
  std::ostringstream out;
  out << "// kiln-tune candidate table: " << set.kernel->name << " " << set.arch << " hidden=" << set.hidden << "\n"
      << "#include \"runner.h\"\n\nnamespace kiln::generated {\n";
  for (int i : indices)
    out << "cudaError_t " << launcher_name(set, i) << "(const kiln::detail::LaunchParams&, cudaStream_t);\n";
  out << "}  // namespace kiln::generated\n\nextern \"C\" const kt_candidate kt_candidates[] = {\n";
  for (int i : indices)
    out << "    {\"" << set.schedules.at(static_cast<std::size_t>(i)).text() << "\", &kiln::generated::"
        << launcher_name(set, i) << "},\n";
  out << "};\nextern \"C\" const int kt_candidate_count = " << indices.size() << ";\n";
  return out.str();
}

namespace {

// Every file a candidate library depends on, by relative path and content.
void hash_tree(Hash& h, const fs::path& repo, const fs::path& rel) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(repo / rel, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), repo));
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) h.add(f.generic_string()).add(read_file(repo / f));
}

// The first few compiler error lines of a log.
std::string compiler_message(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  std::vector<std::string> errors;
  while (std::getline(in, line) && errors.size() < 3)
    if (line.find("error") != std::string::npos) errors.push_back(line);
  if (errors.empty()) return "nvcc failed (see " + log.string() + ")";
  return join(errors, " | ") + " (log: " + log.string() + ")";
}

}  // namespace

Builder::Builder(Toolchain tc) : tc_(std::move(tc)) {
  Hash h;
  h.add(kBuildFormat);
  hash_tree(h, tc_.repo, "templates");
  hash_tree(h, tc_.repo, "runtime/include/kiln");
  hash_tree(h, tc_.repo, "generated/include");
  if (!tc_.build_include.empty()) h.add(read_file(tc_.build_include / "kiln/version.h"));
  hash_tree(h, tc_.repo, "tools/measure");
  h.add(read_file(tc_.repo / "tools/kiln-tune/runner.h")).add(read_file(tc_.repo / "tools/kiln-tune/runner.cu"));
  for (const std::string& f : compile_flags(tc_)) h.add(f);
  std::string version;
  capture_command({tc_.nvcc, "--version"}, version);
  h.add(version);
  inputs_hash_ = h.hex();
  const int n = std::max(1, tc_.jobs);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { worker_loop(); });
}

Builder::~Builder() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Builder::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Builder::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

bool Builder::compile(const fs::path& source, const fs::path& object, std::string& message) {
  if (fs::exists(object)) return true;  // named by content: whatever is there is right
  fs::path log = object;
  log.replace_extension(".log");
  const fs::path tmp = object.string() + ".tmp";
  std::vector<std::string> argv = {tc_.nvcc};
  for (const std::string& f : compile_flags(tc_)) argv.push_back(f);
  for (const char* inc : {"templates", "runtime/include", "generated/include", "tools/kiln-tune", "tools"})
    argv.push_back("-I" + (tc_.repo / inc).string());
  if (!tc_.build_include.empty()) argv.push_back("-I" + tc_.build_include.string());
  argv.insert(argv.end(), {"-c", source.string(), "-o", tmp.string()});
  const int rc = run_command(argv, log);
  ++done_;
  if (rc == 0) {
    fs::rename(tmp, object);
    return true;
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  message = rc == -1 ? "cannot run " + tc_.nvcc : compiler_message(log);
  return false;
}

std::vector<fs::path> Builder::runner_objects(std::string& error) {
  std::call_once(runner_once_, [this] {
    const fs::path dir = tc_.work / tc_.arch;
    fs::create_directories(dir);
    for (const char* source : kRunnerSources) {
      ++total_;
      const std::string stem = fs::path(source).stem().string() + "-" + inputs_hash_;
      const fs::path src = dir / (stem + ".cu"), obj = dir / (stem + ".o");
      std::ofstream(src) << "#include \"" << source << "\"\n";
      if (!compile(src, obj, runner_error_)) {
        runner_paths_.clear();
        return;
      }
      runner_paths_.push_back(obj);
    }
  });
  error = runner_error_;
  return runner_paths_;
}

std::shared_future<BuiltSet> Builder::submit(const CandidateSet& set) {
  auto job = std::make_shared<SetJob>();
  job->set = set;
  Hash h;
  h.add(inputs_hash_).add(set.kernel->name).add(set.arch).add(set.hidden);
  for (const auto& s : set.schedules) h.add(s.text());
  job->dir = tc_.work / set.arch / std::string(set.kernel->name) / std::to_string(set.hidden) / h.hex();
  std::shared_future<BuiltSet> future = job->promise.get_future().share();

  const fs::path library = job->dir / "kt.so", manifest = job->dir / "kt.json";
  if (fs::exists(library) && fs::exists(manifest)) {
    BuiltSet built;
    try {
      const auto doc = nlohmann::json::parse(read_file(manifest));
      built.table = doc.at("table").get<std::vector<int>>();
      for (const auto& [k, v] : doc.at("failed").items()) built.failed[std::stoi(k)] = v.get<std::string>();
      built.ok = true;
      built.cached = true;
      built.library = library;
      job->promise.set_value(std::move(built));
      return future;
    } catch (const std::exception&) {
      // An unreadable manifest: build again.
    }
  }
  if (set.schedules.empty()) {
    BuiltSet built;
    built.error = "no candidates";
    job->promise.set_value(std::move(built));
    return future;
  }
  fs::create_directories(job->dir);
  const std::size_t n = set.schedules.size(), size = static_cast<std::size_t>(std::max(1, tc_.shard_size));
  for (std::size_t first = 0; first < n; first += size) {
    std::vector<int> shard;
    for (std::size_t i = first; i < std::min(n, first + size); ++i) shard.push_back(static_cast<int>(i));
    job->shards.push_back(std::move(shard));
  }
  job->remaining = static_cast<int>(job->shards.size());
  total_ += static_cast<int>(job->shards.size()) + 2;  // shards, table, link
  // The runner is compiled by the first task any set posts, before any link needs it.
  post([this] {
    std::string ignored;
    runner_objects(ignored);
  });
  for (std::size_t k = 0; k < job->shards.size(); ++k) post([this, job, k] { compile_shard(job, k); });
  return future;
}

void Builder::compile_shard(const std::shared_ptr<SetJob>& job, std::size_t shard) {
  auto build_one = [&](const std::vector<int>& indices, std::string& message) -> fs::path {
    try {
      const std::string source = shard_source(job->set, indices);
      const std::string key = Hash().add(inputs_hash_).add(source).hex();
      const fs::path cu = job->dir / ("s" + key + ".cu"), obj = job->dir / ("s" + key + ".o");
      if (!fs::exists(obj)) std::ofstream(cu, std::ios::binary) << source;
      return compile(cu, obj, message) ? obj : fs::path();
    } catch (const std::exception& e) {
      message = e.what();
      return {};
    }
  };
  const std::vector<int>& indices = job->shards[shard];
  std::vector<fs::path> objects;
  std::vector<int> compiled;
  std::map<int, std::string> failed;
  std::string message;
  if (fs::path obj = build_one(indices, message); !obj.empty()) {
    objects.push_back(obj);
    compiled = indices;
  } else if (indices.size() == 1) {
    failed[indices[0]] = message;
  } else {
    // One bad candidate must not take its shard down: find it by compiling each alone.
    total_ += static_cast<int>(indices.size());
    for (int i : indices) {
      std::string one_message;
      if (fs::path obj = build_one({i}, one_message); !obj.empty()) {
        objects.push_back(obj);
        compiled.push_back(i);
      } else {
        failed[i] = one_message;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(job->mutex);
    job->objects.insert(job->objects.end(), objects.begin(), objects.end());
    job->compiled.insert(job->compiled.end(), compiled.begin(), compiled.end());
    job->failed.insert(failed.begin(), failed.end());
  }
  if (--job->remaining == 0) post([this, job] { link(job); });
}

void Builder::link(const std::shared_ptr<SetJob>& job) {
  try {
    link_set(job);
  } catch (const std::exception& e) {
    BuiltSet built;
    built.error = std::string("linking failed: ") + e.what();
    job->promise.set_value(std::move(built));
  }
}

void Builder::link_set(const std::shared_ptr<SetJob>& job) {
  BuiltSet built;
  built.failed = job->failed;
  std::vector<int> table = job->compiled;
  std::sort(table.begin(), table.end());
  std::string error;
  const std::vector<fs::path> runner = runner_objects(error);
  if (runner.empty()) {
    built.error = "the runner (runner.cu, measure/timing.cu) did not compile: " + error;
  } else if (table.empty()) {
    built.error = "no candidate compiled";
  } else {
    const std::string source = table_source(job->set, table);
    const std::string key = Hash().add(inputs_hash_).add(source).hex();
    const fs::path cu = job->dir / ("table-" + key + ".cu"), obj = job->dir / ("table-" + key + ".o");
    std::ofstream(cu, std::ios::binary) << source;
    if (!compile(cu, obj, error)) {
      built.error = "the candidate table did not compile: " + error;
    } else {
      std::vector<fs::path> objects = job->objects;
      std::sort(objects.begin(), objects.end());
      objects.erase(std::unique(objects.begin(), objects.end()), objects.end());
      const fs::path library = job->dir / "kt.so", tmp = job->dir / "kt.so.tmp";
      std::vector<std::string> argv = {tc_.nvcc, "-shared", "-gencode=" + tc_.gencode, "-o", tmp.string()};
      for (const fs::path& o : objects) argv.push_back(o.string());
      argv.push_back(obj.string());
      for (const fs::path& r : runner) argv.push_back(r.string());
      const int rc = run_command(argv, job->dir / "link.log");
      ++done_;
      if (rc != 0) {
        built.error = "linking failed (see " + (job->dir / "link.log").string() + ")";
      } else {
        nlohmann::json manifest = {{"table", table}, {"failed", nlohmann::json::object()}};
        for (const auto& [i, m] : built.failed) manifest["failed"][std::to_string(i)] = m;
        write_file_atomic(job->dir / "kt.json", manifest.dump(1) + "\n");
        fs::rename(tmp, library);
        built.ok = true;
        built.library = library;
        built.table = table;
      }
    }
  }
  job->promise.set_value(std::move(built));
}

}  // namespace kiln_tune
