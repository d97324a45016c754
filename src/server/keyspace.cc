#include "server/keyspace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>

#include "proto/glob.h"
#include "proto/redis_number.h"
#include "store/db_key.h"

namespace kvs::server_internal {

using proto::CommandId;
using proto::EqualsIgnoreCase;
using proto::ReplyWriter;

// ---- Txn -------------------------------------------------------------------------------

const WriteBatch::Op* Txn::Staged(std::string_view key) const {
  const WriteBatch::Op* op = nullptr;
  size_t at = 0;
  if (latest_.empty()) {  // most commands read before they write: no copy, no hash
  } else if (auto it = latest_.find(std::string(key)); it != latest_.end()) {
    at = it->second;
    op = &writes_.ops()[at];
  }
  for (size_t index : prefix_ops_) {
    if ((op == nullptr || index > at) && key.starts_with(writes_.ops()[index].key)) {
      at = index;
      op = &writes_.ops()[index];
    }
  }
  return op;
}

Result<std::optional<StoredValue>> Txn::Get(std::string_view key) {
  if (const WriteBatch::Op* op = Staged(key)) {
    if (op->kind != WriteBatch::OpKind::kPut || ExpiredAt(op->expire_at_ms, now_ms_)) {
      return std::optional<StoredValue>();
    }
    return std::optional<StoredValue>(StoredValue{op->value, op->expire_at_ms});
  }
  Result<std::optional<StoredValue>> value = base_->Get(key);
  if (!value.ok()) {
    if (value.status().IsWouldBlock()) missing_.emplace_back(key);
  } else if (*value && ExpiredAt((*value)->expire_at_ms, now_ms_)) {
    value->reset();  // read before its time passed (a fetch), decided after
  }
  return value;
}

Result<bool> Txn::Exists(std::string_view key) {
  if (const WriteBatch::Op* op = Staged(key)) {
    return op->kind == WriteBatch::OpKind::kPut && !ExpiredAt(op->expire_at_ms, now_ms_);
  }
  Result<bool> exists = base_->Exists(key);
  if (!exists.ok() && exists.status().IsWouldBlock()) missing_.emplace_back(key);
  return exists;
}

Status Txn::ForEachKey(std::string_view prefix,
                       const std::function<Status(std::string_view key)>& fn) {
  // The base's keys that no staged op decides, then the ones this Txn left put.
  KVS_RETURN_IF_ERROR(base_->ForEachKey(prefix, [&](std::string_view key) -> Status {
    return Staged(key) != nullptr ? Status::Ok() : fn(key);
  }));
  for (const auto& [key, index] : latest_) {
    const WriteBatch::Op& op = writes_.ops()[index];
    if (key.starts_with(prefix) && Staged(key) == &op && op.kind == WriteBatch::OpKind::kPut &&
        !ExpiredAt(op.expire_at_ms, now_ms_)) {
      KVS_RETURN_IF_ERROR(fn(key));
    }
  }
  return Status::Ok();
}

void Txn::Put(std::string key, std::string value, int64_t expire_at_ms) {
  latest_[key] = writes_.size();
  writes_.Append({WriteBatch::OpKind::kPut, std::move(key), std::move(value), expire_at_ms});
}

void Txn::Delete(std::string key) {
  latest_[key] = writes_.size();
  writes_.Append({WriteBatch::OpKind::kDelete, std::move(key), {}});
}

void Txn::DeletePrefix(std::string prefix) {
  prefix_ops_.push_back(writes_.size());
  writes_.Append({WriteBatch::OpKind::kDeletePrefix, std::move(prefix), {}});
}

std::optional<uint64_t> EngineKeysInDb(const Engine& engine, uint32_t db) {
  std::optional<std::map<uint32_t, DbKeyCount>> counts = engine.KeysPerDb();
  if (!counts) return std::nullopt;
  auto it = counts->find(db);
  return it == counts->end() ? 0 : it->second.keys;
}

// ---- Commands --------------------------------------------------------------------------

namespace {

using proto::errors::kDbIndexOutOfRange;
using proto::errors::kDecrementOverflow;
using proto::errors::kIncrDecrOverflow;
using proto::errors::kNanOrInfinity;
using proto::errors::kNotFloat;
using proto::errors::kNotInteger;
using proto::errors::kOffsetOutOfRange;
using proto::errors::kStringTooLong;
using proto::errors::kSyntaxError;
// Redis's other texts (server.c's shared objects, db.c).
constexpr std::string_view kNoSuchKey = "ERR no such key";
constexpr std::string_view kSameObject = "ERR source and destination objects are the same";

// Propagates a failed read (WouldBlock included) out of a command.
#define KVS_READ(lhs, expr) KVS_ASSIGN_OR_RETURN(lhs, expr)

class Command {
 public:
  Command(std::span<const std::string> argv, uint32_t db, const KeyspaceOptions& options, Txn* txn,
          ReplyWriter* out)
      : argv_(argv), db_(db), options_(options), txn_(txn), out_(out) {}

