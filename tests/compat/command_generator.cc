#include "compat/command_generator.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <sstream>

#include "compat/diff_tables.h"

namespace kvs::compat {

namespace {

using namespace std::string_literals;

// Few keys, so that commands meet: plain ones, two that differ only in case, binary ones,
// a long one, and the empty key (written only when "empty-key" is on).
const std::array<std::string, 9> kKeys = {
    "k0", "k1", "k2", "K0", "bin\0key\r\n"s, "\xff\xfe\x80"s, "sp ace", std::string(300, 'L'), ""};

// Bytes values are made of: the ones RESP framing and C strings care about, and others.
constexpr std::string_view kAlphabet("\0\r\n \t'\"\\*$+-:abcxyzAZ019\x7f\x80\xff", 28);

// Words that are none of SET's options (NX XX GET EX PX EXAT PXAT KEEPTTL).
const std::array<std::string, 4> kNotSetOptions = {"foo", "NXX", "EXPIRE", "1"};

// Values that INCR and INCRBYFLOAT read: integers at the edges of 64 bits, the forms Redis
// refuses as integers (sign, space, leading zero), floats, and words.
const std::array<std::string, 18> kNumbers = {"0",
                                              "1",
                                              "-1",
                                              "42",
                                              "9223372036854775807",
                                              "-9223372036854775808",
                                              "01",
                                              "+1",
                                              " 1",
                                              "1.5",
                                              "-0.25",
                                              "1e3",
                                              "3.0",
                                              "-0",
                                              "abc",
                                              "0x10",
                                              "10.50",
                                              "9223372036854775808"};

// Each generator group with its weight (how often its commands come, relative to base).
struct GroupInfo {
  std::string_view name;
  int weight;
  std::string_view commands;  // the names it produces, for CommandNames()
};
constexpr GroupInfo kGroups[] = {
    {"base", 60, "GET SET DEL EXISTS DBSIZE PING NOSUCH"},
    {"set-options", 6, "SET"},
    {"empty-key", 0, ""},  // changes which keys writes use, adds no command
    {"counters", 8, "INCR DECR INCRBY DECRBY INCRBYFLOAT"},
    {"multi-key", 6, "MGET MSET MSETNX"},
    {"string-edit", 8, "APPEND STRLEN GETRANGE SETRANGE"},
    {"get-and-set", 5, "SETNX GETSET GETDEL"},
    {"keyspace", 6, "TYPE RENAME RENAMENX UNLINK COPY"},
    {"expiry", 6,
     "EXPIRE PEXPIRE EXPIREAT PEXPIREAT EXPIRETIME PEXPIRETIME PERSIST SET GETEX SETEX PSETEX"},
    {"transactions", 6, "MULTI EXEC DISCARD WATCH UNWATCH"},
    {"databases", 3, "SELECT COPY"},
    {"connection", 3, "ECHO CLIENT HELLO AUTH RESET"},
    {"resp3", 2, "HELLO"},
};

}  // namespace

CommandGenerator::CommandGenerator(uint64_t seed, std::vector<std::string> groups, int clients)
    : rng_(seed), groups_(std::move(groups)), in_multi_(static_cast<size_t>(clients), false) {
  const std::pair<std::string_view, Make> makers[] = {
      {"base", &CommandGenerator::Base},
      {"set-options", &CommandGenerator::SetOptions},
      {"counters", &CommandGenerator::Counters},
      {"multi-key", &CommandGenerator::MultiKey},
      {"string-edit", &CommandGenerator::StringEdit},
      {"get-and-set", &CommandGenerator::GetAndSet},
      {"keyspace", &CommandGenerator::Keyspace},
      {"expiry", &CommandGenerator::Expiry},
      {"transactions", &CommandGenerator::Transactions},
      {"databases", &CommandGenerator::Databases},
      {"connection", &CommandGenerator::Connection},
      {"resp3", &CommandGenerator::Resp3},
  };
  for (const auto& [name, make] : makers) {
    if (!On(name)) continue;
    for (const GroupInfo& g : kGroups) {
      if (g.name == name) {
        choices_.push_back({g.weight, make});
        total_weight_ += g.weight;
      }
    }
  }
}

bool CommandGenerator::On(std::string_view group) const {
  return group == "base" || std::find(groups_.begin(), groups_.end(), group) != groups_.end();
}

std::vector<std::string_view> CommandGenerator::Groups() {
  std::vector<std::string_view> out;
  for (const GroupInfo& g : kGroups) out.push_back(g.name);
  return out;
}

std::vector<std::string> CommandGenerator::DefaultGroups() {
  std::string extra;
  if (const char* e = std::getenv("KVS_DIFF_GROUPS")) extra = std::string(",") + e + ",";
  std::vector<std::string> out;
  for (const GroupInfo& g : kGroups) {
    const bool named =
        extra == ",all," || extra.find("," + std::string(g.name) + ",") != std::string::npos;
    if (!Listed(g.name) || named) out.emplace_back(g.name);
  }
  return out;
}

std::vector<std::string_view> CommandGenerator::CommandNames(
    const std::vector<std::string>& groups) {
  std::vector<std::string_view> out;
  for (const GroupInfo& g : kGroups) {
    if (g.name != "base" && std::find(groups.begin(), groups.end(), g.name) == groups.end()) {
      continue;
    }
    std::string_view words = g.commands;
    while (!words.empty()) {
      const size_t end = std::min(words.find(' '), words.size());
      out.push_back(words.substr(0, end));
      words.remove_prefix(std::min(end + 1, words.size()));
    }
  }
  return out;
}

std::string CommandGenerator::Bytes(size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = kAlphabet[Below(kAlphabet.size())];
  return s;
}

std::string CommandGenerator::Key() { return kKeys[Below(kKeys.size())]; }

std::string CommandGenerator::WriteKey() {
  std::string key = Key();
  while (key.empty() && !On("empty-key")) key = Key();
  return key;
}

std::vector<std::string> CommandGenerator::Keys(size_t n) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back(Key());
  return v;
}

