#include "proto/reply.h"

#include <fmt/format.h>

#include <utility>

#include "proto/json_codec.h"
#include "proto/resp_codec.h"
#include "proto/wire_format.h"

namespace kvs::proto {

namespace {

// {"ok":true,"value":<string>} / {"Ok":<string>}, or an error when it is not UTF-8.
void AppendJsonValue(Shape shape, std::string_view value, std::string* out) {
  if (!IsValidUtf8(value)) {
    EncodeError(shape, "value is not valid UTF-8 (read it over RESP)", out);
    return;
  }
  out->append(shape == Shape::kJsonLegacy ? wire::kLegacyOkPrefix : wire::kJsonValuePrefix);
  AppendJsonString(value, out);
  out->append("}\n");
}

void AppendJsonOk(Shape shape, std::string* out) {
  out->append(shape == Shape::kJsonLegacy ? wire::kLegacyOkNull : wire::kJsonOk);
  out->push_back('\n');
}

}  // namespace

void EncodeSetReply(Shape shape, std::string* out) {
  if (shape == Shape::kResp) {
    out->append(wire::kRespOk);
  } else {
    AppendJsonOk(shape, out);
  }
}

void EncodeGetReply(Shape shape, std::optional<std::string_view> value, std::string* out) {
  if (shape == Shape::kResp) {
    if (value) {
      resp::AppendBulk(*value, out);
    } else {
      resp::AppendNil(out);
    }
  } else if (value) {
    AppendJsonValue(shape, *value, out);
  } else {
    out->append(shape == Shape::kJsonLegacy ? wire::kLegacyOkNull : wire::kJsonNullValue);
    out->push_back('\n');
  }
}

void EncodeRmReply(Shape shape, int64_t removed, std::string* out) {
  if (shape == Shape::kResp) {
    resp::AppendInteger(removed, out);
  } else if (removed > 0) {
    AppendJsonOk(shape, out);
  } else {
    EncodeError(shape, wire::kKeyNotFound, out);
  }
}

void EncodeIntegerReply(Shape shape, int64_t n, std::string* out) {
  if (shape == Shape::kResp) {
    resp::AppendInteger(n, out);
  } else {
    out->append(shape == Shape::kJsonLegacy ? wire::kLegacyOkPrefix : wire::kJsonValuePrefix);
    const fmt::format_int digits(n);
    out->append(digits.data(), digits.size());
    out->append("}\n");
  }
}

void EncodeInfoReply(Shape shape, std::string_view text, std::string* out) {
  if (shape == Shape::kResp) {
    resp::AppendBulk(text, out);
  } else {
    AppendJsonValue(shape, text, out);
  }
}

void EncodeError(Shape shape, std::string_view message, std::string* out) {
  if (shape == Shape::kResp) {
    resp::AppendError(message, out);
    return;
  }
  // Messages quote client bytes; never let them break the JSON.
  std::string safe;
  if (!IsValidUtf8(message)) {
    safe.assign(message);
    for (char& c : safe) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
    message = safe;
  }
  out->append(shape == Shape::kJsonLegacy ? wire::kLegacyErrPrefix : wire::kJsonErrorPrefix);
  AppendJsonString(message, out);
  out->append("}\n");
}

void EncodeNotLeader(Shape shape, std::string_view leader, std::string* out) {
  const std::string text =
      leader.empty() ? fmt::format("{}; no leader is known yet", wire::kNotLeader)
                     : fmt::format("{}; the leader is {}", wire::kNotLeader, leader);
  switch (shape) {
    case Shape::kResp:
      out->push_back(wire::kError);
      out->append("NOTLEADER ");
      out->append(text);
      out->append(wire::kCrlf);
      return;
    case Shape::kJsonLegacy:
      EncodeError(shape, text, out);
      return;
    case Shape::kJson:
      out->append(wire::kJsonErrorPrefix);
      AppendJsonString(wire::kNotLeader, out);
      out->append(",\"leader\":");
      if (leader.empty()) {
        out->append("null");
      } else {
        AppendJsonString(leader, out);
      }
      out->append("}\n");
      return;
  }
}

bool EncodeLocalReply(const Request& request, std::string* out) {
  const bool is_resp = request.shape == Shape::kResp;
  switch (request.command) {
    case Command::kPing:
      if (!is_resp) {
        AppendJsonOk(request.shape, out);
      } else if (request.has_value) {
        resp::AppendBulk(request.value, out);
      } else {
        out->append(wire::kRespPong);
      }
      return true;
    default:
      return false;
  }
}

}  // namespace kvs::proto
