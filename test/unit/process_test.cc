#include "harness/util/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

SpawnResult RunTool(std::vector<std::string> argv, std::string stdin_data = {},
                    double timeout_s = 0) {
  SpawnOptions opts;
  opts.argv = std::move(argv);
  opts.stdin_data = std::move(stdin_data);
  opts.timeout_s = timeout_s;
  return Spawn(opts);
}

TEST(SpawnTest, StdinReachesTheChildAndStdoutComesBack) {
  const SpawnResult r = RunTool({"cat"}, "hello\nworld\n");
  EXPECT_TRUE(r.Ok()) << r.Describe("cat");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.out, "hello\nworld\n");
  EXPECT_EQ(r.err, "");
  EXPECT_GT(r.wall_s, 0);
  EXPECT_GT(r.max_rss_kib, 0);
}

TEST(SpawnTest, StderrIsSeparateFromStdout) {
  const SpawnResult r = RunTool({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(SpawnTest, NonZeroExitIsReportedAndDescribed) {
  const SpawnResult r =
      RunTool({"sh", "-c", "echo 'tool: line 7 failed' >&2; echo second >&2; exit 2"});
  EXPECT_FALSE(r.Ok());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.Describe("tool"), "tool exited with 2: tool: line 7 failed; second");
}

TEST(SpawnTest, DescribeDropsTheHelpHintAndJoinsAfterAColon) {
  SpawnResult r;
  r.exit_code = 1;
  r.err =
      "iptables-nft-restore v1.8.9 (nf_tables): \nline 3: CHAIN_DEL failed\n\n"
      "Try `iptables-nft-restore -h' or 'iptables-nft-restore --help' for more information.\n";
  EXPECT_EQ(r.Describe("iptables-nft-restore"),
            "iptables-nft-restore exited with 1: iptables-nft-restore v1.8.9 (nf_tables): line 3: "
            "CHAIN_DEL failed");
}

TEST(SpawnTest, ExtraEnvironmentIsAddedAndOverrides) {
  ::setenv("SVCBENCH_SPAWN_TEST", "parent", 1);
  SpawnOptions opts;
  opts.argv = {"sh", "-c", "echo \"$SVCBENCH_SPAWN_TEST $SVCBENCH_SPAWN_EXTRA\""};
  opts.extra_env = {"SVCBENCH_SPAWN_TEST=child", "SVCBENCH_SPAWN_EXTRA=x"};
  const SpawnResult r = Spawn(opts);
  ::unsetenv("SVCBENCH_SPAWN_TEST");
  EXPECT_EQ(r.out, "child x\n");
}

TEST(SpawnTest, MissingBinaryThrowsSystemErrorNamingIt) {
  try {
    RunTool({"svcbench-no-such-tool-7f3a"});
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("execvp(svcbench-no-such-tool-7f3a)"), std::string::npos)
        << e.what();
  }
}

TEST(SpawnTest, ExecFailureInTheChildIsReportedToTheParent) {
  // Found and executable by mode, but not an executable format: execve fails in the child,
  // after fork, and must come back as an exception rather than as exit 127.
  char path[] = "/tmp/svcbench-spawn-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd,
                    "\x7f"
                    "ELF garbage",
                    12),
            12);
  ::close(fd);
  ::chmod(path, 0700);
  try {
    RunTool({path});
    ::unlink(path);
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    ::unlink(path);
    EXPECT_EQ(e.code().value(), ENOEXEC) << e.what();
    EXPECT_NE(std::string(e.what()).find("execvp("), std::string::npos) << e.what();
  }
}

TEST(SpawnTest, BadNetnsFdThrows) {
  SpawnOptions opts;
  opts.argv = {"true"};
  opts.netns_fd = 987;  // not open
  EXPECT_THROW(Spawn(opts), std::system_error);
}

TEST(SpawnTest, TimeoutKillsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  const SpawnResult r = RunTool({"sleep", "30"}, {}, 0.2);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.Ok());
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(elapsed, 5.0);
  EXPECT_GE(r.wall_s, 0.2);
  EXPECT_NE(r.Describe("sleep").find("timed out"), std::string::npos);
}

TEST(SpawnTest, TimeoutAlsoAppliesWhileTheChildHoldsNoPipes) {
  // The child closes its stdout/stderr and keeps running: only the exit wait is left.
  const SpawnResult r = RunTool({"sh", "-c", "exec >/dev/null 2>&1; sleep 30"}, {}, 0.3);
  EXPECT_TRUE(r.timed_out);
}

TEST(SpawnTest, BigStdinDoesNotDeadlock) {
  const std::string payload(64u << 20, 'x');
  const SpawnResult r = RunTool({"wc", "-c"}, payload, 60);
  ASSERT_TRUE(r.Ok()) << r.Describe("wc");
  EXPECT_EQ(std::stoull(r.out), payload.size());
}

TEST(SpawnTest, BigStdinAndBigStdoutAtOnceDoNotDeadlock) {
  // cat writes while we write: neither side may block the other.
  std::string payload(64u << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const SpawnResult r = RunTool({"cat"}, payload, 60);
  ASSERT_TRUE(r.Ok()) << r.Describe("cat");
  EXPECT_TRUE(r.out == payload) << "got " << r.out.size() << " bytes";
}

TEST(SpawnTest, ChildThatStopsReadingEarlyIsNotAnError) {
  // head exits after one line; our write then gets EPIPE, which must not kill us.
  const std::string payload = "first\n" + std::string(8u << 20, 'y');
  const SpawnResult r = RunTool({"head", "-n", "1"}, payload, 30);
  EXPECT_TRUE(r.Ok()) << r.Describe("head");
  EXPECT_EQ(r.out, "first\n");
}

TEST(SpawnTest, CpuTimeComesFromRusage) {
  const SpawnResult r = RunTool({"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"});
  ASSERT_TRUE(r.Ok());
  EXPECT_GT(r.user_s + r.sys_s, 0.0);
  EXPECT_LE(r.user_s + r.sys_s, r.wall_s * 2 + 0.05);
}

TEST(HaveCommandTest, FindsToolsInPathOnly) {
  EXPECT_TRUE(HaveCommand("sh"));
  EXPECT_TRUE(HaveCommand("/bin/sh"));
  EXPECT_FALSE(HaveCommand("svcbench-no-such-tool-7f3a"));
  EXPECT_FALSE(HaveCommand("/nonexistent/sh"));
  EXPECT_FALSE(HaveCommand(""));
}

// The interrupt flag is process-wide and cannot be reset, so this runs in a child process.
TEST(SpawnDeathTest, InterruptKillsTheChildAndReportsTheSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        InstallInterruptHandlers();
        std::thread raiser([] {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          ::kill(::getpid(), SIGINT);
        });
        const auto start = std::chrono::steady_clock::now();
        const SpawnResult r = RunTool({"sleep", "30"});
        raiser.join();
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const bool ok =
            r.term_signal == SIGTERM && r.exit_code == -1 && elapsed < 5 && InterruptRequested();
        // A later Spawn does not even start the tool.
        const SpawnResult again = RunTool({"sleep", "30"});
        std::exit(ok && again.term_signal == SIGINT ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace svcbench
