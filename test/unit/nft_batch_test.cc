// The netlink batch, parsed back message by message with libnftnl's own parsers and compared with
// the ruleset model object by object. No kernel involved.
#include "drivers/nftables/nft_batch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness/model/generator.h"

namespace svcbench::nft {
namespace {

struct ParsedSet {
  std::string name;
  uint32_t flags = 0, key_type = 0, key_len = 0, data_type = 0, desc_size = 0, id = 0;
  std::vector<uint8_t> udata;
};

struct ParsedElem {
  std::string set;
  uint32_t set_id = 0;
  std::vector<uint8_t> key;
  uint32_t verdict = 0;
  std::string chain;
};

struct ParsedRule {
  std::string chain;
  std::vector<std::string> exprs;  // expression names in order
  std::string jump_chain;          // immediate verdict target, if any
  uint32_t verdict = 0;            // of that immediate
  std::string lookup_set;
  uint32_t lookup_set_id = 0;
  uint32_t numgen_mod = 0, numgen_dreg = 0;
  std::vector<uint8_t> imm_data;  // data of immediates, concatenated
};

// Everything the batch carries, as libnftnl reads it back.
struct Parsed {
  std::vector<uint16_t> types;  // NFT_MSG_* or the batch markers, in order
  std::vector<uint32_t> seqs;
  std::vector<uint16_t> flags;
  std::vector<std::string> table_ops;  // "new kube-proxy" / "del kube-proxy"
  bool table_comment = false;
  std::vector<std::string> chains;
  std::map<std::string, std::vector<int32_t>> base_chains;  // name -> {hooknum, prio}
  std::vector<ParsedSet> sets;
  std::vector<ParsedElem> elems;
  std::vector<ParsedRule> rules;
  size_t element_messages = 0;
};

std::vector<uint8_t> Bytes(const void* p, uint32_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

// libnftnl numbers the element attributes it builds 1, 2, 3… (the kernel ignores the type) but
// its parser only accepts NFTA_LIST_ELEM, the type the kernel uses in dumps: renumber a copy.
std::vector<char> WithListElemTypes(const nlmsghdr* nlh) {
  std::vector<char> copy(reinterpret_cast<const char*>(nlh),
                         reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len);
  auto* m = reinterpret_cast<nlmsghdr*>(copy.data());
  char* payload = static_cast<char*>(mnl_nlmsg_get_payload_offset(m, sizeof(nfgenmsg)));
  int left = static_cast<int>(copy.data() + copy.size() - payload);
  auto* a = reinterpret_cast<nlattr*>(payload);
  while (mnl_attr_ok(a, left)) {
    if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS) {
      char* end = reinterpret_cast<char*>(a) + a->nla_len;
      for (auto* e = static_cast<nlattr*>(mnl_attr_get_payload(a));
           reinterpret_cast<char*>(e) < end; e = mnl_attr_next(e)) {
        e->nla_type = (e->nla_type & ~NLA_TYPE_MASK) | NFTA_LIST_ELEM;
      }
    }
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
  return copy;
}

void ParseMessage(const nlmsghdr* nlh, Parsed* out) {
  out->seqs.push_back(nlh->nlmsg_seq);
  out->flags.push_back(nlh->nlmsg_flags);
  if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
    out->types.push_back(nlh->nlmsg_type);
    return;
  }
  ASSERT_EQ(NFNL_SUBSYS_ID(nlh->nlmsg_type), NFNL_SUBSYS_NFTABLES);
  const uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  out->types.push_back(type);
  switch (type) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE: {
      nftnl_table* t = nftnl_table_alloc();
      ASSERT_EQ(nftnl_table_nlmsg_parse(nlh, t), 0);
      out->table_ops.push_back(std::string(type == NFT_MSG_NEWTABLE ? "new " : "del ") +
                               nftnl_table_get_str(t, NFTNL_TABLE_NAME));
      if (nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)) out->table_comment = true;
      nftnl_table_free(t);
      break;
    }
    case NFT_MSG_NEWCHAIN: {
      nftnl_chain* c = nftnl_chain_alloc();
      ASSERT_EQ(nftnl_chain_nlmsg_parse(nlh, c), 0);
      const std::string name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
      out->chains.push_back(name);
      if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
        out->base_chains[name] = {static_cast<int32_t>(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)),
                                  nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO)};
        EXPECT_STREQ(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "nat");
      }
      nftnl_chain_free(c);
      break;
    }
    case NFT_MSG_NEWSET: {
      nftnl_set* s = nftnl_set_alloc();
      ASSERT_EQ(nftnl_set_nlmsg_parse(nlh, s), 0);
      ParsedSet ps;
      ps.name = nftnl_set_get_str(s, NFTNL_SET_NAME);
      ps.flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
      ps.key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
      ps.key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
      ps.data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
      ps.id = nftnl_set_get_u32(s, NFTNL_SET_ID);
      if (nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE)) {
        ps.desc_size = nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE);
      }
      if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
        uint32_t len = 0;
        const void* u = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
        ps.udata = Bytes(u, len);
      }
      out->sets.push_back(ps);
      nftnl_set_free(s);
      break;
    }
    case NFT_MSG_NEWSETELEM: {
      ++out->element_messages;
      nftnl_set* s = nftnl_set_alloc();
      const std::vector<char> copy = WithListElemTypes(nlh);
      ASSERT_EQ(nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(copy.data()), s), 0);
      nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s);
      for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e != nullptr;
           e = nftnl_set_elems_iter_next(it)) {
        ParsedElem pe;
        if (nftnl_set_is_set(s, NFTNL_SET_NAME)) pe.set = nftnl_set_get_str(s, NFTNL_SET_NAME);
        if (nftnl_set_is_set(s, NFTNL_SET_ID)) pe.set_id = nftnl_set_get_u32(s, NFTNL_SET_ID);
        uint32_t len = 0;
        const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        pe.key = Bytes(key, len);
        pe.verdict = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);
        pe.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
        out->elems.push_back(pe);
      }
      nftnl_set_elems_iter_destroy(it);
      nftnl_set_free(s);
      break;
    }
    case NFT_MSG_NEWRULE: {
      nftnl_rule* r = nftnl_rule_alloc();
      ASSERT_EQ(nftnl_rule_nlmsg_parse(nlh, r), 0);
      ParsedRule pr;
      pr.chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
      nftnl_expr_iter* it = nftnl_expr_iter_create(r);
      for (nftnl_expr* e = nftnl_expr_iter_next(it); e != nullptr; e = nftnl_expr_iter_next(it)) {
        const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        pr.exprs.push_back(name);
        if (name == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
          pr.verdict = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
          if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) {
            pr.jump_chain = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
          }
        }
        if (name == "numgen") {
          pr.numgen_mod = nftnl_expr_get_u32(e, NFTNL_EXPR_NG_MODULUS);
          pr.numgen_dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_NG_DREG);
        }
        if (name == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_DATA)) {
          uint32_t len = 0;
          const void* d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);
          const auto b = Bytes(d, len);
          pr.imm_data.insert(pr.imm_data.end(), b.begin(), b.end());
        }
        if (name == "lookup") {
          pr.lookup_set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
          pr.lookup_set_id = nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SET_ID);
        }
      }
      nftnl_expr_iter_destroy(it);
      out->rules.push_back(pr);
      nftnl_rule_free(r);
      break;
    }
    default:
      ADD_FAILURE() << "unexpected message type " << type;
  }
}

