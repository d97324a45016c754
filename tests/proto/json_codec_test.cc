#include "proto/json_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/proto_test_util.h"
#include "proto/request_encoder.h"

namespace kvs::proto {
namespace {

// The helpers with the protocol forced to JSON (lines starting with a letter would be
// detected as RESP inline commands).
std::string DecodeOne(std::string_view input, bool eof = false, const ProtoLimits& limits = {}) {
  return testing::DecodeOne(input, eof, limits, Protocol::kJson);
}
std::vector<std::string> FeedWhole(std::string_view stream, bool eof = false,
                                   const ProtoLimits& limits = {}) {
  return testing::FeedWhole(stream, eof, limits, Protocol::kJson);
}

// ----- The new shape -----

TEST(JsonDecoderTest, SetGetRmPing) {
  EXPECT_EQ(DecodeOne("{\"op\":\"set\",\"key\":\"k\",\"value\":\"v\"}\n"),
            "json SET key=k value=v");
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"k\"}\n"), "json GET key=k");
  EXPECT_EQ(DecodeOne("{\"op\":\"rm\",\"key\":\"k\"}\n"), "json DEL key=k");
  EXPECT_EQ(DecodeOne("{\"op\":\"ping\"}\n"), "json PING");
}

TEST(JsonDecoderTest, FieldsInAnyOrderAndWhitespace) {
  EXPECT_EQ(DecodeOne(" { \"value\" : \"v\" , \"key\":\"k\",\t\"op\":\"set\" }  \r\n"),
            "json SET key=k value=v");
}

TEST(JsonDecoderTest, EmptyValueAllowed) {
  EXPECT_EQ(DecodeOne(R"({"op":"set","key":"k","value":""})"
                      "\n"),
            "json SET key=k value=");
}

TEST(JsonDecoderTest, PlainStringsAreViewsIntoTheInput) {
  JsonDecoder decoder;
  const std::string input = "{\"op\":\"set\",\"key\":\"abc\",\"value\":\"xyz\"}\n";
  Decoded d = decoder.Next(input);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.consumed, input.size());
  EXPECT_EQ(d.request.key.data(), input.data() + input.find("abc"));
  EXPECT_EQ(d.request.value.data(), input.data() + input.find("xyz"));
}

TEST(JsonDecoderTest, PlainStringsAreViewsEvenWhenTheLineIsCopiedForPadding) {
  JsonDecoder decoder;
  const std::string input = "{\"op\":\"get\",\"key\":\"abc\"}\n";  // < 64 bytes after it
  Decoded d = decoder.Next(input);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.key.data(), input.data() + input.find("abc"));
}

// ----- Escapes and UTF-8 -----

TEST(JsonDecoderTest, SimpleEscapes) {
  EXPECT_EQ(DecodeOne(R"({"op":"set","key":"a\"b\\c\/d","value":"\b\f\n\r\t"})"
                      "\n"),
            "json SET key=a\"b\\x5cc/d value=\\x08\\x0c\\x0a\\x0d\\x09");
}

TEST(JsonDecoderTest, UnicodeEscapes) {
  // é (U+00E9), € (U+20AC), 😀 (U+1F600 as a surrogate pair).
  EXPECT_EQ(DecodeOne(R"({"op":"set","key":"\u00e9\u20AC","value":"\ud83d\ude00"})"
                      "\n"),
            "json SET key=\\xc3\\xa9\\xe2\\x82\\xac value=\\xf0\\x9f\\x98\\x80");
}

TEST(JsonDecoderTest, EscapedNulIsKept) {
  JsonDecoder decoder;
  Decoded d = decoder.Next(R"({"op":"set","key":"a\u0000b","value":"\u0000"})"
                           "\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.key, std::string_view("a\0b", 3));
  EXPECT_EQ(d.request.value, std::string_view("\0", 1));
}

TEST(JsonDecoderTest, RawUtf8PassesThrough) {
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\n"),
            "json GET key=\\xc3\\xa9\\xf0\\x9f\\x98\\x80");
}

TEST(JsonDecoderTest, LoneHighSurrogateRejected) {
  EXPECT_EQ(DecodeOne(R"({"op":"get","key":"\ud800"})"
                      "\n"),
            "json ERR invalid JSON: bad string escape");
  EXPECT_EQ(DecodeOne(R"({"op":"get","key":"\ud800\u0041"})"
                      "\n"),
            "json ERR invalid JSON: bad string escape");
}

