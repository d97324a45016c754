#include "store/key_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

namespace kvs {

namespace {

uint32_t Low32(uint64_t hash) { return static_cast<uint32_t>(hash); }

// Faults in the pages of [data, data + bytes) with one system call: a table sized for a
// million keys would otherwise take one page fault per 4 KiB as it fills, which costs more
// than the inserts themselves in a virtual machine. Best effort; small ranges are left alone.
void Populate(const void* data, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  constexpr uintptr_t kPage = 4096;
  if (bytes < 16 * kPage) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kPage - 1);
  if (end > begin)
    (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)bytes;
#endif
}

// Empties `slot` of a linear-probing array whose slots are empty when `ref` is 0, without
// tombstones: pulls each following slot of the cluster into the hole unless its home (`home`)
// lies cyclically in (hole, slot], where moving it would put it before its home.
template <typename SlotT, typename HomeFn>
void ShiftBack(PodArray<SlotT>& slots, size_t slot, HomeFn home_of) {
  auto next = [&](size_t i) { return i + 1 == slots.size() ? 0 : i + 1; };
  size_t hole = slot;
  for (size_t j = next(slot); slots[j].ref != 0; j = next(j)) {
    const size_t home = home_of(slots[j]);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots[hole] = slots[j];
    hole = j;
  }
  slots[hole] = SlotT{};
}

}  // namespace

uint64_t KeyTable::DefaultHash(std::string_view key) { return std::hash<std::string_view>{}(key); }

std::string_view KeyTable::KeyOf(const Entry& e) const {
  const uint32_t len = KeyLen(e);
  if (len <= kInlineKeyBytes) return std::string_view(e.key, len);
  uint32_t index;
  std::memcpy(&index, e.key, sizeof index);
  return long_keys_[index];
}

void KeyTable::StoreKey(Entry& e, std::string_view key) {
  e.key_len = static_cast<uint32_t>(key.size());
  if (key.size() <= kInlineKeyBytes) {
    std::memcpy(e.key, key.data(), key.size());
    return;
  }
  uint32_t index;
  if (!free_long_keys_.empty()) {
    index = free_long_keys_.back();
    free_long_keys_.pop_back();
    long_keys_[index] = key;
  } else {
    index = static_cast<uint32_t>(long_keys_.size());
    long_keys_.emplace_back(key);
  }
  std::memcpy(e.key, &index, sizeof index);
}

void KeyTable::ReleaseKey(const Entry& e) {
  if (KeyLen(e) <= kInlineKeyBytes) return;
  uint32_t index;
  std::memcpy(&index, e.key, sizeof index);
  std::string().swap(long_keys_[index]);  // give the bytes back now, not at the next reuse
  free_long_keys_.push_back(index);
}

size_t KeyTable::FindSlot(std::string_view key, uint32_t hash) const {
  if (slots_.empty()) return 0;
  // The load bound keeps an empty slot in every probe sequence, which ends the loop.
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot& s = slots_[i];
    if (s.ref == 0) return slots_.size();
    if (s.hash == hash && KeyOf(entries_[s.ref - 1]) == key) return i;
  }
}

size_t KeyTable::SlotOfEntry(uint32_t index) const {
  const uint32_t hash = Low32(hash_(KeyOf(entries_[index])));
  size_t i = Home(hash);
  while (slots_[i].ref != index + 1) {
    assert(slots_[i].ref != 0);
    i = Next(i);
  }
  return i;
}

size_t KeyTable::Locate(std::string_view key, uint64_t hash) const {
  const size_t i = FindSlot(key, Low32(hash));
  return i == slots_.size() ? kAbsent : slots_[i].ref - 1;
}

std::optional<IndexEntry> KeyTable::Find(std::string_view key, uint64_t hash) const {
  const size_t pos = Locate(key, hash);
  if (pos == kAbsent) return std::nullopt;
  return At(pos);
}

IndexEntry KeyTable::At(size_t pos) const {
  const Entry& e = entries_[pos];
  const int64_t at = HasTtl(e) ? ttl_[TtlFind(static_cast<uint32_t>(pos))].at() : 0;
  return IndexEntry{e.value.seq, e.value.offset, e.value.segment, e.value.value_len, at};
}

void KeyTable::Assign(size_t pos, const IndexEntry& entry) {
  Entry& e = entries_[pos];
  e.value = Stored{entry.seq, entry.offset, entry.segment, entry.value_len};
  if (entry.expire_at_ms != 0) {
    TtlPut(static_cast<uint32_t>(pos), entry.expire_at_ms);
    e.key_len |= kHasTtl;
  } else if (HasTtl(e)) {
    (void)TtlTake(static_cast<uint32_t>(pos));
    e.key_len &= ~kHasTtl;
  }
}

