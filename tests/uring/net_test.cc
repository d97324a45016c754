// Socket operations: an echo server through Accept + Recv + Send, EOF, Cancel, -ENOBUFS
// recovery with a tiny buffer ring, and accept under -EMFILE.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "uring/loop.h"

namespace kvs::uring {
namespace {

using namespace std::chrono_literals;
using testing::MakeLoop;
using testing::Pattern;
using testing::SmallOptions;

// An echo server on the loop: one Recv per connection, at most one Send in flight, the
// rest queued; closes a connection after its EOF once everything was echoed.
class EchoServer {
 public:
  EchoServer(Loop* loop, int listen_fd, int expected, int sndbuf)
      : loop_(loop), expected_(expected), sndbuf_(sndbuf) {
    accept_id_ = loop_->Accept(listen_fd, [this](int fd) { OnAccept(fd); });
  }
  int closed() const { return closed_; }
  int errors() const { return errors_; }
  int sends() const { return sends_; }

 private:
  struct Conn {
    int fd;
    std::string pending;
    bool sending = false;
    bool eof = false;
  };

  void OnAccept(int fd) {
    if (fd < 0) {
      ++errors_;
      return;
    }
    if (sndbuf_ > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf_, sizeof sndbuf_);
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    loop_->Recv(fd, [this, conn](int res, std::string_view data) {
      if (res > 0) {
        conn->pending.append(data);
        MaybeSend(conn);
      } else {
        if (res < 0) ++errors_;
        conn->eof = true;
        MaybeFinish(conn);
      }
    });
  }

  void MaybeSend(const std::shared_ptr<Conn>& conn) {
    if (conn->sending || conn->pending.empty()) return;
    conn->sending = true;
    ++sends_;
    const size_t size = conn->pending.size();
    loop_->Send(conn->fd, std::move(conn->pending), [this, conn, size](int res) {
      if (res != static_cast<int>(size)) ++errors_;
      conn->sending = false;
      MaybeSend(conn);
      MaybeFinish(conn);
    });
    conn->pending.clear();
  }

  void MaybeFinish(const std::shared_ptr<Conn>& conn) {
    if (!conn->eof || conn->sending || !conn->pending.empty()) return;
    loop_->Close(conn->fd);
    if (++closed_ == expected_) {
      loop_->Cancel(accept_id_);
      loop_->Stop();
    }
  }

  Loop* const loop_;
  const int expected_;
  const int sndbuf_;
  OpId accept_id_ = 0;
  int closed_ = 0;
  int errors_ = 0;
  int sends_ = 0;
};

// Many clients, each writing a large payload while reading the echo; the server's tiny
// SO_SNDBUF makes its sends short, so they must be resumed.
TEST(NetTest, EchoManyConnectionsLargePayloadsWithShortSends) {
  LoopOptions options = SmallOptions();
  options.buffer_count = 256;
  auto loop = MakeLoop(options);
  ASSERT_NE(loop, nullptr);
  testing::Listener listener;
  ASSERT_GE(listener.fd, 0);
  constexpr int kClients = 12;
  constexpr size_t kBytes = 1 << 20;
  EchoServer server(loop.get(), listener.fd, kClients, /*sndbuf=*/4096);

  std::vector<std::string> echoed(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      int fd = testing::Connect(listener.port);
      if (fd < 0) return;
      const std::string payload = Pattern(kBytes, static_cast<unsigned>(c));
      std::thread writer([&] {
        // Writes in odd-sized pieces so chunk boundaries vary.
        for (size_t off = 0; off < payload.size(); off += 7001) {
          if (!testing::WriteAll(fd, std::string_view(payload).substr(off, 7001))) break;
        }
        shutdown(fd, SHUT_WR);
      });
      echoed[c] = testing::ReadToEof(fd);
      writer.join();
      close(fd);
    });
  }
  ASSERT_TRUE(loop->Run().ok());
  for (auto& t : clients) t.join();
  EXPECT_EQ(server.closed(), kClients);
  EXPECT_EQ(server.errors(), 0);
  for (int c = 0; c < kClients; ++c) {
    ASSERT_EQ(echoed[c].size(), kBytes) << "client " << c;
    EXPECT_TRUE(echoed[c] == Pattern(kBytes, static_cast<unsigned>(c))) << "client " << c;
  }
}

