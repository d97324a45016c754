// Cluster membership as given on the command line: `--peers ID=CLIENT_ADDR/RAFT_ADDR,...`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kvs::raft {

struct Peer {
  uint64_t id = 0;          // > 0, unique in the cluster
  std::string client_addr;  // host:port clients (kvs-client, RESP, JSON) talk to
  std::string raft_addr;    // host:port of the node's Raft transport

  // "ID=CLIENT_ADDR/RAFT_ADDR"
  std::string ToString() const;
  bool operator==(const Peer&) const = default;
};

// Parses one "ID=CLIENT_ADDR/RAFT_ADDR"; InvalidArgument naming what is wrong.
Result<Peer> ParsePeer(std::string_view text);
// Parses a comma-separated list; ids and addresses must be unique. An empty list is
// InvalidArgument.
Result<std::vector<Peer>> ParsePeers(std::string_view text);

}  // namespace kvs::raft
