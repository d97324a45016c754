// ReplyWriter in all four encodings. The RESP bytes are what Debian's redis-server 7.0.15
// sent for the same reply type, observed over a raw socket (RESP3 after HELLO 3) with
// DEBUG PROTOCOL (enable-debug-command yes), ZSCORE, HGETALL, SMEMBERS, BLPOP, EXEC and
// EVAL; each expectation names its observation ("redis: ..."). The rest follows Redis 7.0
// src/networking.c (addReplyDouble, addReplyVerbatim, addReplyNullArray...).
#include "proto/reply_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "proto/proto_test_util.h"
#include "proto/reply.h"
#include "proto/request.h"

namespace kvs::proto {
namespace {

using namespace std::string_literals;
using testing::Printable;

using Calls = std::function<void(ReplyWriter&)>;

// Writes one reply after `prefix` (bytes of earlier replies in the same buffer) and checks
// the writer says it is complete and left the prefix alone.
std::string Write(Shape shape, RespVersion version, const Calls& calls,
                  const std::string& prefix = "") {
  std::string out = prefix;
  {
    ReplyWriter w(shape, version, &out);
    EXPECT_FALSE(w.done());
    calls(w);
    EXPECT_TRUE(w.done());
  }
  EXPECT_EQ(out.compare(0, prefix.size(), prefix), 0) << "earlier replies were changed";
  return out.substr(prefix.size());
}

std::string Resp2(const Calls& calls) { return Write(Shape::kResp, RespVersion::k2, calls); }
std::string Resp3(const Calls& calls) { return Write(Shape::kResp, RespVersion::k3, calls); }

// JSON replies must also be one line of valid JSON.
std::string JsonIn(Shape shape, const Calls& calls) {
  // The version is ignored by JSON; write under both to be sure.
  std::string out = Write(shape, RespVersion::k2, calls);
  EXPECT_EQ(Write(shape, RespVersion::k3, calls), out);
  EXPECT_TRUE(!out.empty() && out.back() == '\n' && out.find('\n') == out.size() - 1)
      << Printable(out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(simdjson::padded_string(out)).get(doc), simdjson::SUCCESS)
      << Printable(out);
  return out;
}
std::string Json(const Calls& calls) { return JsonIn(Shape::kJson, calls); }
std::string Legacy(const Calls& calls) { return JsonIn(Shape::kJsonLegacy, calls); }

// ----- Scalars -----

TEST(ReplyWriterTest, Ok) {
  const Calls c = [](ReplyWriter& w) { w.Ok(); };
  EXPECT_EQ(Resp2(c), "+OK\r\n");  // redis: SET k v
  EXPECT_EQ(Resp3(c), "+OK\r\n");  // redis: SET k v after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"OK"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":"OK"})"s + "\n");
}

TEST(ReplyWriterTest, Simple) {
  const Calls c = [](ReplyWriter& w) { w.Simple("PONG"); };
  EXPECT_EQ(Resp2(c), "+PONG\r\n");  // redis: PING
  EXPECT_EQ(Resp3(c), "+PONG\r\n");  // redis: PING after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"PONG"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":"PONG"})"s + "\n");
}

TEST(ReplyWriterTest, SimpleCrLfBecomeSpaces) {
  const Calls c = [](ReplyWriter& w) { w.Simple("a\r\nb\nc\rd"); };
  // redis: EVAL "return redis.status_reply('a\r\nb')" 0 → +a  b (both protocols)
  EXPECT_EQ(Resp2(c), "+a  b c d\r\n");
  EXPECT_EQ(Resp3(c), "+a  b c d\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"a  b c d"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":"a  b c d"})"s + "\n");
}

TEST(ReplyWriterTest, SimpleKeepsOtherEscapes) {
  const Calls c = [](ReplyWriter& w) { w.Simple("q\"\\\t\n"); };
  EXPECT_EQ(Resp2(c), "+q\"\\\t \r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"q\"\\\t "})"s + "\n");
}

TEST(ReplyWriterTest, TopLevelError) {
  const Calls c = [](ReplyWriter& w) { w.Error("ERR value is not an integer or out of range"); };
  // redis: INCR k (k holds "v"), both protocols
  EXPECT_EQ(Resp2(c), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Resp3(c), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Json(c),
            R"({"ok":false,"error":"ERR value is not an integer or out of range"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Err":"ERR value is not an integer or out of range"})"s + "\n");
}

