// RESP on the client side of the differential test: encoding a command, reading exactly
// one complete RESP2 or RESP3 reply off a connection (raw bytes, so that two servers' replies can
// be compared byte for byte), and showing bytes readably in a failure message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "e2e/harness.h"

namespace kvs::compat {

// "*<n>\r\n" then "$<len>\r\n<arg>\r\n" for each argument (binary safe).
std::string EncodeCommand(const std::vector<std::string>& args);

// One complete reply, exactly as the server sent it: RESP2 (simple string, error, integer,
// bulk or null bulk, array of any of these, nested, or null array) or RESP3 after HELLO 3
// (null, boolean, double, big number, verbatim string, bulk error, map, set, push,
// attribute). Which protocol the connection speaks is not checked here: the comparison of
// two servers' bytes catches a RESP3 type sent to a RESP2 client. When the connection ends
// or nothing more arrives within `timeout_s` before the reply is complete, the bytes read
// so far followed by "<closed>" or "<timeout>"; an unknown type byte ends the reply at
// that line with "<bad type>" appended.
std::string ReadReply(e2e::Conn& conn, int timeout_s = 10);

// Whatever the server sends until it closes the connection, then "<closed>"; or, when it
// keeps the connection open for `timeout_s`, what came and then "<open>". For the replies
// after which a server must close (QUIT, a protocol error).
std::string ReadUntilClosed(e2e::Conn& conn, int timeout_s = 10);

// `bytes` with \r, \n, \0, quotes, backslashes and other non-printable bytes as C escapes,
// cut to `max` bytes (with a note saying how many were left out): for messages.
std::string Escape(std::string_view bytes, size_t max = 300);

}  // namespace kvs::compat
