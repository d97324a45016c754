#include "base/failpoint.h"

#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace kvs::failpoint {
namespace {

struct Point {
  int hits = 0;  // times reached while something was armed
  int skip = 0;  // hits to let pass before dying (crash points)
  bool crash = false;
  std::function<void()> hook;
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Point, std::less<>> points;  // guarded by mu
  std::atomic<bool> any{false};
};

Registry& Get() {
  static Registry* r = new Registry();  // never destroyed: points may be hit during exit
  return *r;
}

void ArmLocked(Registry& r, std::string_view name, int skip) {
  Point& p = r.points[std::string(name)];
  p.crash = true;
  p.skip = skip;
  r.any.store(true, std::memory_order_release);
}

int ArmSpecLocked(Registry& r, std::string_view spec) {
  int armed = 0;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    int skip = 0;
    if (size_t eq = item.find('='); eq != std::string_view::npos) {
      skip = std::atoi(std::string(item.substr(eq + 1)).c_str());
      item = item.substr(0, eq);
    }
    ArmLocked(r, item, skip);
    ++armed;
  }
  return armed;
}

bool LoadFromEnvironment() {
  const char* spec = std::getenv("KVS_FAILPOINTS");
  if (spec == nullptr) return true;
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  ArmSpecLocked(r, spec);
  return true;
}

}  // namespace

bool AnyArmed() {
  static const bool loaded = LoadFromEnvironment();
  (void)loaded;
  return Get().any.load(std::memory_order_relaxed);
}

void Arm(std::string_view name, int skip) {
  (void)AnyArmed();  // the environment first, so that it cannot override this later
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  ArmLocked(r, name, skip);
}

int ArmFromSpec(std::string_view spec) {
  (void)AnyArmed();
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  return ArmSpecLocked(r, spec);
}

int HitCount(std::string_view name) {
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  auto it = r.points.find(name);
  return it == r.points.end() ? 0 : it->second.hits;
}

void SetHook(std::string_view name, std::function<void()> hook) {
  (void)AnyArmed();
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  r.points[std::string(name)].hook = std::move(hook);
  r.any.store(true, std::memory_order_release);
}

void DisarmAll() {
  (void)AnyArmed();
  Registry& r = Get();
  std::lock_guard lock(r.mu);
  r.points.clear();
  r.any.store(false, std::memory_order_release);
}

void Hit(std::string_view name) {
  Registry& r = Get();
  std::function<void()> hook;
  {
    std::lock_guard lock(r.mu);
    Point& p = r.points[std::string(name)];
    ++p.hits;
    if (p.crash) {
      if (p.skip == 0) {
        // Like kill -9: nothing flushed, nothing unwound. The lock dies with the process.
        std::raise(SIGKILL);
      }
      --p.skip;
    }
    hook = p.hook;
  }
  if (hook) hook();  // outside the lock: a hook may reach other failpoints
}

}  // namespace kvs::failpoint
