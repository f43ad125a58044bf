// A small Result with one of every shape the reporters must handle: labelled and unlabelled
// metrics, seconds, bytes, counts and a rate, a metric with enough samples for a CDF, a NaN
// sample and a failed cell. Deterministic, so reporters' outputs are pinned by golden files.
#pragma once

#include <cmath>
#include <string>

#include "harness/report/format.h"
#include "harness/result/result.h"

namespace svcbench::testing {

inline ResultRow Row(const std::string& backend, uint32_t services, const std::string& metric,
                     const std::string& unit, Labels labels, std::vector<double> samples) {
  ResultRow r;
  r.backend = backend;
  r.services = services;
  r.endpoints_per_service = 2;
  r.metric = metric;
  r.unit = unit;
  r.labels = std::move(labels);
  r.samples = std::move(samples);
  return r;
}

inline Result ReportFixture() {
  Result r;
  r.scenario = {{"name", "fixture"},
                {"backends", {"iptables-legacy", "nftables"}},
                {"sweep", {{"services", {1000, 5000}}}}};
  Context& c = r.context;
  c.kernel = "Linux 6.1.0 x86_64";
  c.iptables = "iptables v1.8.9 (legacy)";
  c.nft = "nftables v1.0.6";
  c.cpu = "Test CPU";
  c.cores = 2;
  c.build_type = "Release";
  c.git_sha = "0123456789ab";
  c.svcbench_version = "0.1.0";
  c.hostname = "testhost";
  c.started_at = "2026-01-02T03:04:05Z";
  c.finished_at = "2026-01-02T03:14:05Z";
  c.load_at_start = 0.25;
  c.load_at_finish = 1.5;
  r.status = RunStatus::kPartial;
  for (const uint32_t n : {1000u, 5000u}) {
    const double k = n / 1000.0;
    r.rows.push_back(Row("iptables-legacy", n, "sync.full.wall", "s", {{"state", "cold"}},
                         {0.1 * k, 0.12 * k, 0.11 * k}));
    r.rows.push_back(Row("iptables-legacy", n, "sync.payload.bytes", "bytes", {},
                         {893000 * k, 893000 * k, 893000 * k}));
    r.rows.push_back(Row("iptables-legacy", n, "sync.rules", "count", {}, {8005 * k}));
    std::vector<double> lat;
    for (int i = 0; i < 25; ++i) lat.push_back((20 + i + k) * 1e-6);
    r.rows.push_back(Row("iptables-legacy", n, "latency.overhead", "s",
                         {{"probe", "tcp-connect"}, {"position", "last"}}, lat));
    r.rows.push_back(Row("nftables", n, "throughput.connections", "1/s", {}, {5000 / k, 5100 / k}));
    for (double& x : lat) x *= 0.8;
    r.rows.push_back(Row("nftables", n, "latency.overhead", "s",
                         {{"probe", "tcp-connect"}, {"position", "last"}}, lat));
  }
  r.rows.push_back(
      Row("nftables", 1000, "sync.full.wall", "s", {{"state", "cold"}}, {0.2, std::nan(""), 0.21}));
  ResultRow err = Row("nftables", 5000, "sync.full.wall", "s", {}, {});
  err.error = "nft: commit timed out after 120 s and was killed, \"quoted\"";
  r.rows.push_back(err);
  return r;
}

}  // namespace svcbench::testing
