// kvs-client: set, get and remove keys on a kvs-server over its JSON protocol.
//
//   kvs-client set KEY VALUE [--addr IP:PORT]   prints nothing, exit 0
//   kvs-client get KEY [--addr IP:PORT]         prints the value, or "Key not found"; exit 0
//   kvs-client rm KEY [--addr IP:PORT]          prints nothing, exit 0; a missing key:
//                                               "Key not found" on stderr, exit 1
//   kvs-client stats [--addr IP:PORT]           prints the server's INFO as aligned
//                                               "field: value" lines
//   kvs-client get --stale KEY                  cluster: a follower may answer
//   kvs-client cluster status|add ID=C/R|remove ID   cluster membership (RESP CLUSTER)
// In cluster mode, a follower's "not leader" reply sends the client on to the leader.
// Usage errors, unreachable servers and server errors: one line on stderr, non-zero exit.

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proto/request.h"
#include "proto/request_encoder.h"
#include "proto/resp_codec.h"
#include "server/address.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitError = 1;
// A reply holds at most one 16 MiB value, escaped (up to 6 bytes per byte), plus framing.
constexpr size_t kMaxReplyBytes = 6 * (16u << 20) + 4096;

[[noreturn]] void Die(int code, std::string_view msg) {
  fmt::print(stderr, "kvs-client: {}\n", msg);
  std::exit(code);
}

// A connected socket, or -1 with errno set.
int TryConnect(const kvs::Address& addr) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, addr.sa(), addr.len) == 0) return fd;
  const int err = errno;
  ::close(fd);
  errno = err;
  return -1;
}