  Status Run(CommandId id);

 private:
  std::string Key(size_t i) const { return EncodeDbKey(db_, argv_[i]); }
  // Redis's checkStringLength: a string may not grow past the value limit.
  bool TooBig(uint64_t size, uint64_t append) const {
    return size + append > options_.max_value_bytes;
  }

  Status Get();
  Status MGet();
  Status Exists();
  Status StrLen();
  Status GetRange();
  Status Type();
  Status Set();
  Status SetValue(std::string key, const std::string& value, int64_t expire_at, bool keepttl,
                  bool nx, bool xx, bool get);
  // Parses the time of expiry option `option` (EX, PX, EXAT, PXAT) into an absolute one;
  // false after replying with Redis's error.
  bool ExpiryArgument(const std::string& arg, std::string_view option, int64_t* expire_at);
  std::string InvalidExpireTime() const;
  // A put, or a delete when `expire_at` has passed already.
  void PutOrExpire(std::string key, std::string value, int64_t expire_at);
  Status SetEx(bool ms);
  Status GetEx();
  Status Expire(CommandId id);
  Status Ttl(CommandId id);
  Status Persist();
  Status SetNx();
  Status GetSet();
  Status GetDel();
  Status MSet(bool nx);
  Status Append();
  Status SetRange();
  Status IncrBy(CommandId id);
  Status IncrByFloat();
  Status Del();
  Status Keys();
  Status DbSize();
  Status Scan();
  Status RandomKey();
  Status Flush(bool all);
  Status Rename(bool nx);
  Status Copy();
  Status Move();

  std::span<const std::string> argv_;
  const uint32_t db_;
  const KeyspaceOptions& options_;
  Txn* const txn_;
  ReplyWriter* const out_;
};

Status Command::Run(CommandId id) {
  switch (id) {
    case CommandId::kGet:
      return Get();
    case CommandId::kMGet:
      return MGet();
    case CommandId::kExists:
      return Exists();
    case CommandId::kStrLen:
      return StrLen();
    case CommandId::kGetRange:
      return GetRange();
    case CommandId::kType:
      return Type();
    case CommandId::kSet:
      return Set();
    case CommandId::kSetNx:
      return SetNx();
    case CommandId::kGetSet:
      return GetSet();
    case CommandId::kGetDel:
      return GetDel();
    case CommandId::kMSet:
      return MSet(false);
    case CommandId::kMSetNx:
      return MSet(true);
    case CommandId::kAppend:
      return Append();
    case CommandId::kSetRange:
      return SetRange();
    case CommandId::kIncr:
    case CommandId::kDecr:
    case CommandId::kIncrBy:
    case CommandId::kDecrBy:
      return IncrBy(id);
    case CommandId::kIncrByFloat:
      return IncrByFloat();
    case CommandId::kDel:
    case CommandId::kUnlink:
      return Del();
    case CommandId::kRename:
      return Rename(false);
    case CommandId::kRenameNx:
      return Rename(true);
    case CommandId::kCopy:
      return Copy();
    case CommandId::kMove:
      return Move();
    case CommandId::kSetEx:
      return SetEx(false);
    case CommandId::kPSetEx:
      return SetEx(true);
    case CommandId::kGetEx:
      return GetEx();
    case CommandId::kExpire:
    case CommandId::kPExpire:
    case CommandId::kExpireAt:
    case CommandId::kPExpireAt:
      return Expire(id);
    case CommandId::kTtl:
    case CommandId::kPTtl:
    case CommandId::kExpireTime:
    case CommandId::kPExpireTime:
      return Ttl(id);
    case CommandId::kPersist:
      return Persist();
    case CommandId::kKeys:
      return Keys();
    case CommandId::kDbSize:
      return DbSize();
    case CommandId::kScan:
      return Scan();
    case CommandId::kRandomKey:
      return RandomKey();
    case CommandId::kFlushDb:
      return Flush(false);
    case CommandId::kFlushAll:
      return Flush(true);
    default:
      return Status::InvalidArgument("not a data command");
  }
}

Status Command::Get() {
  KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(1)));
  if (value) {
    out_->Bulk(value->value);
  } else {
    out_->Null();
  }
  return Status::Ok();
}