TEST(ReplyWriterTest, ErrorCrLfBecomeSpaces) {
  const Calls c = [](ReplyWriter& w) { w.Error("ERR boom\r\nx"); };
  // redis: EVAL "return {err='ERR boom\r\nx'}" → -ERR boom  x
  EXPECT_EQ(Resp2(c), "-ERR boom  x\r\n");
  EXPECT_EQ(Resp3(c), "-ERR boom  x\r\n");
  EXPECT_EQ(Json(c), R"({"ok":false,"error":"ERR boom  x"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Err":"ERR boom  x"})"s + "\n");
}

TEST(ReplyWriterTest, ErrorNotUtf8QuotesAsQuestionMarks) {
  // Error text quotes client bytes ("unknown command '\xff'"): like reply.cc's EncodeError,
  // JSON replaces them rather than failing the reply; RESP carries them as they are.
  const Calls c = [](ReplyWriter& w) { w.Error("ERR unknown command '\xff\xfe'"); };
  EXPECT_EQ(Resp2(c), "-ERR unknown command '\xff\xfe'\r\n");
  EXPECT_EQ(Json(c), R"({"ok":false,"error":"ERR unknown command '??'"})"s + "\n");
  const Calls nested = [](ReplyWriter& w) {
    w.Array(1);
    w.Error("ERR \xc3\r\n");
  };
  EXPECT_EQ(Json(nested), R"({"ok":true,"value":[{"error":"ERR ?  "}]})"s + "\n");
}

TEST(ReplyWriterTest, SimpleNotUtf8QuotesAsQuestionMarks) {
  const Calls c = [](ReplyWriter& w) { w.Simple("a\x80z\xe2\x82\xac"); };
  EXPECT_EQ(Resp3(c), "+a\x80z\xe2\x82\xac\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"a?z???"})"s + "\n");
  const Calls euro = [](ReplyWriter& w) { w.Simple("\xe2\x82\xac"); };  // valid: kept
  EXPECT_EQ(Json(euro), "{\"ok\":true,\"value\":\"\xe2\x82\xac\"}\n");
}

TEST(ReplyWriterTest, Integer) {
  const Calls c = [](ReplyWriter& w) { w.Integer(7); };
  EXPECT_EQ(Resp2(c), ":7\r\n");  // redis: ZADD z ... (7 members)
  EXPECT_EQ(Resp3(c), ":7\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":7})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":7})"s + "\n");
}

TEST(ReplyWriterTest, IntegerLimits) {
  const Calls lo = [](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::min()); };
  const Calls hi = [](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::max()); };
  const Calls zero = [](ReplyWriter& w) { w.Integer(0); };
  EXPECT_EQ(Resp2(lo), ":-9223372036854775808\r\n");
  EXPECT_EQ(Resp3(hi), ":9223372036854775807\r\n");
  EXPECT_EQ(Json(lo), R"({"ok":true,"value":-9223372036854775808})"s + "\n");
  EXPECT_EQ(Legacy(zero), R"({"Ok":0})"s + "\n");
}

TEST(ReplyWriterTest, Bulk) {
  const Calls c = [](ReplyWriter& w) { w.Bulk("v"); };
  EXPECT_EQ(Resp2(c), "$1\r\nv\r\n");
  EXPECT_EQ(Resp3(c), "$1\r\nv\r\n");  // redis: bulk strings are unchanged in RESP3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"v"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":"v"})"s + "\n");
}

TEST(ReplyWriterTest, BulkEmpty) {
  const Calls c = [](ReplyWriter& w) { w.Bulk(""); };
  EXPECT_EQ(Resp2(c), "$0\r\n\r\n");  // redis: CONFIG GET save → ... $0\r\n\r\n
  EXPECT_EQ(Resp3(c), "$0\r\n\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":""})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":""})"s + "\n");
}

TEST(ReplyWriterTest, BulkIsBinarySafeInRespAndEscapedInJson) {
  const Calls c = [](ReplyWriter& w) { w.Bulk("a\r\n\0\"\\"s); };
  EXPECT_EQ(Resp2(c), "$6\r\na\r\n\0\"\\\r\n"s);
  EXPECT_EQ(Resp3(c), "$6\r\na\r\n\0\"\\\r\n"s);
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"a\r\n\u0000\"\\"})"s + "\n");
}