int Connect(const kvs::Address& addr) {
  int fd = TryConnect(addr);
  if (fd < 0) {
    Die(kExitError, fmt::format("cannot connect to {}: {}", addr.ToString(), std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void SendAll(int fd, const kvs::Address& addr, std::string_view bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Die(kExitError, fmt::format("sending to {}: {}", addr.ToString(), std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
}

// Reads from `fd` into `reply` until `complete(reply)`; dies on EOF, errors and huge replies.
template <typename Complete>
void ReceiveUntil(int fd, const kvs::Address& addr, std::string* reply, Complete complete) {
  char buf[64 * 1024];
  while (!complete(*reply)) {
    if (reply->size() > kMaxReplyBytes) Die(kExitError, "reply too large");
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Die(kExitError, fmt::format("reading from {}: {}", addr.ToString(), std::strerror(errno)));
    }
    if (n == 0) {
      Die(kExitError, fmt::format("{} closed the connection without a reply", addr.ToString()));
    }
    reply->append(buf, static_cast<size_t>(n));
  }
}

// Sends one request line and returns the reply line (without its newline).
std::string RoundTrip(const kvs::Address& addr, const std::string& request) {
  int fd = Connect(addr);
  SendAll(fd, addr, request);
  std::string reply;
  ReceiveUntil(fd, addr, &reply,
               [](const std::string& r) { return r.find('\n') != std::string::npos; });
  ::close(fd);
  reply.resize(reply.find('\n'));
  return reply;
}

// ---------------------------------------------------------------------------------------
// stats: the JSON protocol has no stats request, so this speaks RESP on the same port and
// asks INFO (docs/PROTOCOL.md), whose reply is one bulk string of "# Section" headers and
// "field:value" lines.

// One RESP reply: '+', '-', ':' with the rest of its line, or '$' with the bulk's body
// ('$' and `nil` for $-1).
struct RespReply {
  char type = 0;
  std::string text;
  bool nil = false;
};

// Sends one RESP command (an array of bulk strings) and returns the reply, or dies when the
// server cannot be reached or answers something else.
RespReply RespCall(const kvs::Address& addr, const std::vector<std::string>& args) {
  std::string request;
  kvs::proto::resp::AppendArrayHeader(args.size(), &request);
  for (const std::string& a : args) kvs::proto::resp::AppendBulk(a, &request);
  int fd = Connect(addr);
  SendAll(fd, addr, request);
  std::string reply;
  size_t body_start = 0, body_len = 0;
  ReceiveUntil(fd, addr, &reply, [&](const std::string& r) {
    size_t crlf = r.find("\r\n");
    if (crlf == std::string::npos) return false;
    if (r[0] != '$' || r[1] == '-') return true;
    body_start = crlf + 2;
    body_len = std::strtoull(r.c_str() + 1, nullptr, 10);
    return r.size() >= body_start + body_len + 2;
  });
  ::close(fd);
  RespReply out;
  out.type = reply[0];
  if (out.type == '$') {
    out.nil = reply[1] == '-';
    if (!out.nil) out.text = reply.substr(body_start, body_len);
  } else if (out.type == '+' || out.type == '-' || out.type == ':') {
    out.text = reply.substr(1, reply.find("\r\n") - 1);
  } else {
    Die(kExitError, fmt::format("unexpected reply from {}: {}", addr.ToString(),
                                reply.substr(0, std::min<size_t>(reply.find("\r\n"), 200))));
  }
  return out;
}

// The INFO text, or dies with the server's error.
std::string FetchInfo(const kvs::Address& addr) {
  RespReply reply = RespCall(addr, {"INFO"});
  if (reply.type == '-') {
    fmt::print(stderr, "{}\n", reply.text);
    std::exit(kExitError);
  }
  if (reply.type != '$' || reply.nil) Die(kExitError, "unexpected INFO reply from server");
  return reply.text;
}

// INFO's "field:value" lines in order, section headers and blank lines dropped; the Redis
// keyspace line "db0:keys=N,expires=0,avg_ttl=0" becomes "keys: N".
std::vector<std::pair<std::string, std::string>> ParseInfo(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> fields;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string_view::npos) continue;
    std::string_view field = line.substr(0, colon), value = line.substr(colon + 1);
    if (field == "db0" && value.rfind("keys=", 0) == 0) {
      field = "keys";
      value = value.substr(5, value.find(',') - 5);
    }
    fields.emplace_back(field, value);
  }
  return fields;
}

void PrintStats(const kvs::Address& addr) {
  std::vector<std::pair<std::string, std::string>> fields = ParseInfo(FetchInfo(addr));
  size_t width = 0;
  for (const auto& f : fields) width = std::max(width, f.first.size() + 1);
  for (const auto& [field, value] : fields) {
    fmt::print("{:<{}} {}\n", field + ":", width, value);
  }
}

struct Reply {
  bool ok = false;
  bool has_value = false;  // "value" present and not null
  std::string value;
  std::string error;
  std::string leader;  // with error "not leader": the leader's address, if known
};

Reply ParseReply(const std::string& line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    Die(kExitError, fmt::format("malformed reply from server: {}", line.substr(0, 200)));
  }
  Reply r;
  bool ok = false;
  if (doc["ok"].get(ok) != simdjson::SUCCESS) Die(kExitError, "reply without \"ok\"");
  r.ok = ok;
  std::string_view text;
  if (doc["value"].get(text) == simdjson::SUCCESS) {
    r.has_value = true;
    r.value = std::string(text);
  }
  if (doc["error"].get(text) == simdjson::SUCCESS) r.error = std::string(text);
  if (doc["leader"].get(text) == simdjson::SUCCESS) r.leader = std::string(text);
  return r;
}

// ---------------------------------------------------------------------------------------
// Cluster mode (docs/REPLICATION.md): a follower answers writes and linearizable reads with
// "not leader" and the leader's address; the client goes there. While no leader is known
// (an election, about a second) it waits and asks again.

constexpr int kMaxAttempts = 60;
constexpr auto kNoLeaderWait = std::chrono::milliseconds(100);

kvs::Address AddressOrDie(std::string_view text) {
  kvs::Result<kvs::Address> addr = kvs::ParseAddress(text);
  if (!addr.ok()) Die(kExitError, fmt::format("bad leader address '{}' from server", text));
  return *addr;
}

// Sends one JSON request line, following not-leader replies to the leader.
Reply JsonCall(kvs::Address addr, const std::string& line) {
  for (int attempt = 1;; ++attempt) {
    Reply reply = ParseReply(RoundTrip(addr, line));
    if (reply.ok || reply.error != "not leader" || attempt == kMaxAttempts) return reply;
    if (reply.leader.empty()) {
      std::this_thread::sleep_for(kNoLeaderWait);
    } else {
      addr = AddressOrDie(reply.leader);
    }
  }
}

// The same over RESP: "-NOTLEADER not leader; the leader is ADDR" (or "; no leader is
// known yet").
RespReply RespCallFollowingLeader(kvs::Address addr, const std::vector<std::string>& args) {
  constexpr std::string_view kPrefix = "NOTLEADER ";
  constexpr std::string_view kLeaderIs = "the leader is ";
  for (int attempt = 1;; ++attempt) {
    RespReply reply = RespCall(addr, args);
    if (reply.type != '-' || reply.text.rfind(kPrefix, 0) != 0 || attempt == kMaxAttempts) {
      return reply;
    }
    const size_t at = reply.text.find(kLeaderIs);
    if (at == std::string::npos) {
      std::this_thread::sleep_for(kNoLeaderWait);
    } else {
      addr = AddressOrDie(std::string_view(reply.text).substr(at + kLeaderIs.size()));
    }
  }
}

// CLUSTER STATUS of one node: its "field:value" lines ("member" repeats).
std::vector<std::pair<std::string, std::string>> NodeStatus(const kvs::Address& addr) {
  RespReply reply = RespCall(addr, {"CLUSTER", "STATUS"});
  if (reply.type == '-') Die(kExitError, reply.text);
  return ParseInfo(reply.text);
}

// True if something accepts a connection at `addr` (so that RespCall will not die).
bool Reachable(const kvs::Address& addr) {
  const int fd = TryConnect(addr);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// Asks the node at `addr` for the members, then every member for its own view.
void PrintClusterStatus(const kvs::Address& addr) {
  struct Member {
    std::string id, role, client, raft;
  };
  std::vector<Member> members;
  for (const auto& [field, value] : NodeStatus(addr)) {
    if (field != "member") continue;
    Member m;
    std::istringstream in(value);
    in >> m.id >> m.role >> m.client >> m.raft;
    members.push_back(m);
  }
  fmt::print("{:<6}{:<22}{:<22}{:<9}{:<13}{:<8}{:<10}{:<10}{}\n", "node", "client address",
             "raft address", "role", "state", "term", "commit", "applied", "leader");
  for (const Member& m : members) {
    std::map<std::string, std::string> view;
    kvs::Result<kvs::Address> client = kvs::ParseAddress(m.client);
    const bool up = client.ok() && Reachable(*client);
    if (up) {
      for (auto& [field, value] : NodeStatus(*client)) view.emplace(field, value);
    }
    auto get = [&view, up](const char* field) {
      return !up ? std::string("-") : view.count(field) ? view[field] : std::string("?");
    };
    fmt::print("{:<6}{:<22}{:<22}{:<9}{:<13}{:<8}{:<10}{:<10}{}\n", m.id, m.client, m.raft, m.role,
               up ? get("state") : "unreachable", get("term"), get("commit_index"),
               get("last_applied"), get("leader_id"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvs-client: talk to a kvs-server"};
  app.footer(
      "`kvs-client stats` prints the server's statistics (keys, live/dead bytes, segments,\n"
      "compactions, fsyncs, write batches and mean batch size, connections, uptime): the\n"
      "reply to a RESP INFO command, as aligned `field: value` lines.");
  app.set_version_flag("-V,--version", KVS_VERSION_STRING);
  std::string addr_text = "127.0.0.1:4000";
  app.add_option("--addr", addr_text, "server address IP:PORT (default 127.0.0.1:4000)")
      ->envname("KVS_ADDR");
  app.require_subcommand(1, 1);
  app.fallthrough();

  std::string key, value;
  bool stale = false;
  CLI::App* set = app.add_subcommand("set", "set KEY to VALUE");
  set->add_option("KEY", key)->required();
  set->add_option("VALUE", value)->required();
  CLI::App* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("KEY", key)->required();
  CLI::App* rm = app.add_subcommand("rm", "remove KEY");
  rm->add_option("KEY", key)->required();
  get->add_flag("--stale", stale,
                "cluster mode: let a follower answer from its own copy (may be behind)");
  CLI::App* stats = app.add_subcommand("stats", "print the server's statistics (RESP INFO)");
  CLI::App* cluster = app.add_subcommand("cluster", "cluster mode: membership and status");
  cluster->require_subcommand(1, 1);
  CLI::App* cluster_status =
      cluster->add_subcommand("status", "leader, term, commit index, applied index per node");
  std::string peer_text;
  CLI::App* cluster_add =
      cluster->add_subcommand("add", "add a node (started with --join) to the cluster");
  cluster_add->add_option("NODE", peer_text, "ID=CLIENT_ADDR/RAFT_ADDR")->required();
  std::string remove_id;
  CLI::App* cluster_remove = cluster->add_subcommand("remove", "remove a node from the cluster");
  cluster_remove->add_option("ID", remove_id, "the node's id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    Die(kExitUsage, fmt::format("{} (see --help)", e.what()));
  }

  kvs::Result<kvs::Address> addr = kvs::ParseAddress(addr_text);
  if (!addr.ok()) Die(kExitUsage, addr.status().message());
  if (stats->parsed()) {
    PrintStats(*addr);
    return 0;
  }
  if (cluster->parsed()) {
    if (cluster_status->parsed()) {
      PrintClusterStatus(*addr);
      return 0;
    }
    RespReply reply = RespCallFollowingLeader(
        *addr, cluster_add->parsed() ? std::vector<std::string>{"CLUSTER", "ADD", peer_text}
                                     : std::vector<std::string>{"CLUSTER", "REMOVE", remove_id});
    if (reply.type == '-') {
      fmt::print(stderr, "{}\n", reply.text);
      return kExitError;
    }
    return 0;
  }

  // JSON carries text: binary keys and values need a Redis client (RESP is binary-safe).
  if (!simdjson::validate_utf8(key)) Die(kExitUsage, "KEY must be valid UTF-8");
  if (!simdjson::validate_utf8(value)) Die(kExitUsage, "VALUE must be valid UTF-8");
  kvs::proto::Request request;
  request.shape = kvs::proto::Shape::kJson;
  request.command = set->parsed()   ? kvs::proto::Command::kSet
                    : get->parsed() ? kvs::proto::Command::kGet
                                    : kvs::proto::Command::kRm;
  request.key = key;
  request.stale = stale;
  if (set->parsed()) {
    request.value = value;
    request.has_value = true;
  }
  std::string line;
  kvs::proto::EncodeRequest(request, &line);
  Reply reply = JsonCall(*addr, line);

  if (!reply.ok) {
    fmt::print(stderr, "{}\n", reply.error.empty() ? "server error" : reply.error);
    return kExitError;
  }
  if (get->parsed()) {
    if (reply.has_value) {
      fmt::print("{}\n", reply.value);
    } else {
      fmt::print("Key not found\n");
    }
  }
  return 0;
}
