// PodArray<T>: a growable array of trivially copyable T in malloc'd memory, for the index's
// big tables. Unlike std::vector it does not initialize what it allocates: a zeroed array
// comes from calloc (fresh pages are zero already, so a table sized for millions of keys is
// not written twice), and an append writes the element once. Single-threaded; move-only.
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace kvs {

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

  // Appends `v`. REQUIRES: size() < capacity().
  void push_back(const T& v) {
    std::memcpy(static_cast<void*>(data_.get() + size_++), &v, sizeof(T));
  }
  void pop_back() { --size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
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