Parsed ParseBatch(const Batch& batch) {
  Parsed out;
  for (const iovec& v : batch.Iovecs()) {
    auto* nlh = static_cast<const nlmsghdr*>(v.iov_base);
    int len = static_cast<int>(v.iov_len);
    while (mnl_nlmsg_ok(nlh, len)) {
      ParseMessage(nlh, &out);
      nlh = mnl_nlmsg_next(nlh, &len);
    }
    EXPECT_EQ(len, 0) << "trailing bytes in a page";
  }
  return out;
}

// Keys as strings: GCC 12 misreports -Wstringop-overread on std::map<std::vector<uint8_t>, …>.
std::string ServiceKey(const ServiceChain& sc) {
  std::string k(12, '\0');
  const uint32_t vip = htonl(sc.vip);
  std::memcpy(k.data(), &vip, 4);
  k[4] = static_cast<char>(sc.protocol == Protocol::kUdp ? IPPROTO_UDP : IPPROTO_TCP);
  const uint16_t port = htons(sc.port);
  std::memcpy(k.data() + 8, &port, 2);
  return k;
}

Ruleset SmallRuleset() {
  return BuildRuleset(Generate({.seed = 42, .services = 3, .endpoints_per_service = 2}));
}

TEST(NftBatchTest, FramesOneTransaction) {
  const Ruleset rs = SmallRuleset();
  const Batch batch = BuildFullSyncBatch(rs, {.ack = AckMode::kEveryMessage, .first_seq = 100});
  const Parsed p = ParseBatch(batch);
  ASSERT_GE(p.types.size(), 3u);
  EXPECT_EQ(p.types.front(), NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(p.types.back(), NFNL_MSG_BATCH_END);
  EXPECT_EQ(p.types.size(), batch.Messages() + 2);
  for (size_t i = 0; i < p.seqs.size(); ++i) EXPECT_EQ(p.seqs[i], 100 + i);
  EXPECT_EQ(batch.BeginSeq(), 100u);
  EXPECT_EQ(batch.LastSeq(), p.seqs[p.seqs.size() - 2]);
  // Every message but the markers asks for an ACK.
  for (size_t i = 1; i + 1 < p.flags.size(); ++i) EXPECT_TRUE(p.flags[i] & NLM_F_ACK) << i;
  EXPECT_FALSE(p.flags.front() & NLM_F_ACK);
  EXPECT_EQ(batch.ExpectedAcks(), batch.Messages());
  EXPECT_EQ(p.table_ops,
            (std::vector<std::string>{"new kube-proxy", "del kube-proxy", "new kube-proxy"}));
  EXPECT_TRUE(p.table_comment);
}

TEST(NftBatchTest, LastMessageAckModeAsksOnceAndIsTheDefault) {
  const Batch batch = BuildFullSyncBatch(SmallRuleset());
  const Parsed p = ParseBatch(batch);
  size_t acked = 0;
  for (size_t i = 0; i < p.flags.size(); ++i) {
    if (p.flags[i] & NLM_F_ACK) {
      ++acked;
      EXPECT_EQ(p.seqs[i], batch.LastSeq());
    }
  }
  EXPECT_EQ(acked, 1u);
  EXPECT_EQ(batch.ExpectedAcks(), 1u);
}

TEST(NftBatchTest, ChainsMatchModel) {
  const Ruleset rs = SmallRuleset();
  const Parsed p = ParseBatch(BuildFullSyncBatch(rs));
  std::multiset<std::string> want = {"nat-prerouting", "nat-output",   "nat-postrouting",
                                     "services",       "masquerading", "mark-for-masquerade"};
  for (const ServiceChain& sc : rs.services) {
    want.insert(sc.name);
    for (const EndpointChain& ep : sc.endpoints) want.insert(ep.name);
  }
  EXPECT_EQ(std::multiset<std::string>(p.chains.begin(), p.chains.end()), want);
  EXPECT_EQ(p.chains.size(), rs.Chains());
  EXPECT_EQ(p.base_chains.at("nat-prerouting"), (std::vector<int32_t>{NF_INET_PRE_ROUTING, -100}));
  EXPECT_EQ(p.base_chains.at("nat-output"), (std::vector<int32_t>{NF_INET_LOCAL_OUT, -100}));
  EXPECT_EQ(p.base_chains.at("nat-postrouting"), (std::vector<int32_t>{NF_INET_POST_ROUTING, 100}));
}

TEST(NftBatchTest, SetsAndElementsMatchModel) {
  const Ruleset rs = SmallRuleset();
  const Parsed p = ParseBatch(BuildFullSyncBatch(rs));
  ASSERT_EQ(p.sets.size(), 1 + rs.services.size());
  const ParsedSet& sips = p.sets[0];
  EXPECT_EQ(sips.name, "service-ips");
  EXPECT_EQ(sips.flags, static_cast<uint32_t>(NFT_SET_MAP));
  EXPECT_EQ(sips.key_len, 12u);
  EXPECT_EQ(sips.key_type,
            (((7u << 6) | 12u) << 6) | 13u);  // ipv4_addr . inet_proto . inet_service
  EXPECT_EQ(sips.data_type, static_cast<uint32_t>(NFT_DATA_VERDICT));

  std::map<uint32_t, size_t> service_of_map;  // anonymous map id -> service index
  for (size_t i = 0; i < rs.services.size(); ++i) {
    const ParsedSet& m = p.sets[1 + i];
    // Numbered as the kernel numbers anonymous sets of a new table.
    EXPECT_EQ(m.name, "__map" + std::to_string(i));
    EXPECT_EQ(m.flags, static_cast<uint32_t>(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP));
    EXPECT_EQ(m.key_len, 4u);
    EXPECT_EQ(m.desc_size, rs.services[i].endpoints.size());
    EXPECT_NE(m.id, sips.id);
    EXPECT_TRUE(service_of_map.emplace(m.id, i).second) << "set ids must be unique";
  }

  std::map<std::string, std::string> service_ips;
  std::map<size_t, std::map<uint32_t, std::string>> numgen;
  for (const ParsedElem& e : p.elems) {
    EXPECT_EQ(e.verdict, static_cast<uint32_t>(NFT_GOTO));
    if (e.set == "service-ips") {
      EXPECT_TRUE(service_ips.emplace(std::string(e.key.begin(), e.key.end()), e.chain).second)
          << "duplicate element";
    } else {
      EXPECT_EQ(e.set, "") << "anonymous maps' elements are addressed by set id only";
      ASSERT_EQ(e.key.size(), 4u);
      uint32_t k;
      std::memcpy(&k, e.key.data(), 4);
      numgen[service_of_map.at(e.set_id)][k] = e.chain;
    }
  }
  ASSERT_EQ(service_ips.size(), rs.services.size());
  for (size_t i = 0; i < rs.services.size(); ++i) {
    const ServiceChain& sc = rs.services[i];
    EXPECT_EQ(service_ips.at(ServiceKey(sc)), sc.name);
    ASSERT_EQ(numgen[i].size(), sc.endpoints.size());
    for (uint32_t k = 0; k < sc.endpoints.size(); ++k)
      EXPECT_EQ(numgen[i][k], sc.endpoints[k].name);
  }
}

TEST(NftBatchTest, RulesMatchModel) {
  const Ruleset rs = SmallRuleset();
  const Parsed p = ParseBatch(BuildFullSyncBatch(rs));
  std::map<std::string, std::vector<const ParsedRule*>> by_chain;
  for (const ParsedRule& r : p.rules) by_chain[r.chain].push_back(&r);
  EXPECT_EQ(p.rules.size(), rs.Rules() + std::size(kBaseChains));
  for (const BaseChain& bc : kBaseChains) {
    ASSERT_EQ(by_chain[std::string(bc.name)].size(), 1u);
    EXPECT_EQ(by_chain[std::string(bc.name)][0]->jump_chain, bc.jump_to);
  }
  ASSERT_EQ(by_chain["services"].size(), 1u);
  EXPECT_EQ(by_chain["services"][0]->exprs,
            (std::vector<std::string>{"payload", "meta", "payload", "lookup"}));
  EXPECT_EQ(by_chain["services"][0]->lookup_set, "service-ips");
  EXPECT_EQ(by_chain["mark-for-masquerade"].size(), 1u);
  EXPECT_EQ(by_chain["masquerading"].size(), 3u);
  EXPECT_EQ(by_chain["masquerading"][2]->exprs, (std::vector<std::string>{"masq"}));

  for (size_t i = 0; i < rs.services.size(); ++i) {
    const ServiceChain& sc = rs.services[i];
    const auto& rules = by_chain[sc.name];
    ASSERT_EQ(rules.size(), 2u) << sc.name;
    // ip daddr, (meta l4proto, tcp dport), ip saddr != /8, jump
    EXPECT_EQ(rules[0]->exprs, (std::vector<std::string>{"payload", "cmp", "meta", "cmp", "payload",
                                                         "cmp", "payload", "cmp", "immediate"}));
    EXPECT_EQ(rules[0]->jump_chain, "mark-for-masquerade");
    EXPECT_EQ(rules[1]->exprs, (std::vector<std::string>{"numgen", "lookup"}));
    EXPECT_EQ(rules[1]->lookup_set, "__map" + std::to_string(i));
    EXPECT_EQ(rules[1]->numgen_mod, sc.endpoints.size());
    for (const EndpointChain& ep : sc.endpoints) {
      const auto& er = by_chain[ep.name];
      ASSERT_EQ(er.size(), kRulesPerEndpointChain) << ep.name;
      EXPECT_EQ(er[0]->jump_chain, "mark-for-masquerade");
      EXPECT_EQ(er[1]->exprs,
                (std::vector<std::string>{"meta", "cmp", "immediate", "immediate", "nat"}));
      // dnat to ip:port, both in network order
      const uint32_t ip = htonl(ep.ip);
      const uint16_t port = htons(ep.port);
      std::vector<uint8_t> want = Bytes(&ip, 4);
      const auto pb = Bytes(&port, 2);
      want.insert(want.end(), pb.begin(), pb.end());
      EXPECT_EQ(er[1]->imm_data, want) << ep.name;
    }
  }
}

// What nft itself would send for the same text.
constexpr BatchOptions kAsNft = {.ack = AckMode::kEveryMessage,
                                 .order = BatchOrder::kAsText,
                                 .number_anonymous_sets = false,
                                 .elements_by_set_id = false};

TEST(NftBatchTest, AsNftOptionsSendNftsTemplateNamesInTextOrder) {
  const Ruleset rs = SmallRuleset();
  const Parsed p = ParseBatch(BuildFullSyncBatch(rs, kAsNft));
  ASSERT_EQ(p.sets.size(), 1 + rs.services.size());
  for (size_t i = 1; i < p.sets.size(); ++i) EXPECT_EQ(p.sets[i].name, "__map%d");
  for (const ParsedElem& e : p.elems) {
    if (e.set != "service-ips") {
      EXPECT_EQ(e.set, "__map%d");
    }
  }
  // Text order: each service's numgen rule is followed by its own endpoint rules.
  std::vector<std::string> chains_in_order;
  for (const ParsedRule& r : p.rules) chains_in_order.push_back(r.chain);
  const auto numgen =
      std::find(chains_in_order.begin(), chains_in_order.end(), rs.services[0].name) + 1;
  ASSERT_NE(numgen, chains_in_order.end());
  EXPECT_EQ(*(numgen + 1), rs.services[0].endpoints[0].name);
  for (const ParsedRule& r : p.rules) {
    if (r.exprs.front() == "numgen") {
      EXPECT_EQ(r.lookup_set, "__map%d");
    }
  }
}

TEST(NftBatchTest, BindsFirstOrderCarriesTheSameObjects) {
  const Ruleset rs =
      BuildRuleset(Generate({.seed = 9, .services = 40, .endpoints_per_service = 3}));
  const Parsed text_order = ParseBatch(BuildFullSyncBatch(rs, kAsNft));
  const Parsed binds_first = ParseBatch(BuildFullSyncBatch(rs));
  EXPECT_EQ(std::multiset<std::string>(binds_first.chains.begin(), binds_first.chains.end()),
            std::multiset<std::string>(text_order.chains.begin(), text_order.chains.end()));
  EXPECT_EQ(binds_first.rules.size(), text_order.rules.size());
  EXPECT_EQ(binds_first.elems.size(), text_order.elems.size());
  // Every numgen rule (the binds) precedes every endpoint rule; within each chain the rules keep
  // their order, since rules are appended.
  size_t last_numgen = 0, first_dnat = binds_first.rules.size();
  for (size_t i = 0; i < binds_first.rules.size(); ++i) {
    const ParsedRule& r = binds_first.rules[i];
    if (r.exprs.front() == "numgen") last_numgen = i;
    if (r.exprs.back() == "nat" && first_dnat == binds_first.rules.size()) first_dnat = i;
  }
  EXPECT_LT(last_numgen, first_dnat);
  std::map<std::string, std::vector<std::vector<std::string>>> by_chain_text, by_chain_binds;
  for (const ParsedRule& r : text_order.rules) by_chain_text[r.chain].push_back(r.exprs);
  for (const ParsedRule& r : binds_first.rules) by_chain_binds[r.chain].push_back(r.exprs);
  EXPECT_EQ(by_chain_binds, by_chain_text);
}

// Rules by chain, in order.
std::map<std::string, std::vector<const ParsedRule*>> ByChain(const Parsed& p) {
  std::map<std::string, std::vector<const ParsedRule*>> by_chain;
  for (const ParsedRule& r : p.rules) by_chain[r.chain].push_back(&r);
  return by_chain;
}

TEST(NftBatchTest, SharedMapHoldsEveryEndpointUnderItsServiceKey) {
  const Ruleset rs = BuildRuleset(Generate({.seed = 3, .services = 30, .endpoints_per_service = 2}),
                                  {.dispatch = EndpointDispatch::kSharedMap});
  // A service with three endpoints, for a second dispatch chain.
  Ruleset mixed = rs;
  mixed.services[4].endpoints.push_back(mixed.services[5].endpoints[0]);
  const Batch batch = BuildFullSyncBatch(mixed);
  const Parsed p = ParseBatch(batch);
  EXPECT_EQ(batch.Sets(), 2u);
  ASSERT_EQ(p.sets.size(), 2u);
  const ParsedSet& m = p.sets[1];
  EXPECT_EQ(m.name, "service-endpoints");
  EXPECT_EQ(m.flags, static_cast<uint32_t>(NFT_SET_MAP));
  EXPECT_EQ(m.key_len, 16u);
  EXPECT_EQ(m.key_type, ((((7u << 6) | 12u) << 6 | 13u) << 6) | 4u);  // ... . integer
  EXPECT_EQ(m.data_type, static_cast<uint32_t>(NFT_DATA_VERDICT));
  EXPECT_EQ(m.udata.size(), 126u);

  EXPECT_EQ(mixed.DispatchModuli(), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(p.chains.size(), mixed.Chains());
  EXPECT_EQ(p.rules.size(), mixed.Rules() + std::size(kBaseChains));
  auto by_chain = ByChain(p);
  for (const uint32_t mod : {2u, 3u}) {
    const auto& d = by_chain[DispatchChainName(mod)];
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]->exprs,
              (std::vector<std::string>{"payload", "meta", "payload", "numgen", "lookup"}));
    EXPECT_EQ(d[0]->numgen_mod, mod);
    EXPECT_EQ(d[0]->numgen_dreg, static_cast<uint32_t>(NFT_REG32_03));
    EXPECT_EQ(d[0]->lookup_set, "service-endpoints");
    EXPECT_EQ(d[0]->lookup_set_id, m.id);
  }

  std::map<std::string, std::string> endpoint_of;  // 16-byte key -> chain
  for (const ParsedElem& e : p.elems) {
    if (e.set != "service-endpoints") continue;
    EXPECT_EQ(e.verdict, static_cast<uint32_t>(NFT_GOTO));
    EXPECT_TRUE(endpoint_of.emplace(std::string(e.key.begin(), e.key.end()), e.chain).second);
  }
  EXPECT_EQ(endpoint_of.size(), mixed.Endpoints());
  for (const ServiceChain& sc : mixed.services) {
    const auto& rules = by_chain[sc.name];
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[1]->exprs, (std::vector<std::string>{"immediate"}));
    EXPECT_EQ(rules[1]->verdict, static_cast<uint32_t>(NFT_GOTO));
    EXPECT_EQ(rules[1]->jump_chain, DispatchChainName(sc.endpoints.size()));
    for (uint32_t i = 0; i < sc.endpoints.size(); ++i) {
      std::string key = ServiceKey(sc);
      key.append(reinterpret_cast<const char*>(&i), sizeof(i));  // host order, as numgen
      ASSERT_TRUE(endpoint_of.count(key)) << sc.name << " " << i;
      EXPECT_EQ(endpoint_of.at(key), sc.endpoints[i].name);
    }
  }
  // The dispatch rules bind the map before any element is added to it.
  size_t first_elem_msg = p.types.size(), last_dispatch_rule = 0, rule = 0;
  for (size_t i = 0; i < p.types.size(); ++i) {
    if (p.types[i] == NFT_MSG_NEWSETELEM && first_elem_msg == p.types.size()) first_elem_msg = i;
    if (p.types[i] == NFT_MSG_NEWRULE) {
      if (p.rules[rule].chain.rfind(kDispatchChainPrefix, 0) == 0) last_dispatch_rule = i;
      ++rule;
    }
  }
  EXPECT_LT(last_dispatch_rule, first_elem_msg);
}

