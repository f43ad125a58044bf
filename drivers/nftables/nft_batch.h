// The nftables ruleset as one nfnetlink batch built with libnftnl: pure, no socket.
//
// BATCH_BEGIN, the messages of one transaction, BATCH_END, spread over as many libnftnl batch
// pages as needed. Every message remembers what it carries (a MsgRef, indexed by sequence
// number), so an error ACK can be turned back into the object the kernel rejected:
// "NEWSETELEM service-ips 198.18.3.7 . tcp . 80: File exists".
//
// The bytecode is what nft 1.0.6 emits for the same text (checked with `nft --debug=netlink`),
// including set key types and user data, so `nft list` shows a netlink-built table exactly as it
// shows one loaded from RenderNftText().
#pragma once

#include <linux/netlink.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/nftables/ruleset.h"

struct nftnl_batch;

namespace svcbench::nft {

enum class AckMode : uint8_t {
  // NLM_F_ACK on every message: the kernel answers each one, so the reader can prove that every
  // message was seen. Costs one queued skb per message in the receive buffer.
  kEveryMessage,
  // NLM_F_ACK on the last message only: errors are reported regardless, and the transaction is
  // all-or-nothing, so one ACK without any error before it means everything was applied.
  kLastMessage,
};

enum class BatchOrder : uint8_t {
  // Per service port, in the order of the nft text (and so of nft's own batch): its chains, the
  // service chain's rules with the numgen map, then its endpoint rules.
  kAsText,
  // Every service's chains and service-chain rules first, all endpoint rules after. Same
  // transaction, same rules in the same order within each chain; but the kernel walks its whole
  // pending-transaction list each time a rule binds an anonymous map (__nft_set_trans_bind), so
  // a shorter list at bind time makes kAnonymousMap cheaper, though still quadratic.
  kBindsFirst,
};

// The defaults are the cheapest batch for the kernel that leaves the same table behind as nft's
// own batch for the same text; {.ack = kEveryMessage, .order = kAsText, .number_anonymous_sets
// = false, .elements_by_set_id = false} is what nft itself sends. docs/nftables-scaling.md
// measures each.
struct BatchOptions {
  // kEveryMessage costs the kernel an skb per message (0.9 s of a 10k-service commit's 1.5 s,
  // shared map, in nft_commit_bench).
  AckMode ack = AckMode::kLastMessage;
  BatchOrder order = BatchOrder::kBindsFirst;
  // kAnonymousMap: name each anonymous map as the kernel would name it in a table created in
  // this transaction (__map0, __map1, …) instead of nft's template "__map%d", which makes the
  // kernel sscanf() the name of every set in the table to find a free number, and makes the
  // lookup expression's search by name fail only after comparing every set's name. Only valid
  // in a batch that creates the table, as BuildFullSyncBatch does.
  bool number_anonymous_sets = true;
  // kAnonymousMap: address the map's NEWSETELEM by set id only, so the kernel does not first
  // compare a name with every set's name (nft_set_lookup_global()).
  bool elements_by_set_id = true;
  uint32_t first_seq = 1;
  // Test hook: add the service-ips element of this service port twice, so the kernel rejects the
  // transaction with EEXIST on a known element.
  std::optional<size_t> duplicate_service_element = std::nullopt;
};

// What one message carries. `service` and `index` index Ruleset::services and their endpoints
// (or the fixed rules/chains), depending on the kind.
enum class MsgKind : uint8_t {
  kBatchBegin,
  kBatchEnd,
  kNewTable,
  kDelTable,
  kBaseChain,   // index: kBaseChains
  kFixedChain,  // index: 0 services, 1 masquerading, 2 mark-for-masquerade
  kFixedRule,   // index: 0-2 base-chain jumps, 3 mark, 4-6 masquerading, 7 services vmap
  kServiceIpsMap,
  kServiceIpsElems,  // the element is found from the kernel's attribute offset
  kServiceChain,     // service
  kEndpointChain,    // service, index: endpoint
  kMasqRule,         // service
  kNumgenMap,        // service: its anonymous numgen map
  kNumgenElems,      // service
  kNumgenRule,       // service
  kHairpinRule,      // service, index: endpoint
  kDnatRule,         // service, index: endpoint
  // EndpointDispatch::kSharedMap
  kServiceEndpointsMap,
  kServiceEndpointsElems,  // the element is found from the kernel's attribute offset
  kDispatchChain,          // index: into Ruleset::DispatchModuli()
  kDispatchRule,           // index: into Ruleset::DispatchModuli()
  kDispatchGotoRule,       // service
  // EndpointDispatch::kRuleCascade
  kCascadeRule,  // service, index: endpoint it goes to
};

struct MsgRef {
  MsgKind kind;
  uint32_t service = 0;
  uint32_t index = 0;
};

class Batch {
 public:
  Batch();
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;

  // The pages in order, ready for one sendmsg().
  std::vector<iovec> Iovecs() const;
  size_t Bytes() const;
  // Messages between BATCH_BEGIN and BATCH_END.
  size_t Messages() const { return refs_.size() - 2; }
  // Messages that create a set (NEWSET), anonymous ones included.
  size_t Sets() const;
  uint32_t BeginSeq() const { return first_seq_; }
  // Sequence number of the last message before BATCH_END.
  uint32_t LastSeq() const { return first_seq_ + static_cast<uint32_t>(refs_.size()) - 2; }
  AckMode Ack() const { return ack_; }
  // ACKs the kernel sends for a transaction that commits.
  size_t ExpectedAcks() const { return ack_ == AckMode::kEveryMessage ? Messages() : 1; }

  // What the message with this sequence number carries, or nullptr.
  const MsgRef* Ref(uint32_t seq) const;
  // The message itself, found by walking the pages (only used on the error path).
  const nlmsghdr* FindMessage(uint32_t seq) const;

  // "NEWSETELEM service-ips 198.18.3.7 . tcp . 80" for the message `seq`; `bad_attr_offset`
  // is the kernel's NLMSGERR_ATTR_OFFS, which names one element of a many-element message.
  std::string Describe(uint32_t seq, const Ruleset& rs,
                       std::optional<uint32_t> bad_attr_offset) const;

 private:
  friend class BatchBuilder;
  struct Deleter {
    void operator()(nftnl_batch* b) const;
  };
  std::unique_ptr<nftnl_batch, Deleter> batch_;
  std::vector<MsgRef> refs_;  // by seq - first_seq_, BATCH_BEGIN and BATCH_END included
  uint32_t first_seq_ = 0;
  AckMode ack_ = AckMode::kEveryMessage;
};

// The whole table replaced in one transaction: NEWTABLE, DELTABLE, NEWTABLE and everything in
// it, then the service-ips (and service-endpoints) elements packed into as few messages as fit
// (64 KiB each). The shape follows rs.options.dispatch.
// Throws std::bad_alloc when libnftnl cannot allocate.
Batch BuildFullSyncBatch(const Ruleset& rs, const BatchOptions& options = {});

// NEWTABLE + DELTABLE: removes the table whether or not it exists.
Batch BuildClearBatch(const BatchOptions& options = {});

}  // namespace svcbench::nft
