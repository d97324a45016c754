// Helpers for the proto tests: feed a Decoder like a connection would, and describe what
// came out as plain strings so that whole streams compare with one EXPECT_EQ.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/decoder.h"
#include "proto/request.h"

namespace kvs::proto::testing {

// Bytes shown with C escapes for anything not printable ASCII.
inline std::string Printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string r;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      r.push_back(ch);
    } else {
      r += "\\x";
      r.push_back(kHex[c >> 4]);
      r.push_back(kHex[c & 0xf]);
    }
  }
  return r;
}

inline std::string ShapeName(Shape s) {
  return s == Shape::kJson ? "json" : s == Shape::kJsonLegacy ? "legacy" : "resp";
}

// "json SET key=k value=v", "resp DEL args=[a,b]", "legacy ERR missing field ..." ...
inline std::string Describe(const Decoded& d) {
  if (d.status == DecodeStatus::kError) {
    return ShapeName(d.error.shape) + (d.error.close ? " FATAL " : " ERR ") + d.error.message;
  }
  if (d.status == DecodeStatus::kNeedMore) return "NEED";
  const Request& r = d.request;
  if (r.command == Command::kRedis) {  // "resp SET args=[k,v]": the name as sent, upper case
    std::string name(r.argv[0]);
    for (char& ch : name) ch = ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch;
    std::string s = ShapeName(r.shape) + " " + Printable(name);
    if (r.argv.size() > 1) {
      s += " args=[";
      for (size_t i = 1; i < r.argv.size(); ++i) s += (i > 1 ? "," : "") + Printable(r.argv[i]);
      s += "]";
    }
    return s;
  }
  std::string s = ShapeName(r.shape) + " " + std::string(CommandName(r.command));
  if (!r.key.empty()) s += " key=" + Printable(r.key);
  if (r.has_value) s += " value=" + Printable(r.value);
  if (r.stale) s += " stale";
  if (!r.args.empty()) {
    s += " args=[";
    for (size_t i = 0; i < r.args.size(); ++i) s += (i ? "," : "") + Printable(r.args[i]);
    s += "]";
  }
  return s;
}

// Feeds `stream` to a fresh decoder in chunks cut at `cuts` (increasing offsets), keeping
// a receive buffer the way a connection does; returns every event. EOF after the last
// chunk when `eof`. Stops at a fatal error.
// `protocol`: forced, or detected from the first byte when unset.
inline std::vector<std::string> Feed(std::string_view stream, const std::vector<size_t>& cuts,
                                     bool eof = false, const ProtoLimits& limits = {},
                                     std::optional<Protocol> protocol = std::nullopt) {
  Decoder decoder = protocol ? Decoder(*protocol, limits) : Decoder(limits);
  std::vector<std::string> events;
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    buffer.append(stream.substr(fed, ends[i] - fed));
    fed = ends[i];
    const bool at_eof = eof && i + 1 == ends.size();
    for (;;) {
      Decoded d = decoder.Next(buffer, at_eof);
      std::string event = Describe(d);  // before the buffer moves under the views
      buffer.erase(0, d.consumed);
      if (d.status == DecodeStatus::kNeedMore) break;
      events.push_back(event);
      if (d.status == DecodeStatus::kError && d.error.close) return events;
    }
  }
  return events;
}

inline std::vector<std::string> FeedWhole(std::string_view stream, bool eof = false,
                                          const ProtoLimits& limits = {},
                                          std::optional<Protocol> protocol = std::nullopt) {
  return Feed(stream, {}, eof, limits, protocol);
}

// One decode of a complete input: the first event.
inline std::string DecodeOne(std::string_view input, bool eof = false,
                             const ProtoLimits& limits = {},
                             std::optional<Protocol> protocol = std::nullopt) {
  auto events = FeedWhole(input, eof, limits, protocol);
  return events.empty() ? "NEED" : events.front();
}

}  // namespace kvs::proto::testing
