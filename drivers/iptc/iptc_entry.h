// One iptables rule as the kernel's legacy xtables ABI lays it out (struct ipt_entry, then its
// matches, then its target, each XT_ALIGN'ed), built the way iptables-legacy builds it for the
// same command line, so that iptables-legacy-save prints it identically.
//
// Pure: no kernel, no I/O, no libiptc handle. The driver hands finished entries to
// iptc_append_entry(); tests read them back field by field.
#pragma once

// glibc's <netinet/in.h> and <net/if.h> must come before <linux/in.h> and <linux/if.h> (pulled
// in by the netfilter headers): the reverse order redefines struct in_addr and IFF_*. libiptc's
// prelude includes them in the right order, as libiptc.h itself does.
#include <libiptc/ipt_kernel_headers.h>
// clang-format off
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
// clang-format on

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model/service_set.h"

namespace svcbench::iptc {

// kube-proxy's probability(n) as the kernel gets it: kube-proxy prints 1/n with "%0.10f", and
// iptables' statistic match parses that text and stores lround(p * 2^31). Going through the same
// text (not 1.0/n directly) keeps the kernel value bit-identical to iptables-restore's.
uint32_t StatisticProbabilityOneIn(size_t n);

// lround(p * 2^31), as libxt_statistic does; p must be in [0, 1].
uint32_t EncodeStatisticProbability(double p);

// "198.19.0.0/16" -> {address in host order, prefix length}. Throws std::invalid_argument.
struct Cidr {
  Ipv4 ip = 0;
  int prefix = 32;
};
Cidr ParseCidr(std::string_view text);

// A netmask in host order for a prefix length 0..32.
uint32_t PrefixMask(int prefix);

// Builds one entry at a time in a buffer it reuses (the driver builds ~800k of them at 100k
// services). Call Reset(), then the ipt_ip setters and matches in command-line order (the kernel
// and iptables-save keep match order), then exactly one target; Entry() is valid until the next
// Reset(). Sizes follow iptables: match_size = XT_ALIGN(sizeof(xt_entry_match)) +
// XT_ALIGN(sizeof(info)), likewise for targets; target_offset = sizeof(ipt_entry) + the match
// sizes; next_offset = target_offset + target_size.
class EntryBuilder {
 public:
  EntryBuilder() { Reset(); }

  EntryBuilder& Reset();

  // -s / ! -s ADDR/PREFIX
  EntryBuilder& Source(Ipv4 ip, int prefix, bool invert = false);
  // -d ADDR/PREFIX
  EntryBuilder& Destination(Ipv4 ip, int prefix);
  // -p tcp|udp
  EntryBuilder& Proto(Protocol p);

  // -m comment --comment TEXT (xt_comment_info, revision 0). Throws std::invalid_argument when
  // TEXT does not fit (255 bytes), as iptables does.
  EntryBuilder& Comment(std::string_view text);
  // -m tcp|udp --dport PORT (xt_tcp / xt_udp, revision 0; source ports 0:65535 as iptables
  // leaves them).
  EntryBuilder& DestinationPort(Protocol p, uint16_t port);
  // -m tcp|udp without options (both port ranges 0:65535).
  EntryBuilder& ProtocolMatch(Protocol p);
  // -m statistic --mode random --probability P (xt_statistic_info, revision 0), P given as its
  // kernel value (StatisticProbabilityOneIn). u.nth.count holds the same value, as iptables
  // leaves it.
  EntryBuilder& StatisticRandom(uint32_t probability);
  // -m mark [!] --mark MARK/MASK (xt_mark_mtinfo1, revision 1).
  EntryBuilder& Mark(uint32_t mark, uint32_t mask, bool invert);
  // -m addrtype --dst-type LOCAL (xt_addrtype_info_v1, revision 1).
  EntryBuilder& AddrTypeDstLocal();

  // -j CHAIN, or -j RETURN/ACCEPT/DROP: a standard target carrying the name; libiptc turns it
  // into a verdict or a jump when the entry is added (the chain must exist by then).
  const ipt_entry& Jump(std::string_view chain_or_verdict);
  // -j DNAT --to-destination IP:PORT (nf_nat_range2, revision 2: revision 0 would list as
  // "unsupported revision" with iptables 1.8.9).
  const ipt_entry& Dnat(Ipv4 ip, uint16_t port);
  // -j MASQUERADE [--random-fully] (nf_nat_ipv4_multi_range_compat, revision 0).
  const ipt_entry& Masquerade(bool random_fully);
  // -j MARK --or-mark BITS / --xor-mark BITS (xt_mark_tginfo2, revision 2: or is mark=mask=BITS,
  // xor is mark=BITS, mask=0, as libxt_MARK encodes them).
  const ipt_entry& OrMark(uint32_t bits);
  const ipt_entry& XorMark(uint32_t bits);

  const ipt_entry& Entry() const { return *reinterpret_cast<const ipt_entry*>(buf_.data()); }
  size_t Size() const { return used_; }

 private:
  ipt_entry& MutableEntry() { return *reinterpret_cast<ipt_entry*>(buf_.data()); }
  // Appends `bytes` zeroed bytes (a multiple of XT_ALIGN) and returns where they start.
  unsigned char* Grow(size_t bytes);
  void* AddMatch(const char* name, uint8_t revision, size_t info_size);
  void* AddTarget(const char* name, uint8_t revision, size_t info_size);
  const ipt_entry& Finish();

  // uint64_t storage: ipt_entry and every payload need 8-byte alignment (XT_ALIGN).
  std::vector<uint64_t> buf_;
  size_t used_ = 0;
  bool has_target_ = false;
};

}  // namespace svcbench::iptc
