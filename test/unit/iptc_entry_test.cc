// The ipt_entry builders of the iptc backend, field by field, without a kernel: what
// iptables-legacy would put in the kernel for the same command line.
#include "drivers/iptc/iptc_entry.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_statistic.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace svcbench::iptc {
namespace {

// The matches of an entry, walked by match_size as the kernel does.
std::vector<const xt_entry_match*> Matches(const ipt_entry& e) {
  std::vector<const xt_entry_match*> out;
  const auto* base = reinterpret_cast<const unsigned char*>(&e);
  for (size_t off = sizeof(ipt_entry); off < e.target_offset;) {
    const auto* m = reinterpret_cast<const xt_entry_match*>(base + off);
    if (m->u.user.match_size == 0) break;
    out.push_back(m);
    off += m->u.user.match_size;
  }
  return out;
}

const xt_entry_target& Target(const ipt_entry& e) {
  return *reinterpret_cast<const xt_entry_target*>(reinterpret_cast<const unsigned char*>(&e) +
                                                   e.target_offset);
}

constexpr size_t kEntry = sizeof(ipt_entry);
constexpr size_t kHeader = 32;  // XT_ALIGN(sizeof(xt_entry_match / xt_entry_target))

TEST(IptcProbability, EncodesAsLibxtStatisticDoes) {
  EXPECT_EQ(EncodeStatisticProbability(0.5), 0x40000000u);
  EXPECT_EQ(EncodeStatisticProbability(1.0), 0x80000000u);
  EXPECT_EQ(EncodeStatisticProbability(0.0), 0u);
  EXPECT_EQ(EncodeStatisticProbability(0.25), 0x20000000u);
  EXPECT_THROW(EncodeStatisticProbability(1.5), std::invalid_argument);
  EXPECT_THROW(EncodeStatisticProbability(-0.1), std::invalid_argument);
  EXPECT_THROW(EncodeStatisticProbability(std::nan("")), std::invalid_argument);
}

TEST(IptcProbability, OneInNGoesThroughKubeProxysTenDigitText) {
  EXPECT_EQ(StatisticProbabilityOneIn(2), 0x40000000u);
  // 0.3333333333 * 2^31 = 715827882.5948 -> 715827883 (the exact 1/3 rounds the same way).
  EXPECT_EQ(StatisticProbabilityOneIn(3), 715827883u);
  for (size_t n = 2; n <= 5000; ++n) {
    char text[32];
    std::snprintf(text, sizeof text, "%0.10f", 1.0 / static_cast<double>(n));
    const auto expected =
        static_cast<uint32_t>(std::lround(std::strtod(text, nullptr) * 2147483648.0));
    ASSERT_EQ(StatisticProbabilityOneIn(n), expected) << "n=" << n << " text " << text;
  }
  EXPECT_THROW(StatisticProbabilityOneIn(0), std::invalid_argument);
}

TEST(IptcCidr, ParsesAndMasks) {
  const Cidr c = ParseCidr("198.19.0.0/16");
  EXPECT_EQ(c.ip, 0xC6130000u);
  EXPECT_EQ(c.prefix, 16);
  EXPECT_EQ(ParseCidr("10.1.2.3").prefix, 32);
  EXPECT_EQ(ParseCidr("10.1.2.3/8").ip, 0x0A000000u) << "host bits are masked off";
  EXPECT_EQ(PrefixMask(0), 0u);
  EXPECT_EQ(PrefixMask(16), 0xFFFF0000u);
  EXPECT_EQ(PrefixMask(32), 0xFFFFFFFFu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "::1/128"}) {
    EXPECT_THROW(ParseCidr(bad), std::invalid_argument) << bad;
  }
}