std::string CommandGenerator::Value() {
  const size_t pick = Below(100);
  if (pick < 5) return "";
  if (pick < 20) return kNumbers[Below(kNumbers.size())];
  if (pick < 60) return Bytes(1 + Below(16));
  if (pick < 90) return Bytes(17 + Below(1000));
  if (pick < 99) return Bytes(1024 + Below(64 * 1024));
  return std::string(1 << 20, static_cast<char>('a' + Below(26)));  // 1 MiB
}

std::string CommandGenerator::SmallValue() {
  const size_t pick = Below(10);
  if (pick == 0) return "";
  if (pick < 4) return kNumbers[Below(kNumbers.size())];
  return Bytes(1 + Below(16));
}

std::string CommandGenerator::Increment() {
  static const std::array<std::string, 12> kIncrements = {
      "1",  "-1", "5",   "100", "-1000", "0", "9223372036854775807", "-9223372036854775808",
      "+1", "01", "abc", "1.5"};
  return kIncrements[Below(kIncrements.size())];
}

std::string CommandGenerator::FloatIncrement() {
  static const std::array<std::string, 12> kIncrements = {
      "0.1", "-1.5", "3", "2.5e-3", "1e2", "-0", "10.50", "abc", "inf", "nan", "5.0e3", "0x10"};
  return kIncrements[Below(kIncrements.size())];
}

std::string CommandGenerator::Offset() {
  static const std::array<std::string, 13> kOffsets = {"0",
                                                       "1",
                                                       "2",
                                                       "5",
                                                       "10",
                                                       "100",
                                                       "-1",
                                                       "-2",
                                                       "-5",
                                                       "-100",
                                                       "9223372036854775807",
                                                       "-9223372036854775808",
                                                       "x"};
  return kOffsets[Below(kOffsets.size())];
}

std::string CommandGenerator::Db() {
  const size_t pick = Below(20);
  if (pick < 17) return std::to_string(pick % 3);
  static const std::array<std::string, 3> kBad = {"16", "-1", "one"};
  return kBad[pick - 17];
}

