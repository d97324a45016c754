// Differential cases of the transactions (issue 17): MULTI/EXEC/DISCARD, errors found when
// a command is queued (EXECABORT) and when it runs (the others still run), WATCH with a
// second client writing the watched key.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "compat/differential.h"

namespace kvs::compat {
namespace {

class TransactionDiffTest : public DifferentialTest {};

constexpr std::string_view kExecAbort =
    "-EXECABORT Transaction discarded because of previous errors.\r\n";

TEST_F(TransactionDiffTest, ExecRunsTheQueueInOrder) {
  Uses({"transactions", "counters"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"SET", "a", "1"}), "+QUEUED\r\n");
  SendBoth({"INCR", "a"});
  SendBoth({"GET", "a"});
  SendBoth({"GET", "missing"});
  ExpectRedis(SendBoth({"EXEC"}), "*4\r\n+OK\r\n:2\r\n$1\r\n2\r\n$-1\r\n");
  SendBoth({"GET", "a"});
}

TEST_F(TransactionDiffTest, EmptyTransaction) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*0\r\n");
}

TEST_F(TransactionDiffTest, ExecAndDiscardWithoutMulti) {
  Uses({"transactions"});
  ExpectRedis(SendBoth({"EXEC"}), "-ERR EXEC without MULTI\r\n");
  ExpectRedis(SendBoth({"DISCARD"}), "-ERR DISCARD without MULTI\r\n");
}

TEST_F(TransactionDiffTest, MultiCannotBeNestedAndTheErrorDoesNotAbort) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"MULTI"}), "-ERR MULTI calls can not be nested\r\n");
  SendBoth({"SET", "a", "1"});
  SendBoth({"EXEC"});
  SendBoth({"GET", "a"});
}

TEST_F(TransactionDiffTest, DiscardDropsTheQueue) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"DISCARD"});
  SendBoth({"GET", "a"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, QueueTimeErrorsAbortTheTransaction) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"NOSUCH", "x"});  // an unknown command
  SendBoth({"GET", "a"});
  ExpectRedis(SendBoth({"EXEC"}), kExecAbort);
  SendBoth({"GET", "a"});  // nothing ran
  SendBoth({"MULTI"});
  SendBoth({"SET", "a"});  // a wrong number of arguments
  SendBoth({"EXEC"});
  SendBoth({"EXEC"});  // the transaction is over
}

TEST_F(TransactionDiffTest, SyntaxErrorsAreFoundOnlyWhenTheCommandRuns) {
  // Only the name and the arity are checked when queueing: SET NX XX and SELECT 99 are
  // queued, and fail inside EXEC without stopping the others.
  Uses({"transactions", "set-options", "databases", "string-edit"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "a", "1", "NX", "XX"});
  SendBoth({"SELECT", "99"});
  SendBoth({"GETRANGE", "a", "x", "y"});
  SendBoth({"SETRANGE", "a", "-1", "x"});
  SendBoth({"SET", "a", "2"});
  SendBoth({"EXEC"});
  SendBoth({"GET", "a"});
}

TEST_F(TransactionDiffTest, RuntimeErrorsDoNotAbortTheOthers) {
  Uses({"transactions", "counters"});
  SendBoth({"SET", "s", "abc"});
  SendBoth({"MULTI"});
  SendBoth({"INCR", "s"});
  SendBoth({"SET", "t", "1"});
  SendBoth({"INCRBYFLOAT", "s", "1"});
  SendBoth({"INCR", "t"});
  ExpectRedis(SendBoth({"EXEC"}),
              "*4\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
              "-ERR value is not a valid float\r\n:2\r\n");
}

TEST_F(TransactionDiffTest, ExecWithArgumentsAbortsEvenOutsideMulti) {
  Uses({"transactions"});
  const std::string abort =
      "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
      "command\r\n";
  ExpectRedis(SendBoth({"EXEC", "x"}), abort);
  SendBoth({"MULTI"});
  SendBoth({"SET", "a", "1"});
  ExpectRedis(SendBoth({"EXEC", "x"}), abort);
  SendBoth({"EXEC"});  // discarded: no MULTI any more
  SendBoth({"GET", "a"});
}

TEST_F(TransactionDiffTest, ArityOfTheTransactionCommands) {
  Uses({"transactions"});
  SendBoth({"MULTI", "x"});
  SendBoth({"DISCARD", "x"});
  SendBoth({"WATCH"});
  SendBoth({"UNWATCH", "x"});
  SendBoth({"EXEC"});  // MULTI x did not start one
}

TEST_F(TransactionDiffTest, WatchInsideMultiIsAnErrorThatDoesNotAbort) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"WATCH", "a"}), "-ERR WATCH inside MULTI is not allowed\r\n");
  SendBoth({"UNWATCH"});  // queued
  SendBoth({"SET", "a", "1"});
  SendBoth({"EXEC"});
  SendBoth({"MULTI"});
  SendBoth({"WATCH"});  // the wrong arity, though, does abort
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, ConnectionCommandsAreQueuedToo) {
  Uses({"transactions", "connection", "databases"});
  SendBoth({"MULTI"});
  SendBoth({"PING"});
  SendBoth({"ECHO", "e"});
  SendBoth({"CLIENT", "SETNAME", "abc"});
  SendBoth({"CLIENT", "GETNAME"});
  SendBoth({"AUTH", "x"});
  SendBoth({"SELECT", "1"});
  SendBoth({"SET", "k", "in-one"});
  SendBoth({"DBSIZE"});
  SendBoth({"EXEC"});
  SendBoth({"GET", "k"});  // the SELECT inside stays
  SendBoth({"CLIENT", "GETNAME"});
}

