// Seeded random RESP commands for the differential test, drawn only from what kvs answers
// today (GET, SET without options, DEL, EXISTS, DBSIZE, PING, their wrong arities,
// unknown commands, SET with a word that is no SET option) over a small key space, so
// that keys collide, values are overwritten and deleted, and binary and large values come
// back. The same seed gives the same commands.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::compat {

class CommandGenerator {
 public:
  explicit CommandGenerator(uint64_t seed) : rng_(seed) {}

  // The next command: its name and arguments.
  std::vector<std::string> Next();

  // Every command name Next() can produce (upper case; unknown-command names start with
  // "NOSUCH"), so that a test can check none of them is listed as not yet implemented.
  static std::vector<std::string_view> CommandNames();

 private:
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string Key();
  std::string Value();
  std::string Bytes(size_t n);
  // `name` in upper, lower or mixed case: command names are case-insensitive.
  std::string Cased(std::string_view name);

  std::mt19937_64 rng_;
};

}  // namespace kvs::compat
