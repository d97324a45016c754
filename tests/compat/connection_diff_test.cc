// Differential cases of the connection commands (issue 17): HELLO and RESP3, AUTH, CLIENT,
// ECHO, TIME, RESET, COMMAND, CONFIG GET, INFO keyspace; and a server with a password.
// Replies with fields two correct servers answer differently go through the masks of
// compat/reply_mask.h (HELLO's server, version and id; CLIENT ID; TIME; CLIENT INFO).

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "compat/differential.h"

namespace kvs::compat {
namespace {

using namespace std::string_literals;

class ConnectionDiffTest : public DifferentialTest {};

// The value of `field`=... in a CLIENT INFO line; "" if absent.
std::string ClientField(const std::string& reply, const std::string& field) {
  const size_t at = reply.find(" " + field + "=");
  const size_t start = at == std::string::npos ? reply.find(field + "=") : at + 1;
  if (start == std::string::npos) return "";
  const size_t value = start + field.size() + 1;
  return reply.substr(value, reply.find_first_of(" \n", value) - value);
}

// The number after "id" in a HELLO reply (RESP2 or RESP3); -1 if none.
long long HelloId(const std::string& reply) {
  ReplyNode n;
  if (!ParseReply(reply, &n)) return -1;
  for (size_t i = 0; i + 1 < n.items.size(); i += 2) {
    if (n.items[i].text == "id") return std::stoll(n.items[i + 1].text);
  }
  return -1;
}

// --- ECHO, TIME, AUTH without a password ---------------------------------------------------

TEST_F(ConnectionDiffTest, EchoRepliesItsArgument) {
  Uses({"connection"});
  SendBoth({"ECHO", "hello"});
  SendBoth({"ECHO", ""});
  SendBoth({"echo", "\0\r\n\xff"s});
  SendBoth({"ECHO"});
  SendBoth({"ECHO", "a", "b"});
}

TEST_F(ConnectionDiffTest, TimeIsSecondsAndMicroseconds) {
  Uses({"connection"});
  const Replies r = SendBoth({"TIME"}, MaskTime);
  ExpectRedis({MaskTime(r.redis), ""}, "*2\r\n$8\r\n<digits>\r\n$8\r\n<digits>\r\n");
  // Both clocks are the wall clock: within a minute of this one.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const std::string& reply : {r.redis, r.kvs}) {
    ReplyNode n;
    if (ParseReply(reply, &n) && n.items.size() == 2) {
      EXPECT_NEAR(std::stoll(n.items[0].text), now, 60) << reply;
      EXPECT_LT(std::stoll(n.items[1].text), 1000000) << reply;
    } else if (!preview()) {
      ADD_FAILURE() << "TIME: " << reply;
    }
  }
  SendBoth({"TIME", "x"});
}

TEST_F(ConnectionDiffTest, AuthWithoutAPasswordSet) {
  Uses({"connection"});
  ExpectRedis(SendBoth({"AUTH", "x"}),
              "-ERR AUTH <password> called without any password configured for the default "
              "user. Are you sure your configuration is correct?\r\n");
  // The default user has no password: any password is right for it.
  ExpectRedis(SendBoth({"AUTH", "default", "x"}), "+OK\r\n");
  SendBoth({"AUTH", "nosuchuser", "x"});
  SendBoth({"AUTH", "a", "b", "c"});
  SendBoth({"AUTH"});
  SendBoth({"PING"});
}

// --- HELLO ----------------------------------------------------------------------------------

TEST_F(ConnectionDiffTest, HelloAnswersTheServersDescription) {
  Uses({"connection"});
  const Replies r = SendBoth({"HELLO"}, MaskHello);
  ExpectRedis({MaskHello(r.redis), ""},
              "*14\r\n$6\r\nserver\r\n$8\r\n<masked>\r\n$7\r\nversion\r\n$8\r\n<masked>\r\n"
              "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:<masked>\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
              "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
  SendBoth({"HELLO", "2"}, MaskHello);
  SendBoth({"hello", "2", "setname", "n1", "SETNAME", "n2"}, MaskHello);
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"GET", "missing"});  // still RESP2
}

