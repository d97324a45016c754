// Masks for the few reply fields two correct servers may answer differently: a connection
// id, the clock, HELLO's server name and version, CLIENT INFO's addresses and counters.
// A mask rewrites such a field of one reply (as ReadReply returned it) to a placeholder of
// the same RESP type, so that the rest of the reply is still compared byte for byte; a
// reply that does not have the expected shape is returned unchanged (and then differs).
// Inside an aggregate (EXEC's array) each item that has the shape is masked.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kvs::compat {

// One reply, parsed: its type byte, the text of a simple type (after the type byte) or the
// payload of a bulk type, and the items of an aggregate (a map's keys and values
// alternating). `count` is the header number of bulk and aggregate types (-1: null).
struct ReplyNode {
  char type = 0;
  std::string text;
  long long count = 0;
  std::vector<ReplyNode> items;
};

// Parses one complete reply; false when `bytes` is not exactly one (a "<closed>" marker,
// trailing bytes).
bool ParseReply(std::string_view bytes, ReplyNode* out);
// The RESP bytes of a node (bulk lengths and aggregate counts recomputed).
std::string EncodeReply(const ReplyNode& node);

// A mask: reply bytes in, the same reply with some fields replaced, out.
using Mask = std::string (*)(std::string_view reply);

// HELLO (a RESP2 array or a RESP3 map of names and values, "server" first): the values of "server",
// "version" and "id" become "<masked>" (an integer id only if it is a positive integer).
std::string MaskHello(std::string_view reply);
// A positive integer reply (CLIENT ID): ":<id>".
std::string MaskId(std::string_view reply);
// TIME: an array of two bulk strings of digits (seconds, microseconds): both "<digits>".
std::string MaskTime(std::string_view reply);
// CLIENT INFO and CLIENT LIST (a bulk string, or a RESP3 verbatim string): in each line of
// space-separated name=value fields, the values that depend on the connection's address,
// descriptor, age and buffers (id addr laddr fd age idle qbuf qbuf-free argv-mem
// multi-mem rbs rbp obl oll omem tot-mem) become "*". Names, order and the other values
// (name db flags multi cmd resp ...) are compared.
std::string MaskClientInfo(std::string_view reply);

// COMMAND INFO (and COMMAND DOCS): a container command's subcommands come in the order of
// Redis's hash table, which differs between two runs of the same redis-server; each
// command's list of subcommands (the 10th field of its COMMAND INFO entry, the
// "subcommands" map of its DOCS) is sorted. The rest is compared as sent.
std::string MaskSubcommandOrder(std::string_view reply);

}  // namespace kvs::compat
