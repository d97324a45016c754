// Commands by name (proto/command_table.h): the checks Redis's processCommand makes before
// a command runs (unknown command or subcommand, arity, password, MULTI's queue), and the
// commands answered from the connection's and the server's own state: HELLO, AUTH, SELECT,
// CLIENT, COMMAND, CONFIG GET, PING, ECHO, TIME, RESET, QUIT, READONLY/READWRITE, and
// MULTI/DISCARD/WATCH/UNWATCH. Data commands run in server_reads.cc and server_writes.cc
// (keyspace.h says what each does).

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>

#include "proto/glob.h"
#include "proto/redis_number.h"
#include "server/server_impl.h"
#include "store/db_key.h"

namespace kvs {

using proto::CommandId;
using proto::CommandSpec;
using proto::EqualsIgnoreCase;
using proto::ReplyWriter;

namespace {

constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
using proto::errors::kSyntaxError;
// The version HELLO and INFO report: the Redis whose commands and replies kvs follows
// (docs/PROTOCOL.md). Clients gate features on it.
constexpr std::string_view kRedisVersion = "7.0.15";

// Commands that run even inside MULTI (processCommand's list).
bool RunsInsideMulti(CommandId id) {
  switch (id) {
    case CommandId::kExec:
    case CommandId::kDiscard:
    case CommandId::kMulti:
    case CommandId::kWatch:
    case CommandId::kQuit:
    case CommandId::kReset:
      return true;
    default:
      return false;
  }
}

// "ip:port" of a socket's peer (or itself), as Redis shows addresses ("[::1]:port" for v6).
std::string SocketAddress(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return "?:0";
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    return fmt::format("[{}]:{}", ip, ntohs(in6->sin6_port));
  }
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
  ::inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
  return fmt::format("{}:{}", ip, ntohs(in4->sin_port));
}

// Redis's validateClientName: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '!' && ch <= '~'; });
}
constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// A space-separated list as a set of status replies (COMMAND INFO's flags, categories).
void WordSet(std::string_view words, bool bulk, ReplyWriter& out) {
  std::vector<std::string_view> list;
  while (!words.empty()) {
    const size_t sp = words.find(' ');
    list.push_back(words.substr(0, sp));
    if (sp == std::string_view::npos) break;
    words.remove_prefix(sp + 1);
  }
  out.Set(list.size());
  for (std::string_view w : list) {
    if (bulk) {
      out.Bulk(w);
    } else {
      out.Simple(w);
    }
  }
}

void CommandInfo(const CommandSpec& spec, ReplyWriter& out) {
  out.Array(10);
  out.Bulk(spec.name);
  out.Integer(spec.arity);
  WordSet(spec.flags, false, out);
  out.Integer(spec.first_key);
  out.Integer(spec.last_key);
  out.Integer(spec.key_step);
  WordSet(spec.acl_categories, false, out);
  WordSet(spec.tips, true, out);
  out.Set(spec.key_specs.size());
  for (const proto::KeySpec& ks : spec.key_specs) {
    out.Map(ks.notes.empty() ? 3 : 4);
    if (!ks.notes.empty()) {
      out.Bulk("notes");
      out.Bulk(ks.notes);
    }
    out.Bulk("flags");
    WordSet(ks.flags, false, out);
    out.Bulk("begin_search");
    out.Map(2);
    out.Bulk("type");
    out.Bulk("index");
    out.Bulk("spec");
    out.Map(1);
    out.Bulk("index");
    out.Integer(ks.begin_index);
    out.Bulk("find_keys");
    out.Map(2);
    out.Bulk("type");
    out.Bulk("range");
    out.Bulk("spec");
    out.Map(3);
    out.Bulk("lastkey");
    out.Integer(ks.last_key);
    out.Bulk("keystep");
    out.Integer(ks.key_step);
    out.Bulk("limit");
    out.Integer(0);
  }
  // Redis: an empty set when there are none, else an array (addReplyCommandSubCommands).
  if (spec.subcommands.empty()) {
    out.Set(0);
  } else {
    out.Array(spec.subcommands.size());
  }
  for (const CommandSpec& sub : spec.subcommands) CommandInfo(sub, out);
}

