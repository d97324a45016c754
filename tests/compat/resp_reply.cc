#include "compat/resp_reply.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace kvs::compat {

namespace {

// The number after a header line's type byte ("$12\r" → 12); nullopt if it is not one.
std::optional<long long> HeaderNumber(std::string_view line) {
  if (line.size() < 3 || line.back() != '\r') return std::nullopt;
  long long n = 0;
  const char* first = line.data() + 1;
  const char* last = line.data() + line.size() - 1;
  auto [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || end != last) return std::nullopt;
  return n;
}

// Appends one reply to *out; false once it cannot be completed (the marker is appended).
bool ReadInto(e2e::Conn& conn, int timeout_s, std::string* out) {
  auto lost = [&conn, out] {
    out->append(conn.peer_closed() ? "<closed>" : "<timeout>");
    return false;
  };
  std::optional<std::string> line = conn.ReadLine(timeout_s);
  if (!line) return lost();
  out->append(*line).push_back('\n');
  if (line->empty()) {
    out->append("<bad type>");
    return false;
  }
  switch ((*line)[0]) {
    case '+':  // simple string
    case '-':  // error
    case ':':  // integer
    case '_':  // RESP3 null
    case '#':  // RESP3 boolean
    case ',':  // RESP3 double
    case '(':  // RESP3 big number
      return true;
    case '$':    // bulk string
    case '=':    // RESP3 verbatim string
    case '!': {  // RESP3 bulk error
      std::optional<long long> n = HeaderNumber(*line);
      if (!n) break;
      if (*n < 0) return true;  // $-1: null
      std::optional<std::string> body = conn.ReadN(static_cast<size_t>(*n) + 2, timeout_s);
      if (!body) return lost();
      out->append(*body);
      return true;
    }
    case '*':    // array
    case '~':    // RESP3 set
    case '>':    // RESP3 push
    case '%':    // RESP3 map: n pairs
    case '|': {  // RESP3 attribute: n pairs, then the reply they describe
      std::optional<long long> n = HeaderNumber(*line);
      if (!n) break;
      const char type = (*line)[0];
      const long long items = type == '%' || type == '|' ? 2 * *n : *n;
      for (long long i = 0; i < items; ++i) {
        if (!ReadInto(conn, timeout_s, out)) return false;
      }
      if (type == '|') return ReadInto(conn, timeout_s, out);
      return true;  // *-1 (null) and *0 end here
    }
    default:
      break;
  }
  out->append("<bad type>");
  return false;
}

}  // namespace

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const std::string& a : args) {
    out += fmt::format("${}\r\n", a.size());
    out += a;
    out += "\r\n";
  }
  return out;
}

std::string ReadReply(e2e::Conn& conn, int timeout_s) {
  std::string out;
  ReadInto(conn, timeout_s, &out);
  return out;
}

std::string ReadUntilClosed(e2e::Conn& conn, int timeout_s) {
  std::string out = conn.ReadAll(timeout_s);
  out += conn.peer_closed() ? "<closed>" : "<open>";
  return out;
}

std::string Escape(std::string_view bytes, size_t max) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\0':
        out += "\\0";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(c);
        } else {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
  }
  if (bytes.size() > max) out += fmt::format("...({} more bytes)", bytes.size() - max);
  return "\"" + out + "\"";
}

}  // namespace kvs::compat
