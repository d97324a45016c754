// Helpers for the uring tests: sockets, temp files, a hang guard. Test-only.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "uring/loop.h"

namespace kvs::uring::testing {

// A connected AF_UNIX stream pair; closes what is still open.
struct SocketPair {
  int a = -1;
  int b = -1;
  SocketPair() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
      a = fds[0];
      b = fds[1];
    }
  }
  ~SocketPair() {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

// A TCP listener on 127.0.0.1, ephemeral port.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  explicit Listener(int backlog = 1024) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd, backlog) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "listener: " << strerror(errno);
      return;
    }
    port = ntohs(addr.sin_port);
  }
  ~Listener() {
    if (fd >= 0) close(fd);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
};

// A blocking client socket connected to 127.0.0.1:port, or -1.
inline int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until EOF (or error); returns what was read.
inline std::string ReadToEof(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Deterministic bytes that reveal loss, duplication and reordering: stream `id`, byte i.
inline std::string Pattern(size_t size, unsigned id) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 131 + i / 251 + id * 7) & 0xff);
  }
  return s;
}

// A file under $TMPDIR (or /tmp), removed at the end.
struct TempFile {
  std::string path;
  int fd = -1;
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir != nullptr ? dir : "/tmp") + "/kvs_uring_test_XXXXXX";
    fd = mkstemp(path.data());
    if (fd < 0) ADD_FAILURE() << "mkstemp: " << strerror(errno);
  }
  ~TempFile() {
    if (fd >= 0) close(fd);
    unlink(path.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

// A loop with a hang guard: if the test's own Stop never comes, fail and stop, so a bug
// shows up as a failure rather than a hung test. Not a pass/fail criterion by itself.
inline std::unique_ptr<Loop> MakeLoop(const LoopOptions& options = {}) {
  auto loop = Loop::Create(options);
  if (!loop.ok()) {
    ADD_FAILURE() << loop.status().ToString();
    return nullptr;
  }
  Loop* raw = loop->get();
  raw->After(std::chrono::seconds(90), [raw] {
    ADD_FAILURE() << "test did not finish: loop stopped by the hang guard";
    raw->Stop();
  });
  return std::move(loop).value();
}

inline LoopOptions SmallOptions() {
  LoopOptions o;
  o.sq_entries = 64;
  o.cq_entries = 1024;
  o.buffer_count = 64;
  o.buffer_size = 4096;
  return o;
}

}  // namespace kvs::uring::testing
