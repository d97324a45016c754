// Decoder: the per-connection entry point of the protocol layer. It detects the protocol
// from the first byte and then frames and parses requests with a JsonDecoder or a
// RespDecoder. It knows nothing of sockets or storage.
//
// Use (one connection, its loop thread; not thread-safe):
//
//   Decoder decoder(limits);
//   // whenever bytes arrive (or EOF is seen), on the unconsumed part of the buffer:
//   for (;;) {
//     Decoded d = decoder.Next(buffer.view(), peer_closed);
//     buffer.Drop(d.consumed);             // always, whatever the status
//     if (d.status == DecodeStatus::kNeedMore) break;   // at EOF: close
//     if (d.status == DecodeStatus::kError) {
//       EncodeError(d.error.shape, d.error.message, &out);
//       if (d.error.close) { /* send out, then close */ break; }
//       continue;
//     }
//     Dispatch(d.request);   // copy key/value if they must outlive the next Next()
//   }
//
// Memory stays bounded: Next returns kNeedMore only while the unconsumed input is below
// the limits (ProtoLimits), so a caller that buffers only on kNeedMore never holds more
// than about max_request_bytes() (RESP) or max_json_line_bytes() (JSON).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "proto/json_codec.h"
#include "proto/limits.h"
#include "proto/request.h"
#include "proto/resp_codec.h"

namespace kvs::proto {

// The protocol a connection speaks, from its first byte: '*' or an ASCII letter (an
// inline RESP command such as "PING") → RESP; anything else → JSON.
Protocol DetectProtocol(char first_byte);

class Decoder {
 public:
  // Detects the protocol from the first byte it is given.
  explicit Decoder(const ProtoLimits& limits = {});
  // Speaks `protocol` from the start.
  Decoder(Protocol protocol, const ProtoLimits& limits = {});
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes the next request from `input`, the bytes not yet consumed.
  // REQUIRES: `input` starts with the unconsumed bytes of the previous call's input (plus
  // whatever arrived since). `eof`: the peer half-closed, nothing more will come; a final
  // JSON line without '\n' is then decoded (the original kvs clients rely on it).
  // The returned request's views live until the next Next() call on this Decoder and
  // while the input bytes stay where they are (see Request).
  Decoded Next(std::string_view input, bool eof = false);

  // The caller guarantees this many readable bytes after the end of every `input` (e.g. a
  // receive buffer allocated with slack): lets JSON be parsed in place, with no copy,
  // even when a line ends at the end of the input. Default 0.
  void set_input_padding(size_t bytes) { padding_ = bytes; }

  // Unknown until the first byte arrives.
  std::optional<Protocol> protocol() const { return protocol_; }

 private:
  std::optional<Protocol> protocol_;
  size_t padding_ = 0;
  JsonDecoder json_;
  RespDecoder resp_;
};

}  // namespace kvs::proto