TEST(NftBatchTest, RuleCascadeGivesEachEndpointItsShare) {
  const Ruleset rs = BuildRuleset(Generate({.seed = 3, .services = 10, .endpoints_per_service = 3}),
                                  {.dispatch = EndpointDispatch::kRuleCascade});
  const Parsed p = ParseBatch(BuildFullSyncBatch(rs));
  EXPECT_EQ(p.sets.size(), 1u);  // service-ips only
  EXPECT_EQ(p.rules.size(), rs.Rules() + std::size(kBaseChains));
  auto by_chain = ByChain(p);
  for (const ServiceChain& sc : rs.services) {
    const auto& rules = by_chain[sc.name];
    ASSERT_EQ(rules.size(), 1 + sc.endpoints.size());
    for (size_t i = 0; i < sc.endpoints.size(); ++i) {
      const ParsedRule& r = *rules[1 + i];
      EXPECT_EQ(r.jump_chain, sc.endpoints[i].name);
      EXPECT_EQ(r.verdict, static_cast<uint32_t>(NFT_GOTO));
      if (i + 1 < sc.endpoints.size()) {
        EXPECT_EQ(r.exprs, (std::vector<std::string>{"numgen", "cmp", "immediate"}));
        EXPECT_EQ(r.numgen_mod, sc.endpoints.size() - i);
      } else {
        EXPECT_EQ(r.exprs, (std::vector<std::string>{"immediate"}));
      }
    }
  }
}

