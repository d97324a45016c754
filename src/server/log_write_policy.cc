// LogWritePolicy: see log_write_policy.h.

#include "server/log_write_policy.h"

namespace kvs {

std::optional<LogWritePath> ParseLogWritePath(std::string_view text) {
  if (text == "auto") return LogWritePath::kAuto;
  if (text == "inline") return LogWritePath::kInline;
  if (text == "uring") return LogWritePath::kUring;
  return std::nullopt;
}

}  // namespace kvs
