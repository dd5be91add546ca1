// kiln-gen as a hostile user meets it (issue 11): deep and huge JSON, forged report
// lines, --out and --configs that would lose data, concurrent and killed runs, and a
// randomized mutation test of the repository's configs. kiln-gen runs as a child
// process here, so a crash is a signal the test sees, not the test dying.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "kiln_gen/cli.h"
#include "kiln_gen/output.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

struct Child {
  int status = -1;        // exit status, or -1
  int signal = 0;         // the signal that ended it, or 0
  std::string out, err;
  bool exited() const { return signal == 0 && status >= 0; }
};

fs::path exe() {
  const char* path = std::getenv("KILN_GEN_EXE");
  if (!path) ADD_FAILURE() << "KILN_GEN_EXE is not set: run through `meson test`";
  return path ? path : "";
}

// Starts kiln-gen with args in folder cwd, stdout and stderr to files under logs.
pid_t spawn(const std::vector<std::string>& args, const fs::path& logs, const fs::path& cwd = {}) {
  const fs::path binary = exe();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
  const int out = ::open((logs.string() + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = ::open((logs.string() + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(out, 1);
  ::dup2(err, 2);
  std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(binary.c_str(), argv.data());
  ::_exit(127);
}

Child finish(pid_t pid, const fs::path& logs) {
  Child c;
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  if (WIFEXITED(raw)) c.status = WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) c.signal = WTERMSIG(raw);
  c.out = read_file(logs.string() + ".out");
  c.err = read_file(logs.string() + ".err");
  return c;
}

Child run_child(const std::vector<std::string>& args, const fs::path& logs, const fs::path& cwd = {}) {
  return finish(spawn(args, logs, cwd), logs);
}

// A copy of the fixture configs, an output folder and a log prefix, all in one TempDir.
struct Bench {
  TempDir tmp;
  fs::path configs = tmp / "configs";
  fs::path out = tmp / "generated";
  fs::path logs = tmp / "log";
  explicit Bench(const fs::path& from = fixture_configs()) { copy_tree(from, configs); }
  Child gen(std::vector<std::string> extra = {}, const fs::path& cwd = {}) const {
    std::vector<std::string> args = {"--configs", configs.string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_child(args, logs, cwd);
  }
};

std::string describe(const Child& c) {
  return "status " + std::to_string(c.status) + " signal " + std::to_string(c.signal) + "\nstdout:\n" + c.out +
         "stderr:\n" + c.err;
}

constexpr const char* kBs1 = "rms_norm_fp8/sm90/2048/bs1.json";

// --- parsing ----------------------------------------------------------------------

TEST(HostileInput, DeepNestingIsADiagnosticNamingTheFile) {
  for (const char* open : {"[", "{\"a\":"}) {
    Bench b;
    std::string text = "{\"schedule\": ";
    for (int i = 0; i < 100000; ++i) text += open;
    write_file(b.configs / kBs1, text);
    const Child c = b.gen();
    ASSERT_TRUE(c.exited()) << describe(c);
    EXPECT_EQ(c.status, kExitBadInput) << describe(c);
    EXPECT_NE(c.err.find(std::string("configs/") + kBs1 + ": json = line 1, column"), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("nested deeper than 64 levels"), std::string::npos) << c.err;
    EXPECT_FALSE(fs::exists(b.out));
  }
}

// A config is a few hundred bytes: a huge one (here 2 MiB of spaces) is refused unread,
// so a multi-gigabyte file cannot exhaust memory.
TEST(HostileInput, HugeFileIsRefusedUnread) {
  Bench b;
  write_file(b.configs / kBs1, std::string(2 << 20, ' '));
  const Child c = b.gen();
  ASSERT_TRUE(c.exited()) << describe(c);
  EXPECT_EQ(c.status, kExitBadInput) << describe(c);
  EXPECT_NE(c.err.find(std::string("configs/") + kBs1 + ": file = bs1.json: is 2097152 bytes: a config file may hold at most 1048576"),
            std::string::npos)
      << c.err;
  EXPECT_FALSE(fs::exists(b.out));
}

TEST(HostileInput, NestingWithinTheLimitAndBracketsInStringsAreFine) {
  Bench b;
  std::string deep = "1";
  for (int i = 0; i < 60; ++i) deep = "[" + deep + "]";
  write_file(b.configs / kBs1, R"({"schedule": {"threads": 128, "vec": 8, "rows_per_cta": 1, "cluster": 1},
    "tuning": {"deep": )" + deep + R"(, "text": ")" + std::string(1000, '[') + R"("}})");
  const Child c = b.gen();
  EXPECT_EQ(c.status, kExitOk) << describe(c);
}

TEST(HostileInput, NumberOutOfDoubleRangeIsADiagnostic) {
  for (const char* number : {"1e400", "-1e400", "123456789012345678901234567890e999"}) {
    Bench b;
    write_file(b.configs / kBs1, std::string(R"({"schedule": {"threads": )") + number +
                                     R"(, "vec": 8, "rows_per_cta": 1, "cluster": 1}})");
    const Child c = b.gen();
    ASSERT_TRUE(c.exited()) << describe(c);
    EXPECT_EQ(c.status, kExitBadInput) << describe(c);
    EXPECT_NE(c.err.find(std::string("configs/") + kBs1 + ": json = (number): number out of range"),
              std::string::npos)
        << c.err;
  }
}

TEST(HostileInput, InvalidUtf8AndNulBytesAreDiagnostics) {
  Bench b;
  write_file(b.configs / kBs1, std::string("{\"schedule\": {\"thr\xff\xfe\0ads\": 1}}", 30));
  const Child c = b.gen();
  ASSERT_TRUE(c.exited()) << describe(c);
  EXPECT_EQ(c.status, kExitBadInput) << describe(c);
  EXPECT_NE(c.err.find(std::string("configs/") + kBs1), std::string::npos) << c.err;
}

// --- diagnostics ------------------------------------------------------------------

TEST(HostileInput, AKeyCannotForgeAReportLine) {
  Bench b;
  write_file(b.configs / kBs1,
             R"({"schedule": {"threads": 128, "vec": 8, "rows_per_cta": 1, "cluster": 1,
                 "x\nconfigs/forged.json: schedule.vec = 1: forged\u001b[31m": 1}})");
  const Child c = b.gen();
  ASSERT_EQ(c.status, kExitBadInput) << describe(c);
  for (const std::string& line : lines_of(c.err)) {
    EXPECT_FALSE(line.starts_with("configs/forged.json")) << c.err;
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  }
  EXPECT_NE(c.err.find("schedule.x\\x0aconfigs/forged.json: schedule.vec = 1: forged\\x1b[31m = 1: unknown key"),
            std::string::npos)
      << c.err;
}

TEST(HostileInput, LongKeysAndControlCharactersInNamesAreEscapedAndBounded) {
  Bench b;
  write_file(b.configs / kBs1, R"({"schedule": {"threads": 128, "vec": 8, "rows_per_cta": 1, "cluster": 1, ")" +
                                   std::string(100000, 'k') + R"(": 1}})");
  write_file(b.configs / "rms_norm_fp8/sm90/2048/bs2\x1b[2J\r.json", "{}");
  const Child c = b.gen();
  ASSERT_EQ(c.status, kExitBadInput) << describe(c);
  const std::vector<std::string> lines = lines_of(c.err);
  ASSERT_EQ(lines.size(), 3u) << c.err;
  for (const std::string& line : lines) {
    EXPECT_LT(line.size(), 2000u) << line.substr(0, 300);
    for (char ch : line) EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20) << line;
  }
  EXPECT_NE(c.err.find("bs2\\x1b[2J\\x0d.json"), std::string::npos) << c.err;
}

