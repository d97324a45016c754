// What the cluster writes into Raft's log and snapshots (docs/REPLICATION.md "Formats").
// Little-endian; every decoder checks lengths and answers Corruption, never reads past the
// end. Each ends with zeros up to a multiple of 8 bytes, which libraft 0.15 requires.
//
// Log entry:  u8 type | u64 proposer node id | u64 proposer token | body
//   kBatchV3: u32 op count, then per op: u8 kind (1 put, 2 delete, 3 delete prefix: key is
//             the prefix, maybe empty) | u32 key length | u32 value length | key | value
//             | puts only: u64 expire_at (ms since the epoch, 0: none; below 2^63); keys are
//             engine keys (store/db_key.h). Written for a batch with an expiry time.
//   kBatchV2: the same without expiry times: written for a batch without any, so that a
//             cluster not yet upgraded everywhere keeps replicating whatever uses no TTL.
//   kBatch:   kBatchV2's body, written by earlier versions: keys are bare user keys, decoded
//             as db 0's engine keys ("\x00" + key). Never written any more.
//   kMember:  u64 node id | u16 address length | the node's client address (empty: forget)
// Snapshot:   "KVSSNAP3" | u32 member count | members (u64 id | u16 length | client address)
//             | u64 pair count | pairs (u32 key length | u32 value length | u64 expire_at
//             (0: none) | key | value); keys are engine keys. Earlier versions: "KVSSNAP2",
//             pairs without expire_at; "KVSSNAP1", the same with bare user keys, decoded as
//             db 0's engine keys.
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
enum class EntryType : uint8_t { kBatch = 1, kMember = 2, kBatchV2 = 3, kBatchV3 = 4 };

struct Entry {
  EntryType type = EntryType::kBatchV2;  // as decoded: kBatch, kBatchV2 or kBatchV3 for a batch
  uint64_t proposer = 0;       // node that proposed it: only that node has a client waiting
  uint64_t token = 0;          // the proposer's request number
  WriteBatch batch;            // batches: engine keys whichever it was, with expiry times
  uint64_t member_id = 0;      // kMember
  std::string member_address;  // kMember
};

// A kBatchV3 entry when an op of `batch` has an expiry time, else kBatchV2. `batch`'s keys
// are engine keys; its expiry times absolute (>= 0), as the leader decided them.
std::string EncodeBatchEntry(uint64_t proposer, uint64_t token, const WriteBatch& batch);
std::string EncodeMemberEntry(uint64_t proposer, uint64_t token, uint64_t member_id,
                              std::string_view client_address);
Result<Entry> DecodeEntry(std::string_view bytes);

// Client addresses by node id: replicated, so that every node can tell a client where the
// leader is, also for nodes added after start.
using MemberAddresses = std::map<uint64_t, std::string>;

// A snapshot's pair: engine key, value, expiry time (kNoExpiry: none).
using SnapshotPairFn =
    std::function<Status(std::string_view key, std::string_view value, int64_t expire_at_ms)>;

// Builds a "KVSSNAP3" snapshot: the members, then every pair `for_each_pair` hands to its
// callback (expiry times >= 0).
Result<std::string> EncodeSnapshot(
    const MemberAddresses& members,
    const std::function<Status(const SnapshotPairFn&)>& for_each_pair);
// Decodes a snapshot, calling `on_pair` for each pair (after filling `members`) with its
// engine key, that of db 0 for a "KVSSNAP1" one, and its expiry time (kNoExpiry for a
// snapshot of an earlier version).
Status DecodeSnapshot(std::string_view bytes, MemberAddresses* members,
                      const SnapshotPairFn& on_pair);

}  // namespace kvs::raft
