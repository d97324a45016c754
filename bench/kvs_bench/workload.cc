#include "workload.h"

#include <cassert>
#include <cstring>
#include <vector>

#include "proto/request_encoder.h"

namespace kvs::bench {

namespace {

// Values start at a random offset in the pool, so two SETs rarely carry the same bytes.
constexpr size_t kPoolSlack = 4096;

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void WriteDigits(uint64_t key, char* at) {
  for (size_t i = kKeyDigits; i-- > 0;) {
    at[i] = static_cast<char>('0' + key % 10);
    key /= 10;
  }
}

// Encodes `words` as one RESP request into *out and returns where each occurrence of `key`
// starts, in order, plus the prefix's length: the offsets of the digits to patch. The
// other words must not contain `key` (the placeholder values are all 'v').
std::vector<size_t> EncodeRespWords(const std::vector<std::string>& words, std::string_view key,
                                    size_t prefix_size, std::string* out) {
  const std::vector<std::string_view> argv(words.begin(), words.end());
  proto::Request request;
  request.shape = proto::Shape::kResp;
  request.command = proto::Command::kRedis;
  request.argv = argv;
  proto::EncodeRequest(request, out);
  std::vector<size_t> digits_at;
  for (size_t at = out->find(key); at != std::string::npos; at = out->find(key, at + key.size()))
    digits_at.push_back(at + prefix_size);
  return digits_at;
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kSet:
      return "set";
    case Op::kGet:
      return "get";
    case Op::kIncr:
      return "incr";
    case Op::kMget:
      return "mget";
    case Op::kMset:
      return "mset";
    case Op::kSetEx:
      return "set-ex";
    case Op::kExpire:
      return "expire";
  }
  return "?";
}

std::string KeyName(uint64_t key) {
  std::string name(kKeyPrefix);
  name.resize(kKeyPrefix.size() + kKeyDigits);
  WriteDigits(key, name.data() + kKeyPrefix.size());
  return name;
}

std::string CounterName(uint64_t key) {
  std::string name(kCounterPrefix);
  name.resize(kCounterPrefix.size() + kKeyDigits);
  WriteDigits(key, name.data() + kCounterPrefix.size());
  return name;
}

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix64(&seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

RequestTemplates::RequestTemplates(proto::Protocol protocol, size_t value_size, uint64_t seed,
                                   size_t multi_keys, uint64_t ttl_s)
    : value_size_(value_size), multi_keys_(multi_keys) {
  assert(multi_keys >= 1 && multi_keys <= kMaxMultiKeys && ttl_s >= 1);
  const proto::Shape shape =
      protocol == proto::Protocol::kResp ? proto::Shape::kResp : proto::Shape::kJson;
  const std::string key = KeyName(0);
  // The placeholder value is printable and holds no "key:", so finding the key is exact.
  const std::string value(value_size, 'v');
  proto::Request set{shape, proto::Command::kSet, key, value, true, {}, false};
  proto::Request get{shape, proto::Command::kGet, key, {}, false, {}, false};
  proto::EncodeRequest(set, &set_);
  proto::EncodeRequest(get, &get_);
  set_key_at_ = set_.find(key) + kKeyPrefix.size();
  get_key_at_ = get_.find(key) + kKeyPrefix.size();
  // The value is the last field: JSON ends `"value":"VVV"}\n`, RESP `$n\r\nVVV\r\n`.
  set_value_at_ = set_.size() - value_size - (protocol == proto::Protocol::kResp ? 2 : 3);
  assert(set_.compare(set_value_at_, value_size, value) == 0);

  if (protocol == proto::Protocol::kResp) {
    const std::string counter = CounterName(0);
    incr_key_at_ = EncodeRespWords({"INCR", counter}, counter, kCounterPrefix.size(), &incr_)[0];
    std::vector<std::string> words = {"MGET"};
    words.insert(words.end(), multi_keys, key);
    mget_keys_at_ = EncodeRespWords(words, key, kKeyPrefix.size(), &mget_);
    words = {"MSET"};
    for (size_t i = 0; i < multi_keys; ++i) {
      words.push_back(key);
      words.push_back(value);
    }
    mset_keys_at_ = EncodeRespWords(words, key, kKeyPrefix.size(), &mset_);
    // Each value follows its key: "key:DDDDDDDDDD\r\n$<size>\r\n<value>".
    const size_t value_after_digits = kKeyDigits + 2 + 1 + std::to_string(value_size).size() + 2;
    const std::string ttl = std::to_string(ttl_s);
    set_ex_key_at_ =
        EncodeRespWords({"SET", key, value, "EX", ttl}, key, kKeyPrefix.size(), &set_ex_)[0];
    set_ex_value_at_ = set_ex_key_at_ + value_after_digits;
    assert(set_ex_.compare(set_ex_value_at_, value_size, value) == 0);
    expire_key_at_ =
        EncodeRespWords({"EXPIRE", counter, ttl}, counter, kCounterPrefix.size(), &expire_)[0];
    for (size_t digits_at : mset_keys_at_) {
      mset_values_at_.push_back(digits_at + value_after_digits);
      assert(mset_.compare(mset_values_at_.back(), value_size, value) == 0);
    }
    assert(mget_keys_at_.size() == multi_keys && mset_keys_at_.size() == multi_keys);
  }

  Rng rng(seed ^ 0x76616c7565ULL);  // "value": a stream apart from the key choosers'
  pool_.resize(value_size + kPoolSlack);
  for (char& c : pool_) {
    if (protocol == proto::Protocol::kResp) {
      c = static_cast<char>(rng.Next() & 0xff);
    } else {
      // Printable ASCII without '"' and '\\': valid JSON string bytes that need no escape.
      static constexpr std::string_view kAlphabet =
          "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
          "abcdefghijklmnopqrstuvwxyz{|}~ ";
      c = kAlphabet[rng.Below(kAlphabet.size())];
    }
  }
}

void RequestTemplates::PatchValue(char* at, Rng& rng) const {
  if (value_size_ > 0) std::memcpy(at, pool_.data() + rng.Below(kPoolSlack + 1), value_size_);
}

void RequestTemplates::AppendKeyValue(std::string_view request, size_t key_at, size_t value_at,
                                      uint64_t key, Rng& rng, std::string* out) const {
  const size_t base = out->size();
  out->append(request);
  char* at = out->data() + base;
  WriteDigits(key, at + key_at);
  PatchValue(at + value_at, rng);
}

void RequestTemplates::AppendSet(uint64_t key, Rng& rng, std::string* out) const {
  AppendKeyValue(set_, set_key_at_, set_value_at_, key, rng, out);
}

void RequestTemplates::AppendGet(uint64_t key, std::string* out) const {
  const size_t base = out->size();
  out->append(get_);
  WriteDigits(key, out->data() + base + get_key_at_);
}

void RequestTemplates::AppendIncr(uint64_t key, std::string* out) const {
  assert(!incr_.empty());
  const size_t base = out->size();
  out->append(incr_);
  WriteDigits(key, out->data() + base + incr_key_at_);
}

void RequestTemplates::AppendMget(uint64_t keyspace, Rng& rng, std::string* out) const {
  assert(!mget_.empty());
  const size_t base = out->size();
  out->append(mget_);
  char* at = out->data() + base;
  for (size_t digits_at : mget_keys_at_) WriteDigits(rng.Below(keyspace), at + digits_at);
}

void RequestTemplates::AppendMset(uint64_t keyspace, Rng& rng, std::string* out) const {
  assert(!mset_.empty());
  const size_t base = out->size();
  out->append(mset_);
  char* at = out->data() + base;
  for (size_t i = 0; i < multi_keys_; ++i) {
    WriteDigits(rng.Below(keyspace), at + mset_keys_at_[i]);
    PatchValue(at + mset_values_at_[i], rng);
  }
}

void RequestTemplates::AppendSetEx(uint64_t key, Rng& rng, std::string* out) const {
  assert(!set_ex_.empty());
  AppendKeyValue(set_ex_, set_ex_key_at_, set_ex_value_at_, key, rng, out);
}

void RequestTemplates::AppendExpire(uint64_t key, std::string* out) const {
  assert(!expire_.empty());
  const size_t base = out->size();
  out->append(expire_);
  WriteDigits(key, out->data() + base + expire_key_at_);
}

KeyChooser::KeyChooser(uint64_t seed, uint32_t set_weight, uint32_t get_weight, uint64_t keyspace,
                       std::optional<Op> only)
    : rng_(seed),
      set_weight_(set_weight),
      total_weight_(uint64_t{set_weight} + get_weight),
      keyspace_(keyspace),
      only_(only) {
  assert((only_ || total_weight_ > 0) && keyspace_ > 0);
}

}  // namespace kvs::bench