TEST(JsonDecoderTest, LoneLowSurrogateRejected) {
  const std::string got = DecodeOne(R"({"op":"get","key":"\udc00"})"
                                    "\n");
  EXPECT_EQ(got.rfind("json ERR ", 0), 0u) << got;
}

TEST(JsonDecoderTest, BadEscapeRejected) {
  EXPECT_EQ(DecodeOne(R"({"op":"get","key":"\x41"})"
                      "\n"),
            "json ERR invalid JSON: bad string escape");
  EXPECT_EQ(DecodeOne(R"({"op":"get","key":"\u12"})"
                      "\n"),
            "json ERR invalid JSON: bad string escape");
}

TEST(JsonDecoderTest, InvalidUtf8Rejected) {
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"\xff\"}\n"),
            "json ERR invalid JSON: not valid UTF-8");
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"\xc0\x80\"}\n"),  // overlong NUL
            "json ERR invalid JSON: not valid UTF-8");
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"\xed\xa0\x80\"}\n"),  // raw surrogate
            "json ERR invalid JSON: not valid UTF-8");
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"\xe2\x82\"}\n"),  // truncated
            "json ERR invalid JSON: not valid UTF-8");
}

TEST(JsonDecoderTest, RawControlCharacterRejected) {
  EXPECT_EQ(DecodeOne("{\"op\":\"get\",\"key\":\"a\x01\"}\n"),
            "json ERR invalid JSON: unescaped control character in a string");
  EXPECT_EQ(DecodeOne(std::string("{\"op\":\"get\",\"key\":\"a\0\"}\n", 24)),
            "json ERR invalid JSON: unescaped control character in a string");
}

TEST(JsonDecoderTest, EscapedFieldNamesMatch) {
  EXPECT_EQ(DecodeOne(R"({"\u006fp":"get","k\u0065y":"k"})"
                      "\n"),
            "json GET key=k");
}

// ----- Shape errors name the problem -----

struct BadCase {
  const char* line;
  const char* event;
};
// Readable test names in ctest output instead of the struct's raw bytes.
void PrintTo(const BadCase& c, std::ostream* os) {
  *os << ::testing::PrintToString(std::string(c.line));
}

class JsonMalformedTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(JsonMalformedTest, AnswersAnErrorNamingTheProblem) {
  const auto& c = GetParam();
  EXPECT_EQ(DecodeOne(std::string(c.line) + "\n"), c.event);
  // ... and the stream goes on.
  auto events = FeedWhole(std::string(c.line) + "\n{\"op\":\"ping\"}\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], "json PING");
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, JsonMalformedTest,
    ::testing::Values(
        BadCase{"{", "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{"nonsense", "json ERR request must be a JSON object"},
        BadCase{"{\"op\"",
                "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{"[1,2]", "json ERR request must be a JSON object"},
        BadCase{"\"str\"", "json ERR request must be a JSON object"},
        BadCase{"42", "json ERR request must be a JSON object"},
        BadCase{"{}", "json ERR missing field \"op\""},
        BadCase{R"({"op":"get"})", "json ERR missing field \"key\""},
        BadCase{R"({"op":"set","key":"k"})", "json ERR missing field \"value\""},
        BadCase{R"({"op":"get","key":"k","value":"v"})",
                "json ERR field \"value\" not allowed for op \"get\""},
        BadCase{R"({"op":"ping","key":"k"})", "json ERR field \"key\" not allowed for op \"ping\""},
        BadCase{R"({"op":"GET","key":"k"})", "json ERR unknown op \"GET\""},
        BadCase{R"({"op":"del","key":"k"})", "json ERR unknown op \"del\""},
        BadCase{R"({"op":1,"key":"k"})", "json ERR field \"op\" must be a string"},
        BadCase{R"({"op":"get","key":1})", "json ERR field \"key\" must be a string"},
        BadCase{R"({"op":"get","key":null})", "json ERR field \"key\" must be a string"},
        BadCase{R"({"op":"set","key":"k","value":{"a":1}})",
                "json ERR field \"value\" must be a string"},
        BadCase{R"({"op":"set","key":"k","value":["v"]})",
                "json ERR field \"value\" must be a string"},
        BadCase{R"({"op":"get","key":"k","ttl":5})", "json ERR unknown field \"ttl\""},
        BadCase{R"({"op":"get","key":"a","key":"b"})", "json ERR duplicate field \"key\""},
        BadCase{R"({"op":"get","op":"get","key":"a"})", "json ERR duplicate field \"op\""},
        BadCase{R"({"op":"get","key":""})", "json ERR key must not be empty"},
        BadCase{R"({"op":"get","key":"k"} x)",
                "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{R"({"op":"get","key":"k"} 1)",
                "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{R"({"op":"get","key":"k"}{"op":"ping"})",
                "json ERR invalid JSON: trailing characters after the object"},
        BadCase{R"({"op":"get","key":"k",})",
                "json ERR invalid JSON: The JSON document has an improper structure: missing or "
                "superfluous commas, braces, missing keys, etc."},
        BadCase{R"({"op":"get" "key":"k"})",
                "json ERR invalid JSON: The JSON document has an improper structure: missing or "
                "superfluous commas, braces, missing keys, etc."},
        BadCase{R"({"op":"get","key":"k)", "json ERR invalid JSON: unclosed string"},
        BadCase{R"({"Get":{"key":"k"},"op":"get"})",
                "legacy ERR legacy request must have exactly one field"},
        BadCase{R"({"Get":"k"})", "legacy ERR \"Get\" must be an object"},
        BadCase{R"({"Get":{}})", "legacy ERR missing field \"key\""},
        BadCase{R"({"Set":{"key":"k"}})", "legacy ERR missing field \"value\""},
        BadCase{R"({"Get":{"key":"k","value":"v"}})",
                "legacy ERR field \"value\" not allowed for op \"get\""},
        BadCase{R"({"Remove":{"key":"k","x":1}})", "legacy ERR unknown field \"x\""},
        BadCase{R"({"Get":{"key":5}})", "legacy ERR field \"key\" must be a string"},
        BadCase{R"({"Get":{"key":"a","key":"b"}})", "legacy ERR duplicate field \"key\""},
        BadCase{R"({"get":{"key":"k"}})", "json ERR unknown field \"get\""},
        // The generic form.
        BadCase{R"({"cmd":"INCR"})", "json ERR field \"cmd\" must be a non-empty array of strings"},
        BadCase{R"({"cmd":[]})", "json ERR field \"cmd\" must be a non-empty array of strings"},
        BadCase{R"({"cmd":null})", "json ERR field \"cmd\" must be a non-empty array of strings"},
        BadCase{R"({"cmd":{"0":"GET"}})",
                "json ERR field \"cmd\" must be a non-empty array of strings"},
        BadCase{R"({"cmd":["INCRBY","k",5]})", "json ERR cmd[2] must be a string, not a number"},
        BadCase{R"({"cmd":[1]})", "json ERR cmd[0] must be a string, not a number"},
        BadCase{R"({"cmd":["GET",null]})", "json ERR cmd[1] must be a string, not null"},
        BadCase{R"({"cmd":["GET",true]})", "json ERR cmd[1] must be a string, not a boolean"},
        BadCase{R"({"cmd":[["GET"]]})", "json ERR cmd[0] must be a string, not an array"},
        BadCase{R"({"cmd":["GET",{}]})", "json ERR cmd[1] must be a string, not an object"},
        BadCase{R"({"cmd":["GET","\udc00"]})", "json ERR invalid JSON: bad string escape"},
        BadCase{R"({"cmd":["GET","\ud800"]})", "json ERR invalid JSON: bad string escape"},
        BadCase{R"({"cmd":["GET","k"],"op":"get"})",
                "json ERR field \"op\" not allowed with \"cmd\""},
        BadCase{R"({"op":"get","cmd":["GET","k"]})",
                "json ERR field \"op\" not allowed with \"cmd\""},
        BadCase{R"({"cmd":["GET","k"],"key":"k"})",
                "json ERR field \"key\" not allowed with \"cmd\""},
        BadCase{R"({"cmd":["SET","k","v"],"value":"v"})",
                "json ERR field \"value\" not allowed with \"cmd\""},
        BadCase{R"({"cmd":["GET","a"],"cmd":["GET","b"]})", "json ERR duplicate field \"cmd\""},
        BadCase{R"({"cmd":["GET","k"],"stale":"yes"})",
                "json ERR field \"stale\" must be true or false"},
        BadCase{R"({"cmd":["GET","k"],"ttl":5})", "json ERR unknown field \"ttl\""},
        BadCase{R"({"Get":{"key":"k"},"cmd":["GET","k"]})",
                "legacy ERR legacy request must have exactly one field"},
        BadCase{R"({"cmd":["GET","k"]} x)",
                "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{R"({"cmd":["GET","k")",
                "json ERR invalid JSON: unbalanced braces, or characters after the object"},
        BadCase{R"({"cmd":["GET","k",]})",
                "json ERR invalid JSON: The JSON document has an improper structure: missing or "
                "superfluous commas, braces, missing keys, etc."},
        BadCase{R"({"cmd":["GET" "k"]})",
                "json ERR invalid JSON: The JSON document has an improper structure: missing or "
                "superfluous commas, braces, missing keys, etc."}));

// ----- The generic form {"cmd":[...]} -----

// "json cmd=[INCR,k]" (+ " stale") for a generic request, else testing::Describe.
std::string DescribeCmd(const Decoded& d) {
  if (d.status != DecodeStatus::kRequest || d.request.command != Command::kRedis) {
    return testing::Describe(d);
  }
  const Request& r = d.request;
  std::string s = testing::ShapeName(r.shape) + " cmd=[";
  for (size_t i = 0; i < r.argv.size(); ++i) s += (i ? "," : "") + testing::Printable(r.argv[i]);
  s += "]";
  if (r.stale) s += " stale";
  if (!r.key.empty() || r.has_value || !r.args.empty()) s += " (stray fields)";
  return s;
}

std::string DecodeCmd(std::string_view line, const ProtoLimits& limits = {}) {
  JsonDecoder decoder(limits);
  return DescribeCmd(decoder.Next(line));
}

TEST(JsonCmdTest, DecodesToARedisRequestWithItsWords) {
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"INCR\",\"k\"]}\n"), "json cmd=[INCR,k]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"DBSIZE\"]}\n"), "json cmd=[DBSIZE]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"MSET\",\"a\",\"1\",\"b\",\"\"]}\n"), "json cmd=[MSET,a,1,b,]");
  EXPECT_EQ(DecodeCmd(" { \"cmd\" : [ \"GET\" ,\t\"k\" ] }  \r\n"), "json cmd=[GET,k]");
}

TEST(JsonCmdTest, NamesAreNotInterpreted) {
  // Every name is the command table's business, even the ones "op" knows.
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"GET\",\"k\"]}\n"), "json cmd=[GET,k]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"set\",\"k\",\"v\"]}\n"), "json cmd=[set,k,v]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"\"]}\n"), "json cmd=[]");
}

