#include "drivers/nftables/nft_batch.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <fmt/format.h>

#include <array>
#include <bit>
#include <cstring>
#include <new>

namespace svcbench::nft {
namespace {

// Large pages keep the iovec count far below IOV_MAX (1024) even for 100k services; the overrun
// lets one message (a 64 KiB element list at most) spill past a page before it is moved on.
constexpr uint32_t kPageSize = 4u << 20;
constexpr uint32_t kPageOverrun = UINT16_MAX + 4096;

// nft's datatype ids (nftables src/datatype.h). The kernel keeps them opaque; nft reads them
// back to print keys, so they must match what nft itself sends.
constexpr uint32_t kTypeInteger = 4;
constexpr uint32_t kTypeIpAddr = 7;
constexpr uint32_t kTypeInetProto = 12;
constexpr uint32_t kTypeInetService = 13;
constexpr uint32_t kConcatTypeBits = 6;
constexpr uint32_t kServiceIpsKeyType =
    (((kTypeIpAddr << kConcatTypeBits) | kTypeInetProto) << kConcatTypeBits) | kTypeInetService;
// ipv4_addr . inet_proto . inet_service, each padded to a 32-bit register.
constexpr uint32_t kServiceIpsKeyLen = 12;
// service-endpoints: the same three fields, then numgen's host-order integer.
constexpr uint32_t kServiceEndpointsKeyType =
    (kServiceIpsKeyType << kConcatTypeBits) | kTypeInteger;
constexpr uint32_t kServiceEndpointsKeyLen = 16;
// The set user data nft 1.0.6 sends for `typeof ip daddr . meta l4proto . th dport . numgen
// random mod 2 : verdict` (key and data byte order, then how to print key and data), captured
// with `nft --debug=mnl`. Without it `nft list` cannot print the map's integer key field. Its
// integers are in host byte order, as nft writes them on this (little-endian) machine.
static_assert(std::endian::native == std::endian::little);
constexpr uint8_t kServiceEndpointsUdata[] = {
    0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x60, 0x00, 0x04,
    0x0d, 0x00, 0x00, 0x00, 0x01, 0x58, 0x00, 0x14, 0x00, 0x04, 0x07, 0x00, 0x00, 0x00, 0x01, 0x0c,
    0x00, 0x04, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x04, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x00, 0x04,
    0x09, 0x00, 0x00, 0x00, 0x01, 0x06, 0x00, 0x04, 0x10, 0x00, 0x00, 0x00, 0x02, 0x14, 0x00, 0x04,
    0x07, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x00, 0x04, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x04, 0x02, 0x00,
    0x00, 0x00, 0x03, 0x1a, 0x00, 0x04, 0x17, 0x00, 0x00, 0x00, 0x01, 0x12, 0x00, 0x04, 0x01, 0x00,
    0x00, 0x00, 0x01, 0x04, 0x02, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x08,
    0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
static_assert(sizeof(kServiceEndpointsUdata) == 126);
// nft's byte order tags in set user data (BYTEORDER_INVALID for a concatenation).
constexpr uint32_t kByteorderInvalid = 0;
constexpr uint32_t kByteorderHost = 1;

constexpr uint16_t kFamily = NFPROTO_IPV4;
// Where nft puts the three parts of a concatenated key: NFT_REG_1 is 16 bytes wide and aliases
// NFT_REG32_00..03, so the next parts go to the following 32-bit registers.
constexpr uint32_t kRegKey = NFT_REG_1;
constexpr uint32_t kRegProto = NFT_REG32_01;
constexpr uint32_t kRegPort = NFT_REG32_02;
constexpr uint32_t kRegIndex = NFT_REG32_03;

struct RuleDeleter {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
struct ChainDeleter {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct SetDeleter {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct TableDeleter {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct UdataDeleter {
  void operator()(nftnl_udata_buf* u) const { nftnl_udata_buf_free(u); }
};
struct IterDeleter {
  void operator()(nftnl_set_elems_iter* i) const { nftnl_set_elems_iter_destroy(i); }
};
using RulePtr = std::unique_ptr<nftnl_rule, RuleDeleter>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainDeleter>;
using SetPtr = std::unique_ptr<nftnl_set, SetDeleter>;
using TablePtr = std::unique_ptr<nftnl_table, TableDeleter>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, UdataDeleter>;
using IterPtr = std::unique_ptr<nftnl_set_elems_iter, IterDeleter>;

template <class T>
T Checked(T p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

std::array<uint8_t, 4> Be32(Ipv4 ip) {
  return {static_cast<uint8_t>(ip >> 24), static_cast<uint8_t>(ip >> 16),
          static_cast<uint8_t>(ip >> 8), static_cast<uint8_t>(ip)};
}
std::array<uint8_t, 2> Be16(uint16_t v) {
  return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

uint8_t IpProto(Protocol p) { return p == Protocol::kUdp ? IPPROTO_UDP : IPPROTO_TCP; }

// One rule under construction; the helpers append the expressions nft generates.
class RuleBuilder {
 public:
  explicit RuleBuilder(std::string_view chain) : r_(Checked(nftnl_rule_alloc())) {
    nftnl_rule_set_str(r_.get(), NFTNL_RULE_TABLE, kTable.data());
    // Chain names come from std::string or NUL-terminated constants.
    nftnl_rule_set_str(r_.get(), NFTNL_RULE_CHAIN, std::string(chain).c_str());
    nftnl_rule_set_u32(r_.get(), NFTNL_RULE_FAMILY, kFamily);
  }
  nftnl_rule* get() { return r_.get(); }

  void Payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
    nftnl_expr* e = Expr("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  }
  void MetaLoad(uint32_t key, uint32_t dreg) {
    nftnl_expr* e = Expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  }
  void MetaStore(uint32_t key, uint32_t sreg) {
    nftnl_expr* e = Expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
  }
  void Cmp(uint32_t op, const void* data, uint32_t len) {
    nftnl_expr* e = Expr("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  }
  // reg1 = (reg1 & mask) ^ xor, on a host-order 32-bit value.
  void Bitwise(uint32_t mask, uint32_t xor_value) {
    nftnl_expr* e = Expr("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor_value, sizeof(xor_value));
  }
  void Verdict(int verdict, std::string_view chain = {}) {
    nftnl_expr* e = Expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(verdict));
    if (!chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, std::string(chain).c_str());
  }
  void Immediate(uint32_t dreg, const void* data, uint32_t len) {
    nftnl_expr* e = Expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
  }
  void Lookup(uint32_t sreg, std::string_view set, uint32_t set_id) {
    nftnl_expr* e = Expr("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, std::string(set).c_str());
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
  }
  void NumgenRandom(uint32_t modulus, uint32_t dreg = NFT_REG_1) {
    nftnl_expr* e = Expr("numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
  }
  // reg1 == value, a host-order 32-bit integer (numgen's result).
  void CmpU32(uint32_t value) { Cmp(NFT_CMP_EQ, &value, sizeof(value)); }
  // ip daddr . meta l4proto . th dport into reg1 and the 32-bit registers after it.
  void LoadServiceKey() {
    Payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, kRegKey);
    MetaLoad(NFT_META_L4PROTO, kRegProto);
    Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kRegPort);
  }
  // dnat to reg1:reg2 (address and port already loaded).
  void Dnat() {
    nftnl_expr* e = Expr("nat");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
  }
  void MasqueradeFullyRandom() {
    nftnl_expr* e = Expr("masq");
    nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
  }

  // "meta l4proto tcp" (also nft's implicit dependency of "tcp dport").
  void MatchL4Proto(Protocol p) {
    const uint8_t proto = IpProto(p);
    MetaLoad(NFT_META_L4PROTO, NFT_REG_1);
    Cmp(NFT_CMP_EQ, &proto, sizeof(proto));
  }
  // ip saddr/daddr == ip
  void MatchAddr(bool daddr, Ipv4 ip) {
    const auto be = Be32(ip);
    Payload(NFT_PAYLOAD_NETWORK_HEADER, daddr ? 16 : 12, 4, NFT_REG_1);
    Cmp(NFT_CMP_EQ, be.data(), be.size());
  }
  // ip saddr != net/prefix, loading only the prefix bytes when the prefix is byte-aligned, as
  // nft does.
  void MatchSaddrNotIn(Ipv4 net, int prefix) {
    const auto be = Be32(net);
    if (prefix % 8 == 0) {
      Payload(NFT_PAYLOAD_NETWORK_HEADER, 12, static_cast<uint32_t>(prefix / 8), NFT_REG_1);
      Cmp(NFT_CMP_NEQ, be.data(), static_cast<uint32_t>(prefix / 8));
      return;
    }
    const Ipv4 mask_host = ~0u << (32 - prefix);
    const auto mask_be = Be32(mask_host);
    uint32_t mask;
    std::memcpy(&mask, mask_be.data(), sizeof(mask));
    Payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
    Bitwise(mask, 0);
    Cmp(NFT_CMP_NEQ, be.data(), be.size());
  }
  void MatchDport(Protocol p, uint16_t port) {
    MatchL4Proto(p);
    const auto be = Be16(port);
    Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
    Cmp(NFT_CMP_EQ, be.data(), be.size());
  }

 private:
  nftnl_expr* Expr(const char* name) {
    nftnl_expr* e = Checked(nftnl_expr_alloc(name));
    nftnl_rule_add_expr(r_.get(), e);  // the rule owns it from here
    return e;
  }
  RulePtr r_;
};

UdataPtr Udata() { return UdataPtr(Checked(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN))); }

}  // namespace

class BatchBuilder {
 public:
  explicit BatchBuilder(const BatchOptions& options) {
    batch_.batch_.reset(Checked(nftnl_batch_alloc(kPageSize, kPageOverrun)));
    batch_.first_seq_ = options.first_seq;
    batch_.ack_ = options.ack;
    seq_ = options.first_seq;
    batch_.refs_.push_back({MsgKind::kBatchBegin});
    nftnl_batch_begin(Buffer(), seq_++);
    Next(nullptr);
  }

  nlmsghdr* Start(uint16_t type, uint16_t flags, MsgRef ref) {
    if (batch_.ack_ == AckMode::kEveryMessage) flags |= NLM_F_ACK;
    batch_.refs_.push_back(ref);
    return nftnl_nlmsg_build_hdr(Buffer(), type, kFamily, flags, seq_++);
  }
  void Finish(nlmsghdr* nlh) { Next(nlh); }

  void Rule(RuleBuilder& rb, MsgRef ref) {
    nlmsghdr* nlh = Start(NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE, ref);
    nftnl_rule_nlmsg_build_payload(nlh, rb.get());
    Finish(nlh);
  }

  void Chain(std::string_view name, MsgRef ref, const BaseChain* base = nullptr) {
    ChainPtr c(Checked(nftnl_chain_alloc()));
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTable.data());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, std::string(name).c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, kFamily);
    if (base != nullptr) {
      uint32_t hook = NF_INET_PRE_ROUTING;
      if (base->hook == Hook::kOutput) hook = NF_INET_LOCAL_OUT;
      if (base->hook == Hook::kPostrouting) hook = NF_INET_POST_ROUTING;
      nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook);
      nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, base->priority);
      nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "nat");
    }
    nlmsghdr* nlh = Start(NFT_MSG_NEWCHAIN, NLM_F_CREATE, ref);
    nftnl_chain_nlmsg_build_payload(nlh, c.get());
    Finish(nlh);
  }

  void Table(uint16_t type, const nftnl_udata_buf* udata, MsgRef ref) {
    TablePtr t(Checked(nftnl_table_alloc()));
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, kTable.data());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kFamily);
    if (udata != nullptr) {
      nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(udata),
                           nftnl_udata_buf_len(udata));
    }
    nlmsghdr* nlh = Start(type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, ref);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    Finish(nlh);
  }

  void Set(nftnl_set* s, MsgRef ref) {
    nlmsghdr* nlh = Start(NFT_MSG_NEWSET, NLM_F_CREATE, ref);
    nftnl_set_nlmsg_build_payload(nlh, s);
    Finish(nlh);
  }

  // As many NEWSETELEM messages as the elements need. NLM_F_EXCL because the set is new in this
  // transaction: a duplicate is a bug to report, not something to merge silently.
  void Elements(nftnl_set* s, MsgRef ref) {
    IterPtr it(Checked(nftnl_set_elems_iter_create(s)));
    for (;;) {
      nlmsghdr* nlh = Start(NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, ref);
      const int more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it.get());
      Finish(nlh);
      if (more <= 0) break;
    }
  }

