#include "harness/result/result.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness/report/summary_markdown.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

Result Sample() {
  Result r;
  r.scenario = {{"name", "unit"}};
  r.context.kernel = "Linux 6.18";
  r.context.cores = 2;
  r.context.build_type = "Release";
  r.status = RunStatus::kPartial;
  ResultRow a;
  a.backend = "iptables-legacy";
  a.services = 1000;
  a.endpoints_per_service = 2;
  a.metric = "sync.full.wall";
  a.unit = "s";
  a.labels = {{"state", "cold"}};
  a.samples = {0.25, 0.5, 0.75};
  r.rows.push_back(a);
  ResultRow e = a;
  e.backend = "iptables-nft";
  e.samples.clear();
  e.error = "iptables-nft-restore exited with 1: line 3 failed";
  r.rows.push_back(e);
  return r;
}

TEST(Result, JsonHasSchemaOneShape) {
  const nlohmann::json j = ToJson(Sample());
  EXPECT_EQ(j.at("schema_version"), 1);
  EXPECT_EQ(j.at("status"), "partial");
  const auto& row = j.at("results").at(0);
  EXPECT_EQ(row.at("metric"), "sync.full.wall");
  EXPECT_EQ(row.at("summary").at("n"), 3);
  EXPECT_DOUBLE_EQ(row.at("summary").at("p50").get<double>(), 0.5);
  EXPECT_TRUE(row.at("error").is_null());
  EXPECT_DOUBLE_EQ(row.at("summary").at("p999").get<double>(), 0.7495);
  // Every resample's median is one of the three samples (or between two of them).
  EXPECT_GE(row.at("summary").at("p50_ci_low").get<double>(), 0.25);
  EXPECT_LE(row.at("summary").at("p50_ci_low").get<double>(), 0.5);
  EXPECT_GE(row.at("summary").at("p50_ci_high").get<double>(), 0.5);
  EXPECT_LE(row.at("summary").at("p50_ci_high").get<double>(), 0.75);
  // No samples: statistics are null, never a made-up number.
  const auto& err = j.at("results").at(1);
  EXPECT_TRUE(err.at("summary").at("p50").is_null());
  EXPECT_TRUE(err.at("summary").at("p999").is_null());
  EXPECT_TRUE(err.at("summary").at("p50_ci_low").is_null());
  EXPECT_TRUE(err.at("summary").at("p50_ci_high").is_null());
  EXPECT_EQ(err.at("error"), "iptables-nft-restore exited with 1: line 3 failed");
}

TEST(Result, RoundTrip) {
  const Result a = Sample();
  const Result b = ResultFromJson(nlohmann::json::parse(ToJson(a).dump()));
  EXPECT_EQ(b.status, a.status);
  ASSERT_EQ(b.rows.size(), 2u);
  EXPECT_EQ(b.rows[0].samples, a.rows[0].samples);
  EXPECT_EQ(b.rows[0].labels, a.rows[0].labels);
  EXPECT_EQ(b.rows[1].error, a.rows[1].error);
  EXPECT_EQ(b.context.kernel, "Linux 6.18");
}

TEST(Result, RejectsOtherSchemas) {
  nlohmann::json j = ToJson(Sample());
  j["schema_version"] = 2;
  EXPECT_THROW(ResultFromJson(j), std::runtime_error);
  EXPECT_THROW(ResultFromJson(nlohmann::json::object()), std::runtime_error);
}

TEST(Result, AtomicWriteReplacesWholeAndLeavesNoTemp) {
  char tmpl[] = "/tmp/svcbench-atomic-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/result.json";
  WriteFileAtomic(path, "first");
  WriteFileAtomic(path, "second");
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "second");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(WriteFileAtomic(dir + "/missing/x.json", "y"), std::system_error);
  fs::remove_all(dir);
}

TEST(SummaryMarkdown, TablesAndErrors) {
  const std::string md = SummaryMarkdown(Sample());
  EXPECT_NE(md.find("# svcbench: unit (partial)"), std::string::npos);
  EXPECT_NE(md.find("## sync.full.wall (state=cold)"), std::string::npos);
  EXPECT_NE(md.find("| 1000 | 500 ms | 700 ms |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Errors"), std::string::npos);
  EXPECT_NE(md.find("iptables-nft at 1000 services"), std::string::npos);
}

TEST(SummaryMarkdown, FormatValue) {
  EXPECT_EQ(FormatValue(1.5, "s"), "1.5 s");
  EXPECT_EQ(FormatValue(0.00123, "s"), "1.23 ms");
  EXPECT_EQ(FormatValue(4.2e-6, "s"), "4.2 µs");
  EXPECT_EQ(FormatValue(3.1e6, "bytes"), "3.1 MB");
  EXPECT_EQ(FormatValue(325, "count"), "325");
}

}  // namespace
}  // namespace svcbench
