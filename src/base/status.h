// Status: the outcome of a fallible operation, as a value.
//
// An OK status is one null pointer (cheap to create, copy and test); an error carries a
// code, an errno (0 when none applies) and a message that names the thing at fault
// (file, offset, key length, limit). Functions return [[nodiscard]] Status or Result<T>;
// exceptions never cross a kvs interface. Thread-compatible: a Status is a value.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace kvs {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // the key (or file) does not exist
    kCorruption,       // stored bytes fail a check (checksum, length, format)
    kIOError,          // the OS failed an operation; errno() says which
    kInvalidArgument,  // the caller asked for something malformed or over a limit
    kReadOnly,         // the store refuses writes after a failed write or fsync
    kBusy,             // the resource is held elsewhere (a locked data directory)
    kNotSupported,     // the kernel or configuration lacks a feature
    kAborted,          // the operation was cancelled (shutdown)
    kNotLeader,        // a cluster node that is not the leader; message() = the leader's
                       // client address, empty when no leader is known
    kWouldBlock,       // a cached-only read would have to wait for the disk
  };

  Status() noexcept = default;
  Status(const Status& other)
      : state_(other.state_ ? std::make_unique<State>(*other.state_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) state_ = other.state_ ? std::make_unique<State>(*other.state_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg, int err_no = 0) {
    return Status(Code::kIOError, msg, err_no);
  }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status ReadOnly(std::string_view msg) { return Status(Code::kReadOnly, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status Aborted(std::string_view msg) { return Status(Code::kAborted, msg); }
  static Status WouldBlock(std::string_view msg) { return Status(Code::kWouldBlock, msg); }
  static Status NotLeader(std::string_view leader_addr) {
    return Status(Code::kNotLeader, leader_addr);
  }

  // "what: strerror(err_no)" as an IOError: the one place errno becomes a Status.
  static Status FromErrno(std::string_view what, int err_no);

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  int err_no() const { return state_ ? state_->err_no : 0; }
  // The message alone, without the code's name ("" when OK).
  std::string_view message() const { return state_ ? std::string_view(state_->msg) : ""; }
  // "OK", or "<Code name>: <message>".
  std::string ToString() const;

  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsReadOnly() const { return code() == Code::kReadOnly; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsNotSupported() const { return code() == Code::kNotSupported; }
  bool IsNotLeader() const { return code() == Code::kNotLeader; }
  bool IsAborted() const { return code() == Code::kAborted; }
  bool IsWouldBlock() const { return code() == Code::kWouldBlock; }

 private:
  struct State {
    Code code;
    int err_no;
    std::string msg;
  };
  Status(Code code, std::string_view msg, int err_no = 0)
      : state_(std::make_unique<State>(State{code, err_no, std::string(msg)})) {}

  std::unique_ptr<State> state_;  // null when OK
};

std::string_view CodeName(Status::Code code);

}  // namespace kvs

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define KVS_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::kvs::Status kvs_status_ = (expr);        \
    if (!kvs_status_.ok()) return kvs_status_; \
  } while (0)
