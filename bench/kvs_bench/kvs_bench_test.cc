// Tests of kvs-bench's exact parts: the latency histogram's buckets and percentiles, the
// client-side reply framing (RESP and JSON, whole and split) and the reply type each op
// expects, and the request templates (patched requests decode back to the right words).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "histogram.h"
#include "proto/decoder.h"
#include "reply_parser.h"
#include "workload.h"

namespace kvs::bench {
namespace {

TEST(LatencyHistogram, BucketsCoverEveryValueWithinOnePercent) {
  for (uint64_t v : {0ULL, 1ULL, 255ULL, 256ULL, 257ULL, 511ULL, 512ULL, 1000ULL, 123456789ULL,
                     (1ULL << 40) + 12345, ~0ULL}) {
    const size_t b = LatencyHistogram::BucketOf(v);
    ASSERT_LT(b, LatencyHistogram::kBuckets) << v;
    EXPECT_LE(LatencyHistogram::BucketLowest(b), v) << v;
    EXPECT_GE(LatencyHistogram::BucketHighest(b), v) << v;
    const double width =
        static_cast<double>(LatencyHistogram::BucketHighest(b) - LatencyHistogram::BucketLowest(b));
    EXPECT_LE(width, 0.01 * static_cast<double>(v)) << v;
  }
}

TEST(LatencyHistogram, BucketsAreContiguous) {
  for (size_t b = 1; b < LatencyHistogram::kBuckets; ++b) {
    ASSERT_EQ(LatencyHistogram::BucketLowest(b), LatencyHistogram::BucketHighest(b - 1) + 1) << b;
  }
}

TEST(LatencyHistogram, PercentilesOfAUniformSpread) {
  LatencyHistogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.Record(us * 1000);  // 1 µs .. 1 ms
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(50)), 500'000, 500'000 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(99)), 990'000, 990'000 * 0.01);
  EXPECT_EQ(h.ValueAtPercentile(100), 1'000'000u);
  EXPECT_NEAR(h.mean(), 500'500, 1);
}

TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.ValueAtPercentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(LatencyHistogram, AddAndSubtractGiveTheInterval) {
  LatencyHistogram a;
  a.Record(100);
  LatencyHistogram before = a;
  a.Record(5'000'000);
  a.Record(5'000'000);
  LatencyHistogram interval = a;
  interval.Subtract(before);
  EXPECT_EQ(interval.count(), 2u);
  EXPECT_NEAR(static_cast<double>(interval.ValueAtPercentile(50)), 5e6, 5e6 * 0.01);
  LatencyHistogram sum;
  sum.Add(before);
  sum.Add(interval);
  EXPECT_EQ(sum.count(), 3u);
}

// The result's views may point into the parser: keep one per protocol alive.
ParsedReply ParseOne(proto::Protocol p, std::string_view in) {
  static ReplyParser resp(proto::Protocol::kResp);
  static ReplyParser json(proto::Protocol::kJson);
  return (p == proto::Protocol::kResp ? resp : json).Next(in);
}

TEST(ReplyParser, RespKinds) {
  using P = proto::Protocol;
  EXPECT_EQ(ParseOne(P::kResp, "+OK\r\n").kind, ReplyKind::kOk);
  EXPECT_EQ(ParseOne(P::kResp, "+OK\r\n").consumed, 5u);
  EXPECT_EQ(ParseOne(P::kResp, "$3\r\nabc\r\n").kind, ReplyKind::kValue);
  EXPECT_EQ(ParseOne(P::kResp, "$3\r\nabc\r\n").consumed, 9u);
  EXPECT_EQ(ParseOne(P::kResp, "$-1\r\n").kind, ReplyKind::kNil);
  EXPECT_EQ(ParseOne(P::kResp, ":1\r\n").kind, ReplyKind::kInteger);
  EXPECT_EQ(ParseOne(P::kResp, ":-42\r\n").number, -42);
  ParsedReply e = ParseOne(P::kResp, "-ERR disk full\r\n");
  EXPECT_EQ(e.kind, ReplyKind::kError);
  EXPECT_EQ(e.error, "ERR disk full");
  EXPECT_EQ(ParseOne(P::kResp, "*2\r\n$1\r\na\r\n:5\r\n").consumed, 15u);
}

