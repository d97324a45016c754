// ProtoLimits: the sizes the protocol layer enforces before it buffers anything.
//
// Every limit is checked against a *declared* or *scanned* length before the bytes are
// kept, so a peer can never make a Decoder (or the caller's receive buffer, if it follows
// the Decoder's answers) hold more than roughly max_request_bytes() of one request.
// The defaults match the store's record limits (src/store/engine.h) without including it:
// proto knows nothing of storage, so the server passes its configured sizes in.
// A value type; thread-compatible.
#pragma once

#include <cstddef>

namespace kvs::proto {

inline constexpr size_t kDefaultMaxKeyBytes = size_t{64} << 10;     // 64 KiB
inline constexpr size_t kDefaultMaxValueBytes = size_t{16} << 20;   // 16 MiB
inline constexpr size_t kDefaultMaxArrayLen = 1024;                 // RESP arguments
inline constexpr size_t kDefaultMaxInlineBytes = size_t{64} << 10;  // RESP inline line
// Room for the JSON syntax around key and value ({"op":"set","key":...,"value":...}).
inline constexpr size_t kJsonLineOverheadBytes = 1024;
// A JSON string escapes one byte into at most 6 ("\u001f"): the worst case of a legal
// key/value on the wire.
inline constexpr size_t kJsonEscapeFactor = 6;
// Room for the RESP headers and command name around key and value.
inline constexpr size_t kRespRequestOverheadBytes = 1024;

struct ProtoLimits {
  // Longest key, after JSON unescaping (RESP: bytes as sent). Longer → error reply.
  size_t max_key_bytes = kDefaultMaxKeyBytes;
  // Longest value, same rules.
  size_t max_value_bytes = kDefaultMaxValueBytes;
  // Most elements in a RESP array (command name included), and most words in an inline
  // command. More → protocol error, connection closed.
  size_t max_array_len = kDefaultMaxArrayLen;
  // Longest RESP inline command line (without CRLF). Longer → protocol error, close.
  size_t max_inline_bytes = kDefaultMaxInlineBytes;

  // Longest one JSON line (without '\n'): every legal request fits even fully escaped.
  // Longer → error reply, the line is skipped up to its newline without being buffered.
  size_t max_json_line_bytes() const {
    return kJsonEscapeFactor * (max_key_bytes + max_value_bytes) + kJsonLineOverheadBytes;
  }
  // Longest RESP bulk string: a declared "$<n>" above it → protocol error, close, without
  // reading (or allocating) the n bytes.
  size_t max_bulk_bytes() const {
    return max_key_bytes > max_value_bytes ? max_key_bytes : max_value_bytes;
  }
  // Most payload bytes one RESP command may declare in all its bulks together (a DEL of
  // many keys stays within it). More → protocol error, close.
  size_t max_request_bytes() const {
    return max_key_bytes + max_value_bytes + kRespRequestOverheadBytes;
  }
};

}  // namespace kvs::proto
