#include "proto/json_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/proto_test_util.h"

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
        BadCase{R"({"get":{"key":"k"}})", "json ERR unknown field \"get\""}));

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
