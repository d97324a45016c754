// Socket addresses as users write them: "IP:PORT" (IPv4) or "[IPv6]:PORT".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "base/result.h"

namespace kvs {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  uint16_t port() const;
  std::string ToString() const;  // "127.0.0.1:4000", "[::1]:4000"
};

// Parses "IP:PORT"; InvalidArgument naming the text and what is wrong with it.
// Host names are not resolved: the server binds, and the client connects to, an IP.
Result<Address> ParseAddress(std::string_view text);

}  // namespace kvs
