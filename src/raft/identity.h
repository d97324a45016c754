// Which Raft log a node's engine belongs to (docs/REPLICATION.md "Identity"). In cluster
// mode the engine is only the state machine of this node's Raft log: served without that
// log (a standalone server's directory, or one whose raft/ was wiped), it would answer
// reads and spread through snapshots data the cluster never committed. So the first start
// of a node writes the same identity, a random log id and the node id, into the data
// directory and into its Raft directory, and every start checks that both still match.
//
// Files: <data-dir>/CLUSTER and <data-dir>/raft/CLUSTER, text, "log <16 hex digits>\n
// node <id>\n" (libraft ignores files it does not know in its directory). Not thread-safe:
// called once at start, before the Raft node runs.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "store/env.h"

namespace kvs::raft {

inline constexpr char kIdentityFileName[] = "CLUSTER";

// Checks that the engine in `data_dir` (holding `engine_keys` keys) and the Raft state in
// `raft_dir` belong together and to node `node_id`; writes the identity on a first start
// (no Raft state, an empty engine) and on the first start after an upgrade (Raft state from
// before identities, which the engine is taken to belong to). InvalidArgument, naming the
// directory and what to do, when they do not belong together: a standalone data directory
// (keys, no Raft state), a wiped or replaced Raft directory, another node's directory.
Status CheckIdentity(Env* env, const std::string& data_dir, const std::string& raft_dir,
                     uint64_t node_id, uint64_t engine_keys);

}  // namespace kvs::raft
