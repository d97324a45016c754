#include "proto/command_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvs::proto {
namespace {

using namespace std::string_literals;

std::string Unknown(const std::vector<std::string>& words) {
  std::vector<std::string_view> argv(words.begin(), words.end());
  return UnknownCommandError(argv);
}

TEST(CommandTableTest, LookupIsCaseInsensitive) {
  for (std::string_view name : {"get", "GET", "gEt"}) {
    const CommandSpec* spec = FindCommand(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->id, CommandId::kGet);
    EXPECT_EQ(spec->name, "get");
  }
  EXPECT_EQ(FindCommand("nosuch"), nullptr);
  EXPECT_EQ(FindCommand(""), nullptr);
}

TEST(CommandTableTest, SubcommandsByTheirOwnName) {
  const CommandSpec* client = FindCommand("CLIENT");
  ASSERT_NE(client, nullptr);
  const CommandSpec* setname = FindSubcommand(*client, "SetName");
  ASSERT_NE(setname, nullptr);
  EXPECT_EQ(setname->id, CommandId::kClientSetName);
  EXPECT_EQ(setname->name, "client|setname");
  EXPECT_EQ(FindSubcommand(*client, "nosuch"), nullptr);
}

// Redis's arity: n exactly (name included), -n at least n.
TEST(CommandTableTest, Arity) {
  const CommandSpec* get = FindCommand("get");
  EXPECT_FALSE(get->ArityOk(1));
  EXPECT_TRUE(get->ArityOk(2));
  EXPECT_FALSE(get->ArityOk(3));
  const CommandSpec* del = FindCommand("del");
  EXPECT_FALSE(del->ArityOk(1));
  EXPECT_TRUE(del->ArityOk(2));
  EXPECT_TRUE(del->ArityOk(100));
}

// What COMMAND INFO reports, as redis-server 7.0.15 does (scripts/gen-command-table).
TEST(CommandTableTest, MetadataIsRedisOwn) {
  const CommandSpec* mset = FindCommand("mset");
  EXPECT_EQ(mset->arity, -3);
  EXPECT_EQ(mset->flags, "write denyoom");
  EXPECT_EQ(mset->first_key, 1);
  EXPECT_EQ(mset->last_key, -1);
  EXPECT_EQ(mset->key_step, 2);
  EXPECT_TRUE(mset->HasFlag("denyoom"));
  EXPECT_FALSE(mset->HasFlag("deny"));
  ASSERT_EQ(mset->key_specs.size(), 1u);
  EXPECT_EQ(mset->key_specs[0].flags, "OW update");
  EXPECT_TRUE(FindCommand("auth")->HasFlag("no_auth"));
  EXPECT_FALSE(FindCommand("get")->HasFlag("no_auth"));
  EXPECT_EQ(CommandCount(), AllCommands().size());
}

// Redis's unknown-command text (processCommand) formats with %s and cuts at 128 bytes.
TEST(CommandTableTest, UnknownCommandErrorIsRedisText) {
  EXPECT_EQ(Unknown({"NO\0SUCH"s, "x"}),
            "ERR unknown command 'NO', with args beginning with: 'x' ");
  EXPECT_EQ(Unknown({"FOO", "a\0b"s, "c"}),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'c' ");
  EXPECT_EQ(Unknown({std::string(200, 'n')}),
            "ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: ");
  // 100 a's take 103 bytes quoted: 25 of the b's fit, and nothing after them.
  EXPECT_EQ(Unknown({"FOO", std::string(100, 'a'), std::string(100, 'b'), "c"}),
            "ERR unknown command 'FOO', with args beginning with: '" + std::string(100, 'a') +
                "' '" + std::string(25, 'b') + "' ");
  EXPECT_EQ(Unknown({"FOO", std::string(124, 'a'), "b", "c"}),
            "ERR unknown command 'FOO', with args beginning with: '" + std::string(124, 'a') +
                "' 'b' ");
  EXPECT_EQ(Unknown({""}), "ERR unknown command '', with args beginning with: ");
}

TEST(CommandTableTest, OtherErrorTexts) {
  EXPECT_EQ(UnknownSubcommandError("config", "SET"), "ERR unknown subcommand 'SET'. Try CONFIG HELP.");
  EXPECT_EQ(WrongArityError("client|setname"),
            "ERR wrong number of arguments for 'client|setname' command");
}

}  // namespace
}  // namespace kvs::proto
