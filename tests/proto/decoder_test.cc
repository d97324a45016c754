#include "proto/decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/proto_test_util.h"
#include "proto/request_encoder.h"

namespace kvs::proto {
namespace {

using namespace std::string_literals;

using testing::Feed;
using testing::FeedWhole;

TEST(DetectProtocolTest, FirstByte) {
  EXPECT_EQ(DetectProtocol('*'), Protocol::kResp);
  EXPECT_EQ(DetectProtocol('P'), Protocol::kResp);
  EXPECT_EQ(DetectProtocol('g'), Protocol::kResp);
  EXPECT_EQ(DetectProtocol('{'), Protocol::kJson);
  EXPECT_EQ(DetectProtocol(' '), Protocol::kJson);
  EXPECT_EQ(DetectProtocol('\n'), Protocol::kJson);
  EXPECT_EQ(DetectProtocol('['), Protocol::kJson);
  EXPECT_EQ(DetectProtocol('\0'), Protocol::kJson);
  EXPECT_EQ(DetectProtocol('$'), Protocol::kJson);
}

TEST(DecoderTest, UnknownUntilTheFirstByte) {
  Decoder decoder;
  EXPECT_FALSE(decoder.protocol().has_value());
  EXPECT_EQ(decoder.Next("").status, DecodeStatus::kNeedMore);
  EXPECT_FALSE(decoder.protocol().has_value());
  EXPECT_EQ(decoder.Next("*").status, DecodeStatus::kNeedMore);
  EXPECT_EQ(decoder.protocol(), Protocol::kResp);
}

TEST(DecoderTest, DetectsEachProtocol) {
  EXPECT_EQ(testing::DecodeOne("*1\r\n$4\r\nPING\r\n"), "resp PING");
  EXPECT_EQ(testing::DecodeOne("PING\r\n"), "resp PING");
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"ping\"}\n"), "json PING");
  EXPECT_EQ(testing::DecodeOne("\n{\"op\":\"ping\"}\n"), "json PING");
  EXPECT_EQ(testing::DecodeOne("{\"Get\":{\"key\":\"k\"}}", /*eof=*/true), "legacy GET key=k");
}

TEST(DecoderTest, ClusterRequests) {
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"get\",\"key\":\"k\",\"stale\":true}\n"),
            "json GET key=k stale");
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"get\",\"key\":\"k\",\"stale\":false}\n"),
            "json GET key=k");
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"set\",\"key\":\"k\",\"value\":\"v\",\"stale\":true}\n"),
            "json ERR field \"stale\" not allowed for op \"set\"");
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"get\",\"key\":\"k\",\"stale\":1}\n"),
            "json ERR field \"stale\" must be true or false");
  EXPECT_EQ(testing::DecodeOne("{\"op\":\"get\",\"key\":\"k\",\"stale\":true,\"stale\":true}\n"),
            "json ERR duplicate field \"stale\"");
  EXPECT_EQ(testing::DecodeOne("READONLY\r\n"), "resp READONLY");
  EXPECT_EQ(testing::DecodeOne("readwrite\r\n"), "resp READWRITE");
  EXPECT_EQ(testing::DecodeOne("CLUSTER STATUS\r\n"), "resp CLUSTER args=[STATUS]");
  EXPECT_EQ(testing::DecodeOne("cluster add 4=a:1/b:2\r\n"), "resp CLUSTER args=[add,4=a:1/b:2]");
  EXPECT_EQ(testing::DecodeOne("CLUSTER REMOVE 4\r\n"), "resp CLUSTER args=[REMOVE,4]");
  // Arity and subcommands are the server's checks (server_cluster.cc, tests/raft).
}

