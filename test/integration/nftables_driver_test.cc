// nftables drivers against the real kernel, each test in its own fresh network namespace
// (svcb-nt-<pid>-<n>, removed on every path). Needs root; skips with the reason otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "drivers/nftables/nft_drivers.h"
#include "drivers/nftables/nft_text.h"
#include "drivers/nftables/nftables_driver.h"
#include "drivers/nftables/ruleset.h"
#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

struct CmdResult {
  int status = -1;
  std::string out;
};

// Runs a shell command, stdout and stderr together.
CmdResult Shell(const std::string& cmd) {
  CmdResult r;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) r.out.append(buf.data(), n);
  r.status = pclose(f);
  return r;
}

// A network namespace of our own, visible to `ip netns` while the test needs it.
class TestNetns {
 public:
  TestNetns() {
    static std::atomic<int> counter{0};
    name_ = "svcb-nt-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    const CmdResult r = Shell("ip netns add " + name_);
    if (r.status != 0) throw std::runtime_error("ip netns add " + name_ + ": " + r.out);
    fd_ = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      Shell("ip netns delete " + name_);
      throw std::runtime_error("open /run/netns/" + name_ + ": " + std::strerror(errno));
    }
  }
  ~TestNetns() {
    if (fd_ >= 0) close(fd_);
    Shell("ip netns delete " + name_);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& name() const { return name_; }
  int fd() const { return fd_; }
  DriverContext Context() const {
    DriverContext ctx;
    ctx.netns_fd = fd_;
    ctx.netns_name = name_;
    return ctx;
  }
  CmdResult Exec(const std::string& cmd) const {
    return Shell("ip netns exec " + name_ + " " + cmd);
  }
  // `nft list table` text (no handles), or "" when there is no table.
  std::string ListTable() const {
    const CmdResult r = Exec("nft list table ip kube-proxy");
    return r.status == 0 ? r.out : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
};

class NftablesIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nf_tables)";
    if (Shell("command -v nft").status != 0) GTEST_SKIP() << "nft not installed";
    const Availability a = ProbeNftables(NftTransport::kNetlink);
    if (!a.available) GTEST_SKIP() << a.reason;
    host_before_ = Shell("nft list ruleset").out;
  }
  void TearDown() override {
    if (IsSkipped()) return;
    EXPECT_EQ(Shell("nft list ruleset").out, host_before_) << "the host's ruleset changed";
    EXPECT_EQ(Shell("ip netns list | grep -c '^svcb-nt-" + std::to_string(getpid()) + "-'").out,
              "0\n")
        << "a test namespace was left behind";
  }

  std::string host_before_;
};

ServiceSet Set(uint32_t services, uint32_t endpoints = 2, uint64_t seed = 42) {
  return Generate({.seed = seed, .services = services, .endpoints_per_service = endpoints});
}

// What `nft -j list table` says about services and endpoints.
struct Listed {
  std::map<std::string, std::string> service_ips;        // "vip . proto . port" -> goto chain
  std::map<std::string, std::string> service_endpoints;  // "vip . proto . port . i" -> chain
  std::map<std::string, size_t> rules_per_chain;
  std::map<std::string, std::string> dnat;  // endpoint chain -> "ip:port"
  std::set<std::string> chains;
};

Listed ListJson(const TestNetns& ns) {
  const CmdResult r = ns.Exec("nft -j list table ip kube-proxy");
  EXPECT_EQ(r.status, 0) << r.out;
  Listed l;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& item : j.at("nftables")) {
    if (item.contains("chain")) l.chains.insert(item["chain"]["name"].get<std::string>());
    if (item.contains("map") && item["map"].contains("elem")) {
      const bool endpoints = item["map"]["name"] == "service-endpoints";
      for (const auto& e : item["map"]["elem"]) {
        const auto& c = e[0]["concat"];
        std::string key = c[0].get<std::string>() + " . " + c[1].get<std::string>() + " . " +
                          std::to_string(c[2].get<int>());
        if (endpoints) key += " . " + std::to_string(c[3].get<int>());
        (endpoints ? l.service_endpoints : l.service_ips)[key] =
            e[1]["goto"]["target"].get<std::string>();
      }
    }
    if (item.contains("rule")) {
      const auto& rule = item["rule"];
      const std::string chain = rule["chain"].get<std::string>();
      ++l.rules_per_chain[chain];
      for (const auto& x : rule["expr"]) {
        if (x.contains("dnat")) {
          l.dnat[chain] = x["dnat"]["addr"].get<std::string>() + ":" +
                          std::to_string(x["dnat"]["port"].get<int>());
        }
      }
    }
  }
  return l;
}

constexpr EndpointDispatch kShapes[] = {
    EndpointDispatch::kAnonymousMap, EndpointDispatch::kSharedMap, EndpointDispatch::kRuleCascade};