TEST(JsonCmdTest, StaleMayComeWithCmd) {
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"MGET\",\"a\",\"b\"],\"stale\":true}\n"),
            "json cmd=[MGET,a,b] stale");
  EXPECT_EQ(DecodeCmd("{\"stale\":false,\"cmd\":[\"MGET\",\"a\"]}\n"), "json cmd=[MGET,a]");
}

TEST(JsonCmdTest, PlainWordsAreViewsIntoTheInput) {
  JsonDecoder decoder;
  const std::string input = "{\"cmd\":[\"INCRBY\",\"counter\",\"17\"]}\n";
  Decoded d = decoder.Next(input);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.consumed, input.size());
  ASSERT_EQ(d.request.argv.size(), 3u);
  EXPECT_EQ(d.request.argv[0].data(), input.data() + input.find("INCRBY"));
  EXPECT_EQ(d.request.argv[1].data(), input.data() + input.find("counter"));
  EXPECT_EQ(d.request.argv[2].data(), input.data() + input.find("17"));
}

TEST(JsonCmdTest, EscapesAreUnescaped) {
  JsonDecoder decoder;
  Decoded d = decoder.Next(R"({"cmd":["SET","a\"b\\c","\u00e9\n\u0000\ud83d\ude00"]})"
                           "\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
  ASSERT_EQ(d.request.argv.size(), 3u);
  EXPECT_EQ(d.request.argv[0], "SET");
  EXPECT_EQ(d.request.argv[1], "a\"b\\c");
  EXPECT_EQ(d.request.argv[2], std::string_view("\xc3\xa9\n\0\xf0\x9f\x98\x80", 8));
}