std::pair<size_t, bool> KeyTable::Emplace(std::string_view key, uint64_t hash,
                                          const IndexEntry& entry) {
  const uint32_t h = Low32(hash);
  if (const size_t i = FindSlot(key, h); i != slots_.size()) return {slots_[i].ref - 1, false};
  assert(entries_.size() < std::numeric_limits<uint32_t>::max());
  // Both arrays grow by half, not double: less memory left unused after a growth step.
  if ((entries_.size() + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum) {
    Rehash(std::max(kMinSlots, slots_.size() + slots_.size() / 2));
  }
  if (entries_.size() == entries_.capacity()) {
    entries_.reserve(std::max<size_t>(4, entries_.size() + entries_.size() / 2));
  }
  size_t i = Home(h);
  while (slots_[i].ref != 0) i = Next(i);
  Entry e;
  e.value = Stored{entry.seq, entry.offset, entry.segment, entry.value_len};
  StoreKey(e, key);
  const auto pos = static_cast<uint32_t>(entries_.size());
  if (entry.expire_at_ms != 0) {
    TtlPut(pos, entry.expire_at_ms);
    e.key_len |= kHasTtl;
  }
  entries_.push_back(e);
  slots_[i] = Slot{h, pos + 1};
  return {pos, true};
}

void KeyTable::Rehash(size_t slot_count) {
  // calloc'd: fresh pages are zero (empty slots) without being written.
  PodArray<Slot> old = PodArray<Slot>::Zeroed(slot_count);
  Populate(old.data(), slot_count * sizeof(Slot));
  std::swap(old, slots_);
  // Slots carry their hash: moving them never touches the entries or hashes a key again.
  for (const Slot& s : old) {
    if (s.ref == 0) continue;
    size_t i = Home(s.hash);
    while (slots_[i].ref != 0) i = Next(i);
    slots_[i] = s;
  }
}

void KeyTable::EraseSlot(size_t slot) {
  const uint32_t index = slots_[slot].ref - 1;
  ShiftBack(slots_, slot, [this](const Slot& s) { return Home(s.hash); });

  // Keep entries_ dense: the last entry moves into the freed place, and its expiry time
  // (if any) to the side-map slot of its new position.
  if (HasTtl(entries_[index])) (void)TtlTake(index);
  ReleaseKey(entries_[index]);
  const uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
  if (index != last) {
    slots_[SlotOfEntry(last)].ref = index + 1;
    if (HasTtl(entries_[last])) TtlPut(index, TtlTake(last));
    entries_[index] = entries_[last];
  }
  entries_.pop_back();
}

bool KeyTable::Erase(std::string_view key, uint64_t hash) {
  const size_t i = FindSlot(key, Low32(hash));
  if (i == slots_.size()) return false;
  EraseSlot(i);
  MaybeShrink();
  return true;
}

void KeyTable::MaybeShrink() {
  // A table that lost most of its keys (a wave of expiries, FLUSHDB) gives the memory back:
  // under an eighth full, its arrays move to room for twice its keys. Growing back doubles
  // again, so erase and insert cycles do not thrash.
  const size_t n = entries_.size();
  if (entries_.capacity() <= kMinShrinkEntries || n * 8 >= entries_.capacity()) return;
  const size_t keep = std::max(n * 2, kMinShrinkEntries);
  entries_.shrink_to(keep);
  Rehash(SlotsFor(keep));
}

size_t KeyTable::EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred) {
  size_t n = 0;
  // Backwards: the entry that EraseSlot moves into a hole is the last one, already visited.
  for (size_t i = entries_.size(); i-- > 0;) {
    if (!pred(KeyOf(entries_[i]), At(i))) continue;
    EraseSlot(SlotOfEntry(static_cast<uint32_t>(i)));
    ++n;
  }
  MaybeShrink();
  return n;
}

void KeyTable::ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const {
  for (size_t i = 0; i < entries_.size(); ++i) fn(KeyOf(entries_[i]), At(i));
}

// ---- The expiry side map ------------------------------------------------------------------

size_t KeyTable::TtlFind(uint32_t index) const {
  for (size_t i = TtlHome(index + 1);; i = TtlNext(i)) {
    assert(ttl_[i].ref != 0);
    if (ttl_[i].ref == index + 1) return i;
  }
}

