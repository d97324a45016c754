// kvs-client: a shell's way into a kvs-server, over its JSON protocol (RESP for INFO, CLUSTER
// and the bytes JSON cannot carry).
//
//   kvs-client set KEY VALUE          prints nothing, exit 0; VALUE "-": standard input
//   kvs-client get KEY                prints the value, or "Key not found"; exit 0
//   kvs-client rm KEY                 prints nothing, exit 0; a missing key:
//                                     "Key not found" on stderr, exit 1
//   kvs-client incr|decr KEY [BY], mget KEY..., mset KEY VALUE..., exists KEY...,
//              del KEY..., type KEY, rename SRC DST, keys PATTERN,
//              scan [CURSOR] [--match P] [--count N], dbsize, flushdb
//                                     the Redis commands, sent as {"cmd":[...]}
//   kvs-client cmd WORD...            any command; its reply printed as redis-cli prints
//   kvs-client stats                  the server's INFO as aligned "field: value" lines
//   kvs-client cluster status|add ID=C/R|remove ID   cluster membership (RESP CLUSTER)
//   --db N, --password-file PATH / KVS_PASSWORD: SELECT and AUTH first, on the same
//   connection; --stale (reads): a cluster follower may answer.
// In cluster mode, a follower's "not leader" reply sends the client on to the leader.
// Usage errors, unreachable servers and server errors: one line on stderr, non-zero exit.

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "client_connection.h"
#include "proto/limits.h"
#include "proto/request.h"
#include "proto/request_encoder.h"
#include "server/address.h"

namespace {

using kvs::client::ClientConnection;
using kvs::client::ConnectionOptions;
using kvs::client::Die;
using kvs::client::kExitError;
using kvs::client::kExitUsage;
using kvs::client::RespReply;
using kvs::proto::Protocol;

// The largest value `set KEY -` sends: the server's default value limit.
constexpr size_t kMaxStdinValueBytes = kvs::proto::kDefaultMaxValueBytes;
// What a JSON get answers for a value stored (over RESP) that is not UTF-8.
constexpr std::string_view kNotUtf8Error = "value is not valid UTF-8";

void Write(std::string_view bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); }

// Prints a server error as it came (exit 1).
[[noreturn]] void ServerError(std::string_view text) {
  fmt::print(stderr, "{}\n", text.empty() ? "server error" : text);
  std::exit(kExitError);
}

// All of standard input, bytes as they are (a trailing newline included, as redis-cli -x).
std::string ReadStdinValue() {
  std::string value;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die(kExitError, fmt::format("reading standard input: {}", std::strerror(errno)));
    if (n == 0) return value;
    if (value.size() + static_cast<size_t>(n) > kMaxStdinValueBytes) {
      Die(kExitError, fmt::format("the value on standard input is over {} bytes (the server's "
                                  "value limit)",
                                  kMaxStdinValueBytes));
    }
    value.append(chunk, static_cast<size_t>(n));
  }
}

// The password for AUTH: the file's content without its final newline, else KVS_PASSWORD,
// else none ("").
std::string ResolvePassword(const std::string& path) {
  if (path.empty()) {
    const char* env = std::getenv("KVS_PASSWORD");
    return env == nullptr ? std::string() : std::string(env);
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    Die(kExitUsage, fmt::format("cannot read --password-file {}: {}", path, std::strerror(errno)));
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) Die(kExitUsage, fmt::format("--password-file {} is empty", path));
  return text;
}

// ---------------------------------------------------------------------------------------
// stats: the JSON protocol has no stats request, so this speaks RESP on the same port and
// asks INFO (docs/PROTOCOL.md), whose reply is one bulk string of "# Section" headers and
// "field:value" lines.

// The INFO text, or dies with the server's error.
std::string FetchInfo(const kvs::Address& addr, const ConnectionOptions& options) {
  ClientConnection conn(addr, Protocol::kResp, options);
  RespReply reply = conn.CallResp({"INFO"});
  if (reply.type == '-') ServerError(reply.text);
  if (reply.type != '$' || reply.nil) Die(kExitError, "unexpected INFO reply from server");
  return reply.text;
}

// INFO's "field:value" lines in order, section headers and blank lines dropped; the Redis
// keyspace lines "dbN:keys=K,expires=0,avg_ttl=0" become one "keys: <sum of K>".
std::vector<std::pair<std::string, std::string>> ParseInfo(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> fields;
  uint64_t keys = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string_view::npos) continue;
    std::string_view field = line.substr(0, colon), value = line.substr(colon + 1);
    if (field.starts_with("db") && value.starts_with("keys=")) {
      keys += std::strtoull(std::string(value.substr(5, value.find(',') - 5)).c_str(), nullptr, 10);
      continue;
    }
    fields.emplace_back(field, value);
  }
  fields.emplace_back("keys", std::to_string(keys));
  return fields;
}

