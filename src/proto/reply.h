// Reply encoders: one complete reply per call, in the shape the request was asked in,
// appended to *out so that many replies batch into one send.
//
//   call                      JSON                         legacy JSON             RESP
//   EncodeSetReply            {"ok":true}                  {"Ok":null}             +OK
//   EncodeGetReply(v)         {"ok":true,"value":"v"}      {"Ok":"v"}              $len v
//   EncodeGetReply(nullopt)   {"ok":true,"value":null}     {"Ok":null}             $-1
//   EncodeRmReply(n > 0)      {"ok":true}                  {"Ok":null}             :n
//   EncodeRmReply(0)          {"ok":false,"error":"Key not found"}
//                                                          {"Err":"Key not found"} :0
//   EncodeIntegerReply(n)     {"ok":true,"value":n}        {"Ok":n}                :n
//   EncodeInfoReply(text)     {"ok":true,"value":"text"}   {"Ok":"text"}           $len text
//   EncodeError(msg)          {"ok":false,"error":"msg"}   {"Err":"msg"}           -ERR msg
//
// Every JSON reply ends with '\n'. JSON can only carry valid UTF-8: a value that is not
// (stored over RESP) is answered with an error naming the problem. Free functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/request.h"

namespace kvs::proto {

void EncodeSetReply(Shape shape, std::string* out);
void EncodeGetReply(Shape shape, std::optional<std::string_view> value, std::string* out);
// `removed`: how many of the request's keys existed (JSON and legacy: 0 or 1).
void EncodeRmReply(Shape shape, int64_t removed, std::string* out);
// EXISTS and DBSIZE (RESP commands; other shapes get a JSON number).
void EncodeIntegerReply(Shape shape, int64_t n, std::string* out);
// INFO: the server's "# Section\r\nfield:value\r\n..." text.
void EncodeInfoReply(Shape shape, std::string_view text, std::string* out);
void EncodeError(Shape shape, std::string_view message, std::string* out);
// A cluster node that is not the leader; `leader` = the leader's client address, empty when
// none is known. JSON {"ok":false,"error":"not leader","leader":"A"|null}; legacy
// {"Err":"not leader; the leader is A"}; RESP -NOTLEADER not leader; the leader is A.
void EncodeNotLeader(Shape shape, std::string_view leader, std::string* out);

// Answers PING (JSON {"op":"ping"}; a RESP PING is a command by name, answered by the
// server). Returns false, appending nothing, for every other command.
bool EncodeLocalReply(const Request& request, std::string* out);

}  // namespace kvs::proto
