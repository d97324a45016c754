#include "server/server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "proto/reply.h"
#include "server/server_impl.h"
#include "store/db_key.h"

namespace kvs {

namespace {

constexpr auto kTick = std::chrono::seconds(1);
constexpr size_t kMaxRejectedWaiting = 1024;  // over-limit clients waiting for their error
constexpr std::string_view kMaxClientsMessage = "max number of clients reached";

}  // namespace

// ---- Server ----------------------------------------------------------------------------

Server::Server(const ServerConfig& config, Engine* engine, ThreadPool* pool)
    : config_(config), engine_(engine), pool_(pool) {
  // A connection must be able to hold one maximal request and its reply.
  config_.max_connection_buffer_bytes =
      std::max(config_.max_connection_buffer_bytes, 2 * config_.limits.max_request_bytes());
}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Server::Listen() {
  const std::string where = config_.addr.ToString();
  int fd = ::socket(config_.addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(fmt::format("socket for {}", where), errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, config_.addr.sa(), config_.addr.len) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(fmt::format("cannot bind {}", where), err);
  }
  if (::listen(fd, 4096) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(fmt::format("cannot listen on {}", where), err);
  }
  listen_fd_ = fd;
  return Status::Ok();
}

uint16_t Server::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

Status Server::Run() {
  Result<std::unique_ptr<uring::Loop>> loop = uring::Loop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  Impl impl(config_, engine_, pool_, loop_.get(), &listen_fd_);
  bool stop_now;
  {
    MutexLock lock(&mu_);
    impl_ = &impl;
    stop_now = stop_requested_;
  }
  impl.Start();
  if (stop_now) impl.BeginShutdown();
  Status status = loop_->Run();
  {
    MutexLock lock(&mu_);
    impl_ = nullptr;
  }
  return status;
}

void Server::Stop() {
  MutexLock lock(&mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  if (impl_ != nullptr) {
    Impl* impl = impl_;
    impl_->loop()->Post([impl] { impl->BeginShutdown(); });
  }
}

// ---- Impl: set-up ----------------------------------------------------------------------

Server::Impl::Impl(const ServerConfig& config, Engine* engine, ThreadPool* pool, uring::Loop* loop,
                   int* listen_fd)
    : config_(config),
      engine_(engine),
      log_writer_(engine->log_writer()),
      log_write_policy_(config.log_write),
      pool_(pool),
      cluster_(config.cluster),
      loop_(loop),
      listen_fd_(listen_fd),
      clock_(config.clock != nullptr ? config.clock : ExpiryClock::System()),
      keyspace_options_{config.databases, config.limits.max_key_bytes,
                        config.limits.max_value_bytes} {
  pending_.id = next_batch_id_++;
}

Server::Impl::~Impl() {
  {
    // A LogWriter still holding our `ready` callback must not post into a dead server.
    MutexLock lock(&ready_token_->mu);
    ready_token_->impl = nullptr;
  }
  for (auto& c : conns_) {
    if (c) ::close(c->fd);
  }
}

void Server::Impl::Start() {
  loop_->SetBeforeWait([this] { BeforeWait(); });
  accept_op_ = loop_->Accept(*listen_fd_, [this](int fd) { OnAccept(fd); });
  accepting_ = true;
  loop_->After(kTick, [this] { OnTick(); });
  ScheduleExpireCycle(false);
}

// ---- Impl: accepting and receiving -----------------------------------------------------

void Server::Impl::OnAccept(int fd) {
  if (fd < 0) {
    spdlog::warn("accept failed: {}", Status::FromErrno("accept", -fd).message());
    return;
  }
  if (shutting_down_ || (clients_ >= config_.max_clients && rejected_ >= kMaxRejectedWaiting)) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
    gens_.push_back(0);
  }
  uint32_t gen = ++gens_[id];
  conns_[id] = std::make_unique<Connection>(id, gen, fd, config_.limits);
  Connection& c = *conns_[id];
  c.last_active = c.created = Clock::now();
  c.client_id = next_client_id_++;
  c.session.authenticated = config_.requirepass.empty();
  ++connections_received_;
  if (clients_ >= config_.max_clients) {
    // Over the limit: the client gets one error, in its own protocol once its first bytes
    // tell which, and is closed (OnRejectedData, or the next tick).
    c.rejected = true;
    ++rejected_;
    ++rejected_connections_;
  } else {
    ++clients_;
  }
  c.recv_op = loop_->Recv(
      fd, [this, id, gen](int res, std::string_view data) { OnRecv(id, gen, res, data); });
  c.recv_armed = true;
}

Connection* Server::Impl::Find(uint32_t id, uint32_t gen) {
  if (id >= conns_.size() || !conns_[id] || conns_[id]->gen != gen) return nullptr;
  return conns_[id].get();
}

void Server::Impl::OnRecv(uint32_t id, uint32_t gen, int res, std::string_view data) {
  Connection* c = Find(id, gen);
  if (c == nullptr) return;
  if (res <= 0) {
    c->recv_armed = false;
    if (res < 0) {
      if (res != -ECONNRESET && res != -EPIPE) {
        spdlog::debug("connection {}: receive failed: {}", id,
                      Status::FromErrno("recv", -res).message());
      }
      Abort(*c, "");
      return;
    }
    c->peer_eof = true;  // answer what came (a final line may end at EOF), then close
    Pump(*c);
    MaybeClose(*c);
    return;
  }
  c->last_active = Clock::now();
  if (c->rejected) {
    OnRejectedData(*c, data);
    return;
  }
  if (c->closing || c->no_more_input) return;  // nothing more is read from it
  c->in.append(data);
  if (OverBufferLimit(*c)) return;
  Pump(*c);
}

void Server::Impl::OnRejectedData(Connection& c, std::string_view data) {
  if (c.closing) return;
  proto::Shape shape = proto::DetectProtocol(data.front()) == proto::Protocol::kResp
                           ? proto::Shape::kResp
                           : proto::Shape::kJson;
  std::string reply;
  proto::EncodeError(shape, kMaxClientsMessage, &reply);
  AddReply(c, std::move(reply));
  c.closing = true;
  MaybeClose(c);
}

// ---- Impl: decoding and dispatch -------------------------------------------------------

void Server::Impl::Pump(Connection& c) {
  while (!c.closing && !c.broken && !c.executing) {
    if (c.parked) {
      if (!CanStart(c, Classify(*c.parked))) return;
      Call call = std::move(*c.parked);
      c.parked.reset();
      Dispatch(c, std::move(call));
      continue;
    }
    std::string_view input(c.in.data() + c.in_start, c.in.size() - c.in_start);
    if (input.empty() && !c.peer_eof) break;
    proto::Decoded d = c.decoder.Next(input, c.peer_eof);
    c.in_start += d.consumed;
    if (d.status == proto::DecodeStatus::kNeedMore) break;
    ++commands_processed_;
    if (d.status == proto::DecodeStatus::kError) {
      std::string reply;
      proto::EncodeError(d.error.shape, d.error.message, &reply);
      AddReply(c, std::move(reply));
      if (d.error.close) c.closing = true;
      continue;
    }
    if (d.request.command == proto::Command::kRedis) {
      if (!HandleCommand(c, d.request)) break;
      continue;
    }
    if (!c.session.authenticated && d.request.command != proto::Command::kQuit) {
      std::string reply;
      proto::EncodeError(d.request.shape, "NOAUTH Authentication required.", &reply);
      AddReply(c, std::move(reply));
      continue;
    }
    CallClass cls = Classify(d.request.command);
    if (cls == CallClass::kLocal) {
      AnswerLocal(c, d.request);
      continue;
    }
    Call call = Call::From(d.request);
    call.key = EncodeDbKey(c.session.db, call.key);  // JSON's get/set/rm: the session's db
    if (!CanStart(c, cls)) {
      c.parked = std::move(call);
      if (cls == CallClass::kWrite && c.reads_in_flight == 0) {
        batch_waiters_.emplace_back(c.id, c.gen);  // waits for room in the batch
      }
      break;
    }
    Dispatch(c, std::move(call));
  }
  // Drop the decoded prefix; keep the buffer's capacity for the next bytes.
  if (c.in_start == c.in.size()) {
    c.in.clear();
    c.in_start = 0;
  } else if (c.in_start > c.in.size() / 2) {
    c.in.erase(0, c.in_start);
    c.in_start = 0;
  }
}

bool Server::Impl::CanStart(const Connection& c, CallClass cls) const {
  switch (cls) {
    case CallClass::kLocal:
      return true;
    case CallClass::kRead:
      return c.writes_in_flight == 0;
    case CallClass::kWrite:
      // Bound the batch being collected while the previous one is on disk.
      return c.reads_in_flight == 0 &&
             (pending_.empty() || pending_.bytes < config_.max_connection_buffer_bytes);
  }
  return true;
}

void Server::Impl::Dispatch(Connection& c, Call&& call) {
  if (Classify(call) == CallClass::kWrite) {
    StartWrite(c, std::move(call));
  } else {
    StartRead(c, std::move(call));
  }
}

void Server::Impl::AnswerLocal(Connection& c, const proto::Request& request) {
  std::string reply;
  if (!proto::EncodeLocalReply(request, &reply)) {
    proto::EncodeError(request.shape, "command not supported here", &reply);
  }
  AddReply(c, std::move(reply));
  if (request.command == proto::Command::kQuit) c.closing = true;
}

// ---- Impl: replies ---------------------------------------------------------------------

uint64_t Server::Impl::NewSlot(Connection& c) {
  c.replies.emplace_back();
  return c.next_seq++;
}

void Server::Impl::FillSlot(Connection& c, uint64_t seq, std::string&& bytes) {
  auto& slot = c.replies[seq - c.first_seq];
  slot.ready = true;
  slot.bytes = std::move(bytes);
  MarkDirty(c);
}

void Server::Impl::AddReply(Connection& c, std::string&& bytes) {
  if (c.replies.empty()) {
    c.out += bytes;
  } else {
    // Behind a reply still being computed: keep the order.
    NewSlot(c);
    c.replies.back().ready = true;
    c.replies.back().bytes = std::move(bytes);
  }
  MarkDirty(c);
}

void Server::Impl::MarkDirty(Connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.emplace_back(c.id, c.gen);
}

void Server::Impl::FlushDirty() {
  // Swap out first: a flush never adds to the list, but be safe against re-entry.
  std::vector<std::pair<uint32_t, uint32_t>> dirty;
  dirty.swap(dirty_);
  for (auto [id, gen] : dirty) {
    Connection* c = Find(id, gen);
    if (c == nullptr) continue;
    c->dirty = false;
    while (!c->replies.empty() && c->replies.front().ready) {
      c->out += c->replies.front().bytes;
      c->replies.pop_front();
      ++c->first_seq;
    }
    if (OverBufferLimit(*c)) continue;
    StartSend(*c);
    MaybeClose(*c);
  }
  if (dirty_.empty()) {  // keep the vector's capacity for the next iteration
    dirty.clear();
    dirty_.swap(dirty);
  }
}

void Server::Impl::StartSend(Connection& c) {
  if (c.sending_bytes > 0 || c.out.empty() || c.broken) return;
  c.sending_bytes = c.out.size();
  std::string data;
  data.swap(c.out);
  uint32_t id = c.id, gen = c.gen;
  loop_->Send(c.fd, std::move(data), [this, id, gen](int res) { OnSent(id, gen, res); });
}

void Server::Impl::OnSent(uint32_t id, uint32_t gen, int res) {
  Connection* c = Find(id, gen);
  if (c == nullptr) return;
  c->sending_bytes = 0;
  if (res < 0) {
    Abort(*c, "");
    return;
  }
  if (!c->out.empty()) MarkDirty(*c);  // more replies piled up meanwhile
  MaybeClose(*c);
}

// ---- Impl: closing ---------------------------------------------------------------------

bool Server::Impl::OverBufferLimit(Connection& c) {
  if (c.buffered_bytes() <= config_.max_connection_buffer_bytes) return false;
  // A client that pipelines without reading its replies: bounded memory wins.
  spdlog::warn(
      "connection {}: closing: {} bytes buffered (limit {}): the client does not "
      "read its replies",
      c.id, c.buffered_bytes(), config_.max_connection_buffer_bytes);
  Abort(c, "");
  return true;
}

void Server::Impl::MaybeClose(Connection& c) {
  if (c.close_scheduled) return;
  bool done_reading = c.peer_eof || c.no_more_input || c.closing;
  if (c.broken || (done_reading && c.idle())) {
    c.close_scheduled = true;
    closing_.emplace_back(c.id, c.gen);
  }
}

void Server::Impl::Abort(Connection& c, std::string_view why) {
  if (!why.empty()) spdlog::info("connection {}: closing: {}", c.id, why);
  c.broken = true;
  MaybeClose(c);
}

void Server::Impl::CloseScheduled() {
  std::vector<std::pair<uint32_t, uint32_t>> closing;
  closing.swap(closing_);
  for (auto [id, gen] : closing) {
    Connection* c = Find(id, gen);
    if (c == nullptr) continue;
    if (c->recv_armed) loop_->Cancel(c->recv_op);
    // The loop closes the fd only once its send in flight is over (pulled back, never
    // resumed: an accept may reuse the number at once after the close); shutdown() tells
    // a client that does not read right away.
    if (c->sending_bytes > 0) ::shutdown(c->fd, SHUT_RDWR);
    loop_->Close(c->fd);
    if (c->rejected) {
      --rejected_;
    } else {
      --clients_;
    }
    // In-flight reads and writes of this connection find it gone (generation) and drop
    // their replies; the writes themselves still complete.
    Unwatch(*c);
    conns_[id].reset();
    free_ids_.push_back(id);
  }
}

void Server::Impl::OnTick() {
  if (config_.on_tick) config_.on_tick();
  const auto now = Clock::now();
  const auto idle_limit = std::chrono::seconds(config_.idle_timeout_s);
  bool past_deadline = shutting_down_ && now >= shutdown_deadline_;
  for (auto& cp : conns_) {
    if (!cp) continue;
    Connection& c = *cp;
    if (past_deadline) {
      Abort(c, "shutdown grace period over");
    } else if (c.rejected) {
      if (now - c.last_active >= kTick) Abort(c, "");  // never said anything
    } else if (config_.idle_timeout_s > 0 && c.idle() && now - c.last_active >= idle_limit) {
      Abort(c, fmt::format("idle for {} s", config_.idle_timeout_s));
    }
  }
  if (!stopped_) loop_->After(kTick, [this] { OnTick(); });
}

// ---- Impl: the iteration hook and shutdown ---------------------------------------------

void Server::Impl::BeforeWait() {
  MaybeStartBatch();  // may wake parked connections, whose reads then go out below
  DispatchReads();
  FlushDirty();
  CloseScheduled();
  MaybeFinishShutdown();
}

void Server::Impl::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_deadline_ = Clock::now() + std::chrono::seconds(config_.shutdown_grace_s);
  spdlog::info("shutting down: {} connections to finish", clients_ + rejected_);
  if (accepting_) {
    loop_->Cancel(accept_op_);
    accepting_ = false;
  }
  if (*listen_fd_ >= 0) {
    ::close(*listen_fd_);
    *listen_fd_ = -1;
  }
  for (auto& cp : conns_) {
    if (!cp) continue;
    Connection& c = *cp;
    if (c.recv_armed) {
      loop_->Cancel(c.recv_op);
      c.recv_armed = false;
    }
    c.no_more_input = true;  // answer every complete request received, then close
    Pump(c);
    MaybeClose(c);
  }
}

void Server::Impl::MaybeFinishShutdown() {
  if (!shutting_down_ || stopped_) return;
  if (clients_ + rejected_ > 0 || !in_flight_.empty() || !pending_.empty() ||
      reads_in_flight_ > 0 || !fetches_.empty() || write_fence_in_flight_ || expire_cycle_running_ ||
      !write_fence_waiting_.empty()) {
    return;
  }
  stopped_ = true;
  loop_->Stop();
}

}  // namespace kvs
