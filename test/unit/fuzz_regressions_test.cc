// Replays every input that ever crashed or hung the scenario fuzzer (test/fuzz/), so a fixed
// bug stays fixed without running the fuzzer. A file that hangs again fails through ctest's
// timeout; a crash or sanitizer report fails the test binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness/scenario/scenario.h"
#include "test/fuzz/scenario_fuzz_input.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(FuzzRegressions, EveryKeptInputIsAcceptedOrRejectedWithAScenarioError) {
  const std::vector<fs::path> files =
      FilesIn(SVCBENCH_SOURCE_DIR "/test/fixtures/fuzz-regressions");
  ASSERT_FALSE(files.empty()) << "the regression directory is empty or missing";
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const fuzz::ScenarioFuzzInput input = fuzz::SplitScenarioFuzzInput(ReadAll(file));
    try {
      ParseScenario(input.yaml, "fuzz", input.overrides);
    } catch (const ScenarioError&) {
      // Expected for most of them: what matters is that nothing else happens.
    } catch (const std::exception& e) {
      ADD_FAILURE() << "an exception other than ScenarioError: " << e.what();
    }
  }
}

// The seeds are meant to reach deep into the parser; a seed the parser rejects early would
// quietly stop doing that when the scenario format changes.
TEST(FuzzRegressions, SeedsWithOverridesAreValidScenarios) {
  for (const fs::path& file : FilesIn(SVCBENCH_SOURCE_DIR "/test/fuzz/seeds")) {
    SCOPED_TRACE(file.string());
    const fuzz::ScenarioFuzzInput input = fuzz::SplitScenarioFuzzInput(ReadAll(file));
    EXPECT_FALSE(input.overrides.empty());
    EXPECT_NO_THROW(ParseScenario(input.yaml, "seed", input.overrides));
  }
}

TEST(FuzzInputFormat, SplitsAtTheFirstSeparatorLine) {
  const fuzz::ScenarioFuzzInput input =
      fuzz::SplitScenarioFuzzInput("a: 1\n%%x\n%%\nk=v\n%%\n\nlast=1");
  EXPECT_EQ(input.yaml, "a: 1\n%%x\n");
  EXPECT_EQ(input.overrides, (std::vector<std::string>{"k=v", "%%", "", "last=1"}));
}

TEST(FuzzInputFormat, WithoutSeparatorEverythingIsTheScenario) {
  const fuzz::ScenarioFuzzInput input = fuzz::SplitScenarioFuzzInput("a: 1\n\n");
  EXPECT_EQ(input.yaml, "a: 1\n\n");
  EXPECT_TRUE(input.overrides.empty());
}

TEST(FuzzInputFormat, ATrailingNewlineAddsNoEmptyOverride) {
  const fuzz::ScenarioFuzzInput input = fuzz::SplitScenarioFuzzInput("a: 1\n%%\nk=v\n");
  EXPECT_EQ(input.overrides, (std::vector<std::string>{"k=v"}));
}

}  // namespace
}  // namespace svcbench