void ExpectHolds(const TestNetns& ns, const ServiceSet& set,
                 EndpointDispatch dispatch = EndpointDispatch::kAnonymousMap) {
  const Ruleset rs = BuildRuleset(set, {.dispatch = dispatch});
  const Listed l = ListJson(ns);
  ASSERT_EQ(l.service_ips.size(), rs.services.size());
  EXPECT_EQ(l.chains.size(), rs.Chains());
  const bool shared = dispatch == EndpointDispatch::kSharedMap;
  EXPECT_EQ(l.service_endpoints.size(), shared ? rs.Endpoints() : 0);
  for (const ServiceChain& sc : rs.services) {
    const std::string key = FormatIpv4(sc.vip) + " . " + std::string(ProtocolName(sc.protocol)) +
                            " . " + std::to_string(sc.port);
    ASSERT_TRUE(l.service_ips.count(key)) << key;
    EXPECT_EQ(l.service_ips.at(key), sc.name);
    EXPECT_EQ(l.rules_per_chain.count(sc.name) ? l.rules_per_chain.at(sc.name) : 0,
              rs.RulesInServiceChain(sc));
    for (size_t i = 0; shared && i < sc.endpoints.size(); ++i) {
      const std::string ek = key + " . " + std::to_string(i);
      EXPECT_EQ(l.service_endpoints.count(ek) ? l.service_endpoints.at(ek) : "",
                sc.endpoints[i].name);
    }
    for (const EndpointChain& ep : sc.endpoints) {
      ASSERT_TRUE(l.chains.count(ep.name)) << ep.name;
      EXPECT_EQ(l.rules_per_chain.count(ep.name) ? l.rules_per_chain.at(ep.name) : 0,
                kRulesPerEndpointChain);
      EXPECT_EQ(l.dnat.count(ep.name) ? l.dnat.at(ep.name) : "",
                FormatIpv4(ep.ip) + ":" + std::to_string(ep.port));
    }
  }
}

TEST_F(NftablesIntegrationTest, ProbeSaysWhatItUses) {
  const Availability a = ProbeNftables(NftTransport::kNetlink);
  EXPECT_TRUE(a.available);
  EXPECT_NE(a.reason.find("NFT_MSG_GETGEN"), std::string::npos) << a.reason;
}

TEST_F(NftablesIntegrationTest, NetlinkSyncHoldsEveryServiceAndEndpoint) {
  TestNetns ns;
  const ServiceSet set = Set(50);
  auto driver = MakeNftablesDriver(NftTransport::kNetlink, ns.Context());
  EXPECT_EQ(driver->Name(), "nftables");
  const CommitStats st = driver->Sync(set, driver->Render(set));
  ExpectHolds(ns, set);
  ASSERT_TRUE(st.build_s.has_value());
  ASSERT_TRUE(st.commit_s.has_value());
  EXPECT_GT(*st.build_s, 0);
  EXPECT_GT(*st.commit_s, 0);
  EXPECT_DOUBLE_EQ(st.wall_s, *st.build_s + *st.commit_s);
  EXPECT_EQ(st.rules, BuildRuleset(set).Rules());
  EXPECT_GT(st.payload_bytes, 50u * 1000);
}

TEST_F(NftablesIntegrationTest, EveryShapeHoldsEveryServiceAndEndpoint) {
  for (const EndpointDispatch d : kShapes) {
    TestNetns ns;
    auto driver = MakeNftablesDriver(NftTransport::kNetlink, ns.Context(), d);
    EXPECT_EQ(driver->Name(), NftablesDriverName(NftTransport::kNetlink, d));
    ServiceSet set = Set(40, 2);
    set.ports[5].endpoints.push_back(set.ports[6].endpoints[0]);  // a second endpoint count
    const CommitStats st = driver->Sync(set, {});
    ExpectHolds(ns, set, d);
    EXPECT_EQ(st.rules, BuildRuleset(set, {.dispatch = d}).Rules());
    driver->Sync(set, {});  // warm
    ExpectHolds(ns, set, d);
    auto cli = MakeNftablesDriver(NftTransport::kCli, ns.Context(), d);
    cli->Sync(set, cli->Render(set));
    ExpectHolds(ns, set, d);
  }
}

TEST_F(NftablesIntegrationTest, WarmSyncReplacesEverything) {
  TestNetns ns;
  auto driver = MakeNftablesDriver(NftTransport::kNetlink, ns.Context());
  const ServiceSet set = Set(50);
  driver->Sync(set, {});
  const std::string first = ns.ListTable();
  driver->Sync(set, {});
  EXPECT_EQ(ns.ListTable(), first);
  ExpectHolds(ns, set);
  // A smaller set leaves no stale chains behind: the table is replaced, not merged.
  const ServiceSet smaller = Set(20, 2, 7);
  driver->Sync(smaller, {});
  ExpectHolds(ns, smaller);
}