Status Command::MGet() {
  std::vector<std::optional<StoredValue>> values;
  values.reserve(argv_.size() - 1);
  for (size_t i = 1; i < argv_.size(); ++i) {
    KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(i)));
    values.push_back(std::move(value));
  }
  out_->Array(values.size());
  for (const auto& value : values) {
    if (value) {
      out_->Bulk(value->value);
    } else {
      out_->Null();
    }
  }
  return Status::Ok();
}

Status Command::Exists() {
  int64_t found = 0;
  for (size_t i = 1; i < argv_.size(); ++i) {
    KVS_READ(bool exists, txn_->Exists(Key(i)));
    found += exists ? 1 : 0;
  }
  out_->Integer(found);
  return Status::Ok();
}

Status Command::StrLen() {
  KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(1)));
  out_->Integer(value ? static_cast<int64_t>(value->value.size()) : 0);
  return Status::Ok();
}

Status Command::GetRange() {
  int64_t start, end;
  if (!proto::ParseInt64(argv_[2], &start) || !proto::ParseInt64(argv_[3], &end)) {
    out_->Error(kNotInteger);
    return Status::Ok();
  }
  KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(1)));
  const std::string empty;
  const std::string& s = value ? value->value : empty;
  const auto len = static_cast<int64_t>(s.size());
  if (start < 0 && end < 0 && start > end) {
    out_->Bulk("");
    return Status::Ok();
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  start = std::max<int64_t>(start, 0);
  end = std::max<int64_t>(end, 0);
  if (end >= len) end = len - 1;
  if (start > end || len == 0) {
    out_->Bulk("");
  } else {
    out_->Bulk(std::string_view(s).substr(static_cast<size_t>(start),
                                          static_cast<size_t>(end - start + 1)));
  }
  return Status::Ok();
}

Status Command::Type() {
  KVS_READ(bool exists, txn_->Exists(Key(1)));
  out_->Simple(exists ? "string" : "none");
  return Status::Ok();
}

// Redis takes an expiry option again (the last time counts), but not a second kind.
bool SameOrNoExpiry(std::string_view chosen, std::string_view opt) {
  return chosen.empty() || EqualsIgnoreCase(chosen, opt);
}

Status Command::Set() {
  // Redis's parseExtendedStringArgumentsOrReply: each option once, NX/XX exclusive, one
  // expiry form; anything else is a syntax error.
  bool nx = false, xx = false, get = false, keepttl = false;
  std::string_view expiry_option;
  size_t expiry_at = 0;  // the argument holding the time
  for (size_t j = 3; j < argv_.size(); ++j) {
    const std::string& opt = argv_[j];
    const bool has_next = j + 1 < argv_.size();
    if (EqualsIgnoreCase(opt, "NX") && !xx) {
      nx = true;
    } else if (EqualsIgnoreCase(opt, "XX") && !nx) {
      xx = true;
    } else if (EqualsIgnoreCase(opt, "GET")) {
      get = true;
    } else if (EqualsIgnoreCase(opt, "KEEPTTL") && expiry_option.empty()) {
      keepttl = true;
    } else if ((EqualsIgnoreCase(opt, "EX") || EqualsIgnoreCase(opt, "PX") ||
                EqualsIgnoreCase(opt, "EXAT") || EqualsIgnoreCase(opt, "PXAT")) &&
               !keepttl && SameOrNoExpiry(expiry_option, opt) && has_next) {
      expiry_option = opt;
      expiry_at = ++j;
    } else {
      out_->Error(kSyntaxError);
      return Status::Ok();
    }
  }
  int64_t expire_at = kNoExpiry;
  // Redis checks the time before anything else: the same errors for a bad one.
  if (!expiry_option.empty() && !ExpiryArgument(argv_[expiry_at], expiry_option, &expire_at)) {
    return Status::Ok();
  }
  return SetValue(Key(1), argv_[2], expire_at, keepttl, nx, xx, get);
}

// The shared end of SET, SETEX and PSETEX (Redis's setGenericCommand).
Status Command::SetValue(std::string key, const std::string& value, int64_t expire_at, bool keepttl,
                         bool nx, bool xx, bool get) {
  std::optional<StoredValue> old;
  bool found;
  if (get || keepttl) {
    KVS_READ(old, txn_->Get(key));
    found = old.has_value();
  } else if (nx || xx) {
    KVS_READ(found, txn_->Exists(key));
  } else {
    found = false;
  }
  const bool set = !((nx && found) || (xx && !found));
  if (set) {
    if (keepttl && old) expire_at = old->expire_at_ms;
    PutOrExpire(std::move(key), value, expire_at);
  }
  if (get) {
    if (old) {
      out_->Bulk(old->value);
    } else {
      out_->Null();
    }
  } else if (set) {
    out_->Ok();
  } else {
    out_->Null();
  }
  return Status::Ok();
}