void CommandDocs(const CommandSpec& spec, ReplyWriter& out) {
  if (!spec.docs.empty()) {  // Redis's own reply (command_table_data.inc)
    proto::ReplayResp3(spec.docs, out);
    return;
  }
  out.Map(spec.subcommands.empty() ? 4 : 5);
  out.Bulk("summary");
  out.Bulk(spec.summary);
  out.Bulk("since");
  out.Bulk(spec.since);
  out.Bulk("group");
  out.Bulk(spec.group);
  out.Bulk("complexity");
  out.Bulk(spec.complexity);
  if (!spec.subcommands.empty()) {
    out.Bulk("subcommands");
    out.Map(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      out.Bulk(sub.name);
      CommandDocs(sub, out);
    }
  }
}

}  // namespace

bool Server::Impl::HandleCommand(Connection& c, const proto::Request& request) {
  const std::span<const std::string_view> argv = request.argv;
  const CommandSpec* spec = proto::FindCommand(argv[0]);
  if (spec == nullptr) {
    Reject(c, request.shape, proto::UnknownCommandError(argv));
    return true;
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = proto::FindSubcommand(*spec, argv[1]);
    if (sub == nullptr) {
      Reject(c, request.shape, proto::UnknownSubcommandError(argv[0], argv[1]));
      return true;
    }
    spec = sub;
  }
  const bool exec = spec->id == CommandId::kExec;
  if (!spec->ArityOk(argv.size())) {
    Reject(c, request.shape, proto::WrongArityError(spec->name), exec);
    return true;
  }
  if (!c.session.authenticated && !spec->HasFlag("no_auth")) {
    Reject(c, request.shape, kNoAuth, exec);
    return true;
  }
  Call call;
  call.shape = request.shape;
  call.command = proto::Command::kRedis;
  call.stale = request.stale || c.session.stale_reads;
  call.spec = spec;
  call.argv.assign(argv.begin(), argv.end());
  call.db = c.session.db;
  call.resp = c.session.resp;
  c.last_command = spec->name;
  if (spec->exec == proto::Exec::kRead || spec->exec == proto::Exec::kWrite) {
    if (std::string error = CheckKeyLengths(*spec, call.argv, keyspace_options_); !error.empty()) {
      Reject(c, request.shape, error);
      return true;
    }
  }
  if (c.in_multi && !RunsInsideMulti(spec->id)) {
    // Bounded like the connection's buffers: a transaction may not queue without limit.
    size_t bytes = 0;
    for (const std::string& word : call.argv) bytes += word.size() + sizeof(std::string);
    if (c.queued_bytes + bytes > config_.max_connection_buffer_bytes) {
      Reject(c, request.shape,
             fmt::format("ERR MULTI queue over {} bytes: EXEC will abort (kvs limit)",
                         config_.max_connection_buffer_bytes));
      return true;
    }
    c.queued_bytes += bytes;
    c.queued.push_back(std::move(call));
    std::string reply;
    ReplyWriter(request.shape, c.session.resp, &reply).Simple("QUEUED");
    AddReply(c, std::move(reply));
    return true;
  }
  const CallClass cls = Classify(call);
  if (cls == CallClass::kLocal) {
    std::string reply;
    {
      ReplyWriter out(call.shape, c.session.resp, &reply);
      RunLocalCommand(c, c.session, call, out);
    }
    AddReply(c, std::move(reply));
    return true;
  }
  if (spec->id == CommandId::kInfo) {
    call.text = InfoText(std::span<const std::string>(call.argv).subspan(1));
  }
  if (!CanStart(c, cls)) {
    c.parked = std::move(call);
    if (cls == CallClass::kWrite && c.reads_in_flight == 0) {
      batch_waiters_.emplace_back(c.id, c.gen);  // waits for room in the batch
    }
    return false;
  }
  Dispatch(c, std::move(call));
  return true;
}

