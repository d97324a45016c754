#include "client_loop.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reply_parser.h"

namespace kvs::bench {

namespace {

constexpr uint64_t kMillis = 1'000'000;
// A connection that makes no progress for this long is given up, its requests lost.
constexpr uint64_t kStallNanos = 10'000 * kMillis;
constexpr uint64_t kPublishEveryNanos = 100 * kMillis;
constexpr int kTickMillis = 100;
constexpr int kMaxEvents = 256;
constexpr size_t kInitialReceiveBytes = 64 << 10;
constexpr size_t kMaxErrorMessage = 200;

}  // namespace

uint64_t NowNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void LoopStats::Add(const LoopStats& other) {
  sets += other.sets;
  gets += other.gets;
  get_hits += other.get_hits;
  get_misses += other.get_misses;
  incrs += other.incrs;
  expires += other.expires;
  mgets += other.mgets;
  msets += other.msets;
  mget_hits += other.mget_hits;
  mget_misses += other.mget_misses;
  keys += other.keys;
  error_replies += other.error_replies;
  wrong_replies += other.wrong_replies;
  connection_errors += other.connection_errors;
  lost_requests += other.lost_requests;
  sends += other.sends;
  recvs += other.recvs;
  if (first_error.empty()) first_error = other.first_error;
  latency.Add(other.latency);
  if (start_ns == 0 || (other.start_ns != 0 && other.start_ns < start_ns))
    start_ns = other.start_ns;
  end_ns = std::max(end_ns, other.end_ns);
}

// One request sent and not yet answered.
struct Pending {
  uint64_t sent_ns;
  Op op;
};

struct ClientLoop::Connection {
  Connection(int id_in, const LoopOptions& o)
      : id(id_in),
        chooser(o.seed + static_cast<uint64_t>(id_in), o.set_weight, o.get_weight, o.keyspace,
                o.only),
        parser(o.protocol),
        pending(static_cast<size_t>(o.pipeline) * (o.expire_after_incr ? 2 : 1)),
        in(std::make_unique<char[]>(kInitialReceiveBytes)),
        in_capacity(kInitialReceiveBytes) {}

  void Push(Pending p) {
    pending[(head + count) % pending.size()] = p;
    ++count;
  }
  Pending Pop() {
    Pending p = pending[head];
    head = (head + 1) % pending.size();
    --count;
    return p;
  }

  const int id;
  int fd = -1;
  bool connected = false;
  bool failed = false;
  KeyChooser chooser;
  ReplyParser parser;
  // In flight, oldest first: a ring of `pipeline` entries, 2 x `pipeline` for INCR +
  // EXPIRE pairs (replies come back in order).
  std::vector<Pending> pending;
  size_t head = 0;
  size_t count = 0;
  // Requests encoded and not yet (fully) sent.
  std::string out;
  size_t out_sent = 0;
  // Received bytes not yet framed into replies: in[in_begin, in_end).
  std::unique_ptr<char[]> in;
  size_t in_capacity;
  size_t in_begin = 0;
  size_t in_end = 0;
};

ClientLoop::ClientLoop(const LoopOptions& options, const RequestTemplates* templates)
    : options_(options), templates_(templates), next_prefill_key_(options.prefill_begin) {}

ClientLoop::~ClientLoop() {
  for (auto& c : connections_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ClientLoop::CopySnapshot(LatencyHistogram* out) const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  *out = snapshot_;
}

void ClientLoop::Publish() {
  {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    snapshot_ = stats_.latency;
  }
  completed_.store(stats_.completed(), std::memory_order_relaxed);
}

void ClientLoop::NoteError(std::string_view message) {
  if (!stats_.first_error.empty()) return;
  std::string& e = stats_.first_error;
  for (char ch : message.substr(0, kMaxErrorMessage)) {
    e.push_back(ch >= 0x20 && ch < 0x7f ? ch : '?');
  }
}

bool ClientLoop::MaySend(uint64_t now) const {
  if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) return false;
  if (options_.prefill) return next_prefill_key_ < options_.prefill_end;
  if (options_.max_requests != 0 && sent_ >= options_.max_requests) return false;
  if (options_.deadline_ns != 0 && now >= options_.deadline_ns) return false;
  return true;
}

void ClientLoop::Run() {
  stats_.start_ns = NowNanos();
  stats_.end_ns = stats_.start_ns;
  last_activity_ns_ = stats_.start_ns;
  next_publish_ns_ = stats_.start_ns + kPublishEveryNanos;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    NoteError(fmt::format("epoll_create1: {}", std::strerror(errno)));
    stats_.connection_errors += static_cast<uint64_t>(options_.connections);
    return;
  }
  connections_.reserve(static_cast<size_t>(options_.connections));
  for (int i = 0; i < options_.connections; ++i) Connect(options_.first_connection_id + i);

