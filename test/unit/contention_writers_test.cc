#include "harness/measure/contention_writers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace svcbench::contention {
namespace {

bool Has(const std::vector<std::string>& argv, const std::vector<std::string>& seq) {
  return std::search(argv.begin(), argv.end(), seq.begin(), seq.end()) != argv.end();
}

SpawnResult Exited(int code, std::string err = {}, std::string out = {}) {
  SpawnResult r;
  r.exit_code = code;
  r.err = std::move(err);
  r.out = std::move(out);
  return r;
}

TEST(ContentionWriters, FamilyOfEveryBackend) {
  EXPECT_EQ(FamilyOf("iptables-legacy"), Family::kXtablesLegacy);
  EXPECT_EQ(FamilyOf("iptc"), Family::kXtablesLegacy);
  EXPECT_EQ(FamilyOf("iptables-nft"), Family::kXtablesNft);
  EXPECT_EQ(FamilyOf("nftables"), Family::kNftables);
  EXPECT_EQ(FamilyOf("nftables-cli"), Family::kNftables);
  EXPECT_EQ(FamilyOf("nftables-shared-map"), Family::kNftables);
  EXPECT_EQ(FamilyOf("nftables-cli-shared-map"), Family::kNftables);
  EXPECT_FALSE(FamilyOf("ebpf"));
  EXPECT_FALSE(FamilyOf("ipvs"));
}

TEST(ContentionWriters, EveryXtablesCallWaitsAtMostW) {
  // Without -w, iptables-legacy 1.8.9 would wait for the lock forever.
  for (const Family f : {Family::kXtablesLegacy, Family::kXtablesNft}) {
    const WriterSpec w{f, 3, "nat", 7};
    for (const Command& c :
         {CheckCommand(w), WriteCommand(w, false), WriteCommand(w, true), RestoreCommand(w),
          SetupCommand(f, 2, "nat", 7), TeardownCommand(f, 2, "nat", 7)}) {
      EXPECT_TRUE(Has(c.argv, {"-w", "7"})) << c.argv.front();
    }
  }
}

TEST(ContentionWriters, AgentChecksThenAddsOrDeletesItsOwnRule) {
  const WriterSpec w{Family::kXtablesLegacy, 2, "filter", 5};
  const Command check = CheckCommand(w);
  EXPECT_EQ(check.op, Op::kCheck);
  EXPECT_EQ(check.argv, (std::vector<std::string>{"iptables-legacy", "-w", "5", "-W", "100000",
                                                  "-t", "filter", "-C", "SVCB-AGENT-2", "-d",
                                                  "198.18.255.253/32", "-j", "RETURN"}));
  EXPECT_TRUE(Has(WriteCommand(w, false).argv, {"-A", "SVCB-AGENT-2"}));
  EXPECT_TRUE(Has(WriteCommand(w, true).argv, {"-D", "SVCB-AGENT-2"}));
  EXPECT_EQ(WriteCommand(w, true).op, Op::kWrite);
}

TEST(ContentionWriters, RestoreDeclaresItsChainAndAddsOneRule) {
  const Command c = RestoreCommand({Family::kXtablesNft, 0, "nat", 5});
  EXPECT_EQ(c.argv.front(), "iptables-nft-restore");
  EXPECT_TRUE(Has(c.argv, {"--noflush"}));
  EXPECT_EQ(c.stdin_data,
            "*nat\n:SVCB-AGENT-0 - [0:0]\n-A SVCB-AGENT-0 -d 198.18.255.253/32 -j RETURN\n"
            "COMMIT\n");
}

TEST(ContentionWriters, SetupAndTeardownOfXtablesChains) {
  const Command up = SetupCommand(Family::kXtablesLegacy, 2, "filter", 5);
  EXPECT_EQ(up.argv.front(), "iptables-legacy-restore");
  EXPECT_EQ(up.stdin_data, "*filter\n:SVCB-AGENT-0 - [0:0]\n:SVCB-AGENT-1 - [0:0]\nCOMMIT\n");
  const Command down = TeardownCommand(Family::kXtablesLegacy, 2, "filter", 5);
  EXPECT_EQ(down.stdin_data,
            "*filter\n:SVCB-AGENT-0 - [0:0]\n:SVCB-AGENT-1 - [0:0]\n-X SVCB-AGENT-0\n"
            "-X SVCB-AGENT-1\nCOMMIT\n");
}

TEST(ContentionWriters, NftWritersUseATableOfTheirOwn) {
  const WriterSpec w{Family::kNftables, 1, "filter", 5};
  EXPECT_EQ(CheckCommand(w).argv,
            (std::vector<std::string>{"nft", "list", "chain", "ip", "svcb-agent-1", "c"}));
  EXPECT_EQ(WriteCommand(w, false).stdin_data,
            "add rule ip svcb-agent-1 c ip daddr 198.18.255.253 counter return\n");
  EXPECT_EQ(WriteCommand(w, true).stdin_data, "flush chain ip svcb-agent-1 c\n");
  EXPECT_EQ(RestoreCommand(w).stdin_data,
            "flush chain ip svcb-agent-1 c\n"
            "add rule ip svcb-agent-1 c ip daddr 198.18.255.253 counter return\n");
  EXPECT_EQ(SetupCommand(Family::kNftables, 2, "filter", 5).stdin_data,
            "add table ip svcb-agent-0\nadd chain ip svcb-agent-0 c\n"
            "add table ip svcb-agent-1\nadd chain ip svcb-agent-1 c\n");
  EXPECT_EQ(TeardownCommand(Family::kNftables, 2, "filter", 5).stdin_data,
            "delete table ip svcb-agent-0\ndelete table ip svcb-agent-1\n");
}

TEST(ContentionWriters, ClassifyReadsIptablesExits) {
  const Family f = Family::kXtablesLegacy;
  EXPECT_EQ(Classify(f, Op::kWrite, Exited(0)), Outcome::kOk);
  const std::string lock_msg =
      "Another app is currently holding the xtables lock. Stopped waiting after 1s.\n";
  EXPECT_EQ(Classify(f, Op::kCheck, Exited(4, lock_msg)), Outcome::kLockTimeout);
  EXPECT_EQ(Classify(f, Op::kRestore, Exited(4, lock_msg)), Outcome::kLockTimeout);
  // Exit 4 is any resource problem; only the lock message makes it a lock timeout.
  EXPECT_EQ(Classify(f, Op::kWrite, Exited(4, "iptables: Memory allocation problem.\n")),
            Outcome::kFailed);
  const std::string missing = "iptables: Bad rule (does a matching rule exist in that chain?).\n";
  EXPECT_EQ(Classify(f, Op::kCheck, Exited(1, missing)), Outcome::kOk);
  EXPECT_EQ(Classify(f, Op::kWrite, Exited(1, missing)), Outcome::kFailed);
  EXPECT_EQ(Classify(f, Op::kCheck, Exited(2, "iptables v1.8.9: unknown option\n")),
            Outcome::kFailed);
  SpawnResult killed;
  killed.timed_out = true;
  killed.term_signal = 9;
  EXPECT_EQ(Classify(f, Op::kWrite, killed), Outcome::kFailed);
}

TEST(ContentionWriters, RulePresent) {
  EXPECT_TRUE(RulePresent(Family::kXtablesNft, Exited(0)));
  EXPECT_FALSE(RulePresent(Family::kXtablesNft, Exited(1)));
  EXPECT_TRUE(
      RulePresent(Family::kNftables, Exited(0, "",
                                            "table ip svcb-agent-0 {\n\tchain c {\n\t\tip daddr "
                                            "198.18.255.253 counter packets 0 bytes 0 return\n")));
  EXPECT_FALSE(RulePresent(Family::kNftables, Exited(0, "", "table ip t {\n\tchain c {\n")));
  EXPECT_EQ(Classify(Family::kNftables, Op::kCheck, Exited(1, "Error: No such file")),
            Outcome::kFailed);
}

}  // namespace
}  // namespace svcbench::contention
