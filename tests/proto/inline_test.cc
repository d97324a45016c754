// RESP inline commands are split exactly as Redis 7 splits them (resp_inline.h).
// Each case quotes what redis-server 7.0.15 (Debian 12) answered to the same line, sent raw
// over a socket; PING <message> echoes its one argument as a bulk string, so the words
// Redis saw show in its reply. "(closed)": Redis closed the connection after the reply.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/proto_test_util.h"
#include "proto/resp_codec.h"
#include "proto/resp_inline.h"

namespace kvs::proto {
namespace {

using testing::DecodeOne;
using testing::Feed;
using testing::FeedWhole;

constexpr const char* kUnbalanced = "resp FATAL Protocol error: unbalanced quotes in request";

// The first event of `line` on a RESP connection.
std::string Inline(const std::string& line) { return DecodeOne(line, false, {}, Protocol::kResp); }

TEST(RespInlineTest, InlineDoubleQuotesKeepSpaces) {
  // SET "a b" "c\x41" / GET "a b" → +OK\r\n$2\r\ncA\r\n
  EXPECT_EQ(Inline("SET \"a b\" \"c\\x41\"\r\n"), "resp SET args=[a b,cA]");
  EXPECT_EQ(Inline("GET \"a b\"\r\n"), "resp GET args=[a b]");
}

TEST(RespInlineTest, InlineDoubleQuotesWithEscapes) {
  // PING "x\n\r\t\b\a\\\"y" → $9\r\nx\n\r\t\x08\x07\\"y\r\n
  EXPECT_EQ(Inline("PING \"x\\n\\r\\t\\b\\a\\\\\\\"y\"\r\n"),
            "resp PING "
            "args=[x\\x0a\\x0d\\x09\\x08\\x07\\x5c\"y]");
}

TEST(RespInlineTest, InlineUnknownEscapeIsTheCharacterItself) {
  // PING "\q" → $1\r\nq\r\n
  EXPECT_EQ(Inline("PING \"\\q\"\r\n"), "resp PING args=[q]");
}

TEST(RespInlineTest, InlineHexEscape) {
  // PING "\x41\x4a" → $2\r\nAJ\r\n ; PING "\xfF\x00z" → $3\r\n\xff\x00z\r\n
  EXPECT_EQ(Inline("PING \"\\x41\\x4a\"\r\n"), "resp PING args=[AJ]");
  EXPECT_EQ(Inline("PING \"\\xfF\\x00z\"\r\n"), "resp PING args=[\\xff\\x00z]");
}

TEST(RespInlineTest, InlineHexEscapeNeedsTwoHexDigits) {
  // PING "\x4" → $2\r\nx4\r\n ; PING "\xZZ" → $3\r\nxZZ\r\n
  EXPECT_EQ(Inline("PING \"\\x4\"\r\n"), "resp PING args=[x4]");
  EXPECT_EQ(Inline("PING \"\\xZZ\"\r\n"), "resp PING args=[xZZ]");
}

TEST(RespInlineTest, InlineEscapesOutsideQuotesAreLiteral) {
  // PING a\x41 → $5\r\na\x41\r\n
  EXPECT_EQ(Inline("PING a\\x41\r\n"), "resp PING args=[a\\x5cx41]");
}

TEST(RespInlineTest, InlineSingleQuotesOnlyEscapeTheQuote) {
  // PING 'a\'b' → $3\r\na'b\r\n ; PING 'a\nb"' → $5\r\na\nb"\r\n (a backslash, an n)
  EXPECT_EQ(Inline("PING 'a\\'b'\r\n"), "resp PING args=[a'b]");
  EXPECT_EQ(Inline("PING 'a\\nb\"'\r\n"), "resp PING args=[a\\x5cnb\"]");
}

TEST(RespInlineTest, InlineBackslashBeforeClosingSingleQuoteLeavesItOpen) {
  // PING 'a\\' → -ERR Protocol error: unbalanced quotes in request\r\n (closed)
  EXPECT_EQ(Inline("PING 'a\\\\'\r\n"), kUnbalanced);
}

TEST(RespInlineTest, InlineEmptyQuotesAreAnEmptyArgument) {
  // PING "" → $0\r\n\r\n ; PING '' → $0\r\n\r\n
  EXPECT_EQ(Inline("PING \"\"\r\n"), "resp PING args=[]");
  EXPECT_EQ(Inline("PING ''\r\n"), "resp PING args=[]");
  // "" → -ERR unknown command '', with args beginning with: \r\n
  EXPECT_EQ(Inline("\"\"\r\n"), "resp ");
}

TEST(RespInlineTest, InlineQuoteMayOpenInsideAWord) {
  // PING ab"c d" → $5\r\nabc d\r\n ; "PING" → +PONG\r\n
  EXPECT_EQ(Inline("PING ab\"c d\"\r\n"), "resp PING args=[abc d]");
  EXPECT_EQ(Inline("\"PING\"\r\n"), "resp PING");
}

TEST(RespInlineTest, InlineUnbalancedQuoteIsAProtocolError) {
  // PING "abc / PING 'abc / PING "a\ → -ERR Protocol error: unbalanced quotes in request\r\n
  // (closed)
  EXPECT_EQ(Inline("PING \"abc\r\n"), kUnbalanced);
  EXPECT_EQ(Inline("PING 'abc\r\n"), kUnbalanced);
  EXPECT_EQ(Inline("PING \"a\\\r\n"), kUnbalanced);
}

TEST(RespInlineTest, InlineClosingQuoteMustBeFollowedBySpace) {
  // PING "abc"d, PING a"b"c, PING "a""b", PING "a"b" → unbalanced quotes (closed)
  EXPECT_EQ(Inline("PING \"abc\"d\r\n"), kUnbalanced);
  EXPECT_EQ(Inline("PING a\"b\"c\r\n"), kUnbalanced);
  EXPECT_EQ(Inline("PING \"a\"\"b\"\r\n"), kUnbalanced);
  EXPECT_EQ(Inline("PING \"a\"b\"\r\n"), kUnbalanced);
  // PING "a" → $1\r\na\r\n ; PING "a"<VT> → $1\r\na\r\n: any isspace() byte will do.
  EXPECT_EQ(Inline("PING \"a\" \r\n"), "resp PING args=[a]");
  EXPECT_EQ(Inline("PING \"a\"\v\r\n"), "resp PING args=[a]");
  // PING "a"<TAB>x → -ERR wrong number of arguments for 'ping' command\r\n
  EXPECT_EQ(Inline("PING \"a\"\tx\r\n"), "resp PING args=[a,x]");
}

TEST(RespInlineTest, InlineErrorClosesAfterEarlierCommandsAreAnswered) {
  // PING / PING "x / PING → +PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n
  // (closed; the third PING is never read)
  EXPECT_EQ(FeedWhole("PING\r\nPING \"x\r\nPING\r\n", false, {}, Protocol::kResp),
            (std::vector<std::string>{"resp PING", kUnbalanced}));
}

TEST(RespInlineTest, InlineVerticalTabAndFormFeedSeparateOnlyBetweenWords) {
  // PING a<VT>b → $3\r\na\x0bb\r\n ; <VT><FF>PING → +PONG\r\n
  EXPECT_EQ(Inline("PING a\vb\r\n"), "resp PING args=[a\\x0bb]");
  EXPECT_EQ(Inline("\v\fPING\r\n"), "resp PING");
}

TEST(RespInlineTest, InlineCarriageReturnInsideTheLineSeparatesWords) {
  // PING a<CR>b → wrong number of arguments ; PING<CR><CR><LF> → +PONG\r\n
  EXPECT_EQ(Inline("PING a\rb\r\n"), "resp PING args=[a,b]");
  EXPECT_EQ(Inline("PING\r\r\n"), "resp PING");
  EXPECT_EQ(Inline("PING \"a\"\r\r\n"), "resp PING args=[a]");
}

TEST(RespInlineTest, InlineBareLineFeedEndsALine) {
  // PING<LF> → +PONG\r\n
  EXPECT_EQ(Inline("PING\n"), "resp PING");
}

TEST(RespInlineTest, InlineEmptyAndBlankLinesAreSkipped) {
  // <CR><LF> <LF> "   "<CR><LF> " <TAB> "<LF> PING → +PONG\r\n only
  EXPECT_EQ(FeedWhole("\r\n\n   \r\n \t \nPING\r\n", false, {}, Protocol::kResp),
            std::vector<std::string>{"resp PING"});
}

TEST(RespInlineTest, InlineLineWithNulNeverEnds) {
  // PING<NUL><CR><LF>PING<CR><LF> → nothing at all: Redis looks for the line end with
  // strchr(), which stops at the NUL. Only the length limit ends the wait.
  const std::string nul_line("PING\0\r\nPING\r\n", 12);
  EXPECT_EQ(FeedWhole(nul_line, false, {}, Protocol::kResp), std::vector<std::string>{});
  ProtoLimits l;
  l.max_inline_bytes = 32;
  EXPECT_EQ(FeedWhole(nul_line + std::string(21, 'x'), false, l, Protocol::kResp),
            std::vector<std::string>{});
  EXPECT_EQ(
      FeedWhole(nul_line + std::string(22, 'x'), false, l, Protocol::kResp),
      std::vector<std::string>{"resp FATAL Protocol error: inline command longer than 32 bytes"});
  // A NUL inside a bulk string is just a byte.
  EXPECT_EQ(FeedWhole(std::string("*2\r\n$4\r\nPING\r\n$1\r\n\0\r\n", 21)),
            std::vector<std::string>{"resp PING args=[\\x00]"});
}

TEST(RespInlineTest, InlineQuotedLineArrivingByteByByte) {
  const std::string stream = "SET \"a b\" 'c\\'d'\r\nPING \"x\r\n";
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  const std::vector<std::string> want{"resp SET args=[a b,c'd]", kUnbalanced};
  EXPECT_EQ(Feed(stream, cuts, false, {}, Protocol::kResp), want);
  EXPECT_EQ(FeedWhole(stream, false, {}, Protocol::kResp), want);
}

TEST(RespInlineTest, InlineUnbalancedQuoteWinsOverTooManyArgs) {
  ProtoLimits l;
  l.max_array_len = 2;
  EXPECT_EQ(DecodeOne("A B C \"d\r\n", false, l, Protocol::kResp), kUnbalanced);
  EXPECT_EQ(DecodeOne("A B \"c\"\r\n", false, l, Protocol::kResp),
            "resp FATAL Protocol error: too many arguments (limit 2)");
}

// ----- SplitInlineArgs itself -----

TEST(SplitInlineArgsTest, PlainWordsAreViewsIntoTheLineQuotedOnesIntoScratch) {
  const std::string line = "SET k \"v w\" 'x'";
  std::vector<std::string_view> args;
  std::string scratch;
  ASSERT_EQ(SplitInlineArgs(line, 16, &args, &scratch), InlineSplit::kOk);
  ASSERT_EQ(args, (std::vector<std::string_view>{"SET", "k", "v w", "x"}));
  EXPECT_EQ(args[1].data(), line.data() + 4);
  EXPECT_EQ(args[2].data(), scratch.data());
  EXPECT_EQ(args[3].data(), scratch.data() + 3);
}

TEST(SplitInlineArgsTest, ManyQuotedWordsKeepTheirViewsValid) {
  // Scratch must not reallocate under the views already handed out.
  std::string line;
  for (int i = 0; i < 200; ++i) line += "\"w" + std::to_string(i) + "\" ";
  std::vector<std::string_view> args;
  std::string scratch;
  ASSERT_EQ(SplitInlineArgs(line, 1024, &args, &scratch), InlineSplit::kOk);
  ASSERT_EQ(args.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(args[i], "w" + std::to_string(i));
}

TEST(SplitInlineArgsTest, EmptyLineHasNoWords) {
  std::vector<std::string_view> args{"stale"};
  std::string scratch = "stale";
  EXPECT_EQ(SplitInlineArgs("", 4, &args, &scratch), InlineSplit::kOk);
  EXPECT_TRUE(args.empty());
  EXPECT_EQ(SplitInlineArgs(" \t\v\f\r\n", 4, &args, &scratch), InlineSplit::kOk);
  EXPECT_TRUE(args.empty());
}

}  // namespace
}  // namespace kvs::proto
