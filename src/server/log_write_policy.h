// LogWritePolicy: how the loop writes one batch of an engine's log (a LogWriter batch):
// itself, with pwrite + fdatasync (no hand-off; the loop waits for the disk), or through
// io_uring, a write linked to an fsync (the loop goes on meanwhile). With nothing else to
// do meanwhile, writing inline saves io_uring's hand-off of the fsync to a worker thread
// and back, which costs more than the fsync on a small machine; with lookups in flight,
// their replies go out during an io_uring fsync (docs/PERFORMANCE.md "Inline fdatasync and
// reads on the loop"). A value type: the loop thread owns it.
#pragma once

#include <optional>
#include <string_view>

namespace kvs {

// The --log-write flag.
enum class LogWritePath {
  kAuto,    // inline unless lookups are in flight, then io_uring
  kInline,  // pwrite + fdatasync on the loop thread: no hand-off, the loop waits
  kUring,   // an io_uring write linked to an fsync: the loop goes on meanwhile
};

// Parses "auto" / "inline" / "uring".
std::optional<LogWritePath> ParseLogWritePath(std::string_view text);

class LogWritePolicy {
 public:
  enum class How { kInline, kUring };

  explicit LogWritePolicy(LogWritePath path) : path_(path) {}

  // `lookups_in_flight`: reads are queued on the loop or running on the pool, whose replies
  // an inline write would hold back.
  How Choose(bool lookups_in_flight) const {
    switch (path_) {
      case LogWritePath::kInline:
        return How::kInline;
      case LogWritePath::kUring:
        return How::kUring;
      case LogWritePath::kAuto:
        break;
    }
    return lookups_in_flight ? How::kUring : How::kInline;
  }

 private:
  LogWritePath path_;
};

}  // namespace kvs
