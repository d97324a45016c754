#include "proto/command_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>

#include "proto/reply_writer.h"

namespace kvs::proto {

namespace {

#include "proto/command_table_data.inc"

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// The name after "parent|" of a subcommand.
std::string_view SubName(const CommandSpec& spec) {
  const size_t bar = spec.name.find('|');
  return bar == std::string_view::npos ? spec.name : spec.name.substr(bar + 1);
}

// What Redis's printf("%s") shows of a client's bytes: up to the first NUL.
std::string_view AsCString(std::string_view s) { return s.substr(0, s.find('\0')); }

// One reply from `bytes` at *pos into `out`.
void ReplayOne(std::string_view bytes, size_t* pos, ReplyWriter& out) {
  const char type = bytes[*pos];
  const size_t eol = bytes.find("\r\n", *pos);
  const std::string_view head = bytes.substr(*pos + 1, eol - *pos - 1);
  *pos = eol + 2;
  const auto number = [head] { return std::strtoll(std::string(head).c_str(), nullptr, 10); };
  switch (type) {
    case '+':
      out.Simple(head);
      return;
    case ':':
      out.Integer(number());
      return;
    case '_':
      out.Null();
      return;
    case '$': {
      const auto n = static_cast<size_t>(number());
      out.Bulk(bytes.substr(*pos, n));
      *pos += n + 2;
      return;
    }
    case '*':
    case '~':
    case '%': {
      const auto n = static_cast<size_t>(number());
      if (type == '*') out.Array(n);
      if (type == '~') out.Set(n);
      if (type == '%') out.Map(n);
      for (size_t i = 0; i < (type == '%' ? 2 * n : n); ++i) ReplayOne(bytes, pos, out);
      return;
    }
    default:
      assert(false && "a RESP3 type the command table does not hold");
      out.Null();
      return;
  }
}

}  // namespace

void ReplayResp3(std::string_view bytes, ReplyWriter& out) {
  size_t pos = 0;
  ReplayOne(bytes, &pos, out);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool CommandSpec::HasFlag(std::string_view flag) const {
  std::string_view rest = flags;
  while (!rest.empty()) {
    const size_t sp = rest.find(' ');
    if (rest.substr(0, sp) == flag) return true;
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return false;
}

const CommandSpec* FindCommand(std::string_view name) {
  // Few enough commands that a scan on the length first is as quick as a hash.
  for (const CommandSpec& spec : kCommandSpecs) {
    if (spec.name.size() == name.size() && EqualsIgnoreCase(spec.name, name)) return &spec;
  }
  return nullptr;
}

const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name) {
  for (const CommandSpec& sub : parent.subcommands) {
    if (EqualsIgnoreCase(SubName(sub), name)) return &sub;
  }
  return nullptr;
}

std::span<const CommandSpec> AllCommands() { return kCommandSpecs; }

size_t CommandCount() { return std::size(kCommandSpecs); }

std::string UnknownCommandError(std::span<const std::string_view> argv) {
  // Redis's text, byte for byte: the name cut to 128 bytes, then each argument quoted, the
  // quoted list cut at 128 bytes in all (Redis processCommand).
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    const size_t room = 128 - args.size();
    args += '\'';
    args += AsCString(argv[i]).substr(0, room);
    args += "' ";
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                     AsCString(argv[0]).substr(0, 128), args);
}

std::string UnknownSubcommandError(std::string_view parent, std::string_view sub) {
  std::string upper(AsCString(parent));
  std::transform(upper.begin(), upper.end(), upper.begin(), Upper);
  return fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", AsCString(sub).substr(0, 128),
                     upper);
}

std::string WrongArityError(std::string_view full_name) {
  return fmt::format("ERR wrong number of arguments for '{}' command", full_name);
}

}  // namespace kvs::proto