TEST(JsonCmdTest, EscapedWordsOwnTheirBytesAndKeepTheirOrder) {
  // Every other word escaped, many of them, long and short: the scratch holding them grows
  // while they are collected, and no view may be left pointing at its old bytes.
  std::string line = "{\"cmd\":[\"MSET\"";
  std::vector<std::string> want{"MSET"};
  for (int i = 0; i < 200; ++i) {
    const std::string word = std::string(i % 7 == 0 ? 300 : 3, 'a' + i % 26) + std::to_string(i);
    if (i % 2 == 0) {
      line += ",\"\\t" + word + "\"";
      want.push_back("\t" + word);
    } else {
      line += ",\"" + word + "\"";
      want.push_back(word);
    }
  }
  line += "]}\n";
  JsonDecoder decoder;
  Decoded d = decoder.Next(line);
  ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
  ASSERT_EQ(d.request.argv.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(d.request.argv[i], want[i]) << i;
  // The escaped words (odd indexes) live in the decoder, not in the input.
  JsonDecoder other;
  d = other.Next(std::string(line));  // the input is gone after this statement
  ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
  for (size_t i = 1; i < want.size(); i += 2) EXPECT_EQ(d.request.argv[i], want[i]) << i;
}

TEST(JsonCmdTest, PipelinedCmdLinesEachKeepTheirWordsUntilTheNextCall) {
  const std::string stream = R"({"cmd":["SET","k\u0031","v\u0031"]})"
                             "\n"
                             R"({"op":"set","key":"k\u0032","value":"v2"})"
                             "\n"
                             R"({"cmd":["GET","k\u0033"]})"
                             "\n"
                             R"({"cmd":["PING"]})"
                             "\n";
  JsonDecoder decoder;
  std::string_view rest = stream;
  std::vector<std::string> seen;
  for (;;) {
    Decoded d = decoder.Next(rest);
    if (d.status == DecodeStatus::kNeedMore) break;
    seen.push_back(DescribeCmd(d));
    rest.remove_prefix(d.consumed);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"json cmd=[SET,k1,v1]", "json SET key=k2 value=v2",
                                            "json cmd=[GET,k3]", "json cmd=[PING]"}));
}

TEST(JsonCmdTest, SplitAnywhereGivesTheSameEvents) {
  const std::string stream = R"({"cmd":["SET","a\"b","\u00e9"]})"
                             "\n"
                             R"({"cmd":["INCRBY","k",1]})"
                             "\n"
                             R"({"cmd":["MGET","x","y"],"stale":true})"
                             "\n";
  const auto whole = FeedWhole(stream);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole[1], "json ERR cmd[2] must be a string, not a number");
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    EXPECT_EQ(testing::Feed(stream, {cut}, false, {}, Protocol::kJson), whole) << cut;
  }
}

TEST(JsonCmdTest, TheRequestsOtherFieldsAreEmpty) {
  JsonDecoder decoder;
  // A set with escapes first, so that key and value scratch hold something.
  ASSERT_EQ(decoder
                .Next(R"({"op":"set","key":"\u006b","value":"\u0076"})"
                      "\n")
                .status,
            DecodeStatus::kRequest);
  Decoded d = decoder.Next(R"({"cmd":["GET","k"]})"
                           "\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.command, Command::kRedis);
  EXPECT_TRUE(d.request.key.empty());
  EXPECT_TRUE(d.request.value.empty());
  EXPECT_FALSE(d.request.has_value);
  EXPECT_TRUE(d.request.args.empty());
  EXPECT_FALSE(d.request.stale);
  // And a request of another shape after it has no argv.
  d = decoder.Next(R"({"op":"get","key":"k"})"
                   "\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_TRUE(d.request.argv.empty());
}

TEST(JsonCmdTest, ArrayLengthLimit) {
  ProtoLimits limits;
  limits.max_array_len = 4;
  EXPECT_EQ(DecodeCmd(R"({"cmd":["MGET","a","b","c"]})"
                      "\n",
                      limits),
            "json cmd=[MGET,a,b,c]");
  EXPECT_EQ(DecodeCmd(R"({"cmd":["MGET","a","b","c","d"]})"
                      "\n",
                      limits),
            "json ERR field \"cmd\" has too many elements (limit 4)");
}

TEST(JsonCmdTest, WordLengthLimitAppliesAfterUnescaping) {
  ProtoLimits limits;
  limits.max_key_bytes = 8;
  limits.max_value_bytes = 16;  // max_bulk_bytes() = 16
  const std::string at = std::string(16, 'v');
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"SET\",\"k\",\"" + at + "\"]}\n", limits),
            "json cmd=[SET,k," + at + "]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"SET\",\"k\",\"" + at + "v\"]}\n", limits),
            "json ERR cmd[2] too long: 17 bytes (limit 16)");
  std::string escaped;  // 16 characters, 96 bytes on the wire
  for (int i = 0; i < 16; ++i) escaped += "\\u0041";
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"SET\",\"k\",\"" + escaped + "\"]}\n", limits),
            "json cmd=[SET,k,AAAAAAAAAAAAAAAA]");
  EXPECT_EQ(DecodeCmd("{\"cmd\":[\"SET\",\"k\",\"" + escaped + "B\"]}\n", limits),
            "json ERR cmd[2] too long: 17 bytes (limit 16)");
}

