#include "compat/differential.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "compat/resp_reply.h"

namespace kvs::compat {

std::optional<std::string> FindRedisServer() {
  if (const char* env = std::getenv("KVS_REDIS_SERVER"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

RedisProcess::RedisProcess(const std::string& binary, int port) {
  std::vector<std::string> args{binary,   "--port", std::to_string(port), "--bind", "127.0.0.1",
                                "--save", "",       "--appendonly",       "no",     "--daemonize",
                                "no",     "--dir",  dir_.path()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_.File("redis.log");
  pid_ = ::fork();
  if (pid_ == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

RedisProcess::~RedisProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);  // nothing of it is kept: no need for a clean shutdown
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string RedisProcess::Log() const {
  std::ifstream f(dir_.File("redis.log"));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void DifferentialTest::SetUp() {
  const std::optional<std::string> redis = FindRedisServer();
  if (!redis) {
    GTEST_SKIP() << "redis-server not found on PATH (scripts/install-deps installs it; "
                    "KVS_REDIS_SERVER names another): the differential test needs it";
  }
  redis_port_ = e2e::FreePort();
  redis_ = std::make_unique<RedisProcess>(*redis, redis_port_);
  kvs_port_ = e2e::FreePort();
  // --fsync never: replies do not depend on durability, and the test stays fast.
  kvs_ = std::make_unique<e2e::ServerProcess>(
      std::vector<std::string>{"--addr", fmt::format("127.0.0.1:{}", kvs_port_), "--data-dir",
                               kvs_dir_.path(), "--fsync", "never"});
  ASSERT_TRUE(e2e::WaitForPort(redis_port_)) << redis_->Log();
  ASSERT_TRUE(e2e::WaitForPort(kvs_port_)) << kvs_->Stderr();
  Reconnect();
}

void DifferentialTest::Reconnect() {
  redis_conn_ = std::make_unique<e2e::Conn>(redis_port_);
  kvs_conn_ = std::make_unique<e2e::Conn>(kvs_port_);
  ASSERT_TRUE(redis_conn_->ok());
  ASSERT_TRUE(kvs_conn_->ok());
}

void DifferentialTest::SendOnly(const std::string& bytes) {
  redis_conn_->Send(bytes);
  kvs_conn_->Send(bytes);
}

Replies DifferentialTest::ReadBoth(const std::string& what) {
  Replies r{ReadReply(*redis_conn_), ReadReply(*kvs_conn_)};
  EXPECT_EQ(r.redis, r.kvs) << "request: " << what << "\n  redis: " << Escape(r.redis)
                            << "\n  kvs:   " << Escape(r.kvs);
  return r;
}

Replies DifferentialTest::SendBoth(const std::vector<std::string>& args) {
  std::string shown;
  for (const std::string& a : args) shown += (shown.empty() ? "" : " ") + Escape(a, 60);
  SendOnly(EncodeCommand(args));
  return ReadBoth(shown);
}

Replies DifferentialTest::SendRawBoth(const std::string& bytes, int replies) {
  SendOnly(bytes);
  Replies last;
  for (int i = 0; i < replies; ++i) {
    last = ReadBoth(fmt::format("raw {} (reply {} of {})", Escape(bytes), i + 1, replies));
  }
  return last;
}

void DifferentialTest::ExpectBothClose(const std::string& what) {
  const std::string redis = ReadUntilClosed(*redis_conn_);
  const std::string kvs = ReadUntilClosed(*kvs_conn_);
  EXPECT_EQ(redis, "<closed>") << what;
  EXPECT_EQ(kvs, redis) << "after " << what << "\n  redis: " << Escape(redis)
                        << "\n  kvs:   " << Escape(kvs);
}

}  // namespace kvs::compat
