#include "proto/reply_writer.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "proto/json_codec.h"
#include "proto/reply.h"
#include "proto/resp_codec.h"
#include "proto/wire_format.h"

namespace kvs::proto {

namespace {

// The same words reply.cc answers a non-UTF-8 GET with (a test keeps them equal).
constexpr std::string_view kNotUtf8 = "value is not valid UTF-8 (read it over RESP)";

// RESP3 type bytes beyond RESP2's (wire_format.h has those).
constexpr std::string_view kResp3Null = "_\r\n";  // Null and NullArray alike
constexpr std::string_view kResp2NullArray = "*-1\r\n";
constexpr char kResp3Double = ',';
constexpr char kResp3Map = '%';
constexpr char kResp3Set = '~';
constexpr char kResp3Verbatim = '=';
constexpr std::string_view kVerbatimTxt = "txt:";

void AppendHeader(char type, uint64_t n, std::string* out) {
  const fmt::format_int digits(n);
  out->push_back(type);
  out->append(digits.data(), digits.size());
  out->append(wire::kCrlf);
}

bool HasCrOrLf(std::string_view s) {
  return s.find_first_of(wire::kCrlf) != std::string_view::npos;
}

// -text\r\n, CR and LF inside made spaces, as addReplyErrorFormat does (it also trims them
// at the end; our callers pass no trailing newline).
void AppendErrorLine(std::string_view text, std::string* out) {
  out->push_back(wire::kError);
  const size_t from = out->size();
  out->append(text);
  std::replace_if(
      out->begin() + static_cast<std::ptrdiff_t>(from), out->end(),
      [](char c) { return c == '\r' || c == '\n'; }, ' ');
  out->append(wire::kCrlf);
}

// Simple or Error text as a JSON string: one line (CR, LF → space) and, when it is not
// UTF-8, every byte >= 0x80 made '?'. The fix-up runs over the escaped bytes in place, so
// the common case (clean text) costs one scan and no copy.
void AppendJsonText(std::string_view text, std::string* out) {
  const size_t from = out->size();
  AppendJsonString(text, out);
  const bool utf8 = IsValidUtf8(text);
  if (utf8 && !HasCrOrLf(text)) {
    return;
  }
  char* const base = out->data();
  size_t w = from;
  for (size_t r = from; r < out->size(); ++r) {
    const char c = base[r];
    if (c == '\\') {
      const char next = base[r + 1];  // an escape is never the last byte: the quote follows
      if (next == 'r' || next == 'n') {
        base[w++] = ' ';
      } else {
        base[w++] = c;
        base[w++] = next;
      }
      ++r;
    } else if (!utf8 && static_cast<unsigned char>(c) >= 0x80) {
      base[w++] = '?';
    } else {
      base[w++] = c;
    }
  }
  out->resize(w);
}

// %.17g, as Redis 7.0's addReplyDouble prints with snprintf (locale-free here).
// REQUIRES: d is finite or NaN (callers spell infinities themselves).
std::string_view FormatDouble(double d, char (&buf)[32]) {
  const char* end = fmt::format_to(buf, FMT_COMPILE("{:.17g}"), d);
  return {buf, static_cast<size_t>(end - buf)};
}

}  // namespace

ReplyWriter::ReplyWriter(Shape shape, RespVersion version, std::string* out)
    : shape_(shape), version_(version), out_(out), start_(out->size()) {}

ReplyWriter::~ReplyWriter() { assert(done_ || !started_); }

bool ReplyWriter::done() const { return done_; }

bool ReplyWriter::BeginValue([[maybe_unused]] bool string_key) {
  assert(!done_ && "a value written past the end of a complete reply");
  if (depth_ == 0) {
    started_ = true;  // nothing has failed yet
    if (json()) {
      out_->append(shape_ == Shape::kJsonLegacy ? wire::kLegacyOkPrefix : wire::kJsonValuePrefix);
    }
    return true;
  }
  const Level& level = Top();
  const bool is_key = level.map && level.written % 2 == 0;
  assert((string_key || !is_key) && "a Map key that is not Bulk or Simple");
  if (!json() || json_failed_) {
    return !json_failed_;
  }
  if (level.written > 0) {
    out_->push_back(is_key || !level.map ? ',' : ':');
  }
  return true;
}

void ReplyWriter::EndValue() {
  while (depth_ > 0) {
    Level& level = Top();
    ++level.written;
    if (--level.remaining > 0) {
      return;
    }
    if (json() && !json_failed_) {
      out_->push_back(level.map ? '}' : ']');
    }
    if (depth_ > kInlineDepth) {
      deep_levels_.pop_back();
    }
    --depth_;  // the aggregate just closed is itself an element of its parent
  }
  Finish();
}

void ReplyWriter::OpenAggregate(size_t n, char resp3_type, bool map) {
  if (BeginValue(false)) {
    if (json()) {
      out_->append(n == 0 ? (map ? "{}" : "[]") : (map ? "{" : "["));
    } else if (resp3()) {
      AppendHeader(resp3_type, n, out_);
    } else {
      AppendHeader(wire::kArray, map ? 2 * n : n, out_);  // RESP2 flattens a map
    }
  }
  if (n == 0) {
    EndValue();
    return;
  }
  const Level level{map ? 2 * n : n, 0, map};
  if (depth_ < kInlineDepth) {
    levels_[depth_] = level;
  } else {
    deep_levels_.push_back(level);
  }
  ++depth_;
}

void ReplyWriter::Finish() {
  done_ = true;
  if (!json()) {
    return;
  }
  if (json_failed_) {
    out_->resize(start_);
    EncodeError(shape_, kNotUtf8, out_);
    return;
  }
  out_->append("}\n");
}

void ReplyWriter::Ok() {
  if (BeginValue(true)) {
    out_->append(json() ? std::string_view(R"("OK")") : wire::kRespOk);
  }
  EndValue();
}

void ReplyWriter::Simple(std::string_view s) {
  if (BeginValue(true)) {
    if (json()) {
      AppendJsonText(s, out_);
    } else {
      resp::AppendSimpleString(s, out_);
    }
  }
  EndValue();
}

void ReplyWriter::Error(std::string_view text) {
  if (json() && depth_ == 0) {
    // A top-level error is the envelope's error, not a value.
    assert(!done_ && "a value written past the end of a complete reply");
    started_ = true;
    done_ = true;
    out_->append(shape_ == Shape::kJsonLegacy ? wire::kLegacyErrPrefix : wire::kJsonErrorPrefix);
    AppendJsonText(text, out_);
    out_->append("}\n");
    return;
  }
  if (BeginValue(false)) {
    if (json()) {
      out_->append(R"({"error":)");
      AppendJsonText(text, out_);
      out_->push_back('}');
    } else {
      AppendErrorLine(text, out_);
    }
  }
  EndValue();
}

void ReplyWriter::Integer(int64_t n) {
  if (BeginValue(false)) {
    if (json()) {
      const fmt::format_int digits(n);
      out_->append(digits.data(), digits.size());
    } else {
      resp::AppendInteger(n, out_);
    }
  }
  EndValue();
}

void ReplyWriter::Bulk(std::string_view s) {
  if (BeginValue(true)) {
    if (!json()) {
      resp::AppendBulk(s, out_);
    } else if (IsValidUtf8(s)) {
      AppendJsonString(s, out_);
    } else {
      json_failed_ = true;
    }
  }
  EndValue();
}

void ReplyWriter::Null() {
  if (BeginValue(false)) {
    out_->append(json() ? std::string_view("null") : resp3() ? kResp3Null : wire::kNilBulk);
  }
  EndValue();
}

void ReplyWriter::NullArray() {
  if (BeginValue(false)) {
    out_->append(json() ? std::string_view("null") : resp3() ? kResp3Null : kResp2NullArray);
  }
  EndValue();
}

void ReplyWriter::Array(size_t n) { OpenAggregate(n, wire::kArray, /*map=*/false); }

void ReplyWriter::Set(size_t n) { OpenAggregate(n, kResp3Set, /*map=*/false); }

void ReplyWriter::Map(size_t n) { OpenAggregate(n, kResp3Map, /*map=*/true); }

void ReplyWriter::Bool(bool b) {
  if (BeginValue(false)) {
    if (json()) {
      out_->append(b ? "true" : "false");
    } else if (resp3()) {
      out_->append(b ? "#t\r\n" : "#f\r\n");
    } else {
      out_->append(b ? ":1\r\n" : ":0\r\n");
    }
  }
  EndValue();
}

void ReplyWriter::Double(double d) {
  if (BeginValue(false)) {
    char buf[32];
    if (json()) {
      if (std::isnan(d)) {
        out_->append(R"("nan")");
      } else if (std::isinf(d)) {
        out_->append(d > 0 ? R"("inf")" : R"("-inf")");
      } else {
        out_->append(FormatDouble(d, buf));
      }
    } else {
      // addReplyDouble spells infinities itself: RESP2 a bulk "inf"/"-inf", RESP3 ",inf".
      const std::string_view text =
          std::isinf(d) ? std::string_view(d > 0 ? "inf" : "-inf") : FormatDouble(d, buf);
      if (resp3()) {
        out_->push_back(kResp3Double);
        out_->append(text);
        out_->append(wire::kCrlf);
      } else {
        resp::AppendBulk(text, out_);
      }
    }
  }
  EndValue();
}

void ReplyWriter::Verbatim(std::string_view text) {
  if (BeginValue(false)) {
    if (!json()) {
      if (resp3()) {
        // addReplyVerbatim: the length counts the "txt:" format prefix.
        AppendHeader(kResp3Verbatim, text.size() + kVerbatimTxt.size(), out_);
        out_->append(kVerbatimTxt);
        out_->append(text);
        out_->append(wire::kCrlf);
      } else {
        resp::AppendBulk(text, out_);
      }
    } else if (IsValidUtf8(text)) {
      AppendJsonString(text, out_);
    } else {
      json_failed_ = true;
    }
  }
  EndValue();
}

}  // namespace kvs::proto