  uint32_t NextSetId() { return ++set_id_; }

  Batch Done() && {
    // kLastMessage: the only ACK that proves the whole transaction went through.
    if (batch_.ack_ == AckMode::kLastMessage && last_ != nullptr) last_->nlmsg_flags |= NLM_F_ACK;
    batch_.refs_.push_back({MsgKind::kBatchEnd});
    nftnl_batch_end(Buffer(), seq_++);
    Next(nullptr);
    return std::move(batch_);
  }

 private:
  char* Buffer() { return static_cast<char*>(nftnl_batch_buffer(batch_.batch_.get())); }

  void Next(nlmsghdr* nlh) {
    const uint32_t len = nlh != nullptr ? nlh->nlmsg_len : 0;
    if (nftnl_batch_update(batch_.batch_.get()) < 0) throw std::bad_alloc();
    // A message that overflowed its page was copied to the start of a new one; either way it
    // now ends where the next message begins.
    if (nlh != nullptr) last_ = reinterpret_cast<nlmsghdr*>(Buffer() - len);
  }

  Batch batch_;
  uint32_t seq_ = 0;
  uint32_t set_id_ = 0;
  nlmsghdr* last_ = nullptr;
};

namespace {

std::array<uint8_t, kServiceIpsKeyLen> ServiceKey(const ServiceChain& sc) {
  std::array<uint8_t, kServiceIpsKeyLen> key{};
  const auto vip = Be32(sc.vip);
  const auto port = Be16(sc.port);
  std::memcpy(key.data(), vip.data(), 4);
  key[4] = IpProto(sc.protocol);
  std::memcpy(key.data() + 8, port.data(), 2);
  return key;
}

void AddGotoElement(nftnl_set* s, const void* key, uint32_t key_len, const std::string& chain) {
  nftnl_set_elem* e = Checked(nftnl_set_elem_alloc());
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, key_len);
  nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
  nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain.c_str());
  nftnl_set_elem_add(s, e);
}