TEST_F(ConnectionDiffTest, HelloRefusesOtherVersionsAndBadOptions) {
  Uses({"connection"});
  ExpectRedis(SendBoth({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  SendBoth({"HELLO", "1"});
  SendBoth({"HELLO", "0"});
  SendBoth({"HELLO", "-1"});
  ExpectRedis(SendBoth({"HELLO", "abc"}),
              "-ERR Protocol version is not an integer or out of range\r\n");
  SendBoth({"HELLO", "3.0"});
  SendBoth({"HELLO", " 3"});
  ExpectRedis(SendBoth({"HELLO", "3", "AUTH"}), "-ERR Syntax error in HELLO option 'AUTH'\r\n");
  SendBoth({"HELLO", "2", "AUTH", "a"});
  SendBoth({"HELLO", "3", "SETNAME"});
  SendBoth({"HELLO", "2", "FOO"});
  SendBoth({"HELLO", "2", "SETNAME", "my", "name"});
  SendBoth({"HELLO", "3", "SETNAME", "my name"});  // refused: the protocol stays RESP2
  SendBoth({"GET", "missing"});
}

TEST_F(ConnectionDiffTest, HelloAuthWithoutAPasswordSet) {
  Uses({"connection", "resp3"});
  SendBoth({"HELLO", "3", "AUTH", "default", "x"}, MaskHello);
  SendBoth({"HELLO", "2", "AUTH", "default", "x", "SETNAME", "n"}, MaskHello);
  SendBoth({"CLIENT", "GETNAME"});
}

TEST_F(ConnectionDiffTest, Hello3SwitchesTheRepliesToResp3) {
  Uses({"resp3", "connection", "set-options", "multi-key", "counters", "keyspace", "get-and-set",
        "config", "transactions"});
  const Replies hello = SendBoth({"HELLO", "3"}, MaskHello);
  ExpectRedis({MaskHello(hello.redis), ""},
              "%7\r\n$6\r\nserver\r\n$8\r\n<masked>\r\n$7\r\nversion\r\n$8\r\n<masked>\r\n"
              "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:<masked>\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
              "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
  ExpectRedis(SendBoth({"GET", "missing"}), "_\r\n");
  SendBoth({"SET", "a", "1"});
  SendBoth({"GET", "a"});
  SendBoth({"SET", "a", "2", "GET"});
  SendBoth({"SET", "b", "1", "NX", "GET"});
  SendBoth({"SET", "a", "3", "NX"});
  SendBoth({"MGET", "a", "missing", "b"});
  SendBoth({"INCR", "a"});
  SendBoth({"INCRBYFLOAT", "f", "1.5"});  // a bulk string, not a RESP3 double
  SendBoth({"EXISTS", "a"});
  SendBoth({"TYPE", "a"});
  SendBoth({"GETDEL", "missing"});
  SendBoth({"GETSET", "missing", "x"});
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"CLIENT", "ID"}, MaskId);
  SendBoth({"ECHO", "x"});
  SendBoth({"PING"});
  SendBoth({"PING", "x"});
  SendBoth({"TIME"}, MaskTime);
  ExpectRedis(SendBoth({"CONFIG", "GET", "databases"}), "%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n");
  SendBoth({"CONFIG", "GET", "nosuch"});
  SendBoth({"MULTI"});
  SendBoth({"GET", "missing"});
  SendBoth({"INCR", "a"});
  SendBoth({"EXEC"});
  SendBoth({"NOSUCH"});
  SendBoth({"HELLO", "2"}, MaskHello);
  SendBoth({"GET", "missing"});  // RESP2 again
}

// --- CLIENT ---------------------------------------------------------------------------------

TEST_F(ConnectionDiffTest, ClientSetnameAndGetname) {
  Uses({"connection"});
  ExpectRedis(SendBoth({"CLIENT", "GETNAME"}), "$-1\r\n");
  SendBoth({"CLIENT", "SETNAME", "n1"});
  SendBoth({"CLIENT", "GETNAME"});
  ExpectRedis(SendBoth({"CLIENT", "SETNAME", "a b"}),
              "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  SendBoth({"CLIENT", "SETNAME", "a\nb"});
  SendBoth({"CLIENT", "SETNAME", "h\xc3\xa9llo"});
  SendBoth({"CLIENT", "SETNAME", "a~z!{}"});
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"CLIENT", "SETNAME", ""});  // clears it
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"client", "setname", "lower"});
  SendBoth({"CLIENT", "GETNAME"});
}

