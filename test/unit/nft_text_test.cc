#include "drivers/nftables/nft_text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden =
    fs::path(SVCBENCH_SOURCE_DIR) / "test/fixtures/golden/nft-seed42-s3-e2.nft";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string GoldenText() {
  return RenderNftText(
      BuildRuleset(Generate({.seed = 42, .services = 3, .endpoints_per_service = 2})));
}

TEST(NftTextTest, MatchesGolden) {
  const std::string text = GoldenText();
  if (std::getenv("SVCBENCH_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(kGolden, std::ios::binary) << text;
    GTEST_SKIP() << "rewrote " << kGolden;
  }
  ASSERT_TRUE(fs::exists(kGolden)) << kGolden << " missing; run with SVCBENCH_UPDATE_GOLDEN=1";
  EXPECT_EQ(text, ReadFile(kGolden)) << "regenerate with SVCBENCH_UPDATE_GOLDEN=1 if intended";
}

TEST(NftTextTest, OneLinePerObject) {
  const ServiceSet set = Generate({.seed = 7, .services = 20, .endpoints_per_service = 3});
  const Ruleset rs = BuildRuleset(set);
  const std::string text = RenderNftText(rs);
  size_t chains = 0, rules = 0, elements = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("add chain ", 0) == 0) ++chains;
    if (line.rfind("add rule ", 0) == 0) ++rules;
    if (line.rfind("add element ", 0) == 0) ++elements;
  }
  EXPECT_EQ(chains, rs.Chains());
  EXPECT_EQ(rules, rs.Rules() + std::size(kBaseChains));  // plus the base chains' jumps
  EXPECT_EQ(elements, set.ports.size());
  EXPECT_EQ(text.rfind("add table ip kube-proxy\ndelete table ip kube-proxy\n", 0), 0u);
}

// `nft -c` needs a netlink socket, so it runs in a new network namespace (a user namespace
// too when not root): the check never sees or touches the host's ruleset.
class NftCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v nft >/dev/null 2>&1") != 0) GTEST_SKIP() << "nft not installed";
    if (std::system("unshare -rn true >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "cannot create a user+network namespace (unshare -rn)";
    }
  }
  // Exit status of `nft -c -f <file>`, with stderr captured into *err.
  int Check(const std::string& text, std::string* err) {
    const fs::path dir = fs::temp_directory_path();
    const fs::path in = dir / ("svcbench-nft-check-" + std::to_string(getpid()) + ".nft");
    const fs::path out = dir / ("svcbench-nft-check-" + std::to_string(getpid()) + ".err");
    std::ofstream(in, std::ios::binary) << text;
    const std::string cmd = "unshare -rn nft -c -f " + in.string() + " >" + out.string() + " 2>&1";
    const int rc = std::system(cmd.c_str());
    *err = ReadFile(out);
    fs::remove(in);
    fs::remove(out);
    return rc;
  }
};

TEST_F(NftCheckTest, NftAcceptsGolden) {
  std::string err;
  EXPECT_EQ(Check(GoldenText(), &err), 0) << err;
}

TEST_F(NftCheckTest, NftAcceptsUdpAndOddPrefix) {
  const ServiceSet set = Generate({.seed = 3,
                                   .services = 50,
                                   .ports_per_service = 2,
                                   .endpoints_per_service = 1,
                                   .protocol = Protocol::kUdp});
  std::string err;
  EXPECT_EQ(Check(RenderNftText(BuildRuleset(set, {.cluster_prefix = 12})), &err), 0) << err;
}

// The check above can fail: a rule that jumps to a chain that does not exist is refused.
TEST_F(NftCheckTest, NftRejectsBrokenText) {
  std::string text = GoldenText();
  text += "add rule ip kube-proxy services jump no-such-chain\n";
  std::string err;
  EXPECT_NE(Check(text, &err), 0);
  EXPECT_NE(err.find("no-such-chain"), std::string::npos) << err;
}

TEST(NftTextTest, ClearTextIsIdempotent) {
  EXPECT_EQ(RenderNftClearText(), "add table ip kube-proxy\ndelete table ip kube-proxy\n");
}

}  // namespace
}  // namespace svcbench::nft