void AddServiceElement(nftnl_set* s, const ServiceChain& sc) {
  const auto key = ServiceKey(sc);
  AddGotoElement(s, key.data(), key.size(), sc.name);
}

// service-endpoints: vip . proto . port . i -> goto endpoint i, for every endpoint of `sc`.
void AddEndpointElements(nftnl_set* s, const ServiceChain& sc) {
  std::array<uint8_t, kServiceEndpointsKeyLen> key{};
  const auto prefix = ServiceKey(sc);
  std::memcpy(key.data(), prefix.data(), prefix.size());
  for (uint32_t i = 0; i < sc.endpoints.size(); ++i) {
    std::memcpy(key.data() + prefix.size(), &i, sizeof(i));  // numgen writes host order
    AddGotoElement(s, key.data(), key.size(), sc.endpoints[i].name);
  }
}

// A set object that only names its set, to carry elements.
SetPtr ElementsOf(std::string_view set) {
  SetPtr s(Checked(nftnl_set_alloc()));
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTable.data());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, std::string(set).c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
  return s;
}

// What the per-service part of a batch shares.
struct ServiceContext {
  const Ruleset& rs;
  const BatchOptions& options;
  const nftnl_udata_buf* numgen_udata;  // kAnonymousMap
  nftnl_set* endpoint_elems;            // kSharedMap: collects service-endpoints elements
  uint32_t anonymous_sets = 0;          // numbered so far, for number_anonymous_sets
};

