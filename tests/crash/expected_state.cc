#include "crash/expected_state.h"

#include <fmt/format.h>

#include <cstdlib>
#include <functional>

namespace kvs::crash {

Fingerprint FingerprintOf(std::string_view value) {
  return Fingerprint{value.size(), std::hash<std::string_view>{}(value)};
}

std::string Describe(const KeyState& state) {
  if (!state) return "absent";
  return fmt::format("{}B#{:016x}", state->size, state->hash);
}

KeyState ExpectedState::Latest(size_t key) const {
  const Slot& s = slots_[key];
  return s.pending.empty() ? s.acked : s.pending.back();
}

void ExpectedState::Begin(size_t key, KeyState after) { slots_[key].pending.push_back(after); }

void ExpectedState::Ack(size_t key) {
  Slot& s = slots_[key];
  s.acked = s.pending.front();
  s.pending.pop_front();
}

bool ExpectedState::Allowed(size_t key, const KeyState& observed) const {
  const Slot& s = slots_[key];
  if (observed == s.acked) return true;
  for (const KeyState& p : s.pending) {
    if (observed == p) return true;
  }
  return false;
}

std::string ExpectedState::Explain(size_t key) const {
  const Slot& s = slots_[key];
  std::string out = "acked=" + Describe(s.acked) + " pending=[";
  for (size_t i = 0; i < s.pending.size(); ++i) {
    if (i > 0) out += ", ";
    out += Describe(s.pending[i]);
  }
  return out + "]";
}

void ExpectedState::Resolve(size_t key, const KeyState& observed) {
  slots_[key].acked = observed;
  slots_[key].pending.clear();
}

std::string MakeValue(int writer, uint64_t write_no, size_t size, std::mt19937_64& rng) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string v = fmt::format("w{}.{}.", writer, write_no);
  v.resize(std::min(v.size(), size));
  v.reserve(size);
  // Filler in 8-byte runs keeps large values cheap to make under ASan.
  while (v.size() < size) {
    uint64_t r = rng();
    for (int i = 0; i < 8 && v.size() < size; ++i, r >>= 8) {
      v.push_back(kAlphabet[(r & 0xff) % kAlphabet.size()]);
    }
  }
  return v;
}

size_t PickValueSize(std::mt19937_64& rng, size_t max) {
  const uint64_t bucket = rng() % 100;
  auto upto = [&](size_t hi) { return static_cast<size_t>(rng() % (hi + 1)); };
  if (bucket < 55) return upto(64);
  if (bucket < 80) return upto(4096);
  if (bucket < 95) return upto(std::min<size_t>(32 * 1024, max));
  return upto(max);
}

uint64_t TestSeed() {
  if (const char* s = std::getenv("KVS_CRASH_SEED")) return std::strtoull(s, nullptr, 0);
  return std::random_device{}() * 0x100000001b3ULL ^ std::random_device{}();
}

int Rounds(int dflt) {
  if (const char* s = std::getenv("KVS_CRASH_ROUNDS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  return dflt;
}

}  // namespace kvs::crash