TEST(Diagnostics, EscapeTextEscapesControlsAndCutsOnCharacterBoundaries) {
  EXPECT_EQ(escape_text("a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
  EXPECT_EQ(escape_text(std::string(300, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(escape_text("abc\xc3\xa9\xc3\xa9", 6), "abc\xc3\xa9...");  // never half of "é"
  EXPECT_EQ(escape_text("plain"), "plain");
}

// --- --check on odd output folders ------------------------------------------------

TEST(HostileInput, CheckReportsASymlinkLoopAndUnreadableEntries) {
  Bench b;
  ASSERT_EQ(b.gen().status, kExitOk);
  fs::create_symlink("loop", b.out / "loop");
  fs::create_symlink("a", b.out / "b");
  fs::create_symlink("b", b.out / "a");
  fs::create_symlink("nowhere", b.out / "dangling");
  fs::create_directory_symlink(b.out, b.out / "self");  // a symlinked folder is not walked
  const bool root = ::geteuid() == 0;
  if (!root) {
    fs::create_directories(b.out / "locked");
    write_file(b.out / "locked/x.cu", "x");
    fs::permissions(b.out / "locked", fs::perms::none);
    fs::permissions(b.out / "meson.build", fs::perms::none);
  }
  const Child c = b.gen({"--check"});
  if (!root) {
    fs::permissions(b.out / "locked", fs::perms::owner_all);
    fs::permissions(b.out / "meson.build", fs::perms::owner_all);
  }
  ASSERT_TRUE(c.exited()) << describe(c);
  EXPECT_EQ(c.status, kExitStale) << describe(c);
  EXPECT_NE(c.out.find("unreadable: " + b.out.string() + "/loop: "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("unreadable: " + b.out.string() + "/a: "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("unreadable: " + b.out.string() + "/dangling: "), std::string::npos) << c.out;
  if (!root) {
    EXPECT_NE(c.out.find("unreadable: " + b.out.string() + "/locked: cannot be listed"), std::string::npos) << c.out;
    EXPECT_NE(c.out.find("unreadable: " + b.out.string() + "/meson.build: cannot be read"), std::string::npos) << c.out;
  }
}

// --- refused --out and --configs ---------------------------------------------------

TEST(Refusal, OutThatIsAFileIsKept) {
  Bench b;
  write_file(b.tmp / "notes.txt", "my notes\n");
  const Child c = run_child({"--configs", b.configs.string(), "--out", (b.tmp / "notes.txt").string()}, b.logs);
  EXPECT_EQ(c.status, kExitBadInput) << describe(c);
  EXPECT_NE(c.err.find("is an existing file, not a folder"), std::string::npos) << c.err;
  EXPECT_EQ(read_file(b.tmp / "notes.txt"), "my notes\n");
}

TEST(Refusal, OutEqualInsideOrContainingConfigs) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"configs", "is the --configs folder"},
      {"configs/", "is the --configs folder"},
      {"configs/./rms_norm_fp8/..", "is the --configs folder"},
      {"configs/generated", "is inside --configs"},
      {"configs/rms_norm_fp8", "is inside --configs"},
      {".", "contains --configs"},
      {"link", "is the --configs folder"},
  };
  for (const auto& [out, why] : cases) {
    Bench b;
    fs::create_directory_symlink(b.configs, b.tmp / "link");
    const auto before = snapshot(b.configs);
    const Child c = run_child({"--configs", "configs", "--out", out}, b.logs, b.tmp.path());
    EXPECT_EQ(c.status, kExitBadInput) << out << "\n" << describe(c);
    EXPECT_NE(c.err.find(why), std::string::npos) << out << "\n" << c.err;
    EXPECT_NE(c.err.find("'" + out + "'"), std::string::npos) << "names the path as given\n" << c.err;
    EXPECT_EQ(snapshot(b.configs), before) << out;
    for (const char* mode : {"--check"}) {
      const Child check = run_child({"--configs", "configs", "--out", out, mode}, b.logs, b.tmp.path());
      EXPECT_EQ(check.status, kExitBadInput) << out << "\n" << describe(check);
    }
  }
}

TEST(Refusal, OutThatIsTheWorkingFolderOrAnAncestor) {
  Bench b;
  fs::create_directories(b.tmp / "work/sub");
  write_file(b.tmp / "work/sub/mine.txt", "mine\n");
  for (const std::string& out : std::vector<std::string>{".", "..", "./", fs::path(b.tmp / "work").string()}) {
    const Child c = run_child({"--configs", b.configs.string(), "--out", out}, b.logs, b.tmp / "work/sub");
    EXPECT_EQ(c.status, kExitBadInput) << out << "\n" << describe(c);
    EXPECT_NE(c.err.find("the current folder"), std::string::npos) << c.err;
  }
  EXPECT_EQ(read_file(b.tmp / "work/sub/mine.txt"), "mine\n");
}

TEST(Refusal, EmptyOutAndEmptyConfigsDoNotFallBackToTheDefaults) {
  Bench b;
  const Child out = run_child({"--configs", b.configs.string(), "--out", ""}, b.logs);
  EXPECT_EQ(out.status, kExitBadInput) << describe(out);
  EXPECT_NE(out.err.find("--out is empty"), std::string::npos) << out.err;
  const Child configs = run_child({"--configs", "", "--out", b.out.string()}, b.logs);
  EXPECT_EQ(configs.status, kExitBadInput) << describe(configs);
  EXPECT_NE(configs.err.find("--configs is empty"), std::string::npos) << configs.err;
  EXPECT_FALSE(fs::exists(b.out));
}

TEST(Refusal, MissingOrEmptyConfigsLeaveOutAlone) {
  Bench b;
  ASSERT_EQ(b.gen().status, kExitOk);
  const auto before = snapshot(b.out);
  const Child missing = run_child({"--configs", (b.tmp / "nope").string(), "--out", b.out.string()}, b.logs);
  EXPECT_EQ(missing.status, kExitBadInput) << describe(missing);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  fs::create_directories(b.tmp / "empty");
  write_file(b.tmp / "empty/README.md", "nothing yet\n");
  const Child empty = run_child({"--configs", (b.tmp / "empty").string(), "--out", b.out.string()}, b.logs);
  EXPECT_EQ(empty.status, kExitBadInput) << describe(empty);
  EXPECT_NE(empty.err.find("holds no configs"), std::string::npos) << empty.err;
  EXPECT_NE(empty.err.find("--allow-empty"), std::string::npos) << empty.err;
  EXPECT_EQ(snapshot(b.out), before);
  const Child allowed =
      run_child({"--configs", (b.tmp / "empty").string(), "--out", b.out.string(), "--allow-empty"}, b.logs);
  EXPECT_EQ(allowed.status, kExitOk) << describe(allowed);
}

TEST(Refusal, UnlistableConfigFolderIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every folder";
  Bench b;
  fs::permissions(b.configs / "rms_norm_fp8/sm90", fs::perms::none);
  const Child c = b.gen();
  fs::permissions(b.configs / "rms_norm_fp8/sm90", fs::perms::owner_all);
  EXPECT_EQ(c.status, kExitBadInput) << describe(c);
  EXPECT_NE(c.err.find("cannot be listed"), std::string::npos) << c.err;
}

TEST(Refusal, FolderKilnGenDidNotWriteIsNotReplaced) {
  Bench b;
  write_file(b.out / "thesis.tex", "years of work\n");
  const Child c = b.gen();
  EXPECT_EQ(c.status, kExitBadInput) << describe(c);
  EXPECT_NE(c.err.find("holds files kiln-gen did not write"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find(kMarkerName), std::string::npos) << c.err;
  EXPECT_EQ(read_file(b.out / "thesis.tex"), "years of work\n");
  EXPECT_EQ(fs::directory_iterator(b.tmp.path()) == fs::directory_iterator(), false);
  for (const auto& e : fs::directory_iterator(b.tmp.path()))
    EXPECT_EQ(e.path().filename().string().find(".kiln-"), std::string::npos) << e.path();
}

TEST(Refusal, MarkedEmptyAndEarlierKilnGenFoldersAreWritten) {
  Bench b;
  fs::create_directories(b.out);
  ASSERT_EQ(b.gen().status, kExitOk);  // empty folder
  EXPECT_EQ(read_file(b.out / kMarkerName), kMarkerText);
  fs::remove(b.out / kMarkerName);     // an earlier kiln-gen's output: every file has the banner
  const Child c = b.gen();
  EXPECT_EQ(c.status, kExitOk) << describe(c);
  EXPECT_TRUE(fs::exists(b.out / kMarkerName));
  write_file(b.out / "stray.txt", "x\n");  // marked: extra files go
  EXPECT_EQ(b.gen().status, kExitOk);
  EXPECT_FALSE(fs::exists(b.out / "stray.txt"));
  EXPECT_EQ(b.gen({"--check"}).status, kExitOk);
}

// --- concurrency and kills -----------------------------------------------------------

bool no_temporaries(const fs::path& folder) {
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name.find(".kiln-tmp") != std::string::npos || name.find(".kiln-old") != std::string::npos ||
        name.find(".kiln-lock") != std::string::npos)
      return false;
  }
  return true;
}

TEST(Concurrency, TwentyRunsOnOneOutEndWithACompleteTree) {
  Bench b(default_configs_dir());
  const FileMap expected = emit_dir(b.configs);
  std::vector<pid_t> pids;
  for (int i = 0; i < 20; ++i)
    pids.push_back(spawn({"--configs", b.configs.string(), "--out", b.out.string()},
                         b.tmp / ("log" + std::to_string(i))));
  for (int i = 0; i < 20; ++i) {
    const Child c = finish(pids[i], b.tmp / ("log" + std::to_string(i)));
    ASSERT_TRUE(c.exited()) << describe(c);
    EXPECT_TRUE(c.status == kExitOk || (c.status == kExitWriteFailed && c.err.find("another kiln-gen") != std::string::npos))
        << describe(c);
  }
  EXPECT_EQ(read_tree(b.out), expected);
  EXPECT_TRUE(no_temporaries(b.tmp.path()));
}

TEST(Concurrency, RunKilledAtRandomMomentsLeavesTheOldOrTheNewTree) {
  Bench b(default_configs_dir());
  const fs::path other = b.tmp / "configs-b";
  copy_tree(b.configs, other);
  fs::remove_all(other / "silu_mul_fp8");
  const FileMap tree_a = emit_dir(b.configs), tree_b = emit_dir(other);
  ASSERT_EQ(b.gen().status, kExitOk);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_child({"--configs", other.string(), "--out", b.out.string()}, b.logs).status, kExitOk);
  const auto run_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(11);
  int cut = 0;
  for (int i = 0; i < 30; ++i) {
    const fs::path& from = i % 2 ? b.configs : other;
    const pid_t pid = spawn({"--configs", from.string(), "--out", b.out.string()}, b.logs);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<long>(0, run_us)(rng)));
    ::kill(pid, SIGKILL);
    const Child c = finish(pid, b.logs);
    if (c.signal == SIGKILL) ++cut;
    const FileMap now = read_tree(b.out);
    EXPECT_TRUE(now == tree_a || now == tree_b) << "kill " << i << " left a tree of " << now.size() << " files";
  }
  EXPECT_GT(cut, 0);
  const Child next = b.gen();
  EXPECT_EQ(next.status, kExitOk) << describe(next);
  EXPECT_EQ(read_tree(b.out), tree_a);
  EXPECT_TRUE(no_temporaries(b.tmp.path()));
}