// kube-proxy's `numgen random mod N vmap { 0 : goto ep0, ... }`: an anonymous constant map,
// created and filled in this transaction and bound by the rule that follows, as nft does.
void BuildAnonymousMapDispatch(BatchBuilder& b, ServiceContext& ctx, uint32_t s) {
  const ServiceChain& sc = ctx.rs.services[s];
  const uint32_t set_id = b.NextSetId();
  const std::string name = ctx.options.number_anonymous_sets
                               ? fmt::format("__map{}", ctx.anonymous_sets++)
                               : std::string("__map%d");
  SetPtr map(Checked(nftnl_set_alloc()));
  nftnl_set_set_str(map.get(), NFTNL_SET_TABLE, kTable.data());
  nftnl_set_set_str(map.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(map.get(), NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_u32(map.get(), NFTNL_SET_ID, set_id);
  nftnl_set_set_u32(map.get(), NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP);
  nftnl_set_set_u32(map.get(), NFTNL_SET_KEY_TYPE, kTypeInteger);
  nftnl_set_set_u32(map.get(), NFTNL_SET_KEY_LEN, sizeof(uint32_t));
  nftnl_set_set_u32(map.get(), NFTNL_SET_DATA_TYPE, static_cast<uint32_t>(NFT_DATA_VERDICT));
  nftnl_set_set_u32(map.get(), NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(sc.endpoints.size()));
  nftnl_set_set_data(map.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ctx.numgen_udata),
                     nftnl_udata_buf_len(ctx.numgen_udata));
  b.Set(map.get(), {MsgKind::kNumgenMap, s});
  for (uint32_t i = 0; i < sc.endpoints.size(); ++i) {
    nftnl_set_elem* e = Checked(nftnl_set_elem_alloc());
    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_KEY, i);  // numgen writes host order
    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
    nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, sc.endpoints[i].name.c_str());
    nftnl_set_elem_add(map.get(), e);
  }
  if (ctx.options.elements_by_set_id) nftnl_set_unset(map.get(), NFTNL_SET_NAME);
  b.Elements(map.get(), {MsgKind::kNumgenElems, s});
  RuleBuilder rb(sc.name);
  rb.NumgenRandom(static_cast<uint32_t>(sc.endpoints.size()));
  rb.Lookup(NFT_REG_1, name, set_id);
  b.Rule(rb, {MsgKind::kNumgenRule, s});
}