TEST(JsonCmdTest, TotalLengthLimitIsRespsCommandLimit) {
  ProtoLimits limits;
  limits.max_key_bytes = 8;
  limits.max_value_bytes = 600;
  const size_t total = limits.max_request_bytes();  // 8 + 600 + 1024 = 1632
  const std::string head =
      "{\"cmd\":[\"MSET\",\"" + std::string(600, 'x') + "\",\"" + std::string(600, 'y') + "\",\"";
  const size_t rest = total - 4 - 600 - 600;
  EXPECT_EQ(DecodeCmd(head + std::string(rest, 'z') + "\"]}\n", limits).substr(0, 15),
            "json cmd=[MSET,");
  EXPECT_EQ(DecodeCmd(head + std::string(rest + 1, 'z') + "\"]}\n", limits),
            "json ERR field \"cmd\" holds more than 1632 bytes");
}

TEST(JsonCmdTest, DefaultLimitsTakeAMaximalValue) {
  const std::string value(kDefaultMaxValueBytes, 'v');
  JsonDecoder decoder;
  Decoded d = decoder.Next("{\"cmd\":[\"SET\",\"k\",\"" + value + "\"]}\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
  EXPECT_EQ(d.request.argv[2].size(), kDefaultMaxValueBytes);
}

TEST(JsonCmdTest, EncodeRequestRoundTrips) {
  std::string all;  // every ASCII byte and some UTF-8, in one word
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xc3\xa9\xf0\x9f\x98\x80";
  const std::vector<std::string_view> argv{"SET", "k \"quoted\"", all, ""};
  for (bool stale : {false, true}) {
    Request want;
    want.shape = Shape::kJson;
    want.command = Command::kRedis;
    want.argv = argv;
    want.stale = stale;
    std::string wire;
    EncodeRequest(want, &wire);
    JsonDecoder decoder;
    Decoded d = decoder.Next(wire);
    ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
    EXPECT_EQ(d.consumed, wire.size());
    EXPECT_EQ(d.request.command, Command::kRedis);
    EXPECT_EQ(d.request.stale, stale);
    ASSERT_EQ(d.request.argv.size(), argv.size());
    for (size_t i = 0; i < argv.size(); ++i) EXPECT_EQ(d.request.argv[i], argv[i]) << i;
  }
}

TEST(JsonCmdTest, EncodeRequestWritesTheDocumentedBytes) {
  const std::vector<std::string_view> argv{"INCR", "k"};
  Request r;
  r.command = Command::kRedis;
  r.argv = argv;
  std::string wire;
  EncodeRequest(r, &wire);
  EXPECT_EQ(wire, "{\"cmd\":[\"INCR\",\"k\"]}\n");
  r.stale = true;
  wire.clear();
  EncodeRequest(r, &wire);
  EXPECT_EQ(wire, "{\"cmd\":[\"INCR\",\"k\"],\"stale\":true}\n");
  r.shape = Shape::kResp;
  wire.clear();
  EncodeRequest(r, &wire);
  EXPECT_EQ(wire, "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n");
}

// ----- The original kvs shape -----

TEST(JsonDecoderTest, LegacyShape) {
  EXPECT_EQ(DecodeOne(R"({"Set":{"key":"k","value":"v"}})"
                      "\n"),
            "legacy SET key=k value=v");
  EXPECT_EQ(DecodeOne(R"({"Get":{"key":"k"}})"
                      "\n"),
            "legacy GET key=k");
  EXPECT_EQ(DecodeOne(R"({"Remove":{"key":"k"}})"
                      "\n"),
            "legacy DEL key=k");
  EXPECT_EQ(DecodeOne(R"({"Set":{"value":"v","key":"k"}})"
                      "\n"),
            "legacy SET key=k value=v");
}

TEST(JsonDecoderTest, FinalLineWithoutNewlineNeedsEof) {
  const std::string req = R"({"Get":{"key":"k"}})";
  EXPECT_EQ(DecodeOne(req, /*eof=*/false), "NEED");
  EXPECT_EQ(DecodeOne(req, /*eof=*/true), "legacy GET key=k");
}

TEST(JsonDecoderTest, EofWithOnlyBlanksConsumesThem) {
  JsonDecoder decoder;
  Decoded d = decoder.Next("  \r\n \t", /*eof=*/true);
  EXPECT_EQ(d.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(d.consumed, 6u);
}

// ----- Framing -----

TEST(JsonDecoderTest, BlankLinesAreSkipped) {
  auto events = FeedWhole("\n\r\n   \n{\"op\":\"ping\"}\n\n");
  EXPECT_EQ(events, std::vector<std::string>{"json PING"});
}

TEST(JsonDecoderTest, PipelinedRequestsComeOutInOrder) {
  std::string stream;
  for (int i = 0; i < 100; ++i) {
    stream += "{\"op\":\"set\",\"key\":\"k" + std::to_string(i) + "\",\"value\":\"v\"}\n";
  }
  JsonDecoder decoder;
  std::string_view rest = stream;
  for (int i = 0; i < 100; ++i) {
    Decoded d = decoder.Next(rest);
    ASSERT_EQ(d.status, DecodeStatus::kRequest);
    EXPECT_EQ(d.request.key, "k" + std::to_string(i));
    rest.remove_prefix(d.consumed);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(decoder.Next(rest).status, DecodeStatus::kNeedMore);
}

TEST(JsonDecoderTest, PartialLineConsumesNothing) {
  JsonDecoder decoder;
  Decoded d = decoder.Next("{\"op\":\"pi");
  EXPECT_EQ(d.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(d.consumed, 0u);
}

TEST(JsonDecoderTest, InputPaddingAvoidsTheCopyAndGivesTheSameResult) {
  Decoder decoder(Protocol::kJson);
  decoder.set_input_padding(64);
  std::string buf = "{\"op\":\"get\",\"key\":\"k\"}\n";
  const size_t n = buf.size();
  buf.resize(n + 64, 'x');  // readable garbage after the input
  Decoded d = decoder.Next(std::string_view(buf).substr(0, n));
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.key, "k");
  EXPECT_EQ(d.request.key.data(), buf.data() + buf.find("\"k\"") + 1);
}

// ----- Limits -----

ProtoLimits SmallLimits() {
  ProtoLimits l;
  l.max_key_bytes = 8;
  l.max_value_bytes = 16;
  return l;
}

std::string SetLine(const std::string& key, const std::string& value) {
  return "{\"op\":\"set\",\"key\":\"" + key + "\",\"value\":\"" + value + "\"}\n";
}

TEST(JsonLimitsTest, KeyAtLimitAcceptedOverLimitRejected) {
  EXPECT_EQ(DecodeOne(SetLine(std::string(8, 'k'), "v"), false, SmallLimits()),
            "json SET key=kkkkkkkk value=v");
  EXPECT_EQ(DecodeOne(SetLine(std::string(9, 'k'), "v"), false, SmallLimits()),
            "json ERR key too long: 9 bytes (limit 8)");
}

TEST(JsonLimitsTest, ValueAtLimitAcceptedOverLimitRejected) {
  EXPECT_EQ(DecodeOne(SetLine("k", std::string(16, 'v')), false, SmallLimits()),
            "json SET key=k value=vvvvvvvvvvvvvvvv");
  EXPECT_EQ(DecodeOne(SetLine("k", std::string(17, 'v')), false, SmallLimits()),
            "json ERR value too long: 17 bytes (limit 16)");
}

TEST(JsonLimitsTest, LimitsApplyAfterUnescaping) {
  // 8 escaped characters are 48 bytes on the wire but 8 in the key.
  std::string key;
  for (int i = 0; i < 8; ++i) key += "\\u0001";
  JsonDecoder decoder(SmallLimits());
  const std::string line = SetLine(key, "v");
  Decoded d = decoder.Next(line);
  EXPECT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.key, std::string(8, '\x01'));
}

TEST(JsonLimitsTest, DefaultLimitsAreTheStoreLimits) {
  EXPECT_EQ(DecodeOne(SetLine(std::string(65536, 'k'), "v")).substr(0, 12), "json SET key");
  EXPECT_EQ(DecodeOne(SetLine(std::string(65537, 'k'), "v")),
            "json ERR key too long: 65537 bytes (limit 65536)");
  const std::string big = SetLine("k", std::string(16 << 20, 'v'));
  JsonDecoder decoder;
  Decoded d = decoder.Next(big);
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.value.size(), 16u << 20);
  EXPECT_EQ(DecodeOne(SetLine("k", std::string((16 << 20) + 1, 'v'))),
            "json ERR value too long: 16777217 bytes (limit 16777216)");
}

TEST(JsonLimitsTest, LineAtLimitIsParsed) {
  const ProtoLimits limits = SmallLimits();
  const size_t limit = limits.max_json_line_bytes();
  std::string line = "{\"op\":\"ping\"}";
  line.append(limit - line.size(), ' ');
  EXPECT_EQ(DecodeOne(line + "\n", false, limits), "json PING");
}

TEST(JsonLimitsTest, OverlongLineIsRejectedWithoutBufferingAndTheStreamResyncs) {
  const ProtoLimits limits = SmallLimits();
  const size_t limit = limits.max_json_line_bytes();
  JsonDecoder decoder(limits);
  // limit + 1 bytes without a newline: rejected at once.
  std::string chunk(limit + 1, 'x');
  Decoded d = decoder.Next(chunk);
  ASSERT_EQ(d.status, DecodeStatus::kError);
  EXPECT_FALSE(d.error.close);
  EXPECT_EQ(d.error.message,
            "request line too long: more than " + std::to_string(limit) + " bytes");
  EXPECT_EQ(d.consumed, limit + 1);
  // The rest of the line is dropped as it comes, never buffered.
  for (int i = 0; i < 10; ++i) {
    d = decoder.Next(std::string(1000, 'y'));
    EXPECT_EQ(d.status, DecodeStatus::kNeedMore);
    EXPECT_EQ(d.consumed, 1000u);
  }
  d = decoder.Next("yyy\n{\"op\":\"ping\"}\n");
  ASSERT_EQ(d.status, DecodeStatus::kRequest);
  EXPECT_EQ(d.request.command, Command::kPing);
}

TEST(JsonLimitsTest, OverlongLineWithItsNewlineInTheSameInput) {
  const ProtoLimits limits = SmallLimits();
  const size_t limit = limits.max_json_line_bytes();
  auto events = FeedWhole(std::string(limit + 10, 'x') + "\n{\"op\":\"ping\"}\n", false, limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], "json PING");
}

