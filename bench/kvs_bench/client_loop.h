// ClientLoop: one kvs-bench thread. An epoll loop (edge-triggered, non-blocking sockets)
// drives `connections` client connections; each keeps `pipeline` requests in flight,
// frames the replies as they arrive (ReplyParser), records send→reply latency, and sends
// the next request in the same pass, so one recv and one send serve a whole batch.
//
// Threads: Run() on the loop's own thread. completed() and CopySnapshot() may be called
// from any thread while it runs (the live progress line); stats() only after Run returns.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "histogram.h"
#include "proto/request.h"
#include "workload.h"

namespace kvs::bench {

// Monotonic nanoseconds (CLOCK_MONOTONIC).
uint64_t NowNanos();

struct LoopOptions {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  proto::Protocol protocol = proto::Protocol::kResp;
  int connections = 1;
  int pipeline = 1;
  // Stop sending once `max_requests` were sent (0: no limit) or at `deadline_ns`
  // (NowNanos() time; 0: none), then wait for what is in flight.
  uint64_t max_requests = 0;
  uint64_t deadline_ns = 0;
  // Prefill instead: one SET for each key of [prefill_begin, prefill_end), in order.
  bool prefill = false;
  uint64_t prefill_begin = 0;
  uint64_t prefill_end = 0;
  // The workload (ignored by prefill but for the templates).
  uint32_t set_weight = 1;
  uint32_t get_weight = 1;
  std::optional<Op> only;  // every request is this op (weights ignored)
  // --op session: the SETs are SET EX (the GETs plain GETs).
  bool sets_with_ttl = false;
  // --op ratelimit: each INCR (only = kIncr) is followed, in the same batch, by an EXPIRE of
  // its counter; `pipeline` counts such pairs, so 2 x pipeline commands are in flight.
  bool expire_after_incr = false;
  uint64_t keyspace = 1;
  uint64_t seed = 0;
  int first_connection_id = 0;  // seeds each connection's stream: seed + id
  // Cancels the run from outside (SIGINT): stop sending, drain, return.
  const std::atomic<bool>* stop = nullptr;
};

struct LoopStats {
  uint64_t sets = 0;  // SET EX too
  uint64_t gets = 0;
  uint64_t get_hits = 0;
  uint64_t get_misses = 0;
  uint64_t incrs = 0;
  uint64_t expires = 0;  // --op ratelimit: one per INCR
  uint64_t mgets = 0;
  uint64_t msets = 0;
  uint64_t mget_hits = 0;    // keys an MGET found (a value in its array)
  uint64_t mget_misses = 0;  // keys it did not (nil)
  uint64_t keys = 0;         // keys read or written: 1 per SET/GET/INCR, N per MGET/MSET
  uint64_t error_replies = 0;
  uint64_t wrong_replies = 0;      // not an error, but not what the op answers (WrongReplyFor)
  uint64_t connection_errors = 0;  // connects that failed, connections lost or broken
  uint64_t lost_requests = 0;      // in flight on a connection that failed or stalled
  uint64_t sends = 0;              // send() calls that sent bytes: requests / sends = batching
  uint64_t recvs = 0;              // recv() calls that received bytes
  std::string first_error;         // the first error seen, for the report
  LatencyHistogram latency;        // nanoseconds, every reply (error replies too)
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;  // the last reply (or start_ns if none)

  // Replies: one per command (a rate limiter's INCR + EXPIRE pair is two).
  uint64_t completed() const { return sets + gets + incrs + expires + mgets + msets; }
  uint64_t errors() const {
    return error_replies + wrong_replies + connection_errors + lost_requests;
  }
  void Add(const LoopStats& other);
};

class ClientLoop {
 public:
  ClientLoop(const LoopOptions& options, const RequestTemplates* templates);
  ~ClientLoop();
  ClientLoop(const ClientLoop&) = delete;
  ClientLoop& operator=(const ClientLoop&) = delete;

  // Connects, runs the workload to its end, closes. Called once.
  void Run();

  // Replies received so far (any thread).
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  // A copy of the latency histogram as of at most ~100 ms ago (any thread).
  void CopySnapshot(LatencyHistogram* out) const;
  // REQUIRES: Run() returned.
  const LoopStats& stats() const { return stats_; }

 private:
  struct Connection;

  void Connect(int id);
  void OnEvent(Connection& c, uint32_t events);
  void OnConnected(Connection& c, uint64_t now);
  bool ReadAndDispatch(Connection& c);
  bool HandleReplies(Connection& c, uint64_t now);
  void Refill(Connection& c, uint64_t now);
  bool Flush(Connection& c);
  void Fail(Connection& c, std::string_view what, int err_no);
  void FailAllStalled(uint64_t now);
  bool MaySend(uint64_t now) const;
  void Publish();
  void NoteError(std::string_view message);

  const LoopOptions options_;
  const RequestTemplates* const templates_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;
  int open_ = 0;            // connections not failed yet
  int connecting_ = 0;      // of which not yet connected
  uint64_t in_flight_ = 0;  // requests sent and not answered, all connections
  uint64_t sent_ = 0;
  uint64_t next_prefill_key_ = 0;
  uint64_t last_activity_ns_ = 0;
  uint64_t next_publish_ns_ = 0;
  LoopStats stats_;

  std::atomic<uint64_t> completed_{0};
  mutable std::mutex snapshot_mu_;
  LatencyHistogram snapshot_;  // guarded by snapshot_mu_
};

}  // namespace kvs::bench
