// ClientConnection: kvs-client's conversation with one kvs-server over one TCP connection,
// in JSON lines or in RESP (the protocol is fixed by the connection's first byte).
//
// Before its first request a connection sends AUTH and SELECT when the options ask for them
// (the server keeps both per connection), waits for their "OK", and only then sends the
// request, so that a refused SELECT never lets a command run in the wrong database. A
// cluster follower's "not leader" reply sends the connection on to the leader (reconnect,
// the same preamble, the same request); while no leader is known it waits and asks again.
//
// This is the CLI's edge: unreachable servers, broken replies and a refused AUTH or SELECT
// end the process with a message on stderr (Die). Single-threaded; one object per server.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/request.h"
#include "server/address.h"

namespace kvs::client {

inline constexpr int kExitUsage = 2;  // bad command line
inline constexpr int kExitError = 1;  // the server said no, or could not be reached

// Prints "kvs-client: <msg>" on stderr and exits with `code`.
[[noreturn]] void Die(int code, std::string_view msg);

// What each new connection sends before its first request.
struct ConnectionOptions {
  std::string password;   // non-empty: AUTH <password>
  std::string db;         // non-empty: SELECT <db>
  bool readonly = false;  // RESP: READONLY (a cluster follower may answer reads)
};

// One RESP reply of the simple kinds: '+', '-', ':' with the rest of its line, or '$' with
// the bulk's body (`nil` for $-1).
struct RespReply {
  char type = 0;
  std::string text;
  bool nil = false;
};

class ClientConnection {
 public:
  // Connects lazily, on the first call. `options` must outlive the connection.
  ClientConnection(const kvs::Address& addr, proto::Protocol protocol,
                   const ConnectionOptions& options);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // JSON: sends one request line ('\n'-terminated) and returns the parsed reply object,
  // valid until the next call. Follows "not leader" replies.
  // REQUIRES: the connection speaks JSON.
  simdjson::dom::element CallJson(std::string_view line);

  // RESP: sends one command (an array of bulk strings) and returns its reply, which must be
  // of a simple kind (else Die). Follows "-NOTLEADER" replies.
  // REQUIRES: the connection speaks RESP.
  RespReply CallResp(const std::vector<std::string>& args);

  // Where the connection goes now (the leader, after a redirect).
  const kvs::Address& addr() const { return addr_; }

 private:
  // Connects and gets the preamble answered; false when a "not leader" reply to it moved
  // the connection to another address (call again).
  bool Open();
  // A JSON reply line as an object with "ok" (else Die), valid until the next parse.
  simdjson::dom::element ParseJsonReply(const std::string& line);
  void Close();  // forgets the socket and any unread bytes
  void Send(std::string_view bytes);
  // Reads until `buf_` holds a '\n' at or after `from`; returns its offset.
  size_t ReadUntilNewline(size_t from);
  void ReadAtLeast(size_t n);  // until buf_ holds n bytes
  std::string TakeJsonLine();  // one reply line, without '\n'
  RespReply TakeRespReply();
  // The leader named by a "not leader" reply ("" while none is known): goes there (or
  // waits). Returns false when it has already tried too often.
  bool Redirect(std::string_view leader);

  kvs::Address addr_;
  const proto::Protocol protocol_;
  const ConnectionOptions& options_;
  int fd_ = -1;
  std::string buf_;  // received, not yet taken
  int redirects_ = 0;
  simdjson::dom::parser parser_;
};

// True if something accepts a TCP connection at `addr` (closed again at once).
bool Reachable(const kvs::Address& addr);

// True when a JSON reply says {"ok":true,...}.
bool JsonOk(simdjson::dom::element reply);
// The "error" text of a JSON reply ("server error" if it has none).
std::string JsonError(simdjson::dom::element reply);

}  // namespace kvs::client
