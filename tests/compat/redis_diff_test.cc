// Differential test against a real redis-server (DESIGN.md "Wire protocol"): the same RESP
// commands go to Debian's Redis 7 and to kvs-server, and their replies must be the same
// bytes. Hand-written edge cases first, then a seeded random sequence of commands.
//
// Nothing here is weakened where kvs differs from Redis: every command or edge left out
// of the comparison is in one of the two tables below, with where it is going.
// Environment: KVS_DIFF_SEED=S replays the random test's printed seed; KVS_DIFF_COMMANDS=N
// runs N commands instead of the default.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "compat/command_generator.h"
#include "compat/differential.h"
#include "compat/resp_reply.h"

namespace kvs::compat {
namespace {

using namespace std::string_literals;

// Redis commands and options kvs does not answer like Redis yet: left out of the random
// generator and of the cases below. `commands` lists whole commands (the generator must
// produce none of them); `detail` says what else. Issue 17 is Redis compatibility
// (DESIGN.md "Wire protocol": the string and keyspace commands, transactions, databases,
// expiry, AUTH, CLIENT, COMMAND, INFO, SLOWLOG, MONITOR, RESP3).
struct NotYetImplemented {
  std::string_view commands;
  std::string_view detail;
  std::string_view issue;
};
constexpr NotYetImplemented kNotYetImplemented[] = {
    {"", "SET options NX XX GET EX PX EXAT PXAT KEEPTTL (kvs: syntax error ...)",
     "issue 17 (string commands, expiry)"},
    {"", "SET of the empty key (kvs: key must not be empty); GET, EXISTS, DEL of it match",
     "issue 17; needs a log format change: key length 0 is reserved (store/log_format.h)"},
    {"INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND GETSET GETDEL GETEX GETRANGE SETRANGE MGET "
     "MSET MSETNX SETNX SETEX PSETEX STRLEN LCS",
     "", "issue 17 (string commands)"},
    {"EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST", "",
     "issue 17 (expiry)"},
    {"KEYS SCAN TYPE RENAME RENAMENX UNLINK TOUCH COPY RANDOMKEY FLUSHDB FLUSHALL OBJECT DUMP "
     "RESTORE",
     "", "issue 17 (keyspace commands)"},
    {"MULTI EXEC DISCARD WATCH UNWATCH", "", "issue 17 (transactions)"},
    {"SELECT SWAPDB MOVE", "", "issue 17 (databases)"},
    {"AUTH HELLO CLIENT ECHO RESET", "", "issue 17 (connection commands, RESP3)"},
    {"COMMAND", "kvs answers an empty array, COMMAND COUNT :0 (enough for redis-cli)",
     "issue 17 (COMMAND)"},
    {"", "CONFIG subcommands other than GET (kvs: unknown subcommand ... Try CONFIG GET.)",
     "issue 17"},
    {"SLOWLOG MONITOR", "", "issue 17"},
    {"LPUSH HSET SADD ZADD XADD ...", "data types other than strings (and WRONGTYPE)",
     "not planned (DESIGN.md: string and keyspace commands)"},
};

// Deliberate differences, each documented in docs/PROTOCOL.md ("Differences from Redis").
struct KnownDifference {
  std::string_view what;
  std::string_view reason;
};
constexpr KnownDifference kKnownDifferences[] = {
    {"INFO contents", "kvs reports its own server, engine and storage fields"},
    {"CONFIG GET values", "kvs answers save and appendonly with its own fixed values"},
    {"READONLY, READWRITE outside a cluster",
     "kvs answers +OK in both modes, so one client setting works for a node and a cluster"},
    {"CLUSTER subcommands", "kvs's CLUSTER STATUS, ADD, REMOVE manage its Raft group"},
    {"a bulk string not followed by CRLF",
     "Redis skips the two bytes unchecked; kvs replies a protocol error and closes"},
    {"limits: arguments, key, value, command size, header line length",
     "kvs's limits (docs/PROTOCOL.md) are lower than Redis's; their errors name them"},
};

class RedisDiffTest : public DifferentialTest {};

TEST(RedisDiffTablesTest, EveryEntrySaysWhereItGoesOrWhy) {
  for (const NotYetImplemented& n : kNotYetImplemented) {
    EXPECT_FALSE(n.commands.empty() && n.detail.empty());
    EXPECT_FALSE(n.issue.empty()) << n.commands << n.detail;
  }
  for (const KnownDifference& k : kKnownDifferences) EXPECT_FALSE(k.reason.empty()) << k.what;
}

TEST_F(RedisDiffTest, GetOfMissingAndStoredKeys) {
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"GET", "k"});
  SendBoth({"get", "k"});
  SendBoth({"GET", "K"});
}

