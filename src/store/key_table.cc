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

}  // namespace

uint64_t KeyTable::DefaultHash(std::string_view key) { return std::hash<std::string_view>{}(key); }

std::string_view KeyTable::KeyOf(const Entry& e) const {
  if (e.key_len <= kInlineKeyBytes) return std::string_view(e.key, e.key_len);
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
  if (e.key_len <= kInlineKeyBytes) return;
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

IndexEntry* KeyTable::Find(std::string_view key, uint64_t hash) {
  const size_t i = FindSlot(key, Low32(hash));
  return i == slots_.size() ? nullptr : &entries_[slots_[i].ref - 1].value;
}

const IndexEntry* KeyTable::Find(std::string_view key, uint64_t hash) const {
  const size_t i = FindSlot(key, Low32(hash));
  return i == slots_.size() ? nullptr : &entries_[slots_[i].ref - 1].value;
}

std::pair<IndexEntry*, bool> KeyTable::Emplace(std::string_view key, uint64_t hash,
                                               const IndexEntry& entry) {
  const uint32_t h = Low32(hash);
  if (const size_t i = FindSlot(key, h); i != slots_.size()) {
    return {&entries_[slots_[i].ref - 1].value, false};
  }
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
  e.value = entry;
  StoreKey(e, key);
  entries_.push_back(e);
  slots_[i] = Slot{h, static_cast<uint32_t>(entries_.size())};
  return {&entries_[entries_.size() - 1].value, true};
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
  // Backward shift: pull each following slot of the cluster into the hole unless its home
  // lies cyclically in (hole, slot], where moving it would put it before its home.
  size_t hole = slot;
  for (size_t j = Next(slot); slots_[j].ref != 0; j = Next(j)) {
    const size_t home = Home(slots_[j].hash);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{};

  // Keep entries_ dense: the last entry moves into the freed place.
  ReleaseKey(entries_[index]);
  const uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
  if (index != last) {
    slots_[SlotOfEntry(last)].ref = index + 1;
    entries_[index] = entries_[last];
  }
  entries_.pop_back();
}

bool KeyTable::Erase(std::string_view key, uint64_t hash) {
  const size_t i = FindSlot(key, Low32(hash));
  if (i == slots_.size()) return false;
  EraseSlot(i);
  return true;
}

size_t KeyTable::EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred) {
  size_t n = 0;
  // Backwards: the entry that EraseSlot moves into a hole is the last one, already visited.
  for (size_t i = entries_.size(); i-- > 0;) {
    if (!pred(KeyOf(entries_[i]), entries_[i].value)) continue;
    EraseSlot(SlotOfEntry(static_cast<uint32_t>(i)));
    ++n;
  }
  return n;
}

void KeyTable::ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const {
  for (const Entry& e : entries_) fn(KeyOf(e), e.value);
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
             free_long_keys_.capacity() * sizeof(uint32_t);
  const size_t inline_capacity = std::string().capacity();  // no heap bytes up to this
  for (const std::string& k : long_keys_) {
    if (k.capacity() > inline_capacity) n += k.capacity() + 1;
  }
  return n;
}

}  // namespace kvs
