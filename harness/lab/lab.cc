#include "harness/lab/lab.h"

#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "harness/lab/listener.h"
#include "harness/lab/netns.h"
#include "harness/lab/netns_registry.h"
#include "harness/lab/rtnl.h"
#include "harness/model/address_plan.h"
#include "harness/util/unique_fd.h"

namespace svcbench {
namespace {

// Run ids and tags become part of namespace names and of the marker file name, and the run id
// is recovered from a name by splitting at '-', so neither may contain one.
void CheckToken(std::string_view what, std::string_view token) {
  const bool ok =
      !token.empty() && token.size() <= 32 &&
      token.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string_view::npos;
  if (!ok) {
    throw std::invalid_argument(fmt::format("lab {} '{}' must be 1-32 of [a-z0-9]", what, token));
  }
}

}  // namespace

struct Lab::Impl {
  std::string client;
  std::string node;
  std::string backend;
  UniqueFd client_fd;
  UniqueFd node_fd;
  UniqueFd backend_fd;
  std::unique_ptr<BackendListener> listener;
  std::vector<std::string> created;  // in creation order, until removed

  void Build(const LabOptions& opts);
  void Destroy();
};

void Lab::Impl::Build(const LabOptions& opts) {
  CheckToken("run id", opts.run_id);
  CheckToken("tag", opts.tag);
  const std::string prefix = fmt::format("{}{}-{}-", netns::kLabPrefix, opts.run_id, opts.tag);
  client = prefix + "client";
  node = prefix + "node";
  backend = prefix + "backend";

  for (const std::string* name : {&client, &node, &backend}) {
    netns::CreateRegistered(*name, opts.run_id);
    created.push_back(*name);
  }
  client_fd = netns::Open(client);
  node_fd = netns::Open(node);
  backend_fd = netns::Open(backend);

  // Before any link exists: new links copy conf/default. Reverse-path filtering would drop
  // packets whose source only routes back through another interface once a driver NATs them;
  // the effective value is max(all, interface), so both must be 0.
  for (const auto& [fd, name] : {std::pair{node_fd.Get(), node}, {backend_fd.Get(), backend}}) {
    netns::WriteSysctl(fd, name, "net/ipv4/conf/all/rp_filter", "0");
    netns::WriteSysctl(fd, name, "net/ipv4/conf/default/rp_filter", "0");
  }
  netns::WriteSysctl(node_fd.Get(), node, "net/ipv4/ip_forward", "1");

  Rtnl client_nl(client_fd.Get(), client);
  Rtnl node_nl(node_fd.Get(), node);
  Rtnl backend_nl(backend_fd.Get(), backend);

  client_nl.CreateVeth("c0", "n0", node_fd.Get());
  node_nl.CreateVeth("n1", "b0", backend_fd.Get());

  client_nl.AddAddress("c0", plan::kClientAddr, plan::kLinkPrefix);
  node_nl.AddAddress("n0", plan::kNodeClientAddr, plan::kLinkPrefix);
  node_nl.AddAddress("n1", plan::kNodeBackendAddr, plan::kLinkPrefix);
  backend_nl.AddAddress("b0", plan::kBackendLinkAddr, plan::kLinkPrefix);

  for (const char* link : {"lo", "c0"}) client_nl.SetUp(link);
  for (const char* link : {"lo", "n0", "n1"}) node_nl.SetUp(link);
  for (const char* link : {"lo", "b0"}) backend_nl.SetUp(link);

  // The client sends everything of the plan to the node; its own /30 stays connected because it
  // is more specific.
  client_nl.AddRoute(RouteSpec::Via(plan::kVipBase, plan::kVipPrefix, plan::kNodeClientAddr));
  client_nl.AddRoute(
      RouteSpec::Via(plan::kBackendBase, plan::kBackendPrefix, plan::kNodeClientAddr));
  node_nl.AddRoute(
      RouteSpec::Via(plan::kBackendBase, plan::kBackendPrefix, plan::kBackendLinkAddr));
  // Every backend address is local to the backend namespace, without 65k addresses on a link.
  backend_nl.AddRoute(RouteSpec::Local(plan::kBackendBase, plan::kBackendPrefix, "lo"));
  // Replies (to the client, or to the node after SNAT) go back through the node.
  backend_nl.AddRoute(RouteSpec::Via(0, 0, plan::kNodeBackendAddr));

  // A fresh veth drops what it sends until the kernel's linkwatch work has run for it, up to a
  // second after its carrier came on (seen: 3 probes lost in 2 of 20 new labs). Probes, and
  // the floor of a latency measurement, must not meet that.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (auto& [nl, link] : {std::pair<Rtnl*, const char*>{&client_nl, "c0"},
                           {&node_nl, "n0"},
                           {&node_nl, "n1"},
                           {&backend_nl, "b0"}}) {
    while (!nl->LinkReady(link)) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(
            fmt::format("link {} of lab {} is not operational after 5 s", link, prefix));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  if (opts.with_listener) {
    listener = std::make_unique<BackendListener>(backend_fd.Get(), backend, opts.tcp_ports,
                                                 opts.udp_ports);
  }
}

void Lab::Impl::Destroy() {
  // The listener's thread and sockets, and our fds, keep the namespaces alive after their names
  // are gone; release them first so the kernel tears the namespaces down now.
  if (listener) listener->Stop();
  listener.reset();
  client_fd.Reset();
  node_fd.Reset();
  backend_fd.Reset();
  std::exception_ptr first_error;
  while (!created.empty()) {
    try {
      netns::RemoveRegistered(created.back());
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
    created.pop_back();
  }
  if (first_error) std::rethrow_exception(first_error);
}

Lab::Lab(const LabOptions& opts) : impl_(std::make_unique<Impl>()) {
  try {
    impl_->Build(opts);
  } catch (...) {
    try {
      impl_->Destroy();
    } catch (const std::exception& e) {
      // The construction error is the one to report; this one only adds to it.
      std::fprintf(stderr, "svcbench: removing a half-built lab: %s\n", e.what());
    }
    throw;
  }
}

Lab::~Lab() {
  try {
    Destroy();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "svcbench: removing lab %s: %s\n", impl_->client.c_str(), e.what());
  }
}

const std::string& Lab::ClientNs() const { return impl_->client; }
const std::string& Lab::NodeNs() const { return impl_->node; }
const std::string& Lab::BackendNs() const { return impl_->backend; }
int Lab::ClientFd() const { return impl_->client_fd.Get(); }
int Lab::NodeFd() const { return impl_->node_fd.Get(); }
int Lab::BackendFd() const { return impl_->backend_fd.Get(); }
const BackendListener* Lab::Listener() const { return impl_->listener.get(); }
BackendListener* Lab::Listener() { return impl_->listener.get(); }

void Lab::Destroy() { impl_->Destroy(); }

}  // namespace svcbench
