// Reads (DESIGN.md "Read path"): a GET, EXISTS or DBSIZE runs on the thread pool — an index
// lookup and a pread, encoded into its reply there — and the reply comes back to the loop
// through Loop::Post, into the connection's slot for it. INFO is answered on the loop.
//
// When an iteration brings only a few reads (ServerConfig::loop_reads), the loop first
// tries them itself from memory and the page cache (Engine::GetCached: a pread with
// RWF_NOWAIT), and hands the pool only those that would wait for the disk: for a few cached
// lookups, the hand-off to a worker and the wake-up back cost more than the lookups
// (docs/PERFORMANCE.md, "Inline fdatasync and reads on the loop"). Many reads still spread
// over the pool, where they run in parallel.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <span>

#include "proto/reply.h"
#include "server/server_impl.h"
#include "store/db_key.h"

namespace kvs {

std::string StatusReply(proto::Shape shape, const Status& status) {
  std::string out;
  if (status.IsNotLeader()) {
    proto::EncodeNotLeader(shape, status.message(), &out);
  } else {
    proto::EncodeError(shape, status.ToString(), &out);
  }
  return out;
}

namespace {

// The engine's committed state: what reads see.
class EngineReader final : public server_internal::KeyReader {
 public:
  EngineReader(Engine* engine, bool cached_only) : engine_(engine), cached_only_(cached_only) {}

  Result<std::optional<StoredValue>> Get(std::string_view key) override {
    return server_internal::ValueOrAbsent(engine_->Read(key, cached_only_));
  }
  Result<bool> Exists(std::string_view key) override {
    return engine_->Contains(key, cached_only_);
  }
  Status ForEachKey(std::string_view prefix,
                    const std::function<Status(std::string_view key)>& fn) override {
    return engine_->ForEachKey(
        [&](std::string_view key) { return key.starts_with(prefix) ? fn(key) : Status::Ok(); });
  }
  std::optional<uint64_t> KeysInDb(uint32_t db) override {
    return server_internal::EngineKeysInDb(*engine_, db);
  }