TEST(ReplyParser, RespArrayCountsElementsAndNils) {
  ParsedReply r = ParseOne(proto::Protocol::kResp, "*3\r\n$1\r\na\r\n$-1\r\n$0\r\n\r\n");
  EXPECT_EQ(r.kind, ReplyKind::kArray);
  EXPECT_EQ(r.number, 3);
  EXPECT_EQ(r.nils, 1);
  EXPECT_EQ(r.consumed, 22u);
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, "*0\r\n").kind, ReplyKind::kArray);
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, "*-1\r\n").kind, ReplyKind::kNil);
}

ParsedReply Resp(std::string_view in) { return ParseOne(proto::Protocol::kResp, in); }

TEST(WrongReplyFor, EachOpAcceptsItsOwnType) {
  EXPECT_EQ(WrongReplyFor(Op::kSet, Resp("+OK\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kGet, Resp("$1\r\nv\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kGet, Resp("$-1\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kIncr, Resp(":7\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kMget, Resp("*2\r\n$-1\r\n$1\r\nv\r\n"), 2), "");
  EXPECT_EQ(WrongReplyFor(Op::kMset, Resp("+OK\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kSetEx, Resp("+OK\r\n"), 10), "");
  EXPECT_EQ(WrongReplyFor(Op::kExpire, Resp(":1\r\n"), 10), "");
}

TEST(WrongReplyFor, SetExWantsOk) {
  EXPECT_EQ(WrongReplyFor(Op::kSetEx, Resp(":1\r\n"), 10),
            "set-ex answered with an integer (expected +OK)");
  EXPECT_NE(WrongReplyFor(Op::kSetEx, Resp("$-1\r\n"), 10), "");
}

// EXPIRE follows the INCR of its counter on the same connection: the key must exist.
TEST(WrongReplyFor, ExpireRightAfterIncrWantsOne) {
  EXPECT_EQ(WrongReplyFor(Op::kExpire, Resp(":0\r\n"), 10),
            "EXPIRE right after INCR of its counter answered :0 (expected :1)");
  EXPECT_NE(WrongReplyFor(Op::kExpire, Resp("+OK\r\n"), 10), "");
  EXPECT_NE(WrongReplyFor(Op::kExpire, Resp("$1\r\n1\r\n"), 10), "");
}

TEST(ReplyParser, RateLimiterPairSplitAnywhere) {
  // An INCR + EXPIRE pair's replies, then a session's SET EX and GET: framed in order,
  // whole or split at every byte.
  const std::string wire = ":41\r\n:1\r\n+OK\r\n$3\r\nabc\r\n";
  const std::vector<ReplyKind> kinds = {ReplyKind::kInteger, ReplyKind::kInteger, ReplyKind::kOk,
                                        ReplyKind::kValue};
  for (size_t split = 0; split <= wire.size(); ++split) {
    ReplyParser parser(proto::Protocol::kResp);
    std::string buffer = wire.substr(0, split);
    std::vector<ReplyKind> got;
    for (int round = 0; round < 2; ++round) {
      for (;;) {
        const ParsedReply r = parser.Next(buffer);
        ASSERT_NE(r.status, ParsedReply::Status::kProtocolError) << split;
        if (r.status == ParsedReply::Status::kNeedMore) break;
        got.push_back(r.kind);
        buffer.erase(0, r.consumed);
      }
      buffer += wire.substr(split);
    }
    EXPECT_EQ(got, kinds) << split;
  }
}

TEST(WrongReplyFor, OtherTypesAreWrong) {
  EXPECT_EQ(WrongReplyFor(Op::kIncr, Resp("+OK\r\n"), 10),
            "incr answered with +OK (expected an integer)");
  EXPECT_NE(WrongReplyFor(Op::kIncr, Resp("$1\r\n1\r\n"), 10), "");
  EXPECT_NE(WrongReplyFor(Op::kMset, Resp(":1\r\n"), 10), "");
  EXPECT_NE(WrongReplyFor(Op::kMget, Resp("$-1\r\n"), 10), "");
  EXPECT_NE(WrongReplyFor(Op::kSet, Resp(":1\r\n"), 10), "");
  EXPECT_NE(WrongReplyFor(Op::kGet, Resp("*0\r\n"), 10), "");
}

TEST(WrongReplyFor, MgetWantsOneElementPerKey) {
  EXPECT_EQ(WrongReplyFor(Op::kMget, Resp("*2\r\n$-1\r\n$-1\r\n"), 3),
            "MGET of 3 keys answered with an array of 2");
}

TEST(ReplyParser, RespBulkWithCrlfInsideIsFramedByLength) {
  ParsedReply r = ParseOne(proto::Protocol::kResp, "$4\r\n\r\n\r\n\r\n+OK\r\n");
  EXPECT_EQ(r.status, ParsedReply::Status::kReply);
  EXPECT_EQ(r.consumed, 10u);
}

TEST(ReplyParser, RespEveryPrefixNeedsMore) {
  const std::string full = "$10\r\n0123456789\r\n";
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(ParseOne(proto::Protocol::kResp, full.substr(0, n)).status,
              ParsedReply::Status::kNeedMore)
        << n;
  }
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, full).status, ParsedReply::Status::kReply);
}

TEST(ReplyParser, RespGarbageIsAProtocolError) {
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, "{\"ok\":true}\n").status,
            ParsedReply::Status::kProtocolError);
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, "$x\r\n").status, ParsedReply::Status::kProtocolError);
  EXPECT_EQ(ParseOne(proto::Protocol::kResp, "$1\r\nabc\r\n").status,
            ParsedReply::Status::kProtocolError);
}

