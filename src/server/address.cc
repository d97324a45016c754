#include "server/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace kvs {

uint16_t Address::port() const {
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

std::string Address::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof buf);
    return fmt::format("[{}]:{}", buf, port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
  return fmt::format("{}:{}", buf, port());
}

Result<Address> ParseAddress(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid address '{}': {}", text, why));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid("expected IP:PORT");
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return invalid("the port must be a number from 0 to 65535");
  }
  Address a;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    std::string h(host.substr(1, host.size() - 2));
    if (inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) != 1) return invalid("bad IPv6 address");
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &in4->sin_addr) != 1) {
    return invalid("expected an IPv4 address like 127.0.0.1 (or [IPv6])");
  }
  in4->sin_family = AF_INET;
  in4->sin_port = htons(static_cast<uint16_t>(port));
  a.len = sizeof(sockaddr_in);
  return a;
}

}  // namespace kvs
