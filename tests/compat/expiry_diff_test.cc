// Differential cases of expiry (issue 18): SET's EX/PX/EXAT/PXAT/KEEPTTL, SETEX, PSETEX,
// GETEX, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, EXPIRETIME,
// PEXPIRETIME, PERSIST; which writes keep a key's expiry and which clear it; expired keys
// gone from every read; WATCH of keys that expire.
//
// A relative TTL read back (TTL, PTTL) depends on when each server ran the command: those
// replies are compared as integers within kTolerance, every other reply byte for byte.
// Absolute times (EXPIREAT, PXAT) read back exactly. A key is waited out with a sleep well
// past its time: the outcome asserted is that it is gone, never how fast.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "compat/differential.h"

namespace kvs::compat {
namespace {

class ExpiryDiffTest : public DifferentialTest {
 protected:
  // TTL-style replies: ":-2", ":-1" exactly; positive ones within `tolerance`.
  void SendBothTtl(const std::vector<std::string>& args, int64_t tolerance) {
    const Replies r = SendBoth(args, &MaskPositiveInteger);
    const int64_t redis = IntegerOf(r.redis), kvs = IntegerOf(r.kvs);
    EXPECT_LE(std::llabs(redis - kvs), tolerance)
        << args[0] << ": redis " << r.redis << " kvs " << r.kvs;
  }

  static std::string MaskPositiveInteger(std::string_view reply) {
    if (reply.size() > 3 && reply[0] == ':' && reply[1] != '-' && reply[1] != '0') {
      return ":<positive>\r\n";
    }
    return std::string(reply);
  }
  static int64_t IntegerOf(const std::string& reply) {
    return reply.size() > 1 && reply[0] == ':' ? std::strtoll(reply.c_str() + 1, nullptr, 10)
                                               : INT64_MIN;
  }
  static void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  static constexpr int64_t kToleranceMs = 1000;  // a loaded machine runs the two apart
};

// An absolute time far ahead (2096), in seconds and milliseconds.
constexpr std::string_view kFarSeconds = "4000000000";
constexpr std::string_view kFarMs = "4000000000123";

TEST_F(ExpiryDiffTest, SetWithEachExpiryOption) {
  SendBoth({"SET", "ex", "v", "EX", "100"});
  SendBothTtl({"TTL", "ex"}, 1);
  SendBothTtl({"PTTL", "ex"}, kToleranceMs);
  SendBoth({"SET", "px", "v", "PX", "100000"});
  SendBothTtl({"TTL", "px"}, 1);
  SendBoth({"SET", "exat", "v", "EXAT", std::string(kFarSeconds)});
  ExpectRedis(SendBoth({"EXPIRETIME", "exat"}), ":4000000000\r\n");
  SendBoth({"PEXPIRETIME", "exat"});
  SendBoth({"SET", "pxat", "v", "pxat", std::string(kFarMs)});
  SendBoth({"PEXPIRETIME", "pxat"});
  SendBoth({"EXPIRETIME", "pxat"});  // rounded to the nearest second
  SendBoth({"GET", "pxat"});
  SendBoth({"SET", "pxat", "w"});  // a SET without an option clears the expiry
  ExpectRedis(SendBoth({"TTL", "pxat"}), ":-1\r\n");
}

TEST_F(ExpiryDiffTest, SetExpiryErrors) {
  for (const char* opt : {"EX", "PX", "EXAT", "PXAT"}) {
    SendBoth({"SET", "k", "v", opt, "0"});
    SendBoth({"SET", "k", "v", opt, "-5"});
    SendBoth({"SET", "k", "v", opt, "abc"});
    SendBoth({"SET", "k", "v", opt, "1.5"});
    SendBoth({"SET", "k", "v", opt, "9223372036854775807"});
    SendBoth({"SET", "k", "v", opt, "9223372036854775808"});
    SendBoth({"SET", "k", "v", opt});
  }
  SendBoth({"SET", "k", "v", "EX", "9223372036854775"});  // ms fit, now + them do not
  SendBoth({"SET", "k", "v", "PX", "9223372036854775000"});
  SendBoth({"SET", "k", "v", "EX", "10", "PX", "10"});
  SendBoth({"SET", "k", "v", "EX", "10", "KEEPTTL"});
  SendBoth({"SET", "k", "v", "KEEPTTL", "EX", "10"});
  SendBoth({"SET", "k", "v", "EX", "10", "EX", "20"});  // the same option again: the last
  SendBothTtl({"TTL", "k"}, 1);
  SendBoth({"SET", "k", "v", "PXAT", "4000000000000", "pxat", "4000000000001"});
  SendBoth({"PEXPIRETIME", "k"});
  SendBoth({"GETEX", "k", "EXAT", "4000000000", "EXAT", "4000000001"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"GETEX", "k", "PERSIST", "PERSIST"});
  SendBoth({"SET", "k", "v", "KEEPTTL", "KEEPTTL", "GET", "GET"});
  SendBoth({"EXISTS", "k"});
}

TEST_F(ExpiryDiffTest, SetWithATimePassedAlready) {
  SendBoth({"SET", "k", "old"});
  SendBoth({"SET", "k", "v", "PXAT", "1"});  // OK, and gone at once
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"SET", "k", "w", "EXAT", "1", "GET"});
  SendBoth({"EXISTS", "k"});
}