TEST(ReplyWriterTest, Null) {
  const Calls c = [](ReplyWriter& w) { w.Null(); };
  EXPECT_EQ(Resp2(c), "$-1\r\n");  // redis: GET nokey
  EXPECT_EQ(Resp3(c), "_\r\n");    // redis: GET nokey after HELLO 3; DEBUG PROTOCOL null
  EXPECT_EQ(Json(c), R"({"ok":true,"value":null})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":null})"s + "\n");
}

TEST(ReplyWriterTest, NullArray) {
  const Calls c = [](ReplyWriter& w) { w.NullArray(); };
  EXPECT_EQ(Resp2(c), "*-1\r\n");  // redis: BLPOP nolist 0.01 (timed out)
  EXPECT_EQ(Resp3(c), "_\r\n");    // redis: the same after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":null})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":null})"s + "\n");
}

TEST(ReplyWriterTest, Bool) {
  const Calls t = [](ReplyWriter& w) { w.Bool(true); };
  const Calls f = [](ReplyWriter& w) { w.Bool(false); };
  EXPECT_EQ(Resp2(t), ":1\r\n");  // redis: DEBUG PROTOCOL true
  EXPECT_EQ(Resp2(f), ":0\r\n");  // redis: DEBUG PROTOCOL false
  EXPECT_EQ(Resp3(t), "#t\r\n");  // redis: DEBUG PROTOCOL true after HELLO 3
  EXPECT_EQ(Resp3(f), "#f\r\n");  // redis: DEBUG PROTOCOL false after HELLO 3
  EXPECT_EQ(Json(t), R"({"ok":true,"value":true})"s + "\n");
  EXPECT_EQ(Json(f), R"({"ok":true,"value":false})"s + "\n");
  EXPECT_EQ(Legacy(t), R"({"Ok":true})"s + "\n");
  EXPECT_EQ(Legacy(f), R"({"Ok":false})"s + "\n");
}

// ----- Doubles -----

std::string DoubleIn(Shape shape, RespVersion version, double d) {
  return Write(shape, version, [d](ReplyWriter& w) { w.Double(d); });
}

TEST(ReplyWriterTest, DoubleAsRedisPrintsIt) {
  struct Case {
    double d;
    const char* resp2;
    const char* resp3;
    const char* json;
  };
  // redis: ZADD z 0.1 a inf b -inf c 1.5 d 1e300 e 3 g; ZSCORE z <m>; ZINCRBY z 1e-5 g;
  // DEBUG PROTOCOL double.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {0.1, "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n", "0.10000000000000001"},
      {1.5, "$3\r\n1.5\r\n", ",1.5\r\n", "1.5"},
      {3, "$1\r\n3\r\n", ",3\r\n", "3"},
      {3.141, "$5\r\n3.141\r\n", ",3.141\r\n", "3.141"},
      {1e300, "$23\r\n1.0000000000000001e+300\r\n", ",1.0000000000000001e+300\r\n",
       "1.0000000000000001e+300"},
      {3.00001, "$18\r\n3.0000100000000001\r\n", ",3.0000100000000001\r\n", "3.0000100000000001"},
      {0, "$1\r\n0\r\n", ",0\r\n", "0"},
      // Not observable through ZSCORE (Redis stores -0 as 0); %.17g of -0.0.
      {-0.0, "$2\r\n-0\r\n", ",-0\r\n", "-0"},
      // redis: ZADD z -2.5e-7 h 0.0001 i 123456789012345678 j -0.25 k; ZSCORE after HELLO 3.
      {-2.5e-7, "$23\r\n-2.4999999999999999e-07\r\n", ",-2.4999999999999999e-07\r\n",
       "-2.4999999999999999e-07"},
      {0.0001, "$6\r\n0.0001\r\n", ",0.0001\r\n", "0.0001"},
      {123456789012345678.0, "$22\r\n1.2345678901234568e+17\r\n", ",1.2345678901234568e+17\r\n",
       "1.2345678901234568e+17"},
      {-0.25, "$5\r\n-0.25\r\n", ",-0.25\r\n", "-0.25"},
      // addReplyDouble spells infinities itself; redis: ZSCORE of the inf / -inf members.
      {kInf, "$3\r\ninf\r\n", ",inf\r\n", R"("inf")"},
      {-kInf, "$4\r\n-inf\r\n", ",-inf\r\n", R"("-inf")"},
      // Not observable (Redis refuses NaN scores); snprintf %.17g, JSON a string.
      {std::numeric_limits<double>::quiet_NaN(), "$3\r\nnan\r\n", ",nan\r\n", R"("nan")"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.resp3);
    EXPECT_EQ(DoubleIn(Shape::kResp, RespVersion::k2, c.d), c.resp2);
    EXPECT_EQ(DoubleIn(Shape::kResp, RespVersion::k3, c.d), c.resp3);
    EXPECT_EQ(DoubleIn(Shape::kJson, RespVersion::k3, c.d),
              R"({"ok":true,"value":)"s + c.json + "}\n");
    EXPECT_EQ(DoubleIn(Shape::kJsonLegacy, RespVersion::k3, c.d), R"({"Ok":)"s + c.json + "}\n");
  }
}

