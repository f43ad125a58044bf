// svcbench: measure how the Linux data planes behind Kubernetes Services scale.
//
// Exit codes: 0 ok; 1 regression or SLO missed (compare/recommend); 2 bad usage or scenario;
// 3 environment (not root, kernel or tools lacking); 4 run finished partially or interrupted.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "harness/driver/driver.h"
#include "harness/lab/lab.h"
#include "harness/measure/lab_testbed.h"
#include "harness/measure/runner.h"
#include "harness/model/generator.h"
#include "harness/report/summary_markdown.h"
#include "harness/result/result.h"
#include "harness/scenario/scenario.h"
#include "harness/util/interrupt.h"

namespace svcbench {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitEnvironment = 3;

std::string NewRunId() {
  std::random_device rd;
  return fmt::format("{:06x}", rd() & 0xffffff);
}

int CmdValidate(const std::string& file, const std::vector<std::string>& sets) {
  const Scenario sc = LoadScenario(file, sets);
  const size_t cells = sc.backends.size() * sc.services.size();
  std::cout << fmt::format("{}: ok: scenario '{}', {} backends x {} sizes = {} cells\n", file,
                           sc.name, sc.backends.size(), sc.services.size(), cells);
  return kExitOk;
}

int CmdRun(const std::string& file, const std::vector<std::string>& sets, std::string out_dir,
           const std::string& results_root) {
  // Everything that can be refused is checked before anything is created.
  const Scenario sc = LoadScenario(file, sets);
  if (out_dir.empty()) out_dir = DefaultRunDir(results_root, sc.name);
  if (fs::exists(out_dir) && !fs::is_empty(out_dir)) {
    std::cerr << fmt::format("svcbench: --out {}: directory exists and is not empty\n", out_dir);
    return kExitUsage;
  }
  if (geteuid() != 0) {
    std::cerr << "svcbench: run needs root (it creates network namespaces and programs "
                 "iptables in them); try: sudo svcbench run ...\n";
    return kExitEnvironment;
  }

  InstallInterruptHandlers();
  std::atexit(CleanupRegisteredNamespaces);

  const std::string run_id = NewRunId();
  LabTestbedOptions lab;
  lab.run_id = run_id;
  lab.lock_wait_s = sc.lock_wait_s;
  if (sc.sync) {
    lab.commit_timeout_s = sc.sync->timeout_s;
  } else if (sc.contention) {
    lab.commit_timeout_s = sc.contention->timeout_s;
  }
  if (sc.xtables_lock == "private") {
    fs::create_directories("/run/svcbench");
    lab.xtables_lockfile = fmt::format("/run/svcbench/{}.xtables.lock", run_id);
  }
  std::cerr << fmt::format("svcbench: run {} of scenario '{}' into {}\n", run_id, sc.name, out_dir);
  RunOptions opts;
  opts.out_dir = out_dir;
  opts.log = &std::cerr;
  opts.live_status = isatty(STDERR_FILENO) != 0;
  const RunOutcome outcome = RunScenario(sc, opts, MakeLabTestbedFactory(lab), CollectContext());
  if (!lab.xtables_lockfile.empty()) fs::remove(lab.xtables_lockfile);

  std::cout << fmt::format(
      "status: {}\nreport: {}\nresult: {}\n", RunStatusName(outcome.result.status),
      (fs::path(out_dir) / "summary.md").string(), (fs::path(out_dir) / "result.json").string());
  return outcome.exit_code;
}

int CmdBackends() {
  size_t width = std::string_view("BACKEND").size();
  for (const auto& name : KnownBackendNames()) width = std::max(width, name.size());
  std::cout << fmt::format("{:<{}} {:<10} {}\n", "BACKEND", width, "AVAILABLE", "DETAIL");
  for (const auto& name : KnownBackendNames()) {
    const Availability a = ProbeBackend(name);
    std::cout << fmt::format("{:<{}} {:<10} {}\n", name, width, a.available ? "yes" : "no",
                             a.reason);
  }
  return kExitOk;
}

int CmdRender(const std::string& backend, const GeneratorSpec& spec) {
  std::unique_ptr<Driver> d;
  try {
    d = MakeDriver(backend, DriverContext{});
  } catch (const std::invalid_argument& e) {
    std::cerr << "svcbench: render: " << e.what() << "\n";
    return kExitUsage;
  }
  if (!d) {
    std::cerr << fmt::format("svcbench: render: backend {} is not implemented yet\n", backend);
    return kExitUsage;
  }
  const Payload p = d->Render(Generate(spec));
  std::cout << p.text;
  std::cout.flush();
  std::cerr << fmt::format("# {}: {} rules, {} chains, {} bytes\n", backend, p.rules, p.chains,
                           p.text.size());
  return kExitOk;
}

int CmdCleanup(bool force) {
  if (geteuid() != 0) {
    std::cerr << "svcbench: cleanup needs root (it deletes network namespaces)\n";
    return kExitEnvironment;
  }
  const auto removed = CleanupLeftovers(force);
  for (const auto& n : removed) std::cout << "removed " << n << "\n";
  const auto left = ListLabNamespaces();
  std::cout << fmt::format("{} namespaces removed, {} svcb-* left{}\n", removed.size(), left.size(),
                           left.empty() ? "" : " (owned by a live run; --force removes them)");
  return kExitOk;
}

int CmdReport(const std::string& run_dir) {
  const fs::path json = fs::path(run_dir) / "result.json";
  std::ifstream in(json);
  if (!in) {
    std::cerr << fmt::format("svcbench: report: cannot read {}\n", json.string());
    return kExitUsage;
  }
  Result r;
  try {
    r = ResultFromJson(nlohmann::json::parse(in));
  } catch (const std::exception& e) {
    std::cerr << fmt::format("svcbench: report: {}: {}\n", json.string(), e.what());
    return kExitUsage;
  }
  const std::string out = (fs::path(run_dir) / "summary.md").string();
  WriteFileAtomic(out, SummaryMarkdown(r));
  std::cout << "report: " << out << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "svcbench measures how the Linux data planes behind Kubernetes Services (kube-proxy's "
      "iptables and nftables modes, eBPF) scale, inside private network namespaces.\n"
      "Exit codes: 0 ok, 2 bad usage or scenario, 3 environment (not root, missing kernel "
      "feature), 4 run partial or interrupted."};
  app.require_subcommand(1);
  app.set_version_flag("--version", SVCBENCH_VERSION);

