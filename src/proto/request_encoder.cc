#include "proto/request_encoder.h"

#include <cassert>
#include <string_view>

#include "proto/json_codec.h"
#include "proto/resp_codec.h"
#include "proto/wire_format.h"

namespace kvs::proto {

namespace {

// {"cmd":["INCR","k"]} (+ "stale":true).
void EncodeJsonArgv(const Request& r, std::string* out) {
  out->append("{");
  AppendJsonString(kJsonFieldCmd, out);
  out->append(":[");
  for (size_t i = 0; i < r.argv.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(r.argv[i], out);
  }
  out->append("]");
  if (r.stale) out->append(R"(,"stale":true)");
  out->append("}\n");
}

void EncodeJson(const Request& r, std::string* out) {
  if (r.command == Command::kRedis) {
    EncodeJsonArgv(r, out);
    return;
  }
  std::string_view op;
  switch (r.command) {
    case Command::kSet:
      op = wire::kOpSet;
      break;
    case Command::kGet:
      op = wire::kOpGet;
      break;
    case Command::kRm:
      op = wire::kOpRm;
      break;
    default:
      op = wire::kOpPing;
      break;
  }
  out->append(R"({"op":)");
  AppendJsonString(op, out);
  if (r.command != Command::kPing) {
    out->append(R"(,"key":)");
    AppendJsonString(r.key, out);
  }
  if (r.command == Command::kSet) {
    out->append(R"(,"value":)");
    AppendJsonString(r.value, out);
  }
  if (r.command == Command::kGet && r.stale) out->append(R"(,"stale":true)");
  out->append("}\n");
}

void EncodeLegacy(const Request& r, std::string* out) {
  assert(r.command == Command::kSet || r.command == Command::kGet || r.command == Command::kRm);
  out->append("{");
  AppendJsonString(r.command == Command::kSet   ? wire::kLegacySet
                   : r.command == Command::kGet ? wire::kLegacyGet
                                                : wire::kLegacyRemove,
                   out);
  out->append(R"(:{"key":)");
  AppendJsonString(r.key, out);
  if (r.command == Command::kSet) {
    out->append(R"(,"value":)");
    AppendJsonString(r.value, out);
  }
  out->append("}}\n");
}

void EncodeResp(const Request& r, std::string* out) {
  if (r.command == Command::kRedis) {
    resp::AppendArrayHeader(r.argv.size(), out);
    for (std::string_view word : r.argv) resp::AppendBulk(word, out);
    return;
  }
  std::string_view name = CommandName(r.command);
  size_t prefix = 1;
  if (r.command == Command::kConfigGet) {
    name = "CONFIG";
    prefix = 2;
  }
  const bool key_only =
      (r.command == Command::kRm || r.command == Command::kExists) && r.args.empty();
  size_t n = prefix;
  switch (r.command) {
    case Command::kGet:
      n += 1;
      break;
    case Command::kSet:
      n += 2;
      break;
    case Command::kPing:
      n += r.has_value ? 1 : 0;
      break;
    default:
      n += key_only ? 1 : r.args.size();
      break;
  }
  resp::AppendArrayHeader(n, out);
  resp::AppendBulk(name, out);
  if (r.command == Command::kConfigGet) resp::AppendBulk("GET", out);
  switch (r.command) {
    case Command::kGet:
      resp::AppendBulk(r.key, out);
      break;
    case Command::kSet:
      resp::AppendBulk(r.key, out);
      resp::AppendBulk(r.value, out);
      break;
    case Command::kPing:
      if (r.has_value) resp::AppendBulk(r.value, out);
      break;
    default:
      if (key_only) {
        resp::AppendBulk(r.key, out);
      } else {
        for (std::string_view arg : r.args) resp::AppendBulk(arg, out);
      }
      break;
  }
}

}  // namespace

void EncodeRequest(const Request& request, std::string* out) {
  switch (request.shape) {
    case Shape::kJson:
      EncodeJson(request, out);
      break;
    case Shape::kJsonLegacy:
      EncodeLegacy(request, out);
      break;
    case Shape::kResp:
      EncodeResp(request, out);
      break;
  }
}

}  // namespace kvs::proto