bool Command::ExpiryArgument(const std::string& arg, std::string_view option, int64_t* expire_at) {
  const bool seconds = EqualsIgnoreCase(option, "EX") || EqualsIgnoreCase(option, "EXAT");
  const bool relative = EqualsIgnoreCase(option, "EX") || EqualsIgnoreCase(option, "PX");
  int64_t t;
  if (!proto::ParseInt64(arg, &t)) {
    out_->Error(kNotInteger);
    return false;
  }
  // Redis's getExpireMillisecondsOrReply: a positive time whose milliseconds (and, for a
  // relative one, now + them) fit in 64 bits.
  const int64_t now = txn_->now_ms();
  if (t <= 0 || (seconds && t > std::numeric_limits<int64_t>::max() / 1000) ||
      (relative && (seconds ? t * 1000 : t) > std::numeric_limits<int64_t>::max() - now)) {
    out_->Error(InvalidExpireTime());
    return false;
  }
  *expire_at = (seconds ? t * 1000 : t) + (relative ? now : 0);
  return true;
}

std::string Command::InvalidExpireTime() const {
  std::string name = argv_[0];
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return fmt::format("ERR invalid expire time in '{}' command", name);
}

void Command::PutOrExpire(std::string key, std::string value, int64_t expire_at) {
  if (ExpiredAt(expire_at, txn_->now_ms())) {
    txn_->Delete(std::move(key));  // its time has passed already: nothing to keep
  } else {
    txn_->Put(std::move(key), std::move(value), expire_at);
  }
}

// SETEX / PSETEX key time value: SET key value EX|PX time.
Status Command::SetEx(bool ms) {
  int64_t expire_at;
  if (!ExpiryArgument(argv_[2], ms ? "PX" : "EX", &expire_at)) return Status::Ok();
  return SetValue(Key(1), argv_[3], expire_at, false, false, false, false);
}

// GETEX key [EX|PX|EXAT|PXAT time | PERSIST]: the value, and the key's expiry changed.
Status Command::GetEx() {
  std::string_view expiry_option;
  size_t expiry_arg = 0;
  bool persist = false;
  for (size_t j = 2; j < argv_.size(); ++j) {
    const std::string& opt = argv_[j];
    const bool has_next = j + 1 < argv_.size();
    if (EqualsIgnoreCase(opt, "PERSIST") && expiry_option.empty()) {
      persist = true;
    } else if ((EqualsIgnoreCase(opt, "EX") || EqualsIgnoreCase(opt, "PX") ||
                EqualsIgnoreCase(opt, "EXAT") || EqualsIgnoreCase(opt, "PXAT")) &&
               !persist && SameOrNoExpiry(expiry_option, opt) && has_next) {
      expiry_option = opt;
      expiry_arg = ++j;
    } else {
      out_->Error(kSyntaxError);
      return Status::Ok();
    }
  }
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  if (!value) {
    out_->Null();
    return Status::Ok();
  }
  // Redis validates the time only once it found the key.
  int64_t expire_at = kNoExpiry;
  if (!expiry_option.empty() && !ExpiryArgument(argv_[expiry_arg], expiry_option, &expire_at)) {
    return Status::Ok();
  }
  out_->Bulk(value->value);
  if (!expiry_option.empty()) {
    PutOrExpire(std::move(key), std::move(value->value), expire_at);
  } else if (persist && value->expire_at_ms != kNoExpiry) {
    txn_->Put(std::move(key), std::move(value->value), kNoExpiry);
  }
  return Status::Ok();
}

// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT] (Redis's
// expireGenericCommand): 1 when the expiry was set (or the key deleted, for a time passed).
Status Command::Expire(CommandId id) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < argv_.size(); ++j) {
    const std::string& opt = argv_[j];
    if (EqualsIgnoreCase(opt, "NX")) {
      nx = true;
    } else if (EqualsIgnoreCase(opt, "XX")) {
      xx = true;
    } else if (EqualsIgnoreCase(opt, "GT")) {
      gt = true;
    } else if (EqualsIgnoreCase(opt, "LT")) {
      lt = true;
    } else {
      out_->Error(fmt::format("ERR Unsupported option {}", opt));
      return Status::Ok();
    }
  }
  if (nx && (xx || gt || lt)) {
    out_->Error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return Status::Ok();
  }
  if (gt && lt) {
    out_->Error("ERR GT and LT options at the same time are not compatible");
    return Status::Ok();
  }
  int64_t when;
  if (!proto::ParseInt64(argv_[2], &when)) {
    out_->Error(kNotInteger);
    return Status::Ok();
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const bool seconds = id == CommandId::kExpire || id == CommandId::kExpireAt;
  const int64_t base = id == CommandId::kExpire || id == CommandId::kPExpire ? txn_->now_ms() : 0;
  if (seconds) {
    if (when > kMax / 1000 || when < kMin / 1000) {
      out_->Error(InvalidExpireTime());
      return Status::Ok();
    }
    when *= 1000;
  }
  if (when > kMax - base) {
    out_->Error(InvalidExpireTime());
    return Status::Ok();
  }
  when += base;
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  if (!value) {
    out_->Integer(0);
    return Status::Ok();
  }
  const int64_t current = value->expire_at_ms;  // kNoExpiry: none, an infinite TTL
  if ((nx && current != kNoExpiry) || (xx && current == kNoExpiry) ||
      (gt && (current == kNoExpiry || when <= current)) ||
      (lt && current != kNoExpiry && when >= current)) {
    out_->Integer(0);
    return Status::Ok();
  }
  // A time at or before now deletes the key (also 0 and negative ones, which no stored
  // expiry can be).
  if (when <= txn_->now_ms()) {
    txn_->Delete(std::move(key));
  } else {
    txn_->Put(std::move(key), std::move(value->value), when);
  }
  out_->Integer(1);
  return Status::Ok();
}

// TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 without the key, -1 without an expiry.
Status Command::Ttl(CommandId id) {
  KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(1)));
  if (!value) {
    out_->Integer(-2);
    return Status::Ok();
  }
  if (value->expire_at_ms == kNoExpiry) {
    out_->Integer(-1);
    return Status::Ok();
  }
  const bool absolute = id == CommandId::kExpireTime || id == CommandId::kPExpireTime;
  const bool ms = id == CommandId::kPTtl || id == CommandId::kPExpireTime;
  const int64_t t =
      std::max<int64_t>(absolute ? value->expire_at_ms : value->expire_at_ms - txn_->now_ms(), 0);
  out_->Integer(ms ? t : (t + 500) / 1000);
  return Status::Ok();
}

Status Command::Persist() {
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  if (!value || value->expire_at_ms == kNoExpiry) {
    out_->Integer(0);
    return Status::Ok();
  }
  txn_->Put(std::move(key), std::move(value->value), kNoExpiry);
  out_->Integer(1);
  return Status::Ok();
}

Status Command::SetNx() {
  std::string key = Key(1);
  KVS_READ(bool exists, txn_->Exists(key));
  if (!exists) txn_->Put(std::move(key), argv_[2]);
  out_->Integer(exists ? 0 : 1);
  return Status::Ok();
}

Status Command::GetSet() {
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> old, txn_->Get(key));
  txn_->Put(std::move(key), argv_[2]);  // a new value without an expiry, as SET
  if (old) {
    out_->Bulk(old->value);
  } else {
    out_->Null();
  }
  return Status::Ok();
}

Status Command::GetDel() {
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> old, txn_->Get(key));
  if (old) {
    txn_->Delete(std::move(key));
    out_->Bulk(old->value);
  } else {
    out_->Null();
  }
  return Status::Ok();
}

Status Command::MSet(bool nx) {
  if (argv_.size() % 2 == 0) {
    out_->Error(proto::WrongArityError(nx ? "msetnx" : "mset"));
    return Status::Ok();
  }
  if (nx) {
    for (size_t i = 1; i < argv_.size(); i += 2) {
      KVS_READ(bool exists, txn_->Exists(Key(i)));
      if (exists) {
        out_->Integer(0);
        return Status::Ok();
      }
    }
  }
  for (size_t i = 1; i < argv_.size(); i += 2) txn_->Put(Key(i), argv_[i + 1]);
  if (nx) {
    out_->Integer(1);
  } else {
    out_->Ok();
  }
  return Status::Ok();
}

Status Command::Append() {
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  const std::string& tail = argv_[2];
  if (!value) {
    txn_->Put(std::move(key), tail);
    out_->Integer(static_cast<int64_t>(tail.size()));
    return Status::Ok();
  }
  if (TooBig(value->value.size(), tail.size())) {
    out_->Error(kStringTooLong);
    return Status::Ok();
  }
  value->value.append(tail);
  const auto len = static_cast<int64_t>(value->value.size());
  txn_->Put(std::move(key), std::move(value->value), value->expire_at_ms);  // keeps its TTL
  out_->Integer(len);
  return Status::Ok();
}