TEST(Concurrency, StrayTemporariesOfKilledRunsAreRemoved) {
  Bench b;
  ASSERT_EQ(b.gen().status, kExitOk);
  write_file(b.tmp / "generated.kiln-tmp.999999/half.cu", "// half\n");
  write_file(b.tmp / "generated.kiln-old.999998/old.cu", "// old\n");
  write_file(b.tmp / "generated.kiln-tmp/x.cu", "// an older kiln-gen's\n");
  ASSERT_EQ(b.gen().status, kExitOk);
  EXPECT_TRUE(no_temporaries(b.tmp.path()));
  // A kill between the two renames of the fallback leaves only "<out>.kiln-old.<pid>".
  fs::rename(b.out, b.tmp / "generated.kiln-old.4242");
  ASSERT_EQ(b.gen({"--check"}).status, kExitStale);
  ASSERT_EQ(b.gen().status, kExitOk);
  EXPECT_EQ(read_tree(b.out), emit_dir(b.configs));
  EXPECT_TRUE(no_temporaries(b.tmp.path()));
}

// --- randomized mutations of the repository's configs ------------------------------------

std::vector<fs::path> files_under(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> folders_under(const fs::path& root) {
  std::vector<fs::path> folders;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_directory() && !e.is_symlink()) folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  return folders;
}

