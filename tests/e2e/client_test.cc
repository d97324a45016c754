// kvs-client's contract (DESIGN.md "kvs-client"), line by line, against a real kvs-server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

  CommandResult Client(std::vector<std::string> args) {
    args.insert(args.begin(), BinPath("kvs-client"));
    args.push_back("--addr");
    args.push_back(addr_);
    return RunCommand(args);
  }
  static bool OneLine(const std::string& s) {
    return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1;
  }

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

}  // namespace
}  // namespace kvs::e2e
