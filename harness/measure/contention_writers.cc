#include "harness/measure/contention_writers.h"

#include <fmt/format.h>

namespace svcbench::contention {
namespace {

// The agents' rule matches an address of the link block that no link uses. Their chains are
// never jumped to, so the rule only has to exist, never to match traffic.
constexpr char kAgentAddress[] = "198.18.255.253";

std::string Tool(Family f) {
  return f == Family::kXtablesLegacy ? "iptables-legacy" : "iptables-nft";
}

std::string RestoreTool(Family f) {
  return f == Family::kXtablesLegacy ? "iptables-legacy-restore" : "iptables-nft-restore";
}

// Every xtables call waits at most W for the lock: without -w, iptables-legacy 1.8.9 waits
// forever. -W is kube-proxy's interval; 1.8.9 ignores it (alarm(W) around a blocking flock).
std::vector<std::string> XtablesArgv(const WriterSpec& w, std::vector<std::string> args) {
  std::vector<std::string> argv = {Tool(w.family), "-w",   std::to_string(w.wait_s), "-W", "100000",
                                   "-t",           w.table};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> RuleArgs(const WriterSpec& w, const char* verb) {
  return {verb, AgentChain(w), "-d", fmt::format("{}/32", kAgentAddress), "-j", "RETURN"};
}

std::string NftRule(const WriterSpec& w) {
  return fmt::format("add rule ip {} c ip daddr {} counter return\n", AgentChain(w), kAgentAddress);
}

std::vector<std::string> XtablesRestoreArgv(Family f, int wait_s) {
  return {RestoreTool(f), "-w", std::to_string(wait_s), "-W", "100000", "--noflush"};
}

}  // namespace

std::optional<Family> FamilyOf(std::string_view backend) {
  if (backend == "iptables-legacy" || backend == "iptc") return Family::kXtablesLegacy;
  if (backend == "iptables-nft") return Family::kXtablesNft;
  // nftables, nftables-cli and their -shared-map shapes.
  if (backend.starts_with("nftables")) return Family::kNftables;
  return std::nullopt;
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kCheck:
      return "check";
    case Op::kWrite:
      return "write";
    case Op::kRestore:
      return "restore";
  }
  return "?";
}

std::string AgentChain(const WriterSpec& w) {
  return w.family == Family::kNftables ? fmt::format("svcb-agent-{}", w.index)
                                       : fmt::format("SVCB-AGENT-{}", w.index);
}

Command CheckCommand(const WriterSpec& w) {
  Command c{Op::kCheck, {}, {}};
  if (w.family == Family::kNftables) {
    c.argv = {"nft", "list", "chain", "ip", AgentChain(w), "c"};
  } else {
    c.argv = XtablesArgv(w, RuleArgs(w, "-C"));
  }
  return c;
}

Command WriteCommand(const WriterSpec& w, bool present) {
  Command c{Op::kWrite, {}, {}};
  if (w.family == Family::kNftables) {
    c.argv = {"nft", "-f", "-"};
    c.stdin_data = present ? fmt::format("flush chain ip {} c\n", AgentChain(w)) : NftRule(w);
  } else {
    c.argv = XtablesArgv(w, RuleArgs(w, present ? "-D" : "-A"));
  }
  return c;
}

Command RestoreCommand(const WriterSpec& w) {
  Command c{Op::kRestore, {}, {}};
  if (w.family == Family::kNftables) {
    c.argv = {"nft", "-f", "-"};
    c.stdin_data = fmt::format("flush chain ip {} c\n{}", AgentChain(w), NftRule(w));
  } else {
    c.argv = XtablesRestoreArgv(w.family, w.wait_s);
    c.stdin_data = fmt::format("*{}\n:{} - [0:0]\n-A {} -d {}/32 -j RETURN\nCOMMIT\n", w.table,
                               AgentChain(w), AgentChain(w), kAgentAddress);
  }
  return c;
}

Command SetupCommand(Family family, int contenders, const std::string& table, int wait_s) {
  Command c{Op::kRestore, {}, {}};
  if (family == Family::kNftables) {
    c.argv = {"nft", "-f", "-"};
    for (int i = 0; i < contenders; ++i) {
      const std::string t = AgentChain({family, i, table, wait_s});
      c.stdin_data += fmt::format("add table ip {}\nadd chain ip {} c\n", t, t);
    }
  } else {
    c.argv = XtablesRestoreArgv(family, wait_s);
    c.stdin_data = fmt::format("*{}\n", table);
    for (int i = 0; i < contenders; ++i) {
      c.stdin_data += fmt::format(":{} - [0:0]\n", AgentChain({family, i, table, wait_s}));
    }
    c.stdin_data += "COMMIT\n";
  }
  return c;
}

Command TeardownCommand(Family family, int contenders, const std::string& table, int wait_s) {
  Command c = SetupCommand(family, contenders, table, wait_s);
  if (family == Family::kNftables) {
    c.stdin_data.clear();
    for (int i = 0; i < contenders; ++i) {
      c.stdin_data += fmt::format("delete table ip {}\n", AgentChain({family, i, table, wait_s}));
    }
  } else {
    // Declaring a chain flushes it; then it can be deleted.
    c.stdin_data.resize(c.stdin_data.size() - std::string_view("COMMIT\n").size());
    for (int i = 0; i < contenders; ++i) {
      c.stdin_data += fmt::format("-X {}\n", AgentChain({family, i, table, wait_s}));
    }
    c.stdin_data += "COMMIT\n";
  }
  return c;
}

Outcome Classify(Family family, Op op, const SpawnResult& r) {
  if (r.timed_out || r.term_signal != 0) return Outcome::kFailed;
  if (r.exit_code == 0) return Outcome::kOk;
  if (family == Family::kNftables) return Outcome::kFailed;
  // iptables' own words when alarm(W) cut its flock short (xshared.c, exit RESOURCE_PROBLEM).
  if (r.exit_code == 4 && r.err.find("holding the xtables lock") != std::string::npos) {
    return Outcome::kLockTimeout;
  }
  if (op == Op::kCheck && r.exit_code == 1 &&
      r.err.find("does a matching rule exist") != std::string::npos) {
    return Outcome::kOk;
  }
  return Outcome::kFailed;
}

bool RulePresent(Family family, const SpawnResult& r) {
  if (family == Family::kNftables) return r.out.find(kAgentAddress) != std::string::npos;
  return r.exit_code == 0;
}

}  // namespace svcbench::contention