Status Command::SetRange() {
  int64_t offset;
  if (!proto::ParseInt64(argv_[2], &offset)) {
    out_->Error(kNotInteger);
    return Status::Ok();
  }
  if (offset < 0) {
    out_->Error(kOffsetOutOfRange);
    return Status::Ok();
  }
  const std::string& patch = argv_[3];
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  if (patch.empty()) {  // nothing to write: the current length (0 when absent)
    out_->Integer(value ? static_cast<int64_t>(value->value.size()) : 0);
    return Status::Ok();
  }
  if (TooBig(static_cast<uint64_t>(offset), patch.size())) {
    out_->Error(kStringTooLong);
    return Status::Ok();
  }
  std::string s = value ? std::move(value->value) : std::string();
  const auto end = static_cast<size_t>(offset) + patch.size();
  if (s.size() < end) s.resize(end, '\0');
  s.replace(static_cast<size_t>(offset), patch.size(), patch);
  const auto len = static_cast<int64_t>(s.size());
  txn_->Put(std::move(key), std::move(s), value ? value->expire_at_ms : kNoExpiry);
  out_->Integer(len);
  return Status::Ok();
}

Status Command::IncrBy(CommandId id) {
  int64_t incr = 1;
  if (id == CommandId::kIncrBy || id == CommandId::kDecrBy) {
    if (!proto::ParseInt64(argv_[2], &incr)) {
      out_->Error(kNotInteger);
      return Status::Ok();
    }
  }
  if (id == CommandId::kDecrBy && incr == std::numeric_limits<int64_t>::min()) {
    out_->Error(kDecrementOverflow);
    return Status::Ok();
  }
  if (id == CommandId::kDecr || id == CommandId::kDecrBy) incr = -incr;
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  int64_t old = 0;
  if (value && !proto::ParseInt64(value->value, &old)) {
    out_->Error(kNotInteger);
    return Status::Ok();
  }
  if ((incr < 0 && old < 0 && incr < std::numeric_limits<int64_t>::min() - old) ||
      (incr > 0 && old > 0 && incr > std::numeric_limits<int64_t>::max() - old)) {
    out_->Error(kIncrDecrOverflow);
    return Status::Ok();
  }
  const int64_t now = old + incr;
  txn_->Put(std::move(key), fmt::format_int(now).str(), value ? value->expire_at_ms : kNoExpiry);
  out_->Integer(now);
  return Status::Ok();
}

Status Command::IncrByFloat() {
  std::string key = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(key));
  long double old = 0, incr = 0;
  if ((value && !proto::ParseLongDouble(value->value, &old)) ||
      !proto::ParseLongDouble(argv_[2], &incr)) {
    out_->Error(kNotFloat);
    return Status::Ok();
  }
  const long double now = old + incr;
  if (std::isnan(now) || std::isinf(now)) {
    out_->Error(kNanOrInfinity);
    return Status::Ok();
  }
  std::string text = proto::FormatLongDouble(now);
  out_->Bulk(text);
  txn_->Put(std::move(key), std::move(text), value ? value->expire_at_ms : kNoExpiry);
  return Status::Ok();
}

Status Command::Del() {
  int64_t removed = 0;
  for (size_t i = 1; i < argv_.size(); ++i) {
    std::string key = Key(i);
    KVS_READ(bool exists, txn_->Exists(key));
    if (exists) {
      txn_->Delete(std::move(key));
      ++removed;
    }
  }
  out_->Integer(removed);
  return Status::Ok();
}

Status Command::Rename(bool nx) {
  std::string src = Key(1);
  std::string dst = Key(2);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(src));
  if (!value) {
    out_->Error(kNoSuchKey);
    return Status::Ok();
  }
  if (src == dst) {  // the same key: nothing to do, but a missing one is still an error
    if (nx) {
      out_->Integer(0);
    } else {
      out_->Ok();
    }
    return Status::Ok();
  }
  if (nx) {
    KVS_READ(bool taken, txn_->Exists(dst));
    if (taken) {
      out_->Integer(0);
      return Status::Ok();
    }
  }
  txn_->Put(std::move(dst), std::move(value->value), value->expire_at_ms);
  txn_->Delete(std::move(src));
  if (nx) {
    out_->Integer(1);
  } else {
    out_->Ok();
  }
  return Status::Ok();
}

