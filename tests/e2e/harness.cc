#include "e2e/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace kvs::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    // The binaries under test get only the KVS_* settings a test gives them, and never
    // report to a service manager that happens to run the tests (ctest under systemd).
    if (kv.rfind("KVS_", 0) == 0 || kv.rfind("NOTIFY_SOCKET=", 0) == 0 ||
        kv.rfind("JOURNAL_STREAM=", 0) == 0 || kv.rfind("WATCHDOG_", 0) == 0) {
      continue;
    }
    env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

int DecodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::optional<int> WaitPid(pid_t pid, int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return DecodeWait(status);
    if (r < 0) return -1;
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string TempPath(const char* tag) {
  std::string tmpl =
      std::string(::getenv("TMPDIR") ? ::getenv("TMPDIR") : "/tmp") + "/kvs-e2e-" + tag + "-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  ::close(fd);
  return tmpl;
}

}  // namespace

std::string BinPath(const std::string& name) { return std::string(KVS_BIN_DIR) + "/" + name; }

CommandResult RunCommand(const std::vector<std::string>& argv_in,
                         const std::vector<std::string>& env_extra, int timeout_s) {
  std::string out_path = TempPath("out"), err_path = TempPath("err");
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = Environment(env_extra);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_TRUNC);
    int err = ::open(err_path.c_str(), O_WRONLY | O_TRUNC);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  CommandResult r;
  std::optional<int> code = WaitPid(pid, timeout_s);
  if (!code) {
    ::kill(pid, SIGKILL);
    code = WaitPid(pid, 10);
  }
  r.exit_code = code.value_or(-SIGKILL);
  r.out = ReadFileText(out_path);
  r.err = ReadFileText(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool WaitForPort(int port, int timeout_s, const std::string& host) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    Conn c(port, host);
    if (c.ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

ServerProcess::ServerProcess(const std::vector<std::string>& args,
                             const std::vector<std::string>& env_extra,
                             const std::vector<std::string>& launcher) {
  err_path_ = TempPath("server");
  std::vector<std::string> argv = launcher;
  argv.push_back(BinPath("kvs-server"));
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = Environment(env_extra);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_ = ::fork();
  if (pid_ == 0) {
    int err = ::open(err_path_.c_str(), O_WRONLY | O_TRUNC);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(err, 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
}

ServerProcess::~ServerProcess() {
  if (running()) Stop(SIGTERM, 20);
  if (running()) Stop(SIGKILL, 10);
  ::unlink(err_path_.c_str());
}

bool ServerProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = DecodeWait(status);
    return false;
  }
  return r == 0;
}

std::optional<int> ServerProcess::WaitExit(int timeout_s) {
  if (exit_code_) return exit_code_;
  exit_code_ = WaitPid(pid_, timeout_s);
  return exit_code_;
}

int ServerProcess::Stop(int sig, int timeout_s) {
  if (!running()) return exit_code_.value_or(-1);
  ::kill(pid_, sig);
  std::optional<int> code = WaitExit(timeout_s);
  if (!code) {
    ::kill(pid_, SIGKILL);
    code = WaitExit(10);
  }
  return code.value_or(-SIGKILL);
}

std::string ServerProcess::Stderr() const { return ReadFileText(err_path_); }

Conn::Conn(int port, const std::string& host) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Conn::~Conn() {
  if (fd_ >= 0) ::close(fd_);
}

void Conn::Send(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    sent += static_cast<size_t>(n);
  }
}

void Conn::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool Conn::Fill(int timeout_s) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_s * 1000) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    peer_closed_ = n == 0 || errno != EINTR;
    return false;
  }
  buf_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> Conn::ReadLine(int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (Clock::now() > deadline || !Fill(timeout_s)) return std::nullopt;
  }
}

std::optional<std::string> Conn::ReadN(size_t n, int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (buf_.size() < n) {
    if (Clock::now() > deadline || !Fill(timeout_s)) return std::nullopt;
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

std::string Conn::ReadAll(int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline && Fill(timeout_s)) {
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

std::string SetJson(const std::string& key, const std::string& value) {
  return fmt::format(R"({{"op":"set","key":"{}","value":"{}"}})", key, value) + "\n";
}
std::string GetJson(const std::string& key, bool stale) {
  return fmt::format(R"({{"op":"get","key":"{}"{}}})", key, stale ? R"(,"stale":true)" : "") + "\n";
}
std::string RmJson(const std::string& key) {
  return fmt::format(R"({{"op":"rm","key":"{}"}})", key) + "\n";
}
std::string ValueReply(const std::string& value) {
  return R"({"ok":true,"value":")" + value + "\"}";
}

std::optional<std::string> ValueOf(const std::string& reply) {
  const std::string marker = R"({"ok":true,"value":")";
  if (reply.rfind(marker, 0) != 0) return std::nullopt;
  const size_t end = reply.find('"', marker.size());
  return reply.substr(marker.size(), end - marker.size());
}

bool IsOk(const std::string& reply) { return reply == R"({"ok":true})"; }

std::string RespCommand(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

std::string Conn::ReadReply(int timeout_s) {
  std::optional<std::string> line = ReadLine(timeout_s);
  if (!line) return "";
  std::string out = *line + "\n";
  const bool counted = !line->empty() && ((*line)[0] == '$' || (*line)[0] == '*');
  const long n = counted ? std::stol(line->substr(1)) : -1;
  if ((*line)[0] == '$' && n >= 0) {
    out += ReadN(static_cast<size_t>(n) + 2, timeout_s).value_or("");
  } else if ((*line)[0] == '*') {
    for (long i = 0; i < n; ++i) out += ReadReply(timeout_s);
  }
  return out;
}

std::optional<uint64_t> InfoNumber(int port, const std::string& field, int timeout_s) {
  Conn c(port);
  if (!c.ok()) return std::nullopt;
  c.Send("*1\r\n$4\r\nINFO\r\n");
  std::optional<std::string> header = c.ReadLine(timeout_s);  // "$<length>\r"
  if (!header || !header->starts_with("$")) return std::nullopt;
  const size_t length = std::strtoull(header->c_str() + 1, nullptr, 10);
  std::optional<std::string> body = c.ReadN(length + 2, timeout_s);
  if (!body) return std::nullopt;
  const std::string text = "\r\n" + *body;
  const size_t at = text.find("\r\n" + field + ":");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(text.c_str() + at + 2 + field.size() + 1, nullptr, 10);
}

}  // namespace kvs::e2e
