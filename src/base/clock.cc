#include "base/clock.h"

#include <chrono>

namespace kvs {

int64_t ExpiryClock::SystemMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kvs