void mutate(const fs::path& root, std::mt19937& rng) {
  auto pick = [&](const auto& v) { return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)]; };
  auto n = [&](int hi) { return std::uniform_int_distribution<int>(0, hi)(rng); };
  std::vector<fs::path> files = files_under(root), folders = folders_under(root);
  if (files.empty() || folders.empty()) return;
  const fs::path file = pick(files);
  std::string text = read_file(file);
  switch (n(11)) {
    case 0:  // flip bytes
      for (int i = n(4); i >= 0 && !text.empty(); --i) text[n(static_cast<int>(text.size()) - 1)] ^= static_cast<char>(1 << n(7));
      write_file(file, text);
      break;
    case 1:  // insert bytes, control characters included
      for (int i = n(4); i >= 0; --i) text.insert(text.begin() + n(static_cast<int>(text.size())), static_cast<char>(n(255)));
      write_file(file, text);
      break;
    case 2:  // delete a range
      if (!text.empty()) text.erase(n(static_cast<int>(text.size()) - 1), n(40));
      write_file(file, text);
      break;
    case 3: {  // a deep structure
      const std::string open = n(1) ? "[" : "{\"k\":";
      std::string deep;
      for (int i = n(200000); i > 0; --i) deep += open;
      write_file(file, R"({"schedule": {"threads": 128}, "tuning": )" + deep);
      break;
    }
    case 4: {  // huge and odd numbers
      const char* numbers[] = {"1e400", "-1e400", "18446744073709551616", "99999999999999999999999", "-0", "1.0", "1e2", "NaN"};
      const std::size_t at = text.find("\"threads\": ");
      if (at != std::string::npos) text.replace(at + 11, text.find_first_of(",}", at) - at - 11, numbers[n(7)]);
      write_file(file, text);
      break;
    }
    case 5:  // rename a file
      fs::rename(file, file.parent_path() / pick(std::vector<std::string>{"bs0.json", "bs01.json", "bs3", "x.json",
                                                                         "bs99999999999.json", "bs7.json", "README.md"}));
      break;
    case 6: {  // rename a folder
      const fs::path folder = pick(folders);
      fs::rename(folder, folder.parent_path() / pick(std::vector<std::string>{"sm91", "0", "4096x", "rms", "sm100", "bs1.json"}));
      break;
    }
    case 7: {  // links: a loop, a dangling link, a link to a folder above
      const fs::path folder = pick(folders);
      fs::create_symlink(folder.filename(), folder.parent_path() / "loop");
      fs::create_symlink("missing", file.parent_path() / "bs5.json");
      fs::create_directory_symlink(root, folder / "up");
      break;
    }
    case 8:  // an empty file
      write_file(file, "");
      break;
    case 9:  // a very long name
      write_file(file.parent_path() / ("bs" + std::string(240, '9') + ".json"), text);
      write_file(pick(folders) / std::string(250, 'n'), "x");
      break;
    case 10:  // a key with a newline and a forged line
      write_file(file, R"({"schedule": {"a\nconfigs/forged: x = 1: y": 1}})");
      break;
    default:  // remove a folder
      fs::remove_all(pick(folders));
      break;
  }
}