TEST_F(RedisDiffTest, SetOverwritesAndAcceptsEmptyValue) {
  SendBoth({"SET", "k", "one"});
  SendBoth({"SET", "k", "two"});
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", ""});
  SendBoth({"GET", "k"});
  SendBoth({"DBSIZE"});
}

TEST_F(RedisDiffTest, SetWithAWordThatIsNoOptionIsASyntaxError) {
  SendBoth({"SET", "k", "v", "foo"});
  SendBoth({"SET", "k", "v", "1"});
  SendBoth({"GET", "k"});
}

TEST_F(RedisDiffTest, DelCountsEachExistingKeyOnce) {
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "2"});
  SendBoth({"DEL", "a", "b", "c", "a"});
  SendBoth({"DEL", "a"});
  SendBoth({"GET", "a"});
  SendBoth({"DBSIZE"});
}

TEST_F(RedisDiffTest, ExistsCountsDuplicates) {
  SendBoth({"SET", "a", "1"});
  SendBoth({"EXISTS", "a"});
  SendBoth({"EXISTS", "a", "a", "a"});
  SendBoth({"EXISTS", "a", "b", "a", "b"});
  SendBoth({"EXISTS", "nope"});
}

TEST_F(RedisDiffTest, DbSizeFollowsSetsAndDeletes) {
  SendBoth({"DBSIZE"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "1"});
  SendBoth({"SET", "a", "2"});
  SendBoth({"DBSIZE"});
  SendBoth({"DEL", "a"});
  SendBoth({"DBSIZE"});
}

TEST_F(RedisDiffTest, PingWithAndWithoutMessage) {
  SendBoth({"PING"});
  SendBoth({"ping"});
  SendBoth({"PING", "hello"});
  SendBoth({"PING", ""});
  SendBoth({"PING", "a\r\nb\0c"s});
}

TEST_F(RedisDiffTest, QuitRepliesOkAndCloses) {
  SendBoth({"QUIT"});
  ExpectBothClose("QUIT");
  Reconnect();
  SendBoth({"QUIT", "extra"});
  ExpectBothClose("QUIT extra");
}

TEST_F(RedisDiffTest, UnknownCommandsQuoteTheirArguments) {
  SendBoth({"NOSUCH"});
  SendBoth({"nosuch", "a", "b"});
  SendBoth({""});
  SendBoth({"NOSUCH", ""});
  SendBoth({"NOSUCH", "it's", "\x01\x7f\xff"});
  SendBoth({"NOSUCH", "a\r\nb"});
}

TEST_F(RedisDiffTest, UnknownCommandErrorIsCutLikeACString) {
  // Redis formats the name and arguments with %s: a NUL byte ends them.
  SendBoth({"NO\0SUCH"s, "x"});
  SendBoth({"NOSUCH", "a\0b"s, "c"});
  // The name is cut to 128 bytes, the quoted arguments to 128 bytes in all.
  SendBoth({std::string(200, 'n')});
  SendBoth({"NOSUCH", std::string(100, 'a'), std::string(100, 'b'), "c"});
  SendBoth({"NOSUCH", std::string(124, 'a'), "b", "c"});
  SendBoth({"NOSUCH", std::string(125, 'a'), "b"});
  SendBoth({"NOSUCH", std::string(1000, 'a')});
}