TEST_F(ConnectionDiffTest, ClientArityAndUnknownSubcommands) {
  Uses({"connection"});
  SendBoth({"CLIENT"});
  SendBoth({"CLIENT", "SETNAME"});
  SendBoth({"CLIENT", "SETNAME", "a", "b"});
  SendBoth({"CLIENT", "GETNAME", "x"});
  SendBoth({"CLIENT", "ID", "x"});
  SendBoth({"CLIENT", "INFO", "x"});
  SendBoth({"CLIENT", "NO-EVICT"});
  SendBoth({"CLIENT", "KILL"});
  SendBoth({"CLIENT", "NOSUCH"});
  // CLIENT SETINFO and NO-TOUCH are Redis 7.2's, unknown to 7.0.15: kvs answers them as 7.2
  // does (kKnownDifferences), so there is nothing to compare.
}

TEST_F(ConnectionDiffTest, ClientNoEvict) {
  Uses({"connection"});
  SendBoth({"CLIENT", "NO-EVICT", "on"});
  SendBoth({"CLIENT", "NO-EVICT", "OFF"});
  SendBoth({"CLIENT", "NO-EVICT", "x"});
  SendBoth({"CLIENT", "NO-EVICT", "on", "off"});
}

TEST_F(ConnectionDiffTest, ClientIdIsTheIdHelloReports) {
  Uses({"connection"});
  const Replies id = SendBoth({"CLIENT", "ID"}, MaskId);
  const Replies hello = SendBoth({"HELLO"}, MaskHello);
  EXPECT_EQ(id.redis, ":" + std::to_string(HelloId(hello.redis)) + "\r\n");
  if (!preview()) {
    EXPECT_EQ(id.kvs, ":" + std::to_string(HelloId(hello.kvs)) + "\r\n");
  }
  // Another connection has another, larger id.
  std::unique_ptr<ClientPair> other = Connect();
  const Replies other_id = other->Send({"CLIENT", "ID"}, MaskId);
  EXPECT_GT(std::stoll(other_id.redis.substr(1)), std::stoll(id.redis.substr(1)));
  if (!preview()) {
    EXPECT_GT(std::stoll(other_id.kvs.substr(1)), std::stoll(id.kvs.substr(1)));
  }
}

TEST_F(ConnectionDiffTest, ClientInfoShowsNameDatabaseAndProtocol) {
  Uses({"connection", "databases", "resp3", "transactions"});
  SendBoth({"CLIENT", "INFO"}, MaskClientInfo);
  SendBoth({"CLIENT", "SETNAME", "me"});
  SendBoth({"SELECT", "3"});
  SendBoth({"CLIENT", "INFO"}, MaskClientInfo);
  SendBoth({"MULTI"});
  SendBoth({"GET", "a"});
  SendBoth({"CLIENT", "INFO"});
  SendBoth({"EXEC"}, MaskClientInfo);  // masked inside the array too
  SendBoth({"HELLO", "3"}, MaskHello);
  SendBoth({"CLIENT", "INFO"}, MaskClientInfo);
}

