// CRC32C (Castagnoli), the checksum of every log record and hint entry.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise (no Debian
// package ships a standalone CRC32C library). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace kvs::crc32c {

// CRC32C of `data` continuing from `init` (the CRC of the bytes before it; 0 to start).
uint32_t Extend(uint32_t init, const void* data, size_t n);
inline uint32_t Value(std::string_view data) { return Extend(0, data.data(), data.size()); }

// Stored CRCs are masked (as in LevelDB): the CRC of a string that itself contains CRCs
// is then unlikely to collide, and an all-zero record never carries a matching checksum.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace kvs::crc32c