TEST(NftBatchTest, LargeBatchSpansPagesAndSplitsElements) {
  const Ruleset rs =
      BuildRuleset(Generate({.seed = 5, .services = 20000, .endpoints_per_service = 2}));
  const Batch batch = BuildFullSyncBatch(rs, {.first_seq = 1});
  EXPECT_GT(batch.Iovecs().size(), 1u);
  const Parsed p = ParseBatch(batch);
  EXPECT_EQ(p.types.size(), batch.Messages() + 2);
  for (size_t i = 1; i < p.seqs.size(); ++i) ASSERT_EQ(p.seqs[i], p.seqs[i - 1] + 1);
  size_t service_ips = 0;
  for (const ParsedElem& e : p.elems) service_ips += e.set == "service-ips";
  EXPECT_EQ(service_ips, rs.services.size());
  // 20000 elements of ~100 bytes cannot share one 64 KiB message.
  EXPECT_GT(p.element_messages, rs.services.size() + 1);
  EXPECT_EQ(p.chains.size(), rs.Chains());
  EXPECT_EQ(p.rules.size(), rs.Rules() + std::size(kBaseChains));
}

TEST(NftBatchTest, ClearBatchAddsThenDeletes) {
  const Parsed p = ParseBatch(BuildClearBatch({.first_seq = 9}));
  EXPECT_EQ(p.table_ops, (std::vector<std::string>{"new kube-proxy", "del kube-proxy"}));
  EXPECT_EQ(p.seqs.front(), 9u);
}

