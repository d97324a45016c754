// What the cluster writes into Raft's log and snapshots (docs/REPLICATION.md "Formats").
// Little-endian; every decoder checks lengths and answers Corruption, never reads past the
// end. Each ends with zeros up to a multiple of 8 bytes, which libraft 0.15 requires.
//
// Log entry:  u8 type | u64 proposer node id | u64 proposer token | body
//   kBatchV2: u32 op count, then per op: u8 kind (1 put, 2 delete, 3 delete prefix: key is
//             the prefix, maybe empty) | u32 key length | u32 value length | key | value;
//             keys are engine keys (store/db_key.h)
//   kBatch:   the same body, written by earlier versions: keys are bare user keys, decoded
//             as db 0's engine keys ("\x00" + key). Never written any more.
//   kMember:  u64 node id | u16 address length | the node's client address (empty: forget)
// Snapshot:   "KVSSNAP2" | u32 member count | members (u64 id | u16 length | client address)
//             | u64 pair count | pairs (u32 key length | u32 value length | key | value);
//             keys are engine keys. "KVSSNAP1" (earlier versions): the same layout with
//             bare user keys, decoded as db 0's engine keys.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/engine.h"

namespace kvs::raft {

// The type byte of a log entry. kBatch and kBatchV2 both carry a WriteBatch.
enum class EntryType : uint8_t { kBatch = 1, kMember = 2, kBatchV2 = 3 };

struct Entry {
  EntryType type = EntryType::kBatchV2;  // as decoded: kBatch for an earlier version's batch
  uint64_t proposer = 0;       // node that proposed it: only that node has a client waiting
  uint64_t token = 0;          // the proposer's request number
  WriteBatch batch;            // kBatch, kBatchV2: engine keys whichever it was
  uint64_t member_id = 0;      // kMember
  std::string member_address;  // kMember
};

// A kBatchV2 entry: `batch`'s keys are engine keys.
std::string EncodeBatchEntry(uint64_t proposer, uint64_t token, const WriteBatch& batch);
std::string EncodeMemberEntry(uint64_t proposer, uint64_t token, uint64_t member_id,
                              std::string_view client_address);
Result<Entry> DecodeEntry(std::string_view bytes);

// Client addresses by node id: replicated, so that every node can tell a client where the
// leader is, also for nodes added after start.
using MemberAddresses = std::map<uint64_t, std::string>;

// Builds a snapshot: the members, then every pair `for_each_pair` hands to its callback.
Result<std::string> EncodeSnapshot(
    const MemberAddresses& members,
    const std::function<Status(const std::function<Status(std::string_view, std::string_view)>&)>&
        for_each_pair);
// Decodes a snapshot, calling `on_pair` for each pair (after filling `members`) with its
// engine key, that of db 0 for a snapshot of an earlier version.
Status DecodeSnapshot(std::string_view bytes, MemberAddresses* members,
                      const std::function<Status(std::string_view, std::string_view)>& on_pair);

}  // namespace kvs::raft
