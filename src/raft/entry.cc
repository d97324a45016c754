#include "raft/entry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "store/coding.h"
#include "store/db_key.h"

namespace kvs::raft {

namespace {

constexpr std::string_view kSnapshotMagic = "KVSSNAP3";
// Earlier versions' snapshots: pairs without expiry times; V1's keys bare user keys (db 0).
constexpr std::string_view kSnapshotMagicV2 = "KVSSNAP2";
constexpr std::string_view kSnapshotMagicV1 = "KVSSNAP1";

// An expiry time as encoded: its u64 must fit an int64 (times are >= 0).
bool ValidExpiry(uint64_t v) { return v <= static_cast<uint64_t>(INT64_MAX); }

void Put8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}
void Put32(std::string* out, uint32_t v) {
  char b[4];
  PutFixed32(b, v);
  out->append(b, 4);
}
void Put64(std::string* out, uint64_t v) {
  char b[8];
  PutFixed64(b, v);
  out->append(b, 8);
}

// Reads from the front of `in_`; every getter fails (false) instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v) {
    if (in_.size() < 2) return false;
    *v = static_cast<uint16_t>(static_cast<unsigned char>(in_[0]) |
                               (static_cast<unsigned char>(in_[1]) << 8));
    in_.remove_prefix(2);
    return true;
  }
  bool U32(uint32_t* v) {
    if (in_.size() < 4) return false;
    *v = GetFixed32(in_.data());
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = GetFixed64(in_.data());
    in_.remove_prefix(8);
    return true;
  }
  bool Bytes(size_t n, std::string_view* v) {
    if (in_.size() < n) return false;
    *v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  std::string_view in_;
};

// libraft 0.15 needs every entry's length to be a multiple of 8 (its disk and wire
// encodings assume 8-byte alignment), so encoders end with zeros up to that.
void PadTo8(std::string* out) { out->resize((out->size() + 7) / 8 * 8, '\0'); }

// The zero padding PadTo8 added, and nothing else, may follow the last field.
bool OnlyPadding(std::string_view rest) {
  return rest.size() < 8 && rest.find_first_not_of('\0') == std::string_view::npos;
}

void PutHeader(std::string* out, EntryType type, uint64_t proposer, uint64_t token) {
  Put8(out, static_cast<uint8_t>(type));
  Put64(out, proposer);
  Put64(out, token);
}

void PutMember(std::string* out, uint64_t id, std::string_view address) {
  Put64(out, id);
  Put16(out, static_cast<uint16_t>(address.size()));
  out->append(address);
}

bool GetMember(Reader* r, uint64_t* id, std::string_view* address) {
  uint16_t len = 0;
  return r->U64(id) && r->U16(&len) && r->Bytes(len, address);
}

}  // namespace

std::string EncodeBatchEntry(uint64_t proposer, uint64_t token, const WriteBatch& batch) {
  const bool expiry =
      std::any_of(batch.ops().begin(), batch.ops().end(),
                  [](const WriteBatch::Op& op) { return op.expire_at_ms != kNoExpiry; });
  size_t size = 1 + 8 + 8 + 4;
  for (const WriteBatch::Op& op : batch.ops()) {
    size += 9 + op.key.size() + op.value.size() + (expiry ? 8 : 0);
  }
  std::string out;
  out.reserve(size);
  PutHeader(&out, expiry ? EntryType::kBatchV3 : EntryType::kBatchV2, proposer, token);
  Put32(&out, static_cast<uint32_t>(batch.size()));
  for (const WriteBatch::Op& op : batch.ops()) {
    Put8(&out, static_cast<uint8_t>(op.kind));
    Put32(&out, static_cast<uint32_t>(op.key.size()));
    Put32(&out, static_cast<uint32_t>(op.value.size()));
    out.append(op.key);
    out.append(op.value);
    if (expiry && op.kind == WriteBatch::OpKind::kPut) {
      Put64(&out, static_cast<uint64_t>(op.expire_at_ms));
    }
  }
  PadTo8(&out);
  return out;
}

std::string EncodeMemberEntry(uint64_t proposer, uint64_t token, uint64_t member_id,
                              std::string_view client_address) {
  std::string out;
  PutHeader(&out, EntryType::kMember, proposer, token);
  PutMember(&out, member_id, client_address.substr(0, UINT16_MAX));
  PadTo8(&out);
  return out;
}