TEST(JsonLimitsTest, DefaultLineLimitFitsAFullyEscapedMaximalRequest) {
  const ProtoLimits limits;
  EXPECT_GE(limits.max_json_line_bytes(), 6 * (limits.max_key_bytes + limits.max_value_bytes) + 40);
}

// ----- Encoding -----

TEST(AppendJsonStringTest, EscapesWhatMustBeEscaped) {
  std::string out;
  AppendJsonString(std::string_view("a\"b\\c\n\r\t\b\f\x01\x1f\0/\x7f", 15), &out);
  EXPECT_EQ(out, R"("a\"b\\c\n\r\t\b\f\u0001\u001f\u0000/)"
                 "\x7f\"");
}

TEST(AppendJsonStringTest, Utf8PassesThrough) {
  std::string out;
  AppendJsonString("\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8", &out);
  EXPECT_EQ(out, "\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8\"");
}

TEST(AppendJsonStringTest, RoundTripsEveryAsciiByteThroughTheDecoder) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xc3\xa9\xf0\x9f\x98\x80";
  std::string line = "{\"op\":\"set\",\"key\":\"k\",\"value\":";
  AppendJsonString(all, &line);
  line += "}\n";
  JsonDecoder decoder;
  Decoded d = decoder.Next(line);
  ASSERT_EQ(d.status, DecodeStatus::kRequest) << d.error.message;
  EXPECT_EQ(d.request.value, all);
}

TEST(IsValidUtf8Test, Basics) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("abc\xc3\xa9"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xed\xb0\x80"));      // U+DC00
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

}  // namespace
}  // namespace kvs::proto