 private:
  Engine* const engine_;
  const bool cached_only_;
};

// A command by name (Exec::kRead, DBSIZE, INFO) against the engine's committed state.
std::optional<std::string> ExecuteNamedRead(Engine* engine, const ExpiryClock& clock,
                                            const Call& call, bool cached_only,
                                            const server_internal::KeyspaceOptions& options,
                                            const std::function<std::string()>& keyspace) {
  std::string out;
  const proto::CommandId id = call.spec->id;
  if (cached_only && (id == proto::CommandId::kInfo || id == proto::CommandId::kKeys ||
                      id == proto::CommandId::kScan || id == proto::CommandId::kRandomKey ||
                      (id == proto::CommandId::kDbSize && !engine->KeysPerDb()))) {
    return std::nullopt;  // they walk every key: always on the pool
  }
  if (id == proto::CommandId::kInfo) {
    proto::ReplyWriter w(call.shape, call.resp, &out);
    const bool with_keyspace =
        InfoWants(std::span<const std::string>(call.argv).subspan(1), "keyspace");
    w.Verbatim(with_keyspace ? call.text + keyspace() : call.text);
    return out;
  }
  if (id == proto::CommandId::kGet) {  // the hot path: one lookup, one reply
    Result<std::string> value = cached_only ? engine->GetCached(EncodeDbKey(call.db, call.argv[1]))
                                            : engine->Get(EncodeDbKey(call.db, call.argv[1]));
    if (value.status().IsWouldBlock() && cached_only) return std::nullopt;
    proto::ReplyWriter w(call.shape, call.resp, &out);
    if (value.ok()) {
      w.Bulk(*value);
    } else if (value.status().IsNotFound()) {
      w.Null();
    } else {
      w.Error("ERR " + value.status().ToString());
    }
    return out;
  }
  EngineReader reader(engine, cached_only);
  Txn txn(&reader, clock.NowMs());
  Status s;
  {
    proto::ReplyWriter w(call.shape, call.resp, &out);
    s = server_internal::RunDataCommand(*call.spec, call.argv, call.db, options, &txn, &w);
  }
  if (s.ok()) return out;
  if (s.IsWouldBlock()) {
    if (cached_only) return std::nullopt;
    s = Status::IOError("a read said WouldBlock off the loop");
  }
  out.clear();
  proto::ReplyWriter(call.shape, call.resp, &out).Error("ERR " + s.ToString());
  return out;
}

// Runs on a pool thread, or on the loop when cached_only: touches only the engine. Returns
// the reply, or nothing when cached_only and a lookup would wait for the disk.
std::optional<std::string> ExecuteRead(Engine* engine, const ExpiryClock& clock, const Call& call,
                                       bool cached_only,
                                       const server_internal::KeyspaceOptions& options,
                                       const std::function<std::string()>& keyspace) {
  if (call.command == proto::Command::kRedis) {
    return ExecuteNamedRead(engine, clock, call, cached_only, options, keyspace);
  }
  auto get = [engine, cached_only](std::string_view key) {
    return cached_only ? engine->GetCached(key) : engine->Get(key);
  };
  std::string out;
  switch (call.command) {
    case proto::Command::kGet: {
      Result<std::string> value = get(call.key);
      if (value.status().IsWouldBlock()) return std::nullopt;
      if (value.ok()) {
        proto::EncodeGetReply(call.shape, *value, &out);
      } else if (value.status().IsNotFound()) {
        proto::EncodeGetReply(call.shape, std::nullopt, &out);
      } else {
        proto::EncodeError(call.shape, value.status().ToString(), &out);
      }
      break;
    }
    case proto::Command::kExists: {
      int64_t found = 0;
      const std::span<const std::string> keys =
          call.args.empty() ? std::span(&call.key, 1) : std::span(call.args);
      for (const std::string& key : keys) {
        Result<std::string> value = get(key);
        if (value.status().IsWouldBlock()) return std::nullopt;
        if (value.ok()) {
          ++found;
        } else if (!value.status().IsNotFound()) {
          proto::EncodeError(call.shape, value.status().ToString(), &out);
          return out;
        }
      }
      proto::EncodeIntegerReply(call.shape, found, &out);
      break;
    }
    case proto::Command::kDbSize: {
      // Every database's keys: the engine's counts (expired keys left out), else its total.
      uint64_t keys = 0;
      if (std::optional<std::map<uint32_t, DbKeyCount>> counts = engine->KeysPerDb()) {
        for (const auto& [db, count] : *counts) keys += count.keys;
      } else {
        keys = engine->Stats().keys;
      }
      proto::EncodeIntegerReply(call.shape, static_cast<int64_t>(keys), &out);
      break;
    }
    default:
      proto::EncodeError(call.shape, "not a read", &out);
      break;
  }
  return out;
}

}  // namespace

void Server::Impl::StartRead(Connection& c, Call&& call) {
  ++c.reads_in_flight;
  ++reads_in_flight_;
  call.stale = call.stale || c.session.stale_reads;
  reads_.push_back(ReadJob{c.id, c.gen, NewSlot(c), std::move(call)});
}

void Server::Impl::DispatchReads() {
  if (reads_.empty()) return;
  std::vector<ReadJob> all;
  all.swap(reads_);
  std::vector<ReadJob> now;
  for (ReadJob& job : all) {
    if (job.call.command == proto::Command::kRedis &&
        job.call.spec->id == proto::CommandId::kCluster) {
      StartClusterCommand(std::move(job));
    } else if (cluster_ == nullptr || job.call.stale) {
      now.push_back(std::move(job));
    } else {
      fence_waiting_.push_back(std::move(job));  // cluster mode: after a read fence
    }
  }
  if (now.size() <= config_.loop_reads) {
    std::vector<ReadJob> uncached;
    for (ReadJob& job : now) {
      if (std::optional<std::string> reply =
              ExecuteRead(engine_, *clock_, job.call, true, keyspace_options_, {})) {
        ++loop_reads_;
        OnReadDone(job.conn_id, job.conn_gen, job.seq, std::move(*reply));
      } else {
        uncached.push_back(std::move(job));
      }
    }
    now.swap(uncached);
  }
  if (!now.empty()) RunReads(std::move(now));
  MaybeStartFence();
}

void Server::Impl::MaybeStartFence() {
  // One read fence in flight at a time, like the group commit: reads arriving meanwhile
  // wait for the next one, which starts after it (so it still covers every write
  // acknowledged before they arrived) and serves them all with one replicated entry.
  if (fence_in_flight_ || fence_waiting_.empty()) return;
  fence_in_flight_ = true;
  auto jobs = std::make_shared<std::vector<ReadJob>>(std::move(fence_waiting_));
  fence_waiting_.clear();
  cluster_->Barrier([this, jobs](Status fence) {
    loop_->Post([this, jobs, fence = std::move(fence)] {
      fence_in_flight_ = false;
      if (fence.ok()) {
        RunReads(std::move(*jobs));
      } else {
        FailReads(*jobs, fence);
      }
      MaybeStartFence();
    });
  });
}

void Server::Impl::RunReads(std::vector<ReadJob> all) {
  // Reads of keys (INFO and CLUSTER are not).
  pool_reads_ += static_cast<uint64_t>(std::count_if(all.begin(), all.end(), [](const ReadJob& j) {
    return j.call.command != proto::Command::kRedis || j.call.spec->exec == proto::Exec::kRead;
  }));
  // Enough tasks to keep every worker busy, each with enough reads to be worth a hand-off.
  constexpr size_t kMinReadsPerTask = 8;
  const size_t tasks = std::clamp<size_t>(all.size() / kMinReadsPerTask, 1, pool_->threads());
  const size_t per_task = (all.size() + tasks - 1) / tasks;
  for (size_t first = 0; first < all.size(); first += per_task) {
    const size_t last = std::min(all.size(), first + per_task);
    std::vector<ReadJob> jobs(std::make_move_iterator(all.begin() + first),
                              std::make_move_iterator(all.begin() + last));
    // The task runs the reads and hands every reply back in one Post.
    auto run = [this, jobs = std::move(jobs)]() mutable {
      std::vector<std::string> replies;
      replies.reserve(jobs.size());
      for (ReadJob& job : jobs) {
        replies.push_back(*ExecuteRead(engine_, *clock_, job.call, false, keyspace_options_,
                                       [this] { return KeyspaceSection(); }));
      }
      loop_->Post([this, jobs = std::move(jobs), replies = std::move(replies)]() mutable {
        for (size_t i = 0; i < jobs.size(); ++i) {
          OnReadDone(jobs[i].conn_id, jobs[i].conn_gen, jobs[i].seq, std::move(replies[i]));
        }
      });
    };
    // A refused Spawn (the pool shut down) destroys the task: answer from `all`, whose
    // moved-from jobs still hold their ids, sequence numbers and shapes.
    if (Status spawned = pool_->Spawn(std::move(run)); !spawned.ok()) {
      std::vector<ReadJob> failed(std::make_move_iterator(all.begin() + first),
                                  std::make_move_iterator(all.begin() + last));
      FailReads(failed, spawned);
    }
  }
}

void Server::Impl::FailReads(std::vector<ReadJob>& jobs, const Status& status) {
  for (ReadJob& job : jobs) {
    OnReadDone(job.conn_id, job.conn_gen, job.seq, StatusReply(job.call.shape, status));
  }
}

void Server::Impl::OnReadDone(uint32_t id, uint32_t gen, uint64_t seq, std::string&& reply) {
  --reads_in_flight_;
  Connection* c = Find(id, gen);
  if (c == nullptr) return;  // closed meanwhile
  FillSlot(*c, seq, std::move(reply));
  if (--c->reads_in_flight == 0 && c->parked) Pump(*c);
}

std::string Server::Impl::InfoText(std::span<const std::string> sections) const {
  // Redis's section names and the fields tools read (redis_version, role, loading...),
  // then kvs's own fields in the sections they belong to; the keyspace section is added
  // by the caller (KeyspaceSection, off the loop). No names, "default", "all" and
  // "everything": every section.
  auto wanted = [sections](std::string_view name) { return InfoWants(sections, name); };
  const EngineStats s = engine_->Stats();
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
  const double mean_batch =
      s.batches == 0 ? 0.0 : static_cast<double>(s.batched_ops) / static_cast<double>(s.batches);
  std::string out;
  auto section = [&out](std::string_view title) {
    if (!out.empty()) out += "\r\n";
    fmt::format_to(std::back_inserter(out), "# {}\r\n", title);
  };
  auto line = [&out](std::string_view field, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", field, value);
  };
  if (wanted("server")) {
    section("Server");
    line("redis_version", "7.0.15");
    line("redis_mode", "standalone");
    line("os", "Linux");
    line("arch_bits", 64);
    line("process_id", ::getpid());
    line("tcp_port", config_.addr.port());
    line("uptime_in_seconds", uptime);
    line("uptime_in_days", uptime / 86400);
    line("kvs_version", config_.version);
    line("engine", engine_->name());
    // In cluster mode --fsync does not apply: a write is acknowledged once a majority has
    // it fsynced in its Raft log, and the engine, the state machine, runs without fsync.
    line("fsync",
         cluster_ != nullptr ? std::string_view("raft-log") : FsyncPolicyName(config_.fsync));
  }
  if (wanted("clients")) {
    section("Clients");
    line("connected_clients", clients_);
    line("maxclients", config_.max_clients);
    line("blocked_clients", 0);
    line("rejected_connections", rejected_connections_);
  }
  if (wanted("persistence")) {
    section("Persistence");
    line("loading", 0);
    line("aof_enabled", 1);
    line("fsyncs", s.fsyncs);
    line("write_batches", s.batches);
    line("batched_ops", s.batched_ops);
    line("mean_batch_ops", fmt::format("{:.2f}", mean_batch));
    line("inline_write_batches", inline_batches_);
    line("read_only", s.read_only ? 1 : 0);
    if (s.read_only) line("read_only_reason", s.failure);
  }
  if (wanted("stats")) {
    section("Stats");
    line("total_connections_received", connections_received_);
    line("total_commands_processed", commands_processed_);
    line("rejected_connections", rejected_connections_);
    line("expired_keys", expired_keys_);
    line("evicted_keys", 0);
    line("reads_on_loop", loop_reads_);
    line("reads_on_pool", pool_reads_);
  }
  if (wanted("replication")) {
    section("Replication");
    line("role", "master");
    line("connected_slaves", 0);
  }
  if (wanted("storage")) {
    section("Storage");
    line("index_bytes", s.index_bytes);
    line("live_bytes", s.live_bytes);
    line("dead_bytes", s.dead_bytes);
    line("disk_bytes", s.disk_bytes);
    line("segments", s.segments);
    line("compactions", s.compactions);
  }
  if (wanted("cluster")) {
    section("Cluster");
    // Redis Cluster's flag: kvs's cluster is one replicated keyspace, not sharded slots.
    line("cluster_enabled", 0);
    if (cluster_ != nullptr) {
      AppendNodeInfo(cluster_->CachedInfo(), "cluster_", /*members=*/false, &out);
    }
  }
  if (wanted("keyspace") && !out.empty()) out += "\r\n";  // before the pool's keyspace part
  return out;
}

// INFO's choice of sections: none named, "default", "all" and "everything" mean all.
bool InfoWants(std::span<const std::string> sections, std::string_view name) {
  if (sections.empty()) return true;
  for (const std::string& s : sections) {
    if (proto::EqualsIgnoreCase(s, name) || proto::EqualsIgnoreCase(s, "default") ||
        proto::EqualsIgnoreCase(s, "all") || proto::EqualsIgnoreCase(s, "everything")) {
      return true;
    }
  }
  return false;
}

std::string Server::Impl::KeyspaceSection() const {
  // The engine's counts, or one pass over the keys, counted per database (off the loop: a
  // pool task, or EXEC).
  std::map<uint32_t, DbKeyCount> per_db;
  Status s;
  if (std::optional<std::map<uint32_t, DbKeyCount>> counts = engine_->KeysPerDb()) {
    per_db = std::move(*counts);
  } else {
    s = engine_->ForEach([&per_db](std::string_view key, std::string_view, int64_t expire_at) {
      uint32_t db;
      std::string_view user_key;
      if (DecodeDbKey(key, &db, &user_key)) {
        ++per_db[db].keys;
        if (expire_at != kNoExpiry) ++per_db[db].expires;
      }
      return Status::Ok();
    });
  }
  std::string out = "# Keyspace\r\n";
  if (!s.ok()) return out;
  for (const auto& [db, count] : per_db) {
    fmt::format_to(std::back_inserter(out), "db{}:keys={},expires={},avg_ttl=0\r\n", db,
                   count.keys, count.expires);
  }
  return out;
}

}  // namespace kvs