// A service's chains, its service chain's rules and, for kAnonymousMap, its map: everything up
// to the rule that binds the map.
void BuildServiceHead(BatchBuilder& b, ServiceContext& ctx, uint32_t s) {
  const ServiceChain& sc = ctx.rs.services[s];
  for (uint32_t i = 0; i < sc.endpoints.size(); ++i) {
    b.Chain(sc.endpoints[i].name, {MsgKind::kEndpointChain, s, i});
  }
  b.Chain(sc.name, {MsgKind::kServiceChain, s});

  {
    RuleBuilder rb(sc.name);
    rb.MatchAddr(/*daddr=*/true, sc.vip);
    rb.MatchDport(sc.protocol, sc.port);
    rb.MatchSaddrNotIn(ctx.rs.options.cluster_cidr, ctx.rs.options.cluster_prefix);
    rb.Verdict(NFT_JUMP, kMarkMasqChain);
    b.Rule(rb, {MsgKind::kMasqRule, s});
  }

  const uint32_t n = static_cast<uint32_t>(sc.endpoints.size());
  switch (ctx.rs.options.dispatch) {
    case EndpointDispatch::kAnonymousMap:
      BuildAnonymousMapDispatch(b, ctx, s);
      break;
    case EndpointDispatch::kSharedMap: {
      AddEndpointElements(ctx.endpoint_elems, sc);
      RuleBuilder rb(sc.name);
      rb.Verdict(NFT_GOTO, DispatchChainName(n));
      b.Rule(rb, {MsgKind::kDispatchGotoRule, s});
      break;
    }
    case EndpointDispatch::kRuleCascade:
      // Endpoint i is taken with probability 1/(n-i) of what is left, so 1/n overall.
      for (uint32_t i = 0; i < n; ++i) {
        RuleBuilder rb(sc.name);
        if (i + 1 < n) {
          rb.NumgenRandom(n - i);
          rb.CmpU32(0);
        }
        rb.Verdict(NFT_GOTO, sc.endpoints[i].name);
        b.Rule(rb, {MsgKind::kCascadeRule, s, i});
      }
      break;
  }
}

void BuildEndpointRules(BatchBuilder& b, const Ruleset& rs, uint32_t s) {
  const ServiceChain& sc = rs.services[s];
  for (uint32_t i = 0; i < sc.endpoints.size(); ++i) {
    const EndpointChain& ep = sc.endpoints[i];
    {
      RuleBuilder rb(ep.name);
      rb.MatchAddr(/*daddr=*/false, ep.ip);
      rb.Verdict(NFT_JUMP, kMarkMasqChain);
      b.Rule(rb, {MsgKind::kHairpinRule, s, i});
    }
    {
      RuleBuilder rb(ep.name);
      rb.MatchL4Proto(sc.protocol);
      const auto ip = Be32(ep.ip);
      const auto port = Be16(ep.port);
      rb.Immediate(NFT_REG_1, ip.data(), ip.size());
      rb.Immediate(NFT_REG_2, port.data(), port.size());
      rb.Dnat();
      b.Rule(rb, {MsgKind::kDnatRule, s, i});
    }
  }
}