TEST_F(NftablesIntegrationTest, FailingBatchLeavesPreviousRulesetAndNamesTheElement) {
  for (AckMode mode : {AckMode::kEveryMessage, AckMode::kLastMessage}) {
    TestNetns ns;
    NetlinkDriver driver(ns.Context(), {.ack = mode});
    const ServiceSet set = Set(50);
    driver.Sync(set, {});
    const std::string before = ns.ListTable();
    ASSERT_FALSE(before.empty());

    driver.options().duplicate_service_element = 7;
    const ServiceSet other = Set(50, 2, 99);
    const ServicePort& sp = other.ports[7];
    const std::string element = "NEWSETELEM service-ips " + FormatIpv4(sp.vip) + " . tcp . " +
                                std::to_string(sp.port) + " ";
    try {
      driver.Sync(other, {});
      ADD_FAILURE() << "a batch with a duplicated element was accepted";
    } catch (const DriverError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(element), std::string::npos) << what;
      EXPECT_NE(what.find("File exists"), std::string::npos) << what;
    }
    EXPECT_EQ(ns.ListTable(), before) << "the failed transaction changed the ruleset";

    // The same socket keeps working after a failure.
    driver.options().duplicate_service_element.reset();
    const ServiceSet next = Set(30, 3, 5);
    driver.Sync(next, {});
    ExpectHolds(ns, next);
  }
}

TEST_F(NftablesIntegrationTest, ClearRemovesTheTableAndIsIdempotent) {
  TestNetns ns;
  auto driver = MakeNftablesDriver(NftTransport::kNetlink, ns.Context());
  driver->Clear();  // nothing there yet
  driver->Sync(Set(10), {});
  ASSERT_FALSE(ns.ListTable().empty());
  driver->Clear();
  EXPECT_EQ(ns.ListTable(), "");
  EXPECT_EQ(ns.Exec("nft list ruleset").out, "");
}