TEST_F(ExpiryDiffTest, KeepTtlKeepsItAndOtherWritesClearIt) {
  SendBoth({"SET", "k", "v", "EXAT", std::string(kFarSeconds)});
  SendBoth({"SET", "k", "w", "KEEPTTL"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"SET", "k", "x", "KEEPTTL", "GET", "XX"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"GETSET", "k", "y"});
  ExpectRedis(SendBoth({"EXPIRETIME", "k"}), ":-1\r\n");
  SendBoth({"SET", "k", "v", "EXAT", std::string(kFarSeconds)});
  SendBoth({"MSET", "k", "z", "other", "1"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"SET", "new", "v", "KEEPTTL"});  // no old key: no expiry
  SendBoth({"EXPIRETIME", "new"});
}

TEST_F(ExpiryDiffTest, InPlaceWritesKeepTheExpiry) {
  for (const char* key : {"a", "s", "i", "f"}) {
    SendBoth({"SET", key, "1", "PXAT", std::string(kFarMs)});
  }
  SendBoth({"APPEND", "a", "xyz"});
  SendBoth({"SETRANGE", "s", "3", "abc"});
  SendBoth({"INCRBY", "i", "41"});
  SendBoth({"DECR", "i"});
  SendBoth({"INCRBYFLOAT", "f", "0.5"});
  for (const char* key : {"a", "s", "i", "f"}) {
    SendBoth({"GET", key});
    SendBoth({"PEXPIRETIME", key});
  }
}

TEST_F(ExpiryDiffTest, SetexAndPsetex) {
  SendBoth({"SETEX", "k", "100", "v"});
  SendBoth({"GET", "k"});
  SendBothTtl({"TTL", "k"}, 1);
  SendBoth({"PSETEX", "p", "100000", "v"});
  SendBothTtl({"PTTL", "p"}, kToleranceMs);
  for (const char* cmd : {"SETEX", "PSETEX"}) {
    SendBoth({cmd, "k", "0", "v"});
    SendBoth({cmd, "k", "-1", "v"});
    SendBoth({cmd, "k", "x", "v"});
    SendBoth({cmd, "k", "9223372036854775807", "v"});
    SendBoth({cmd, "k", "10"});
    SendBoth({cmd, "k", "10", "v", "extra"});
  }
  SendBoth({"GET", "k"});
}

TEST_F(ExpiryDiffTest, GetexChangesTheExpiry) {
  SendBoth({"GETEX", "missing"});
  SendBoth({"GETEX", "missing", "EX", "0"});  // no key: the time is never looked at
  SendBoth({"SET", "k", "v"});
  SendBoth({"GETEX", "k"});
  ExpectRedis(SendBoth({"TTL", "k"}), ":-1\r\n");
  SendBoth({"GETEX", "k", "EX", "100"});
  SendBothTtl({"TTL", "k"}, 1);
  SendBoth({"GETEX", "k", "PXAT", std::string(kFarMs)});
  SendBoth({"PEXPIRETIME", "k"});
  SendBoth({"GETEX", "k", "EXAT", std::string(kFarSeconds)});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"GETEX", "k", "PERSIST"});
  SendBoth({"TTL", "k"});
  SendBoth({"GETEX", "k", "PX", "100000"});
  SendBothTtl({"PTTL", "k"}, kToleranceMs);
  SendBoth({"GETEX", "k", "EX", "0"});
  SendBoth({"GETEX", "k", "EX", "-1"});
  SendBoth({"GETEX", "k", "EX", "x"});
  SendBoth({"GETEX", "k", "EX"});
  SendBoth({"GETEX", "k", "EX", "1", "PX", "1"});
  SendBoth({"GETEX", "k", "PERSIST", "EX", "1"});
  SendBoth({"GETEX", "k", "EX", "1", "PERSIST"});
  SendBoth({"GETEX", "k", "KEEPTTL"});
  SendBoth({"GETEX", "k", "NX"});
  SendBoth({"GETEX", "k", "PXAT", "1"});  // the value, and the key is gone
  SendBoth({"EXISTS", "k"});
  SendBoth({"GETEX"});
}