std::string CommandGenerator::Cased(std::string_view name) {
  std::string s(name);
  const size_t how = Below(4);
  for (char& c : s) {
    if ((how == 1 || (how == 2 && Below(2) == 0)) && c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

std::vector<std::string> CommandGenerator::Next(int client) {
  client_ = client;
  // Transactions stay short (about 8 commands), so that most commands run at once.
  if (in_multi_[static_cast<size_t>(client)] && Below(8) == 0) return Transactions();
  int pick = static_cast<int>(Below(static_cast<size_t>(total_weight_)));
  for (const Choice& c : choices_) {
    if (pick < c.weight) return (this->*c.make)();
    pick -= c.weight;
  }
  return Base();  // not reached
}

namespace {

std::vector<std::string> With(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

}  // namespace

std::vector<std::string> CommandGenerator::Base() {
  const size_t pick = Below(100);
  if (pick < 30) return {Cased("SET"), WriteKey(), Value()};
  if (pick < 55) return {Cased("GET"), Key()};
  if (pick < 65) return With({Cased("DEL")}, Keys(1 + Below(4)));
  if (pick < 75) return With({Cased("EXISTS")}, Keys(1 + Below(5)));
  if (pick < 80) return {Cased("DBSIZE")};
  if (pick < 85) {
    if (Below(2) == 0) return {Cased("PING")};
    return {Cased("PING"), Value()};
  }
  if (pick < 92) {  // a known command with the wrong number of arguments
    switch (Below(7)) {
      case 0:
        return {Cased("GET")};
      case 1:
        return With({Cased("GET")}, Keys(2 + Below(3)));
      case 2:
        return With({Cased("SET")}, Keys(Below(2)));
      case 3:
        return {Cased("DEL")};
      case 4:
        return {Cased("EXISTS")};
      case 5:
        return With({Cased("DBSIZE")}, Keys(1 + Below(2)));
      default:
        return With({Cased("PING")}, Keys(2 + Below(2)));
    }
  }
  if (pick < 96) {  // SET with a word that is no option: a syntax error
    return {Cased("SET"), WriteKey(), Value(), kNotSetOptions[Below(kNotSetOptions.size())]};
  }
  // An unknown command; its arguments are quoted back in the error.
  std::vector<std::string> cmd{Cased("NOSUCH") + Bytes(Below(4))};
  const size_t args = Below(4);
  for (size_t i = 0; i < args; ++i) cmd.push_back(Below(3) == 0 ? Value() : Bytes(Below(8)));
  return cmd;
}

std::vector<std::string> CommandGenerator::SetOptions() {
  static const std::array<std::vector<std::string>, 9> kOptions = {{
      {"NX"},
      {"XX"},
      {"GET"},
      {"NX", "GET"},
      {"XX", "GET"},
      {"GET", "NX"},
      {"NX", "XX"},
      {"nx", "nx"},
      {"GET", "GET"},
  }};
  return With({Cased("SET"), WriteKey(), Value()}, kOptions[Below(kOptions.size())]);
}

std::vector<std::string> CommandGenerator::Counters() {
  switch (Below(8)) {
    case 0:
      return {Cased("INCR"), WriteKey()};
    case 1:
      return {Cased("DECR"), WriteKey()};
    case 2:
      return {Cased("INCRBY"), WriteKey(), Increment()};
    case 3:
      return {Cased("DECRBY"), WriteKey(), Increment()};
    case 4:
    case 5:
      return {Cased("INCRBYFLOAT"), WriteKey(), FloatIncrement()};
    case 6:  // a counter set from a number, so that increments meet integers
      return {Cased("SET"), WriteKey(), kNumbers[Below(kNumbers.size())]};
    default: {
      static const std::array<std::string_view, 5> kNames = {"INCR", "DECR", "INCRBY", "DECRBY",
                                                             "INCRBYFLOAT"};
      return With({Cased(kNames[Below(kNames.size())])}, Keys(Below(2) * 3));
    }
  }
}

std::vector<std::string> CommandGenerator::MultiKey() {
  const size_t pick = Below(10);
  if (pick < 4) return With({Cased("MGET")}, Keys(1 + Below(5)));
  std::vector<std::string> cmd{Cased(pick < 7 ? "MSET" : "MSETNX")};
  const size_t pairs = 1 + Below(3);
  for (size_t i = 0; i < pairs; ++i) {
    cmd.push_back(WriteKey());
    cmd.push_back(SmallValue());
  }
  if (Below(8) == 0) cmd.pop_back();  // an odd number of arguments
  if (Below(20) == 0) cmd.resize(1);
  return cmd;
}

std::vector<std::string> CommandGenerator::StringEdit() {
  switch (Below(9)) {
    case 0:
    case 1:
      return {Cased("APPEND"), WriteKey(), Below(10) == 0 ? Value() : SmallValue()};
    case 2:
      return {Cased("STRLEN"), Key()};
    case 3:
    case 4:
      return {Cased("GETRANGE"), Key(), Offset(), Offset()};
    case 5:
    case 6: {
      // Offsets that stay small, a negative one, a non-number, and one past 512 MiB (an
      // error unless the value is empty; never 536870911 with a value, which Redis would
      // grow to 512 MiB).
      static const std::array<std::string, 8> kSetOffsets = {"0",    "1",  "3",         "10",
                                                             "1000", "-1", "536870912", "x"};
      return {Cased("SETRANGE"), WriteKey(), kSetOffsets[Below(kSetOffsets.size())], SmallValue()};
    }
    case 7:
      return {Cased("STRLEN"), Key(), Key()};  // wrong arity
    default:
      return With({Cased(Below(2) == 0 ? "GETRANGE" : "SETRANGE")}, Keys(1 + Below(2)));
  }
}

std::vector<std::string> CommandGenerator::GetAndSet() {
  switch (Below(7)) {
    case 0:
    case 1:
      return {Cased("SETNX"), WriteKey(), SmallValue()};
    case 2:
    case 3:
      return {Cased("GETSET"), WriteKey(), Value()};
    case 4:
    case 5:
      return {Cased("GETDEL"), Key()};
    default:
      return With({Cased(Below(2) == 0 ? "GETSET" : "SETNX")}, Keys(Below(2)));
  }
}

std::vector<std::string> CommandGenerator::Keyspace() {
  switch (Below(10)) {
    case 0:
    case 1:
      return {Cased("TYPE"), Key()};
    case 2:
      return {Cased("RENAME"), Key(), WriteKey()};
    case 3:
      return {Cased("RENAMENX"), Key(), WriteKey()};
    case 4:
      return With({Cased("UNLINK")}, Keys(1 + Below(3)));
    case 5:
    case 6: {
      std::vector<std::string> cmd{Cased("COPY"), Key(), WriteKey()};
      if (On("databases") && Below(2) == 0) cmd.insert(cmd.end(), {Cased("DB"), Db()});
      if (Below(2) == 0) cmd.push_back(Cased("REPLACE"));
      return cmd;
    }
    case 7:
      return {Cased("COPY"), Key(), WriteKey(), "FOO"};
    default: {
      static const std::array<std::string_view, 5> kNames = {"TYPE", "RENAME", "RENAMENX", "UNLINK",
                                                             "COPY"};
      return {Cased(kNames[Below(kNames.size())])};
    }
  }
}

// Expiry with replies that do not depend on when each server ran the command: absolute
// times (far ahead, or passed: a delete), relative ones only where they are refused or
// delete, and read back only as absolute times (EXPIRETIME), never as TTLs.
std::vector<std::string> CommandGenerator::Expiry() {
  static const std::array<std::string, 9> kSeconds = {
      "4000000000", "4000000001",          "3999999999",      "1", "0", "-1",
      "abc",        "9223372036854775807", "9223372036854775"};
  static const std::array<std::string, 6> kMs = {
      "4000000000000", "4000000000500", "1", "0", "-5", "1.5"};
  static const std::array<std::vector<std::string>, 8> kConditions = {
      {{}, {}, {"NX"}, {"XX"}, {"GT"}, {"LT"}, {"XX", "GT"}, {"NX", "LT"}}};
  // Relative times that never set an expiry: refused (or, for EXPIRE, a delete).
  static const std::array<std::string, 4> kBadRelative = {"0", "-1", "x", "9223372036854775807"};
  switch (Below(12)) {
    case 0:
      return With({Cased("EXPIREAT"), Key(), kSeconds[Below(kSeconds.size())]},
                  kConditions[Below(kConditions.size())]);
    case 1:
      return With({Cased("PEXPIREAT"), Key(), kMs[Below(kMs.size())]},
                  kConditions[Below(kConditions.size())]);
    case 2:
      return With({Cased(Below(2) == 0 ? "EXPIRE" : "PEXPIRE"), Key(),
                   kBadRelative[Below(kBadRelative.size())]},
                  kConditions[Below(kConditions.size())]);
    case 3:
    case 4:
      return {Cased(Below(2) == 0 ? "EXPIRETIME" : "PEXPIRETIME"), Key()};
    case 5:
      return {Cased("PERSIST"), Key()};
    case 6: {
      // Not a time passed: Redis stores such a key and counts it in DBSIZE until it
      // reclaims it, kvs never (docs/PROTOCOL.md).
      // Each unit's own times: 4000000000 as PXAT would be 1970, a time passed.
      static const std::array<std::string, 5> kSetSeconds = {"4000000000", "4000000001", "0", "-1",
                                                             "x"};
      static const std::array<std::string, 5> kSetMs = {"4000000000000", "4000000000500", "0", "-1",
                                                        "x"};
      if (Below(2) == 0) {
        return {Cased("SET"), WriteKey(), SmallValue(), Cased("EXAT"),
                kSetSeconds[Below(kSetSeconds.size())]};
      }
      return {Cased("SET"), WriteKey(), SmallValue(), Cased("PXAT"), kSetMs[Below(kSetMs.size())]};
    }
    case 7:
      return {Cased("SET"), WriteKey(), SmallValue(), Cased("KEEPTTL")};
    case 8: {
      static const std::array<std::vector<std::string>, 6> kGetex = {
          {{}, {"PERSIST"}, {"EXAT", "4000000000"}, {"PXAT", "1"}, {"EX", "0"}, {"EX"}}};
      return With({Cased("GETEX"), Key()}, kGetex[Below(kGetex.size())]);
    }
    case 9:
      return {Cased(Below(2) == 0 ? "SETEX" : "PSETEX"), WriteKey(),
              kBadRelative[Below(kBadRelative.size())], SmallValue()};
    case 10:
      return {Cased("EXPIRE"), Key(), "10", "FOO"};
    default: {
      static const std::array<std::string_view, 6> kNames = {"EXPIRE", "PEXPIREAT", "PERSIST",
                                                             "GETEX",  "SETEX",     "EXPIRETIME"};
      return {Cased(kNames[Below(kNames.size())])};
    }
  }
}

std::vector<std::string> CommandGenerator::Transactions() {
  std::vector<bool>::reference in_multi = in_multi_[static_cast<size_t>(client_)];
  const size_t pick = Below(20);
  if (in_multi) {  // mostly ending it; a nested MULTI or a WATCH are errors
    if (pick < 10) {
      in_multi = false;
      return {Cased("EXEC")};
    }
    if (pick < 13) {
      in_multi = false;
      return {Cased("DISCARD")};
    }
    if (pick < 15) return {Cased("MULTI")};
    if (pick < 17) return With({Cased("WATCH")}, Keys(1 + Below(2)));
    return {Cased("UNWATCH")};  // queued
  }
  if (pick < 9) {
    in_multi = true;
    return {Cased("MULTI")};
  }
  if (pick < 16) return With({Cased("WATCH")}, Keys(1 + Below(3)));
  if (pick < 18) return {Cased("UNWATCH")};
  return {Cased(pick == 18 ? "EXEC" : "DISCARD")};  // without MULTI: errors
}

std::vector<std::string> CommandGenerator::Databases() {
  if (Below(5) == 0) return With({Cased("SELECT")}, Keys(Below(2) * 2));
  return {Cased("SELECT"), Db()};
}

std::vector<std::string> CommandGenerator::Connection() {
  switch (Below(8)) {
    case 0:
    case 1:
      return {Cased("ECHO"), SmallValue()};
    case 2: {
      static const std::array<std::string, 4> kNames = {"app", "", "a b", "x\n"};
      return {Cased("CLIENT"), Cased("SETNAME"), kNames[Below(kNames.size())]};
    }
    case 3:
      return {Cased("CLIENT"), Cased("GETNAME")};
    case 4:
      if (in_multi_[static_cast<size_t>(client_)]) return {Cased("ECHO"), "in multi"};
      return {Cased("HELLO"), "2"};
    case 5:
      return {Cased("AUTH"), SmallValue()};
    case 6:
      if (Below(4) != 0) return {Cased("PING")};
      in_multi_[static_cast<size_t>(client_)] = false;
      return {Cased("RESET")};
    default:
      return {Cased("ECHO")};
  }
}

std::vector<std::string> CommandGenerator::Resp3() {
  if (in_multi_[static_cast<size_t>(client_)]) return {Cased("PING")};
  return {Cased("HELLO"), Below(2) == 0 ? "3" : "2"};
}

}  // namespace kvs::compat
