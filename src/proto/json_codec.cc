#include "proto/json_codec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "proto/wire_format.h"

namespace kvs::proto {

namespace {

namespace od = simdjson::ondemand;

// A parser that once held a huge document gives its memory back: simdjson sizes its
// buffers at ~6x the largest document seen, so one 16 MiB value would otherwise pin
// ~100 MiB on the loop thread for good.
constexpr size_t kKeepParserCapacity = size_t{1} << 20;
// Per-decoder scratch beyond this is released before the next request.
constexpr size_t kKeepScratchBytes = size_t{1} << 20;

od::parser& ThreadParser() {
  static thread_local od::parser parser;
  return parser;
}

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string InvalidJson(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return "invalid JSON: not valid UTF-8";
    case simdjson::UNESCAPED_CHARS:
      return "invalid JSON: unescaped control character in a string";
    case simdjson::UNCLOSED_STRING:
      return "invalid JSON: unclosed string";
    case simdjson::STRING_ERROR:
      return "invalid JSON: bad string escape";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      // Also what On-Demand reports for a token after the closing brace ("{...} x").
      return "invalid JSON: unbalanced braces, or characters after the object";
    case simdjson::DEPTH_ERROR:
      return "invalid JSON: nested too deeply";
    default:
      return fmt::format("invalid JSON: {}", simdjson::error_message(e));
  }
}

void ReleaseIfHuge(std::string* s) {
  if (s->capacity() > kKeepScratchBytes) std::string().swap(*s);
}

// Reads the string value of field `name`. A string without escapes is returned as a view
// into the caller's input (`doc_base` is where simdjson sees the line, `line` where the
// caller has it); one with escapes is unescaped into `scratch`.
// Returns "" on success, else the error message.
std::string ReadString(od::value& v, std::string_view name, const char* doc_base,
                       std::string_view line, std::string* scratch, std::string_view* out) {
  od::json_type type;
  if (auto e = v.type().get(type)) return InvalidJson(e);
  if (type != od::json_type::string) return fmt::format("field \"{}\" must be a string", name);
  std::string_view token = TrimRight(v.raw_json_token());
  if (token.size() >= 2 && token.back() == '"' &&
      std::memchr(token.data(), '\\', token.size()) == nullptr) {
    // Stage 1 already validated the UTF-8 and rejected raw control characters.
    *out = std::string_view(line.data() + (token.data() + 1 - doc_base), token.size() - 2);
    return {};
  }
  std::string_view unescaped;
  if (auto e = v.get_string().get(unescaped)) return InvalidJson(e);
  // simdjson checks \u surrogate pairs; this also guards against a lone low surrogate.
  if (!IsValidUtf8(unescaped)) return fmt::format("field \"{}\" is not valid UTF-8", name);
  scratch->assign(unescaped);
  *out = *scratch;
  return {};
}

std::string_view JsonTypeName(od::json_type type) {
  switch (type) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "something else";
}

// Reads the generic form's array into `argv`: a word without escapes is a view into the
// caller's line; a word with escapes is a view into the parser's string buffer (valid until
// the parser's next document) and its index goes to `escaped`, so that the caller copies it
// to scratch once the whole array is known. Returns "" on success, else the error message.
std::string ReadArgv(od::value& v, const char* doc_base, std::string_view line,
                     const ProtoLimits& limits, std::vector<std::string_view>* argv,
                     std::vector<size_t>* escaped) {
  constexpr std::string_view kNotAnArray = "field \"cmd\" must be a non-empty array of strings";
  od::json_type type;
  if (auto e = v.type().get(type)) return InvalidJson(e);
  if (type != od::json_type::array) return std::string(kNotAnArray);
  od::array array;
  if (auto e = v.get_array().get(array)) return InvalidJson(e);
  size_t total = 0;
  for (auto element_result : array) {
    od::value element;
    if (auto e = std::move(element_result).get(element)) return InvalidJson(e);
    const size_t i = argv->size();
    if (i == limits.max_array_len) {
      return fmt::format("field \"cmd\" has too many elements (limit {})", limits.max_array_len);
    }
    if (auto e = element.type().get(type)) return InvalidJson(e);
    if (type != od::json_type::string) {
      return fmt::format("cmd[{}] must be a string, not {}", i, JsonTypeName(type));
    }
    std::string_view word;
    std::string_view token = TrimRight(element.raw_json_token());
    if (token.size() >= 2 && token.back() == '"' &&
        std::memchr(token.data(), '\\', token.size()) == nullptr) {
      word = std::string_view(line.data() + (token.data() + 1 - doc_base), token.size() - 2);
    } else {
      if (auto e = element.get_string().get(word)) return InvalidJson(e);
      if (!IsValidUtf8(word)) return fmt::format("cmd[{}] is not valid UTF-8", i);
      escaped->push_back(i);
    }
    if (word.size() > limits.max_bulk_bytes()) {
      return fmt::format("cmd[{}] too long: {} bytes (limit {})", i, word.size(),
                         limits.max_bulk_bytes());
    }
    total += word.size();
    if (total > limits.max_request_bytes()) {
      return fmt::format("field \"cmd\" holds more than {} bytes", limits.max_request_bytes());
    }
    argv->push_back(word);
  }
  if (argv->empty()) return std::string(kNotAnArray);
  return {};
}

struct Fields {
  std::string_view op;
  std::string_view key;
  std::string_view value;
  bool has_op = false;
  bool has_key = false;
  bool has_value = false;
  bool has_stale = false;
  bool stale = false;
  bool has_cmd = false;
  bool has_password = false;
  std::string_view password;
};

std::string CheckSizes(const Fields& f, const ProtoLimits& limits) {
  if (f.has_key && f.key.empty()) return "key must not be empty";
  if (f.key.size() > limits.max_key_bytes) {
    return fmt::format("key too long: {} bytes (limit {})", f.key.size(), limits.max_key_bytes);
  }
  if (f.value.size() > limits.max_value_bytes) {
    return fmt::format("value too long: {} bytes (limit {})", f.value.size(),
                       limits.max_value_bytes);
  }
  return {};
}

}  // namespace

