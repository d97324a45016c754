#include "reply_parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>

#include "proto/wire_format.h"

namespace kvs::bench {

namespace {

using Status = ParsedReply::Status;

// Longest status or error line (+..., -...) and longest JSON reply line we wait for
// before calling the stream broken. A JSON line holds at most a 16 MiB value, escaped.
constexpr size_t kMaxRespLine = size_t{64} << 10;
constexpr size_t kMaxJsonLine = size_t{6} * (size_t{16} << 20) + 4096;
constexpr int kMaxDepth = 8;
constexpr size_t kIncomplete = 0;

ParsedReply ProtocolError(std::string_view what) {
  ParsedReply r;
  r.status = Status::kProtocolError;
  r.error = what;
  return r;
}

// Finds the CRLF ending the line that starts at `pos`. Returns the index of its '\r',
// npos when the line is not complete yet.
size_t FindCrlf(std::string_view in, size_t pos) {
  while (pos < in.size()) {
    const void* nl = std::memchr(in.data() + pos, '\n', in.size() - pos);
    if (nl == nullptr) return std::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - in.data());
    if (at > 0 && in[at - 1] == '\r') return at - 1;
    pos = at + 1;
  }
  return std::string_view::npos;
}

bool ParseInt(std::string_view text, int64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

// The size of the complete RESP value starting at in[pos], kIncomplete when more bytes are
// needed, or npos (with *error set) when the stream is not RESP.
size_t SkipResp(std::string_view in, size_t pos, int depth, std::string_view* error) {
  if (pos >= in.size()) return kIncomplete;
  switch (in[pos]) {
    case proto::wire::kSimple:
    case proto::wire::kError:
    case proto::wire::kInteger:
    case proto::wire::kBulk:
    case proto::wire::kArray:
      break;
    default:
      *error = "not a RESP reply (unexpected first byte)";
      return std::string_view::npos;
  }
  const size_t cr = FindCrlf(in, pos + 1);
  if (cr == std::string_view::npos) {
    if (in.size() - pos > kMaxRespLine) {
      *error = "RESP reply line too long";
      return std::string_view::npos;
    }
    return kIncomplete;
  }
  const size_t line_end = cr + 2;
  const std::string_view body = in.substr(pos + 1, cr - pos - 1);
  int64_t n = 0;
  switch (in[pos]) {
    case proto::wire::kSimple:
    case proto::wire::kError:
      return line_end - pos;
    case proto::wire::kInteger:
      if (!ParseInt(body, &n)) break;
      return line_end - pos;
    case proto::wire::kBulk: {
      if (!ParseInt(body, &n) || n < -1) break;
      if (n == -1) return line_end - pos;
      const size_t end = line_end + static_cast<size_t>(n) + 2;
      if (in.size() < end) return kIncomplete;
      if (in[end - 2] != '\r' || in[end - 1] != '\n') {
        *error = "RESP bulk string not followed by CRLF";
        return std::string_view::npos;
      }
      return end - pos;
    }
    case proto::wire::kArray: {
      if (!ParseInt(body, &n) || n < -1) break;
      if (depth >= kMaxDepth) {
        *error = "RESP arrays nested too deep";
        return std::string_view::npos;
      }
      size_t at = line_end;
      for (int64_t i = 0; i < n; ++i) {
        const size_t len = SkipResp(in, at, depth + 1, error);
        if (len == kIncomplete || len == std::string_view::npos) return len;
        at += len;
      }
      return at - pos;
    }
    default:
      break;
  }
  *error = "RESP reply with a malformed length";
  return std::string_view::npos;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view ReplyKindName(ReplyKind kind) {
  switch (kind) {
    case ReplyKind::kOk:
      return "+OK";
    case ReplyKind::kInteger:
      return "an integer";
    case ReplyKind::kValue:
      return "a bulk string";
    case ReplyKind::kNil:
      return "nil";
    case ReplyKind::kArray:
      return "an array";
    case ReplyKind::kError:
      return "an error";
  }
  return "?";
}

std::string WrongReplyFor(Op op, const ParsedReply& reply, size_t multi_keys) {
  ReplyKind want = ReplyKind::kOk;
  switch (op) {
    case Op::kSet:
    case Op::kMset:
    case Op::kSetEx:
      break;
    case Op::kGet:
      if (reply.kind == ReplyKind::kNil) return {};
      want = ReplyKind::kValue;
      break;
    case Op::kIncr:
      want = ReplyKind::kInteger;
      break;
    case Op::kExpire:
      // Sent right behind the INCR that made or kept its counter: :0 (no such key) means
      // the key vanished between two commands of one connection.
      want = ReplyKind::kInteger;
      if (reply.kind == want && reply.number != 1) {
        return fmt::format("EXPIRE right after INCR of its counter answered :{} (expected :1)",
                           reply.number);
      }
      break;
    case Op::kMget:
      want = ReplyKind::kArray;
      if (reply.kind == want && reply.number != static_cast<int64_t>(multi_keys)) {
        return fmt::format("MGET of {} keys answered with an array of {}", multi_keys,
                           reply.number);
      }
      break;
  }
  if (reply.kind == want) return {};
  return fmt::format("{} answered with {} (expected {})", OpName(op), ReplyKindName(reply.kind),
                     ReplyKindName(want));
}

ParsedReply ReplyParser::Next(std::string_view input) {
  return protocol_ == proto::Protocol::kResp ? NextResp(input) : NextJson(input);
}

ParsedReply ReplyParser::NextResp(std::string_view input) {
  std::string_view error;
  const size_t len = SkipResp(input, 0, 0, &error);
  if (len == std::string_view::npos) return ProtocolError(error);
  ParsedReply r;
  if (len == kIncomplete) return r;
  r.status = Status::kReply;
  r.consumed = len;
  switch (input[0]) {
    case proto::wire::kError:
      r.kind = ReplyKind::kError;
      r.error = input.substr(1, len - 3);
      break;
    case proto::wire::kBulk:
      r.kind = input.substr(0, proto::wire::kNilBulk.size()) == proto::wire::kNilBulk
                   ? ReplyKind::kNil
                   : ReplyKind::kValue;
      break;
    case proto::wire::kInteger:
      r.kind = ReplyKind::kInteger;
      ParseInt(input.substr(1, len - 3), &r.number);  // SkipResp checked it
      break;
    case proto::wire::kArray: {
      // SkipResp framed it whole; walk the elements once more to count the nils.
      const size_t header_end = FindCrlf(input, 1) + 2;
      ParseInt(input.substr(1, header_end - 3), &r.number);
      if (r.number < 0) {
        r.kind = ReplyKind::kNil;
        break;
      }
      r.kind = ReplyKind::kArray;
      size_t at = header_end;
      for (int64_t i = 0; i < r.number; ++i) {
        if (input.substr(at, proto::wire::kNilBulk.size()) == proto::wire::kNilBulk) ++r.nils;
        at += SkipResp(input, at, 1, &error);
      }
      break;
    }
    default:
      r.kind = ReplyKind::kOk;
      break;
  }
  return r;
}

ParsedReply ReplyParser::NextJson(std::string_view input) {
  const void* nl = std::memchr(input.data(), proto::wire::kJsonLineEnd, input.size());
  if (nl == nullptr) {
    if (input.size() > kMaxJsonLine) return ProtocolError("JSON reply line too long");
    return {};
  }
  const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - input.data());
  std::string_view line = input.substr(0, at);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ParsedReply r;
  r.status = Status::kReply;
  r.consumed = at + 1;
  // Fast path: the exact bytes kvs-server writes.
  if (line == proto::wire::kJsonOk) {
    r.kind = ReplyKind::kOk;
  } else if (line == proto::wire::kJsonNullValue) {
    r.kind = ReplyKind::kNil;
  } else if (StartsWith(line, proto::wire::kJsonValuePrefix) &&
             line.size() > proto::wire::kJsonValuePrefix.size() + 1 &&
             line[proto::wire::kJsonValuePrefix.size()] == '"' && line.back() == '}') {
    r.kind = ReplyKind::kValue;
  } else {
    ParsedReply slow = ClassifyJsonSlow(line);
    if (slow.status != Status::kReply) return slow;
    r.kind = slow.kind;
    r.error = slow.error;
  }
  return r;
}

ParsedReply ReplyParser::ClassifyJsonSlow(std::string_view line) {
  thread_local simdjson::ondemand::parser parser;
  scratch_.assign(line);
  scratch_.resize(line.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(scratch_.data(), line.size(), scratch_.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return ProtocolError("reply is not a JSON object");
  }
  ParsedReply r;
  r.status = Status::kReply;
  bool ok = false;
  bool has_ok = false;
  bool saw_value = false;
  bool value_null = false;
  std::string_view error = "error reply";
  for (auto field : obj) {
    std::string_view name;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS) {
      return ProtocolError("reply is not valid JSON");
    }
    auto value = field.value();
    if (name == "ok") {
      if (value.get_bool().get(ok) != simdjson::SUCCESS) return ProtocolError("\"ok\" not a bool");
      has_ok = true;
    } else if (name == "value" || name == "Ok") {  // "Ok": the original kvs shape
      saw_value = true;
      if (value.is_null().get(value_null) != simdjson::SUCCESS) {
        return ProtocolError("reply is not valid JSON");
      }
      has_ok = has_ok || name == "Ok";
      ok = ok || name == "Ok";
    } else if (name == "error" || name == "Err") {
      std::string_view msg;
      if (value.get_string().get(msg) == simdjson::SUCCESS) error = msg;
      has_ok = has_ok || name == "Err";
    }
  }
  if (!has_ok) return ProtocolError("JSON reply without \"ok\"");
  if (!ok) {
    // The message lives in the parser's buffer; keep a copy in scratch_ (the line is done).
    std::string msg(error);
    scratch_ = std::move(msg);
    r.kind = ReplyKind::kError;
    r.error = scratch_;
  } else if (!saw_value) {
    r.kind = ReplyKind::kOk;
  } else {
    r.kind = value_null ? ReplyKind::kNil : ReplyKind::kValue;
  }
  return r;
}

}  // namespace kvs::bench