// Offset of the n-th element attribute of a NEWSETELEM message, as the kernel reports it in
// NLMSGERR_ATTR_OFFS.
uint32_t ElementOffset(const nlmsghdr* nlh, size_t n) {
  const char* payload =
      static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
  int left = static_cast<int>(reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len - payload);
  auto* a = reinterpret_cast<const nlattr*>(payload);
  while (mnl_attr_ok(a, left)) {
    if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS) {
      auto* e = static_cast<const nlattr*>(mnl_attr_get_payload(a));
      for (size_t i = 0; i < n; ++i) e = mnl_attr_next(e);
      return static_cast<uint32_t>(reinterpret_cast<const char*>(e) -
                                   reinterpret_cast<const char*>(nlh));
    }
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
  return 0;
}

TEST(NftBatchTest, DescribeNamesTheElementAtTheKernelsOffset) {
  const Ruleset rs = SmallRuleset();
  const Batch batch = BuildFullSyncBatch(rs, {.duplicate_service_element = 1});
  const uint32_t seq = batch.LastSeq();  // the service-ips elements come last
  ASSERT_EQ(batch.Ref(seq)->kind, MsgKind::kServiceIpsElems);
  const nlmsghdr* nlh = batch.FindMessage(seq);
  ASSERT_NE(nlh, nullptr);
  // Elements: service 0, service 1, service 1 again (the duplicate), service 2.
  const std::string desc = batch.Describe(seq, rs, ElementOffset(nlh, 2));
  const ServiceChain& sc = rs.services[1];
  EXPECT_EQ(desc, "NEWSETELEM service-ips " + FormatIpv4(sc.vip) + " . tcp . " +
                      std::to_string(sc.port) + " (goto " + sc.name + ")");
  EXPECT_EQ(batch.Describe(seq, rs, std::nullopt), "NEWSETELEM service-ips");
}

