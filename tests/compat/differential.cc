#include "compat/differential.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>
#include <thread>

#include "compat/diff_tables.h"
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

namespace {

bool EnvSet(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

// KVS_DIFF_PEER=redis: a second redis-server instead of kvs-server.
bool PeerIsRedis() {
  const char* v = std::getenv("KVS_DIFF_PEER");
  return v != nullptr && std::string_view(v) == "redis";
}

std::string Shown(const std::vector<std::string>& args) {
  std::string shown;
  for (const std::string& a : args) shown += (shown.empty() ? "" : " ") + Escape(a, 60);
  return shown;
}

}  // namespace

RedisProcess::RedisProcess(const std::string& binary, int port,
                           const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{binary,   "--port", std::to_string(port), "--bind", "127.0.0.1",
                                "--save", "",       "--appendonly",       "no",     "--daemonize",
                                "no",     "--dir",  dir_.path()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
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

ClientPair::ClientPair(DifferentialTest* test, int redis_port, int kvs_port)
    : test_(test), redis_(redis_port), kvs_(kvs_port) {}

void ClientPair::SendOnly(const std::string& bytes) {
  redis_.Send(bytes);
  kvs_.Send(bytes);
}

Replies ClientPair::Read(const std::string& what, Mask mask) {
  Replies r{ReadReply(redis_), ReadReply(kvs_)};
  test_->Compare(what, r, mask);
  return r;
}

Replies ClientPair::Send(const std::vector<std::string>& args, Mask mask) {
  SendOnly(EncodeCommand(args));
  return Read(Shown(args), mask);
}

Replies ClientPair::SendEach(const std::vector<std::string>& to_redis,
                             const std::vector<std::string>& to_kvs, Mask mask) {
  redis_.Send(EncodeCommand(to_redis));
  kvs_.Send(EncodeCommand(to_kvs));
  return Read(Shown(to_redis) + " / " + Shown(to_kvs), mask);
}

Replies ClientPair::SendRaw(const std::string& bytes, int replies) {
  SendOnly(bytes);
  Replies last;
  for (int i = 0; i < replies; ++i) {
    last = Read(fmt::format("raw {} (reply {} of {})", Escape(bytes), i + 1, replies));
  }
  return last;
}

void ClientPair::ExpectClose(const std::string& what) {
  // In a preview kvs may well keep the connection: no need to wait long for that.
  const Replies r{ReadUntilClosed(redis_), ReadUntilClosed(kvs_, test_->preview() ? 1 : 10)};
  EXPECT_EQ(r.redis, "<closed>") << what;
  test_->Compare("the close after " + what, r);
}

void DifferentialTest::Uses(std::initializer_list<std::string_view> groups) {
  if (EnvSet("KVS_DIFF_STRICT") || PeerIsRedis()) return;
  for (std::string_view g : groups) {
    if (Listed(g)) preview_groups_.emplace_back(g);
  }
}

bool DifferentialTest::Compare(const std::string& what, const Replies& replies, Mask mask) {
  ++compared_;
  const std::string redis = mask != nullptr ? mask(replies.redis) : replies.redis;
  const std::string kvs = mask != nullptr ? mask(replies.kvs) : replies.kvs;
  if (redis == kvs) return true;
  const std::string message = fmt::format("request: {}\n  redis: {}\n  {}:   {}", what,
                                          Escape(redis), peer_redis_ ? "peer" : "kvs", Escape(kvs));
  if (!preview()) {
    ADD_FAILURE() << message;
  } else if (differed_++ == 0) {
    first_difference_ = message;
  }
  return false;
}

void DifferentialTest::ExpectRedis(const Replies& replies, std::string_view bytes) {
  EXPECT_EQ(replies.redis, bytes) << "redis-server's reply is not the one this case pins "
                                     "down (Debian's Redis 7.0.15): "
                                  << Escape(replies.redis);
}

void DifferentialTest::SetUp() {
  const std::optional<std::string> redis = FindRedisServer();
  if (!redis) {
    GTEST_SKIP() << "redis-server not found on PATH (scripts/install-deps installs it; "
                    "KVS_REDIS_SERVER names another): the differential test needs it";
  }
  std::vector<std::string> redis_args;
  if (!options_.password.empty()) redis_args = {"--requirepass", options_.password};
  redis_port_ = e2e::FreePort();
  redis_ = std::make_unique<RedisProcess>(*redis, redis_port_, redis_args);
  kvs_port_ = e2e::FreePort();
  if (PeerIsRedis()) {
    peer_redis_ = std::make_unique<RedisProcess>(*redis, kvs_port_, redis_args);
  } else {
    // --fsync never: replies do not depend on durability, and the test stays fast.
    std::vector<std::string> args{"--addr",     fmt::format("127.0.0.1:{}", kvs_port_),
                                  "--data-dir", kvs_dir_.path(),
                                  "--fsync",    "never"};
    std::vector<std::string> env;
    if (options_.password_in_env) {
      env.push_back("KVS_REQUIREPASS=" + options_.password);
    } else if (!options_.password.empty()) {
      const std::string file = kvs_dir_.File("requirepass");
      std::ofstream(file, std::ios::binary) << options_.password;
      args.insert(args.end(), {"--requirepass-file", file});
    }
    kvs_ = std::make_unique<e2e::ServerProcess>(args, env);
  }
  ASSERT_TRUE(e2e::WaitForPort(redis_port_)) << redis_->Log();
  if (peer_redis_) {
    ASSERT_TRUE(e2e::WaitForPort(kvs_port_)) << peer_redis_->Log();
  } else {
    // Up to 20 s, but no longer once the server has exited (a flag it does not know).
    bool up = false;
    for (int i = 0; i < 1000 && !up && kvs_->running(); ++i) {
      up = e2e::Conn(kvs_port_).ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!up && preview()) {
      GTEST_SKIP() << "preview of " << fmt::format("{}", fmt::join(preview_groups_, ", "))
                   << " (listed in kNotYetImplemented): kvs-server did not start: "
                   << kvs_->Stderr();
    }
    ASSERT_TRUE(up) << kvs_->Stderr();
  }
  Reconnect();
}

void DifferentialTest::TearDown() {
  if (!preview() || IsSkipped() || compared_ == 0) return;
  const std::string groups = fmt::format("{}", fmt::join(preview_groups_, ", "));
  if (differed_ > 0) {
    GTEST_SKIP() << "preview of " << groups << " (listed in kNotYetImplemented): " << differed_
                 << " of " << compared_ << " replies differ; the first:\n"
                 << first_difference_;
  }
  std::cout << "note: every reply of this preview of " << groups
            << " matches Redis's: when the group's other cases do too, its line can leave "
               "kNotYetImplemented\n";
}

void DifferentialTest::Reconnect() {
  client_ = Connect();
  ASSERT_TRUE(client_->ok());
}

std::unique_ptr<ClientPair> DifferentialTest::Connect() {
  return std::make_unique<ClientPair>(this, redis_port_, kvs_port_);
}

}  // namespace kvs::compat