TEST_F(ConnectionDiffTest, ClientListShowsEveryConnection) {
  Uses({"connection"});
  std::unique_ptr<ClientPair> other = Connect();
  other->Send({"CLIENT", "SETNAME", "other"});
  SendBoth({"CLIENT", "LIST"}, MaskClientInfo);
  SendBoth({"CLIENT", "LIST", "TYPE", "normal"}, MaskClientInfo);
  SendBoth({"CLIENT", "LIST", "TYPE", "pubsub"});
  SendBoth({"CLIENT", "LIST", "x"});
  const Replies id = other->Send({"CLIENT", "ID"}, MaskId);
  SendBoth({"CLIENT", "LIST", "ID", "999999"});
  SendEach({"CLIENT", "LIST", "ID", id.redis.substr(1, id.redis.size() - 3)},
           {"CLIENT", "LIST", "ID", id.kvs.substr(1, id.kvs.size() - 3)}, MaskClientInfo);
}

TEST_F(ConnectionDiffTest, ClientKillById) {
  Uses({"connection"});
  std::unique_ptr<ClientPair> other = Connect();
  const Replies id = other->Send({"CLIENT", "ID"}, MaskId);
  ExpectRedis(SendBoth({"CLIENT", "KILL", "ID", "999999"}), ":0\r\n");
  SendBoth({"CLIENT", "KILL", "ID", "abc"});
  SendBoth({"CLIENT", "KILL", "ID"});
  SendBoth({"CLIENT", "KILL", "a", "b", "c"});
  ExpectRedis(SendEach({"CLIENT", "KILL", "ID", id.redis.substr(1, id.redis.size() - 3)},
                       {"CLIENT", "KILL", "ID", id.kvs.substr(1, id.kvs.size() - 3)}),
              ":1\r\n");
  other->ExpectClose("CLIENT KILL ID");
}

TEST_F(ConnectionDiffTest, ClientKillByAddress) {
  Uses({"connection"});
  std::unique_ptr<ClientPair> other = Connect();
  const Replies info = other->Send({"CLIENT", "INFO"}, MaskClientInfo);
  ExpectRedis(SendBoth({"CLIENT", "KILL", "1.2.3.4:5"}), "-ERR No such client\r\n");
  SendEach({"CLIENT", "KILL", ClientField(info.redis, "addr")},
           {"CLIENT", "KILL", ClientField(info.kvs, "addr")});
  other->ExpectClose("CLIENT KILL addr");
}

TEST_F(ConnectionDiffTest, ClientKillSkipsTheCaller) {
  Uses({"connection"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"CLIENT", "KILL", "USER", "nosuch"});
  SendBoth({"CLIENT", "KILL", "SKIPME", "yes", "ID", "999999"});
  SendBoth({"CLIENT", "KILL", "USER", "default", "SKIPME", "yes"});
  other->ExpectClose("CLIENT KILL USER default SKIPME yes");
  SendBoth({"PING"});
}

// --- RESET ------------------------------------------------------------------------------------

TEST_F(ConnectionDiffTest, ResetForgetsNameDatabaseTransactionAndProtocol) {
  Uses({"connection", "databases", "transactions", "resp3"});
  SendBoth({"SELECT", "2"});
  SendBoth({"SET", "k", "in-two"});
  SendBoth({"CLIENT", "SETNAME", "foo"});
  SendBoth({"HELLO", "3"}, MaskHello);
  SendBoth({"MULTI"});
  SendBoth({"SET", "x", "1"});
  ExpectRedis(SendBoth({"RESET"}), "+RESET\r\n");
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"GET", "k"});  // database 0, RESP2: $-1
  SendBoth({"GET", "x"});
  SendBoth({"EXEC"});
  SendBoth({"RESET", "x"});
}

// --- COMMAND, CONFIG GET, INFO keyspace ---------------------------------------------------------