TEST(ReplyParser, JsonKinds) {
  using P = proto::Protocol;
  EXPECT_EQ(ParseOne(P::kJson, "{\"ok\":true}\n").kind, ReplyKind::kOk);
  EXPECT_EQ(ParseOne(P::kJson, "{\"ok\":true,\"value\":\"v\"}\n").kind, ReplyKind::kValue);
  EXPECT_EQ(ParseOne(P::kJson, "{\"ok\":true,\"value\":null}\n").kind, ReplyKind::kNil);
  ParsedReply e = ParseOne(P::kJson, "{\"ok\":false,\"error\":\"Key not found\"}\n");
  EXPECT_EQ(e.kind, ReplyKind::kError);
  EXPECT_EQ(e.error, "Key not found");
  EXPECT_EQ(ParseOne(P::kJson, "{\"ok\":true}\n{\"ok\":true}\n").consumed, 12u);
  EXPECT_EQ(ParseOne(P::kJson, "{\"ok\":true}").status, ParsedReply::Status::kNeedMore);
}

TEST(ReplyParser, JsonOtherSpellingsTakeTheSlowPath) {
  using P = proto::Protocol;
  EXPECT_EQ(ParseOne(P::kJson, "{ \"value\" : null, \"ok\" : true }\r\n").kind, ReplyKind::kNil);
  EXPECT_EQ(ParseOne(P::kJson, "{\"Ok\":\"v\"}\n").kind, ReplyKind::kValue);
  ParsedReply e = ParseOne(P::kJson, "{\"error\":\"x\\ny\",\"ok\":false}\n");
  EXPECT_EQ(e.kind, ReplyKind::kError);
  EXPECT_EQ(e.error, "x\ny");
  EXPECT_EQ(ParseOne(P::kJson, "+OK\n").status, ParsedReply::Status::kProtocolError);
  EXPECT_EQ(ParseOne(P::kJson, "{\"value\":1}\n").status, ParsedReply::Status::kProtocolError);
}