TEST(Randomized, MutatedRepositoryConfigsNeverCrashOrWriteOnError) {
  const char* env = std::getenv("KILN_FUZZ_SECONDS");
  const double seconds = env ? std::atof(env) : 20.0;
  TempDir tmp;
  const fs::path out = tmp / "generated";
  const fs::path logs = tmp / "log";
  ASSERT_EQ(run_child({"--configs", default_configs_dir().string(), "--out", out.string()}, logs).status, kExitOk);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int runs = 0, errors = 0;
  for (unsigned seed = 1; std::chrono::steady_clock::now() < deadline; ++seed) {
    std::mt19937 rng(seed);
    const fs::path configs = tmp / "configs";
    fs::remove_all(configs);
    copy_tree(default_configs_dir(), configs);
    for (int i = std::uniform_int_distribution<int>(1, 3)(rng); i > 0; --i) {
      try {
        mutate(configs, rng);
      } catch (const fs::filesystem_error&) {  // a mutation the file system refused: keep going
      }
    }
    const auto before = snapshot(out);
    const Child c = run_child({"--configs", configs.string(), "--out", out.string()}, logs);
    ++runs;
    ASSERT_TRUE(c.exited()) << "seed " << seed << ": " << describe(c);
    ASSERT_TRUE(c.status == kExitOk || c.status == kExitBadInput) << "seed " << seed << ": " << describe(c);
    if (c.status != kExitOk) {
      ++errors;
      EXPECT_EQ(snapshot(out), before) << "seed " << seed << " wrote on error";
      for (const std::string& line : lines_of(c.err)) {
        const std::string root = configs.string();  // reports name files under the --configs given
        const bool names_file = line.starts_with(root + "/") || line.starts_with(root + ": ") ||
                                (line.starts_with("kiln-gen: ") && (line.find("configs") != std::string::npos));
        EXPECT_TRUE(names_file) << "seed " << seed << ": " << line.substr(0, 300);
        for (char ch : line) ASSERT_FALSE(static_cast<unsigned char>(ch) < 0x20) << "seed " << seed << ": " << line;
        EXPECT_LT(line.size(), 3000u) << "seed " << seed;
      }
    }
    EXPECT_TRUE(no_temporaries(tmp.path())) << "seed " << seed;
    if (HasFailure()) break;
  }
  std::cout << "[ randomized ] " << runs << " runs, " << errors << " rejected\n";
  EXPECT_GT(runs, 10);
}

}  // namespace
}  // namespace kiln::gen::test
