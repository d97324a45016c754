// The two wire formats kvs speaks on one port: constants only.
// The prose specification is docs/PROTOCOL.md.
//
// Detection (first byte of a connection):
//   '*' or an ASCII letter  → RESP2 (multibulk, or an inline command such as "PING\r\n")
//   anything else           → newline-delimited JSON
//
// JSON (one object per line, '\n'-terminated; '\r' before it is whitespace):
//   new shape     {"op":"set","key":K,"value":V} → {"ok":true}
//                 {"op":"get","key":K}           → {"ok":true,"value":V|null}
//                 {"op":"rm","key":K}            → {"ok":true} | {"ok":false,"error":"Key not found"}
//                 {"op":"ping"}                  → {"ok":true}
//                 {"op":"get","key":K,"stale":true}  (cluster: a follower may answer)
//                 cluster, not the leader        → {"ok":false,"error":"not leader","leader":A|null}
//                 errors                         → {"ok":false,"error":"..."}
//   legacy shape  {"Set":{"key":K,"value":V}}    → {"Ok":null}
//                 {"Get":{"key":K}}              → {"Ok":V} | {"Ok":null}
//                 {"Remove":{"key":K}}           → {"Ok":null} | {"Err":"Key not found"}
//                 errors                         → {"Err":"..."}
//
// RESP2: a request is an array of bulk strings  *<n>\r\n ($<len>\r\n<bytes>\r\n){n}
// or an inline line of words split as Redis does (resp_inline.h); replies are + - : $ * below.
#pragma once

#include <string_view>

namespace kvs::proto::wire {

// --- JSON -------------------------------------------------------------------------------
inline constexpr char kJsonLineEnd = '\n';
inline constexpr std::string_view kFieldOp = "op";
inline constexpr std::string_view kFieldKey = "key";
inline constexpr std::string_view kFieldValue = "value";
inline constexpr std::string_view kFieldStale = "stale";
inline constexpr std::string_view kOpSet = "set";
inline constexpr std::string_view kOpGet = "get";
inline constexpr std::string_view kOpRm = "rm";
inline constexpr std::string_view kOpPing = "ping";
// {"op":"auth","password":P}: the connection's AUTH (the password of --requirepass-file).
inline constexpr std::string_view kOpAuth = "auth";
inline constexpr std::string_view kFieldPassword = "password";
inline constexpr std::string_view kLegacySet = "Set";
inline constexpr std::string_view kLegacyGet = "Get";
inline constexpr std::string_view kLegacyRemove = "Remove";

inline constexpr std::string_view kJsonOk = R"({"ok":true})";
inline constexpr std::string_view kJsonValuePrefix = R"({"ok":true,"value":)";
inline constexpr std::string_view kJsonNullValue = R"({"ok":true,"value":null})";
inline constexpr std::string_view kJsonErrorPrefix = R"({"ok":false,"error":)";
inline constexpr std::string_view kLegacyOkNull = R"({"Ok":null})";
inline constexpr std::string_view kLegacyOkPrefix = R"({"Ok":)";
inline constexpr std::string_view kLegacyErrPrefix = R"({"Err":)";

// The one error message clients match on (kvs-client prints it).
inline constexpr std::string_view kKeyNotFound = "Key not found";
// A cluster node that is not the leader (DESIGN.md, issue "Replication").
inline constexpr std::string_view kNotLeader = "not leader";

// --- RESP2 ------------------------------------------------------------------------------
inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr char kArray = '*';
inline constexpr char kBulk = '$';
inline constexpr char kSimple = '+';
inline constexpr char kError = '-';
inline constexpr char kInteger = ':';
inline constexpr std::string_view kNilBulk = "$-1\r\n";
inline constexpr std::string_view kEmptyArray = "*0\r\n";
inline constexpr std::string_view kRespOk = "+OK\r\n";
inline constexpr std::string_view kRespPong = "+PONG\r\n";
// Error replies are "-ERR <message>\r\n"; CR/LF inside a message become spaces.
inline constexpr std::string_view kErrorPrefix = "-ERR ";
// "*<n>" and "$<n>" header lines: the longest legal number is '-' and 18 digits
// (resp_codec.cc ParseLength); a line longer than this is refused.
inline constexpr size_t kMaxHeaderLineBytes = 32;

}  // namespace kvs::proto::wire