TEST(ReplyWriterTest, DoubleMatchesSnprintfLikeRedis) {
  // Redis 7.0 formats with snprintf("%.17g"); we format with fmt. Same bytes for any
  // finite double, any NaN sign included.
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> small(-1e6, 1e6);
  std::vector<double> values = {std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::lowest(),
                                std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::epsilon(),
                                -std::numeric_limits<double>::quiet_NaN(),
                                1e16,
                                1e17,
                                123456789012345678.0,
                                1e-5,
                                0.0001,
                                0.5};
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isinf(d)) {
      values.push_back(d);
    }
    values.push_back(small(rng));
    values.push_back(std::round(small(rng)));
  }
  for (double d : values) {
    char expected[64];
    std::snprintf(expected, sizeof expected, ",%.17g\r\n", d);
    ASSERT_EQ(DoubleIn(Shape::kResp, RespVersion::k3, d), expected);
  }
}

TEST(ReplyWriterTest, DoubleJsonIsANumber) {
  simdjson::dom::parser parser;
  for (double d : {0.1, -1e-300, 1.7976931348623157e308, 42.0}) {
    const std::string out = DoubleIn(Shape::kJson, RespVersion::k2, d);
    double parsed = 0;
    ASSERT_EQ(parser.parse(simdjson::padded_string(out))["value"].get_double().get(parsed),
              simdjson::SUCCESS)
        << out;
    EXPECT_EQ(parsed, d);
  }
}

// ----- Verbatim -----

TEST(ReplyWriterTest, Verbatim) {
  const Calls c = [](ReplyWriter& w) { w.Verbatim("This is a verbatim\nstring"); };
  EXPECT_EQ(Resp2(c), "$25\r\nThis is a verbatim\nstring\r\n");  // redis: DEBUG PROTOCOL verbatim
  EXPECT_EQ(Resp3(c), "=29\r\ntxt:This is a verbatim\nstring\r\n");  // redis: same, HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":"This is a verbatim\nstring"})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":"This is a verbatim\nstring"})"s + "\n");
}

TEST(ReplyWriterTest, VerbatimEmpty) {
  const Calls c = [](ReplyWriter& w) { w.Verbatim(""); };
  EXPECT_EQ(Resp2(c), "$0\r\n\r\n");
  EXPECT_EQ(Resp3(c), "=4\r\ntxt:\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":""})"s + "\n");
}

// ----- Aggregates -----

TEST(ReplyWriterTest, Array) {
  const Calls c = [](ReplyWriter& w) {
    w.Array(3);
    w.Integer(0);
    w.Integer(1);
    w.Integer(2);
  };
  EXPECT_EQ(Resp2(c), "*3\r\n:0\r\n:1\r\n:2\r\n");  // redis: DEBUG PROTOCOL array
  EXPECT_EQ(Resp3(c), "*3\r\n:0\r\n:1\r\n:2\r\n");  // redis: same, HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[0,1,2]})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":[0,1,2]})"s + "\n");
}

TEST(ReplyWriterTest, ArrayWithBulkAndNull) {
  const Calls c = [](ReplyWriter& w) {
    w.Array(2);
    w.Bulk("a");
    w.Null();
  };
  EXPECT_EQ(Resp2(c), "*2\r\n$1\r\na\r\n$-1\r\n");
  EXPECT_EQ(Resp3(c), "*2\r\n$1\r\na\r\n_\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":["a",null]})"s + "\n");
}

TEST(ReplyWriterTest, EmptyArray) {
  const Calls c = [](ReplyWriter& w) { w.Array(0); };
  EXPECT_EQ(Resp2(c), "*0\r\n");  // redis: LRANGE nolist 0 -1
  EXPECT_EQ(Resp3(c), "*0\r\n");  // redis: same, HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[]})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":[]})"s + "\n");
}

