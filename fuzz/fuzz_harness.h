// The property both protocol fuzzers check. Input: one config byte, then a byte stream.
//
// 1. Decoding never crashes, never reads outside the input (ASan), always makes progress
//    and never reports consuming more than it was given.
// 2. Every split of the stream into chunks (chosen by the config byte) gives exactly the
//    events the whole stream gives: framing is independent of how bytes arrive.
// 3. Every decoded request respects the limits, re-encodes (EncodeRequest) to bytes that
//    decode to the same request (argv and "stale" included), and its value survives a
//    JSON/RESP reply.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/decoder.h"
#include "proto/json_codec.h"
#include "proto/reply.h"
#include "proto/request_encoder.h"

namespace kvs::proto::fuzz {

inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

// An owned copy of one event, comparable across runs.
struct Event {
  DecodeStatus status;
  Shape shape;
  Command command;
  bool close;
  bool has_value;
  std::string key, value, message;
  std::vector<std::string> args;
  std::vector<std::string> argv;
  bool stale;
  bool operator==(const Event&) const = default;
};

inline Event Capture(const Decoded& d) {
  Event e{d.status, Shape::kJson, Command::kPing, false, false, {}, {}, {}, {}, {}, false};
  if (d.status == DecodeStatus::kError) {
    e.shape = d.error.shape;
    e.close = d.error.close;
    e.message = d.error.message;
  } else if (d.status == DecodeStatus::kRequest) {
    const Request& r = d.request;
    e.shape = r.shape;
    e.command = r.command;
    e.has_value = r.has_value;
    e.key = r.key;
    e.value = r.value;
    for (auto a : r.args) e.args.emplace_back(a);
    for (auto a : r.argv) e.argv.emplace_back(a);
    e.stale = r.stale;
  }
  return e;
}

inline void CheckRequest(const Request& r, const ProtoLimits& limits) {
  const bool has_key = r.command == Command::kGet || r.command == Command::kSet ||
                       r.command == Command::kRm || r.command == Command::kExists;
  if (has_key) {
    // Empty keys are Redis's too (GET/EXISTS/DEL answer them as absent keys); only a SET of
    // one is refused, until the record format can hold it (tests/compat kNotYetImplemented).
    Check(r.key.size() <= limits.max_key_bytes, "key size within limits");
    if (r.command == Command::kSet) Check(!r.key.empty(), "no SET of the empty key");
  }
  if (r.command == Command::kSet) Check(r.value.size() <= limits.max_value_bytes, "value size");
  if (r.command == Command::kRedis) {
    Check(!r.argv.empty() && r.argv.size() <= limits.max_array_len, "argv length within limits");
    size_t total = 0;
    for (std::string_view word : r.argv) {
      Check(word.size() <= limits.max_bulk_bytes(), "argv word within limits");
      Check(r.shape == Shape::kResp || IsValidUtf8(word), "JSON argv words are valid UTF-8");
      total += word.size();
    }
    Check(total <= limits.max_request_bytes(), "argv bytes within limits");
  } else {
    Check(r.argv.empty(), "argv only for the generic form");
  }
  if (r.shape != Shape::kResp) {
    Check(IsValidUtf8(r.key) && IsValidUtf8(r.value), "JSON strings are valid UTF-8");
  }
  // Round trip through the request encoder (RESP CONFIG/COMMAND/INFO args included).
  std::string wire;
  EncodeRequest(r, &wire);
  Decoder again(r.protocol(), limits);
  Decoded d = again.Next(wire);
  Check(d.status == DecodeStatus::kRequest, "re-encoded request decodes");
  Check(d.consumed == wire.size(), "re-encoded request is consumed whole");
  Check(d.request.shape == r.shape && d.request.command == r.command, "same command");
  Check(d.request.key == r.key && d.request.value == r.value, "same key and value");
  Check(d.request.args.size() == r.args.size() || r.args.empty(), "same args");
  Check(d.request.stale == r.stale, "same stale");
  Check(d.request.argv.size() == r.argv.size(), "same argv length");
  for (size_t i = 0; i < r.argv.size(); ++i) Check(d.request.argv[i] == r.argv[i], "same argv");
  // The value survives a GET reply in the request's shape.
  std::string reply;
  EncodeGetReply(r.shape, r.value, &reply);
  if (r.shape == Shape::kResp) {
    const std::string header = "$" + std::to_string(r.value.size()) + "\r\n";
    Check(reply == header + std::string(r.value) + "\r\n", "RESP bulk reply");
  } else {
    static simdjson::dom::parser parser;
    simdjson::dom::element doc;
    Check(parser.parse(reply).get(doc) == simdjson::SUCCESS, "JSON reply parses");
    std::string_view got;
    Check(doc[r.shape == Shape::kJson ? "value" : "Ok"].get(got) == simdjson::SUCCESS,
          "JSON reply has the value");
    Check(got == r.value, "JSON reply value round trips");
  }
}

// Feeds `stream` cut at `cuts`; returns the events.
inline std::vector<Event> Run(Protocol protocol, const ProtoLimits& limits, std::string_view stream,
                              const std::vector<size_t>& cuts, bool check) {
  Decoder decoder(protocol, limits);
  std::vector<Event> events;
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    buffer.append(stream.substr(fed, ends[i] - fed));
    fed = ends[i];
    const bool eof = i + 1 == ends.size();
    for (;;) {
      Decoded d = decoder.Next(buffer, eof);
      Check(d.consumed <= buffer.size(), "consumed within the input");
      if (check && d.status == DecodeStatus::kRequest) CheckRequest(d.request, limits);
      if (d.status != DecodeStatus::kNeedMore) events.push_back(Capture(d));
      buffer.erase(0, d.consumed);
      if (d.status == DecodeStatus::kNeedMore) break;
      if (d.status == DecodeStatus::kError && d.error.close) return events;
      Check(d.consumed > 0, "a request or error consumes bytes");
    }
    // Bounded memory: what stays buffered is below the largest legal request.
    const size_t bound = protocol == Protocol::kJson
                             ? limits.max_json_line_bytes() + 1
                             : limits.max_request_bytes() +
                                   (limits.max_array_len + 1) * 40 + limits.max_inline_bytes;
    Check(buffer.size() <= bound, "buffered bytes stay bounded");
  }
  return events;
}

inline int FuzzOne(Protocol protocol, const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t config = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  ProtoLimits limits;
  if (config & 0x80) {  // small limits, so the fuzzer reaches them
    limits.max_key_bytes = 16;
    limits.max_value_bytes = 64;
    limits.max_array_len = 8;
    limits.max_inline_bytes = 48;
  }
  const auto whole = Run(protocol, limits, stream, {}, /*check=*/true);
  // Chunks of a pseudo-random size derived from the config byte (1 = byte at a time).
  std::vector<size_t> cuts;
  uint32_t x = config * 2654435761u + 1;
  for (size_t at = 0;;) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    at += (config & 0x40) ? 1 : 1 + x % 13;
    if (at >= stream.size()) break;
    cuts.push_back(at);
  }
  const auto split = Run(protocol, limits, stream, cuts, /*check=*/false);
  if (split != whole) {
    auto dump = [](const char* name, const std::vector<Event>& events) {
      for (const Event& e : events) {
        std::fprintf(stderr, "%s: status %d cmd %d key %zu value %zu msg %s\n", name,
                     static_cast<int>(e.status), static_cast<int>(e.command), e.key.size(),
                     e.value.size(), e.message.c_str());
      }
    };
    dump("whole", whole);
    dump("split", split);
  }
  Check(split == whole, "split-invariant events");
  return 0;
}

}  // namespace kvs::proto::fuzz
