#include "crash/crash_client.h"

#include <fmt/format.h>

#include <cstdlib>

namespace kvs::crash {
namespace {

void AppendResp(std::string* out, std::initializer_list<std::string_view> args) {
  fmt::format_to(std::back_inserter(*out), "*{}\r\n", args.size());
  for (std::string_view a : args) {
    fmt::format_to(std::back_inserter(*out), "${}\r\n", a.size());
    out->append(a);
    out->append("\r\n");
  }
}

// Keys and values of the crash tests are [A-Za-z0-9.-]: no JSON escaping needed.
void AppendJson(std::string* out, std::string_view op, std::string_view key,
                std::optional<std::string_view> value) {
  fmt::format_to(std::back_inserter(*out), R"({{"op":"{}","key":"{}")", op, key);
  if (value) fmt::format_to(std::back_inserter(*out), R"(,"value":"{}")", *value);
  out->append("}\n");
}

}  // namespace

std::string_view ProtoName(Proto proto) { return proto == Proto::kResp ? "resp" : "json"; }

void KvConn::AddSet(std::string_view key, std::string_view value) {
  if (proto_ == Proto::kResp) {
    AppendResp(&out_, {"SET", key, value});
  } else {
    AppendJson(&out_, "set", key, value);
  }
}

void KvConn::AddRemove(std::string_view key) {
  if (proto_ == Proto::kResp) {
    AppendResp(&out_, {"DEL", key});
  } else {
    AppendJson(&out_, "rm", key, std::nullopt);
  }
}

void KvConn::AddGet(std::string_view key) {
  if (proto_ == Proto::kResp) {
    AppendResp(&out_, {"GET", key});
  } else {
    AppendJson(&out_, "get", key, std::nullopt);
  }
}

void KvConn::Flush() {
  conn_.Send(out_);
  out_.clear();
}

std::optional<std::string> KvConn::Line(int timeout_s) {
  std::optional<std::string> line = conn_.ReadLine(timeout_s);
  if (line && proto_ == Proto::kResp && !line->empty() && line->back() == '\r') line->pop_back();
  return line;
}

std::optional<Reply> KvConn::NextWriteReply(int timeout_s) {
  std::optional<std::string> line = Line(timeout_s);
  if (!line) return std::nullopt;
  Reply r;
  if (proto_ == Proto::kResp) {
    if (*line == "+OK" || *line == ":1") {
      r.ok = true;
    } else if (*line == ":0") {
      r.ok = true;
      r.not_found = true;
    } else {
      r.error = *line;
    }
  } else if (*line == R"({"ok":true})") {
    r.ok = true;
  } else if (*line == R"({"ok":false,"error":"Key not found"})") {
    r.ok = true;
    r.not_found = true;
  } else {
    r.error = *line;
  }
  return r;
}

std::optional<Reply> KvConn::NextGetReply(int timeout_s) {
  std::optional<std::string> line = Line(timeout_s);
  if (!line) return std::nullopt;
  Reply r;
  if (proto_ == Proto::kResp) {
    if (*line == "$-1") {
      r.ok = true;
    } else if (line->starts_with("$")) {
      const size_t n = std::strtoull(line->c_str() + 1, nullptr, 10);
      std::optional<std::string> body = conn_.ReadN(n + 2, timeout_s);
      if (!body) return std::nullopt;
      body->resize(n);
      r.ok = true;
      r.value = std::move(*body);
    } else {
      r.error = *line;
    }
    return r;
  }
  static constexpr std::string_view kValue = R"({"ok":true,"value":")";
  if (*line == R"({"ok":true,"value":null})") {
    r.ok = true;
  } else if (line->starts_with(kValue) && line->ends_with("\"}")) {
    r.ok = true;
    r.value = line->substr(kValue.size(), line->size() - kValue.size() - 2);
  } else {
    r.error = *line;
  }
  return r;
}

std::optional<long long> KvConn::DbSize(int timeout_s) {
  AppendResp(&out_, {"DBSIZE"});
  Flush();
  std::optional<std::string> line = Line(timeout_s);
  if (!line || !line->starts_with(":")) return std::nullopt;
  return std::strtoll(line->c_str() + 1, nullptr, 10);
}

}  // namespace kvs::crash
