#include "client_connection.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "proto/request_encoder.h"

namespace kvs::client {

namespace {

// A reply this large is refused rather than held (MGET of many maximal values, KEYS of a
// huge keyspace; a JSON string may be escaped to 6 bytes per byte).
constexpr size_t kMaxReplyBytes = size_t{1} << 30;
// Cluster mode: how often a "not leader" reply is followed, and the wait while an election
// is under way (about a second) and no leader is known.
constexpr int kMaxAttempts = 60;
constexpr auto kNoLeaderWait = std::chrono::milliseconds(100);

// A connected socket, or -1 with errno set.
int TryConnect(const kvs::Address& addr) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, addr.sa(), addr.len) == 0) return fd;
  const int err = errno;
  ::close(fd);
  errno = err;
  return -1;
}

kvs::Address AddressOrDie(std::string_view text) {
  kvs::Result<kvs::Address> addr = kvs::ParseAddress(text);
  if (!addr.ok()) Die(kExitError, fmt::format("bad leader address '{}' from server", text));
  return *addr;
}

// A "not leader" error names the leader in its own field (JSON) or after this phrase
// (RESP "-NOTLEADER not leader; the leader is ADDR", or "...; no leader is known yet").
constexpr std::string_view kLeaderIs = "the leader is ";
constexpr std::string_view kNotLeaderCode = "NOTLEADER ";

std::string LeaderInText(std::string_view text) {
  const size_t at = text.find(kLeaderIs);
  return at == std::string_view::npos ? std::string()
                                      : std::string(text.substr(at + kLeaderIs.size()));
}

// A JSON "not leader" reply: its leader's address ("" while none is known); else false.
bool JsonNotLeader(simdjson::dom::element reply, std::string* leader) {
  if (JsonOk(reply)) return false;
  const std::string error = JsonError(reply);
  if (error != "not leader" && error.rfind(kNotLeaderCode, 0) != 0) return false;
  std::string_view named;
  *leader =
      reply["leader"].get(named) == simdjson::SUCCESS ? std::string(named) : LeaderInText(error);
  return true;
}

bool RespNotLeader(const RespReply& reply, std::string* leader) {
  if (reply.type != '-' || reply.text.rfind(kNotLeaderCode, 0) != 0) return false;
  *leader = LeaderInText(reply.text);
  return true;
}

}  // namespace

void Die(int code, std::string_view msg) {
  fmt::print(stderr, "kvs-client: {}\n", msg);
  std::exit(code);
}