  std::string file, out_dir, results_root = "results", run_dir, backend;
  std::vector<std::string> sets;
  bool force = false;

  auto* validate = app.add_subcommand("validate", "Check a scenario file and print its cells");
  validate->add_option("FILE", file, "scenario YAML")->required();
  validate->add_option("--set", sets, "override: dotted.key=YAML (repeatable)");

  auto* run = app.add_subcommand(
      "run", "Run a scenario (root): every backend x size cell, results into a run directory");
  run->add_option("FILE", file, "scenario YAML")->required();
  run->add_option("--set", sets,
                  "override a scenario key with a YAML value, e.g. --set sweep.services=[10000] "
                  "--set backends=[iptables-legacy] (repeatable, applied in order)");
  run->add_option("--out", out_dir, "run directory (default: RESULTS/<UTC time>-<scenario>)");
  run->add_option("--results", results_root, "where default run directories go")
      ->capture_default_str();

  auto* backends = app.add_subcommand("backends", "List backends and whether they can run here");

  GeneratorSpec spec;
  std::string protocol = "tcp";
  auto* render = app.add_subcommand(
      "render", "Print the payload a backend would send for a generated ServiceSet (no root)");
  render->add_option("--backend", backend, "backend name (see `svcbench backends`)")->required();
  render->add_option("--services", spec.services, "number of services")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  render->add_option("--endpoints", spec.endpoints_per_service, "endpoints per service")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  render->add_option("--ports", spec.ports_per_service, "ports per service")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  render->add_option("--seed", spec.seed, "generator seed")->capture_default_str();
  render->add_option("--protocol", protocol, "tcp or udp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "udp"}));

  auto* cleanup =
      app.add_subcommand("cleanup", "Remove svcb-* namespaces left by killed runs (root)");
  cleanup->add_flag("--force", force, "also remove namespaces of runs that are still alive");

  auto* report = app.add_subcommand("report", "Regenerate summary.md of a run from result.json");
  report->add_option("RUN_DIR", run_dir, "a run directory")
      ->required()
      ->check(CLI::ExistingDirectory);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "svcbench: " << e.what() << "\n(see svcbench --help)\n";
    return kExitUsage;
  }

  try {
    if (*validate) return CmdValidate(file, sets);
    if (*run) return CmdRun(file, sets, out_dir, results_root);
    if (*backends) return CmdBackends();
    if (*render) {
      spec.protocol = protocol == "udp" ? Protocol::kUdp : Protocol::kTcp;
      return CmdRender(backend, spec);
    }
    if (*cleanup) return CmdCleanup(force);
    if (*report) return CmdReport(run_dir);
  } catch (const ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "svcbench: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace svcbench

int main(int argc, char** argv) {
  try {
    return svcbench::Main(argc, argv);
  } catch (const std::exception& e) {
    svcbench::CleanupRegisteredNamespaces();
    std::cerr << "svcbench: error: " << e.what() << "\n";
    return 3;
  }
}
