#include "harness/measure/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace svcbench {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(FormatDuration(45.2), "45s");
  EXPECT_EQ(FormatDuration(200), "3m20s");
  EXPECT_EQ(FormatDuration(3720), "1h02m");
  EXPECT_EQ(FormatDuration(-3), "0s");
}

TEST(Progress, NoEtaBeforeWorkOrAfterTheEnd) {
  Progress p(nullptr, false);
  p.SetWork(100);
  EXPECT_EQ(p.Eta(), "");
  p.AddDone(100);
  EXPECT_EQ(p.Eta(), "");
  p.SetWork(200);
  EXPECT_EQ(p.Eta().rfind("ETA ~", 0), 0u);
}

TEST(Progress, StatusLineOnlyWhenLive) {
  std::ostringstream log;
  {
    Progress p(&log, false);
    p.Status("cell 1/2");
    p.Line("hello {}", 1);
  }
  EXPECT_EQ(log.str().find("cell 1/2"), std::string::npos);
  EXPECT_NE(log.str().find("] hello 1\n"), std::string::npos);

  std::ostringstream tty;
  {
    Progress p(&tty, true);
    p.Status("cell 1/2");
    p.Line("hello");
  }
  // The status line is erased before a log line and redrawn below it, and erased at the end.
  EXPECT_NE(tty.str().find("cell 1/2\r\x1b[K["), std::string::npos);
  EXPECT_NE(tty.str().find("hello\ncell 1/2\r\x1b[K"), std::string::npos);
}

}  // namespace
}  // namespace svcbench