bool Reachable(const kvs::Address& addr) {
  const int fd = TryConnect(addr);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

bool JsonOk(simdjson::dom::element reply) {
  bool ok = false;
  return reply["ok"].get(ok) == simdjson::SUCCESS && ok;
}

std::string JsonError(simdjson::dom::element reply) {
  std::string_view text;
  if (reply["error"].get(text) != simdjson::SUCCESS || text.empty()) return "server error";
  return std::string(text);
}

ClientConnection::ClientConnection(const kvs::Address& addr, proto::Protocol protocol,
                                   const ConnectionOptions& options)
    : addr_(addr), protocol_(protocol), options_(options) {}

ClientConnection::~ClientConnection() { Close(); }

void ClientConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

void ClientConnection::Send(std::string_view bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Die(kExitError, fmt::format("sending to {}: {}", addr_.ToString(), std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
}

void ClientConnection::ReadAtLeast(size_t n) {
  char chunk[64 * 1024];
  while (buf_.size() < n) {
    if (buf_.size() > kMaxReplyBytes) Die(kExitError, "reply too large");
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      Die(kExitError, fmt::format("reading from {}: {}", addr_.ToString(), std::strerror(errno)));
    }
    if (got == 0) {
      Die(kExitError, fmt::format("{} closed the connection without a reply", addr_.ToString()));
    }
    buf_.append(chunk, static_cast<size_t>(got));
  }
}

size_t ClientConnection::ReadUntilNewline(size_t from) {
  for (;;) {
    const size_t nl = buf_.find('\n', from);
    if (nl != std::string::npos) return nl;
    from = buf_.size();
    ReadAtLeast(buf_.size() + 1);
  }
}

std::string ClientConnection::TakeJsonLine() {
  const size_t nl = ReadUntilNewline(0);
  std::string line = buf_.substr(0, nl);
  buf_.erase(0, nl + 1);
  return line;
}

RespReply ClientConnection::TakeRespReply() {
  const size_t nl = ReadUntilNewline(0);
  const size_t line_end = nl > 0 && buf_[nl - 1] == '\r' ? nl - 1 : nl;
  RespReply out;
  out.type = buf_[0];
  size_t consumed = nl + 1;
  if (out.type == '$') {
    out.nil = buf_.compare(1, 1, "-") == 0;
    if (!out.nil) {
      const size_t len = std::strtoull(buf_.c_str() + 1, nullptr, 10);
      ReadAtLeast(consumed + len + 2);
      out.text = buf_.substr(consumed, len);
      consumed += len + 2;
    }
  } else if (out.type == '+' || out.type == '-' || out.type == ':') {
    out.text = buf_.substr(1, line_end - 1);
  } else {
    Die(kExitError, fmt::format("unexpected reply from {}: {}", addr_.ToString(),
                                buf_.substr(0, std::min<size_t>(line_end, 200))));
  }
  buf_.erase(0, consumed);
  return out;
}

bool ClientConnection::Redirect(std::string_view leader) {
  if (++redirects_ >= kMaxAttempts) return false;
  Close();
  if (leader.empty()) {
    std::this_thread::sleep_for(kNoLeaderWait);
  } else {
    addr_ = AddressOrDie(leader);
  }
  return true;
}

bool ClientConnection::Open() {
  fd_ = TryConnect(addr_);
  if (fd_ < 0) {
    Die(kExitError,
        fmt::format("cannot connect to {}: {}", addr_.ToString(), std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  std::vector<std::vector<std::string_view>> preamble;
  if (!options_.password.empty()) preamble.push_back({"AUTH", options_.password});
  if (!options_.db.empty()) preamble.push_back({"SELECT", options_.db});
  if (options_.readonly && protocol_ == proto::Protocol::kResp) preamble.push_back({"READONLY"});
  if (preamble.empty()) return true;
  std::string bytes;
  for (const auto& argv : preamble) {
    proto::Request r;
    r.shape = protocol_ == proto::Protocol::kResp ? proto::Shape::kResp : proto::Shape::kJson;
    r.command = proto::Command::kRedis;
    r.argv = argv;
    proto::EncodeRequest(r, &bytes);
  }
  Send(bytes);
  for (size_t i = 0; i < preamble.size(); ++i) {
    std::string error, leader;
    bool not_leader = false;
    if (protocol_ == proto::Protocol::kJson) {
      simdjson::dom::element reply = ParseJsonReply(TakeJsonLine());
      if (JsonOk(reply)) continue;
      error = JsonError(reply);
      not_leader = JsonNotLeader(reply, &leader);
    } else {
      RespReply reply = TakeRespReply();
      if (reply.type != '-') continue;
      error = reply.text;
      not_leader = RespNotLeader(reply, &leader);
    }
    if (not_leader && Redirect(leader)) return false;
    fmt::print(stderr, "{}\n", error);
    std::exit(kExitError);
  }
  return true;
}

simdjson::dom::element ClientConnection::ParseJsonReply(const std::string& line) {
  simdjson::dom::element reply;
  if (parser_.parse(line).get(reply) != simdjson::SUCCESS || !reply.is_object()) {
    Die(kExitError, fmt::format("malformed reply from server: {}", line.substr(0, 200)));
  }
  bool ok = false;
  if (reply["ok"].get(ok) != simdjson::SUCCESS) Die(kExitError, "reply without \"ok\"");
  // The element lives in parser_ (dom copies every string), not in `line`.
  return reply;
}

simdjson::dom::element ClientConnection::CallJson(std::string_view line) {
  for (;;) {
    if (fd_ < 0 && !Open()) continue;
    Send(line);
    simdjson::dom::element reply = ParseJsonReply(TakeJsonLine());
    std::string leader;
    if (JsonNotLeader(reply, &leader) && Redirect(leader)) continue;
    return reply;
  }
}

RespReply ClientConnection::CallResp(const std::vector<std::string>& args) {
  const std::vector<std::string_view> argv(args.begin(), args.end());
  proto::Request r;
  r.shape = proto::Shape::kResp;
  r.command = proto::Command::kRedis;
  r.argv = argv;
  std::string request;
  proto::EncodeRequest(r, &request);
  for (;;) {
    if (fd_ < 0 && !Open()) continue;
    Send(request);
    RespReply reply = TakeRespReply();
    std::string leader;
    if (RespNotLeader(reply, &leader) && Redirect(leader)) continue;
    return reply;
  }
}

}  // namespace kvs::client
