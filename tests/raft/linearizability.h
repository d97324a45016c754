// Linearizability checking for cluster tests: clients record what they sent and what came
// back in a History; CheckLinearizable decides whether some total order of those operations,
// each taking effect at one instant between its request and its reply, explains every reply
// under the semantics of a single key-value map.
//
// The checker is Wing & Gong's search with Lowe's improvements (as in Knossos and Porcupine),
// run on each key's sub-history alone (linearizability is compositional). It is exact: a
// violation is reported only when no order exists, and a work bound turns a search that would
// take too long into "inconclusive", never into a pass or a violation.
//
// History is thread-safe; CheckLinearizable is a pure function of its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace kvs::lin {

enum class OpType : uint8_t { kSet, kGet, kRm };

// One client operation on one key, as the client saw it.
struct Op {
  int client = 0;  // which client (a client runs one op at a time)
  OpType type = OpType::kGet;
  std::string key;
  std::string value;        // kSet: the value written; kGet: the value read (when found)
  bool found = false;       // kGet: the key existed; kRm: the server said it removed the key
  int64_t invoke_ns = 0;    // steady-clock time the request was sent
  int64_t complete_ns = 0;  // when the reply arrived; ignored when indeterminate
  // No reply / timeout / connection lost / "may or may not have been applied": the op may
  // have taken effect at any point after invoke (even after the client moved on), or never.
  bool indeterminate = false;
};

// Records operations as clients run them. Clients call Invoke() right before sending a
// request and exactly one of Complete() / Fail() / Indeterminate() once they know the
// outcome. Thread-safe: any number of client threads may record concurrently.
class History {
 public:
  // `clock` returns nanoseconds on a monotonic clock; the default is std::chrono::steady_clock.
  // Tests pass a fake. It is called under the recorder's lock, so recorded times are ordered
  // like the calls that recorded them.
  explicit History(std::function<int64_t()> clock = {});
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Starts an op and returns its handle. `value` is the value written (kSet only).
  size_t Invoke(int client, OpType type, std::string key, std::string value = {});
  // The reply arrived. kGet: `found` and the value read; kRm: found = the key was removed;
  // kSet: `found` and `value` are ignored.
  // REQUIRES: `handle` came from Invoke() and has no outcome yet.
  void Complete(size_t handle, bool found, std::string value = {});
  // A definite failure the server reported before doing anything (e.g. "not leader"): the op
  // is dropped from the history. Only for errors that guarantee the op had no effect.
  void Fail(size_t handle);
  // The outcome is unknown: the op may or may not take effect, at any time after Invoke().
  void Indeterminate(size_t handle);

  // The completed and indeterminate ops, in Invoke() order; failed ones are dropped. An op
  // that has no outcome yet is reported as indeterminate.
  std::vector<Op> ops() const;

 private:
  enum class Outcome : uint8_t { kPending, kCompleted, kFailed, kIndeterminate };
  const std::function<int64_t()> clock_;
  mutable std::mutex mu_;
  std::vector<Op> ops_;            // guarded by mu_
  std::vector<Outcome> outcomes_;  // guarded by mu_; parallel to ops_
};

struct CheckOptions {
  // The search for one key gives up (inconclusive) after memoizing this many distinct
  // (set of linearized ops, value) states; each costs about ops/8 + 64 bytes.
  //
  // Cost: a linearizable history is usually decided in about as many states as it has ops.
  // A violation is proven only by exhausting every order of the ops before it, about
  // (ops before it) x (orders of the ops in flight at one time) states: a few hundred ops per
  // key from 5 clients take tens of thousands of states; 1500 ops on one key can exceed the
  // default. Keep per-key histories to a few hundred ops (spread load over several keys).
  size_t max_states_per_key = 500'000;
  // How many ops of the longest partial linearization a violation report lists.
  size_t explain_context_ops = 6;
};

struct CheckResult {
  // True only when every key's sub-history was shown linearizable.
  bool ok = true;
  // The state bound ran out on some key before an order or a violation was found (and no
  // other key has a violation). `ok` is then false: the history was not shown linearizable.
  bool inconclusive = false;
  // When !ok: per offending key, the key and a readable excerpt of the ops that cannot be
  // ordered (client, type, value, times relative to the history's first invoke).
  std::string explanation;
  size_t ops_checked = 0;      // ops in the history (indeterminate ones included)
  size_t states_explored = 0;  // search states memoized, summed over keys
};

// Checks that `history` is linearizable with respect to a key-value map where set(k, v)
// stores v, get(k) returns the stored value or not-found, and rm(k) removes k and reports
// whether it existed. Every key starts absent. Keys are checked independently; all keys are
// checked, so the explanation names every key that fails.
//
// Real time: op A precedes op B when A.complete_ns < B.invoke_ns; equal times count as
// overlapping. A determinate op must have complete_ns >= invoke_ns (otherwise the history is
// reported malformed: !ok, not inconclusive). Indeterminate ops may be linearized anywhere
// after their invoke or left out; an indeterminate kGet constrains nothing.
CheckResult CheckLinearizable(const std::vector<Op>& history);
CheckResult CheckLinearizable(const std::vector<Op>& history, const CheckOptions& options);

// "set", "get" or "rm".
const char* OpTypeName(OpType type);

}  // namespace kvs::lin
