// Tests of ClientLoop against a fake RESP server on a loopback socket: what the expiry
// workloads put on the wire (session: SET EX and GET; ratelimit: INCR then EXPIRE of the
// same counter, pairs never split) and how their replies are counted.
#include "client_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "proto/decoder.h"
#include "workload.h"

namespace kvs::bench {
namespace {

// Accepts one connection and answers every RESP request as Redis would for these
// workloads (SET +OK, GET nil, INCR :1, EXPIRE `expire_reply`), recording each request's
// words, until the client closes.
class FakeServer {
 public:
  explicit FakeServer(std::string expire_reply = ":1\r\n")
      : expire_reply_(std::move(expire_reply)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(listen_fd_, 1), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    std::memcpy(&addr_, &a, sizeof a);
    addr_len_ = len;
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listen_fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  LoopOptions Options() const {
    LoopOptions o;
    o.addr = addr_;
    o.addr_len = addr_len_;
    o.protocol = proto::Protocol::kResp;
    o.connections = 1;
    o.keyspace = 1000;
    return o;
  }
  // REQUIRES: the client has closed (ClientLoop::Run returned); joins the server.
  const std::vector<std::vector<std::string>>& Requests() {
    thread_.join();
    return requests_;
  }

 private:
  void Serve() {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    proto::Decoder decoder(proto::Protocol::kResp);
    std::string in;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      std::string out;
      for (;;) {
        const proto::Decoded d = decoder.Next(in);
        if (d.status != proto::DecodeStatus::kRequest) break;
        std::vector<std::string> words(d.request.argv.begin(), d.request.argv.end());
        const std::string& name = words[0];
        out += name == "SET"      ? "+OK\r\n"
               : name == "GET"    ? "$-1\r\n"
               : name == "INCR"   ? ":1\r\n"
               : name == "EXPIRE" ? expire_reply_
                                  : "-ERR unknown\r\n";
        requests_.push_back(std::move(words));
        in.erase(0, d.consumed);
      }
      if (!out.empty() && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
    }
    ::close(fd);
  }

  const std::string expire_reply_;
  int listen_fd_ = -1;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  std::thread thread_;
  std::vector<std::vector<std::string>> requests_;
};

// --op ratelimit's options: `pipeline` pairs in flight, `commands` commands in all.
LoopOptions RateLimiter(const FakeServer& server, int pipeline, uint64_t commands) {
  LoopOptions o = server.Options();
  o.pipeline = pipeline;
  o.only = Op::kIncr;
  o.expire_after_incr = true;
  o.max_requests = commands;
  return o;
}

LoopStats RunLoop(const LoopOptions& o, size_t value_size) {
  const RequestTemplates templates(proto::Protocol::kResp, value_size, 1);
  ClientLoop loop(o, &templates);
  loop.Run();
  return loop.stats();
}

TEST(ClientLoop, RateLimiterSendsIncrThenExpireOfTheSameCounter) {
  FakeServer server;
  const LoopStats s = RunLoop(RateLimiter(server, 3, 40), 100);  // 6 commands in flight
  EXPECT_EQ(s.errors(), 0u) << s.first_error;
  EXPECT_EQ(s.incrs, 20u);
  EXPECT_EQ(s.expires, 20u);
  EXPECT_EQ(s.completed(), 40u);  // one request per command
  const auto& requests = server.Requests();
  ASSERT_EQ(requests.size(), 40u);
  for (size_t i = 0; i < requests.size(); i += 2) {
    ASSERT_EQ(requests[i].size(), 2u);
    EXPECT_EQ(requests[i][0], "INCR");
    EXPECT_EQ(requests[i][1].substr(0, kCounterPrefix.size()), kCounterPrefix);
    EXPECT_EQ(requests[i + 1], (std::vector<std::string>{"EXPIRE", requests[i][1], "60"}));
  }
}

TEST(ClientLoop, RateLimiterCountsExpireOfNoKeyAsWrong) {
  FakeServer server(":0\r\n");
  const LoopStats s = RunLoop(RateLimiter(server, 1, 4), 100);
  EXPECT_EQ(s.wrong_replies, 2u);
  EXPECT_EQ(s.first_error, "EXPIRE right after INCR of its counter answered :0 (expected :1)");
}

TEST(ClientLoop, SessionSendsSetExAndGet) {
  FakeServer server;
  LoopOptions o = server.Options();
  o.pipeline = 4;
  o.set_weight = 1;
  o.get_weight = 1;
  o.sets_with_ttl = true;
  o.max_requests = 200;
  const LoopStats s = RunLoop(o, 10);
  EXPECT_EQ(s.errors(), 0u) << s.first_error;
  EXPECT_EQ(s.sets + s.gets, 200u);
  EXPECT_GT(s.sets, 50u);
  EXPECT_GT(s.gets, 50u);
  EXPECT_EQ(s.get_misses, s.gets);
  size_t sets = 0;
  for (const auto& words : server.Requests()) {
    if (words[0] == "SET") {
      ++sets;
      ASSERT_EQ(words.size(), 5u);
      EXPECT_EQ(words[1].substr(0, kKeyPrefix.size()), kKeyPrefix);
      EXPECT_EQ(words[2].size(), 10u);
      EXPECT_EQ(words[3], "EX");
      EXPECT_EQ(words[4], "60");
    } else {
      EXPECT_EQ(words[0], "GET");
      EXPECT_EQ(words.size(), 2u);
    }
  }
  EXPECT_EQ(sets, s.sets);
}

}  // namespace
}  // namespace kvs::bench