JsonDecoder::JsonDecoder(const ProtoLimits& limits) : limits_(limits) {}

Decoded JsonDecoder::Next(std::string_view input, bool eof, size_t padding) {
  Decoded out;
  ReleaseIfHuge(&key_scratch_);
  ReleaseIfHuge(&value_scratch_);
  ReleaseIfHuge(&argv_scratch_);
  if (padded_capacity_ > kKeepScratchBytes) {
    padded_.reset();
    padded_capacity_ = 0;
  }
  const size_t limit = limits_.max_json_line_bytes();
  size_t pos = 0;
  for (;;) {
    const std::string_view rest = input.substr(pos);
    if (discarding_) {
      const void* nl = std::memchr(rest.data(), '\n', rest.size());
      if (nl == nullptr) {
        out.consumed = input.size();
        return out;
      }
      pos += static_cast<size_t>(static_cast<const char*>(nl) - rest.data()) + 1;
      discarding_ = false;
      continue;
    }
    // A line may hold `limit` bytes plus its '\n'; never look (or wait) further.
    const size_t window = std::min(rest.size(), limit + 1);
    const size_t from = std::min(scanned_, window);
    const char* nl =
        static_cast<const char*>(std::memchr(rest.data() + from, '\n', window - from));
    std::string_view line;
    size_t line_bytes;  // consumed by this line, '\n' included
    if (nl != nullptr) {
      line = rest.substr(0, static_cast<size_t>(nl - rest.data()));
      line_bytes = line.size() + 1;
    } else if (rest.size() > limit) {
      // Over-long: reply now, then skip the rest of the line as it arrives.
      scanned_ = 0;
      discarding_ = true;
      out.status = DecodeStatus::kError;
      out.consumed = pos + window;
      out.error = {Shape::kJson, false,
                   fmt::format("request line too long: more than {} bytes", limit)};
      return out;
    } else if (eof && !rest.empty() && !IsBlank(rest)) {
      line = rest;  // the original kvs clients send one request, no '\n', then half-close
      line_bytes = rest.size();
    } else {
      scanned_ = window;
      out.consumed = pos;
      if (eof) out.consumed = input.size();  // only blanks left
      return out;
    }
    scanned_ = 0;
    if (IsBlank(line)) {
      pos += line_bytes;
      continue;
    }
    out.consumed = pos + line_bytes;
    ParseLine(line, rest.size() - line.size() + padding, &out);
    return out;
  }
}

