#include "compat/command_generator.h"

#include <array>

namespace kvs::compat {

namespace {

using namespace std::string_literals;

// Few keys, so that commands meet: plain ones, two that differ only in case, binary ones,
// a long one, and the empty key (read and deleted only: see kNotYetImplemented).
const std::array<std::string, 9> kKeys = {
    "k0", "k1", "k2", "K0", "bin\0key\r\n"s, "\xff\xfe\x80"s, "sp ace", std::string(300, 'L'), ""};
constexpr size_t kEmptyKey = 8;

// Bytes values are made of: the ones RESP framing and C strings care about, and others.
constexpr std::string_view kAlphabet("\0\r\n \t'\"\\*$+-:abcxyzAZ019\x7f\x80\xff", 28);

// Words that are none of SET's options (NX XX GET EX PX EXAT PXAT KEEPTTL).
const std::array<std::string, 4> kNotSetOptions = {"foo", "NXX", "EXPIRE", "1"};

}  // namespace

std::vector<std::string_view> CommandGenerator::CommandNames() {
  return {"GET", "SET", "DEL", "EXISTS", "DBSIZE", "PING", "NOSUCH"};
}

std::string CommandGenerator::Bytes(size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = kAlphabet[Below(kAlphabet.size())];
  return s;
}

std::string CommandGenerator::Key() { return kKeys[Below(kKeys.size())]; }

std::string CommandGenerator::Value() {
  const size_t pick = Below(100);
  if (pick < 5) return "";
  if (pick < 60) return Bytes(1 + Below(16));
  if (pick < 90) return Bytes(17 + Below(1000));
  if (pick < 99) return Bytes(1024 + Below(64 * 1024));
  return std::string(1 << 20, static_cast<char>('a' + Below(26)));  // 1 MiB
}

std::string CommandGenerator::Cased(std::string_view name) {
  std::string s(name);
  const size_t how = Below(4);
  for (char& c : s) {
    if (how == 1 || (how == 2 && Below(2) == 0)) c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::vector<std::string> CommandGenerator::Next() {
  const size_t pick = Below(100);
  auto keys = [this](size_t n) {
    std::vector<std::string> v;
    for (size_t i = 0; i < n; ++i) v.push_back(Key());
    return v;
  };
  auto with = [](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  if (pick < 30) {  // SET; the empty key cannot be stored yet
    std::string key = Key();
    while (key.empty()) key = Key();
    return {Cased("SET"), key, Value()};
  }
  if (pick < 55) return {Cased("GET"), Key()};
  if (pick < 65) return with({Cased("DEL")}, keys(1 + Below(4)));
  if (pick < 75) return with({Cased("EXISTS")}, keys(1 + Below(5)));
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
        return with({Cased("GET")}, keys(2 + Below(3)));
      case 2:
        return with({Cased("SET")}, keys(Below(2)));
      case 3:
        return {Cased("DEL")};
      case 4:
        return {Cased("EXISTS")};
      case 5:
        return with({Cased("DBSIZE")}, keys(1 + Below(2)));
      default:
        return with({Cased("PING")}, keys(2 + Below(2)));
    }
  }
  if (pick < 96) {  // SET with a word that is no option: a syntax error
    std::string key = Key();
    while (key.empty()) key = Key();
    return {Cased("SET"), key, Value(), kNotSetOptions[Below(kNotSetOptions.size())]};
  }
  // An unknown command; its arguments are quoted back in the error.
  std::vector<std::string> cmd{Cased("NOSUCH") + Bytes(Below(4))};
  const size_t args = Below(4);
  for (size_t i = 0; i < args; ++i) cmd.push_back(Below(3) == 0 ? Value() : Bytes(Below(8)));
  return cmd;
}

}  // namespace kvs::compat