Status Command::Copy() {
  uint32_t dst_db = db_;
  bool replace = false;
  for (size_t j = 3; j < argv_.size(); ++j) {
    const bool has_next = j + 1 < argv_.size();
    if (EqualsIgnoreCase(argv_[j], "REPLACE")) {
      replace = true;
    } else if (EqualsIgnoreCase(argv_[j], "DB") && has_next) {
      int64_t n;
      if (!proto::ParseInt64(argv_[j + 1], &n)) {
        out_->Error(kNotInteger);
        return Status::Ok();
      }
      if (n < 0 || n >= options_.databases) {
        out_->Error(kDbIndexOutOfRange);
        return Status::Ok();
      }
      dst_db = static_cast<uint32_t>(n);
      ++j;
    } else {
      out_->Error(kSyntaxError);
      return Status::Ok();
    }
  }
  if (dst_db == db_ && argv_[1] == argv_[2]) {
    out_->Error(kSameObject);
    return Status::Ok();
  }
  KVS_READ(std::optional<StoredValue> value, txn_->Get(Key(1)));
  if (!value) {
    out_->Integer(0);
    return Status::Ok();
  }
  std::string dst = EncodeDbKey(dst_db, argv_[2]);
  if (!replace) {
    KVS_READ(bool taken, txn_->Exists(dst));
    if (taken) {
      out_->Integer(0);
      return Status::Ok();
    }
  }
  txn_->Put(std::move(dst), std::move(value->value), value->expire_at_ms);
  out_->Integer(1);
  return Status::Ok();
}

// MOVE key db: to the same key of another database, unless it is taken there.
Status Command::Move() {
  int64_t n;
  if (!proto::ParseInt64(argv_[2], &n)) {
    out_->Error(kNotInteger);
    return Status::Ok();
  }
  if (n < INT32_MIN || n > INT32_MAX) {
    out_->Error(proto::errors::kIntOutOfRange);
    return Status::Ok();
  }
  if (n < 0 || n >= options_.databases) {
    out_->Error(kDbIndexOutOfRange);
    return Status::Ok();
  }
  if (static_cast<uint32_t>(n) == db_) {
    out_->Error(kSameObject);
    return Status::Ok();
  }
  std::string src = Key(1);
  KVS_READ(std::optional<StoredValue> value, txn_->Get(src));
  std::string dst = EncodeDbKey(static_cast<uint32_t>(n), argv_[1]);
  if (value) {
    KVS_READ(bool taken, txn_->Exists(dst));
    if (!taken) {
      txn_->Put(std::move(dst), std::move(value->value), value->expire_at_ms);
      txn_->Delete(std::move(src));
      out_->Integer(1);
      return Status::Ok();
    }
  }
  out_->Integer(0);
  return Status::Ok();
}

// KEYS: every key of the database matching the glob ("*" matches the empty key too: Redis
// skips matching for it).
Status Command::Keys() {
  const std::string prefix = EncodeDbKey(db_, "");
  const std::string& pattern = argv_[1];
  const bool all = pattern == "*";
  std::vector<std::string> keys;
  KVS_RETURN_IF_ERROR(txn_->ForEachKey(prefix, [&](std::string_view key) {
    const std::string_view user = key.substr(prefix.size());
    if (all || proto::GlobMatch(pattern, user)) keys.emplace_back(user);
    return Status::Ok();
  }));
  out_->Array(keys.size());
  for (const std::string& key : keys) out_->Bulk(key);
  return Status::Ok();
}

// DBSIZE: the engine's count while nothing is staged (the LogStore keeps one), else a walk.
Status Command::DbSize() {
  if (std::optional<uint64_t> known = txn_->KeysInDb(db_)) {
    out_->Integer(static_cast<int64_t>(*known));
    return Status::Ok();
  }
  int64_t n = 0;
  KVS_RETURN_IF_ERROR(txn_->ForEachKey(EncodeDbKey(db_, ""), [&n](std::string_view) {
    ++n;
    return Status::Ok();
  }));
  out_->Integer(n);
  return Status::Ok();
}

// SCAN's order: a fixed hash of the user key (FNV-1a), so that a cursor is a position in
// hash space that writes and compactions cannot move. 1 .. 2^62; cursor 0 starts (and ends).
uint64_t ScanPosition(std::string_view user_key) {
  uint64_t h = 14695981039346656037ull;
  for (char ch : user_key) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return (h >> 2) + 1;
}

// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. Returns the `count` keys (and any that
// tie with the last) of the smallest positions at or after the cursor: a key present for the
// whole iteration is returned exactly once, whatever else changes meanwhile. Each call looks
// at every key of the database (docs/PROTOCOL.md "SCAN").
Status Command::Scan() {
  const std::string& text = argv_[1];
  // Redis's parseScanCursorOrReply: strtoul, whole word, no leading space, no overflow.
  errno = 0;
  char* end = nullptr;
  const uint64_t cursor = std::strtoull(text.c_str(), &end, 10);
  if ((!text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) ||
      end != text.c_str() + text.size() || errno == ERANGE) {
    out_->Error("ERR invalid cursor");
    return Status::Ok();
  }
  int64_t count = 10;
  const std::string* pattern = nullptr;
  const std::string* type = nullptr;
  for (size_t j = 2; j < argv_.size(); j += 2) {
    if (j + 1 >= argv_.size()) {
      out_->Error(kSyntaxError);
      return Status::Ok();
    }
    if (EqualsIgnoreCase(argv_[j], "COUNT")) {
      if (!proto::ParseInt64(argv_[j + 1], &count)) {
        out_->Error(kNotInteger);
        return Status::Ok();
      }
      if (count < 1) {
        out_->Error(kSyntaxError);
        return Status::Ok();
      }
    } else if (EqualsIgnoreCase(argv_[j], "MATCH")) {
      pattern = &argv_[j + 1];
    } else if (EqualsIgnoreCase(argv_[j], "TYPE")) {
      type = &argv_[j + 1];
    } else {
      out_->Error(kSyntaxError);
      return Status::Ok();
    }
  }
  const std::string prefix = EncodeDbKey(db_, "");
  std::vector<std::pair<uint64_t, std::string>> after;  // (position, user key)
  KVS_RETURN_IF_ERROR(txn_->ForEachKey(prefix, [&](std::string_view key) {
    const std::string_view user = key.substr(prefix.size());
    const uint64_t pos = ScanPosition(user);
    if (pos >= cursor) after.emplace_back(pos, user);
    return Status::Ok();
  }));
  const auto n = static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(after.size())));
  uint64_t next = 0;
  if (n < after.size()) {
    std::nth_element(after.begin(), after.begin() + static_cast<ptrdiff_t>(n - 1), after.end());
    const uint64_t last = after[n - 1].first;
    // Everything up to `last` (ties included) now; the rest from last + 1 on.
    auto split = std::partition(after.begin(), after.end(),
                                [last](const auto& e) { return e.first <= last; });
    next = split == after.end() ? 0 : last + 1;
    after.erase(split, after.end());
  }
  std::vector<std::string_view> keys;
  const bool strings = type == nullptr || EqualsIgnoreCase(*type, "string");
  for (const auto& [pos, key] : after) {
    if (!strings) break;  // every kvs key is a string
    if (pattern != nullptr && *pattern != "*" && !proto::GlobMatch(*pattern, key)) continue;
    keys.push_back(key);
  }
  out_->Array(2);
  out_->Bulk(fmt::format_int(next).str());
  out_->Array(keys.size());
  for (std::string_view key : keys) out_->Bulk(key);
  return Status::Ok();
}

Status Command::RandomKey() {
  const std::string prefix = EncodeDbKey(db_, "");
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::optional<std::string> chosen;
  uint64_t seen = 0;
  KVS_RETURN_IF_ERROR(txn_->ForEachKey(prefix, [&](std::string_view key) {
    // Reservoir sampling: each key is kept with probability 1/seen.
    if (std::uniform_int_distribution<uint64_t>(0, seen++)(rng) == 0) {
      chosen = std::string(key.substr(prefix.size()));
    }
    return Status::Ok();
  }));
  if (chosen) {
    out_->Bulk(*chosen);
  } else {
    out_->Null();
  }
  return Status::Ok();
}

// FLUSHDB / FLUSHALL [ASYNC|SYNC]: one prefix delete (the database's, or every key's), in
// the transaction's one batch: durable and atomic, one small record however many keys go.
Status Command::Flush(bool all) {
  if (argv_.size() > 2 || (argv_.size() == 2 && !EqualsIgnoreCase(argv_[1], "ASYNC") &&
                           !EqualsIgnoreCase(argv_[1], "SYNC"))) {
    out_->Error(kSyntaxError);
    return Status::Ok();
  }
  txn_->DeletePrefix(all ? std::string() : DbKeyPrefix(db_));
  out_->Ok();
  return Status::Ok();
}

#undef KVS_READ

}  // namespace

Status RunDataCommand(const proto::CommandSpec& spec, std::span<const std::string> argv,
                      uint32_t db, const KeyspaceOptions& options, Txn* txn, ReplyWriter* out) {
  return Command(argv, db, options, txn, out).Run(spec.id);
}

std::string CheckKeyLengths(const proto::CommandSpec& spec, std::span<const std::string> argv,
                            const KeyspaceOptions& options) {
  if (spec.first_key <= 0) return {};
  const auto argc = static_cast<int>(argv.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += std::max(spec.key_step, 1)) {
    const size_t len = argv[static_cast<size_t>(i)].size();
    if (len > options.max_key_bytes) {
      return fmt::format("ERR key too long: {} bytes (limit {})", len, options.max_key_bytes);
    }
  }
  return {};
}

}  // namespace kvs::server_internal