void PrintStats(const kvs::Address& addr, const ConnectionOptions& options) {
  std::vector<std::pair<std::string, std::string>> fields = ParseInfo(FetchInfo(addr, options));
  size_t width = 0;
  for (const auto& f : fields) width = std::max(width, f.first.size() + 1);
  for (const auto& [field, value] : fields) {
    fmt::print("{:<{}} {}\n", field + ":", width, value);
  }
}

// ---------------------------------------------------------------------------------------
// Cluster mode (docs/REPLICATION.md).

// CLUSTER STATUS of one node: its "field:value" lines ("member" repeats).
std::vector<std::pair<std::string, std::string>> NodeStatus(const kvs::Address& addr,
                                                            const ConnectionOptions& options) {
  ClientConnection conn(addr, Protocol::kResp, options);
  RespReply reply = conn.CallResp({"CLUSTER", "STATUS"});
  if (reply.type == '-') Die(kExitError, reply.text);
  return ParseInfo(reply.text);
}

// Asks the node at `addr` for the members, then every member for its own view.
void PrintClusterStatus(const kvs::Address& addr, const ConnectionOptions& options) {
  struct Member {
    std::string id, role, client, raft;
  };
  std::vector<Member> members;
  for (const auto& [field, value] : NodeStatus(addr, options)) {
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
    const bool up = client.ok() && kvs::client::Reachable(*client);
    if (up) {
      for (auto& [field, value] : NodeStatus(*client, options)) view.emplace(field, value);
    }
    auto get = [&view, up](const char* field) {
      return !up ? std::string("-") : view.count(field) ? view[field] : std::string("?");
    };
    fmt::print("{:<6}{:<22}{:<22}{:<9}{:<13}{:<8}{:<10}{:<10}{}\n", m.id, m.client, m.raft, m.role,
               up ? get("state") : "unreachable", get("term"), get("commit_index"),
               get("last_applied"), get("leader_id"));
  }
}

// ---------------------------------------------------------------------------------------
// The generic form: {"cmd":[...]} → {"ok":true,"value":<any JSON>} (docs/PROTOCOL.md).