TEST(NetTest, RecvDeliversDataThenEofThenNothing) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  ASSERT_TRUE(testing::WriteAll(sp.b, "hello"));
  close(sp.b);
  sp.b = -1;
  std::string got;
  std::vector<int> results;
  loop->Recv(sp.a, [&](int res, std::string_view data) {
    results.push_back(res);
    if (res > 0) got.append(data);
    if (res <= 0) loop->After(10ms, [&] { loop->Stop(); });  // room for a wrong extra call
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(got, "hello");
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results.back(), 0);
  EXPECT_EQ(std::count(results.begin(), results.end(), 0), 1);
}

TEST(NetTest, RecvReportsErrorOnNonSocket) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  int result = 1;
  loop->Recv(file.fd, [&](int res, std::string_view) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_LT(result, 0);
}

TEST(NetTest, CloseMakesThePeerSeeEof) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  int result = 1;
  loop->Recv(sp.b, [&](int res, std::string_view) {
    result = res;
    if (res <= 0) loop->Stop();
  });
  loop->Close(sp.a);
  sp.a = -1;
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, 0);
}

TEST(NetTest, SendEmptyCompletesWithZero) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  int result = -1;
  loop->Send(sp.a, std::string(), [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, 0);
}

TEST(NetTest, SendToClosedPeerFailsWithoutSigpipe) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  close(sp.b);
  sp.b = -1;
  int result = 0;
  loop->Send(sp.a, "data", [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, -EPIPE);
}

