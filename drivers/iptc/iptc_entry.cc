#include "drivers/iptc/iptc_entry.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <netinet/in.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace svcbench::iptc {
namespace {

constexpr size_t kMatchHeader = XT_ALIGN(sizeof(xt_entry_match));
constexpr size_t kTargetHeader = XT_ALIGN(sizeof(xt_entry_target));

}  // namespace

uint32_t EncodeStatisticProbability(double p) {
  if (!(p >= 0 && p <= 1)) {
    throw std::invalid_argument(fmt::format("statistic probability {} is not in [0, 1]", p));
  }
  return static_cast<uint32_t>(std::lround(p * 2147483648.0));  // 2^31
}

uint32_t StatisticProbabilityOneIn(size_t n) {
  if (n == 0) throw std::invalid_argument("statistic probability 1/0");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0.10f", 1.0 / static_cast<double>(n));
  return EncodeStatisticProbability(std::strtod(buf, nullptr));
}

uint32_t PrefixMask(int prefix) {
  if (prefix <= 0) return 0;
  if (prefix >= 32) return 0xffffffffu;
  return ~0u << (32 - prefix);
}

Cidr ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  in_addr a{};
  Cidr c;
  bool ok = ::inet_pton(AF_INET, addr.c_str(), &a) == 1;
  if (ok && slash != std::string_view::npos) {
    const std::string p(text.substr(slash + 1));
    char* end = nullptr;
    const long prefix = std::strtol(p.c_str(), &end, 10);
    ok = !p.empty() && *end == '\0' && prefix >= 0 && prefix <= 32;
    c.prefix = static_cast<int>(prefix);
  }
  if (!ok) throw std::invalid_argument(fmt::format("not an IPv4 CIDR: '{}'", text));
  c.ip = ntohl(a.s_addr) & PrefixMask(c.prefix);
  return c;
}

EntryBuilder& EntryBuilder::Reset() {
  used_ = 0;
  has_target_ = false;
  if (buf_.size() < 128) buf_.resize(128);
  Grow(XT_ALIGN(sizeof(ipt_entry)));
  return *this;
}

unsigned char* EntryBuilder::Grow(size_t bytes) {
  const size_t need = used_ + bytes;
  if (need > buf_.size() * sizeof(uint64_t)) buf_.resize((2 * need + 7) / sizeof(uint64_t));
  auto* p = reinterpret_cast<unsigned char*>(buf_.data()) + used_;
  std::memset(p, 0, bytes);
  used_ = need;
  return p;
}

EntryBuilder& EntryBuilder::Source(Ipv4 ip, int prefix, bool invert) {
  ipt_ip& ip_part = MutableEntry().ip;
  ip_part.src.s_addr = htonl(ip & PrefixMask(prefix));
  ip_part.smsk.s_addr = htonl(PrefixMask(prefix));
  if (invert) ip_part.invflags |= IPT_INV_SRCIP;
  return *this;
}

EntryBuilder& EntryBuilder::Destination(Ipv4 ip, int prefix) {
  ipt_ip& ip_part = MutableEntry().ip;
  ip_part.dst.s_addr = htonl(ip & PrefixMask(prefix));
  ip_part.dmsk.s_addr = htonl(PrefixMask(prefix));
  return *this;
}

EntryBuilder& EntryBuilder::Proto(Protocol p) {
  MutableEntry().ip.proto = p == Protocol::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
  return *this;
}

void* EntryBuilder::AddMatch(const char* name, uint8_t revision, size_t info_size) {
  if (has_target_) throw std::logic_error("EntryBuilder: match added after the target");
  const size_t size = kMatchHeader + XT_ALIGN(info_size);
  auto* m = reinterpret_cast<xt_entry_match*>(Grow(size));
  m->u.user.match_size = static_cast<uint16_t>(size);
  std::strncpy(m->u.user.name, name, sizeof m->u.user.name - 1);
  m->u.user.revision = revision;
  return m->data;
}

void* EntryBuilder::AddTarget(const char* name, uint8_t revision, size_t info_size) {
  if (has_target_) throw std::logic_error("EntryBuilder: second target");
  has_target_ = true;
  const size_t target_offset = used_;
  const size_t size = kTargetHeader + XT_ALIGN(info_size);
  auto* t = reinterpret_cast<xt_entry_target*>(Grow(size));
  t->u.user.target_size = static_cast<uint16_t>(size);
  std::strncpy(t->u.user.name, name, sizeof t->u.user.name - 1);
  t->u.user.revision = revision;
  MutableEntry().target_offset = static_cast<uint16_t>(target_offset);
  return t->data;
}

const ipt_entry& EntryBuilder::Finish() {
  MutableEntry().next_offset = static_cast<uint16_t>(used_);
  return Entry();
}