void JsonDecoder::ParseLine(std::string_view line, size_t readable_after, Decoded* out) {
  // On-Demand peeks at the byte just past the document when it meets some malformed
  // input, so its verdict must not depend on what follows the line: parse in place only
  // when that byte is the line's own '\n' and 64 bytes are readable; otherwise copy the
  // line and put a '\n' after it too.
  const char* base = line.data();
  size_t capacity = line.size() + readable_after;
  const bool terminated = readable_after > 0 && line.data()[line.size()] == '\n';
  if (!terminated || readable_after < simdjson::SIMDJSON_PADDING) {
    const size_t need = line.size() + simdjson::SIMDJSON_PADDING;
    if (padded_capacity_ < need) {
      padded_capacity_ = std::max(need, 2 * padded_capacity_);
      padded_ = std::make_unique<char[]>(padded_capacity_);
    }
    std::memcpy(padded_.get(), line.data(), line.size());
    std::memset(padded_.get() + line.size(), '\n', simdjson::SIMDJSON_PADDING);
    base = padded_.get();
    capacity = need;
  }

  od::parser& parser = ThreadParser();
  argv_.clear();
  argv_escaped_.clear();
  Shape shape = Shape::kJson;
  Fields f;
  std::string err;
  // Parse, collecting fields; any problem sets `err`. A lambda so that every exit path
  // below shares the parser clean-up.
  auto parse = [&]() {
    od::document doc;
    if (auto e = parser.iterate(base, line.size(), capacity).get(doc)) {
      err = InvalidJson(e);
      return;
    }
    od::object obj;
    if (auto e = doc.get_object().get(obj)) {
      err = e == simdjson::INCORRECT_TYPE ? "request must be a JSON object" : InvalidJson(e);
      return;
    }
    bool first = true;
    for (auto field_result : obj) {
      od::field field;
      if (auto e = std::move(field_result).get(field)) {
        err = InvalidJson(e);
        return;
      }
      std::string_view name;
      if (auto e = field.unescaped_key().get(name)) {
        err = InvalidJson(e);
        return;
      }
      if (shape == Shape::kJsonLegacy) {
        err = "legacy request must have exactly one field";
        return;
      }
      if (first && (name == wire::kLegacySet || name == wire::kLegacyGet ||
                    name == wire::kLegacyRemove)) {
        shape = Shape::kJsonLegacy;
        f.has_op = true;
        f.op = name == wire::kLegacySet   ? wire::kOpSet
               : name == wire::kLegacyGet ? wire::kOpGet
                                          : wire::kOpRm;
        od::object inner;
        if (auto e = field.value().get_object().get(inner)) {
          err = e == simdjson::INCORRECT_TYPE ? fmt::format("\"{}\" must be an object", name)
                                              : InvalidJson(e);
          return;
        }
        for (auto inner_result : inner) {
          od::field inner_field;
          if (auto e = std::move(inner_result).get(inner_field)) {
            err = InvalidJson(e);
            return;
          }
          std::string_view inner_name;
          if (auto e = inner_field.unescaped_key().get(inner_name)) {
            err = InvalidJson(e);
            return;
          }
          if (inner_name == wire::kFieldKey) {
            if (f.has_key) {
              err = "duplicate field \"key\"";
              return;
            }
            f.has_key = true;
            err = ReadString(inner_field.value(), inner_name, base, line, &key_scratch_, &f.key);
          } else if (inner_name == wire::kFieldValue) {
            if (f.has_value) {
              err = "duplicate field \"value\"";
              return;
            }
            f.has_value = true;
            err = ReadString(inner_field.value(), inner_name, base, line, &value_scratch_,
                             &f.value);
          } else {
            err = fmt::format("unknown field \"{}\"", inner_name);
          }
          if (!err.empty()) return;
        }
        first = false;
        continue;
      }
      first = false;
      if (name == wire::kFieldOp) {
        if (f.has_op) {
          err = "duplicate field \"op\"";
          return;
        }
        f.has_op = true;
        // The op is compared below, while the document (and its string buffer) is alive.
        od::json_type type;
        if (auto e = field.value().type().get(type)) {
          err = InvalidJson(e);
          return;
        }
        if (type != od::json_type::string) {
          err = "field \"op\" must be a string";
          return;
        }
        if (auto e = field.value().get_string().get(f.op)) {
          err = InvalidJson(e);
          return;
        }
        if (f.op != wire::kOpSet && f.op != wire::kOpGet && f.op != wire::kOpRm &&
            f.op != wire::kOpPing && f.op != wire::kOpAuth) {
          std::string shown(f.op.substr(0, 64));
          std::string escaped;
          AppendJsonString(IsValidUtf8(shown) ? shown : "?", &escaped);
          err = fmt::format("unknown op {}", escaped);
          return;
        }
      } else if (name == wire::kFieldKey) {
        if (f.has_key) {
          err = "duplicate field \"key\"";
          return;
        }
        f.has_key = true;
        err = ReadString(field.value(), name, base, line, &key_scratch_, &f.key);
      } else if (name == wire::kFieldValue) {
        if (f.has_value) {
          err = "duplicate field \"value\"";
          return;
        }
        f.has_value = true;
        err = ReadString(field.value(), name, base, line, &value_scratch_, &f.value);
      } else if (name == wire::kFieldPassword) {
        if (f.has_password) {
          err = "duplicate field \"password\"";
          return;
        }
        f.has_password = true;
        err = ReadString(field.value(), name, base, line, &value_scratch_, &f.password);
      } else if (name == kJsonFieldCmd) {
        if (f.has_cmd) {
          err = "duplicate field \"cmd\"";
          return;
        }
        f.has_cmd = true;
        err = ReadArgv(field.value(), base, line, limits_, &argv_, &argv_escaped_);
      } else if (name == wire::kFieldStale) {
        if (f.has_stale) {
          err = "duplicate field \"stale\"";
          return;
        }
        f.has_stale = true;
        if (field.value().get_bool().get(f.stale) != simdjson::SUCCESS) {
          err = "field \"stale\" must be true or false";
          return;
        }
      } else {
        std::string shown(name.substr(0, 64));
        std::string escaped;
        AppendJsonString(IsValidUtf8(shown) ? shown : "?", &escaped);
        err = fmt::format("unknown field {}", escaped);
      }
      if (!err.empty()) return;
    }
    // Any token left after the object is trailing garbage ("{...} x", "{...}{...}").
    const char* trailing;
    if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
      err = "invalid JSON: trailing characters after the object";
      return;
    }
    if (f.has_cmd) {
      err = f.has_op      ? "field \"op\" not allowed with \"cmd\""
            : f.has_key   ? "field \"key\" not allowed with \"cmd\""
            : f.has_value ? "field \"value\" not allowed with \"cmd\""
                          : "";
      if (err.empty()) FinishArgv(&out->request, f.stale);
      return;
    }
    if (!f.has_op) {
      err = "missing field \"op\"";
      return;
    }
    if (f.has_password != (f.op == wire::kOpAuth)) {
      err = f.has_password ? fmt::format("field \"password\" not allowed for op \"{}\"", f.op)
                           : "missing field \"password\"";
      return;
    }
    if (f.op == wire::kOpAuth) {  // AUTH by name: the server answers it like RESP's
      err = f.has_key     ? "field \"key\" not allowed for op \"auth\""
            : f.has_value ? "field \"value\" not allowed for op \"auth\""
            : f.has_stale ? "field \"stale\" not allowed for op \"auth\""
                          : "";
      if (!err.empty()) return;
      argv_.clear();
      argv_escaped_.clear();
      argv_.push_back("AUTH");
      argv_.push_back(f.password);
      FinishArgv(&out->request, false);
      out->request.shape = shape;
      return;
    }
    const bool needs_key = f.op != wire::kOpPing;
    const bool needs_value = f.op == wire::kOpSet;
    if (needs_key && !f.has_key) {
      err = "missing field \"key\"";
    } else if (needs_value && !f.has_value) {
      err = "missing field \"value\"";
    } else if (!needs_key && f.has_key) {
      err = fmt::format("field \"key\" not allowed for op \"{}\"", f.op);
    } else if (!needs_value && f.has_value) {
      err = fmt::format("field \"value\" not allowed for op \"{}\"", f.op);
    } else if (f.has_stale && f.op != wire::kOpGet) {
      err = fmt::format("field \"stale\" not allowed for op \"{}\"", f.op);
    } else {
      err = CheckSizes(f, limits_);
    }
    if (err.empty()) {
      Request& r = out->request;
      r.shape = shape;
      r.command = f.op == wire::kOpSet   ? Command::kSet
                  : f.op == wire::kOpGet ? Command::kGet
                  : f.op == wire::kOpRm  ? Command::kRm
                                         : Command::kPing;
      r.key = f.key;
      r.value = f.value;
      r.has_value = f.has_value;
      r.stale = f.stale;
      r.args = {};
    }
  };
  parse();
  if (line.size() > kKeepParserCapacity) parser = od::parser();
  if (err.empty()) {
    out->status = DecodeStatus::kRequest;
  } else {
    out->status = DecodeStatus::kError;
    out->error = {shape, false, std::move(err)};
  }
}

