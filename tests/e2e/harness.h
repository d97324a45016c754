// Black-box test harness: runs the real kvs binaries (build/bin) as child processes.
#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvs::e2e {

// Where the binaries under test are (set by CMake).
std::string BinPath(const std::string& name);

struct CommandResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) to completion with `env_extra` ("K=V") added to the
// environment; kills it after `timeout_s` seconds (exit_code then -SIGKILL).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env_extra = {}, int timeout_s = 30);

// A loopback TCP port nobody listens on right now.
int FreePort();

// True once something accepts TCP connections on host:port (polls up to timeout_s).
bool WaitForPort(int port, int timeout_s = 20, const std::string& host = "127.0.0.1");

// A running kvs-server. Stopped (SIGTERM, then SIGKILL after a grace period) on destruction.
class ServerProcess {
 public:
  // Starts build/bin/kvs-server with `args` and stderr captured to a file; `launcher` (e.g.
  // {"ip", "netns", "exec", "ns1"}) goes before it and must exec it in the same process.
  ServerProcess(const std::vector<std::string>& args,
                const std::vector<std::string>& env_extra = {},
                const std::vector<std::string>& launcher = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` and waits for the exit; returns the exit code (or -signal).
  int Stop(int sig = SIGTERM, int timeout_s = 20);
  // Waits without signalling (for a server expected to exit by itself).
  std::optional<int> WaitExit(int timeout_s);
  bool running();
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string err_path_;
};

// JSON requests (with their newline) and the simple replies the tests expect; test keys
// and values need no escaping.
std::string SetJson(const std::string& key, const std::string& value);
std::string GetJson(const std::string& key, bool stale = false);
std::string RmJson(const std::string& key);
// The reply of a GET that found `value`.
std::string ValueReply(const std::string& value);
// The "value" string of {"ok":true,"value":"..."}; nullopt for null or a non-ok reply.
std::optional<std::string> ValueOf(const std::string& reply);
bool IsOk(const std::string& reply);

// A RESP request: an array of bulk strings, as redis-cli sends it.
std::string RespCommand(const std::vector<std::string>& argv);

// The number INFO (over RESP) shows for `field`, e.g. "compactions"; nullopt when the server
// does not answer in time or has no such field.
std::optional<uint64_t> InfoNumber(int port, const std::string& field, int timeout_s = 10);

// A blocking TCP client for protocol tests.
class Conn {
 public:
  explicit Conn(int port, const std::string& host = "127.0.0.1");
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  bool ok() const { return fd_ >= 0; }
  void Send(const std::string& bytes);
  void ShutdownWrite();
  // Reads one line (without "\n"); nullopt on EOF/timeout.
  std::optional<std::string> ReadLine(int timeout_s = 10);
  // One whole RESP2 reply as sent (bulk strings and arrays read in full); "" on a timeout.
  std::string ReadReply(int timeout_s = 10);
  // Sends a RESP request and reads its reply.
  std::string Call(const std::vector<std::string>& argv) {
    Send(RespCommand(argv));
    return ReadReply();
  }
  // Reads exactly n bytes; nullopt on EOF/timeout.
  std::optional<std::string> ReadN(size_t n, int timeout_s = 10);
  // Everything until the server closes (or timeout).
  std::string ReadAll(int timeout_s = 10);
  // True once a read found the connection closed by the peer (EOF or reset), which tells
  // a close from a timeout after ReadAll.
  bool peer_closed() const { return peer_closed_; }

 private:
  bool Fill(int timeout_s);
  int fd_ = -1;
  std::string buf_;
  bool peer_closed_ = false;
};

}  // namespace kvs::e2e