  epoll_event events[kMaxEvents];
  while (open_ > 0) {
    uint64_t now = NowNanos();
    if (in_flight_ == 0 && connecting_ == 0 && !MaySend(now)) break;
    if (now - last_activity_ns_ > kStallNanos) {
      FailAllStalled(now);
      break;
    }
    if (now >= next_publish_ns_) {
      Publish();
      next_publish_ns_ = now + kPublishEveryNanos;
    }
    int timeout = kTickMillis;
    if (options_.deadline_ns > now &&
        options_.deadline_ns - now < uint64_t{kTickMillis} * kMillis) {
      timeout = static_cast<int>((options_.deadline_ns - now) / kMillis) + 1;
    }
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      NoteError(fmt::format("epoll_wait: {}", std::strerror(errno)));
      FailAllStalled(now);
      break;
    }
    for (int i = 0; i < n; ++i)
      OnEvent(*static_cast<Connection*>(events[i].data.ptr), events[i].events);
  }
  Publish();
  for (auto& c : connections_) {
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
  }
}

void ClientLoop::Connect(int id) {
  connections_.push_back(std::make_unique<Connection>(id, options_));
  Connection& c = *connections_.back();
  ++open_;
  ++connecting_;
  c.fd = ::socket(options_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return Fail(c, "socket", errno);
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
  ev.data.ptr = &c;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) return Fail(c, "epoll_ctl", errno);
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&options_.addr), options_.addr_len) == 0) {
    OnConnected(c, NowNanos());
  } else if (errno != EINPROGRESS) {
    Fail(c, "connect", errno);
  }
}

void ClientLoop::OnEvent(Connection& c, uint32_t events) {
  if (c.failed) return;
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Fail(c, "connect", err);
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) return Fail(c, "connect: connection closed", 0);
    if ((events & EPOLLOUT) == 0) return;
    OnConnected(c, NowNanos());
    if (c.failed) return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && !ReadAndDispatch(c)) return;
  if ((events & EPOLLOUT) != 0) Flush(c);
}

void ClientLoop::OnConnected(Connection& c, uint64_t now) {
  c.connected = true;
  --connecting_;
  last_activity_ns_ = now;
  Refill(c, now);
  Flush(c);
}