// kSharedMap: the map, and one chain per endpoint count doing the lookup. These rules bind the
// map while it is still empty; binding a verdict map makes the kernel check every element already
// in it, and adding an element checks it against every binding, so few bindings keep both cheap.
void BuildSharedMap(BatchBuilder& b, const Ruleset& rs, uint32_t set_id) {
  SetPtr s = ElementsOf(kServiceEndpointsMap);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, set_id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, kServiceEndpointsKeyType);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, kServiceEndpointsKeyLen);
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, static_cast<uint32_t>(NFT_DATA_VERDICT));
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, kServiceEndpointsUdata,
                     sizeof(kServiceEndpointsUdata));
  b.Set(s.get(), {MsgKind::kServiceEndpointsMap});
  const std::vector<uint32_t> moduli = rs.DispatchModuli();
  for (uint32_t i = 0; i < moduli.size(); ++i) {
    const std::string chain = DispatchChainName(moduli[i]);
    b.Chain(chain, {MsgKind::kDispatchChain, 0, i});
    RuleBuilder rb(chain);
    rb.LoadServiceKey();
    rb.NumgenRandom(moduli[i], kRegIndex);
    rb.Lookup(kRegKey, kServiceEndpointsMap, set_id);
    b.Rule(rb, {MsgKind::kDispatchRule, 0, i});
  }
}

void BuildFixed(BatchBuilder& b, const Ruleset& rs, uint32_t service_ips_id) {
  UdataPtr table_udata = Udata();
  nftnl_udata_put_strz(table_udata.get(), NFTNL_UDATA_TABLE_COMMENT, kTableComment.data());
  // "add table" first so that "delete table" cannot fail on a node that has none.
  b.Table(NFT_MSG_NEWTABLE, nullptr, {MsgKind::kNewTable});
  b.Table(NFT_MSG_DELTABLE, nullptr, {MsgKind::kDelTable});
  b.Table(NFT_MSG_NEWTABLE, table_udata.get(), {MsgKind::kNewTable});

  for (uint32_t i = 0; i < std::size(kBaseChains); ++i) {
    b.Chain(kBaseChains[i].name, {MsgKind::kBaseChain, 0, i}, &kBaseChains[i]);
  }
  const std::string_view fixed[] = {kServicesChain, kMasqueradingChain, kMarkMasqChain};
  for (uint32_t i = 0; i < std::size(fixed); ++i) b.Chain(fixed[i], {MsgKind::kFixedChain, 0, i});

  uint32_t r = 0;
  for (const BaseChain& bc : kBaseChains) {
    RuleBuilder rb(bc.name);
    rb.Verdict(NFT_JUMP, bc.jump_to);
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }
  const uint32_t mark = rs.options.masquerade_mark;
  {
    RuleBuilder rb(kMarkMasqChain);
    rb.MetaLoad(NFT_META_MARK, NFT_REG_1);
    rb.Bitwise(~mark, mark);
    rb.MetaStore(NFT_META_MARK, NFT_REG_1);
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }
  {
    RuleBuilder rb(kMasqueradingChain);
    const uint32_t zero = 0;
    rb.MetaLoad(NFT_META_MARK, NFT_REG_1);
    rb.Bitwise(mark, 0);
    rb.Cmp(NFT_CMP_EQ, &zero, sizeof(zero));
    rb.Verdict(NFT_RETURN);
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }
  {
    RuleBuilder rb(kMasqueradingChain);
    rb.MetaLoad(NFT_META_MARK, NFT_REG_1);
    rb.Bitwise(~0u, mark);
    rb.MetaStore(NFT_META_MARK, NFT_REG_1);
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }
  {
    RuleBuilder rb(kMasqueradingChain);
    rb.MasqueradeFullyRandom();
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }

  UdataPtr map_udata = Udata();
  nftnl_udata_put_u32(map_udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderInvalid);
  nftnl_udata_put_u32(map_udata.get(), NFTNL_UDATA_SET_DATABYTEORDER, kByteorderInvalid);
  nftnl_udata_put_strz(map_udata.get(), NFTNL_UDATA_SET_COMMENT, kServiceIpsComment.data());
  SetPtr s = ElementsOf(kServiceIpsMap);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, service_ips_id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, kServiceIpsKeyType);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, kServiceIpsKeyLen);
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, static_cast<uint32_t>(NFT_DATA_VERDICT));
  nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(map_udata.get()),
                     nftnl_udata_buf_len(map_udata.get()));
  b.Set(s.get(), {MsgKind::kServiceIpsMap});
  {
    RuleBuilder rb(kServicesChain);
    rb.LoadServiceKey();
    rb.Lookup(kRegKey, kServiceIpsMap, service_ips_id);
    b.Rule(rb, {MsgKind::kFixedRule, 0, r++});
  }
}

}  // namespace

