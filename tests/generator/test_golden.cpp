// Golden tests: fixtures/configs must give exactly fixtures/golden, in memory and
// through a real write. KILN_UPDATE_GOLDEN=1 rewrites fixtures/golden first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "kiln_gen/cli.h"
#include "test_support.h"

namespace kiln::gen::test {
namespace {

class Golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* update = std::getenv("KILN_UPDATE_GOLDEN");
    if (!update || std::strcmp(update, "1") != 0) return;
    const WriteSummary s = write_tree(fixture_golden(), emit_dir(fixture_configs()));
    std::cout << "KILN_UPDATE_GOLDEN=1: rewrote " << fixture_golden() << " (" << s.changed << " changed, "
              << s.removed << " removed); review the diff before committing\n";
  }

  // Compares file by file, so a failure names the file and shows both texts.
  static void expect_same_tree(const FileMap& actual, const FileMap& golden) {
    for (const auto& [path, content] : golden) {
      auto it = actual.find(path);
      if (it == actual.end()) ADD_FAILURE() << "not produced: " << path;
      else EXPECT_EQ(it->second, content) << "differs from golden: " << path;
    }
    for (const auto& [path, content] : actual)
      EXPECT_TRUE(golden.count(path)) << "produced but not in golden: " << path;
  }
};

TEST_F(Golden, GoldenTreeIsPresent) {
  EXPECT_GE(read_tree(fixture_golden()).size(), 5u) << fixture_golden();
}

TEST_F(Golden, InMemoryEmitMatchesGoldenByteForByte) {
  expect_same_tree(emit_dir(fixture_configs()), read_tree(fixture_golden()));
}

TEST_F(Golden, WrittenTreeMatchesGoldenByteForByte) {
  TempDir tmp;
  const RunResult r = run_gen({"--configs", fixture_configs().string(), "--out", (tmp / "generated").string()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  expect_same_tree(read_tree(tmp / "generated"), read_tree(fixture_golden()));
}

TEST_F(Golden, CheckAgainstGoldenIsClean) {
  const RunResult r = run_gen({"--configs", fixture_configs().string(), "--out", fixture_golden().string(), "--check"});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_EQ(r.out, fixture_golden().string() + "/ is up to date\n");  // the --out as given
}

}  // namespace
}  // namespace kiln::gen::test