void Server::Impl::Reject(Connection& c, proto::Shape shape, std::string_view error, bool exec) {
  std::string reply;
  if (exec) {
    // A refused EXEC discards the transaction, and says why (Redis's execCommandAbort).
    std::string_view why = error.starts_with("ERR ") ? error.substr(4) : error;
    ReplyWriter(shape, c.session.resp, &reply)
        .Error(fmt::format("EXECABORT Transaction discarded because of: {}", why));
    ResetTransaction(c);
    Unwatch(c);
  } else {
    if (c.in_multi) c.multi_failed = true;
    ReplyWriter(shape, c.session.resp, &reply).Error(error);
  }
  AddReply(c, std::move(reply));
}

bool Server::Impl::PasswordMatches(std::string_view password) const {
  // Without a password the default user takes any.
  if (config_.requirepass.empty()) return true;
  // Constant time in the password's bytes: no early exit on the first difference.
  const std::string& want = config_.requirepass;
  unsigned diff = password.size() == want.size() ? 0 : 1;
  const size_t n = std::max(password.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < password.size() ? password[i] : 0;
    const unsigned char b = i < want.size() ? want[i] : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

void Server::Impl::RunLocalCommand(Connection& c, Session& session, const Call& call,
                                   ReplyWriter& out) {
  const std::vector<std::string>& argv = call.argv;
  switch (call.spec->id) {
    case CommandId::kPing:
      if (argv.size() > 2) {  // PING's own check, after processCommand's (arity -1)
        out.Error(proto::WrongArityError("ping"));
      } else if (argv.size() == 1) {
        out.Simple("PONG");
      } else {
        out.Bulk(argv[1]);
      }
      return;
    case CommandId::kEcho:
      out.Bulk(argv[1]);
      return;
    case CommandId::kTime: {
      timeval tv{};
      ::gettimeofday(&tv, nullptr);
      out.Array(2);
      out.Bulk(fmt::format_int(tv.tv_sec).str());
      out.Bulk(fmt::format_int(tv.tv_usec).str());
      return;
    }
    case CommandId::kQuit:
      out.Ok();
      c.closing = true;
      return;
    case CommandId::kReset:
      ResetTransaction(c);
      Unwatch(c);
      session = Session{};
      session.authenticated = config_.requirepass.empty();
      out.Simple("RESET");
      return;
    case CommandId::kSelect: {
      int64_t db;
      if (!proto::ParseInt64(argv[1], &db)) {
        out.Error(proto::errors::kNotInteger);
      } else if (db < INT32_MIN || db > INT32_MAX) {
        out.Error(proto::errors::kIntOutOfRange);
      } else if (db < 0 || db >= config_.databases) {
        out.Error(proto::errors::kDbIndexOutOfRange);
      } else {
        session.db = static_cast<uint32_t>(db);
        out.Ok();
      }
      return;
    }
    case CommandId::kAuth: {
      if (argv.size() > 3) {
        out.Error(kSyntaxError);
        return;
      }
      if (argv.size() == 2 && config_.requirepass.empty()) {
        out.Error(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
        return;
      }
      const bool default_user = argv.size() == 2 || argv[1] == "default";
      const std::string& password = argv.back();
      if (default_user && PasswordMatches(password)) {
        session.authenticated = true;
        out.Ok();
      } else {
        out.Error(kWrongPass);
      }
      return;
    }
    case CommandId::kHello:
      RunHello(session, c, call, out);
      return;
    case CommandId::kReadOnly:
    case CommandId::kReadWrite:
      session.stale_reads = call.spec->id == CommandId::kReadOnly;
      out.Ok();
      return;
    case CommandId::kClientSetName:
    case CommandId::kClientGetName:
    case CommandId::kClientId:
    case CommandId::kClientInfo:
    case CommandId::kClientList:
    case CommandId::kClientKill:
    case CommandId::kClientNoEvict:
    case CommandId::kClientSetInfo:
    case CommandId::kClientNoTouch:
      RunClientCommand(c, session, call, out);
      return;
    case CommandId::kCommand:
    case CommandId::kCommandCount:
    case CommandId::kCommandInfo:
    case CommandId::kCommandDocs:
    case CommandId::kCommandList:
      RunCommandCommand(call, out);
      return;
    case CommandId::kConfigGet:
      RunConfigGet(call, out);
      return;
    case CommandId::kMulti:
      if (c.in_multi) {
        out.Error("ERR MULTI calls can not be nested");
        return;
      }
      ResetTransaction(c);
      c.in_multi = true;
      out.Ok();
      return;
    case CommandId::kDiscard:
      if (!c.in_multi) {
        out.Error("ERR DISCARD without MULTI");
        return;
      }
      ResetTransaction(c);
      Unwatch(c);
      out.Ok();
      return;
    case CommandId::kWatch:
      if (c.in_multi) {
        out.Error("ERR WATCH inside MULTI is not allowed");
        return;
      }
      for (size_t i = 1; i < argv.size(); ++i) {
        std::string key = EncodeDbKey(session.db, argv[i]);
        if (std::find(c.watched.begin(), c.watched.end(), key) != c.watched.end()) continue;
        watchers_[key].emplace_back(c.id, c.gen);
        // Not known without the disk: not checked at EXEC (only a write fails it then).
        if (Result<bool> alive = ExistsInMemory(key); alive.ok() && *alive) {
          c.watched_alive.push_back(key);
        }
        c.watched.push_back(std::move(key));
      }
      out.Ok();
      return;
    case CommandId::kUnwatch:
      Unwatch(c);
      out.Ok();
      return;
    default:
      out.Error(fmt::format("ERR '{}' cannot run here", call.spec->name));
      return;
  }
}

void Server::Impl::RunHello(Session& session, Connection& c, const Call& call, ReplyWriter& out) {
  const std::vector<std::string>& argv = call.argv;
  int64_t version = 0;
  size_t next = 1;
  if (argv.size() >= 2) {
    if (!proto::ParseInt64(argv[next++], &version)) {
      out.Error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (version < 2 || version > 3) {
      out.Error("NOPROTO unsupported protocol version");
      return;
    }
  }
  const std::string* user = nullptr;
  const std::string* password = nullptr;
  const std::string* name = nullptr;
  for (size_t j = next; j < argv.size(); ++j) {
    const size_t more = argv.size() - 1 - j;
    if (EqualsIgnoreCase(argv[j], "AUTH") && more >= 2) {
      user = &argv[j + 1];
      password = &argv[j + 2];
      j += 2;
    } else if (EqualsIgnoreCase(argv[j], "SETNAME") && more >= 1) {
      name = &argv[j + 1];
      if (!ValidClientName(*name)) {
        out.Error(kBadClientName);
        return;
      }
      ++j;
    } else {
      out.Error(fmt::format("ERR Syntax error in HELLO option '{}'", argv[j]));
      return;
    }
  }
  if (user != nullptr) {
    if (*user == "default" && PasswordMatches(*password)) {
      session.authenticated = true;
    } else {
      out.Error(kWrongPass);
      return;
    }
  }
  if (!session.authenticated) {
    out.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
    return;
  }
  if (name != nullptr) session.name = *name;
  if (version != 0) session.resp = static_cast<proto::RespVersion>(version);
  // The reply is in the protocol just chosen, as are the replies after it.
  out.SetVersion(session.resp);
  ReplyWriter& w = out;
  w.Map(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk(kRedisVersion);
  w.Bulk("proto");
  w.Integer(static_cast<int>(session.resp));
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(c.client_id));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.Array(0);
}

std::string Server::Impl::ClientInfoLine(const Connection& c) const {
  const auto now = Clock::now();
  const auto secs = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(now - t).count();
  };
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 "
      "multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
      "tot-mem=0 events=r cmd={} user=default redir=-1 resp={}\n",
      c.client_id, SocketAddress(c.fd, true), SocketAddress(c.fd, false), c.fd, c.session.name,
      secs(c.created), secs(c.last_active), c.in_multi ? "x" : "N", c.session.db,
      c.in_multi ? static_cast<int64_t>(c.queued.size()) : -1, c.in.size() - c.in_start,
      c.last_command.empty() ? "NULL" : c.last_command, static_cast<int>(c.session.resp));
}

void Server::Impl::RunClientCommand(Connection& c, Session& session, const Call& call,
                                    ReplyWriter& out) {
  const std::vector<std::string>& argv = call.argv;
  switch (call.spec->id) {
    case CommandId::kClientSetName:
      if (!ValidClientName(argv[2])) {
        out.Error(kBadClientName);
        return;
      }
      session.name = argv[2];
      out.Ok();
      return;
    case CommandId::kClientGetName:
      if (session.name.empty()) {
        out.Null();
      } else {
        out.Bulk(session.name);
      }
      return;
    case CommandId::kClientId:
      out.Integer(static_cast<int64_t>(c.client_id));
      return;
    case CommandId::kClientInfo:
      out.Verbatim(ClientInfoLine(c));
      return;
    case CommandId::kClientList: {
      // CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]
      std::vector<uint64_t> ids;
      bool normal = true;
      for (size_t i = 2; i < argv.size();) {
        if (EqualsIgnoreCase(argv[i], "TYPE") && i + 1 < argv.size()) {
          const std::string& t = argv[i + 1];
          if (EqualsIgnoreCase(t, "normal")) {
            normal = true;
          } else if (EqualsIgnoreCase(t, "master") || EqualsIgnoreCase(t, "replica") ||
                     EqualsIgnoreCase(t, "slave") || EqualsIgnoreCase(t, "pubsub")) {
            normal = false;  // kvs has only normal clients
          } else {
            out.Error(fmt::format("ERR Unknown client type '{}'", t));
            return;
          }
          i += 2;
        } else if (EqualsIgnoreCase(argv[i], "ID") && i + 1 < argv.size()) {
          for (++i; i < argv.size(); ++i) {
            int64_t id;
            if (!proto::ParseInt64(argv[i], &id) || id <= 0) {
              out.Error("ERR Invalid client ID");
              return;
            }
            ids.push_back(static_cast<uint64_t>(id));
          }
        } else {
          out.Error(kSyntaxError);
          return;
        }
      }
      std::string all;
      auto add = [&](const Connection& other) {
        if (normal && !other.rejected) all += ClientInfoLine(other);
      };
      if (ids.empty()) {
        for (const auto& other : conns_) {
          if (other) add(*other);
        }
      } else {
        for (uint64_t id : ids) {
          for (const auto& other : conns_) {
            if (other && other->client_id == id) add(*other);
          }
        }
      }
      out.Verbatim(all);
      return;
    }
    case CommandId::kClientKill: {
      // CLIENT KILL addr (old form), or filter pairs: ID, ADDR, LADDR, SKIPME, USER.
      std::vector<Connection*> victims;
      if (argv.size() == 3) {
        for (auto& other : conns_) {
          if (other && !other->rejected && SocketAddress(other->fd, true) == argv[2]) {
            victims.push_back(other.get());
          }
        }
        if (victims.empty()) {
          out.Error("ERR No such client");
          return;
        }
      } else {
        if ((argv.size() - 2) % 2 != 0) {
          out.Error(kSyntaxError);
          return;
        }
        int64_t id = 0;
        std::string addr, laddr;
        bool skipme = true;
        for (size_t i = 2; i < argv.size(); i += 2) {
          const std::string& value = argv[i + 1];
          if (EqualsIgnoreCase(argv[i], "ID")) {
            if (!proto::ParseInt64(value, &id) || id <= 0) {
              out.Error("ERR client-id should be greater than 0");
              return;
            }
          } else if (EqualsIgnoreCase(argv[i], "ADDR")) {
            addr = value;
          } else if (EqualsIgnoreCase(argv[i], "LADDR")) {
            laddr = value;
          } else if (EqualsIgnoreCase(argv[i], "USER")) {
            if (value != "default") {  // the only user kvs has
              out.Error(fmt::format("ERR No such user '{}'", value));
              return;
            }
          } else if (EqualsIgnoreCase(argv[i], "SKIPME")) {
            if (EqualsIgnoreCase(value, "yes")) {
              skipme = true;
            } else if (EqualsIgnoreCase(value, "no")) {
              skipme = false;
            } else {
              out.Error(kSyntaxError);
              return;
            }
          } else {
            out.Error(kSyntaxError);
            return;
          }
        }
        for (auto& other : conns_) {
          if (!other || other->rejected) continue;
          if (id != 0 && other->client_id != static_cast<uint64_t>(id)) continue;
          if (!addr.empty() && SocketAddress(other->fd, true) != addr) continue;
          if (!laddr.empty() && SocketAddress(other->fd, false) != laddr) continue;
          if (skipme && other.get() == &c) continue;
          victims.push_back(other.get());
        }
      }
      for (Connection* v : victims) {
        if (v == &c) {
          c.closing = true;  // after this reply
        } else {
          Abort(*v, "killed by CLIENT KILL");
        }
      }
      if (argv.size() == 3) {
        out.Ok();
      } else {
        out.Integer(static_cast<int64_t>(victims.size()));
      }
      return;
    }
    case CommandId::kClientNoEvict:
    case CommandId::kClientNoTouch:
      // kvs evicts nothing and keeps no access times: both modes are accepted and change
      // nothing.
      if (EqualsIgnoreCase(argv[2], "on") || EqualsIgnoreCase(argv[2], "off")) {
        out.Ok();
      } else {
        out.Error(kSyntaxError);
      }
      return;
    case CommandId::kClientSetInfo: {
      // Redis 7.2's CLIENT SETINFO LIB-NAME|LIB-VER value.
      const std::string& value = argv[3];
      const bool name = EqualsIgnoreCase(argv[2], "lib-name");
      if (!name && !EqualsIgnoreCase(argv[2], "lib-ver")) {
        out.Error(fmt::format("ERR Unrecognized option '{}'", argv[2]));
        return;
      }
      if (!ValidClientName(value) || (name && value.find_first_of("()") != std::string::npos)) {
        out.Error(fmt::format("ERR {} cannot contain spaces, newlines or special characters.",
                              name ? "lib-name" : "lib-ver"));
        return;
      }
      (name ? session.lib_name : session.lib_ver) = value;
      out.Ok();
      return;
    }
    default:
      out.Error(kSyntaxError);
      return;
  }
}

void Server::Impl::RunCommandCommand(const Call& call, ReplyWriter& out) const {
  const std::vector<std::string>& argv = call.argv;
  const std::span<const CommandSpec> all = proto::AllCommands();
  switch (call.spec->id) {
    case CommandId::kCommand:  // no subcommand: every command's INFO
      out.Array(all.size());
      for (const CommandSpec& spec : all) CommandInfo(spec, out);
      return;
    case CommandId::kCommandCount:
      out.Integer(static_cast<int64_t>(proto::CommandCount()));
      return;
    case CommandId::kCommandList:
      if (argv.size() > 2) {
        out.Error(kSyntaxError);  // FILTERBY: not implemented (docs/PROTOCOL.md)
        return;
      }
      {
        size_t n = all.size();
        for (const CommandSpec& spec : all) n += spec.subcommands.size();
        out.Array(n);
        for (const CommandSpec& spec : all) {
          out.Bulk(spec.name);
          for (const CommandSpec& sub : spec.subcommands) out.Bulk(sub.name);
        }
      }
      return;
    case CommandId::kCommandInfo:
    case CommandId::kCommandDocs: {
      const bool info = call.spec->id == CommandId::kCommandInfo;
      // "a|b" names a subcommand.
      auto find = [](std::string_view name) -> const CommandSpec* {
        const size_t bar = name.find('|');
        const CommandSpec* spec = proto::FindCommand(name.substr(0, bar));
        if (spec == nullptr || bar == std::string_view::npos) return spec;
        return proto::FindSubcommand(*spec, name.substr(bar + 1));
      };
      if (argv.size() == 2) {  // all of them
        if (info) {
          out.Array(all.size());
          for (const CommandSpec& spec : all) CommandInfo(spec, out);
        } else {
          out.Map(all.size());
          for (const CommandSpec& spec : all) {
            out.Bulk(spec.name);
            CommandDocs(spec, out);
          }
        }
        return;
      }
      if (info) {
        out.Array(argv.size() - 2);
        for (size_t i = 2; i < argv.size(); ++i) {
          if (const CommandSpec* spec = find(argv[i])) {
            CommandInfo(*spec, out);
          } else {
            out.Null();
          }
        }
        return;
      }
      std::vector<const CommandSpec*> found;
      for (size_t i = 2; i < argv.size(); ++i) {
        if (const CommandSpec* spec = find(argv[i])) found.push_back(spec);
      }
      out.Map(found.size());
      for (const CommandSpec* spec : found) {
        out.Bulk(spec->name);
        CommandDocs(*spec, out);
      }
      return;
    }
    default:
      out.Error(kSyntaxError);
      return;
  }
}

void Server::Impl::RunConfigGet(const Call& call, ReplyWriter& out) const {
  // The parameters clients and tools read, with kvs's equivalent values.
  const std::string appendfsync = config_.fsync == FsyncPolicy::kAlways     ? "always"
                                  : config_.fsync == FsyncPolicy::kPeriodic ? "everysec"
                                                                            : "no";
  const std::pair<std::string_view, std::string> params[] = {
      {"appendfsync", appendfsync},
      {"appendonly", "yes"},
      {"databases", fmt::format_int(config_.databases).str()},
      {"maxclients", fmt::format_int(config_.max_clients).str()},
      {"maxmemory", "0"},
      {"port", fmt::format_int(config_.addr.port()).str()},
      {"proto-max-bulk-len", fmt::format_int(keyspace_options_.max_value_bytes).str()},
      {"requirepass", ""},  // never shown
      {"save", ""},
      {"timeout", fmt::format_int(config_.idle_timeout_s).str()},
  };
  std::vector<const std::pair<std::string_view, std::string>*> matched;
  for (const auto& param : params) {
    for (size_t i = 2; i < call.argv.size(); ++i) {
      if (proto::GlobMatch(call.argv[i], param.first, /*nocase=*/true)) {
        matched.push_back(&param);
        break;
      }
    }
  }
  out.Map(matched.size());
  for (const auto* param : matched) {
    out.Bulk(param->first);
    out.Bulk(param->second);
  }
}

void Server::Impl::TouchKey(const std::string& key) {
  auto it = watchers_.find(key);
  if (it == watchers_.end()) return;
  for (auto [id, gen] : it->second) {
    if (Connection* w = Find(id, gen)) w->watch_dirty = true;
  }
}

Result<bool> Server::Impl::ExistsInMemory(const std::string& key) const {
  if (const WriteBatch::Op* op = Staged(key)) {
    return op->kind == WriteBatch::OpKind::kPut &&
           !server_internal::ExpiredAt(op->expire_at_ms, clock_->NowMs());
  }
  return engine_->Contains(key, /*cached_only=*/true);
}

void Server::Impl::Unwatch(Connection& c) {
  for (const std::string& key : c.watched) {
    auto it = watchers_.find(key);
    if (it == watchers_.end()) continue;
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), std::make_pair(c.id, c.gen)), list.end());
    if (list.empty()) watchers_.erase(it);
  }
  c.watched.clear();
  c.watched_alive.clear();
  c.watch_dirty = false;
}

void Server::Impl::ResetTransaction(Connection& c) {
  c.in_multi = false;
  c.multi_failed = false;
  c.queued.clear();
  c.queued_bytes = 0;
}

}  // namespace kvs