TEST_F(ExpiryDiffTest, ExpireFamilyOnMissingAndPresentKeys) {
  SendBoth({"EXPIRE", "missing", "100"});
  SendBoth({"PEXPIREAT", "missing", std::string(kFarMs)});
  SendBoth({"SET", "k", "v"});
  SendBoth({"EXPIRE", "k", "100"});
  SendBothTtl({"TTL", "k"}, 1);
  SendBoth({"PEXPIRE", "k", "100000"});
  SendBothTtl({"PTTL", "k"}, kToleranceMs);
  SendBoth({"EXPIREAT", "k", std::string(kFarSeconds)});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"PEXPIREAT", "k", std::string(kFarMs)});
  SendBoth({"PEXPIRETIME", "k"});
  SendBoth({"GET", "k"});
  SendBoth({"PERSIST", "k"});
  SendBoth({"PERSIST", "k"});
  SendBoth({"PERSIST", "missing"});
  SendBoth({"TTL", "k"});
  SendBoth({"TTL", "missing"});
  SendBoth({"PTTL", "missing"});
  SendBoth({"EXPIRETIME", "missing"});
}

TEST_F(ExpiryDiffTest, ExpireConditions) {
  SendBoth({"SET", "k", "v"});
  SendBoth({"EXPIRE", "k", "100", "XX"});  // no expiry yet
  SendBoth({"EXPIRE", "k", "100", "GT"});  // none counts as infinite
  SendBoth({"EXPIREAT", "k", "4000000000", "LT"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"EXPIREAT", "k", "4000000001", "NX"});
  SendBoth({"EXPIREAT", "k", "4000000001", "LT"});
  SendBoth({"EXPIREAT", "k", "3999999999", "GT"});
  SendBoth({"EXPIREAT", "k", "4000000001", "GT"});
  SendBoth({"EXPIREAT", "k", "4000000001", "XX", "GT"});
  SendBoth({"EXPIREAT", "k", "4000000000", "xx", "lt"});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"EXPIRE", "k", "10", "NX", "XX"});
  SendBoth({"EXPIRE", "k", "10", "NX", "GT"});
  SendBoth({"EXPIRE", "k", "10", "GT", "LT"});
  SendBoth({"EXPIRE", "k", "10", "FOO"});
  SendBoth({"EXPIRE", "k", "10", "NX", "FOO"});
  SendBoth({"EXPIRE", "k", "abc", "FOO"});  // options are checked before the time
  SendBoth({"EXPIRE", "k", "abc"});
  SendBoth({"EXPIRE", "k"});
  SendBoth({"EXPIRETIME", "k"});
}

TEST_F(ExpiryDiffTest, ExpireOverflowAndTimesPassed) {
  SendBoth({"SET", "k", "v"});
  SendBoth({"EXPIRE", "k", "9223372036854775807"});
  SendBoth({"EXPIRE", "k", "-9223372036854775807"});
  SendBoth({"EXPIRE", "k", "9223372036854775"});
  SendBoth({"PEXPIRE", "k", "9223372036854775807"});
  SendBoth({"EXPIREAT", "k", "9223372036854775"});
  SendBoth({"PEXPIREAT", "k", "9223372036854775807"});
  SendBoth({"PEXPIRETIME", "k"});
  SendBoth({"EXPIRE", "k", "-1"});  // deletes: 1
  SendBoth({"EXISTS", "k"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"EXPIREAT", "k", "1"});
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"PEXPIRE", "k", "0"});
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v"});
  SendBoth({"EXPIRE", "k", "-10", "GT"});  // no expiry (infinite) is never less: 0
  SendBoth({"EXPIRE", "k", "-10", "LT"});
  SendBoth({"EXISTS", "k"});
}