void KeyTable::TtlPut(uint32_t index, int64_t at) {
  const auto bits = static_cast<uint64_t>(at);
  const TtlSlot slot{index + 1, static_cast<uint32_t>(bits), static_cast<uint32_t>(bits >> 32)};
  int64_t earliest = earliest_expiry_.load(std::memory_order_relaxed);
  if (at < earliest) earliest_expiry_.store(at, std::memory_order_relaxed);
  if (!ttl_.empty()) {
    for (size_t i = TtlHome(index + 1); ttl_[i].ref != 0; i = TtlNext(i)) {
      if (ttl_[i].ref == index + 1) {
        ttl_[i] = slot;
        return;
      }
    }
  }
  // The same load bound as the key slots; grown by half.
  if ((ttl_count_ + 1) * kMaxLoadDen > ttl_.size() * kMaxLoadNum) {
    TtlResize(std::max(kMinSlots, ttl_.size() + ttl_.size() / 2));
  }
  size_t i = TtlHome(index + 1);
  while (ttl_[i].ref != 0) i = TtlNext(i);
  ttl_[i] = slot;
  ++ttl_count_;
}

int64_t KeyTable::TtlTake(uint32_t index) {
  const size_t slot = TtlFind(index);
  const int64_t at = ttl_[slot].at();
  ShiftBack(ttl_, slot, [this](const TtlSlot& s) { return TtlHome(s.ref); });
  --ttl_count_;
  // Shrink once mostly empty: the expirer's walk over the map stays proportional to the
  // keys that have a TTL after a wave of them expired, and the memory comes back.
  if (ttl_count_ == 0) {
    ttl_ = PodArray<TtlSlot>();
  } else if (ttl_.size() > kMinSlots && ttl_count_ * 8 < ttl_.size()) {
    TtlResize(std::max(kMinSlots, ttl_count_ * 2));
  }
  return at;
}

void KeyTable::TtlResize(size_t slot_count) {
  PodArray<TtlSlot> old = PodArray<TtlSlot>::Zeroed(slot_count);
  std::swap(old, ttl_);
  for (const TtlSlot& s : old) {
    if (s.ref == 0) continue;
    size_t i = TtlHome(s.ref);
    while (ttl_[i].ref != 0) i = TtlNext(i);
    ttl_[i] = s;
  }
}

void KeyTable::ForEachTtl(int64_t up_to,
                          const std::function<void(std::string_view, int64_t)>& fn) const {
  int64_t earliest = INT64_MAX;
  for (const TtlSlot& s : ttl_) {
    if (s.ref == 0) continue;
    const int64_t at = s.at();
    earliest = std::min(earliest, at);
    if (at <= up_to) fn(KeyOf(entries_[s.ref - 1]), at);
  }
  earliest_expiry_.store(earliest, std::memory_order_relaxed);
}

bool KeyTable::ScanTtl(size_t* cursor, size_t max_visited, size_t* visited, size_t* budget,
                       const std::function<void(std::string_view, int64_t)>& fn) const {
  size_t i = *cursor;
  for (; i < ttl_.size() && *visited<max_visited&& * budget> 0; ++i, --*budget) {
    const TtlSlot& s = ttl_[i];
    if (s.ref == 0) continue;
    ++*visited;
    fn(KeyOf(entries_[s.ref - 1]), s.at());
  }
  if (i >= ttl_.size()) {
    *cursor = 0;
    return true;
  }
  *cursor = i;
  return false;
}

void KeyTable::Reserve(size_t keys) {
  if (keys <= entries_.size()) return;
  entries_.reserve(keys);
  // Reserved for keys about to come: their pages may as well be in place now.
  Populate(entries_.data() + entries_.size(),
           (entries_.capacity() - entries_.size()) * sizeof(Entry));
  const size_t slots = SlotsFor(keys);
  if (slots > slots_.size()) Rehash(slots);
}

namespace {
size_t RoundUp64(size_t n) { return (n + 63) / 64 * 64; }
}  // namespace

size_t KeyTable::ReserveBytes(size_t keys) {
  return RoundUp64(SlotsFor(keys) * sizeof(Slot)) + RoundUp64(keys * sizeof(Entry));
}

void KeyTable::Reserve(size_t keys, char* storage) {
  if (!entries_.empty() || !slots_.empty()) return Reserve(keys);
  const size_t slots = SlotsFor(keys);
  slots_ = PodArray<Slot>::Borrowed(reinterpret_cast<Slot*>(storage), slots, slots);
  entries_ = PodArray<Entry>::Borrowed(
      reinterpret_cast<Entry*>(storage + RoundUp64(slots * sizeof(Slot))), 0, keys);
}

size_t KeyTable::MemoryBytes() const {
  size_t n = slots_.capacity() * sizeof(Slot) + entries_.capacity() * sizeof(Entry) +
             long_keys_.capacity() * sizeof(std::string) +
             free_long_keys_.capacity() * sizeof(uint32_t) + ttl_.capacity() * sizeof(TtlSlot);
  const size_t inline_capacity = std::string().capacity();  // no heap bytes up to this
  for (const std::string& k : long_keys_) {
    if (k.capacity() > inline_capacity) n += k.capacity() + 1;
  }
  return n;
}

}  // namespace kvs