bool ClientLoop::ReadAndDispatch(Connection& c) {
  for (;;) {
    if (c.in_end == c.in_capacity) {
      if (c.in_begin > 0) {  // make room: move the partial reply to the front
        std::memmove(c.in.get(), c.in.get() + c.in_begin, c.in_end - c.in_begin);
        c.in_end -= c.in_begin;
        c.in_begin = 0;
      } else {  // one reply larger than the buffer (a big value): grow
        auto bigger = std::make_unique<char[]>(c.in_capacity * 2);
        std::memcpy(bigger.get(), c.in.get(), c.in_end);
        c.in = std::move(bigger);
        c.in_capacity *= 2;
      }
    }
    const size_t room = c.in_capacity - c.in_end;
    const ssize_t n = ::recv(c.fd, c.in.get() + c.in_end, room, 0);
    if (n > 0) {
      c.in_end += static_cast<size_t>(n);
      ++stats_.recvs;
      if (!HandleReplies(c, NowNanos())) return false;
      if (static_cast<size_t>(n) < room) break;  // drained: edge-triggered epoll will tell
      continue;
    }
    if (n == 0) {
      Fail(c, "the server closed the connection", 0);
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Fail(c, "recv", errno);
    return false;
  }
  return Flush(c);
}

bool ClientLoop::HandleReplies(Connection& c, uint64_t now) {
  while (c.in_begin < c.in_end) {
    const ParsedReply r =
        c.parser.Next(std::string_view(c.in.get() + c.in_begin, c.in_end - c.in_begin));
    if (r.status == ParsedReply::Status::kNeedMore) break;
    if (r.status == ParsedReply::Status::kProtocolError) {
      Fail(c, fmt::format("bad reply: {}", r.error), 0);
      return false;
    }
    if (c.count == 0) {
      Fail(c, "a reply to no request", 0);
      return false;
    }
    const Pending p = c.Pop();
    --in_flight_;
    c.in_begin += r.consumed;
    stats_.latency.Record(now - p.sent_ns);
    switch (p.op) {
      case Op::kSet:
      case Op::kSetEx:
        ++stats_.sets;
        break;
      case Op::kExpire:
        ++stats_.expires;
        break;
      case Op::kGet:
        ++stats_.gets;
        break;
      case Op::kIncr:
        ++stats_.incrs;
        break;
      case Op::kMget:
        ++stats_.mgets;
        break;
      case Op::kMset:
        ++stats_.msets;
        break;
    }
    stats_.keys += IsMultiKey(p.op) ? templates_->multi_keys() : 1;
    if (r.kind == ReplyKind::kError) {
      ++stats_.error_replies;
      NoteError(fmt::format("error reply: {}", r.error));
    } else if (std::string wrong = WrongReplyFor(p.op, r, templates_->multi_keys());
               !wrong.empty()) {
      ++stats_.wrong_replies;
      NoteError(wrong);
    } else if (p.op == Op::kGet) {
      ++(r.kind == ReplyKind::kValue ? stats_.get_hits : stats_.get_misses);
    } else if (p.op == Op::kMget) {
      stats_.mget_hits += static_cast<uint64_t>(r.number - r.nils);
      stats_.mget_misses += static_cast<uint64_t>(r.nils);
    }
    stats_.end_ns = now;
    last_activity_ns_ = now;
  }
  if (c.in_begin == c.in_end) c.in_begin = c.in_end = 0;
  Refill(c, now);
  return true;
}

void ClientLoop::Refill(Connection& c, uint64_t now) {
  // An INCR + EXPIRE pair goes out whole, so the ring needs room for both.
  const size_t width = options_.expire_after_incr && !options_.prefill ? 2 : 1;
  while (c.count + width <= c.pending.size() && MaySend(now)) {
    Op op;
    if (options_.prefill) {
      op = Op::kSet;
      templates_->AppendSet(next_prefill_key_++, c.chooser.rng(), &c.out);
    } else {
      op = c.chooser.NextOp();
      if (op == Op::kSet && options_.sets_with_ttl) op = Op::kSetEx;
      switch (op) {
        case Op::kSet: {
          const uint64_t key = c.chooser.NextKey();
          templates_->AppendSet(key, c.chooser.rng(), &c.out);
          break;
        }
        case Op::kSetEx: {
          const uint64_t key = c.chooser.NextKey();
          templates_->AppendSetEx(key, c.chooser.rng(), &c.out);
          break;
        }
        case Op::kExpire:  // only behind an INCR, below
          break;
        case Op::kGet:
          templates_->AppendGet(c.chooser.NextKey(), &c.out);
          break;
        case Op::kIncr: {
          const uint64_t key = c.chooser.NextKey();
          templates_->AppendIncr(key, &c.out);
          if (options_.expire_after_incr) {
            templates_->AppendExpire(key, &c.out);
            c.Push({now, Op::kIncr});
            ++sent_;
            ++in_flight_;
            op = Op::kExpire;  // pushed below, behind its INCR
          }
          break;
        }
        case Op::kMget:
          templates_->AppendMget(c.chooser.keyspace(), c.chooser.rng(), &c.out);
          break;
        case Op::kMset:
          templates_->AppendMset(c.chooser.keyspace(), c.chooser.rng(), &c.out);
          break;
      }
    }
    c.Push({now, op});
    ++sent_;
    ++in_flight_;
  }
}

bool ClientLoop::Flush(Connection& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n =
        ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n >= 0) {
      c.out_sent += static_cast<size_t>(n);
      ++stats_.sends;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;  // EPOLLOUT resumes it
    Fail(c, "send", errno);
    return false;
  }
  c.out.clear();
  c.out_sent = 0;
  return true;
}

void ClientLoop::Fail(Connection& c, std::string_view what, int err_no) {
  if (c.failed) return;
  c.failed = true;
  ++stats_.connection_errors;
  stats_.lost_requests += c.count;
  in_flight_ -= c.count;
  c.count = 0;
  if (!c.connected) --connecting_;
  --open_;
  if (err_no != 0) {
    NoteError(fmt::format("{}: {}", what, std::strerror(err_no)));
  } else {
    NoteError(what);
  }
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
}

void ClientLoop::FailAllStalled(uint64_t now) {
  const uint64_t waited_ms = (now - last_activity_ns_) / kMillis;
  for (auto& c : connections_) {
    if (!c->failed) Fail(*c, fmt::format("timed out: no reply in {} ms", waited_ms), 0);
  }
}

}  // namespace kvs::bench
