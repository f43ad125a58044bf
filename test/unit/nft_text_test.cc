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

const fs::path kGoldenDir = fs::path(SVCBENCH_SOURCE_DIR) / "test/fixtures/golden";

// nft-seed42-s3-e2.nft for kube-proxy's shape, nft-seed42-s3-e2-<shape>.nft for the others.
fs::path GoldenPath(EndpointDispatch d) {
  if (d == EndpointDispatch::kAnonymousMap) return kGoldenDir / "nft-seed42-s3-e2.nft";
  return kGoldenDir / ("nft-seed42-s3-e2-" + std::string(EndpointDispatchName(d)) + ".nft");
}

constexpr EndpointDispatch kShapes[] = {
    EndpointDispatch::kAnonymousMap, EndpointDispatch::kSharedMap, EndpointDispatch::kRuleCascade};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string GoldenText(EndpointDispatch d = EndpointDispatch::kAnonymousMap) {
  return RenderNftText(BuildRuleset(
      Generate({.seed = 42, .services = 3, .endpoints_per_service = 2}), {.dispatch = d}));
}

TEST(NftTextTest, MatchesGolden) {
  for (const EndpointDispatch d : kShapes) {
    const std::string text = GoldenText(d);
    const fs::path golden = GoldenPath(d);
    if (std::getenv("SVCBENCH_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(golden, std::ios::binary) << text;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with SVCBENCH_UPDATE_GOLDEN=1";
    EXPECT_EQ(text, ReadFile(golden)) << "regenerate with SVCBENCH_UPDATE_GOLDEN=1 if intended";
  }
  if (std::getenv("SVCBENCH_UPDATE_GOLDEN") != nullptr) GTEST_SKIP() << "rewrote the goldens";
}

TEST(NftTextTest, OneLinePerObject) {
  const ServiceSet set = Generate({.seed = 7, .services = 20, .endpoints_per_service = 3});
  for (const EndpointDispatch d : kShapes) {
    const Ruleset rs = BuildRuleset(set, {.dispatch = d});
    const std::string text = RenderNftText(rs);
    size_t chains = 0, rules = 0, elements = 0, maps = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("add chain ", 0) == 0) ++chains;
      if (line.rfind("add rule ", 0) == 0) ++rules;
      if (line.rfind("add element ", 0) == 0) ++elements;
      if (line.rfind("add map ", 0) == 0) ++maps;
    }
    EXPECT_EQ(chains, rs.Chains());
    EXPECT_EQ(rules, rs.Rules() + std::size(kBaseChains));  // plus the base chains' jumps
    // One service-ips element per service port; kSharedMap adds one line of endpoints each.
    const bool shared = d == EndpointDispatch::kSharedMap;
    EXPECT_EQ(elements, set.ports.size() * (shared ? 2 : 1));
    EXPECT_EQ(maps, shared ? 2u : 1u);
    EXPECT_EQ(text.rfind("add table ip kube-proxy\ndelete table ip kube-proxy\n", 0), 0u);
  }
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
  for (const EndpointDispatch d : kShapes) {
    std::string err;
    EXPECT_EQ(Check(GoldenText(d), &err), 0) << EndpointDispatchName(d) << ": " << err;
  }
}

TEST_F(NftCheckTest, NftAcceptsUdpAndOddPrefix) {
  const ServiceSet set = Generate({.seed = 3,
                                   .services = 50,
                                   .ports_per_service = 2,
                                   .endpoints_per_service = 1,
                                   .protocol = Protocol::kUdp});
  for (const EndpointDispatch d : kShapes) {
    std::string err;
    EXPECT_EQ(Check(RenderNftText(BuildRuleset(set, {.cluster_prefix = 12, .dispatch = d})), &err),
              0)
        << EndpointDispatchName(d) << ": " << err;
  }
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