EntryBuilder& EntryBuilder::Comment(std::string_view text) {
  if (text.size() >= XT_MAX_COMMENT_LEN) {
    throw std::invalid_argument(
        fmt::format("comment longer than {} bytes: '{}'", XT_MAX_COMMENT_LEN - 1, text));
  }
  auto* info = static_cast<xt_comment_info*>(AddMatch("comment", 0, sizeof(xt_comment_info)));
  std::memcpy(info->comment, text.data(), text.size());
  return *this;
}

namespace {

// xt_tcp and xt_udp start alike: spts[2], dpts[2].
template <typename Info>
void SetPorts(Info* info, uint16_t dport_min, uint16_t dport_max) {
  info->spts[0] = 0;
  info->spts[1] = 0xffff;
  info->dpts[0] = dport_min;
  info->dpts[1] = dport_max;
}

}  // namespace

EntryBuilder& EntryBuilder::DestinationPort(Protocol p, uint16_t port) {
  if (p == Protocol::kTcp) {
    SetPorts(static_cast<xt_tcp*>(AddMatch("tcp", 0, sizeof(xt_tcp))), port, port);
  } else {
    SetPorts(static_cast<xt_udp*>(AddMatch("udp", 0, sizeof(xt_udp))), port, port);
  }
  return *this;
}

EntryBuilder& EntryBuilder::ProtocolMatch(Protocol p) {
  if (p == Protocol::kTcp) {
    SetPorts(static_cast<xt_tcp*>(AddMatch("tcp", 0, sizeof(xt_tcp))), 0, 0xffff);
  } else {
    SetPorts(static_cast<xt_udp*>(AddMatch("udp", 0, sizeof(xt_udp))), 0, 0xffff);
  }
  return *this;
}

EntryBuilder& EntryBuilder::StatisticRandom(uint32_t probability) {
  auto* info = static_cast<xt_statistic_info*>(AddMatch("statistic", 0, sizeof(xt_statistic_info)));
  info->mode = XT_STATISTIC_MODE_RANDOM;
  info->u.random.probability = probability;
  // libxt_statistic's final check sets count = every - packet whatever the mode; in random mode
  // `every` aliases the probability and `packet` is 0. The kernel ignores it in random mode, but
  // copying it keeps our entries byte-identical to iptables-legacy's.
  info->u.nth.count = probability;
  return *this;
}

EntryBuilder& EntryBuilder::Mark(uint32_t mark, uint32_t mask, bool invert) {
  auto* info = static_cast<xt_mark_mtinfo1*>(AddMatch("mark", 1, sizeof(xt_mark_mtinfo1)));
  info->mark = mark;
  info->mask = mask;
  info->invert = invert ? 1 : 0;
  return *this;
}

EntryBuilder& EntryBuilder::AddrTypeDstLocal() {
  auto* info =
      static_cast<xt_addrtype_info_v1*>(AddMatch("addrtype", 1, sizeof(xt_addrtype_info_v1)));
  info->dest = XT_ADDRTYPE_LOCAL;
  return *this;
}

const ipt_entry& EntryBuilder::Jump(std::string_view chain_or_verdict) {
  if (chain_or_verdict.empty() || chain_or_verdict.size() >= XT_EXTENSION_MAXNAMELEN) {
    throw std::invalid_argument(fmt::format("bad jump target '{}'", chain_or_verdict));
  }
  const std::string name(chain_or_verdict);
  // xt_standard_target is the header plus the verdict; libiptc checks this exact size.
  AddTarget(name.c_str(), 0, sizeof(int));
  return Finish();
}

const ipt_entry& EntryBuilder::Dnat(Ipv4 ip, uint16_t port) {
  auto* r = static_cast<nf_nat_range2*>(AddTarget("DNAT", 2, sizeof(nf_nat_range2)));
  r->flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
  r->min_addr.ip = r->max_addr.ip = htonl(ip);
  r->min_proto.all = r->max_proto.all = htons(port);
  return Finish();
}

const ipt_entry& EntryBuilder::Masquerade(bool random_fully) {
  auto* r = static_cast<nf_nat_ipv4_multi_range_compat*>(
      AddTarget("MASQUERADE", 0, sizeof(nf_nat_ipv4_multi_range_compat)));
  r->rangesize = 1;
  if (random_fully) r->range[0].flags = NF_NAT_RANGE_PROTO_RANDOM_FULLY;
  return Finish();
}

const ipt_entry& EntryBuilder::OrMark(uint32_t bits) {
  auto* info = static_cast<xt_mark_tginfo2*>(AddTarget("MARK", 2, sizeof(xt_mark_tginfo2)));
  info->mark = info->mask = bits;
  return Finish();
}

const ipt_entry& EntryBuilder::XorMark(uint32_t bits) {
  auto* info = static_cast<xt_mark_tginfo2*>(AddTarget("MARK", 2, sizeof(xt_mark_tginfo2)));
  info->mark = bits;
  info->mask = 0;
  return Finish();
}

}  // namespace svcbench::iptc