TEST(IptcEntryBuilder, ServiceJumpLayout) {
  // -A KUBE-SERVICES -m comment --comment "ns/svc:p cluster IP" -m tcp -p tcp
  //   -d 198.18.0.7/32 --dport 80 -j KUBE-SVC-ABC
  EntryBuilder b;
  const ipt_entry& e = b.Reset()
                           .Comment("ns/svc:p cluster IP")
                           .DestinationPort(Protocol::kTcp, 80)
                           .Proto(Protocol::kTcp)
                           .Destination(0xC6120007, 32)
                           .Jump("KUBE-SVC-ABC");
  EXPECT_EQ(e.ip.dst.s_addr, htonl(0xC6120007));
  EXPECT_EQ(e.ip.dmsk.s_addr, 0xFFFFFFFFu);
  EXPECT_EQ(e.ip.src.s_addr, 0u);
  EXPECT_EQ(e.ip.smsk.s_addr, 0u);
  EXPECT_EQ(e.ip.proto, IPPROTO_TCP);
  EXPECT_EQ(e.ip.invflags, 0);
  EXPECT_EQ(e.ip.flags, 0);
  EXPECT_EQ(e.nfcache, 0u);
  EXPECT_EQ(e.comefrom, 0u);
  EXPECT_EQ(e.counters.pcnt, 0u);

  const auto m = Matches(e);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_STREQ(m[0]->u.user.name, "comment");
  EXPECT_EQ(m[0]->u.user.revision, 0);
  EXPECT_EQ(m[0]->u.user.match_size, kHeader + XT_ALIGN(sizeof(xt_comment_info)));
  EXPECT_STREQ(reinterpret_cast<const xt_comment_info*>(m[0]->data)->comment,
               "ns/svc:p cluster IP");
  EXPECT_STREQ(m[1]->u.user.name, "tcp");
  EXPECT_EQ(m[1]->u.user.revision, 0);
  EXPECT_EQ(m[1]->u.user.match_size, kHeader + XT_ALIGN(sizeof(xt_tcp)));
  const auto* tcp = reinterpret_cast<const xt_tcp*>(m[1]->data);
  EXPECT_EQ(tcp->spts[0], 0);
  EXPECT_EQ(tcp->spts[1], 0xffff);
  EXPECT_EQ(tcp->dpts[0], 80);
  EXPECT_EQ(tcp->dpts[1], 80);
  EXPECT_EQ(tcp->option, 0);
  EXPECT_EQ(tcp->flg_mask, 0);
  EXPECT_EQ(tcp->invflags, 0);

  EXPECT_EQ(e.target_offset, kEntry + 288 + 32 + 16);
  const xt_entry_target& t = Target(e);
  EXPECT_STREQ(t.u.user.name, "KUBE-SVC-ABC");
  EXPECT_EQ(t.u.user.target_size, XT_ALIGN(sizeof(xt_standard_target)));
  EXPECT_EQ(reinterpret_cast<const xt_standard_target&>(t).verdict, 0);
  EXPECT_EQ(e.next_offset, e.target_offset + t.u.user.target_size);
  EXPECT_EQ(b.Size(), e.next_offset);
}

TEST(IptcEntryBuilder, EveryOffsetIsAligned) {
  EntryBuilder b;
  std::vector<const ipt_entry*> entries;
  auto check = [](const ipt_entry& e) {
    EXPECT_EQ(e.target_offset % XT_ALIGN(1), 0u);
    EXPECT_EQ(e.next_offset % XT_ALIGN(1), 0u);
    for (const auto* m : Matches(e)) EXPECT_EQ(m->u.user.match_size % XT_ALIGN(1), 0u);
    EXPECT_EQ(Target(e).u.user.target_size % XT_ALIGN(1), 0u);
    size_t sum = sizeof(ipt_entry);
    for (const auto* m : Matches(e)) sum += m->u.user.match_size;
    EXPECT_EQ(sum, e.target_offset);
  };
  check(b.Reset().Comment("x").Jump("RETURN"));
  check(b.Reset().Comment("odd length").StatisticRandom(1).Jump("KUBE-SEP-X"));
  check(b.Reset().Mark(1, 1, true).Jump("RETURN"));
  check(b.Reset().AddrTypeDstLocal().Jump("KUBE-NODEPORTS"));
  check(b.Reset().DestinationPort(Protocol::kUdp, 53).Dnat(1, 2));
  check(b.Reset().Masquerade(true));
  check(b.Reset().OrMark(0x4000));
}