TEST_F(TransactionDiffTest, QuitInsideMultiRepliesOkAndCloses) {
  Uses({"transactions"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"QUIT"});
  ExpectBothClose("QUIT inside MULTI");
  Reconnect();
  SendBoth({"GET", "a"});
}

// --- WATCH --------------------------------------------------------------------------------

TEST_F(TransactionDiffTest, WatchedKeyWrittenByAnotherClientFailsExec) {
  Uses({"transactions"});
  std::unique_ptr<ClientPair> other = Connect();
  ASSERT_TRUE(other->ok());
  SendBoth({"WATCH", "k"});
  other->Send({"SET", "k", "1"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "k", "2"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
  SendBoth({"GET", "k"});
  // EXEC unwatched everything: the next transaction runs.
  other->Send({"SET", "k", "3"});
  SendBoth({"MULTI"});
  SendBoth({"SET", "k", "4"});
  SendBoth({"EXEC"});
  SendBoth({"GET", "k"});
}

TEST_F(TransactionDiffTest, WatchedKeyWrittenWithTheSameValueStillFailsExec) {
  Uses({"transactions"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"SET", "k", "v"});
  SendBoth({"WATCH", "k"});
  other->Send({"SET", "k", "v"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, OwnWriteToAWatchedKeyFailsExec) {
  Uses({"transactions"});
  SendBoth({"WATCH", "k"});
  SendBoth({"SET", "k", "mine"});
  SendBoth({"MULTI"});
  SendBoth({"GET", "k"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, WatchSurvivesWritesThatChangeNothing) {
  // DEL of a missing key, a failed INCR, SETRANGE with an empty value, RENAME to itself,
  // SET NX on an existing key, MSETNX that sets nothing, COPY of a missing key: no write,
  // so no failed EXEC. APPEND of an empty value does count as a write.
  Uses({"transactions", "counters", "string-edit", "keyspace", "set-options", "multi-key"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"SET", "s", "abc"});
  SendBoth({"WATCH", "s", "missing"});
  other->Send({"DEL", "missing"});
  other->Send({"INCR", "s"});
  other->Send({"SETRANGE", "s", "0", ""});
  other->Send({"RENAME", "s", "s"});
  other->Send({"SET", "s", "x", "NX"});
  other->Send({"MSETNX", "s", "1", "t", "1"});
  other->Send({"COPY", "missing", "s", "REPLACE"});
  other->Send({"GETRANGE", "s", "0", "1"});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*0\r\n");
  SendBoth({"WATCH", "s"});
  other->Send({"APPEND", "s", ""});
  SendBoth({"MULTI"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
}

TEST_F(TransactionDiffTest, WatchFailsOnRenameAwayAndOnDelete) {
  Uses({"transactions", "keyspace"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"SET", "a", "1"});
  SendBoth({"WATCH", "a"});
  other->Send({"RENAME", "a", "b"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
  SendBoth({"WATCH", "b"});
  other->Send({"DEL", "b"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
  SendBoth({"WATCH", "c"});
  other->Send({"SET", "x", "1"});
  other->Send({"COPY", "x", "c"});  // the destination is written
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, UnwatchAndDiscardForgetTheWatch) {
  Uses({"transactions"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"WATCH", "k"});
  other->Send({"SET", "k", "1"});
  SendBoth({"UNWATCH"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
  SendBoth({"WATCH", "k"});
  other->Send({"SET", "k", "2"});
  SendBoth({"MULTI"});
  SendBoth({"DISCARD"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, WatchIsPerDatabase) {
  Uses({"transactions", "databases"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"WATCH", "k"});  // k of database 0
  other->Send({"SELECT", "1"});
  other->Send({"SET", "k", "x"});
  SendBoth({"MULTI"});
  SendBoth({"GET", "k"});
  SendBoth({"EXEC"});
  SendBoth({"SELECT", "1"});
  SendBoth({"WATCH", "k"});  // k of database 1
  SendBoth({"SELECT", "0"});
  other->Send({"SET", "k", "y"});
  SendBoth({"MULTI"});
  SendBoth({"EXEC"});
}

TEST_F(TransactionDiffTest, FailedExecInResp3IsANull) {
  Uses({"transactions", "resp3"});
  std::unique_ptr<ClientPair> other = Connect();
  SendBoth({"HELLO", "3"}, MaskHello);
  SendBoth({"WATCH", "k"});
  other->Send({"SET", "k", "1"});
  SendBoth({"MULTI"});
  SendBoth({"GET", "k"});
  ExpectRedis(SendBoth({"EXEC"}), "_\r\n");
  SendBoth({"MULTI"});
  SendBoth({"GET", "k"});
  SendBoth({"GET", "missing"});
  SendBoth({"EXEC"});
}

}  // namespace
}  // namespace kvs::compat