// Sends `words` and returns the reply's value (nullopt for a bare {"ok":true}); a top-level
// error is printed on stderr and ends the process (exit 1).
std::optional<simdjson::dom::element> Call(ClientConnection& conn,
                                           const std::vector<std::string>& words, bool stale) {
  for (const std::string& w : words) {
    if (!simdjson::validate_utf8(w)) {
      Die(kExitUsage,
          "arguments must be valid UTF-8 (JSON carries text; binary data needs a "
          "Redis client)");
    }
  }
  const std::vector<std::string_view> argv(words.begin(), words.end());
  kvs::proto::Request request;
  request.command = kvs::proto::Command::kRedis;
  request.argv = argv;
  request.stale = stale;
  std::string line;
  kvs::proto::EncodeRequest(request, &line);
  simdjson::dom::element reply = conn.CallJson(line);
  if (!kvs::client::JsonOk(reply)) ServerError(kvs::client::JsonError(reply));
  simdjson::dom::element value;
  if (reply["value"].get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

// A reply as redis-cli prints it to a pipe: strings raw, integers as numbers, each element
// of an array (a map: key, then value) on its own line, nested arrays flattened, null as
// "(nil)", an error inside an array (EXEC's) as "(error) TEXT".
void AppendValue(simdjson::dom::element v, std::string* out) {
  switch (v.type()) {
    case simdjson::dom::element_type::ARRAY: {
      const simdjson::dom::array array = v.get_array().value_unsafe();
      for (simdjson::dom::element e : array) AppendValue(e, out);
      return;
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object = v.get_object().value_unsafe();
      std::string_view error;
      if (object.size() == 1 && object["error"].get(error) == simdjson::SUCCESS) {
        out->append("(error) ").append(error).push_back('\n');
        return;
      }
      for (simdjson::dom::key_value_pair field : object) {
        out->append(field.key).push_back('\n');
        AppendValue(field.value, out);
      }
      return;
    }
    case simdjson::dom::element_type::STRING:
      out->append(v.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64:
      out->append(std::to_string(v.get_int64().value_unsafe()));
      break;
    case simdjson::dom::element_type::UINT64:
      out->append(std::to_string(v.get_uint64().value_unsafe()));
      break;
    case simdjson::dom::element_type::DOUBLE:
      out->append(fmt::format("{}", v.get_double().value_unsafe()));
      break;
    case simdjson::dom::element_type::BOOL:
      out->append(v.get_bool().value_unsafe() ? "1" : "0");
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      out->append("(nil)");
      break;
  }
  out->push_back('\n');
}

void PrintValue(simdjson::dom::element v) {
  std::string out;
  AppendValue(v, &out);
  Write(out);
}

// SCAN's reply: [next cursor, [keys...]]; dies on anything else.
std::pair<std::string, simdjson::dom::array> ScanReply(std::optional<simdjson::dom::element> v) {
  simdjson::dom::array pair, keys;
  std::string_view cursor;
  if (!v || v->get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
      pair.at(0).get(cursor) != simdjson::SUCCESS || pair.at(1).get(keys) != simdjson::SUCCESS) {
    Die(kExitError, "unexpected SCAN reply from server");
  }
  return {std::string(cursor), keys};
}

// scan without a CURSOR walks the whole keyspace and prints keys only; with one it makes one
// step and prints the next cursor, then the keys.
void Scan(ClientConnection& conn, const std::string& start, const std::string& match, size_t count,
          bool stale) {
  const bool walk = start.empty();
  std::string cursor = walk ? "0" : start;
  do {
    std::vector<std::string> words{"SCAN", cursor};
    if (!match.empty()) words.insert(words.end(), {"MATCH", match});
    if (count > 0) words.insert(words.end(), {"COUNT", std::to_string(count)});
    auto [next, keys] = ScanReply(Call(conn, words, stale));
    std::string out;
    if (!walk) out.append(next).push_back('\n');
    for (simdjson::dom::element key : keys) AppendValue(key, &out);
    Write(out);
    cursor = std::move(next);
  } while (walk && cursor != "0");
}

// ---------------------------------------------------------------------------------------
// set, get, rm: the JSON "op" shape (docs/PROTOCOL.md), their output fixed by DESIGN.md.

// Sends {"op":...}; a server error is printed on stderr and ends the process (exit 1),
// except get's "not valid UTF-8", which it returns (get fetches the bytes over RESP).
simdjson::dom::element CallOp(ClientConnection& conn, kvs::proto::Command command,
                              const std::string& key, const std::string* value, bool stale) {
  kvs::proto::Request request;
  request.shape = kvs::proto::Shape::kJson;
  request.command = command;
  request.key = key;
  request.stale = stale;
  if (value != nullptr) {
    request.value = *value;
    request.has_value = true;
  }
  std::string line;
  kvs::proto::EncodeRequest(request, &line);
  simdjson::dom::element reply = conn.CallJson(line);
  if (!kvs::client::JsonOk(reply)) {
    const std::string error = kvs::client::JsonError(reply);
    if (command != kvs::proto::Command::kGet || error.rfind(kNotUtf8Error, 0) != 0) {
      ServerError(error);
    }
  }
  return reply;
}

// SET over RESP, for a value JSON cannot carry.
void SetOverResp(const kvs::Address& addr, const ConnectionOptions& options, const std::string& key,
                 const std::string& value) {
  ClientConnection conn(addr, Protocol::kResp, options);
  RespReply reply = conn.CallResp({"SET", key, value});
  if (reply.type == '-') ServerError(reply.text);
}

int Get(const kvs::Address& addr, const ConnectionOptions& options, const std::string& key,
        bool stale) {
  {
    ClientConnection conn(addr, Protocol::kJson, options);
    simdjson::dom::element reply = CallOp(conn, kvs::proto::Command::kGet, key, nullptr, stale);
    std::string_view value;
    if (kvs::client::JsonOk(reply)) {
      if (reply["value"].get(value) == simdjson::SUCCESS) {
        Write(value);
        Write("\n");
      } else {
        fmt::print("Key not found\n");
      }
      return 0;
    }
  }
  // Bytes that are not UTF-8: the same GET over RESP, which is binary-safe.
  ConnectionOptions resp_options = options;
  resp_options.readonly = stale;
  ClientConnection conn(addr, Protocol::kResp, resp_options);
  RespReply got = conn.CallResp({"GET", key});
  if (got.type == '-') ServerError(got.text);
  if (got.type != '$') Die(kExitError, "unexpected GET reply from server");
  if (got.nil) {
    fmt::print("Key not found\n");
  } else {
    Write(got.text);
    Write("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvs-client: talk to a kvs-server"};
  app.footer(
      "Output: set, rm, mset, rename and flushdb print nothing on success; other commands\n"
      "print the reply as redis-cli prints it to a pipe: strings raw, integers as numbers,\n"
      "arrays one element per line, a missing value as (nil). A server error goes to stderr\n"
      "and the exit code is 1; a bad command line exits with 2. Words that begin with '-'\n"
      "(other than negative numbers) go after `--`: kvs-client cmd -- SET k -x.\n"
      "\n"
      "`kvs-client stats` prints the server's statistics (keys, live/dead bytes, segments,\n"
      "compactions, fsyncs, write batches and mean batch size, connections, uptime): the\n"
      "reply to a RESP INFO command, as aligned `field: value` lines.");
  app.set_version_flag("-V,--version", KVS_VERSION_STRING);
  std::string addr_text = "127.0.0.1:4000";
  app.add_option("--addr", addr_text, "server address IP:PORT (default 127.0.0.1:4000)")
      ->envname("KVS_ADDR");
  int64_t db = -1;
  CLI::Option* db_option =
      app.add_option("--db", db, "database number: SELECT N first, on the same connection")
          ->type_name("N")
          ->check(CLI::NonNegativeNumber);
  std::string password_file;
  app.add_option("--password-file", password_file,
                 "AUTH first with the password in PATH (its final newline dropped); without "
                 "it, the KVS_PASSWORD environment variable is the password")
      ->type_name("PATH");
  app.require_subcommand(1, 1);
  app.fallthrough();

  std::string key, value, by, src, dst, pattern, cursor, match;
  std::vector<std::string> words;
  size_t count = 0;
  bool stale = false;
  auto stale_flag = [&stale](CLI::App* sub) {
    sub->add_flag("--stale", stale,
                  "cluster mode: let a follower answer from its own copy (may be behind)");
  };
  CLI::App* set = app.add_subcommand("set", "set KEY to VALUE");
  set->add_option("KEY", key)->required();
  set->add_option("VALUE", value, "the value; - reads it from standard input (binary-safe)")
      ->required();
  CLI::App* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("KEY", key)->required();
  stale_flag(get);
  CLI::App* rm = app.add_subcommand("rm", "remove KEY");
  rm->add_option("KEY", key)->required();

  CLI::App* incr = app.add_subcommand("incr", "add 1 (or BY) to the integer at KEY, print it");
  CLI::App* decr =
      app.add_subcommand("decr", "subtract 1 (or BY) from the integer at KEY, print it");
  for (CLI::App* sub : {incr, decr}) {
    sub->add_option("KEY", key)->required();
    sub->add_option("BY", by, "the increment (INCRBY / DECRBY)");
  }
  CLI::App* mget = app.add_subcommand("mget", "print the value of each KEY, (nil) if missing");
  mget->add_option("KEY", words)->required();
  CLI::App* mset = app.add_subcommand("mset", "set each KEY to its VALUE, all at once");
  mset->add_option("KEY VALUE", words)->required();
  CLI::App* exists = app.add_subcommand("exists", "print how many of the KEYs exist");
  exists->add_option("KEY", words)->required();
  CLI::App* del = app.add_subcommand("del", "remove the KEYs, print how many there were");
  del->add_option("KEY", words)->required();
  CLI::App* type = app.add_subcommand("type", "print the type of KEY (none if missing)");
  type->add_option("KEY", key)->required();
  CLI::App* rename = app.add_subcommand("rename", "rename SRC to DST (replacing DST)");
  rename->add_option("SRC", src)->required();
  rename->add_option("DST", dst)->required();
  CLI::App* keys = app.add_subcommand("keys", "print the keys matching PATTERN (glob: * ? [])");
  keys->add_option("PATTERN", pattern)->required();
  CLI::App* scan = app.add_subcommand(
      "scan", "print every key; with CURSOR, one step: the next cursor (0 at the end), then keys");
  scan->add_option("CURSOR", cursor, "where to resume (a cursor printed by scan CURSOR)");
  scan->add_option("--match", match, "only keys matching this glob pattern")->type_name("PATTERN");
  scan->add_option("--count", count, "keys the server looks at per step (a hint)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  CLI::App* dbsize = app.add_subcommand("dbsize", "print the number of keys");
  CLI::App* flushdb = app.add_subcommand("flushdb", "remove every key of the database");
  CLI::App* cmd = app.add_subcommand(
      "cmd", "send any command (WORD... as redis-cli takes them) and print its reply");
  cmd->add_option("WORD", words, "the command name, then its arguments")->required();
  for (CLI::App* sub : {mget, exists, type, keys, scan, dbsize, cmd}) stale_flag(sub);

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
  std::string transfer_id;
  CLI::App* cluster_transfer = cluster->add_subcommand(
      "transfer", "hand leadership over to node ID (default: the most caught-up follower)");
  cluster_transfer->add_option("ID", transfer_id, "the new leader's id");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    Die(kExitUsage, fmt::format("{} (see --help)", e.what()));
  }
  if (mset->parsed() && words.size() % 2 != 0) {
    Die(kExitUsage,
        fmt::format("mset takes KEY VALUE pairs; got {} words (see --help)", words.size()));
  }

  kvs::Result<kvs::Address> addr = kvs::ParseAddress(addr_text);
  if (!addr.ok()) Die(kExitUsage, addr.status().message());
  ConnectionOptions options;
  options.password = ResolvePassword(password_file);
  if (!simdjson::validate_utf8(options.password)) {
    Die(kExitUsage, "the password must be valid UTF-8");
  }
  if (db_option->count() > 0) options.db = std::to_string(db);

  if (stats->parsed()) {
    PrintStats(*addr, options);
    return 0;
  }
  if (cluster->parsed()) {
    if (cluster_status->parsed()) {
      PrintClusterStatus(*addr, options);
      return 0;
    }
    std::vector<std::string> call;
    if (cluster_add->parsed()) {
      call = {"CLUSTER", "ADD", peer_text};
    } else if (cluster_remove->parsed()) {
      call = {"CLUSTER", "REMOVE", remove_id};
    } else {
      call = {"CLUSTER", "FAILOVER"};
      if (!transfer_id.empty()) call.push_back(transfer_id);
    }
    ClientConnection conn(*addr, Protocol::kResp, options);
    RespReply reply = conn.CallResp(call);
    if (reply.type == '-') ServerError(reply.text);
    return 0;
  }

  // JSON carries text: binary keys and values need a Redis client (RESP is binary-safe),
  // except a value from standard input, which goes over RESP when it is not UTF-8.
  if (set->parsed() || get->parsed() || rm->parsed()) {
    if (!simdjson::validate_utf8(key)) Die(kExitUsage, "KEY must be valid UTF-8");
    if (set->parsed() && value == "-") {
      value = ReadStdinValue();
      if (!simdjson::validate_utf8(value)) {
        SetOverResp(*addr, options, key, value);
        return 0;
      }
    }
    if (!simdjson::validate_utf8(value)) Die(kExitUsage, "VALUE must be valid UTF-8");
    if (get->parsed()) return Get(*addr, options, key, stale);
    ClientConnection conn(*addr, Protocol::kJson, options);
    CallOp(conn, set->parsed() ? kvs::proto::Command::kSet : kvs::proto::Command::kRm, key,
           set->parsed() ? &value : nullptr, false);
    return 0;
  }

  ClientConnection conn(*addr, Protocol::kJson, options);
  if (scan->parsed()) {
    Scan(conn, cursor, match, count, stale);
    return 0;
  }
  // Every other command is one call: its words, and whether an "OK" is printed.
  std::vector<std::string> call;
  bool quiet_ok = false;
  auto with = [](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  if (incr->parsed() || decr->parsed()) {
    const std::string name = incr->parsed() ? "INCR" : "DECR";
    call = by.empty() ? std::vector<std::string>{name, key}
                      : std::vector<std::string>{name + "BY", key, by};
  } else if (mget->parsed()) {
    call = with({"MGET"}, words);
  } else if (mset->parsed()) {
    call = with({"MSET"}, words);
    quiet_ok = true;
  } else if (exists->parsed()) {
    call = with({"EXISTS"}, words);
  } else if (del->parsed()) {
    call = with({"DEL"}, words);
  } else if (type->parsed()) {
    call = {"TYPE", key};
  } else if (rename->parsed()) {
    call = {"RENAME", src, dst};
    quiet_ok = true;
  } else if (keys->parsed()) {
    call = {"KEYS", pattern};
  } else if (dbsize->parsed()) {
    call = {"DBSIZE"};
  } else if (flushdb->parsed()) {
    call = {"FLUSHDB"};
    quiet_ok = true;
  } else {
    call = words;  // cmd
  }
  std::optional<simdjson::dom::element> reply = Call(conn, call, stale);
  std::string_view text;
  if (!reply || (quiet_ok && reply->get(text) == simdjson::SUCCESS && text == "OK")) return 0;
  PrintValue(*reply);
  return 0;
}
