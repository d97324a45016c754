#include "uring/error.h"

namespace kvs::uring {

Status ResultToStatus(std::string_view what, int res) {
  if (res >= 0) return Status::Ok();
  return Status::FromErrno(what, -res);
}

}  // namespace kvs::uring
