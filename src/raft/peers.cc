#include "raft/peers.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

namespace kvs::raft {

namespace {

// "host:port" with a non-empty host and a port in 1..65535.
bool ValidHostPort(std::string_view addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view port = addr.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value > 0 && value <= 65535;
}

}  // namespace

std::string Peer::ToString() const { return fmt::format("{}={}/{}", id, client_addr, raft_addr); }

Result<Peer> ParsePeer(std::string_view text) {
  const size_t eq = text.find('=');
  const size_t slash = text.find('/');
  if (eq == std::string_view::npos || slash == std::string_view::npos || slash < eq) {
    return Status::InvalidArgument(
        fmt::format("peer \"{}\": expected ID=CLIENT_ADDR/RAFT_ADDR", text));
  }
  Peer peer;
  std::string_view id = text.substr(0, eq);
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), peer.id);
  if (ec != std::errc() || end != id.data() + id.size() || peer.id == 0) {
    return Status::InvalidArgument(
        fmt::format("peer \"{}\": the id must be a whole number above 0", text));
  }
  peer.client_addr = std::string(text.substr(eq + 1, slash - eq - 1));
  peer.raft_addr = std::string(text.substr(slash + 1));
  for (const std::string* addr : {&peer.client_addr, &peer.raft_addr}) {
    if (!ValidHostPort(*addr)) {
      return Status::InvalidArgument(
          fmt::format("peer \"{}\": \"{}\" is not HOST:PORT", text, *addr));
    }
  }
  return peer;
}

Result<std::vector<Peer>> ParsePeers(std::string_view text) {
  std::vector<Peer> peers;
  std::set<uint64_t> ids;
  std::set<std::string> addrs;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    KVS_ASSIGN_OR_RETURN(Peer peer, ParsePeer(item));
    if (!ids.insert(peer.id).second) {
      return Status::InvalidArgument(fmt::format("--peers: id {} is given twice", peer.id));
    }
    for (const std::string& addr : {peer.client_addr, peer.raft_addr}) {
      if (!addrs.insert(addr).second) {
        return Status::InvalidArgument(fmt::format("--peers: address {} is given twice", addr));
      }
    }
    peers.push_back(std::move(peer));
  }
  if (peers.empty()) return Status::InvalidArgument("--peers: no peer given");
  return peers;
}

}  // namespace kvs::raft
