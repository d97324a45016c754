// The differential test's fixture: a real redis-server and the real kvs-server side by
// side, each on a free loopback port with a fresh temporary directory, and one client
// connection to each. The same bytes go to both; their replies must be the same bytes.
// The servers are started for each test and stopped at its end. Without a redis-server on
// PATH (scripts/install-deps installs Debian's) the test skips.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::compat {

// Where redis-server is: $KVS_REDIS_SERVER, else the first on PATH; nullopt if none.
std::optional<std::string> FindRedisServer();

// A redis-server child process without persistence (replies do not depend on it) in a
// temporary directory; killed and reaped on destruction.
class RedisProcess {
 public:
  RedisProcess(const std::string& binary, int port);
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

class DifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Sends the command (encoded as RESP) to both servers, reads one reply from each and
  // EXPECTs the same bytes. Returns both replies.
  Replies SendBoth(const std::vector<std::string>& args);
  // Sends raw bytes to both, reads `replies` replies from each and EXPECTs them equal.
  Replies SendRawBoth(const std::string& bytes, int replies = 1);
  // Sends without reading (a pipeline, a request split in two).
  void SendOnly(const std::string& bytes);
  // Reads one reply from each, EXPECTs the same bytes; `what` names the request.
  Replies ReadBoth(const std::string& what);
  // Both servers must close the connection, with nothing more sent.
  void ExpectBothClose(const std::string& what);
  // New connections to both (after one was closed).
  void Reconnect();

  std::unique_ptr<RedisProcess> redis_;
  std::unique_ptr<e2e::ServerProcess> kvs_;
  std::unique_ptr<e2e::Conn> redis_conn_;
  std::unique_ptr<e2e::Conn> kvs_conn_;

 private:
  kvs::testing::TempDir kvs_dir_;
  int redis_port_ = 0;
  int kvs_port_ = 0;
};

}  // namespace kvs::compat
