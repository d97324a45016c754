// kvs-client's contract (DESIGN.md "kvs-client"), line by line, against a real kvs-server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreePort();
    addr_ = "127.0.0.1:" + std::to_string(port_);
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--addr", addr_, "--data-dir", dir_.path()});
    ASSERT_TRUE(WaitForPort(port_)) << server_->Stderr();
  }

  // The address goes first: after a "--" every word is the command's.
  CommandResult Client(std::vector<std::string> args) {
    args.insert(args.begin(), {BinPath("kvs-client"), "--addr", addr_});
    return RunCommand(args);
  }
  static bool OneLine(const std::string& s) {
    return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
  }

  // Client(args) with `input` on its standard input (through a file and sh's "<").
  CommandResult ClientWithStdin(const std::string& input, const std::vector<std::string>& args) {
    const std::string path = scratch_.File("stdin");
    std::ofstream(path, std::ios::binary) << input;
    std::string line = "exec " + Quote(BinPath("kvs-client"));
    for (const std::string& a : args) line += " " + Quote(a);
    line += " --addr " + addr_ + " < " + Quote(path);
    return RunCommand({"/bin/sh", "-c", line});
  }
  static std::string Quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }
  static std::vector<std::string> Lines(const std::string& out) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  kvs::testing::TempDir scratch_;  // files for the client (not the server's directory)
  kvs::testing::TempDir dir_;
  int port_ = 0;
  std::string addr_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ClientTest, SetPrintsNothing) {
  CommandResult r = Client({"set", "k", "v"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(ClientTest, GetPrintsTheValue) {
  ASSERT_EQ(Client({"set", "k", "hello world"}).exit_code, 0);
  CommandResult r = Client({"get", "k"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "hello world\n");
}

TEST_F(ClientTest, GetOfAMissingKeyPrintsKeyNotFoundAndSucceeds) {
  CommandResult r = Client({"get", "nope"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "Key not found\n");
}

TEST_F(ClientTest, RmRemoves) {
  ASSERT_EQ(Client({"set", "k", "v"}).exit_code, 0);
  CommandResult r = Client({"rm", "k"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Client({"get", "k"}).out, "Key not found\n");
}

TEST_F(ClientTest, RmOfAMissingKeyFailsWithKeyNotFound) {
  CommandResult r = Client({"rm", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "Key not found\n");
}

TEST_F(ClientTest, ValuesWithSpacesQuotesAndUnicode) {
  const std::string v = "a \"quoted\" \\ value\twith \xc3\xa9 and \xf0\x9f\x98\x80";
  ASSERT_EQ(Client({"set", "k", v}).exit_code, 0);
  EXPECT_EQ(Client({"get", "k"}).out, v + "\n");
}

TEST_F(ClientTest, UsageErrorsAreOneLineAndNonZero) {
  const std::vector<std::vector<std::string>> bad = {
      {"set", "k"},              // missing VALUE
      {"get"},                   // missing KEY
      {"get", "a", "b"},         // extra argument
      {"rm"},                    // missing KEY
      {"frobnicate", "k"},       // unknown subcommand
      {"get", "k", "--bogus"},   // unknown flag
      {},                        // no subcommand
  };
  for (const auto& args : bad) {
    std::vector<std::string> argv{BinPath("kvs-client")};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(args);
    EXPECT_TRUE(OneLine(r.err)) << ::testing::PrintToString(args) << " -> " << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(ClientTest, UnparsableAddressIsAUsageError) {
  CommandResult r = RunCommand({BinPath("kvs-client"), "get", "k", "--addr", "localhost"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_THAT(r.err, HasSubstr("localhost"));
}

TEST_F(ClientTest, UnreachableServerIsAnError) {
  const std::string addr = "127.0.0.1:" + std::to_string(FreePort());
  CommandResult r = RunCommand({BinPath("kvs-client"), "get", "k", "--addr", addr});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_THAT(r.err, HasSubstr(addr));
}

TEST_F(ClientTest, VersionMatchesTheServers) {
  CommandResult c = RunCommand({BinPath("kvs-client"), "-V"});
  CommandResult s = RunCommand({BinPath("kvs-server"), "-V"});
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_THAT(c.out, MatchesRegex("kvs [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_EQ(c.out, s.out);
}

TEST_F(ClientTest, ServerErrorsGoToStderrWithExitOne) {
  CommandResult r = Client({"set", std::string(70000, 'k'), "v"});  // key over 64 KiB
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
}

// ----- set KEY - : the value from standard input -----

TEST_F(ClientTest, SetDashReadsAMebibyteFromStdin) {
  std::mt19937 rng(7);
  std::string value(1 << 20, ' ');
  for (char& c : value) c = "abcdefghij \n\"\\\t"[rng() % 15];  // escapes on the JSON wire
  CommandResult r = ClientWithStdin(value, {"set", "big", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Client({"get", "big"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == value + "\n") << "got " << r.out.size() << " bytes";
}

TEST_F(ClientTest, SetDashIsBinarySafe) {
  // NUL, bytes that are not UTF-8 (sent over RESP; get fetches them over RESP too) and a
  // trailing newline, kept as redis-cli -x keeps it.
  const std::string value("a\0b\xff\xfe\r\nend\n", 11);
  ASSERT_EQ(ClientWithStdin(value, {"set", "bin", "-"}).exit_code, 0);
  CommandResult r = Client({"get", "bin"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, value + "\n");
  // UTF-8 with a NUL goes over JSON (\u0000).
  const std::string text("x\0y \xc3\xa9", 6);
  ASSERT_EQ(ClientWithStdin(text, {"set", "text", "-"}).exit_code, 0);
  EXPECT_EQ(Client({"get", "text"}).out, text + "\n");
}

TEST_F(ClientTest, SetDashWithEmptyStdinSetsTheEmptyValue) {
  ASSERT_EQ(ClientWithStdin("", {"set", "k", "-"}).exit_code, 0);
  EXPECT_EQ(Client({"get", "k"}).out, "\n");
}

TEST_F(ClientTest, SetDashOverTheValueLimitIsRefusedBeforeSending) {
  CommandResult r = ClientWithStdin(std::string((16 << 20) + 1, 'v'), {"set", "k", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_THAT(r.err, HasSubstr("16777216"));
  EXPECT_EQ(Client({"get", "k"}).out, "Key not found\n");
}

TEST_F(ClientTest, NewCommandsUsageErrorsAreOneLineAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"mset", "a", "1", "b"},   // odd number of words
      {"mset"},                  // nothing
      {"mget"},                  // no KEY
      {"incr"},                  // no KEY
      {"incr", "k", "1", "2"},   // extra argument
      {"rename", "a"},           // no DST
      {"keys"},                  // no PATTERN
      {"scan", "--count", "0"},  // count must be positive
      {"scan", "0", "1"},        // extra argument
      {"dbsize", "x"},           // extra argument
      {"cmd"},                   // no WORD
      {"cmd", "GET", "-x"},      // an option, not a word (needs --)
      {"--db", "-1", "dbsize"},  // negative database
      {"--db", "x", "dbsize"},   // not a number
      {"--password-file", "/nonexistent/kvs-password", "dbsize"},
  };
  for (const auto& args : bad) {
    std::vector<std::string> argv{BinPath("kvs-client")};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--addr", addr_});
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << " -> " << r.err;
    EXPECT_TRUE(OneLine(r.err)) << ::testing::PrintToString(args) << " -> " << r.err;
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(args);
  }
}

TEST_F(ClientTest, EmptyPasswordFileIsAUsageError) {
  const std::string path = scratch_.File("password");
  std::ofstream(path) << "\n";
  CommandResult r = Client({"--password-file", path, "get", "k"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_THAT(r.err, HasSubstr("empty"));
}

// ----- The Redis commands (sent as {"cmd":[...]}) -----
// Enabled when the command table lands: until then the server answers {"cmd":[...]} with
// an error. Remove the  prefixes then.

class ClientCommandsTest : public ClientTest {};

TEST_F(ClientCommandsTest, IncrAndDecrPrintTheNewValue) {
  EXPECT_EQ(Client({"incr", "n"}).out, "1\n");
  EXPECT_EQ(Client({"incr", "n", "10"}).out, "11\n");
  EXPECT_EQ(Client({"decr", "n"}).out, "10\n");
  EXPECT_EQ(Client({"decr", "n", "3"}).out, "7\n");
  EXPECT_EQ(Client({"incr", "n", "-2"}).out, "5\n");  // a negative number is a word
  EXPECT_EQ(Client({"get", "n"}).out, "5\n");
}

TEST_F(ClientCommandsTest, IncrOfANonIntegerIsAServerError) {
  ASSERT_EQ(Client({"set", "k", "abc"}).exit_code, 0);
  CommandResult r = Client({"incr", "k"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ERR value is not an integer or out of range\n");
}

TEST_F(ClientCommandsTest, MsetPrintsNothingAndMgetPrintsNilForMissingKeys) {
  CommandResult r = Client({"mset", "a", "1", "b", "two words"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Client({"mget", "a", "nope", "b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n(nil)\ntwo words\n");
}

TEST_F(ClientCommandsTest, ExistsAndDelCountKeys) {
  ASSERT_EQ(Client({"mset", "a", "1", "b", "2"}).exit_code, 0);
  EXPECT_EQ(Client({"exists", "a", "b", "c", "a"}).out, "3\n");
  EXPECT_EQ(Client({"del", "a", "c"}).out, "1\n");
  EXPECT_EQ(Client({"exists", "a"}).out, "0\n");
  // rm keeps its own contract.
  EXPECT_EQ(Client({"rm", "a"}).err, "Key not found\n");
}

TEST_F(ClientCommandsTest, TypeAndRename) {
  ASSERT_EQ(Client({"set", "a", "v"}).exit_code, 0);
  EXPECT_EQ(Client({"type", "a"}).out, "string\n");
  EXPECT_EQ(Client({"type", "nope"}).out, "none\n");
  CommandResult r = Client({"rename", "a", "b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Client({"get", "b"}).out, "v\n");
  EXPECT_EQ(Client({"get", "a"}).out, "Key not found\n");
  r = Client({"rename", "nope", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "ERR no such key\n");
}

TEST_F(ClientCommandsTest, KeysPrintsTheMatchingKeys) {
  ASSERT_EQ(Client({"mset", "user:1", "a", "user:2", "b", "other", "c"}).exit_code, 0);
  std::vector<std::string> got = Lines(Client({"keys", "user:*"}).out);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"user:1", "user:2"}));
  EXPECT_EQ(Client({"keys", "nothing*"}).out, "");
}

TEST_F(ClientCommandsTest, ScanWalksEveryKeyOrTakesOneStep) {
  std::vector<std::string> mset{"mset"};
  std::set<std::string> want;
  for (int i = 0; i < 50; ++i) {
    mset.push_back("k" + std::to_string(i));
    mset.push_back("v");
    want.insert("k" + std::to_string(i));
  }
  ASSERT_EQ(Client(mset).exit_code, 0);
  CommandResult r = Client({"scan", "--count", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()), want);
  // Only the matching keys.
  lines = Lines(Client({"scan", "--match", "k1*"}).out);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            (std::set<std::string>{"k1", "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17",
                                   "k18", "k19"}));
  // One step from cursor 0 with room for everything: cursor 0, then every key.
  lines = Lines(Client({"scan", "0", "--count", "1000"}).out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "0");
  EXPECT_EQ(std::set<std::string>(lines.begin() + 1, lines.end()), want);
}

TEST_F(ClientCommandsTest, DbsizeAndFlushdb) {
  ASSERT_EQ(Client({"mset", "a", "1", "b", "2", "c", "3"}).exit_code, 0);
  EXPECT_EQ(Client({"dbsize"}).out, "3\n");
  CommandResult r = Client({"flushdb"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Client({"dbsize"}).out, "0\n");
}

TEST_F(ClientCommandsTest, CmdPrintsAnyReply) {
  EXPECT_EQ(Client({"cmd", "SET", "k", "v"}).out, "OK\n");
  EXPECT_EQ(Client({"cmd", "GET", "k"}).out, "v\n");
  EXPECT_EQ(Client({"cmd", "GET", "nope"}).out, "(nil)\n");
  EXPECT_EQ(Client({"cmd", "INCRBY", "n", "-5"}).out, "-5\n");
  EXPECT_EQ(Client({"cmd", "MGET", "k", "nope", "k"}).out, "v\n(nil)\nv\n");
  EXPECT_EQ(Client({"cmd", "--", "SET", "dash", "-x"}).exit_code, 0);
  EXPECT_EQ(Client({"get", "dash"}).out, "-x\n");
  CommandResult r = Client({"cmd", "NOSUCHCOMMAND", "a"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, ::testing::StartsWith("ERR unknown command 'NOSUCHCOMMAND'"));
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  r = Client({"cmd", "GET"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "ERR wrong number of arguments for 'get' command\n");
}

TEST_F(ClientCommandsTest, DbSelectsTheDatabaseForEveryCommand) {
  ASSERT_EQ(Client({"set", "k", "zero"}).exit_code, 0);
  EXPECT_EQ(Client({"--db", "1", "get", "k"}).out, "Key not found\n");
  ASSERT_EQ(Client({"--db", "1", "set", "k", "one"}).exit_code, 0);
  EXPECT_EQ(Client({"--db", "1", "get", "k"}).out, "one\n");
  EXPECT_EQ(Client({"get", "k"}).out, "zero\n");
  EXPECT_EQ(Client({"--db", "1", "incr", "n"}).out, "1\n");
  EXPECT_EQ(Client({"--db", "1", "dbsize"}).out, "2\n");
  ASSERT_EQ(Client({"--db", "1", "flushdb"}).exit_code, 0);
  EXPECT_EQ(Client({"--db", "1", "dbsize"}).out, "0\n");
  EXPECT_EQ(Client({"dbsize"}).out, "1\n");
  // The database stays selected across scan's steps.
  ASSERT_EQ(Client({"--db", "2", "mset", "x", "1", "y", "2"}).exit_code, 0);
  std::vector<std::string> lines = Lines(Client({"--db", "2", "scan", "--count", "1"}).out);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()), (std::set<std::string>{"x", "y"}));
}

TEST_F(ClientCommandsTest, ARefusedSelectRunsNothing) {
  ASSERT_EQ(Client({"set", "k", "v"}).exit_code, 0);
  CommandResult r = Client({"--db", "99", "flushdb"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "ERR DB index is out of range\n");
  EXPECT_EQ(Client({"get", "k"}).out, "v\n");
}

// Also needs AUTH (kvs-server --requirepass-file).
TEST_F(ClientCommandsTest, PasswordFromFileOrEnvironment) {
  const std::string password_path = scratch_.File("requirepass");
  std::ofstream(password_path) << "s3cret\n";
  kvs::testing::TempDir data;
  const int port = FreePort();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  ServerProcess server(
      {"--addr", addr, "--data-dir", data.path(), "--requirepass-file", password_path});
  ASSERT_TRUE(WaitForPort(port)) << server.Stderr();
  const std::string client = BinPath("kvs-client");

  CommandResult r = RunCommand({client, "--addr", addr, "get", "k"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOAUTH"));
  r = RunCommand({client, "--addr", addr, "--password-file", password_path, "set", "k", "v"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand({client, "--addr", addr, "get", "k"}, {"KVS_PASSWORD=s3cret"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v\n");
  r = RunCommand({client, "--addr", addr, "dbsize"}, {"KVS_PASSWORD=wrong"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("WRONGPASS"));
  EXPECT_TRUE(OneLine(r.err)) << r.err;
}

}  // namespace
}  // namespace kvs::e2e
