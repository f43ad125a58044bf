// A Driver that records what it was asked to do instead of touching a kernel, for everything
// above the Driver seam (the run loop, measurements, reports). In the spirit of knftables' Fake.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "harness/driver/driver.h"

namespace svcbench::testing {

class FakeDriver : public Driver {
 public:
  explicit FakeDriver(std::string name = "fake") : name_(std::move(name)) {}

  std::string_view Name() const override { return name_; }
  Availability Probe() const override { return {true, "fake"}; }

  Payload Render(const ServiceSet& set) const override {
    Payload p;
    for (const auto& sp : set.ports) p.text += fmt::format("{} {}\n", sp.chain, sp.port);
    p.rules = set.ports.size();
    p.chains = set.ports.size();
    return p;
  }

  CommitStats Sync(const ServiceSet& set, const Payload& payload) override {
    log.push_back(fmt::format("sync {}", set.ports.size()));
    if (fail_on_sync_number >= 0 && syncs_++ == fail_on_sync_number) {
      if (fail_with_timeout) throw DriverTimeout(fmt::format("{}: injected timeout", name_));
      throw DriverError(fmt::format("{}: injected failure", name_));
    }
    state = payload.text;
    CommitStats c;
    c.wall_s = wall_s;
    c.cpu_s = wall_s / 2;
    c.max_rss_bytes = 1024.0;
    c.payload_bytes = payload.text.size();
    c.rules = payload.rules;
    return c;
  }

  void Clear() override {
    log.push_back("clear");
    state.clear();
  }

  std::vector<std::string> log;    // "clear", "sync N" in call order
  std::string state;               // the last payload committed
  int fail_on_sync_number = -1;    // 0-based Sync call that throws
  bool fail_with_timeout = false;  // throw DriverTimeout instead of DriverError
  double wall_s = 0.01;

 private:
  std::string name_;
  int syncs_ = 0;
};

}  // namespace svcbench::testing