TEST(IptcEntryBuilder, EndpointRules) {
  EntryBuilder b;
  // -A KUBE-SEP-X -s 198.19.0.9/32 -j KUBE-MARK-MASQ
  const ipt_entry& hairpin = b.Reset().Source(0xC6130009, 32).Jump("KUBE-MARK-MASQ");
  EXPECT_EQ(hairpin.ip.src.s_addr, htonl(0xC6130009));
  EXPECT_EQ(hairpin.ip.smsk.s_addr, 0xFFFFFFFFu);
  EXPECT_EQ(hairpin.ip.invflags, 0);
  EXPECT_EQ(hairpin.target_offset, kEntry);
  EXPECT_TRUE(Matches(hairpin).empty());

  // -A KUBE-SEP-X -m udp -p udp -j DNAT --to-destination 198.19.0.9:8053
  const ipt_entry& dnat =
      b.Reset().ProtocolMatch(Protocol::kUdp).Proto(Protocol::kUdp).Dnat(0xC6130009, 8053);
  EXPECT_EQ(dnat.ip.proto, IPPROTO_UDP);
  const auto m = Matches(dnat);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_STREQ(m[0]->u.user.name, "udp");
  const auto* udp = reinterpret_cast<const xt_udp*>(m[0]->data);
  EXPECT_EQ(udp->spts[1], 0xffff);
  EXPECT_EQ(udp->dpts[0], 0);
  EXPECT_EQ(udp->dpts[1], 0xffff);
  const xt_entry_target& t = Target(dnat);
  EXPECT_STREQ(t.u.user.name, "DNAT");
  EXPECT_EQ(t.u.user.revision, 2);
  EXPECT_EQ(t.u.user.target_size, kHeader + XT_ALIGN(sizeof(nf_nat_range2)));
  const auto* r = reinterpret_cast<const nf_nat_range2*>(t.data);
  EXPECT_EQ(r->flags, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  EXPECT_EQ(r->min_addr.ip, htonl(0xC6130009));
  EXPECT_EQ(r->max_addr.ip, htonl(0xC6130009));
  EXPECT_EQ(r->min_proto.all, htons(8053));
  EXPECT_EQ(r->max_proto.all, htons(8053));
  EXPECT_EQ(r->base_proto.all, 0);
  EXPECT_EQ(dnat.next_offset, dnat.target_offset + t.u.user.target_size);
}

TEST(IptcEntryBuilder, ClusterCidrMasqueradeIsInvertedSource) {
  EntryBuilder b;
  const ipt_entry& e = b.Reset().Source(0xC6130000, 16, true).Jump("KUBE-MARK-MASQ");
  EXPECT_EQ(e.ip.src.s_addr, htonl(0xC6130000));
  EXPECT_EQ(e.ip.smsk.s_addr, htonl(0xFFFF0000));
  EXPECT_EQ(e.ip.invflags, IPT_INV_SRCIP);
}

TEST(IptcEntryBuilder, StatisticRandom) {
  EntryBuilder b;
  const ipt_entry& e = b.Reset().StatisticRandom(StatisticProbabilityOneIn(2)).Jump("KUBE-SEP-A");
  const auto m = Matches(e);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_STREQ(m[0]->u.user.name, "statistic");
  EXPECT_EQ(m[0]->u.user.revision, 0);
  EXPECT_EQ(m[0]->u.user.match_size, kHeader + 24u) << "xt_statistic_info, master aligned(8)";
  const auto* info = reinterpret_cast<const xt_statistic_info*>(m[0]->data);
  EXPECT_EQ(info->mode, XT_STATISTIC_MODE_RANDOM);
  EXPECT_EQ(info->flags, 0);
  EXPECT_EQ(info->u.random.probability, 0x40000000u);
  EXPECT_EQ(info->u.nth.packet, 0u);
  EXPECT_EQ(info->u.nth.count, 0x40000000u) << "as libxt_statistic's check leaves it";
  EXPECT_EQ(info->master, nullptr);
}

TEST(IptcEntryBuilder, MarkMatchAndTargets) {
  EntryBuilder b;
  // -m mark ! --mark 0x4000/0x4000 -j RETURN
  const ipt_entry& ret = b.Reset().Mark(0x4000, 0x4000, true).Jump("RETURN");
  auto m = Matches(ret);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_STREQ(m[0]->u.user.name, "mark");
  EXPECT_EQ(m[0]->u.user.revision, 1);
  EXPECT_EQ(m[0]->u.user.match_size, kHeader + 16u);
  const auto* mi = reinterpret_cast<const xt_mark_mtinfo1*>(m[0]->data);
  EXPECT_EQ(mi->mark, 0x4000u);
  EXPECT_EQ(mi->mask, 0x4000u);
  EXPECT_EQ(mi->invert, 1);
  EXPECT_STREQ(Target(ret).u.user.name, "RETURN");

  const ipt_entry& orm = b.Reset().OrMark(0x4000);
  EXPECT_STREQ(Target(orm).u.user.name, "MARK");
  EXPECT_EQ(Target(orm).u.user.revision, 2);
  EXPECT_EQ(Target(orm).u.user.target_size, kHeader + 8u);
  auto* ti = reinterpret_cast<const xt_mark_tginfo2*>(Target(orm).data);
  EXPECT_EQ(ti->mark, 0x4000u);
  EXPECT_EQ(ti->mask, 0x4000u);

  const ipt_entry& xorm = b.Reset().XorMark(0x4000);
  ti = reinterpret_cast<const xt_mark_tginfo2*>(Target(xorm).data);
  EXPECT_EQ(ti->mark, 0x4000u);
  EXPECT_EQ(ti->mask, 0u);
}

TEST(IptcEntryBuilder, AddrTypeAndMasquerade) {
  EntryBuilder b;
  const ipt_entry& np = b.Reset().AddrTypeDstLocal().Jump("KUBE-NODEPORTS");
  const auto m = Matches(np);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_STREQ(m[0]->u.user.name, "addrtype");
  EXPECT_EQ(m[0]->u.user.revision, 1);
  const auto* a = reinterpret_cast<const xt_addrtype_info_v1*>(m[0]->data);
  EXPECT_EQ(a->dest, XT_ADDRTYPE_LOCAL);
  EXPECT_EQ(a->source, 0);
  EXPECT_EQ(a->flags, 0u);

  const ipt_entry& masq = b.Reset().Masquerade(true);
  const xt_entry_target& t = Target(masq);
  EXPECT_STREQ(t.u.user.name, "MASQUERADE");
  EXPECT_EQ(t.u.user.revision, 0);
  EXPECT_EQ(t.u.user.target_size, kHeader + XT_ALIGN(sizeof(nf_nat_ipv4_multi_range_compat)));
  const auto* r = reinterpret_cast<const nf_nat_ipv4_multi_range_compat*>(t.data);
  EXPECT_EQ(r->rangesize, 1u);
  EXPECT_EQ(r->range[0].flags, static_cast<unsigned>(NF_NAT_RANGE_PROTO_RANDOM_FULLY));
  EXPECT_EQ(r->range[0].min_ip, 0u);
}

TEST(IptcEntryBuilder, ResetStartsAFreshEntry) {
  EntryBuilder b;
  b.Reset().Comment("a long comment that leaves bytes behind").Source(1, 32, true).Jump("X");
  const ipt_entry& e = b.Reset().Jump("RETURN");
  EXPECT_EQ(e.ip.src.s_addr, 0u);
  EXPECT_EQ(e.ip.invflags, 0);
  EXPECT_EQ(e.target_offset, kEntry);
  EXPECT_EQ(e.next_offset, kEntry + 40);
}

TEST(IptcEntryBuilder, RejectsWhatIptablesRejects) {
  EntryBuilder b;
  EXPECT_THROW(b.Reset().Comment(std::string(256, 'x')), std::invalid_argument);
  EXPECT_NO_THROW(b.Reset().Comment(std::string(255, 'x')).Jump("RETURN"));
  EXPECT_THROW(b.Reset().Jump(""), std::invalid_argument);
  EXPECT_THROW(b.Reset().Jump(std::string(29, 'C')), std::invalid_argument);
  b.Reset().Jump("RETURN");
  EXPECT_THROW(b.Comment("late"), std::logic_error);
  EXPECT_THROW(b.Jump("AGAIN"), std::logic_error);
}

}  // namespace
}  // namespace svcbench::iptc
