// The small writers of the `contention` measurement: the commands an agent-like process runs
// beside kube-proxy, per tool family, and how their exits are read. Pure (no kernel), so the
// commands are unit-tested; harness/measure/contention.cc runs them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/util/process.h"

namespace svcbench::contention {

// Which tools write beside a backend: the xtables tools of its variant, or nft.
enum class Family { kXtablesLegacy, kXtablesNft, kNftables };

// The family whose small writers contend with `backend`'s big writer, or nullopt when the
// measurement has none for it. iptc shares the legacy tables and lock with iptables-legacy;
// every nftables backend (both transports, both ruleset shapes) shares nf_tables with nft.
std::optional<Family> FamilyOf(std::string_view backend);

enum class Op { kCheck, kWrite, kRestore };
std::string_view OpName(Op op);  // "check", "write", "restore"

struct Command {
  Op op = Op::kCheck;
  std::vector<std::string> argv;
  std::string stdin_data;
};

struct WriterSpec {
  Family family = Family::kXtablesLegacy;
  int index = 0;                 // contender number: its chain (table) is its own
  std::string table = "filter";  // xtables table of the chain; nft writers use a table each
  int wait_s = 5;                // -w of the xtables tools
};

// The chain (xtables) or table (nft) that belongs to contender `index`.
std::string AgentChain(const WriterSpec& w);

// Agent iteration, first half: does the agent's rule exist? (`iptables -w W -W 100000 -C` as
// kube-proxy's EnsureRule runs it; `nft list chain` for nft, which reads without a transaction.)
Command CheckCommand(const WriterSpec& w);
// Second half: delete the rule when `present`, else add it (-D/-A; nft flush chain/add rule).
Command WriteCommand(const WriterSpec& w, bool present);
// A small restore of the agent's chain: the chain declared (so flushed) and one rule.
Command RestoreCommand(const WriterSpec& w);
// Creates the chains (tables) of contenders 0..n-1, and removes them again.
Command SetupCommand(Family family, int contenders, const std::string& table, int wait_s);
Command TeardownCommand(Family family, int contenders, const std::string& table, int wait_s);

enum class Outcome {
  kOk,
  kLockTimeout,  // iptables gave up waiting for the xtables lock (exit 4)
  kFailed,       // anything else that did not do what was asked
};

// How a call that exited (not killed) went. A check that finds no rule (exit 1, "does a
// matching rule exist") is kOk.
Outcome Classify(Family family, Op op, const SpawnResult& r);

// Whether a check that succeeded says the agent's rule is there.
bool RulePresent(Family family, const SpawnResult& r);

}  // namespace svcbench::contention
