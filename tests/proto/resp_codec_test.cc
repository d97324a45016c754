#include "proto/resp_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/proto_test_util.h"

namespace kvs::proto {
namespace {

using namespace std::string_literals;

using testing::DecodeOne;
using testing::FeedWhole;

// "*<n>\r\n$<len>\r\n<arg>\r\n..." for the given words.
std::string Cmd(const std::vector<std::string>& argv) {
  std::string s = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

// ----- Commands -----

TEST(RespDecoderTest, EveryCommand) {
  EXPECT_EQ(DecodeOne(Cmd({"PING"})), "resp PING");
  EXPECT_EQ(DecodeOne(Cmd({"PING", "hi"})), "resp PING args=[hi]");
  EXPECT_EQ(DecodeOne(Cmd({"GET", "k"})), "resp GET args=[k]");
  EXPECT_EQ(DecodeOne(Cmd({"SET", "k", "v"})), "resp SET args=[k,v]");
  EXPECT_EQ(DecodeOne(Cmd({"DEL", "a", "b"})), "resp DEL args=[a,b]");
  EXPECT_EQ(DecodeOne(Cmd({"EXISTS", "a", "b", "c"})), "resp EXISTS args=[a,b,c]");
  EXPECT_EQ(DecodeOne(Cmd({"DBSIZE"})), "resp DBSIZE");
  EXPECT_EQ(DecodeOne(Cmd({"INFO"})), "resp INFO");
  EXPECT_EQ(DecodeOne(Cmd({"INFO", "server"})), "resp INFO args=[server]");
  EXPECT_EQ(DecodeOne(Cmd({"QUIT"})), "resp QUIT");
  EXPECT_EQ(DecodeOne(Cmd({"COMMAND"})), "resp COMMAND");
  EXPECT_EQ(DecodeOne(Cmd({"COMMAND", "DOCS"})), "resp COMMAND args=[DOCS]");
  EXPECT_EQ(DecodeOne(Cmd({"CONFIG", "GET", "save"})), "resp CONFIG args=[GET,save]");
  EXPECT_EQ(DecodeOne(Cmd({"config", "get", "save", "appendonly"})),
            "resp CONFIG args=[get,save,appendonly]");
}

TEST(RespDecoderTest, CommandNamesAreCaseInsensitive) {
  EXPECT_EQ(DecodeOne(Cmd({"get", "k"})), "resp GET args=[k]");
  EXPECT_EQ(DecodeOne(Cmd({"sEt", "k", "v"})), "resp SET args=[k,v]");
}

TEST(RespDecoderTest, WhatRedisCliAndRedisBenchmarkSend) {
  // Captured from redis-cli 7.0 and redis-benchmark 7.0 (Debian 12).
  auto events = FeedWhole(
      "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
      "*1\r\n$4\r\nping\r\n"
      "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n"
      "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n"
      "*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$3\r\nVXK\r\n"
      "*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n");
  EXPECT_EQ(events, (std::vector<std::string>{
                        "resp COMMAND args=[DOCS]", "resp PING", "resp CONFIG args=[GET,save]",
                        "resp CONFIG args=[GET,appendonly]",
                        "resp SET args=[key:__rand_int__,VXK]",
                        "resp GET args=[key:__rand_int__]"}));
}

TEST(RespDecoderTest, BinarySafeKeysAndValues) {
  const std::string key("a\r\n\0b", 5);
  std::string value;
  for (int c = 0; c < 256; ++c) value.push_back(static_cast<char>(c));
  RespDecoder decoder;
  const std::string input = Cmd({"SET", key, value});
  Decoded d = decoder.Next(input);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.argv[1], key);
  EXPECT_EQ(d.request.argv[2], value);
  EXPECT_EQ(d.consumed, input.size());
  // Zero copy: views into the input.
  EXPECT_GE(d.request.argv[2].data(), input.data());
  EXPECT_LE(d.request.argv[2].data() + d.request.argv[2].size(), input.data() + input.size());
}

TEST(RespDecoderTest, EmptyValueAllowed) {
  EXPECT_EQ(DecodeOne(Cmd({"SET", "k", ""})), "resp SET args=[k,]");
}

// Framing passes every word through; the server checks the command (command_table_test).
TEST(RespDecoderTest, EmptyWordsPassThrough) {
  EXPECT_EQ(DecodeOne(Cmd({"GET", ""})), "resp GET args=[]");
  EXPECT_EQ(DecodeOne(Cmd({"SET", "", "v"})), "resp SET args=[,v]");
  EXPECT_EQ(DecodeOne(Cmd({"NO\0SUCH"s, "x"})), "resp NO\\x00SUCH args=[x]");
}

TEST(RespDecoderTest, InlineCommands) {
  EXPECT_EQ(DecodeOne("PING\r\n"), "resp PING");
  EXPECT_EQ(DecodeOne("ping\n"), "resp PING");
  EXPECT_EQ(DecodeOne("  SET   k \t v  \r\n", false, {}, Protocol::kResp),
            "resp SET args=[k,v]");
  EXPECT_EQ(FeedWhole("\r\n\n   \r\nPING\r\n", false, {}, Protocol::kResp),
            std::vector<std::string>{"resp PING"});
  EXPECT_EQ(DecodeOne("PING"), "NEED");
}

TEST(RespDecoderTest, EmptyArraysAreSkipped) {
  EXPECT_EQ(FeedWhole("*0\r\n*-1\r\n" + Cmd({"PING"})), std::vector<std::string>{"resp PING"});
}

TEST(RespDecoderTest, PartialInputConsumesNothingAndSaysWhatItWants) {
  RespDecoder decoder;
  const std::string full = Cmd({"SET", "k", std::string(1000, 'v')});
  const std::string part = full.substr(0, 30);
  Decoded d = decoder.Next(part);
  EXPECT_EQ(d.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_EQ(d.wanted, full.size());
}

TEST(RespDecoderTest, PipelinedRequestsComeOutInOrder) {
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += Cmd({"GET", "k" + std::to_string(i)});
  RespDecoder decoder;
  std::string_view rest = stream;
  for (int i = 0; i < 100; ++i) {
    Decoded d = decoder.Next(rest);
    ASSERT_EQ(d.status, DecodeStatus::kRequest);
    EXPECT_EQ(d.request.argv[1], "k" + std::to_string(i));
    rest.remove_prefix(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

// ----- Framing errors: fatal (reply, then close) -----

struct BadFrame {
  std::string input;
  const char* message;
};
void PrintTo(const BadFrame& c, std::ostream* os) { *os << ::testing::PrintToString(c.input); }

class RespBadFrameTest : public ::testing::TestWithParam<BadFrame> {};

TEST_P(RespBadFrameTest, IsFatal) {
  const auto& c = GetParam();
  RespDecoder decoder;
  Decoded d = decoder.Next(c.input);
  ASSERT_EQ(d.status, DecodeStatus::kError) << testing::Describe(d);
  EXPECT_TRUE(d.error.close);
  EXPECT_EQ(d.error.message, c.message);
  // Nothing after it is parsed.
  d = decoder.Next(Cmd({"PING"}));
  EXPECT_EQ(d.status, DecodeStatus::kError);
  EXPECT_TRUE(d.error.close);
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, RespBadFrameTest,
    ::testing::Values(
        BadFrame{"*x\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*1\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*+1\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"* 1\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*1 \r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*" + std::string(40, '1'), "Protocol error: invalid multibulk length"},
        BadFrame{"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
        BadFrame{"*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"},
        BadFrame{"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        BadFrame{"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
        BadFrame{"*01\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*-0\r\n", "Protocol error: invalid multibulk length"},
        BadFrame{"*1\r\n$04\r\nPING\r\n", "Protocol error: invalid bulk length"},
        BadFrame{"*1\r\n$-0\r\n", "Protocol error: invalid bulk length"},
        BadFrame{"*1\r\n\x01\r\n", "Protocol error: expected '$', got '\x01'"},
        BadFrame{"*1\r\n$4\r\nPINGxx", "Protocol error: bulk string not followed by CRLF"},
        BadFrame{"*1\r\n$4\r\nPING\n\r", "Protocol error: bulk string not followed by CRLF"},
        BadFrame{"*1\r\n$" + std::string(40, '9'), "Protocol error: invalid bulk length"}));

// ----- Limits -----

ProtoLimits SmallLimits() {
  ProtoLimits l;
  l.max_key_bytes = 8;
  l.max_value_bytes = 16;
  l.max_array_len = 4;
  l.max_inline_bytes = 32;
  return l;
}

TEST(RespLimitsTest, ValueAtLimitAccepted) {
  EXPECT_EQ(DecodeOne(Cmd({"SET", "k", std::string(16, 'v')}), false, SmallLimits()).substr(0, 8),
            "resp SET");
}

TEST(RespLimitsTest, DeclaredBulkOverLimitIsFatalBeforeItsBytesArrive) {
  RespDecoder decoder(SmallLimits());
  Decoded d = decoder.Next("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$17\r\n");  // no payload sent
  ASSERT_EQ(d.status, DecodeStatus::kError);
  EXPECT_TRUE(d.error.close);
  EXPECT_EQ(d.error.message, "Protocol error: bulk length 17 over the limit 16");
}

TEST(RespLimitsTest, HugeDeclaredLengthsAllocateNothing) {
  RespDecoder decoder;  // default limits
  Decoded d = decoder.Next("*1\r\n$999999999999\r\n");
  ASSERT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.message, "Protocol error: bulk length 999999999999 over the limit 16777216");
  RespDecoder decoder2;
  d = decoder2.Next("*2147483648\r\n");
  ASSERT_EQ(d.status, DecodeStatus::kError);
  EXPECT_EQ(d.error.message, "Protocol error: too many arguments: 2147483648 (limit 1024)");
}

TEST(RespLimitsTest, ArrayLengthOverLimitIsFatal) {
  EXPECT_EQ(DecodeOne(Cmd({"DEL", "a", "b", "c"}), false, SmallLimits()),
            "resp DEL args=[a,b,c]");
  EXPECT_EQ(DecodeOne("*5\r\n", false, SmallLimits()),
            "resp FATAL Protocol error: too many arguments: 5 (limit 4)");
}

TEST(RespLimitsTest, TotalDeclaredBytesOverLimitIsFatal) {
  ProtoLimits l = SmallLimits();
  l.max_array_len = 1024;
  // max_request_bytes = 8 + 16 + 1024; 100 keys of 8 bytes = 800 fit, 200 do not.
  std::vector<std::string> argv{"DEL"};
  for (int i = 0; i < 200; ++i) argv.push_back("kkkkkkkk");
  const std::string got = DecodeOne(Cmd(argv), false, l);
  EXPECT_EQ(got, "resp FATAL Protocol error: command of more than 1048 bytes");
}

TEST(RespLimitsTest, InlineLineOverLimitIsFatal) {
  const ProtoLimits l = SmallLimits();
  EXPECT_EQ(DecodeOne("GET " + std::string(28, 'k') + "\r\n", false, l),
            "resp GET args=[" + std::string(28, 'k') + "]");  // 32 bytes: fits
  EXPECT_EQ(DecodeOne("GET " + std::string(29, 'k') + "\r\n", false, l),
            "resp FATAL Protocol error: inline command longer than 32 bytes");
  // Without its newline: fatal as soon as more than the limit (+ CRLF) is buffered.
  EXPECT_EQ(DecodeOne("GET " + std::string(30, 'k'), false, l),
            "resp FATAL Protocol error: inline command longer than 32 bytes");
  EXPECT_EQ(DecodeOne("GET " + std::string(29, 'k'), false, l), "NEED");
  EXPECT_EQ(DecodeOne("A B C D E\r\n", false, l),
            "resp FATAL Protocol error: too many arguments (limit 4)");
}

TEST(RespLimitsTest, DefaultLimits) {
  const std::string key(65536, 'k');
  EXPECT_EQ(DecodeOne(Cmd({"GET", key})).substr(0, 13), "resp GET args");
  RespDecoder decoder;
  const std::string big = Cmd({"SET", "k", std::string(16 << 20, 'v')});
  Decoded d = decoder.Next(big);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.argv[2].size(), 16u << 20);
  EXPECT_EQ(DecodeOne("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777217\r\n"),
            "resp FATAL Protocol error: bulk length 16777217 over the limit 16777216");
}

// ----- Encoding -----

TEST(RespEncodeTest, Replies) {
  std::string out;
  resp::AppendSimpleString("OK", &out);
  resp::AppendError("boom", &out);
  resp::AppendInteger(-42, &out);
  resp::AppendBulk(std::string_view("a\0\r\n", 4), &out);
  resp::AppendBulk("", &out);
  resp::AppendNil(&out);
  resp::AppendArrayHeader(2, &out);
  EXPECT_EQ(
      out, std::string("+OK\r\n-ERR boom\r\n:-42\r\n$4\r\na\0\r\n\r\n$0\r\n\r\n$-1\r\n*2\r\n", 47));
}

TEST(RespEncodeTest, LinesCannotBeBrokenByTheirText) {
  std::string out;
  resp::AppendError("bad\r\nthing", &out);
  resp::AppendSimpleString("a\nb", &out);
  EXPECT_EQ(out, "-ERR bad  thing\r\n+a b\r\n");
}

}  // namespace
}  // namespace kvs::proto
