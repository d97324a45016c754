// CLUSTER STATUS | ADD | REMOVE | FAILOVER (docs/REPLICATION.md "Membership and status",
// "Leadership hand-off"): handed to the Raft node, answered when it calls back, through the
// request's reply slot like a read.

#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <span>

#include "proto/reply.h"
#include "raft/peers.h"
#include "server/server_impl.h"

namespace kvs {

namespace {

bool IsWord(std::string_view arg, std::string_view word) {
  if (arg.size() != word.size()) return false;
  for (size_t i = 0; i < arg.size(); ++i) {
    if ((arg[i] | 0x20) != (word[i] | 0x20)) return false;
  }
  return true;
}

// A node id (1 or more); InvalidArgument naming the text otherwise.
Result<uint64_t> ParseNodeId(const std::string& text) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
    return Status::InvalidArgument(fmt::format("not a node id: '{}'", text));
  }
  return id;
}

}  // namespace

void AppendNodeInfo(const raft::NodeInfo& info, std::string_view prefix, bool members,
                    std::string* out) {
  auto line = [out, prefix](std::string_view field, const auto& value) {
    fmt::format_to(std::back_inserter(*out), "{}{}:{}\r\n", prefix, field, value);
  };
  line("node_id", info.id);
  line("state", info.state);
  line("leader_id", info.leader_id);
  line("leader_addr", info.leader_client_addr);
  line("term", info.term);
  line("commit_index", info.commit_index);
  line("last_applied", info.last_applied);
  line("last_index", info.last_index);
  line("snapshots", info.snapshots);
  if (!members) {
    line("members", info.members.size());
    return;
  }
  for (const raft::MemberInfo& m : info.members) {
    line("member", fmt::format("{} {} {} {}", m.id, m.role,
                               m.client_addr.empty() ? "-" : m.client_addr, m.raft_addr));
  }
}

void Server::Impl::StartClusterCommand(ReadJob&& job) {
  const proto::Shape shape = job.call.shape;
  // Answers on the loop thread, whichever thread `reply` is called from.
  auto reply = [this, id = job.conn_id, gen = job.conn_gen, seq = job.seq](std::string bytes) {
    loop_->Post([this, id, gen, seq, bytes = std::move(bytes)]() mutable {
      OnReadDone(id, gen, seq, std::move(bytes));
    });
  };
  auto done = [reply, shape](Status s) {
    std::string out;
    if (s.ok()) {
      proto::EncodeSetReply(shape, &out);
    } else {
      out = StatusReply(shape, s);
    }
    reply(std::move(out));
  };
  // CLUSTER STATUS | ADD id=client/raft | REMOVE id | FAILOVER [id] (kvs's own; not Redis
  // Cluster's).
  const std::span<const std::string> args = std::span(job.call.argv).subspan(1);
  auto error = [&](std::string text) {
    std::string out;
    proto::ReplyWriter(shape, job.call.resp, &out).Error(text);
    reply(std::move(out));
  };
  if (IsWord(args[0], "STATUS")) {
    if (args.size() != 1) return error(proto::WrongArityError("cluster|status"));
  } else if (IsWord(args[0], "ADD") || IsWord(args[0], "REMOVE")) {
    if (args.size() != 2) {
      return error(
          proto::WrongArityError(IsWord(args[0], "ADD") ? "cluster|add" : "cluster|remove"));
    }
  } else if (IsWord(args[0], "FAILOVER")) {
    if (args.size() > 2) return error(proto::WrongArityError("cluster|failover"));
  } else {
    std::string shown;
    for (char ch : std::string_view(args[0]).substr(0, 128)) {
      shown.push_back(ch >= 0x20 && ch < 0x7f && ch != '\'' ? ch : '?');
    }
    return error(fmt::format(
        "ERR unknown subcommand '{}'. Try CLUSTER STATUS, ADD, REMOVE or FAILOVER.", shown));
  }
  if (cluster_ == nullptr) {
    return done(
        Status::NotSupported("not a cluster node (start kvs-server with --node-id and --peers)"));
  }
  if (IsWord(args[0], "STATUS")) {
    cluster_->Info([reply, shape](raft::NodeInfo info) {
      std::string text;
      AppendNodeInfo(info, "", /*members=*/true, &text);
      std::string out;
      proto::EncodeInfoReply(shape, text, &out);
      reply(std::move(out));
    });
  } else if (IsWord(args[0], "ADD")) {
    Result<raft::Peer> peer = raft::ParsePeer(args[1]);
    if (!peer.ok()) return done(peer.status());
    cluster_->AddNode(*peer, done);
  } else if (IsWord(args[0], "FAILOVER")) {
    uint64_t id = 0;  // the most caught-up follower
    if (args.size() == 2) {
      Result<uint64_t> parsed = ParseNodeId(args[1]);
      if (!parsed.ok()) return done(parsed.status());
      id = *parsed;
    }
    cluster_->TransferLeadership(id, done);
  } else {  // REMOVE, checked above
    Result<uint64_t> id = ParseNodeId(args[1]);
    if (!id.ok()) return done(id.status());
    cluster_->RemoveNode(*id, done);
  }
}

}  // namespace kvs