TEST(ReplyWriterTest, Set) {
  const Calls c = [](ReplyWriter& w) {
    w.Set(3);
    w.Integer(0);
    w.Integer(1);
    w.Integer(2);
  };
  EXPECT_EQ(Resp2(c), "*3\r\n:0\r\n:1\r\n:2\r\n");  // redis: DEBUG PROTOCOL set
  EXPECT_EQ(Resp3(c), "~3\r\n:0\r\n:1\r\n:2\r\n");  // redis: same, HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[0,1,2]})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":[0,1,2]})"s + "\n");
}

TEST(ReplyWriterTest, EmptySet) {
  const Calls c = [](ReplyWriter& w) { w.Set(0); };
  EXPECT_EQ(Resp2(c), "*0\r\n");  // redis: SMEMBERS nos
  EXPECT_EQ(Resp3(c), "~0\r\n");  // redis: SMEMBERS nos after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[]})"s + "\n");
}

TEST(ReplyWriterTest, Map) {
  const Calls c = [](ReplyWriter& w) {
    w.Map(1);
    w.Bulk("f");
    w.Bulk("v");
  };
  EXPECT_EQ(Resp2(c), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");  // redis: HGETALL h
  EXPECT_EQ(Resp3(c), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");  // redis: HGETALL h after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":{"f":"v"}})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":{"f":"v"}})"s + "\n");
}

TEST(ReplyWriterTest, MapOfSeveralWithSimpleAndOkKeys) {
  const Calls c = [](ReplyWriter& w) {
    w.Map(3);
    w.Bulk("server");
    w.Bulk("redis");
    w.Simple("proto");
    w.Integer(3);
    w.Ok();
    w.Bool(false);
  };
  EXPECT_EQ(Resp2(c), "*6\r\n$6\r\nserver\r\n$5\r\nredis\r\n+proto\r\n:3\r\n+OK\r\n:0\r\n");
  EXPECT_EQ(Resp3(c), "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n+proto\r\n:3\r\n+OK\r\n#f\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":{"server":"redis","proto":3,"OK":false}})"s + "\n");
}

TEST(ReplyWriterTest, EmptyMap) {
  const Calls c = [](ReplyWriter& w) { w.Map(0); };
  EXPECT_EQ(Resp2(c), "*0\r\n");  // redis: HGETALL nohash
  EXPECT_EQ(Resp3(c), "%0\r\n");  // redis: HGETALL nohash after HELLO 3
  EXPECT_EQ(Json(c), R"({"ok":true,"value":{}})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":{}})"s + "\n");
}

TEST(ReplyWriterTest, MapKeyIsJsonEscaped) {
  const Calls c = [](ReplyWriter& w) {
    w.Map(1);
    w.Bulk("a\"b");
    w.Null();
  };
  EXPECT_EQ(Json(c), R"({"ok":true,"value":{"a\"b":null}})"s + "\n");
}

// ----- Nesting -----

TEST(ReplyWriterTest, ArrayOfMaps) {
  const Calls c = [](ReplyWriter& w) {
    w.Array(3);
    w.Map(2);
    w.Bulk("id");
    w.Integer(1);
    w.Bulk("tags");
    w.Set(2);
    w.Bulk("x");
    w.Bulk("y");
    w.Map(0);
    w.Map(1);
    w.Bulk("score");
    w.Double(1.5);
  };
  EXPECT_EQ(Resp2(c),
            "*3\r\n"
            "*4\r\n$2\r\nid\r\n:1\r\n$4\r\ntags\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
            "*0\r\n"
            "*2\r\n$5\r\nscore\r\n$3\r\n1.5\r\n");
  EXPECT_EQ(Resp3(c),
            "*3\r\n"
            "%2\r\n$2\r\nid\r\n:1\r\n$4\r\ntags\r\n~2\r\n$1\r\nx\r\n$1\r\ny\r\n"
            "%0\r\n"
            "%1\r\n$5\r\nscore\r\n,1.5\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[{"id":1,"tags":["x","y"]},{},{"score":1.5}]})"s + "\n");
  EXPECT_EQ(Legacy(c), R"({"Ok":[{"id":1,"tags":["x","y"]},{},{"score":1.5}]})"s + "\n");
}

