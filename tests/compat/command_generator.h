// Seeded random RESP commands for the differential test over a small key space, so that
// keys collide, values are overwritten, deleted, counted and cut, and binary and large
// values come back. The same seed and groups give the same commands.
//
// Commands come in groups named as in kNotYetImplemented (compat/diff_tables.h): "base"
// (GET, SET without options, DEL, EXISTS, DBSIZE, PING, their wrong arities, unknown
// commands, SET with a word that is no SET option) is always on; the others are on when
// the constructor is given them. DefaultGroups() is every group the table no longer lists,
// plus those named in KVS_DIFF_GROUPS ("all", or a comma-separated list).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::compat {

class CommandGenerator {
 public:
  // `clients`: how many connections the commands are for. Each has its own transaction
  // state, so that HELLO (whose masked reply must stand alone) is never queued in a MULTI.
  CommandGenerator(uint64_t seed, std::vector<std::string> groups, int clients = 1);

  // The next command for `client`: its name and arguments.
  std::vector<std::string> Next(int client = 0);

  // Every group the generator knows, "base" first.
  static std::vector<std::string_view> Groups();
  // Groups() less those kNotYetImplemented lists, plus KVS_DIFF_GROUPS.
  static std::vector<std::string> DefaultGroups();
  // Every command name Next() can produce with `groups` on (upper case; unknown-command
  // names start with "NOSUCH"), so that a test can check none of them is listed as not yet
  // implemented.
  static std::vector<std::string_view> CommandNames(const std::vector<std::string>& groups);

 private:
  using Make = std::vector<std::string> (CommandGenerator::*)();
  struct Choice {
    int weight;
    Make make;
  };

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool On(std::string_view group) const;
  std::string Key();
  // A key a write may create: never the empty key unless "empty-key" is on.
  std::string WriteKey();
  std::vector<std::string> Keys(size_t n);
  std::string Value();
  std::string SmallValue();
  std::string Bytes(size_t n);
  std::string Increment();
  std::string FloatIncrement();
  std::string Offset();
  std::string Db();
  // `name` in upper, lower or mixed case: command names are case-insensitive.
  std::string Cased(std::string_view name);

  // One maker per kind of command (see Groups() for which group each belongs to).
  std::vector<std::string> Base();
  std::vector<std::string> SetOptions();
  std::vector<std::string> Counters();
  std::vector<std::string> MultiKey();
  std::vector<std::string> StringEdit();
  std::vector<std::string> GetAndSet();
  std::vector<std::string> Keyspace();
  std::vector<std::string> Expiry();
  std::vector<std::string> Transactions();
  std::vector<std::string> Databases();
  std::vector<std::string> Connection();
  std::vector<std::string> Resp3();

  std::mt19937_64 rng_;
  std::vector<std::string> groups_;
  std::vector<Choice> choices_;
  int total_weight_ = 0;
  std::vector<bool> in_multi_;  // per client
  int client_ = 0;              // whose command Next() is making
};

}  // namespace kvs::compat