TEST_F(RedisDiffTest, WrongArityForEachKnownCommand) {
  SendBoth({"GET"});
  SendBoth({"GET", "a", "b"});
  SendBoth({"gEt", "a", "b"});
  SendBoth({"SET"});
  SendBoth({"SET", "k"});
  SendBoth({"DEL"});
  SendBoth({"EXISTS"});
  SendBoth({"DBSIZE", "x"});
  SendBoth({"PING", "a", "b"});
  SendBoth({"CONFIG"});
  SendBoth({"CONFIG", "GET"});
  SendBoth({"READWRITE", "x"});
  SendBoth({"READONLY", "x"});
  SendBoth({"CLUSTER"});
}

TEST_F(RedisDiffTest, EmptyKeyReadsAndDeletesLikeAnAbsentKey) {
  SendBoth({"GET", ""});
  SendBoth({"EXISTS", ""});
  SendBoth({"EXISTS", "", "", "k"});
  SendBoth({"DEL", ""});
  SendBoth({"SET", "k", "v"});
  SendBoth({"DEL", "", "k"});
  SendBoth({"DBSIZE"});
}

TEST_F(RedisDiffTest, BinaryKeysAndValuesRoundTrip) {
  const std::string key = "k\0\r\n\xff"s;
  const std::string value = "\0\r\n$3\r\n*1\r\n\xff\xfe"s;
  SendBoth({"SET", key, value});
  SendBoth({"GET", key});
  SendBoth({"EXISTS", key, "k"});
  SendBoth({"SET", "\r\n", "\r\n"});
  SendBoth({"GET", "\r\n"});
  SendBoth({"DEL", key, "\r\n"});
}

TEST_F(RedisDiffTest, LargeValuesRoundTrip) {
  std::string value(3 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7919 % 251);
  SendBoth({"SET", "big", value});
  SendBoth({"GET", "big"});
  SendBoth({"SET", "big", value.substr(0, 65537)});
  SendBoth({"GET", "big"});
  SendBoth({"PING", value});
}

TEST_F(RedisDiffTest, PipelinedCommandsAreAnsweredInOrder) {
  SendOnly(EncodeCommand({"SET", "a", "1"}) + EncodeCommand({"GET", "a"}) +
           EncodeCommand({"DEL", "a"}) + EncodeCommand({"GET", "a"}) + EncodeCommand({"NOSUCH"}) +
           EncodeCommand({"PING"}));
  for (int i = 0; i < 6; ++i) ReadBoth("pipeline reply " + std::to_string(i + 1));
}

TEST_F(RedisDiffTest, CommandSplitAcrossSendsIsAnsweredOnce) {
  const std::string cmd = EncodeCommand({"SET", "key", "value"});
  for (size_t cut : {size_t{1}, size_t{2}, size_t{4}, size_t{6}, size_t{12}, cmd.size() - 1}) {
    SendOnly(cmd.substr(0, cut));
    SendOnly(cmd.substr(cut) + EncodeCommand({"GET", "key"}));
    ReadBoth("SET split at byte " + std::to_string(cut));
    ReadBoth("GET after it");
  }
}

TEST_F(RedisDiffTest, EmptyAndNegativeMultibulkAreSkipped) {
  SendRawBoth("*0\r\n*1\r\n$4\r\nPING\r\n");
  SendRawBoth("*-1\r\n*1\r\n$4\r\nPING\r\n");
  SendRawBoth("*-5\r\n*1\r\n$4\r\nPING\r\n");
}

TEST_F(RedisDiffTest, EmptyCommandNameIsUnknown) { SendRawBoth("*1\r\n$0\r\n\r\n"); }