// CLIENT, CONFIG and COMMAND themselves list only the subcommands kvs has, and CLUSTER is
// kvs's own (kKnownDifferences): their subcommands are compared one by one.
TEST_F(ConnectionDiffTest, CommandInfoOfEveryCommandKvsHas) {
  Uses({"command"});
  for (const char* name :
       {"get",    "set",      "del",      "exists",   "dbsize", "ping",   "quit",   "info",
        "keys",   "scan",     "hello",    "auth",     "move",   "select", "echo",   "time",
        "reset",  "setnx",    "getset",   "getdel",   "mget",   "mset",   "msetnx", "append",
        "strlen", "getrange", "setrange", "incr",     "decr",   "incrby", "decrby", "incrbyfloat",
        "unlink", "type",     "rename",   "renamenx", "copy",   "multi",  "exec",   "discard",
        "watch",  "unwatch",  "readonly", "readwrite"}) {
    SendBoth({"COMMAND", "INFO", name}, MaskSubcommandOrder);
  }
  SendBoth({"COMMAND", "INFO", "client|setname", "config|get", "command|count"});
  SendBoth({"COMMAND", "INFO", "GET", "nosuch", "Set"});
}

TEST_F(ConnectionDiffTest, CommandDocsAndErrors) {
  Uses({"command"});
  SendBoth({"COMMAND", "DOCS", "get"});
  SendBoth({"COMMAND", "DOCS", "set", "incrbyfloat"});
  SendBoth({"COMMAND", "DOCS", "client|setname", "config|get", "command|info"});
  SendBoth({"COMMAND", "DOCS", "mset", "copy", "scan", "flushdb", "hello", "client|kill"});
  SendBoth({"COMMAND", "DOCS", "nosuch"});
  SendBoth({"COMMAND", "COUNT", "x"});
  SendBoth({"COMMAND", "NOSUCH"});
  SendBoth({"COMMAND", "INFO", "nosuch"});
}

TEST_F(ConnectionDiffTest, CommandInResp3) {
  Uses({"command", "resp3"});
  SendBoth({"HELLO", "3"}, MaskHello);
  SendBoth({"COMMAND", "INFO", "get", "set", "nosuch"});
  SendBoth({"COMMAND", "INFO", "client|list", "copy"});
  SendBoth({"COMMAND", "DOCS", "get", "set", "client|list"});
}

TEST_F(ConnectionDiffTest, ConfigGetDatabases) {
  Uses({"config"});
  ExpectRedis(SendBoth({"CONFIG", "GET", "databases"}), "*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n");
  SendBoth({"CONFIG", "GET", "nosuch"});
  SendBoth({"CONFIG", "GET"});
  SendBoth({"CONFIG"});
}

TEST_F(ConnectionDiffTest, InfoKeyspaceCountsKeysPerDatabase) {
  Uses({"info-keyspace", "databases"});
  ExpectRedis(SendBoth({"INFO", "keyspace"}), "$12\r\n# Keyspace\r\n\r\n");
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "1"});
  SendBoth({"SELECT", "5"});
  SendBoth({"SET", "a", "1"});
  ExpectRedis(SendBoth({"INFO", "keyspace"}),
              "$76\r\n# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n"
              "db5:keys=1,expires=0,avg_ttl=0\r\n\r\n");
  SendBoth({"INFO", "KEYSPACE"});
}

// --- A server with a password -------------------------------------------------------------------

class PasswordDiffTest : public DifferentialTest {
 protected:
  PasswordDiffTest() {
    options_.password = "s3cret";
    Uses({"auth"});
  }
};

constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.\r\n";
constexpr std::string_view kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

TEST_F(PasswordDiffTest, CommandsBeforeAuthAreRefused) {
  ExpectRedis(SendBoth({"PING"}), kNoAuth);
  for (const std::vector<std::string>& cmd :
       std::initializer_list<std::vector<std::string>>{{"GET", "a"},
                                                       {"SET", "a", "1"},
                                                       {"DEL", "a"},
                                                       {"DBSIZE"},
                                                       {"MULTI"},
                                                       {"DISCARD"},
                                                       {"WATCH", "a"},
                                                       {"SELECT", "1"},
                                                       {"ECHO", "x"},
                                                       {"TIME"},
                                                       {"CLIENT", "SETNAME", "x"},
                                                       {"CLIENT", "ID"},
                                                       {"COMMAND", "COUNT"},
                                                       {"CONFIG", "GET", "databases"},
                                                       {"INFO", "keyspace"},
                                                       {"INCR", "a"}}) {
    SendBoth(cmd);
  }
  // An unknown command and a wrong arity are found first; EXEC's refusal is an EXECABORT.
  SendBoth({"NOSUCH"});
  SendBoth({"GET"});
  ExpectRedis(SendBoth({"EXEC"}),
              "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n");
  SendBoth({"AUTH"});
  SendBoth({"AUTH", "a", "b", "c"});
  SendBoth({"QUIT"});
  ExpectBothClose("QUIT before AUTH");
}

