// Failpoints: named places in the code where a test can make the process die at once, as
// a crash (kill -9) would, to check that recovery loses nothing acknowledged.
//
//   KVS_FAILPOINT("compaction.after_rename_outputs");
//
// A point is armed from the environment variable KVS_FAILPOINTS (read once, at the first
// failpoint reached): a comma-separated list of `name` (die at the first hit) or `name=N`
// (let N hits pass, die at the next one). Tests can also arm points in-process with Arm(),
// or attach a hook (a function run at the point, e.g. to race a write deterministically).
// Dying is raise(SIGKILL): no destructors, no stdio flush, no atexit handlers.
//
// Cost when nothing is armed: one relaxed atomic load. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace kvs::failpoint {

// Dies at the (skip+1)-th hit of `name` from now on.
void Arm(std::string_view name, int skip = 0);
// Arms every point of a KVS_FAILPOINTS-style list ("a,b=2"); returns how many.
int ArmFromSpec(std::string_view spec);
// Runs `hook` at every hit of `name` (on the thread that reaches it) until DisarmAll().
void SetHook(std::string_view name, std::function<void()> hook);
// Disarms every point and hook (those from KVS_FAILPOINTS too).
void DisarmAll();

// Slow path of KVS_FAILPOINT: dies or runs the hook if `name` is armed.
void Hit(std::string_view name);
// True when any point may be armed (KVS_FAILPOINTS is read on the first call).
bool AnyArmed();
// How many times `name` was reached (counted only while some point is armed); for tests
// that check a workload really passes a point.
int HitCount(std::string_view name);

}  // namespace kvs::failpoint

#define KVS_FAILPOINT(name)                                        \
  do {                                                             \
    if (::kvs::failpoint::AnyArmed()) ::kvs::failpoint::Hit(name); \
  } while (0)