TEST(Workload, KeyNamesAreZeroPadded) {
  EXPECT_EQ(KeyName(0), "key:0000000000");
  EXPECT_EQ(KeyName(42), "key:0000000042");
  EXPECT_EQ(KeyName(kMaxKeyspace - 1), "key:9999999999");
}

void ExpectRoundTrip(proto::Protocol protocol, size_t value_size) {
  RequestTemplates t(protocol, value_size, 7);
  Rng rng(1);
  std::string wire;
  t.AppendSet(1234567, rng, &wire);
  t.AppendGet(42, &wire);
  proto::Decoder decoder(protocol);
  // RESP comes out as words (the server looks the name up); JSON as its operation.
  const bool resp = protocol == proto::Protocol::kResp;
  auto key = [resp](const proto::Request& r) { return resp ? r.argv[1] : r.key; };
  proto::Decoded d = decoder.Next(wire);
  ASSERT_EQ(d.status, proto::DecodeStatus::kRequest) << d.error.message;
  if (resp) {
    ASSERT_EQ(d.request.argv.size(), 3u);
    EXPECT_EQ(d.request.argv[0], "SET");
    EXPECT_EQ(d.request.argv[2].size(), value_size);
  } else {
    EXPECT_EQ(d.request.command, proto::Command::kSet);
    EXPECT_EQ(d.request.value.size(), value_size);
  }
  EXPECT_EQ(key(d.request), "key:0001234567");
  wire.erase(0, d.consumed);
  d = decoder.Next(wire);
  ASSERT_EQ(d.status, proto::DecodeStatus::kRequest) << d.error.message;
  if (resp) {
    ASSERT_EQ(d.request.argv.size(), 2u);
    EXPECT_EQ(d.request.argv[0], "GET");
  } else {
    EXPECT_EQ(d.request.command, proto::Command::kGet);
  }
  EXPECT_EQ(key(d.request), "key:0000000042");
  EXPECT_EQ(d.consumed, wire.size());
}

TEST(Workload, RespRequestsDecode) { ExpectRoundTrip(proto::Protocol::kResp, 100); }
TEST(Workload, JsonRequestsDecode) { ExpectRoundTrip(proto::Protocol::kJson, 100); }
TEST(Workload, EmptyValuesDecode) {
  ExpectRoundTrip(proto::Protocol::kResp, 0);
  ExpectRoundTrip(proto::Protocol::kJson, 0);
}

// Decodes the one RESP request in `wire` (whole: nothing may be left) into its words.
std::vector<std::string> DecodeWords(std::string_view wire) {
  proto::Decoder decoder(proto::Protocol::kResp);
  proto::Decoded d = decoder.Next(wire);
  EXPECT_EQ(d.status, proto::DecodeStatus::kRequest) << d.error.message;
  EXPECT_EQ(d.request.command, proto::Command::kRedis);
  EXPECT_EQ(d.consumed, wire.size());
  return {d.request.argv.begin(), d.request.argv.end()};
}

TEST(Workload, CounterNamesAreApartFromKeys) {
  EXPECT_EQ(CounterName(42), "ctr:0000000042");
  EXPECT_NE(CounterName(42), KeyName(42));
}

TEST(Workload, IncrDecodesToItsCounter) {
  RequestTemplates t(proto::Protocol::kResp, 100, 7);
  std::string wire;
  t.AppendIncr(1234567, &wire);
  EXPECT_EQ(wire.size(), t.incr_template().size());
  EXPECT_EQ(DecodeWords(wire), (std::vector<std::string>{"INCR", "ctr:0001234567"}));
}