TEST_F(ExpiryDiffTest, RenameCopyAndMoveCarryTheExpiry) {
  SendBoth({"SET", "a", "v", "PXAT", std::string(kFarMs)});
  SendBoth({"RENAME", "a", "b"});
  SendBoth({"PEXPIRETIME", "b"});
  SendBoth({"COPY", "b", "c"});
  SendBoth({"PEXPIRETIME", "c"});
  SendBoth({"SET", "d", "plain"});
  SendBoth({"RENAME", "d", "c"});  // the destination's expiry goes with its old value
  SendBoth({"PEXPIRETIME", "c"});
  SendBoth({"MOVE", "b", "3"});
  SendBoth({"SELECT", "3"});
  SendBoth({"PEXPIRETIME", "b"});
  SendBoth({"COPY", "b", "b", "DB", "0"});
  SendBoth({"SELECT", "0"});
  SendBoth({"PEXPIRETIME", "b"});
}

TEST_F(ExpiryDiffTest, AnExpiredKeyIsGoneFromEveryRead) {
  SendBoth({"SET", "gone", "v", "PX", "50"});
  SendBoth({"SET", "stays", "v", "EX", "1000"});
  SendBoth({"SET", "plain", "v"});
  SendBoth({"MSET", "x", "1", "y", "2"});
  SendBoth({"PEXPIRE", "x", "60"});
  Sleep(300);
  SendBoth({"GET", "gone"});
  SendBoth({"MGET", "gone", "stays", "x", "y"});
  SendBoth({"EXISTS", "gone", "stays", "plain", "x"});
  SendBoth({"TTL", "gone"});
  SendBoth({"TYPE", "gone"});
  SendBoth({"STRLEN", "gone"});
  SendBoth({"KEYS", "g*"});
  SendBoth({"KEYS", "st*"});
  SendBoth({"SCAN", "0", "MATCH", "g*", "COUNT", "1000"});
  SendBoth({"SETNX", "gone", "new"});  // it is free again
  SendBoth({"GET", "gone"});
  SendBoth({"TTL", "gone"});
  SendBoth({"INCR", "x"});  // a fresh counter, without the old expiry
  SendBoth({"TTL", "x"});
  SendBoth({"RENAME", "missing", "z"});
}

TEST_F(ExpiryDiffTest, ExecFailsWhenAWatchedKeyExpires) {
  SendBoth({"SET", "k", "1", "PX", "100"});
  SendBoth({"WATCH", "k"});
  Sleep(300);
  SendBoth({"MULTI"});
  SendBoth({"INCR", "k"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
  SendBoth({"GET", "k"});
}

TEST_F(ExpiryDiffTest, WatchingAKeyExpiredAlreadyDoesNotFailExec) {
  SendBoth({"SET", "x", "foo", "PX", "1"});
  Sleep(50);
  SendBoth({"WATCH", "x"});
  Sleep(300);  // time for either server to reclaim it
  SendBoth({"EXISTS", "x"});
  SendBoth({"MULTI"});
  SendBoth({"PING"});
  ExpectRedis(SendBoth({"EXEC"}), "*1\r\n+PONG\r\n");
}

TEST_F(ExpiryDiffTest, ExpireOfAWatchedKeyTouchesIt) {
  SendBoth({"SET", "x", "foo"});
  SendBoth({"WATCH", "x"});
  SendBoth({"EXPIRE", "x", "100"});
  SendBoth({"MULTI"});
  SendBoth({"PING"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
  SendBoth({"WATCH", "x"});
  SendBoth({"PERSIST", "x"});
  SendBoth({"MULTI"});
  SendBoth({"PING"});
  ExpectRedis(SendBoth({"EXEC"}), "*-1\r\n");
}

TEST_F(ExpiryDiffTest, ExpiryCommandsInsideATransaction) {
  SendBoth({"SET", "k", "v"});
  SendBoth({"MULTI"});
  SendBoth({"EXPIREAT", "k", std::string(kFarSeconds)});
  SendBoth({"EXPIRETIME", "k"});
  SendBoth({"PERSIST", "k"});
  SendBoth({"TTL", "k"});
  SendBoth({"SET", "k", "w", "PXAT", std::string(kFarMs)});
  SendBoth({"PEXPIRETIME", "k"});
  SendBoth({"EXPIRE", "k", "-1"});
  SendBoth({"EXISTS", "k"});
  SendBoth({"EXEC"});
}

TEST_F(ExpiryDiffTest, Arity) {
  for (const char* cmd : {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"}) {
    SendBoth({cmd});
    SendBoth({cmd, "a", "b"});
  }
  for (const char* cmd : {"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"}) SendBoth({cmd, "k"});
}

}  // namespace
}  // namespace kvs::compat