TEST_F(PasswordDiffTest, AuthWithTheRightPassword) {
  ExpectRedis(SendBoth({"AUTH", "wrong"}), kWrongPass);
  SendBoth({"AUTH", "default", "wrong"});
  SendBoth({"AUTH", "nosuchuser", "s3cret"});
  SendBoth({"AUTH", "s3cret", "s3cret"});
  SendBoth({"AUTH", "S3CRET"});
  SendBoth({"AUTH", "s3cret "});
  SendBoth({"GET", "a"});
  ExpectRedis(SendBoth({"AUTH", "s3cret"}), "+OK\r\n");
  SendBoth({"SET", "a", "1"});
  SendBoth({"GET", "a"});
  // A wrong password later does not log the client out.
  SendBoth({"AUTH", "wrong"});
  SendBoth({"GET", "a"});
}

TEST_F(PasswordDiffTest, AuthAsTheDefaultUser) {
  SendBoth({"AUTH", "default", "s3cret"});
  SendBoth({"GET", "a"});
}

TEST_F(PasswordDiffTest, ResetLogsOut) {
  SendBoth({"AUTH", "s3cret"});
  SendBoth({"PING"});
  SendBoth({"RESET"});
  SendBoth({"PING"});
  SendBoth({"AUTH", "default", "s3cret"});
  SendBoth({"PING"});
}

TEST_F(PasswordDiffTest, HelloBeforeAuth) {
  ExpectRedis(SendBoth({"HELLO"}),
              "-NOAUTH HELLO must be called with the client already authenticated, otherwise "
              "the HELLO AUTH <user> <pass> option can be used to authenticate the client and "
              "select the RESP protocol version at the same time\r\n");
  SendBoth({"HELLO", "3"});
  SendBoth({"HELLO", "2", "SETNAME", "x"});
  SendBoth({"HELLO", "4"});
  ExpectRedis(SendBoth({"HELLO", "3", "AUTH", "default", "wrong"}), kWrongPass);
  SendBoth({"HELLO", "3", "AUTH", "nosuch", "s3cret"});
  SendBoth({"GET", "a"});
}

TEST_F(PasswordDiffTest, HelloAuthLogsInAndSetsName) {
  SendBoth({"HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "a"}, MaskHello);
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"GET", "a"});
  Reconnect();
  SendBoth({"HELLO", "3", "AUTH", "default", "s3cret"}, MaskHello);
  SendBoth({"GET", "a"});
}

TEST_F(PasswordDiffTest, EachConnectionLogsInOnItsOwn) {
  SendBoth({"AUTH", "s3cret"});
  std::unique_ptr<ClientPair> other = Connect();
  other->Send({"GET", "a"});
  SendBoth({"GET", "a"});
}

// The same password from the environment instead of a file.
class PasswordInEnvDiffTest : public DifferentialTest {
 protected:
  PasswordInEnvDiffTest() {
    options_.password = "env s3cret";
    options_.password_in_env = true;
    Uses({"auth"});
  }
};

TEST_F(PasswordInEnvDiffTest, KvsRequirepassSetsThePassword) {
  SendBoth({"GET", "a"});
  SendBoth({"AUTH", "env"});
  SendBoth({"AUTH", "env s3cret"});
  SendBoth({"GET", "a"});
}

}  // namespace
}  // namespace kvs::compat
