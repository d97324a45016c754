// kvs-server's command line (cli/server_config.h): defaults, every flag and its KVS_*
// variable, the flag beating the variable, and the exact error texts of bad values.
#include "server_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace kvs::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kVersion = "kvs 9.9.9-test";

// Every test starts with no KVS_* variable set (the ones of the caller's environment are
// put back afterwards) and sets its own with SetEnv.
class ServerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      if (!entry.starts_with("KVS_")) continue;
      const size_t eq = entry.find('=');
      saved_.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    for (const auto& [name, value] : saved_) ::unsetenv(name.c_str());
  }
  void TearDown() override {
    for (const std::string& name : set_) ::unsetenv(name.c_str());
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }

  void SetEnv(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    set_.push_back(name);
  }

  static Result<Config> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "kvs-server");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return ParseConfig(static_cast<int>(argv.size()), argv.data(), kVersion);
  }
  // The error text of a command line that must be refused.
  static std::string Error(std::vector<std::string> args) {
    Result<Config> c = Parse(std::move(args));
    if (c.ok()) return "(accepted)";
    EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
    return std::string(c.status().message());
  }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
  std::vector<std::string> set_;
};

constexpr const char* kPeers = "1=127.0.0.1:4001/127.0.0.1:5001,2=127.0.0.1:4002/127.0.0.1:5002";

// ---- Defaults ----------------------------------------------------------------------------

