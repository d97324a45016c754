// ZeroFiller: see zero_filler.h.

#include "store/zero_filler.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace kvs {

namespace {

constexpr uint64_t kChunk = 1 << 20;
constexpr uint64_t kBlock = 4096;

}  // namespace

ZeroFiller::ZeroFiller(Env* env, uint64_t ahead_bytes, uint64_t segment_bytes,
                       std::function<void(std::string_view)> warn)
    : env_(env),
      ahead_bytes_(ahead_bytes),
      segment_bytes_(segment_bytes),
      warn_(std::move(warn)),
      thread_([this] { Loop(); }) {}

ZeroFiller::~ZeroFiller() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_cv_.SignalAll();
  thread_.join();
}

void ZeroFiller::SetSegment(const std::string& path, uint64_t end) {
  {
    MutexLock lock(&mu_);
    path_ = path;
    ++generation_;
    log_end_ = end;
    zeroed_until_ = 0;
  }
  work_cv_.SignalAll();
}

bool ZeroFiller::TryReserve(uint64_t begin, uint64_t end, std::function<void()> ready) {
  bool wake = false;
  {
    MutexLock lock(&mu_);
    if (claimed_ && begin < claim_end_ && claim_begin_ < end) {
      ready_.push_back(std::move(ready));
      return false;
    }
    log_end_ = std::max(log_end_, end);
    // It fills a chunk at a time, so this wakes it about once a chunk, not once a batch: a
    // wake-up costs the writer more than its write.
    wake = !claimed_ && DueLocked();
  }
  if (wake) work_cv_.SignalAll();
  return true;
}

void ZeroFiller::Detach() {
  MutexLock lock(&mu_);
  path_.clear();
  ++generation_;
  while (claimed_) work_cv_.Wait(&mu_);
}

void ZeroFiller::Stop() {
  MutexLock lock(&mu_);
  failed_ = true;
}

uint64_t ZeroFiller::bytes_filled() const {
  MutexLock lock(&mu_);
  return filled_;
}

uint64_t ZeroFiller::BeginLocked() const {
  // The block holding the log's end is the writer's already; zeros start at the next one,
  // or past what was zeroed.
  return std::max(zeroed_until_, (log_end_ + kBlock - 1) / kBlock * kBlock);
}

bool ZeroFiller::DueLocked() const {
  return !failed_ && !path_.empty() &&
         BeginLocked() < std::min(log_end_ + ahead_bytes_, segment_bytes_);
}

void ZeroFiller::NotifyReadyLocked(std::vector<std::function<void()>>* out) {
  out->swap(ready_);
  ready_.clear();
}

void ZeroFiller::Loop() {
  static const std::string kZeros(kChunk, '\0');
  std::unique_ptr<File> file;  // of open_generation
  uint64_t open_generation = 0;
  MutexLock lock(&mu_);
  for (;;) {
    while (!stopping_ && !DueLocked()) work_cv_.Wait(&mu_);
    if (stopping_) break;
    const uint64_t begin = BeginLocked();
    const uint64_t end = std::min(begin + kChunk, segment_bytes_);
    const uint64_t generation = generation_;
    const std::string path = path_;
    claimed_ = true;
    claim_begin_ = begin;
    claim_end_ = end;
    lock.Unlock();

    Status s;
    if (file == nullptr || open_generation != generation) {
      file.reset();
      Result<std::unique_ptr<File>> opened = env_->Open(path, OpenMode::kReadWrite);
      if (opened.ok()) {
        file = std::move(*opened);
        open_generation = generation;
      } else {
        s = opened.status();
      }
    }
    if (s.ok()) s = file->PWrite(begin, std::string_view(kZeros).substr(0, end - begin));
    if (s.ok()) s = file->DataSync();

    std::vector<std::function<void()>> ready;
    lock.Lock();
    claimed_ = false;
    if (s.ok() && generation == generation_) {
      zeroed_until_ = end;
      filled_ += end - begin;
    }
    if (!s.ok()) failed_ = true;
    NotifyReadyLocked(&ready);
    lock.Unlock();
    work_cv_.SignalAll();  // Detach() waits for the claim to end
    for (auto& fn : ready) fn();
    if (!s.ok() && warn_) {
      // Only an optimisation: the blocks stay merely fallocate'd. A failing disk fails the
      // writer's own writes and fdatasyncs too, and they report it.
      warn_(fmt::format("zero-filling {} ahead of the log failed ({}); continuing without", path,
                        s.ToString()));
    }
    lock.Lock();
  }
}

}  // namespace kvs