TEST_F(NftablesIntegrationTest, ServiceWithoutEndpointsIsADriverError) {
  TestNetns ns;
  ServiceSet set = Set(5);
  set.ports[3].endpoints.clear();
  for (NftTransport t : {NftTransport::kNetlink, NftTransport::kCli}) {
    auto driver = MakeNftablesDriver(t, ns.Context());
    try {
      driver->Sync(set, {});
      ADD_FAILURE() << driver->Name() << " accepted a service port without endpoints";
    } catch (const DriverError& e) {
      EXPECT_NE(std::string(e.what()).find("no endpoints"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(ns.ListTable(), "");
}

// The netlink batch and the nft text describe the same table, byte for byte as nft lists it:
// the bytecode, key types and user data are what nft itself would have sent.
// For every shape, and for kube-proxy's also with the batch exactly as nft would send it.
TEST_F(NftablesIntegrationTest, NetlinkAndTextListIdentically) {
  struct Case {
    EndpointDispatch dispatch;
    BatchOrder order;
  };
  for (const Case c : {Case{EndpointDispatch::kAnonymousMap, BatchOrder::kBindsFirst},
                       Case{EndpointDispatch::kAnonymousMap, BatchOrder::kAsText},
                       Case{EndpointDispatch::kSharedMap, BatchOrder::kBindsFirst},
                       Case{EndpointDispatch::kRuleCascade, BatchOrder::kBindsFirst}}) {
    TestNetns a;
    TestNetns b;
    ServiceSet set = Set(25, 3);
    set.ports[2].endpoints.pop_back();  // two endpoint counts
    const RulesetOptions ro{.dispatch = c.dispatch};
    NetlinkDriver driver(a.Context(), {.order = c.order, .ruleset = ro});
    driver.Sync(set, {});
    const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                       ("svcbench-nft-" + std::to_string(getpid()) + ".nft");
    std::ofstream(file) << RenderNftText(BuildRuleset(set, ro));
    const CmdResult r = b.Exec("nft -f " + file.string());
    std::filesystem::remove(file);
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string via_netlink = a.ListTable();
    ASSERT_FALSE(via_netlink.empty());
    EXPECT_EQ(via_netlink, b.ListTable()) << EndpointDispatchName(c.dispatch);
  }
}

TEST_F(NftablesIntegrationTest, CliDriverSyncsAndClears) {
  TestNetns ns;
  auto driver = MakeNftablesDriver(NftTransport::kCli, ns.Context());
  EXPECT_EQ(driver->Name(), "nftables-cli");
  const ServiceSet set = Set(50);
  const Payload p = driver->Render(set);
  const CommitStats st = driver->Sync(set, p);
  ExpectHolds(ns, set);
  EXPECT_GT(st.wall_s, 0);
  EXPECT_TRUE(st.cpu_s.has_value());
  EXPECT_EQ(st.payload_bytes, p.text.size());
  EXPECT_FALSE(st.build_s.has_value());
  driver->Sync(set, p);  // warm
  ExpectHolds(ns, set);
  driver->Clear();
  EXPECT_EQ(ns.ListTable(), "");
}

TEST_F(NftablesIntegrationTest, CliDriverReportsNftsError) {
  TestNetns ns;
  auto driver = MakeNftablesDriver(NftTransport::kCli, ns.Context());
  Payload p = driver->Render(Set(5));
  p.text += "add rule ip kube-proxy services jump no-such-chain\n";
  try {
    driver->Sync(Set(5), p);
    ADD_FAILURE() << "nft accepted a jump to a missing chain";
  } catch (const DriverError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-chain"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ns.ListTable(), "");
}

// Runs `fn` on a thread that has entered `netns_fd`, so sockets it opens live there.
template <class F>
void InNetns(int netns_fd, F&& fn) {
  std::thread t([&] {
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns: " << std::strerror(errno);
      return;
    }
    fn();
  });
  t.join();
}

// A connection to a VIP is answered by one of that service's endpoints, and every endpoint gets
// picked. Everything happens in one namespace: the client's packets take the nat-output hook,
// are DNATed to an endpoint, and loop back to a listener that answers with the address the
// client was redirected to.
void ExpectConnectionsReachEndpoints(EndpointDispatch dispatch) {
  TestNetns ns;
  // No dummy or veth needed (this kernel may lack the modules): VIPs and backends are both
  // local. Without the DNAT a connection to VIP:80 is refused, as nothing listens on port 80.
  for (const std::string cmd :
       {"ip link set lo up",
        // In the cluster CIDR, so the service chain does not mark for masquerade.
        "ip addr add 10.0.0.1/32 dev lo", "ip route add local 198.18.0.0/16 dev lo",
        "ip route add local 198.19.0.0/16 dev lo"}) {
    const CmdResult r = ns.Exec(cmd);
    ASSERT_EQ(r.status, 0) << cmd << ": " << r.out;
  }
  const ServiceSet set = Set(200);
  auto driver = MakeNftablesDriver(NftTransport::kNetlink, ns.Context(), dispatch);
  driver->Sync(set, {});

  int listener = -1;
  InNetns(ns.fd(), [&] {
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    ASSERT_EQ(listen(listener, 64), 0);
  });
  ASSERT_GE(listener, 0);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop) {
      const int c = accept(listener, nullptr, nullptr);
      if (c < 0) continue;
      sockaddr_in local{};
      socklen_t len = sizeof(local);
      getsockname(c, reinterpret_cast<sockaddr*>(&local), &len);
      const std::string reply =
          FormatIpv4(ntohl(local.sin_addr.s_addr)) + ":" + std::to_string(ntohs(local.sin_port));
      (void)!write(c, reply.data(), reply.size());
      close(c);
    }
  });

  auto connect_to = [&](const ServicePort& sp) {
    std::string got;
    InNetns(ns.fd(), [&] {
      const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      timeval tv{2, 0};
      setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(10u << 24 | 1);
      bind(s, reinterpret_cast<sockaddr*>(&src), sizeof(src));
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(sp.port);
      dst.sin_addr.s_addr = htonl(sp.vip);
      if (connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0) {
        char buf[64];
        const ssize_t n = read(s, buf, sizeof(buf));
        if (n > 0) got.assign(buf, static_cast<size_t>(n));
      } else {
        got = std::string("connect: ") + strerror(errno);
      }
      close(s);
    });
    return got;
  };

  for (const size_t index : {size_t{0}, set.ports.size() / 2, set.ports.size() - 1}) {
    const ServicePort& sp = set.ports[index];
    std::set<std::string> allowed;
    for (const Endpoint& ep : sp.endpoints) {
      allowed.insert(FormatIpv4(ep.ip) + ":" + std::to_string(ep.port));
    }
    // Each of the 2 endpoints is picked with probability 1/2: 20 connections all answered by
    // the same one would happen once in 2^19 runs.
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) {
      const std::string got = connect_to(sp);
      EXPECT_TRUE(allowed.count(got))
          << "service " << index << " (" << FormatIpv4(sp.vip) << ") answered by '" << got << "'";
      seen.insert(got);
    }
    EXPECT_EQ(seen, allowed) << "service " << index << ": not every endpoint was picked";
  }
  stop = true;
  shutdown(listener, SHUT_RDWR);
  close(listener);
  server.join();
}

TEST_F(NftablesIntegrationTest, ConnectionThroughVipReachesAnEndpoint) {
  for (const EndpointDispatch d : kShapes) {
    SCOPED_TRACE(EndpointDispatchName(d));
    ExpectConnectionsReachEndpoints(d);
  }
}

}  // namespace
}  // namespace svcbench::nft
