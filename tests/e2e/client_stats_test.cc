// `kvs-client stats`: the server's INFO, fetched over RESP and printed as aligned
// "field: value" lines.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "e2e/server_fixture.h"

namespace kvs::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ClientStatsTest : public ServerTest {
 protected:
  void SetUp() override { server_ = Start(); }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ClientStatsTest, ShowsTheKeyCountAfterSets) {
  for (const char* key : {"a", "b", "c"}) ASSERT_EQ(Client({"set", key, "value"}).exit_code, 0);
  ASSERT_EQ(Client({"set", "a", "again"}).exit_code, 0);  // an overwrite is not a new key
  CommandResult r = Client({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::map<std::string, std::string> fields = StatsFields(r.out);
  EXPECT_EQ(fields["keys"], "3") << r.out;
  EXPECT_EQ(fields["engine"], "kvs");
  EXPECT_EQ(fields["write_batches"].empty(), false);
  EXPECT_NE(fields["live_bytes"], "0");
  EXPECT_NE(fields["dead_bytes"], "0") << "the overwritten value is dead";
}

TEST_F(ClientStatsTest, ShowsEveryOperatorCounter) {
  CommandResult r = Client({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> fields = StatsFields(r.out);
  for (const char* field :
       {"keys", "live_bytes", "dead_bytes", "segments", "compactions", "fsyncs", "write_batches",
        "mean_batch_ops", "inline_write_batches", "reads_on_loop", "reads_on_pool",
        "connected_clients", "total_connections_received", "uptime_in_seconds"}) {
    EXPECT_TRUE(fields.count(field)) << field << " missing from:\n" << r.out;
  }
  EXPECT_EQ(fields["keys"], "0");
  // Section headers and the Redis keyspace encoding are not shown.
  EXPECT_THAT(r.out, Not(HasSubstr("#")));
  EXPECT_THAT(r.out, Not(HasSubstr("db0")));
}

TEST_F(ClientStatsTest, ValuesAreAligned) {
  CommandResult r = Client({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  size_t column = std::string::npos;
  for (std::string line; std::getline(lines, line);) {
    size_t value = line.find_first_not_of(' ', line.find(':') + 1);
    if (column == std::string::npos) column = value;
    EXPECT_EQ(value, column) << line;
  }
  EXPECT_NE(column, std::string::npos) << "no output";
}

TEST_F(ClientStatsTest, ExtraArgumentsAreAUsageError) {
  CommandResult r = Client({"stats", "extra"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("kvs-client: "));
}

TEST(ClientStatsNoServerTest, AnUnreachableServerIsAnError) {
  CommandResult r = RunCommand(
      {BinPath("kvs-client"), "stats", "--addr", "127.0.0.1:" + std::to_string(FreePort())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("cannot connect"));
}

TEST(ClientStatsHelpTest, HelpMentionsStats) {
  CommandResult r = RunCommand({BinPath("kvs-client"), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("stats"));
  EXPECT_THAT(r.out, HasSubstr("INFO"));
}

}  // namespace
}  // namespace kvs::e2e