TEST(NftBatchTest, DescribeNamesASharedMapElement) {
  const Ruleset rs = BuildRuleset(Generate({.seed = 42, .services = 3, .endpoints_per_service = 2}),
                                  {.dispatch = EndpointDispatch::kSharedMap});
  const Batch batch = BuildFullSyncBatch(rs);
  uint32_t seq = 0;
  for (uint32_t s = batch.BeginSeq(); s <= batch.LastSeq(); ++s) {
    if (batch.Ref(s)->kind == MsgKind::kServiceEndpointsElems) seq = s;
  }
  ASSERT_NE(seq, 0u);
  const nlmsghdr* nlh = batch.FindMessage(seq);
  ASSERT_NE(nlh, nullptr);
  // Elements: service 0's endpoints 0 and 1, then service 1's.
  const ServiceChain& sc = rs.services[1];
  EXPECT_EQ(batch.Describe(seq, rs, ElementOffset(nlh, 3)),
            "NEWSETELEM service-endpoints " + FormatIpv4(sc.vip) + " . tcp . " +
                std::to_string(sc.port) + " . 1 (goto " + sc.endpoints[1].name + ")");
  bool saw_goto = false, saw_dispatch = false;
  for (uint32_t s = batch.BeginSeq(); s <= batch.LastSeq(); ++s) {
    const MsgRef* ref = batch.Ref(s);
    const std::string d = batch.Describe(s, rs, std::nullopt);
    if (ref->kind == MsgKind::kDispatchGotoRule && ref->service == 2) {
      EXPECT_EQ(d, "NEWRULE " + rs.services[2].name + " goto endpoints-mod-2");
      saw_goto = true;
    }
    if (ref->kind == MsgKind::kDispatchRule) {
      EXPECT_EQ(d,
                "NEWRULE endpoints-mod-2 ip daddr . meta l4proto . th dport . numgen random mod 2 "
                "vmap @service-endpoints");
      saw_dispatch = true;
    }
  }
  EXPECT_TRUE(saw_goto);
  EXPECT_TRUE(saw_dispatch);
}

TEST(NftBatchTest, DescribeNamesRulesAndChains) {
  const Ruleset rs = SmallRuleset();
  const Batch batch = BuildFullSyncBatch(rs);
  bool saw_dnat = false, saw_chain = false;
  for (uint32_t seq = batch.BeginSeq(); seq <= batch.LastSeq() + 1; ++seq) {
    const MsgRef* ref = batch.Ref(seq);
    ASSERT_NE(ref, nullptr);
    const std::string d = batch.Describe(seq, rs, std::nullopt);
    if (ref->kind == MsgKind::kDnatRule && ref->service == 2 && ref->index == 1) {
      EXPECT_EQ(d, "NEWRULE " + rs.services[2].endpoints[1].name + " dnat");
      saw_dnat = true;
    }
    if (ref->kind == MsgKind::kServiceChain && ref->service == 0) {
      EXPECT_EQ(d, "NEWCHAIN " + rs.services[0].name);
      saw_chain = true;
    }
  }
  EXPECT_TRUE(saw_dnat);
  EXPECT_TRUE(saw_chain);
  EXPECT_EQ(batch.Ref(batch.LastSeq() + 2), nullptr);
}

}  // namespace
}  // namespace svcbench::nft
