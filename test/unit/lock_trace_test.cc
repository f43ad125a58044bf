#include "harness/measure/lock_trace.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace svcbench {
namespace {

// Times below are ns; 1e9 ns = 1 s.

TEST(LockTrace, RestoreThatWaitedThenReleasedByClose) {
  // iptables-restore: lock on reading `*nat`, released by close() after COMMIT.
  const LockTrace t = ParseLockTrace(
      "S 100 1000000000\n"
      "P 100 4 /run/svcbench/abc.xtables.lock\n"
      "A 100 4 1100000000\n"
      "L 100 4 1600000000\n"
      "U 100 4 3600000000\n"
      "X 100 3700000000\n");
  ASSERT_TRUE(t.pid);
  EXPECT_EQ(*t.pid, 100);
  EXPECT_EQ(t.lock_path, "/run/svcbench/abc.xtables.lock");
  EXPECT_TRUE(t.TookLock());
  EXPECT_EQ(t.lock_attempts, 1);
  ASSERT_TRUE(t.WaitS());
  EXPECT_DOUBLE_EQ(*t.WaitS(), 0.5);
  ASSERT_TRUE(t.HoldS());
  EXPECT_DOUBLE_EQ(*t.HoldS(), 2.0);  // to the close, not to the exit
  EXPECT_EQ(t.batches, 0);
  EXPECT_EQ(t.Retries(), 0);
}

TEST(LockTrace, IptablesHoldsTheLockUntilExit) {
  const LockTrace t = ParseLockTrace(
      "S 7 0\n"
      "P 7 3 /tmp/x.lock\n"
      "A 7 3 10\n"
      "L 7 3 30\n"
      "X 7 1000000030\n");
  ASSERT_TRUE(t.HoldS());
  EXPECT_DOUBLE_EQ(*t.HoldS(), 1.0);
  EXPECT_DOUBLE_EQ(*t.WaitS(), 20e-9);
}

TEST(LockTrace, GaveUpWhenTheAlarmFired) {
  // iptables -w 1: alarm(1) interrupts the blocking flock with EINTR; it exits 4.
  const LockTrace t = ParseLockTrace(
      "S 9 0\n"
      "P 9 4 /tmp/x.lock\n"
      "A 9 4 500\n"
      "F 9 4 1000000500 4\n"
      "X 9 1000001000\n");
  EXPECT_FALSE(t.TookLock());
  EXPECT_EQ(t.failed_errno, EINTR);
  ASSERT_TRUE(t.WaitS());
  EXPECT_DOUBLE_EQ(*t.WaitS(), 1.0);
  EXPECT_FALSE(t.HoldS());
}

TEST(LockTrace, NonBlockingPollingWaitsFromTheFirstAttempt) {
  const LockTrace t = ParseLockTrace(
      "S 5 0\n"
      "P 5 3 /tmp/x.lock\n"
      "A 5 3 100\n"
      "F 5 3 110 11\n"
      "A 5 3 200\n"
      "F 5 3 210 11\n"
      "A 5 3 300\n"
      "L 5 3 310\n"
      "U 5 3 410\n");
  EXPECT_EQ(t.lock_attempts, 3);
  EXPECT_DOUBLE_EQ(*t.WaitS(), 210e-9);
  EXPECT_DOUBLE_EQ(*t.HoldS(), 100e-9);
}

TEST(LockTrace, KilledWhileHoldingHasNoHold) {
  const LockTrace t = ParseLockTrace("S 5 0\nA 5 3 100\nL 5 3 200\n");
  EXPECT_TRUE(t.TookLock());
  EXPECT_FALSE(t.HoldS());
  EXPECT_TRUE(t.WaitS());
}

TEST(LockTrace, ALineCutShortByAKillIsIgnored) {
  const LockTrace t = ParseLockTrace("S 5 0\nA 5 3 100\nL 5 3 2");
  EXPECT_FALSE(t.TookLock());
  EXPECT_EQ(t.lock_attempts, 1);
}

TEST(LockTrace, BatchesCountResubmissions) {
  // iptables-nft-restore: three batches, the first two refused (ERESTART) and rebuilt.
  const LockTrace t = ParseLockTrace(
      "S 8 0\n"
      "B 8 1000 3000 0\n"
      "B 8 5000 6000 0\n"
      "B 8 9000 9500 0\n"
      "X 8 10000\n");
  EXPECT_EQ(t.batches, 3);
  EXPECT_EQ(t.Retries(), 2);
  EXPECT_EQ(t.batch_send_ns, 3500);
  EXPECT_FALSE(t.TookLock());
  EXPECT_FALSE(t.WaitS());
}

TEST(LockTrace, GenerationChangesCountCacheRestarts) {
  // iptables-nft-restore starved by small writers: every cache read (generation before and after)
  // saw a commit land in between, so it read again; the last read was consistent, then it sent.
  const LockTrace t = ParseLockTrace(
      "S 8 0\n"
      "G 8 10 868\n"
      "G 8 20 875\n"
      "G 8 21 875\n"
      "G 8 30 881\n"
      "G 8 31 881\n"
      "G 8 40 881\n"
      "B 8 50 60 0\n"
      "X 8 70\n");
  EXPECT_EQ(t.generations_read, 6);
  EXPECT_EQ(t.Restarts(), 2);
  EXPECT_EQ(t.Retries(), 0);
  EXPECT_EQ(ParseLockTrace("S 1 0\nG 1 5 4294967295\nG 1 6 0\n").Restarts(), 1);
}

TEST(LockTrace, OtherProcessesAreIgnored) {
  // A child (modprobe, exec'ed with LD_PRELOAD inherited) writes to the same file.
  const LockTrace t = ParseLockTrace(
      "S 10 0\n"
      "A 10 3 100\n"
      "S 11 150\n"
      "P 11 3 /run/xtables.lock\n"
      "A 11 3 160\n"
      "L 11 3 170\n"
      "B 11 180 190 0\n"
      "G 11 191 5\n"
      "G 11 192 6\n"
      "X 11 200\n"
      "L 10 3 300\n"
      "X 10 400\n");
  EXPECT_EQ(*t.pid, 10);
  EXPECT_EQ(t.lock_path, "");
  EXPECT_EQ(t.lock_attempts, 1);
  EXPECT_EQ(*t.acquired_ns, 300);
  EXPECT_EQ(*t.exit_ns, 400);
  EXPECT_EQ(t.batches, 0);
  EXPECT_EQ(t.Restarts(), 0);
}

TEST(LockTrace, PathMayHoldSpaces) {
  const LockTrace t = ParseLockTrace("S 1 0\nP 1 3 /tmp/a dir/x.lock\n");
  EXPECT_EQ(t.lock_path, "/tmp/a dir/x.lock");
}

TEST(LockTrace, EmptyTraceHasNoProcess) {
  const LockTrace t = ParseLockTrace("");
  EXPECT_FALSE(t.pid);
  EXPECT_FALSE(t.WaitS());
  EXPECT_FALSE(t.HoldS());
}

TEST(LockTrace, MalformedLinesNameTheLine) {
  auto message = [](const std::string& text) -> std::string {
    try {
      ParseLockTrace(text);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(message("S 1 0\nQ 1 2\n"), "lock trace line 2: unknown record kind 'Q'");
  EXPECT_EQ(message("S 1 0\nA 1 3 x\n"), "lock trace line 2: expected an integer, got 'x'");
  EXPECT_EQ(message("S 1 0\nL 1 3\n"), "lock trace line 2: missing field");
  EXPECT_EQ(message("S 1 0\nX 1 3 4\n"), "lock trace line 2: unexpected '4'");
  EXPECT_EQ(message("A 1 3 4\n"), "lock trace line 1: a record before the process's 'S' line");
  EXPECT_EQ(message("S 1 0\nB 1 9 3 0\n"), "lock trace line 2: batch ends before it starts");
  EXPECT_EQ(message("S 1 0\nG 1 9 4294967296\n"),
            "lock trace line 2: generation 4294967296 out of range");
  EXPECT_EQ(message("S 1 0\n\n"), "lock trace line 2: expected '<kind> <pid> ...', got ''");
}

}  // namespace
}  // namespace svcbench