TEST(Workload, MgetDecodesToMultiKeysKeysOfTheKeyspace) {
  for (size_t n : {size_t{1}, size_t{3}, kDefaultMultiKeys}) {
    RequestTemplates t(proto::Protocol::kResp, 100, 7, n);
    Rng rng(5);
    std::string wire;
    t.AppendMget(1000, rng, &wire);
    const std::vector<std::string> words = DecodeWords(wire);
    ASSERT_EQ(words.size(), n + 1);
    EXPECT_EQ(words[0], "MGET");
    for (size_t i = 1; i <= n; ++i) {
      EXPECT_EQ(words[i].substr(0, 7), "key:000") << words[i];  // below 1000
      EXPECT_EQ(words[i].size(), kKeyPrefix.size() + kKeyDigits);
    }
  }
}

TEST(Workload, MgetOfOneKeySpaceRepeatsTheKey) {
  RequestTemplates t(proto::Protocol::kResp, 0, 7, 4);
  Rng rng(5);
  std::string wire;
  t.AppendMget(1, rng, &wire);
  EXPECT_EQ(DecodeWords(wire), (std::vector<std::string>{"MGET", "key:0000000000", "key:0000000000",
                                                         "key:0000000000", "key:0000000000"}));
}

void ExpectMsetDecodes(size_t value_size, size_t n) {
  RequestTemplates t(proto::Protocol::kResp, value_size, 7, n);
  Rng rng(5);
  std::string wire;
  t.AppendMset(100000, rng, &wire);
  t.AppendMset(100000, rng, &wire);
  EXPECT_EQ(wire.size(), 2 * t.mset_template().size());
  std::string_view rest = wire;
  proto::Decoder decoder(proto::Protocol::kResp);
  std::vector<std::string> values;
  for (int request = 0; request < 2; ++request) {
    proto::Decoded d = decoder.Next(rest);
    ASSERT_EQ(d.status, proto::DecodeStatus::kRequest) << d.error.message;
    ASSERT_EQ(d.request.argv.size(), 2 * n + 1);
    EXPECT_EQ(d.request.argv[0], "MSET");
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(d.request.argv[1 + 2 * i].substr(0, kKeyPrefix.size()), kKeyPrefix);
      EXPECT_EQ(d.request.argv[2 + 2 * i].size(), value_size);
      values.emplace_back(d.request.argv[2 + 2 * i]);
    }
    rest.remove_prefix(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
  // The values are cut from the random pool, not the template's placeholder.
  if (value_size > 0) {
    EXPECT_NE(values[0], std::string(value_size, 'v'));
  }
}

TEST(Workload, MsetDecodesToKeyValuePairs) {
  ExpectMsetDecodes(100, kDefaultMultiKeys);
  ExpectMsetDecodes(100, 1);
  ExpectMsetDecodes(0, 3);
  ExpectMsetDecodes(4096, 2);
}

void ExpectSetExDecodes(size_t value_size, uint64_t ttl_s) {
  RequestTemplates t(proto::Protocol::kResp, value_size, 7, kDefaultMultiKeys, ttl_s);
  Rng rng(5);
  std::string wire;
  t.AppendSetEx(1234567, rng, &wire);
  EXPECT_EQ(wire.size(), t.set_ex_template().size());
  const std::vector<std::string> words = DecodeWords(wire);
  ASSERT_EQ(words.size(), 5u);
  EXPECT_EQ(words[0], "SET");
  EXPECT_EQ(words[1], "key:0001234567");
  EXPECT_EQ(words[2].size(), value_size);
  // The value is cut from the random pool, not the template's placeholder.
  if (value_size > 0) {
    EXPECT_NE(words[2], std::string(value_size, 'v'));
  }
  EXPECT_EQ(words[3], "EX");
  EXPECT_EQ(words[4], std::to_string(ttl_s));
}

TEST(Workload, SetExDecodesToSetWithTtl) {
  ExpectSetExDecodes(100, kDefaultTtlSeconds);
  ExpectSetExDecodes(0, 60);
  ExpectSetExDecodes(4096, 1);
  ExpectSetExDecodes(7, 86400);
}

TEST(Workload, SetExRequestsFollowOneAnother) {
  RequestTemplates t(proto::Protocol::kResp, 100, 7);
  Rng rng(5);
  std::string wire;
  t.AppendSetEx(1, rng, &wire);
  t.AppendGet(2, &wire);
  t.AppendSetEx(3, rng, &wire);
  proto::Decoder decoder(proto::Protocol::kResp);
  std::string_view rest = wire;
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    proto::Decoded d = decoder.Next(rest);
    ASSERT_EQ(d.status, proto::DecodeStatus::kRequest) << d.error.message;
    keys.emplace_back(d.request.argv[1]);
    rest.remove_prefix(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(keys, (std::vector<std::string>{KeyName(1), KeyName(2), KeyName(3)}));
}

TEST(Workload, ExpireDecodesToItsCounter) {
  RequestTemplates t(proto::Protocol::kResp, 100, 7);
  std::string wire;
  t.AppendExpire(1234567, &wire);
  EXPECT_EQ(wire.size(), t.expire_template().size());
  EXPECT_EQ(DecodeWords(wire), (std::vector<std::string>{"EXPIRE", "ctr:0001234567", "60"}));
  RequestTemplates other_ttl(proto::Protocol::kResp, 100, 7, kDefaultMultiKeys, 5);
  wire.clear();
  other_ttl.AppendExpire(9, &wire);
  EXPECT_EQ(DecodeWords(wire), (std::vector<std::string>{"EXPIRE", "ctr:0000000009", "5"}));
}

TEST(Workload, ExpiryRequestsAreRespOnly) {
  EXPECT_TRUE(IsRespOnly(Op::kSetEx));
  EXPECT_TRUE(IsRespOnly(Op::kExpire));
  EXPECT_FALSE(IsRespOnly(Op::kSet));
  EXPECT_FALSE(IsRespOnly(Op::kGet));
  EXPECT_EQ(OpName(Op::kSetEx), "set-ex");
  EXPECT_EQ(OpName(Op::kExpire), "expire");
}

TEST(Workload, JsonHasNoRespOnlyTemplates) {
  RequestTemplates t(proto::Protocol::kJson, 100, 7);
  EXPECT_TRUE(t.set_ex_template().empty());
  EXPECT_TRUE(t.expire_template().empty());
  EXPECT_TRUE(t.incr_template().empty());
  EXPECT_TRUE(t.mget_template().empty());
  EXPECT_TRUE(t.mset_template().empty());
}

TEST(Workload, JsonValuesNeedNoEscaping) {
  RequestTemplates t(proto::Protocol::kJson, 4000, 3);
  Rng rng(9);
  std::string wire;
  t.AppendSet(1, rng, &wire);
  EXPECT_EQ(wire.size(), t.set_template().size());
  const size_t value_at = wire.find("\"value\":\"") + 9;
  for (size_t i = value_at; i < wire.size() - 3; ++i) {
    ASSERT_TRUE(wire[i] >= 0x20 && wire[i] < 0x7f && wire[i] != '"' && wire[i] != '\\') << i;
  }
}

TEST(Workload, ChooserFollowsTheRatio) {
  KeyChooser only_sets(1, 1, 0, 10);
  KeyChooser mixed(1, 1, 3, 10);
  int sets = 0;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(only_sets.NextOp(), Op::kSet);
    if (mixed.NextOp() == Op::kSet) ++sets;
    EXPECT_LT(mixed.NextKey(), 10u);
  }
  EXPECT_NEAR(sets, 2500, 200);
}

TEST(Workload, ChooserWithOneOpSendsOnlyThat) {
  KeyChooser incrs(1, 0, 0, 1, Op::kIncr);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(incrs.NextOp(), Op::kIncr);
    EXPECT_EQ(incrs.NextKey(), 0u);
  }
}

}  // namespace
}  // namespace kvs::bench