// Each framing error: the same error reply, then both close the connection.
class ProtocolErrorTest : public DifferentialTest,
                          public ::testing::WithParamInterface<std::string> {};

TEST_P(ProtocolErrorTest, SameErrorThenClose) {
  SendRawBoth(GetParam());
  ExpectBothClose(Escape(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(RedisDiff, ProtocolErrorTest,
                         ::testing::Values("*abc\r\n", "*\r\n", "*+1\r\n", "*01\r\n$4\r\nPING\r\n",
                                           "*-0\r\n", "*1\n$4\r\nPING\r\n", "*1 \r\n",
                                           "*1\r\n$abc\r\n", "*1\r\n$\r\n", "*1\r\n$-1\r\n",
                                           "*1\r\n$-0\r\n", "*1\r\n$04\r\nPING\r\n",
                                           "*1\r\n$ 4\r\nPING\r\n", "*1\r\n$4\nPING\r\n",
                                           "*1\r\n:4\r\n", "*2\r\n$4\r\nPING\r\n+x\r\n",
                                           "*99999999999999999999999999\r\n",
                                           "*1\r\n$99999999999999999999999999\r\n"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return "Case" + std::to_string(param.index);
                         });

// The random test: several thousand commands, pipelined in runs of 1 to 16.
TEST_F(RedisDiffTest, RandomCommandsGetTheSameReplies) {
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (const char* s = std::getenv("KVS_DIFF_SEED")) seed = std::strtoull(s, nullptr, 10);
  size_t commands = 5000;
  if (const char* n = std::getenv("KVS_DIFF_COMMANDS")) commands = std::strtoull(n, nullptr, 10);
  std::cout << "KVS_DIFF_SEED=" << seed << " (" << commands << " commands)" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  CommandGenerator gen(seed);
  std::mt19937_64 runs(seed ^ 0x9e3779b97f4a7c15ULL);
  size_t sent = 0;
  int failures = 0;
  size_t values = 0;  // bulk replies: GETs that found something, PINGs with a message
  while (sent < commands && failures < 5) {
    const size_t run = std::min<size_t>(commands - sent, 1 + runs() % 16);
    std::vector<std::vector<std::string>> batch;
    std::string bytes;
    for (size_t i = 0; i < run; ++i) {
      batch.push_back(gen.Next());
      bytes += EncodeCommand(batch.back());
    }
    SendOnly(bytes);
    for (size_t i = 0; i < run; ++i) {
      std::string shown;
      for (const std::string& a : batch[i]) shown += " " + Escape(a, 40);
      const Replies r = ReadBoth("#" + std::to_string(sent + i + 1) + shown +
                                 " (KVS_DIFF_SEED=" + std::to_string(seed) + ")");
      if (r.redis != r.kvs) ++failures;
      if (r.redis.starts_with("$") && !r.redis.starts_with("$-1")) ++values;
    }
    sent += run;
  }
  EXPECT_EQ(failures, 0) << "stopped after 5 differing replies; KVS_DIFF_SEED=" << seed;
  // The key space is small enough that reads meet writes: values do come back.
  if (commands >= 1000) {
    EXPECT_GT(values, commands / 20);
  }
}

TEST(CommandGeneratorTest, SameSeedSameCommands) {
  CommandGenerator a(42), b(42);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(a.Next(), b.Next());
}

TEST(CommandGeneratorTest, ProducesNoCommandListedAsNotYetImplemented) {
  for (std::string_view name : CommandGenerator::CommandNames()) {
    for (const NotYetImplemented& n : kNotYetImplemented) {
      std::string_view words = n.commands;
      while (!words.empty()) {
        const size_t end = std::min(words.find(' '), words.size());
        EXPECT_NE(words.substr(0, end), name) << n.issue;
        words.remove_prefix(std::min(end + 1, words.size()));
      }
    }
  }
}

}  // namespace
}  // namespace kvs::compat