TEST(DecoderTest, ProtocolIsFixedForTheConnection) {
  // A JSON connection does not switch to RESP (and the other way round).
  auto events = FeedWhole("{\"op\":\"ping\"}\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(events.size(), 4u);  // "*1", "$4", "PING" lines are JSON errors
  EXPECT_EQ(events[0], "json PING");
  EXPECT_EQ(events[1].substr(0, 9), "json ERR ");
}

// Every split point of a pipelined stream, and one byte at a time, gives the same events
// as the whole stream at once.
void ExpectSplitInvariant(const std::string& stream, bool eof) {
  const auto whole = FeedWhole(stream, eof);
  ASSERT_FALSE(whole.empty());
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    ASSERT_EQ(Feed(stream, {cut}, eof), whole) << "cut at " << cut;
  }
  for (size_t cut = 1; cut + 7 < stream.size(); cut += 3) {
    ASSERT_EQ(Feed(stream, {cut, cut + 7}, eof), whole) << "cuts at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < stream.size(); ++i) every.push_back(i);
  ASSERT_EQ(Feed(stream, every, eof), whole) << "one byte at a time";
}

TEST(DecoderSplitTest, JsonPipeline) {
  const std::string stream =
      "{\"op\":\"set\",\"key\":\"k\\u00e9\",\"value\":\"v\\n1\"}\n"
      "{\"op\":\"get\",\"key\":\"k\"}\r\n"
      "\n"
      "{\"op\":\"bogus\"}\n"
      "{\"Set\":{\"key\":\"a\",\"value\":\"b\"}}\n"
      "{\"op\":\"rm\",\"key\":\"k\"}\n"
      "{\"op\":\"ping\"}\n"
      "{\"Remove\":{\"key\":\"a\"}}";
  ExpectSplitInvariant(stream, /*eof=*/true);
  EXPECT_EQ(FeedWhole(stream, true),
            (std::vector<std::string>{"json SET key=k\\xc3\\xa9 value=v\\x0a1", "json GET key=k",
                                      "json ERR unknown op \"bogus\"", "legacy SET key=a value=b",
                                      "json DEL key=k", "json PING", "legacy DEL key=a"}));
}

TEST(DecoderSplitTest, RespPipeline) {
  const std::string stream =
      "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
      "*3\r\n$3\r\nSET\r\n$5\r\na\r\n\0b\r\n$3\r\nxyz\r\n"
      "PING\r\n"
      "*0\r\n"
      "*2\r\n$3\r\nGET\r\n$5\r\na\r\n\0b\r\n"
      "*1\r\n$4\r\nNOPE\r\n"
      "*3\r\n$3\r\nDEL\r\n$1\r\nx\r\n$1\r\ny\r\n"
      "*1\r\n$6\r\nDBSIZE\r\n"
      "*1\r\n$4\r\nQUIT\r\n"s;
  ExpectSplitInvariant(stream, /*eof=*/false);
  EXPECT_EQ(FeedWhole(stream),
            (std::vector<std::string>{
                "resp COMMAND args=[DOCS]",
                "resp SET args=[a\\x0d\\x0a\\x00b,xyz]",
                "resp PING", "resp GET args=[a\\x0d\\x0a\\x00b]",
                "resp NOPE",
                "resp DEL args=[x,y]", "resp DBSIZE", "resp QUIT"}));
}

TEST(DecoderSplitTest, RespFatalErrorStopsTheStream) {
  const std::string stream = "*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\n*1\r\n$4\r\nPING\r\n";
  ExpectSplitInvariant(stream, false);
  EXPECT_EQ(FeedWhole(stream), (std::vector<std::string>{
                                   "resp PING", "resp FATAL Protocol error: invalid bulk length"}));
}

TEST(DecoderSplitTest, JsonOverlongLineResyncs) {
  ProtoLimits limits;
  limits.max_key_bytes = 1;
  limits.max_value_bytes = 1;  // line limit 6*2 + 1024
  const std::string stream =
      "{\"op\":\"ping\"}\n" + std::string(1100, 'x') + "\n{\"op\":\"ping\"}\n";
  const auto whole = FeedWhole(stream, false, limits);
  EXPECT_EQ(whole,
            (std::vector<std::string>{
                "json PING", "json ERR request line too long: more than 1036 bytes", "json PING"}));
  for (size_t cut = 1; cut < stream.size(); cut += 7) {
    ASSERT_EQ(Feed(stream, {cut}, false, limits), whole) << "cut at " << cut;
  }
}

// ----- Request round trips: encode, decode, same request -----

std::vector<Request> EveryRequest() {
  static const std::string_view kKeys[] = {"a", "b"};
  static const std::string_view kConfig[] = {"save"};
  static const std::string_view kDocs[] = {"DOCS"};
  static const std::string_view kSection[] = {"server"};
  std::vector<Request> all;
  for (Shape shape : {Shape::kJson, Shape::kJsonLegacy, Shape::kResp}) {
    all.push_back({shape, Command::kSet, "key \"1\"\n", "val\\ue \xc3\xa9", true, {}, false, {}});
    all.push_back({shape, Command::kGet, "k", {}, false, {}, false, {}});
    all.push_back({shape, Command::kRm, "k", {}, false, {}, false, {}});
    if (shape != Shape::kJsonLegacy) all.push_back({shape, Command::kPing, {}, {}, false, {}, false, {}});
  }
  all.push_back({Shape::kResp,
                 Command::kSet,
                 std::string_view("\0\r\n\xff", 4),
                 std::string_view("\xfe\0", 2),
                 true,
                 {},
                 false,
                 {}});
  all.push_back({Shape::kResp, Command::kPing, {}, "hello", true, {}, false, {}});
  all.push_back({Shape::kResp, Command::kRm, "a", {}, false, kKeys, false, {}});
  all.push_back({Shape::kResp, Command::kExists, "a", {}, false, kKeys, false, {}});
  all.push_back({Shape::kResp, Command::kDbSize, {}, {}, false, {}, false, {}});
  all.push_back({Shape::kResp, Command::kInfo, {}, {}, false, {}, false, {}});
  all.push_back({Shape::kResp, Command::kInfo, {}, {}, false, kSection, false, {}});
  all.push_back({Shape::kResp, Command::kQuit, {}, {}, false, {}, false, {}});
  all.push_back({Shape::kResp, Command::kCommand, {}, {}, false, kDocs, false, {}});
  all.push_back({Shape::kResp, Command::kConfigGet, {}, {}, false, kConfig, false, {}});
  return all;
}

TEST(RequestRoundTripTest, EveryRequestInEveryShape) {
  for (const Request& want : EveryRequest()) {
    std::string wire;
    EncodeRequest(want, &wire);
    Decoder decoder;
    Decoded d = decoder.Next(wire);
    ASSERT_EQ(d.status, DecodeStatus::kRequest)
        << testing::Printable(wire) << " " << d.error.message;
    EXPECT_EQ(d.consumed, wire.size());
    const Request& got = d.request;
    EXPECT_EQ(got.shape, want.shape) << testing::Printable(wire);
    if (want.shape == Shape::kResp) {
      // RESP is framed only: the words, name first; the server looks the name up.
      EXPECT_EQ(got.command, Command::kRedis) << testing::Printable(wire);
      std::vector<std::string_view> words;
      const std::string_view name = CommandName(want.command);
      words.push_back(name.substr(0, name.find(' ')));
      if (want.command == Command::kConfigGet) words.push_back("GET");
      if (!want.args.empty()) {
        words.insert(words.end(), want.args.begin(), want.args.end());
      } else if (!want.key.empty()) {
        words.push_back(want.key);
      }
      if (want.has_value) words.push_back(want.value);
      EXPECT_EQ(std::vector<std::string_view>(got.argv.begin(), got.argv.end()), words)
          << testing::Printable(wire);
      continue;
    }
    EXPECT_EQ(got.command, want.command) << testing::Printable(wire);
    EXPECT_EQ(got.key, want.key) << testing::Printable(wire);
    EXPECT_EQ(got.value, want.value) << testing::Printable(wire);
    EXPECT_EQ(got.has_value, want.has_value) << testing::Printable(wire);
    if (!want.args.empty()) {
      ASSERT_EQ(got.args.size(), want.args.size());
      for (size_t i = 0; i < want.args.size(); ++i) EXPECT_EQ(got.args[i], want.args[i]);
    }
  }
}

}  // namespace
}  // namespace kvs::proto
