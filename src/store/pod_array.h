// PodArray<T>: a growable array of trivially copyable T in malloc'd memory, for the index's
// big tables. Unlike std::vector it does not initialize what it allocates: a zeroed array
// comes from calloc (fresh pages are zero already, so a table sized for millions of keys is
// not written twice), and an append writes the element once. It can also start in borrowed
// memory (a slice of a HugeBlock), whose pages it gives back when it moves out of them.
// Single-threaded; move-only.
//
// HugeBlock: one anonymous mapping aligned to 2 MiB and advised MADV_HUGEPAGE, so that
// the kernel can back it with huge pages: far fewer page faults and TLB misses for a big
// index (and, in a virtual machine with shadow page tables, far fewer exits). Unmapped on
// destruction; move-only.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace kvs {

class HugeBlock {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugeBlock() = default;
  // Maps at least `bytes` bytes of zeroed memory; empty on failure. Its pages are faulted in
  // (and zeroed by the kernel) by the threads that first touch them, a huge page at a time.
  static HugeBlock Map(size_t bytes) {
    HugeBlock b;
    const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    // Over-map by a huge page to align, then unmap the slack on both sides.
    void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return b;
    const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > start) ::munmap(raw, aligned - start);
    if (const uintptr_t tail = start + size + kHugePage - (aligned + size); tail > 0) {
      ::munmap(reinterpret_cast<void*>(aligned + size), tail);
    }
    b.data_ = reinterpret_cast<char*>(aligned);
    b.size_ = size;
#ifdef MADV_HUGEPAGE
    (void)::madvise(b.data_, size, MADV_HUGEPAGE);  // best effort: THP may be off
#endif
    return b;
  }
  HugeBlock(HugeBlock&& o) noexcept { *this = std::move(o); }
  HugeBlock& operator=(HugeBlock&& o) noexcept {
    Unmap();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }
  ~HugeBlock() { Unmap(); }

  char* data() const { return data_; }
  size_t size() const { return size_; }

  // Gives the whole pages inside [p, p + bytes) back to the kernel; they read as zeros after.
  static void Discard(const void* p, size_t bytes) {
    constexpr uintptr_t kPage = 4096;
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kPage - 1);
    if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }

 private:
  void Unmap() {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  char* data_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
class PodArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  PodArray() = default;
  // `n` elements whose bytes are all zero.
  static PodArray Zeroed(size_t n) {
    PodArray a;
    a.data_.reset(static_cast<T*>(Check(std::calloc(n, sizeof(T)), n)));
    a.size_ = a.capacity_ = n;
    return a;
  }
  // `size` elements (of room for `capacity`) in memory the array does not own: a slice of a
  // HugeBlock that outlives it, aligned for T. Its pages are discarded when the array
  // moves to memory of its own (reserve) or is destroyed.
  static PodArray Borrowed(T* data, size_t size, size_t capacity) {
    PodArray a;
    a.data_ = std::unique_ptr<T[], Free>(data, Free{false, capacity * sizeof(T)});
    a.size_ = size;
    a.capacity_ = capacity;
    return a;
  }
  PodArray(PodArray&& o) noexcept { *this = std::move(o); }
  PodArray& operator=(PodArray&& o) noexcept {  // leaves `o` empty
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* begin() { return data_.get(); }
  T* end() { return data_.get() + size_; }
  const T* begin() const { return data_.get(); }
  const T* end() const { return data_.get() + size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

  // Makes room for `n` elements in all (copying the present ones once).
  void reserve(size_t n) {
    if (n <= capacity_) return;
    std::unique_ptr<T[], Free> bigger(static_cast<T*>(Check(std::malloc(n * sizeof(T)), n)));
    if (size_ > 0) std::memcpy(static_cast<void*>(bigger.get()), data_.get(), size_ * sizeof(T));
    data_ = std::move(bigger);
    capacity_ = n;
  }

  // Moves to memory for exactly `n` elements (borrowed memory is given back). REQUIRES:
  // size() <= n < capacity().
  void shrink_to(size_t n) {
    std::unique_ptr<T[], Free> smaller(static_cast<T*>(Check(std::malloc(n * sizeof(T)), n)));
    if (size_ > 0) std::memcpy(static_cast<void*>(smaller.get()), data_.get(), size_ * sizeof(T));
    data_ = std::move(smaller);
    capacity_ = n;
  }

  // Appends `v`. REQUIRES: size() < capacity().
  void push_back(const T& v) {
    std::memcpy(static_cast<void*>(data_.get() + size_++), &v, sizeof(T));
  }
  void pop_back() { --size_; }

 private:
  struct Free {
    bool owned = true;
    size_t bytes = 0;  // of borrowed memory
    void operator()(T* p) const {
      if (owned) {
        std::free(p);
      } else {
        HugeBlock::Discard(p, bytes);
      }
    }
  };
  static void* Check(void* p, size_t n) {
    if (p == nullptr && n > 0) std::abort();  // out of memory, as std::vector would end
    return p;
  }

  std::unique_ptr<T[], Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace kvs
