// KvConn: a pipelining client for crash tests, speaking RESP or JSON lines over one TCP
// connection to the real kvs-server (e2e::Conn underneath). Requests are queued with Add*,
// sent together with Flush(), and their replies read back in order with Next*().
// Not thread-safe: one connection per thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "e2e/harness.h"

namespace kvs::crash {

enum class Proto { kResp, kJson };
std::string_view ProtoName(Proto proto);

// One reply. `ok` false = an error reply (message in `error`); a GET's value is `value`
// (nullopt: the key is absent); a remove of a missing key has `not_found` set.
struct Reply {
  bool ok = false;
  bool not_found = false;
  std::optional<std::string> value;
  std::string error;
};

class KvConn {
 public:
  KvConn(int port, Proto proto) : conn_(port), proto_(proto) {}
  bool ok() const { return conn_.ok(); }

  void AddSet(std::string_view key, std::string_view value);
  void AddRemove(std::string_view key);
  void AddGet(std::string_view key);
  void Flush();

  // The next reply, or nullopt when the connection broke (server killed) or timed out.
  std::optional<Reply> NextWriteReply(int timeout_s = 60);
  std::optional<Reply> NextGetReply(int timeout_s = 60);
  // RESP DBSIZE (a RESP connection only); nullopt on a broken connection.
  std::optional<long long> DbSize(int timeout_s = 60);

 private:
  std::optional<std::string> Line(int timeout_s);
  e2e::Conn conn_;
  const Proto proto_;
  std::string out_;
};

}  // namespace kvs::crash