void Batch::Deleter::operator()(nftnl_batch* b) const { nftnl_batch_free(b); }

Batch::Batch() = default;
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

std::vector<iovec> Batch::Iovecs() const {
  std::vector<iovec> iov(static_cast<size_t>(nftnl_batch_iovec_len(batch_.get())));
  nftnl_batch_iovec(batch_.get(), iov.data(), static_cast<uint32_t>(iov.size()));
  return iov;
}

size_t Batch::Sets() const {
  size_t n = 0;
  for (const MsgRef& r : refs_) {
    n += r.kind == MsgKind::kServiceIpsMap || r.kind == MsgKind::kNumgenMap ||
         r.kind == MsgKind::kServiceEndpointsMap;
  }
  return n;
}

size_t Batch::Bytes() const {
  size_t n = 0;
  for (const iovec& v : Iovecs()) n += v.iov_len;
  return n;
}

const MsgRef* Batch::Ref(uint32_t seq) const {
  const uint32_t i = seq - first_seq_;  // wraps for seq < first_seq_, then fails the check
  return i < refs_.size() ? &refs_[i] : nullptr;
}

const nlmsghdr* Batch::FindMessage(uint32_t seq) const {
  for (const iovec& v : Iovecs()) {
    auto* nlh = static_cast<const nlmsghdr*>(v.iov_base);
    int len = static_cast<int>(v.iov_len);
    while (mnl_nlmsg_ok(nlh, len)) {
      if (nlh->nlmsg_seq == seq) return nlh;
      nlh = mnl_nlmsg_next(nlh, &len);
    }
  }
  return nullptr;
}

Batch BuildFullSyncBatch(const Ruleset& rs, const BatchOptions& options) {
  BatchBuilder b(options);
  const uint32_t service_ips_id = b.NextSetId();
  BuildFixed(b, rs, service_ips_id);

  SetPtr endpoint_elems = ElementsOf(kServiceEndpointsMap);
  if (rs.options.dispatch == EndpointDispatch::kSharedMap) {
    const uint32_t id = b.NextSetId();
    nftnl_set_set_u32(endpoint_elems.get(), NFTNL_SET_ID, id);
    BuildSharedMap(b, rs, id);
  }
  UdataPtr numgen_udata = Udata();
  nftnl_udata_put_u32(numgen_udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderHost);
  nftnl_udata_put_u32(numgen_udata.get(), NFTNL_UDATA_SET_DATABYTEORDER, kByteorderInvalid);
  ServiceContext ctx{rs, options, numgen_udata.get(), endpoint_elems.get()};

  const uint32_t n = static_cast<uint32_t>(rs.services.size());
  if (options.order == BatchOrder::kAsText) {
    for (uint32_t s = 0; s < n; ++s) {
      BuildServiceHead(b, ctx, s);
      BuildEndpointRules(b, rs, s);
    }
  } else {
    for (uint32_t s = 0; s < n; ++s) BuildServiceHead(b, ctx, s);
    for (uint32_t s = 0; s < n; ++s) BuildEndpointRules(b, rs, s);
  }

  if (rs.options.dispatch == EndpointDispatch::kSharedMap && n > 0) {
    b.Elements(endpoint_elems.get(), {MsgKind::kServiceEndpointsElems});
  }
  SetPtr elems = ElementsOf(kServiceIpsMap);
  for (uint32_t s = 0; s < n; ++s) {
    AddServiceElement(elems.get(), rs.services[s]);
    if (options.duplicate_service_element == s) AddServiceElement(elems.get(), rs.services[s]);
  }
  if (n > 0) b.Elements(elems.get(), {MsgKind::kServiceIpsElems});
  return std::move(b).Done();
}

Batch BuildClearBatch(const BatchOptions& options) {
  BatchBuilder b(options);
  b.Table(NFT_MSG_NEWTABLE, nullptr, {MsgKind::kNewTable});
  b.Table(NFT_MSG_DELTABLE, nullptr, {MsgKind::kDelTable});
  return std::move(b).Done();
}

}  // namespace svcbench::nft