TEST(ReplyWriterTest, ExecLikeArrayWithAnError) {
  const Calls c = [](ReplyWriter& w) {
    w.Array(2);
    w.Ok();
    w.Error("ERR value is not an integer or out of range");
  };
  // redis: MULTI; SET a 1; INCR k (k holds "v"); EXEC — both protocols
  EXPECT_EQ(Resp2(c), "*2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Resp3(c), "*2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(
      Json(c),
      R"({"ok":true,"value":["OK",{"error":"ERR value is not an integer or out of range"}]})"s +
          "\n");
  EXPECT_EQ(Legacy(c),
            R"({"Ok":["OK",{"error":"ERR value is not an integer or out of range"}]})"s + "\n");
}

TEST(ReplyWriterTest, ErrorAsMapValue) {
  const Calls c = [](ReplyWriter& w) {
    w.Map(1);
    w.Bulk("k");
    w.Error("WRONGTYPE Operation against a key holding the wrong kind of value");
  };
  EXPECT_EQ(
      Json(c),
      R"({"ok":true,"value":{"k":{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}}})"s +
          "\n");
}

TEST(ReplyWriterTest, EmptyAggregatesInsideAggregates) {
  const Calls c = [](ReplyWriter& w) {
    w.Array(4);
    w.Array(0);
    w.Set(0);
    w.Map(0);
    w.Array(1);
    w.Array(0);
  };
  EXPECT_EQ(Resp2(c), "*4\r\n*0\r\n*0\r\n*0\r\n*1\r\n*0\r\n");
  EXPECT_EQ(Resp3(c), "*4\r\n*0\r\n~0\r\n%0\r\n*1\r\n*0\r\n");
  EXPECT_EQ(Json(c), R"({"ok":true,"value":[[],[],{},[[]]]})"s + "\n");
}

TEST(ReplyWriterTest, DeepNestingBeyondTheInlineLevels) {
  constexpr int kDepth = 40;
  const Calls c = [](ReplyWriter& w) {
    for (int i = 0; i < kDepth; ++i) {
      w.Array(2);
      w.Integer(i);
    }
    w.Null();
  };
  std::string resp2;
  std::string json = R"({"ok":true,"value":)";
  for (int i = 0; i < kDepth; ++i) {
    resp2 += "*2\r\n:" + std::to_string(i) + "\r\n";
    json += "[" + std::to_string(i) + ",";
  }
  resp2 += "$-1\r\n";
  json += "null" + std::string(kDepth, ']') + "}\n";
  EXPECT_EQ(Resp2(c), resp2);
  EXPECT_EQ(Json(c), json);
}

// ----- JSON and bytes that are not UTF-8 -----

constexpr std::string_view kNotUtf8Json =
    "{\"ok\":false,\"error\":\"value is not valid UTF-8 (read it over RESP)\"}\n";
constexpr std::string_view kNotUtf8Legacy =
    "{\"Err\":\"value is not valid UTF-8 (read it over RESP)\"}\n";

TEST(ReplyWriterTest, NotUtf8BulkFailsTheWholeJsonReply) {
  const Calls top = [](ReplyWriter& w) { w.Bulk("\xff"); };
  EXPECT_EQ(Json(top), kNotUtf8Json);
  EXPECT_EQ(Legacy(top), kNotUtf8Legacy);
  EXPECT_EQ(Resp2(top), "$1\r\n\xff\r\n");  // RESP carries any bytes

  const Calls nested = [](ReplyWriter& w) {
    w.Array(3);
    w.Bulk("fine");
    w.Map(1);
    w.Bulk("k");
    w.Bulk("bad \xc0\xaf");  // an overlong '/'
    w.Integer(3);            // the reply goes on after the failure
  };
  EXPECT_EQ(Json(nested), kNotUtf8Json);
  EXPECT_EQ(Legacy(nested), kNotUtf8Legacy);
  EXPECT_EQ(Resp3(nested), "*3\r\n$4\r\nfine\r\n%1\r\n$1\r\nk\r\n$6\r\nbad \xc0\xaf\r\n:3\r\n");
}

TEST(ReplyWriterTest, NotUtf8MapKeyOrVerbatimFailsTheJsonReply) {
  const Calls key = [](ReplyWriter& w) {
    w.Map(1);
    w.Bulk("\xed\xa0\x80");  // a surrogate
    w.Integer(1);
  };
  EXPECT_EQ(Json(key), kNotUtf8Json);
  const Calls verbatim = [](ReplyWriter& w) {
    w.Array(1);
    w.Verbatim("\x80");
  };
  EXPECT_EQ(Legacy(verbatim), kNotUtf8Legacy);
}

TEST(ReplyWriterTest, NotUtf8SameWordsAsGetReply) {
  std::string get;
  EncodeGetReply(Shape::kJson, "\xff", &get);
  EXPECT_EQ(get, kNotUtf8Json);
  std::string legacy;
  EncodeGetReply(Shape::kJsonLegacy, "\xff", &legacy);
  EXPECT_EQ(legacy, kNotUtf8Legacy);
}

TEST(ReplyWriterTest, NotUtf8CutsBackOnlyItsOwnReply) {
  const std::string earlier = R"({"ok":true})"s + "\n";
  const Calls c = [](ReplyWriter& w) {
    w.Array(2);
    w.Bulk("ok");
    w.Bulk("\xfe");
  };
  EXPECT_EQ(Write(Shape::kJson, RespVersion::k2, c, earlier), kNotUtf8Json);
}

TEST(ReplyWriterTest, RepliesBatchInOneBuffer) {
  std::string out = "+PONG\r\n";
  {
    ReplyWriter w(Shape::kResp, RespVersion::k3, &out);
    w.Set(1);
    w.Bulk("x");
  }
  {
    ReplyWriter w(Shape::kResp, RespVersion::k3, &out);
    w.Null();
  }
  EXPECT_EQ(out, "+PONG\r\n~1\r\n$1\r\nx\r\n_\r\n");  // redis: SMEMBERS s; GET nokey
}

// ----- done() and misuse -----

TEST(ReplyWriterTest, DoneOnlyWhenEveryAggregateIsFilled) {
  for (Shape shape : {Shape::kResp, Shape::kJson, Shape::kJsonLegacy}) {
    SCOPED_TRACE(testing::ShapeName(shape));
    std::string out;
    ReplyWriter w(shape, RespVersion::k3, &out);
    w.Array(2);
    EXPECT_FALSE(w.done());
    w.Map(1);
    EXPECT_FALSE(w.done());
    w.Bulk("k");
    EXPECT_FALSE(w.done());
    w.Array(0);  // the map's value: the map is full, the outer array is not
    EXPECT_FALSE(w.done());
    w.Error("ERR x");
    EXPECT_TRUE(w.done());
  }
}

TEST(ReplyWriterTest, DoneAfterOneScalarOrTopLevelError) {
  for (Shape shape : {Shape::kResp, Shape::kJson, Shape::kJsonLegacy}) {
    std::string out;
    ReplyWriter a(shape, RespVersion::k2, &out);
    a.Integer(1);
    EXPECT_TRUE(a.done());
    ReplyWriter b(shape, RespVersion::k2, &out);
    b.Error("ERR y");
    EXPECT_TRUE(b.done());
  }
}

TEST(ReplyWriterTest, UnusedWriterWritesNothing) {
  std::string out = "x";
  { ReplyWriter w(Shape::kJson, RespVersion::k2, &out); }
  EXPECT_EQ(out, "x");
}

#ifndef NDEBUG
TEST(ReplyWriterDeathTest, WritingPastACompleteReplyAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (Shape shape : {Shape::kResp, Shape::kJson}) {
    EXPECT_DEATH(
        {
          std::string out;
          ReplyWriter w(shape, RespVersion::k3, &out);
          w.Ok();
          w.Ok();
        },
        "past the end");
    EXPECT_DEATH(
        {
          std::string out;
          ReplyWriter w(shape, RespVersion::k3, &out);
          w.Error("ERR a");
          w.Error("ERR b");
        },
        "past the end");
  }
}

TEST(ReplyWriterDeathTest, NonStringMapKeyAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::string out;
        ReplyWriter w(Shape::kJson, RespVersion::k3, &out);
        w.Map(1);
        w.Integer(1);
      },
      "Map key");
  EXPECT_DEATH(
      {
        std::string out;
        ReplyWriter w(Shape::kResp, RespVersion::k3, &out);
        w.Map(1);
        w.Array(0);
      },
      "Map key");
}

TEST(ReplyWriterDeathTest, AnIncompleteReplyAssertsOnDestruction) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::string out;
        ReplyWriter w(Shape::kResp, RespVersion::k2, &out);
        w.Array(2);
        w.Integer(1);
      },
      "done_");
}
#endif

}  // namespace
}  // namespace kvs::proto
