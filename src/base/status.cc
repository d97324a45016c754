#include "base/status.h"

#include <cstring>

#include <fmt/format.h>

namespace kvs {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kNotFound: return "NotFound";
    case Status::Code::kCorruption: return "Corruption";
    case Status::Code::kIOError: return "IOError";
    case Status::Code::kInvalidArgument: return "InvalidArgument";
    case Status::Code::kReadOnly: return "ReadOnly";
    case Status::Code::kBusy: return "Busy";
    case Status::Code::kNotSupported: return "NotSupported";
    case Status::Code::kAborted: return "Aborted";
    case Status::Code::kNotLeader: return "NotLeader";
    case Status::Code::kWouldBlock: return "WouldBlock";
  }
  return "Unknown";
}

Status Status::FromErrno(std::string_view what, int err_no) {
  char buf[128];
  // GNU strerror_r returns the message, which may or may not live in buf.
  const char* text = strerror_r(err_no, buf, sizeof buf);
  return Status(Code::kIOError, fmt::format("{}: {}", what, text), err_no);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return fmt::format("{}: {}", CodeName(state_->code), state_->msg);
}

}  // namespace kvs
