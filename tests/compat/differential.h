// The differential test's fixture: a real redis-server and the real kvs-server side by
// side, each on a free loopback port with a fresh temporary directory, and clients
// connected to both. The same bytes go to both; their replies must be the same bytes.
// The servers are started for each test and stopped at its end. Without a redis-server on
// PATH (scripts/install-deps installs Debian's) the test skips.
//
// KVS_DIFF_PEER=redis puts a second redis-server where kvs-server would be: every case
// must then pass strictly, which checks the cases themselves (deterministic, parsed, the
// masks right) against Redis alone.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compat/reply_mask.h"
#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::compat {

// Where redis-server is: $KVS_REDIS_SERVER, else the first on PATH; nullopt if none.
std::optional<std::string> FindRedisServer();

// A redis-server child process without persistence (replies do not depend on it) in a
// temporary directory, with `extra_args` appended; killed and reaped on destruction.
class RedisProcess {
 public:
  RedisProcess(const std::string& binary, int port,
               const std::vector<std::string>& extra_args = {});
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;
  // Its log (stdout), for failure messages.
  std::string Log() const;

 private:
  kvs::testing::TempDir dir_;
  pid_t pid_ = -1;
};

// What each server sent back for one request.
struct Replies {
  std::string redis;
  std::string kvs;
};

// How a test's servers are started (set in a fixture's constructor).
struct ServerOptions {
  // Non-empty: redis-server --requirepass, kvs-server --requirepass-file (a file holding
  // exactly these bytes, no newline) or, with password_in_env, KVS_REQUIREPASS.
  std::string password;
  bool password_in_env = false;
};

class DifferentialTest;

// One client of each server. Every reply pair goes through the test's comparison.
class ClientPair {
 public:
  ClientPair(DifferentialTest* test, int redis_port, int kvs_port);
  ClientPair(const ClientPair&) = delete;
  ClientPair& operator=(const ClientPair&) = delete;
  bool ok() const { return redis_.ok() && kvs_.ok(); }

  // Sends the command (encoded as RESP) to both servers, reads one reply from each and
  // compares them, after `mask` when given. Returns both replies (unmasked).
  Replies Send(const std::vector<std::string>& args, Mask mask = nullptr);
  // Like Send, but a different command to each (e.g. naming each server's client id).
  Replies SendEach(const std::vector<std::string>& to_redis, const std::vector<std::string>& to_kvs,
                   Mask mask = nullptr);
  // Sends raw bytes to both, reads `replies` replies from each and compares them.
  Replies SendRaw(const std::string& bytes, int replies = 1);
  // Sends without reading (a pipeline, a request split in two).
  void SendOnly(const std::string& bytes);
  // Reads one reply from each and compares them; `what` names the request.
  Replies Read(const std::string& what, Mask mask = nullptr);
  // Both servers must close the connection, with nothing more sent.
  void ExpectClose(const std::string& what);

 private:
  DifferentialTest* test_;
  e2e::Conn redis_;
  e2e::Conn kvs_;
};

class DifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Declares the groups of kNotYetImplemented (compat/diff_tables.h) this test exercises.
  // While any of them is listed (and KVS_DIFF_STRICT and KVS_DIFF_PEER are unset) the test
  // is a preview: differing replies are counted instead of failing, and the test ends
  // skipped, naming the first difference. Call it first in the test, or in a fixture's
  // constructor when the servers' options belong to the group.
  void Uses(std::initializer_list<std::string_view> groups);
  bool preview() const { return !preview_groups_.empty(); }

  // Compares one pair of replies (after `mask`): EXPECTs equality, or in a preview counts
  // the difference. True when they are equal.
  bool Compare(const std::string& what, const Replies& replies, Mask mask = nullptr);
  // Redis's reply must be these bytes: the cases pin down the surprising answers kvs is
  // held to, so that the reader sees them and a different redis-server is noticed.
  void ExpectRedis(const Replies& replies, std::string_view bytes);

  // The default client's calls (see ClientPair).
  Replies SendBoth(const std::vector<std::string>& args, Mask mask = nullptr) {
    return client_->Send(args, mask);
  }
  Replies SendEach(const std::vector<std::string>& to_redis, const std::vector<std::string>& to_kvs,
                   Mask mask = nullptr) {
    return client_->SendEach(to_redis, to_kvs, mask);
  }
  Replies SendRawBoth(const std::string& bytes, int replies = 1) {
    return client_->SendRaw(bytes, replies);
  }
  void SendOnly(const std::string& bytes) { client_->SendOnly(bytes); }
  Replies ReadBoth(const std::string& what, Mask mask = nullptr) {
    return client_->Read(what, mask);
  }
  void ExpectBothClose(const std::string& what) { client_->ExpectClose(what); }
  // A new default client (after one was closed).
  void Reconnect();
  // Another client of both servers (for WATCH, CLIENT KILL, CLIENT LIST).
  std::unique_ptr<ClientPair> Connect();

  ServerOptions options_;
  std::unique_ptr<RedisProcess> redis_;
  std::unique_ptr<RedisProcess> peer_redis_;  // KVS_DIFF_PEER=redis: in kvs's place
  std::unique_ptr<e2e::ServerProcess> kvs_;
  std::unique_ptr<ClientPair> client_;

 private:
  friend class ClientPair;

  kvs::testing::TempDir kvs_dir_;
  int redis_port_ = 0;
  int kvs_port_ = 0;
  std::vector<std::string> preview_groups_;
  int compared_ = 0;
  int differed_ = 0;
  std::string first_difference_;
};

}  // namespace kvs::compat