TEST_F(ServerConfigTest, NoFlagsGiveTheDocumentedDefaults) {
  Result<Config> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->print_and_exit.has_value());
  EXPECT_EQ(c->server.addr.ToString(), "127.0.0.1:4000");
  EXPECT_EQ(c->engine, "");  // the data directory's, else kvs
  EXPECT_EQ(c->store.data_dir, ".");
  EXPECT_EQ(c->store.fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(c->server.fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(c->store.sync_interval_ms, 1000u);
  EXPECT_EQ(c->store.segment_bytes, uint64_t{67108864});
  EXPECT_EQ(c->store.compaction_min_dead_bytes, Options{}.compaction_min_dead_bytes);
  EXPECT_EQ(c->store.compaction_dead_ratio, Options{}.compaction_dead_ratio);
  EXPECT_EQ(c->store.zero_fill_ahead_bytes, Options{}.zero_fill_ahead_bytes);
  EXPECT_FALSE(c->store.repair);
  EXPECT_EQ(c->server.log_write, LogWritePath::kAuto);
  EXPECT_EQ(c->server.loop_reads, ServerConfig{}.loop_reads);
  EXPECT_EQ(c->server.max_clients, 10000u);
  EXPECT_EQ(c->server.idle_timeout_s, 300u);
  EXPECT_EQ(c->server.version, kVersion);
  EXPECT_EQ(c->pool, PoolKind::kStealing);
  EXPECT_EQ(c->threads, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_FALSE(c->cluster_mode());
  EXPECT_EQ(c->raft.id, 0u);
  EXPECT_TRUE(c->raft.peers.empty());
  EXPECT_FALSE(c->raft.join);
  const raft::NodeOptions raft_defaults;
  EXPECT_EQ(c->raft.election_timeout_ms, raft_defaults.election_timeout_ms);
  EXPECT_EQ(c->raft.heartbeat_timeout_ms, raft_defaults.heartbeat_timeout_ms);
  EXPECT_TRUE(c->raft.pre_vote);
  EXPECT_EQ(c->raft.snapshot_threshold, raft_defaults.snapshot_threshold);
  EXPECT_EQ(c->raft.snapshot_trailing, raft_defaults.snapshot_trailing);
}

TEST_F(ServerConfigTest, HelpAndVersionArePrintedNotRun) {
  Result<Config> help = Parse({"--help"});
  ASSERT_TRUE(help.ok()) << help.status().ToString();
  ASSERT_TRUE(help->print_and_exit.has_value());
  EXPECT_THAT(*help->print_and_exit, HasSubstr("kvs-server: a durable key-value server"));
  EXPECT_THAT(*help->print_and_exit, HasSubstr("--segment-bytes"));
  EXPECT_THAT(*help->print_and_exit, HasSubstr("KVS_SEGMENT_BYTES"));

  for (const char* flag : {"-V", "--version"}) {
    Result<Config> version = Parse({flag});
    ASSERT_TRUE(version.ok()) << version.status().ToString();
    EXPECT_EQ(version->print_and_exit, std::string(kVersion) + "\n") << flag;
  }
}

// ---- Every flag, and its variable --------------------------------------------------------

// One flag or variable: its name, a value other than the default, and the check that the
// value arrived in the Config.
struct FlagCase {
  std::string flag;
  std::string value;
  std::function<void(const Config&)> check;
};

std::vector<FlagCase> EveryFlag() {
  return {
      {"--addr", "[::1]:4100",
       [](const Config& c) { EXPECT_EQ(c.server.addr.ToString(), "[::1]:4100"); }},
      {"--engine", "rocksdb", [](const Config& c) { EXPECT_EQ(c.engine, "rocksdb"); }},
      {"--data-dir", "/var/lib/kvs",
       [](const Config& c) { EXPECT_EQ(c.store.data_dir, "/var/lib/kvs"); }},
      {"--fsync", "periodic",
       [](const Config& c) {
         EXPECT_EQ(c.store.fsync, FsyncPolicy::kPeriodic);
         EXPECT_EQ(c.server.fsync, FsyncPolicy::kPeriodic);
       }},
      {"--sync-interval-ms", "250",
       [](const Config& c) { EXPECT_EQ(c.store.sync_interval_ms, 250u); }},
      {"--segment-bytes", "4096", [](const Config& c) { EXPECT_EQ(c.store.segment_bytes, 4096u); }},
      {"--compact-min-dead-bytes", "12345",
       [](const Config& c) { EXPECT_EQ(c.store.compaction_min_dead_bytes, 12345u); }},
      {"--compact-dead-ratio", "0.25",
       [](const Config& c) { EXPECT_EQ(c.store.compaction_dead_ratio, 0.25); }},
      {"--zero-fill-ahead", "0",
       [](const Config& c) { EXPECT_EQ(c.store.zero_fill_ahead_bytes, 0u); }},
      {"--log-write", "uring",
       [](const Config& c) { EXPECT_EQ(c.server.log_write, LogWritePath::kUring); }},
      {"--loop-reads", "0", [](const Config& c) { EXPECT_EQ(c.server.loop_reads, 0u); }},
      {"--threads", "3", [](const Config& c) { EXPECT_EQ(c.threads, 3u); }},
      {"--pool", "shared", [](const Config& c) { EXPECT_EQ(c.pool, PoolKind::kShared); }},
      {"--max-clients", "7", [](const Config& c) { EXPECT_EQ(c.server.max_clients, 7u); }},
      {"--idle-timeout", "0", [](const Config& c) { EXPECT_EQ(c.server.idle_timeout_s, 0u); }},
      {"--raft-election-ms", "700",
       [](const Config& c) { EXPECT_EQ(c.raft.election_timeout_ms, 700u); }},
      {"--raft-heartbeat-ms", "70",
       [](const Config& c) { EXPECT_EQ(c.raft.heartbeat_timeout_ms, 70u); }},
      {"--raft-pre-vote", "off", [](const Config& c) { EXPECT_FALSE(c.raft.pre_vote); }},
      {"--raft-snapshot-threshold", "100",
       [](const Config& c) { EXPECT_EQ(c.raft.snapshot_threshold, 100u); }},
      {"--raft-snapshot-trailing", "10",
       [](const Config& c) { EXPECT_EQ(c.raft.snapshot_trailing, 10u); }},
  };
}

// "--sync-interval-ms" -> "KVS_SYNC_INTERVAL_MS"
std::string EnvName(const std::string& flag) {
  std::string name = "KVS_";
  for (char ch : flag.substr(2)) name += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return name;
}

TEST_F(ServerConfigTest, EveryFlagIsRead) {
  for (const FlagCase& f : EveryFlag()) {
    SCOPED_TRACE(f.flag);
    Result<Config> c = Parse({f.flag, f.value});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    f.check(*c);
  }
}

TEST_F(ServerConfigTest, EveryFlagComesFromItsVariableToo) {
  for (const FlagCase& f : EveryFlag()) {
    SCOPED_TRACE(EnvName(f.flag));
    SetEnv(EnvName(f.flag), f.value);
    Result<Config> c = Parse({});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    f.check(*c);
    ::unsetenv(EnvName(f.flag).c_str());
  }
}

TEST_F(ServerConfigTest, TheOtherEnumValuesAreRead) {
  Result<Config> c = Parse({"--fsync", "never", "--log-write", "inline", "--pool", "tbb"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store.fsync, FsyncPolicy::kNever);
  EXPECT_EQ(c->server.log_write, LogWritePath::kInline);
  EXPECT_EQ(c->pool, PoolKind::kTbb);
}

TEST_F(ServerConfigTest, RepairIsAFlagAndAVariable) {
  Result<Config> flag = Parse({"--repair"});
  ASSERT_TRUE(flag.ok()) << flag.status().ToString();
  EXPECT_TRUE(flag->store.repair);
  SetEnv("KVS_REPAIR", "true");
  Result<Config> env = Parse({});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_TRUE(env->store.repair);
}

TEST_F(ServerConfigTest, ClusterFlagsMakeClusterMode) {
  Result<Config> c = Parse({"--node-id", "2", "--peers", kPeers, "--join"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->cluster_mode());
  EXPECT_EQ(c->raft.id, 2u);
  EXPECT_TRUE(c->raft.join);
  ASSERT_EQ(c->raft.peers.size(), 2u);
  EXPECT_EQ(c->raft.peers[1].ToString(), "2=127.0.0.1:4002/127.0.0.1:5002");
}

TEST_F(ServerConfigTest, ClusterModeComesFromTheEnvironmentToo) {
  SetEnv("KVS_NODE_ID", "1");
  SetEnv("KVS_PEERS", kPeers);
  SetEnv("KVS_JOIN", "1");
  Result<Config> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->cluster_mode());
  EXPECT_EQ(c->raft.id, 1u);
  EXPECT_EQ(c->raft.peers.size(), 2u);
  EXPECT_TRUE(c->raft.join);
}

TEST_F(ServerConfigTest, TheFlagBeatsItsVariable) {
  SetEnv("KVS_ADDR", "127.0.0.1:5000");
  SetEnv("KVS_FSYNC", "never");
  SetEnv("KVS_SEGMENT_BYTES", "8192");
  SetEnv("KVS_ENGINE", "rocksdb");
  Result<Config> c = Parse({"--addr", "127.0.0.1:6000", "--fsync", "periodic", "--segment-bytes",
                            "16384", "--engine", "kvs"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.addr.ToString(), "127.0.0.1:6000");
  EXPECT_EQ(c->store.fsync, FsyncPolicy::kPeriodic);
  EXPECT_EQ(c->store.segment_bytes, 16384u);
  EXPECT_EQ(c->engine, "kvs");
  // A variable whose flag is not given still counts.
  SetEnv("KVS_MAX_CLIENTS", "9");
  Result<Config> mixed = Parse({"--addr", "127.0.0.1:6000"});
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_EQ(mixed->server.max_clients, 9u);
  EXPECT_EQ(mixed->store.fsync, FsyncPolicy::kNever);
}

// ---- Bad values: the texts kvs-server prints ---------------------------------------------

TEST_F(ServerConfigTest, ABadAddressIsNamed) {
  EXPECT_EQ(Error({"--addr", "not-an-address"}),
            "invalid address 'not-an-address': expected IP:PORT");
  EXPECT_EQ(Error({"--addr", "127.0.0.1:99999"}),
            "invalid address '127.0.0.1:99999': the port must be a number from 0 to 65535");
}

TEST_F(ServerConfigTest, AnUnknownEngineIsNamed) {
  EXPECT_EQ(Error({"--engine", "leveldb"}), "unknown engine 'leveldb' (expected kvs or rocksdb)");
}

TEST_F(ServerConfigTest, AnUnknownFsyncPolicyIsNamed) {
  EXPECT_EQ(Error({"--fsync", "sometimes"}),
            "unknown fsync policy 'sometimes' (expected always, periodic or never)");
}

TEST_F(ServerConfigTest, AnUnknownPoolIsNamed) {
  EXPECT_EQ(Error({"--pool", "fifo"}),
            "unknown thread pool 'fifo' (accepted: stealing, shared, tbb)");
}

TEST_F(ServerConfigTest, BadVariablesGiveTheSameErrorsAsBadFlags) {
  SetEnv("KVS_FSYNC", "sometimes");
  EXPECT_EQ(Error({}), "unknown fsync policy 'sometimes' (expected always, periodic or never)");
  ::unsetenv("KVS_FSYNC");
  SetEnv("KVS_ENGINE", "leveldb");
  EXPECT_EQ(Error({}), "unknown engine 'leveldb' (expected kvs or rocksdb)");
  ::unsetenv("KVS_ENGINE");
  SetEnv("KVS_SEGMENT_BYTES", "10");
  EXPECT_THAT(Error({}), HasSubstr("(see --help)"));
}

TEST_F(ServerConfigTest, CliErrorsPointToHelp) {
  // CLI11's own text, then the hint.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--bogus-flag"},
           {"--compact-dead-ratio", "5"},
           {"--compact-min-dead-bytes", "lots"},
           {"--segment-bytes", "100"},
           {"--threads", "0"},
           {"--max-clients", "0"},
           {"--log-write", "sideways"},
           {"--sync-interval-ms", "0"},
           {"--node-id", "0"},
           {"--raft-heartbeat-ms", "1"},
       }) {
    const std::string error = Error(args);
    EXPECT_THAT(error, ::testing::EndsWith(" (see --help)")) << args[0];
    EXPECT_THAT(error, ::testing::Not(StartsWith(" "))) << args[0];
  }
  EXPECT_THAT(Error({"--bogus-flag"}), HasSubstr("--bogus-flag"));
  EXPECT_THAT(Error({"--compact-dead-ratio", "5"}), HasSubstr("--compact-dead-ratio"));
}

TEST_F(ServerConfigTest, ClusterFlagsGoTogether) {
  EXPECT_EQ(Error({"--node-id", "1"}), "--node-id and --peers go together (cluster mode)");
  EXPECT_EQ(Error({"--peers", kPeers}), "--node-id and --peers go together (cluster mode)");
  EXPECT_EQ(Error({"--join"}), "--join needs --node-id and --peers (cluster mode)");
  EXPECT_EQ(Error({"--node-id", "3", "--peers", kPeers}),
            "--node-id 3 is not one of the nodes in --peers");
  EXPECT_EQ(Error({"--node-id", "1", "--peers", "1=127.0.0.1:4001"}),
            "peer \"1=127.0.0.1:4001\": expected ID=CLIENT_ADDR/RAFT_ADDR");
}

}  // namespace
}  // namespace kvs::cli
