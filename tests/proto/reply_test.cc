#include "proto/reply.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "proto/request.h"

namespace kvs::proto {
namespace {

std::string Set(Shape s) {
  std::string out;
  EncodeSetReply(s, &out);
  return out;
}
std::string Get(Shape s, std::optional<std::string_view> v) {
  std::string out;
  EncodeGetReply(s, v, &out);
  return out;
}
std::string Rm(Shape s, int64_t n) {
  std::string out;
  EncodeRmReply(s, n, &out);
  return out;
}
std::string Err(Shape s, std::string_view m) {
  std::string out;
  EncodeError(s, m, &out);
  return out;
}

TEST(ReplyTest, NewJsonShape) {
  EXPECT_EQ(Set(Shape::kJson), "{\"ok\":true}\n");
  EXPECT_EQ(Get(Shape::kJson, "v"), "{\"ok\":true,\"value\":\"v\"}\n");
  EXPECT_EQ(Get(Shape::kJson, ""), "{\"ok\":true,\"value\":\"\"}\n");
  EXPECT_EQ(Get(Shape::kJson, std::nullopt), "{\"ok\":true,\"value\":null}\n");
  EXPECT_EQ(Rm(Shape::kJson, 1), "{\"ok\":true}\n");
  EXPECT_EQ(Rm(Shape::kJson, 0), "{\"ok\":false,\"error\":\"Key not found\"}\n");
  EXPECT_EQ(Err(Shape::kJson, "bad \"x\""), "{\"ok\":false,\"error\":\"bad \\\"x\\\"\"}\n");
}

TEST(ReplyTest, LegacyJsonShape) {
  EXPECT_EQ(Set(Shape::kJsonLegacy), "{\"Ok\":null}\n");
  EXPECT_EQ(Get(Shape::kJsonLegacy, "v"), "{\"Ok\":\"v\"}\n");
  EXPECT_EQ(Get(Shape::kJsonLegacy, std::nullopt), "{\"Ok\":null}\n");
  EXPECT_EQ(Rm(Shape::kJsonLegacy, 1), "{\"Ok\":null}\n");
  EXPECT_EQ(Rm(Shape::kJsonLegacy, 0), "{\"Err\":\"Key not found\"}\n");
  EXPECT_EQ(Err(Shape::kJsonLegacy, "boom"), "{\"Err\":\"boom\"}\n");
}

TEST(ReplyTest, Resp) {
  EXPECT_EQ(Set(Shape::kResp), "+OK\r\n");
  EXPECT_EQ(Get(Shape::kResp, "v"), "$1\r\nv\r\n");
  EXPECT_EQ(Get(Shape::kResp, ""), "$0\r\n\r\n");
  EXPECT_EQ(Get(Shape::kResp, std::nullopt), "$-1\r\n");
  EXPECT_EQ(Rm(Shape::kResp, 2), ":2\r\n");
  EXPECT_EQ(Rm(Shape::kResp, 0), ":0\r\n");
  EXPECT_EQ(Err(Shape::kResp, "boom"), "-ERR boom\r\n");
  std::string out;
  EncodeIntegerReply(Shape::kResp, 7, &out);
  EncodeInfoReply(Shape::kResp, "# Server\r\nx:1\r\n", &out);
  EXPECT_EQ(out, ":7\r\n$15\r\n# Server\r\nx:1\r\n\r\n");
}

TEST(ReplyTest, NotLeaderInEveryShape) {
  auto encode = [](Shape shape, std::string_view leader) {
    std::string out;
    EncodeNotLeader(shape, leader, &out);
    return out;
  };
  EXPECT_EQ(encode(Shape::kJson, "10.0.0.1:4000"),
            "{\"ok\":false,\"error\":\"not leader\",\"leader\":\"10.0.0.1:4000\"}\n");
  EXPECT_EQ(encode(Shape::kJson, ""), "{\"ok\":false,\"error\":\"not leader\",\"leader\":null}\n");
  EXPECT_EQ(encode(Shape::kJsonLegacy, "h:1"), "{\"Err\":\"not leader; the leader is h:1\"}\n");
  EXPECT_EQ(encode(Shape::kResp, "h:1"), "-NOTLEADER not leader; the leader is h:1\r\n");
  EXPECT_EQ(encode(Shape::kResp, ""), "-NOTLEADER not leader; no leader is known yet\r\n");
}

TEST(ReplyTest, IntegerAndInfoInJsonShapes) {
  std::string out;
  EncodeIntegerReply(Shape::kJson, 7, &out);
  EncodeIntegerReply(Shape::kJsonLegacy, -1, &out);
  EncodeInfoReply(Shape::kJson, "a\r\n", &out);
  EXPECT_EQ(out, "{\"ok\":true,\"value\":7}\n{\"Ok\":-1}\n{\"ok\":true,\"value\":\"a\\r\\n\"}\n");
}

TEST(ReplyTest, BinaryValuesOverResp) {
  const std::string v("\0\xff\r\n", 4);
  EXPECT_EQ(Get(Shape::kResp, v), std::string("$4\r\n\0\xff\r\n\r\n", 10));
}

TEST(ReplyTest, NonUtf8ValueOverJsonIsAnError) {
  EXPECT_EQ(Get(Shape::kJson, "\xff"),
            "{\"ok\":false,\"error\":\"value is not valid UTF-8 (read it over RESP)\"}\n");
  EXPECT_EQ(Get(Shape::kJsonLegacy, "\xc3"),
            "{\"Err\":\"value is not valid UTF-8 (read it over RESP)\"}\n");
}

TEST(ReplyTest, ErrorMessagesCannotBreakTheFraming) {
  EXPECT_EQ(Err(Shape::kJson, "a\nb\xff"), "{\"ok\":false,\"error\":\"a\\nb?\"}\n");
  EXPECT_EQ(Err(Shape::kResp, "a\r\nb"), "-ERR a  b\r\n");
}

TEST(ReplyTest, ManyRepliesBatchIntoOneBuffer) {
  std::string out;
  EncodeSetReply(Shape::kResp, &out);
  EncodeGetReply(Shape::kResp, "x", &out);
  EncodeRmReply(Shape::kResp, 1, &out);
  EXPECT_EQ(out, "+OK\r\n$1\r\nx\r\n:1\r\n");
}

// Every JSON value reply parses back (with simdjson) to the value it carries.
TEST(ReplyTest, JsonValueRepliesRoundTrip) {
  std::vector<std::string> values = {"",
                                     "plain",
                                     "q\"b\\s/",
                                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                                     std::string("\0nul", 4),
                                     "\xe2\x80\xa8"};
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii.push_back(static_cast<char>(c));
  values.push_back(all_ascii);
  simdjson::dom::parser parser;
  for (Shape shape : {Shape::kJson, Shape::kJsonLegacy}) {
    for (const auto& v : values) {
      const std::string out = Get(shape, v);
      ASSERT_EQ(out.back(), '\n');
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
      std::string_view got;
      ASSERT_EQ(doc[shape == Shape::kJson ? "value" : "Ok"].get(got), simdjson::SUCCESS);
      EXPECT_EQ(got, v);
    }
    simdjson::dom::element doc;
    const std::string err = Err(shape, "x\x01\"y");
    ASSERT_EQ(parser.parse(err).get(doc), simdjson::SUCCESS) << err;
    std::string_view msg;
    ASSERT_EQ(doc[shape == Shape::kJson ? "error" : "Err"].get(msg), simdjson::SUCCESS);
    EXPECT_EQ(msg, "x\x01\"y");
  }
}

// ----- Requests answered without storage -----

std::string Local(Request r) {
  std::string out;
  EXPECT_TRUE(EncodeLocalReply(r, &out));
  return out;
}

TEST(LocalReplyTest, Ping) {
  EXPECT_EQ(Local({Shape::kResp, Command::kPing, {}, {}, false, {}, false, {}}), "+PONG\r\n");
  EXPECT_EQ(Local({Shape::kResp, Command::kPing, {}, "hi", true, {}, false, {}}), "$2\r\nhi\r\n");
  EXPECT_EQ(Local({Shape::kJson, Command::kPing, {}, {}, false, {}, false, {}}), "{\"ok\":true}\n");
}

TEST(LocalReplyTest, StorageCommandsAreNotLocal) {
  std::string out;
  for (Command c : {Command::kGet, Command::kSet, Command::kRm, Command::kExists, Command::kDbSize,
                    Command::kInfo}) {
    EXPECT_FALSE(EncodeLocalReply({Shape::kResp, c, "k", {}, false, {}, false, {}}, &out));
  }
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace kvs::proto