Result<Entry> DecodeEntry(std::string_view bytes) {
  Reader r(bytes);
  Entry entry;
  uint8_t type = 0;
  if (!r.U8(&type) || !r.U64(&entry.proposer) || !r.U64(&entry.token)) {
    return Status::Corruption("raft entry: short header");
  }
  if (type == static_cast<uint8_t>(EntryType::kBatch) ||
      type == static_cast<uint8_t>(EntryType::kBatchV2) ||
      type == static_cast<uint8_t>(EntryType::kBatchV3)) {
    entry.type = static_cast<EntryType>(type);
    // An earlier version's batch holds bare user keys: db 0's.
    const bool legacy = entry.type == EntryType::kBatch;
    const bool expiry = entry.type == EntryType::kBatchV3;
    uint32_t n = 0;
    if (!r.U32(&n)) return Status::Corruption("raft entry: short batch");
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t kind = 0;
      uint32_t key_len = 0;
      uint32_t value_len = 0;
      std::string_view key;
      std::string_view value;
      if (!r.U8(&kind) || !r.U32(&key_len) || !r.U32(&value_len) || !r.Bytes(key_len, &key) ||
          !r.Bytes(value_len, &value)) {
        return Status::Corruption(fmt::format("raft entry: op {} of {} is cut short", i, n));
      }
      const bool known =
          kind == static_cast<uint8_t>(WriteBatch::OpKind::kPut) ||
          kind == static_cast<uint8_t>(WriteBatch::OpKind::kDelete) ||
          (!legacy && kind == static_cast<uint8_t>(WriteBatch::OpKind::kDeletePrefix));
      if (!known) {
        return Status::Corruption(fmt::format("raft entry: op {} has unknown kind {}", i, kind));
      }
      uint64_t expire_at_ms = 0;
      if (expiry && kind == static_cast<uint8_t>(WriteBatch::OpKind::kPut)) {
        if (!r.U64(&expire_at_ms)) {
          return Status::Corruption(fmt::format("raft entry: op {} of {} is cut short", i, n));
        }
        if (!ValidExpiry(expire_at_ms)) {
          return Status::Corruption(fmt::format("raft entry: op {} has a negative expiry time", i));
        }
      }
      entry.batch.Append(WriteBatch::Op{static_cast<WriteBatch::OpKind>(kind),
                                        legacy ? EncodeDbKey(0, key) : std::string(key),
                                        std::string(value), static_cast<int64_t>(expire_at_ms)});
    }
  } else if (type == static_cast<uint8_t>(EntryType::kMember)) {
    entry.type = EntryType::kMember;
    std::string_view address;
    if (!GetMember(&r, &entry.member_id, &address)) {
      return Status::Corruption("raft entry: short member record");
    }
    entry.member_address = std::string(address);
  } else {
    return Status::Corruption(fmt::format("raft entry: unknown type {}", type));
  }
  if (!OnlyPadding(r.rest())) return Status::Corruption("raft entry: bytes after the end");
  return entry;
}

Result<std::string> EncodeSnapshot(
    const MemberAddresses& members,
    const std::function<Status(const SnapshotPairFn&)>& for_each_pair) {
  std::string out(kSnapshotMagic);
  Put32(&out, static_cast<uint32_t>(members.size()));
  for (const auto& [id, address] : members) PutMember(&out, id, address);
  const size_t count_at = out.size();
  Put64(&out, 0);  // the pair count, filled in below
  uint64_t pairs = 0;
  KVS_RETURN_IF_ERROR(for_each_pair(
      [&out, &pairs](std::string_view key, std::string_view value, int64_t expire_at_ms) {
        if (expire_at_ms < 0) return Status::InvalidArgument("snapshot: negative expiry time");
        Put32(&out, static_cast<uint32_t>(key.size()));
        Put32(&out, static_cast<uint32_t>(value.size()));
        Put64(&out, static_cast<uint64_t>(expire_at_ms));
        out.append(key);
        out.append(value);
        ++pairs;
        return Status::Ok();
      }));
  PutFixed64(out.data() + count_at, pairs);
  PadTo8(&out);
  return out;
}

Status DecodeSnapshot(std::string_view bytes, MemberAddresses* members,
                      const SnapshotPairFn& on_pair) {
  Reader r(bytes);
  std::string_view magic;
  uint32_t n = 0;
  if (!r.Bytes(kSnapshotMagic.size(), &magic) ||
      (magic != kSnapshotMagic && magic != kSnapshotMagicV2 && magic != kSnapshotMagicV1) ||
      !r.U32(&n)) {
    return Status::Corruption("raft snapshot: not a kvs snapshot");
  }
  static_assert(kSnapshotMagicV1.size() == kSnapshotMagic.size());
  static_assert(kSnapshotMagicV2.size() == kSnapshotMagic.size());
  const bool legacy = magic == kSnapshotMagicV1;  // bare user keys: db 0's
  const bool expiry = magic == kSnapshotMagic;
  std::string legacy_key;
  members->clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    std::string_view address;
    if (!GetMember(&r, &id, &address)) return Status::Corruption("raft snapshot: short member");
    (*members)[id] = std::string(address);
  }
  uint64_t pairs = 0;
  if (!r.U64(&pairs)) return Status::Corruption("raft snapshot: short header");
  for (uint64_t i = 0; i < pairs; ++i) {
    uint32_t key_len = 0;
    uint32_t value_len = 0;
    uint64_t expire_at_ms = 0;
    std::string_view key;
    std::string_view value;
    if (!r.U32(&key_len) || !r.U32(&value_len) || (expiry && !r.U64(&expire_at_ms)) ||
        !r.Bytes(key_len, &key) || !r.Bytes(value_len, &value)) {
      return Status::Corruption("raft snapshot: a pair is cut short");
    }
    if (!ValidExpiry(expire_at_ms)) {
      return Status::Corruption(
          fmt::format("raft snapshot: pair {} has a negative expiry time", i));
    }
    if (legacy) {
      legacy_key.clear();
      AppendDbKey(0, key, &legacy_key);
      key = legacy_key;
    }
    KVS_RETURN_IF_ERROR(on_pair(key, value, static_cast<int64_t>(expire_at_ms)));
  }
  if (!OnlyPadding(r.rest())) return Status::Corruption("raft snapshot: bytes after the end");
  return Status::Ok();
}

}  // namespace kvs::raft
