// LogWriter: an engine's group-commit seam when each write batch is one append to a log
// file (LogStore; Engine::log_writer()). The server's loop drives it, the way LevelDB's
// log::Writer sits on a WritableFile, without ever knowing the engine's type:
//
//   Prepare   encodes and places a batch; no I/O, never waits (WouldBlock + `ready` when
//             background work — a segment roll, the zero-filler — must finish first);
//   WriteInline  writes (and fdatasyncs) its bytes on the calling thread, or
//   WriteAsync  does so through the caller's io_uring loop, which goes on meanwhile;
//   Commit    publishes the batch to readers once its bytes are durable.
//
// One batch is prepared at a time: Prepare answers WouldBlock (and calls `ready` later)
// while another one is outstanding. Thread-safety: any thread; WriteAsync on the loop's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace kvs {

namespace uring {
class Loop;
}
class WriteBatch;

class LogWriter {
 public:
  // A prepared batch; move-only. Pass it back to Commit exactly once.
  struct Prepared {
    Prepared() = default;
    Prepared(Prepared&&) = default;
    Prepared& operator=(Prepared&&) = default;
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;

    bool empty() const { return bytes.empty(); }  // only deletes of absent keys
    std::vector<Status> op_results;  // each op's outcome: OK, or NotFound for an absent delete

    // The rest belongs to the LogWriter that made it.
    struct Placed {
      size_t op;           // index into the batch
      uint64_t offset;     // record offset in the segment
      uint32_t value_len;  // the record's field: with an expiry time's 8 bytes
      bool tombstone;
      bool prefix;  // a prefix tombstone: every older key starting with `key` goes
      uint64_t seq;
      std::string key;
      int64_t expire_at_ms = 0;  // a put's expiry time, or kNoExpiry
    };
    std::string bytes;  // the encoded records, written at `offset` of segment `segment`
    uint32_t segment = 0;
    uint64_t offset = 0;
    bool needs_sync = false;  // FsyncPolicy::kAlways: fdatasync before Commit
    std::vector<Placed> placed;
  };

  LogWriter() = default;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  virtual ~LogWriter() = default;

  // Validates and encodes `batch`, assigns sequence numbers and reserves its bytes at the
  // end of the log. Deletes of absent keys get NotFound in op_results and write nothing.
  // WouldBlock when the batch cannot be placed yet (another batch is outstanding, the
  // active segment is being rolled, the zero-filler is writing where it would go): then
  // `ready` is called once, from whichever thread cleared the way, and the caller tries
  // again. InvalidArgument for an op over a limit; ReadOnly after a failed write.
  virtual Result<Prepared> Prepare(const WriteBatch& batch, std::function<void()> ready) = 0;

  // Writes `batch`'s bytes and, when needs_sync, fdatasyncs them, on the calling thread.
  // Returns the `io` to pass to Commit.
  virtual Status WriteInline(const Prepared& batch) = 0;

  // The same through `loop` (a PosixFile's write linked to an fdatasync on io_uring): calls
  // `done(batch, io)` on the loop thread once done, possibly before returning.
  // REQUIRES: called on `loop`'s thread.
  virtual void WriteAsync(Prepared&& batch, uring::Loop& loop,
                          std::function<void(Prepared&& batch, Status io)> done) = 0;

  // Completes a prepared batch. `io` is the outcome of writing its bytes (and of the
  // fdatasync): if OK its records become visible to readers; otherwise the store turns
  // read-only and `io` is returned (a failed fsync is never retried as if the data were
  // safe).
  virtual Status Commit(Prepared&& batch, const Status& io) = 0;
};

}  // namespace kvs
