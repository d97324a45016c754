// The identity check of raft/identity.h: which start finds which files, and what it does.

#include "raft/identity.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <random>
#include <string_view>

#include "base/result.h"

namespace kvs::raft {

namespace {

struct Identity {
  std::string log_id;
  uint64_t node_id = 0;
  bool operator==(const Identity&) const = default;
};

std::string Format(const Identity& id) {
  return fmt::format("log {}\nnode {}\n", id.log_id, id.node_id);
}

// The identity in dir/CLUSTER; nullopt if the file does not exist.
Result<std::optional<Identity>> ReadIdentity(Env* env, const std::string& dir) {
  const std::string path = fmt::format("{}/{}", dir, kIdentityFileName);
  KVS_ASSIGN_OR_RETURN(bool exists, env->Exists(path));
  if (!exists) return std::optional<Identity>();
  KVS_ASSIGN_OR_RETURN(std::string text, ReadFile(env, path));
  Identity id;
  std::string_view rest = text;
  auto field = [&rest](std::string_view name) -> std::optional<std::string_view> {
    const size_t end = rest.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ' ') {
      return std::nullopt;
    }
    return line.substr(name.size() + 1);
  };
  std::optional<std::string_view> log = field("log");
  std::optional<std::string_view> node = field("node");
  bool ok = log && node && rest.empty() && !log->empty();
  if (ok) {
    auto [end, ec] = std::from_chars(node->data(), node->data() + node->size(), id.node_id);
    ok = ec == std::errc() && end == node->data() + node->size() && id.node_id != 0;
    id.log_id = std::string(*log);
  }
  if (!ok) return Status::Corruption(fmt::format("{}: not a kvs cluster identity", path));
  return std::optional<Identity>(std::move(id));
}

// libraft keeps its term and vote in metadata1/metadata2 from the bootstrap (or the first
// message a joining node receives) on.
Result<bool> HasRaftState(Env* env, const std::string& raft_dir) {
  for (const char* name : {"metadata1", "metadata2"}) {
    KVS_ASSIGN_OR_RETURN(bool exists, env->Exists(fmt::format("{}/{}", raft_dir, name)));
    if (exists) return true;
  }
  return false;
}

// Raft's directory first: a crash between the two writes leaves an identity only there,
// with an engine still empty, which the next start completes.
Status WriteIdentity(Env* env, const std::string& data_dir, const std::string& raft_dir,
                     const Identity& id) {
  KVS_RETURN_IF_ERROR(env->CreateDir(raft_dir));
  KVS_RETURN_IF_ERROR(WriteFileAtomic(env, raft_dir, kIdentityFileName, Format(id)));
  return WriteFileAtomic(env, data_dir, kIdentityFileName, Format(id));
}

std::string NewLogId() {
  std::random_device rd;
  const uint64_t id = (uint64_t{rd()} << 32) | rd();
  return fmt::format("{:016x}", id);
}

}  // namespace

Status CheckIdentity(Env* env, const std::string& data_dir, const std::string& raft_dir,
                     uint64_t node_id, uint64_t engine_keys) {
  KVS_ASSIGN_OR_RETURN(std::optional<Identity> engine_id, ReadIdentity(env, data_dir));
  KVS_ASSIGN_OR_RETURN(std::optional<Identity> raft_id, ReadIdentity(env, raft_dir));
  KVS_ASSIGN_OR_RETURN(bool raft_state, HasRaftState(env, raft_dir));
  const std::string move_away = fmt::format(
      "move {} away (or empty it) to start this node afresh: it then catches up from the "
      "leader",
      data_dir);

  if (engine_id && engine_id->node_id != node_id) {
    return Status::InvalidArgument(
        fmt::format("data directory {} belongs to cluster node {}, not to --node-id {}", data_dir,
                    engine_id->node_id, node_id));
  }
  if (engine_id && raft_id) {
    if (*engine_id == *raft_id) return Status::Ok();
    return Status::InvalidArgument(fmt::format(
        "data directory {} and its Raft directory {} belong to different Raft logs (log {} "
        "and log {} of node {}): the engine would be served with a log it does not follow; {}",
        data_dir, raft_dir, engine_id->log_id, raft_id->log_id, raft_id->node_id, move_away));
  }
  if (engine_id) {  // the Raft directory lost its identity: wiped or replaced
    return Status::InvalidArgument(fmt::format(
        "data directory {} belongs to cluster node {} (log {}), but its Raft directory {} {}: "
        "the engine's data would be served without the log it came from; {}",
        data_dir, node_id, engine_id->log_id, raft_dir,
        raft_state ? "holds another log" : "is empty (wiped?)", move_away));
  }
  if (raft_id) {
    if (raft_id->node_id != node_id) {
      return Status::InvalidArgument(
          fmt::format("Raft directory {} belongs to cluster node {}, not to --node-id {}", raft_dir,
                      raft_id->node_id, node_id));
    }
    if (engine_keys > 0) {
      return Status::InvalidArgument(fmt::format(
          "data directory {} holds {} keys that do not come from its Raft log (no identity "
          "file beside them: a standalone server's data?); {}",
          data_dir, engine_keys, move_away));
    }
    // An empty engine (a first start interrupted, or a replaced engine directory): the
    // Raft node rebuilds it from its snapshot and log.
    return WriteFileAtomic(env, data_dir, kIdentityFileName, Format(*raft_id));
  }
  if (!raft_state && engine_keys > 0) {
    return Status::InvalidArgument(fmt::format(
        "data directory {} holds {} keys but no Raft state: a standalone server's directory "
        "(or a cluster node's whose Raft directory {} was wiped) cannot become a cluster node; "
        "start it without --node-id, or {}",
        data_dir, engine_keys, raft_dir, move_away));
  }
  // A first start, or the first since identities exist (Raft state without them): this
  // engine and this log are taken to belong together from now on.
  return WriteIdentity(env, data_dir, raft_dir, Identity{NewLogId(), node_id});
}

}  // namespace kvs::raft
