// Differential cases of the keyspace commands and the databases (issue 17): DEL/UNLINK,
// TYPE, RENAME, RENAMENX, COPY (with DB and REPLACE), SELECT and DBSIZE per database.

#include <gtest/gtest.h>

#include <string>

#include "compat/differential.h"

namespace kvs::compat {
namespace {

using namespace std::string_literals;

class KeyspaceDiffTest : public DifferentialTest {};

constexpr std::string_view kOutOfRange = "-ERR DB index is out of range\r\n";

TEST_F(KeyspaceDiffTest, UnlinkCountsLikeDel) {
  Uses({"keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "2"});
  SendBoth({"UNLINK", "a", "b", "c", "a"});
  SendBoth({"UNLINK", "a"});
  SendBoth({"UNLINK"});
  SendBoth({"DBSIZE"});
}

TEST_F(KeyspaceDiffTest, TypeOfStringAndMissingKey) {
  Uses({"keyspace"});
  ExpectRedis(SendBoth({"TYPE", "missing"}), "+none\r\n");
  SendBoth({"SET", "s", ""});
  ExpectRedis(SendBoth({"TYPE", "s"}), "+string\r\n");
  SendBoth({"TYPE", ""});
  SendBoth({"TYPE"});
  SendBoth({"TYPE", "a", "b"});
}

TEST_F(KeyspaceDiffTest, RenameMovesTheValue) {
  Uses({"keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "2"});
  SendBoth({"RENAME", "a", "b"});  // overwrites
  SendBoth({"MGET", "a", "b"});
  SendBoth({"RENAME", "b", "c"});
  SendBoth({"EXISTS", "a", "b", "c"});
  SendBoth({"GET", "c"});
  SendBoth({"DBSIZE"});
}

TEST_F(KeyspaceDiffTest, RenameOfAMissingKeyIsAnError) {
  Uses({"keyspace"});
  ExpectRedis(SendBoth({"RENAME", "missing", "x"}), "-ERR no such key\r\n");
  SendBoth({"RENAME", "missing", "missing"});
  SendBoth({"RENAMENX", "missing", "x"});
  SendBoth({"EXISTS", "x"});
}

TEST_F(KeyspaceDiffTest, RenameToItself) {
  Uses({"keyspace"});
  SendBoth({"SET", "s", "v"});
  ExpectRedis(SendBoth({"RENAME", "s", "s"}), "+OK\r\n");
  ExpectRedis(SendBoth({"RENAMENX", "s", "s"}), ":0\r\n");
  SendBoth({"GET", "s"});
}

TEST_F(KeyspaceDiffTest, RenamenxOnlyToAMissingKey) {
  Uses({"keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", "2"});
  SendBoth({"RENAMENX", "a", "b"});
  SendBoth({"MGET", "a", "b"});
  SendBoth({"RENAMENX", "a", "c"});
  SendBoth({"MGET", "a", "c"});
}

TEST_F(KeyspaceDiffTest, RenameArity) {
  Uses({"keyspace"});
  SendBoth({"RENAME"});
  SendBoth({"RENAME", "a"});
  SendBoth({"RENAME", "a", "b", "c"});
  SendBoth({"RENAMENX", "a"});
  SendBoth({"RENAMENX", "a", "b", "c"});
}

TEST_F(KeyspaceDiffTest, CopyWithAndWithoutReplace) {
  Uses({"keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"COPY", "a", "b"});
  SendBoth({"COPY", "a", "b"});  // exists: :0
  SendBoth({"SET", "a", "2"});
  SendBoth({"COPY", "a", "b", "REPLACE"});
  SendBoth({"GET", "b"});
  SendBoth({"COPY", "a", "b", "replace", "REPLACE"});
  SendBoth({"COPY", "missing", "x"});
  SendBoth({"COPY", "missing", "b", "REPLACE"});  // a missing source leaves b alone
  SendBoth({"GET", "b"});
}

TEST_F(KeyspaceDiffTest, CopyErrors) {
  Uses({"keyspace"});
  SendBoth({"SET", "a", "1"});
  ExpectRedis(SendBoth({"COPY", "a", "a"}), "-ERR source and destination objects are the same\r\n");
  SendBoth({"COPY", "a", "a", "REPLACE"});
  SendBoth({"COPY", "a", "c", "FOO"});
  SendBoth({"COPY", "a", "c", "REPLACE", "FOO"});
  SendBoth({"COPY"});
  SendBoth({"COPY", "a"});
  SendBoth({"EXISTS", "c"});
}

TEST_F(KeyspaceDiffTest, MoveBetweenDatabases) {
  Uses({"databases"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"MOVE", "a", "0"});  // the same database: an error, even for a valid index
  SendBoth({"MOVE", "a", "x"});
  SendBoth({"MOVE", "a", "99"});
  SendBoth({"MOVE", "a", "-1"});
  SendBoth({"MOVE", "a", "2147483648"});
  SendBoth({"MOVE", "missing", "1"});
  SendBoth({"MOVE", "a", "1"});
  SendBoth({"MOVE", "a", "1"});  // gone from here: :0
  SendBoth({"SELECT", "1"});
  SendBoth({"GET", "a"});
  SendBoth({"SET", "b", "2"});
  SendBoth({"SELECT", "0"});
  SendBoth({"SET", "b", "3"});
  SendBoth({"MOVE", "b", "1"});  // taken there: :0, both stay
  SendBoth({"GET", "b"});
  SendBoth({"MOVE"});
  SendBoth({"MOVE", "a"});
}

// --- Databases ----------------------------------------------------------------------------

TEST_F(KeyspaceDiffTest, SelectSeparatesDatabases) {
  Uses({"databases"});
  SendBoth({"SET", "k", "zero"});
  SendBoth({"SELECT", "1"});
  SendBoth({"GET", "k"});
  SendBoth({"DBSIZE"});
  SendBoth({"SET", "k", "one"});
  SendBoth({"SET", "j", "one"});
  SendBoth({"DBSIZE"});
  SendBoth({"SELECT", "15"});
  SendBoth({"DBSIZE"});
  SendBoth({"SELECT", "0"});
  SendBoth({"GET", "k"});
  SendBoth({"DBSIZE"});
  SendBoth({"EXISTS", "j"});
}

TEST_F(KeyspaceDiffTest, SelectOutOfRangeOrNotANumber) {
  Uses({"databases"});
  ExpectRedis(SendBoth({"SELECT", "16"}), kOutOfRange);
  SendBoth({"SELECT", "-1"});
  SendBoth({"SELECT", "2147483648"});
  ExpectRedis(SendBoth({"SELECT", "abc"}), "-ERR value is not an integer or out of range\r\n");
  for (const std::string& n : {"1.0"s, " 1"s, "+1"s, "01"s, ""s, "9223372036854775808"s}) {
    SendBoth({"SELECT", n});
  }
  SendBoth({"SELECT"});
  SendBoth({"SELECT", "1", "2"});
  SendBoth({"SET", "k", "v"});  // still database 0
  SendBoth({"SELECT", "0"});
  SendBoth({"GET", "k"});
}

TEST_F(KeyspaceDiffTest, DatabasesAreSeparateForEveryCommand) {
  Uses({"databases", "keyspace", "counters", "multi-key"});
  SendBoth({"MSET", "a", "1", "b", "2"});
  SendBoth({"SELECT", "2"});
  SendBoth({"INCR", "a"});
  SendBoth({"RENAME", "b", "c"});
  SendBoth({"TYPE", "a"});
  SendBoth({"MGET", "a", "b"});
  SendBoth({"SELECT", "0"});
  SendBoth({"MGET", "a", "b"});
  SendBoth({"DEL", "a"});
  SendBoth({"SELECT", "2"});
  SendBoth({"GET", "a"});
}

TEST_F(KeyspaceDiffTest, CopyToAnotherDatabase) {
  Uses({"databases", "keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"COPY", "a", "c", "DB", "1"});
  SendBoth({"COPY", "a", "c", "DB", "1"});
  SendBoth({"COPY", "a", "c", "DB", "1", "REPLACE"});
  SendBoth({"COPY", "a", "c", "db", "1", "replace"});
  SendBoth({"COPY", "a", "a", "DB", "1"});  // the same name elsewhere is another object
  ExpectRedis(SendBoth({"COPY", "a", "a", "DB", "0"}),
              "-ERR source and destination objects are the same\r\n");
  SendBoth({"DBSIZE"});
  SendBoth({"SELECT", "1"});
  SendBoth({"DBSIZE"});
  SendBoth({"MGET", "a", "c"});
  SendBoth({"COPY", "a", "d", "DB", "0"});
  SendBoth({"SELECT", "0"});
  SendBoth({"GET", "d"});
}

TEST_F(KeyspaceDiffTest, CopyDbErrors) {
  Uses({"databases", "keyspace"});
  SendBoth({"SET", "a", "1"});
  ExpectRedis(SendBoth({"COPY", "a", "c", "DB", "16"}), kOutOfRange);
  SendBoth({"COPY", "a", "c", "DB", "-1"});
  SendBoth({"COPY", "missing", "c", "DB", "99"});  // checked before the source
  SendBoth({"COPY", "a", "c", "DB", "abc"});
  ExpectRedis(SendBoth({"COPY", "a", "c", "DB"}), "-ERR syntax error\r\n");
  SendBoth({"COPY", "a", "c", "DB", "1", "DB", "2"});
  SendBoth({"SELECT", "2"});
  SendBoth({"EXISTS", "c"});
}


// --- FLUSHDB / FLUSHALL: one prefix delete each, seen at once by what follows ----------

std::string RespOf(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

TEST_F(KeyspaceDiffTest, FlushdbEmptiesOnlyTheSelectedDatabase) {
  Uses({"databases", "keyspace"});
  SendBoth({"MSET", "a", "1", "b", "2"});
  SendBoth({"SELECT", "1"});
  SendBoth({"SET", "c", "3"});
  ExpectRedis(SendBoth({"FLUSHDB"}), "+OK\r\n");
  SendBoth({"DBSIZE"});
  SendBoth({"EXISTS", "c"});
  SendBoth({"SELECT", "0"});
  SendBoth({"DBSIZE"});
  SendBoth({"MGET", "a", "b"});
  SendBoth({"FLUSHDB", "ASYNC"});
  SendBoth({"DBSIZE"});
  SendBoth({"FLUSHDB", "sync"});
  SendBoth({"FLUSHDB", "LATER"});
  SendBoth({"FLUSHDB", "SYNC", "ASYNC"});
}

TEST_F(KeyspaceDiffTest, FlushallEmptiesEveryDatabase) {
  Uses({"databases", "keyspace"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SELECT", "5"});
  SendBoth({"SET", "b", "2"});
  ExpectRedis(SendBoth({"FLUSHALL"}), "+OK\r\n");
  SendBoth({"DBSIZE"});
  SendBoth({"SELECT", "0"});
  SendBoth({"DBSIZE"});
  SendBoth({"SET", "a", "again"});
  SendBoth({"GET", "a"});
  SendBoth({"FLUSHALL", "NOW"});
}

TEST_F(KeyspaceDiffTest, WritesPipelinedAroundAFlushSeeItInOrder) {
  // All in one write: the flush and the writes around it are staged in the same group
  // commit, and each command after it must see the keyspace it leaves.
  Uses({"databases", "keyspace", "multi-key"});
  SendBoth({"SET", "old", "1"});
  SendRawBoth(RespOf({"SET", "a", "1"}) + RespOf({"FLUSHDB"}) + RespOf({"SET", "b", "2"}) +
                  RespOf({"GET", "a"}) + RespOf({"GET", "old"}) + RespOf({"EXISTS", "a", "b"}) +
                  RespOf({"INCR", "a"}) + RespOf({"KEYS", "b"}) + RespOf({"DBSIZE"}) +
                  RespOf({"DEL", "old", "b"}),
              10);
  SendRawBoth(RespOf({"SET", "x", "1"}) + RespOf({"SELECT", "3"}) + RespOf({"SET", "y", "1"}) +
                  RespOf({"FLUSHALL"}) + RespOf({"SET", "z", "1"}) + RespOf({"SELECT", "0"}) +
                  RespOf({"MGET", "x", "a"}) + RespOf({"SELECT", "3"}) +
                  RespOf({"MGET", "y", "z"}),
              9);
}

TEST_F(KeyspaceDiffTest, FlushInsideATransaction) {
  Uses({"transactions", "keyspace"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "x", "1"});
  SendBoth({"FLUSHDB"});
  SendBoth({"GET", "x"});
  SendBoth({"GET", "k"});
  SendBoth({"SET", "y", "2"});
  SendBoth({"KEYS", "*"});
  SendBoth({"EXEC"});
  SendBoth({"DBSIZE"});
  SendBoth({"GET", "y"});
}

TEST_F(KeyspaceDiffTest, FlushFailsTheExecOfWatchersOfTheKeysItRemovesOnly) {
  Uses({"transactions", "databases", "keyspace"});
  std::unique_ptr<ClientPair> other = Connect();
  ASSERT_TRUE(other->ok());
  SendBoth({"SET", "k", "v"});
  SendBoth({"WATCH", "k"});
  other->Send({"FLUSHDB"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
  // A watched key the flush does not hold (absent, or in another database) stays clean.
  SendBoth({"WATCH", "missing"});
  other->Send({"SET", "elsewhere", "1"});
  other->Send({"FLUSHDB"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*0\r\n");
  SendBoth({"SET", "k", "v"});
  SendBoth({"WATCH", "k"});
  other->Send({"SELECT", "1"});
  other->Send({"SET", "k", "1"});
  other->Send({"FLUSHDB"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*0\r\n");
  SendBoth({"WATCH", "k"});
  other->Send({"FLUSHALL"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
}

}  // namespace
}  // namespace kvs::compat