// A connection closed while its reply is half sent (the server closing a client that does
// not read): the rest of the reply must never go out on the fd number, which an accept may
// already have given to another client. Here that other client is a socket dup2'ed onto
// the number as soon as it is free, in the iteration that would resume the short send.
TEST(NetTest, ShortSendIsNeverResumedOnAClosedFdReusedByAnotherSocket) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair closing;  // .a: the connection being closed, .b: its client
  testing::SocketPair other;    // .a: lands on closing.a's number once that is free
  const int small = 4096;
  ASSERT_EQ(setsockopt(closing.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  const int fd = closing.a;
  closing.a = -1;  // the loop closes it
  int result = 1;
  bool reused = false;
  // 1 MiB into a small socket buffer: the first round goes out short. Close right away.
  loop->Send(fd, Pattern(1 << 20, 1), [&](int res) { result = res; });
  loop->Close(fd);
  loop->SetBeforeWait([&] {
    if (!reused && fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      ASSERT_EQ(dup2(other.a, fd), fd);
      reused = true;
    }
    char c;
    if (result != 1 || recv(other.b, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) loop->Stop();
  });
  // Only a bound, should the send never end: the checks below decide.
  loop->After(10s, [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run().ok());
  char c;
  EXPECT_LT(recv(other.b, &c, 1, MSG_DONTWAIT), 0) << "bytes of the closed connection's "
                                                      "reply reached the socket reusing its fd";
  EXPECT_LT(result, 0) << "a send cut short by Close cannot report success";
  // The loop closes the fd once nothing can resume on it any more.
  loop->SetBeforeWait([&] {
    if (reused || fcntl(fd, F_GETFD) < 0) loop->Stop();
  });
  loop->Post([] {});
  ASSERT_TRUE(loop->Run().ok());
  if (reused) close(fd);
  EXPECT_FALSE(reused) << "fd " << fd << " was closed while its send could still be resumed";
}

// Close while a send waits for a client that never reads: the send is pulled back, the fd
// is closed (not kept open for ever), and the client sees a prefix of the reply, then EOF.
TEST(NetTest, CloseCancelsASendWaitingForRoomThenClosesTheFd) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  const int small = 4096;
  ASSERT_EQ(setsockopt(sp.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  const int fd = sp.a;
  sp.a = -1;
  const std::string reply = Pattern(1 << 20, 2);
  int result = 1;
  loop->Send(fd, reply, [&](int res) { result = res; });
  // Next iteration: the first round came back short and the rest waits for room.
  loop->Post([&] { loop->Close(fd); });
  loop->SetBeforeWait([&] {
    if (result != 1 && fcntl(fd, F_GETFD) < 0) loop->Stop();
  });
  loop->After(10s, [&] { loop->Stop(); });  // a bound only
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, -ECANCELED);
  EXPECT_LT(fcntl(fd, F_GETFD), 0) << "fd " << fd << " still open";
  timeval limit = {.tv_sec = 10, .tv_usec = 0};
  ASSERT_EQ(setsockopt(sp.b, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
  const std::string got = testing::ReadToEof(sp.b);
  EXPECT_LT(got.size(), reply.size());
  EXPECT_TRUE(got == reply.substr(0, got.size()));
}

// Cancel from inside the callback with more data already queued in the socket: the
// callback is never called again, and the buffers still come back to the ring.
TEST(NetTest, CancelInsideCallbackWithDataPending) {
  LoopOptions options = SmallOptions();
  options.buffer_count = 4;
  options.buffer_size = 64;
  auto loop = MakeLoop(options);
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  ASSERT_TRUE(testing::WriteAll(sp.b, std::string(4096, 'a')));
  int calls = 0;
  OpId id = 0;
  id = loop->Recv(sp.a, [&](int res, std::string_view) {
    ++calls;
    EXPECT_GT(res, 0);
    loop->Cancel(id);
  });
  // More data after the cancel, then prove the ring still serves another socket.
  testing::SocketPair other;
  std::string got;
  loop->After(20ms, [&] {
    ASSERT_TRUE(testing::WriteAll(sp.b, std::string(4096, 'b')));
    ASSERT_TRUE(testing::WriteAll(other.b, Pattern(1000, 3)));
    close(other.b);
    other.b = -1;
    loop->Recv(other.a, [&](int res, std::string_view data) {
      if (res > 0) got.append(data);
      if (res <= 0) loop->Stop();
    });
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, Pattern(1000, 3));
}

// Cancel from outside (a timer) while the recv keeps receiving from a writer thread.
TEST(NetTest, CancelFromOutsideStopsCallbacksForGood) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::SocketPair sp;
  std::atomic<bool> stop_writer{false};
  std::thread writer([&] {
    while (!stop_writer) {
      if (!testing::WriteAll(sp.b, std::string(512, 'w'))) break;
      std::this_thread::sleep_for(100us);
    }
  });
  bool cancelled = false;
  int after_cancel = 0;
  int calls = 0;
  OpId id = loop->Recv(sp.a, [&](int res, std::string_view) {
    ++calls;
    if (cancelled) ++after_cancel;
    if (res <= 0) ADD_FAILURE() << "unexpected end " << res;
  });
  loop->After(20ms, [&] {
    loop->Cancel(id);
    cancelled = true;
    loop->After(30ms, [&] { loop->Stop(); });
  });
  ASSERT_TRUE(loop->Run().ok());
  stop_writer = true;
  shutdown(sp.a, SHUT_RDWR);  // unblocks the writer if the socket buffer filled up
  writer.join();
  EXPECT_EQ(after_cancel, 0);
}

// Four 64-byte buffers for sixteen streams: the ring runs dry at once (all data is queued
// before the loop starts), recvs end with -ENOBUFS and are re-armed once buffers come back.
// Nothing may be lost, duplicated or reordered, and -ENOBUFS is never reported.
TEST(NetTest, EnobufsRecoveryLosesAndReordersNothing) {
  LoopOptions options = SmallOptions();
  options.buffer_count = 4;
  options.buffer_size = 64;
  auto loop = MakeLoop(options);
  ASSERT_NE(loop, nullptr);
  constexpr int kStreams = 16;
  constexpr size_t kFirst = 8192;   // queued before Run: forces -ENOBUFS
  constexpr size_t kTotal = 65536;  // the rest comes from writer threads meanwhile
  std::vector<std::unique_ptr<testing::SocketPair>> pairs;
  std::vector<std::string> expected;
  std::vector<std::string> got(kStreams);
  int finished = 0;
  int bad_results = 0;
  for (int s = 0; s < kStreams; ++s) {
    pairs.push_back(std::make_unique<testing::SocketPair>());
    expected.push_back(Pattern(kTotal, static_cast<unsigned>(s)));
    ASSERT_TRUE(testing::WriteAll(pairs[s]->b, std::string_view(expected[s]).substr(0, kFirst)));
    loop->Recv(pairs[s]->a, [&, s](int res, std::string_view data) {
      if (res > 0) {
        if (data.size() != static_cast<size_t>(res) || data.size() > 64) ++bad_results;
        got[s].append(data);
      } else {
        if (res < 0) ++bad_results;
        if (++finished == kStreams) loop->Stop();
      }
    });
  }
  std::vector<std::thread> writers;
  for (int s = 0; s < kStreams; ++s) {
    writers.emplace_back([&, s] {
      std::string_view rest = std::string_view(expected[s]).substr(kFirst);
      while (!rest.empty()) {
        const size_t n = std::min<size_t>(rest.size(), 1000);
        if (!testing::WriteAll(pairs[s]->b, rest.substr(0, n))) break;
        rest.remove_prefix(n);
      }
      shutdown(pairs[s]->b, SHUT_WR);
    });
  }
  ASSERT_TRUE(loop->Run().ok());
  for (auto& w : writers) w.join();
  EXPECT_EQ(bad_results, 0);
  EXPECT_GT(loop->stats().enobufs, 0u);
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_EQ(got[s].size(), kTotal) << "stream " << s;
    EXPECT_TRUE(got[s] == expected[s]) << "stream " << s;
  }
}

// With the fd limit nearly reached, accept fails with -EMFILE (reported), backs off
// instead of spinning, and accepts the rest once fds are free again.
TEST(NetTest, AcceptRecoversFromEmfile) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::Listener listener;
  ASSERT_GE(listener.fd, 0);
  constexpr int kClients = 6;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = testing::Connect(listener.port);  // the kernel completes them in the backlog
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  // The lowest free fd number, below which every number is taken: a limit just above it
  // leaves room for exactly one more fd (open fds above the limit stay usable).
  int probe = dup(0);
  ASSERT_GE(probe, 0);
  int lowest_free = probe;
  close(probe);
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);

  std::vector<int> held;
  int accepted = 0;
  int emfile = 0;
  OpId id = 0;
  id = loop->Accept(listener.fd, [&](int fd) {
    if (fd >= 0) {
      ++accepted;
      held.push_back(fd);
      if (accepted == kClients) {
        loop->Cancel(id);
        loop->Stop();
      }
      return;
    }
    if (fd == -EMFILE || fd == -ENFILE) {
      ++emfile;
      // Make room: raise the limit back; the back-off timer re-arms the accept.
      setrlimit(RLIMIT_NOFILE, &old_limit);
      return;
    }
    ADD_FAILURE() << "accept error " << fd;
  });
  Status status = loop->Run();
  setrlimit(RLIMIT_NOFILE, &old_limit);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(accepted, kClients);
  EXPECT_GE(emfile, 1);
  for (int fd : held) close(fd);
  for (int fd : clients) close(fd);
}

}  // namespace
}  // namespace kvs::uring
