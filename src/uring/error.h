// The one place a negative io_uring result (-errno) becomes a Status.
//
// Completion callbacks of kvs::uring::Loop receive raw results (bytes, an fd, or -errno);
// callers that need a Status convert them here, naming the operation and the thing at fault.
// Pure functions: thread-safe.
#pragma once

#include <string_view>

#include "base/status.h"

namespace kvs::uring {

// OK when res >= 0; otherwise an IOError "what: strerror(-res)" carrying errno -res.
Status ResultToStatus(std::string_view what, int res);

}  // namespace kvs::uring
