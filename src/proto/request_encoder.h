// EncodeRequest: the client side of the wire, for kvs-client, kvs-bench and tests.
// Writes `request` in its shape: a JSON line (new or legacy shape, '\n'-terminated) or a
// RESP array of bulk strings. Decoder::Next on the output gives the request back.
// Free function; thread-safe.
#pragma once

#include <string>

#include "proto/request.h"

namespace kvs::proto {

// REQUIRES: the command exists in the shape (JSON: GET, SET, RM, PING and kRedis; legacy:
// GET, SET, RM) and, for JSON shapes, key, value and argv are valid UTF-8. RESP DEL/EXISTS/
// INFO/COMMAND/CONFIG GET send `args` (DEL/EXISTS: `key` alone when args is empty).
// kRedis sends `argv` (REQUIRES: not empty): JSON {"cmd":[...]} (with "stale":true when
// set), RESP an array of bulk strings.
void EncodeRequest(const Request& request, std::string* out);

}  // namespace kvs::proto