void JsonDecoder::FinishArgv(Request* r, bool stale) {
  size_t bytes = 0;
  for (size_t i : argv_escaped_) bytes += argv_[i].size();
  argv_scratch_.clear();
  argv_scratch_.reserve(bytes);  // so that the appends below never move the earlier words
  for (size_t i : argv_escaped_) {
    const size_t at = argv_scratch_.size();
    argv_scratch_.append(argv_[i]);
    argv_[i] = std::string_view(argv_scratch_.data() + at, argv_[i].size());
  }
  r->shape = Shape::kJson;
  r->command = Command::kRedis;
  r->key = {};
  r->value = {};
  r->has_value = false;
  r->args = {};
  r->stale = stale;
  r->argv = argv_;
}

// --- Encoding ---------------------------------------------------------------------------

namespace {

// 0: copy as is; otherwise the character after '\' ('u' → \u00XX).
constexpr auto kEscapeTable = [] {
  struct Table {
    char v[256] = {};
  } t;
  for (int c = 0; c < 0x20; ++c) t.v[c] = 'u';
  t.v[static_cast<unsigned char>('\b')] = 'b';
  t.v[static_cast<unsigned char>('\f')] = 'f';
  t.v[static_cast<unsigned char>('\n')] = 'n';
  t.v[static_cast<unsigned char>('\r')] = 'r';
  t.v[static_cast<unsigned char>('\t')] = 't';
  t.v[static_cast<unsigned char>('"')] = '"';
  t.v[static_cast<unsigned char>('\\')] = '\\';
  return t;
}();

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied as is
  for (size_t i = 0; i < s.size(); ++i) {
    const char esc = kEscapeTable.v[static_cast<unsigned char>(s[i])];
    if (esc == 0) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    if (esc == 'u') {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto c = static_cast<unsigned char>(s[i]);
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(u, sizeof(u));
    } else {
      const char e[2] = {'\\', esc};
      out->append(e, sizeof(e));
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

bool IsValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

}  // namespace kvs::proto
