#include "raft/linearizability.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace kvs::lin {

const char* OpTypeName(OpType type) {
  switch (type) {
    case OpType::kSet:
      return "set";
    case OpType::kGet:
      return "get";
    case OpType::kRm:
      return "rm";
  }
  return "?";
}

namespace {

// ---------------------------------------------------------------------------------------
// Describing ops for explanations

std::string Quote(std::string_view s) {
  constexpr size_t kMaxShown = 40;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > kMaxShown) out += fmt::format("...({} bytes)", s.size());
  return out;
}

std::string RelativeMs(int64_t ns, int64_t origin_ns) {
  return fmt::format("{:+.3f}ms", static_cast<double>(ns - origin_ns) / 1e6);
}

// "#12  client 3  get -> "v7"   [+1.200ms, +1.350ms]"; `index` is the op's place in the
// history the caller passed in.
std::string DescribeOp(const Op& op, size_t index, int64_t origin_ns) {
  std::string what = OpTypeName(op.type);
  if (op.type == OpType::kSet) {
    what += " " + Quote(op.value);
  } else if (op.indeterminate) {
    what += " -> ?";
  } else if (!op.found) {
    what += " -> not found";
  } else {
    what += op.type == OpType::kGet ? " -> " + Quote(op.value) : " -> removed";
  }
  const std::string end = op.indeterminate ? "no reply" : RelativeMs(op.complete_ns, origin_ns);
  return fmt::format("#{:<5} client {:<3} {:<32} [{}, {}]", index, op.client, what,
                     RelativeMs(op.invoke_ns, origin_ns), end);
}

// ---------------------------------------------------------------------------------------
// The search for one key

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Model state of one key: kAbsent, kUnread (holds a value no determinate get of the key ever
// reads: all such values behave alike from then on), or kFirstRead + i (the i-th value that
// some determinate get reads).
constexpr uint32_t kAbsent = 0;
constexpr uint32_t kUnread = 1;
constexpr uint32_t kFirstRead = 2;

// Memoized states: (linearized ops, model state) pairs already searched from. Keys are flat
// arrays of words in one arena; the table maps a hash to entry numbers.
class StateCache {
 public:
  explicit StateCache(size_t key_words) : key_words_(key_words) {}
  // Adds `key` (key_words_ words); false when it was already there.
  bool Insert(uint64_t hash, const std::vector<uint64_t>& key) {
    auto [first, last] = index_.equal_range(hash);
    for (auto it = first; it != last; ++it) {
      if (std::equal(key.begin(), key.end(),
                     arena_.begin() + static_cast<std::ptrdiff_t>(it->second * key_words_))) {
        return false;
      }
    }
    index_.emplace(hash, arena_.size() / key_words_);
    arena_.insert(arena_.end(), key.begin(), key.end());
    return true;
  }
  size_t size() const { return index_.size(); }

 private:
  const size_t key_words_;
  std::vector<uint64_t> arena_;
  std::unordered_multimap<uint64_t, size_t> index_;
};

enum class Verdict { kLinearizable, kViolation, kInconclusive };

// Wing & Gong / Lowe: events (calls and returns) in a doubly linked list in time order; walk
// it, linearizing a call whose op can take effect now (lifting its call and return out of the
// list) and restarting from the head; reaching a return means the op whose return it is was
// not linearized in time, so backtrack to the last choice. A (linearized ops, state) pair
// seen before is not searched again.
//
// Indeterminate ops have their return at +infinity, and the search succeeds once every
// determinate op is linearized, so an indeterminate op may take effect anywhere after its call
// or not at all. Indeterminate ops with the same effect (e.g. several sets of values no get
// reads, or several rms) are interchangeable once called, so the cache records how many of
// each such class are linearized, not which: two states with the same determinate ops
// linearized have the same ops called, so the ones of a class each has left differ only in
// ops already called, which can take effect at any time from now on either way. Without
// that, k never-applied writes that are all pending would multiply the states by 2^k.
class KeySearch {
 public:
  // `ops` index into `history`: one key's ops, indeterminate gets already dropped.
  KeySearch(const std::vector<Op>& history, std::vector<size_t> ops, const CheckOptions& options)
      : history_(history), ops_(std::move(ops)), options_(options) {}

  Verdict Run();
  size_t states() const { return states_; }
  // A readable account of where the search got furthest; empty if it never had to backtrack.
  std::string Explain(int64_t origin_ns) const;

 private:
  struct OpInfo {
    uint32_t effect = kAbsent;  // kSet: the state it leaves; kRm: kAbsent
    uint32_t expect = kAbsent;  // determinate kGet: the state it must see
    int memo_class = -1;        // >= 0: an interchangeable indeterminate op's class
    uint32_t memo_bit = 0;      // otherwise: its bit in the cache key
    uint64_t zobrist = 0;       // its share of the cache key's hash when linearized
  };

  const Op& op(uint32_t i) const { return history_[ops_[i]]; }
  void Prepare();
  // Whether op i can take effect in `state`; sets *next to the state after it.
  bool Step(uint32_t i, uint32_t state, uint32_t* next) const;
  void Mark(uint32_t i, bool linearized);
  uint64_t ClassZobrist(size_t memo_class, uint64_t count) const {
    return count == 0 ? 0 : SplitMix64((memo_class << 32) ^ count ^ 0x5bd1e995ULL);
  }
  void Lift(uint32_t call);
  void Unlift(uint32_t call);
  void RecordStuck(uint32_t return_node, const std::vector<uint32_t>& stack_ops,
                   size_t determinate_done);

  const std::vector<Op>& history_;
  const std::vector<size_t> ops_;
  const CheckOptions& options_;

  std::vector<OpInfo> info_;
  size_t determinate_ = 0;
  // Event list: node 0 is the head, node 2n+1 the tail; node_op_ says whose event a node is.
  std::vector<uint32_t> next_, prev_, node_op_, return_node_;
  std::vector<bool> is_return_;
  // The cache key being built: memo bits, then one count per class, then the state.
  size_t memo_words_ = 0;
  size_t classes_ = 0;
  std::vector<uint64_t> key_;
  uint64_t hash_ = 0;
  size_t states_ = 0;

  // Where the search got furthest: the ops linearized in order, the op whose
  // return stopped it, and the ops then called but not linearized.
  bool have_best_ = false;
  size_t best_determinate_ = 0;
  std::vector<uint32_t> best_order_;
  uint32_t best_blocked_ = 0;
  std::vector<uint32_t> best_open_;
};

void KeySearch::Prepare() {
  const size_t n = ops_.size();
  info_.assign(n, OpInfo{});
  // Values read by determinate gets get their own states; every other value is kUnread.
  std::unordered_map<std::string_view, uint32_t> read_states;
  for (uint32_t i = 0; i < n; ++i) {
    const Op& o = op(i);
    if (o.type == OpType::kGet && !o.indeterminate && o.found) {
      auto [it, added] = read_states.emplace(o.value, kFirstRead + read_states.size());
      info_[i].expect = it->second;
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    const Op& o = op(i);
    if (o.type == OpType::kSet) {
      auto it = read_states.find(o.value);
      info_[i].effect = it == read_states.end() ? kUnread : it->second;
    }
  }
  // Indeterminate ops with the same effect form a class, counted in the cache key; an op
  // alone in its class (e.g. the lost write of a value some get reads) takes a bit instead.
  std::map<uint32_t, std::vector<uint32_t>> by_effect;
  for (uint32_t i = 0; i < n; ++i) {
    if (op(i).indeterminate) by_effect[info_[i].effect].push_back(i);
  }
  uint32_t bits = 0;
  for (const auto& [effect, members] : by_effect) {
    if (members.size() < 2) continue;
    for (uint32_t i : members) info_[i].memo_class = static_cast<int>(classes_);
    ++classes_;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (!op(i).indeterminate) ++determinate_;
    if (info_[i].memo_class >= 0) continue;
    info_[i].memo_bit = bits++;
    info_[i].zobrist = SplitMix64(i);
  }
  memo_words_ = (bits + 63) / 64;
  key_.assign(memo_words_ + classes_ + 1, 0);

  struct Event {
    int64_t time;
    bool is_return;
    uint32_t op;
  };
  std::vector<Event> events;
  events.reserve(2 * n);
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  for (uint32_t i = 0; i < n; ++i) {
    events.push_back({op(i).invoke_ns, false, i});
    events.push_back({op(i).indeterminate ? kNever : op(i).complete_ns, true, i});
  }
  // Calls before returns at equal times: touching ops overlap.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return !a.is_return;
    return a.op < b.op;
  });
  const size_t nodes = 2 * n + 2;
  next_.resize(nodes);
  prev_.resize(nodes);
  node_op_.assign(nodes, 0);
  is_return_.assign(nodes, false);
  return_node_.assign(n, 0);
  for (uint32_t node = 0; node < nodes; ++node) {
    next_[node] = node + 1;
    prev_[node] = node == 0 ? 0 : node - 1;
  }
  for (uint32_t e = 0; e < events.size(); ++e) {
    const uint32_t node = e + 1;
    node_op_[node] = events[e].op;
    is_return_[node] = events[e].is_return;
    if (events[e].is_return) return_node_[events[e].op] = node;
  }
}

bool KeySearch::Step(uint32_t i, uint32_t state, uint32_t* next) const {
  const Op& o = op(i);
  const OpInfo& in = info_[i];
  switch (o.type) {
    case OpType::kSet:
      *next = in.effect;
      return true;
    case OpType::kGet:
      *next = state;
      return in.expect == state;  // kAbsent for a not-found read
    case OpType::kRm:
      *next = kAbsent;
      return o.indeterminate || o.found == (state != kAbsent);
  }
  return false;
}

void KeySearch::Mark(uint32_t i, bool linearized) {
  const OpInfo& in = info_[i];
  if (in.memo_class < 0) {
    key_[in.memo_bit / 64] ^= uint64_t{1} << (in.memo_bit % 64);
    hash_ ^= in.zobrist;
    return;
  }
  const auto c = static_cast<size_t>(in.memo_class);
  uint64_t& count = key_[memo_words_ + c];
  hash_ ^= ClassZobrist(c, count);
  count = linearized ? count + 1 : count - 1;
  hash_ ^= ClassZobrist(c, count);
}

// Dancing links: Unlift must undo Lifts in reverse order.
void KeySearch::Lift(uint32_t call) {
  for (uint32_t node : {call, return_node_[node_op_[call]]}) {
    next_[prev_[node]] = next_[node];
    prev_[next_[node]] = prev_[node];
  }
}

void KeySearch::Unlift(uint32_t call) {
  for (uint32_t node : {return_node_[node_op_[call]], call}) {
    next_[prev_[node]] = node;
    prev_[next_[node]] = node;
  }
}

// "Furthest" = most determinate ops ordered, then fewest indeterminate ones (an order that
// does without a write that may never have happened reads better).
void KeySearch::RecordStuck(uint32_t return_node, const std::vector<uint32_t>& stack_ops,
                            size_t determinate_done) {
  const size_t indeterminate_done = stack_ops.size() - determinate_done;
  if (have_best_ && (determinate_done < best_determinate_ ||
                     (determinate_done == best_determinate_ &&
                      indeterminate_done >= best_order_.size() - best_determinate_))) {
    return;
  }
  have_best_ = true;
  best_determinate_ = determinate_done;
  best_order_ = stack_ops;
  best_blocked_ = node_op_[return_node];
  best_open_.clear();
  for (uint32_t node = next_[0]; node != return_node; node = next_[node]) {
    if (!is_return_[node]) best_open_.push_back(node_op_[node]);
  }
}

Verdict KeySearch::Run() {
  Prepare();
  StateCache cache(key_.size());
  struct Frame {
    uint32_t call;
    uint32_t state_before;
  };
  std::vector<Frame> stack;
  std::vector<uint32_t> stack_ops;  // the ops of `stack`, for explanations
  uint32_t state = kAbsent;
  size_t remaining = determinate_;
  const uint32_t tail = static_cast<uint32_t>(next_.size() - 1);
  uint32_t node = next_[0];
  while (remaining > 0) {
    // Some determinate op is not linearized, so its return is still ahead.
    assert(node != tail);
    (void)tail;
    const uint32_t i = node_op_[node];
    if (!is_return_[node]) {
      uint32_t after = 0;
      if (Step(i, state, &after)) {
        Mark(i, true);
        key_.back() = after;
        if (cache.Insert(hash_ ^ SplitMix64(after + 0x1234567ULL), key_)) {
          if (cache.size() > options_.max_states_per_key) {
            states_ = cache.size();
            return Verdict::kInconclusive;
          }
          stack.push_back({node, state});
          stack_ops.push_back(i);
          state = after;
          if (!op(i).indeterminate) --remaining;
          Lift(node);
          node = next_[0];
          continue;
        }
        Mark(i, false);
      }
      node = next_[node];
      continue;
    }
    // A return: its op had to be linearized by now. Undo the last choice and try the next.
    RecordStuck(node, stack_ops, determinate_ - remaining);
    if (stack.empty()) {
      states_ = cache.size();
      return Verdict::kViolation;
    }
    const Frame top = stack.back();
    stack.pop_back();
    stack_ops.pop_back();
    const uint32_t undone = node_op_[top.call];
    state = top.state_before;
    Mark(undone, false);
    if (!op(undone).indeterminate) ++remaining;
    Unlift(top.call);
    node = next_[top.call];
  }
  states_ = cache.size();
  return Verdict::kLinearizable;
}

std::string KeySearch::Explain(int64_t origin_ns) const {
  std::string out;
  if (!have_best_) return out;  // never stuck: nothing to point at
  // What the key holds after the longest order: the last set or rm in it decides.
  std::string holds = "absent";
  for (uint32_t i : best_order_) {
    if (op(i).type == OpType::kSet) holds = Quote(op(i).value);
    if (op(i).type == OpType::kRm) holds = "absent";
  }
  out += fmt::format(
      "  The longest consistent order found covers {} of the {} ops; after it the key is {}.\n",
      best_order_.size(), ops_.size(), holds);
  const size_t shown = std::min(best_order_.size(), options_.explain_context_ops);
  if (shown > 0) {
    out += fmt::format("  Its last {} ops, in that order:\n", shown);
    for (size_t k = best_order_.size() - shown; k < best_order_.size(); ++k) {
      const uint32_t i = best_order_[k];
      out += "    " + DescribeOp(op(i), ops_[i], origin_ns) + "\n";
    }
  }
  out += fmt::format(
      "  No order fits op #{} in before it returned. Ops open then (called, not ordered "
      "above):\n",
      ops_[best_blocked_]);
  // Determinate ops first: they are the ones that must fit; pending indeterminate ops follow.
  std::vector<uint32_t> open = best_open_;
  std::stable_partition(open.begin(), open.end(),
                        [this](uint32_t i) { return !op(i).indeterminate; });
  constexpr size_t kMaxOpen = 16;
  for (size_t k = 0; k < open.size() && k < kMaxOpen; ++k) {
    out += "    " + DescribeOp(op(open[k]), ops_[open[k]], origin_ns) + "\n";
  }
  if (open.size() > kMaxOpen) out += fmt::format("    ... and {} more\n", open.size() - kMaxOpen);
  // For a read that cannot be placed, where its value came from is the next question.
  const Op& blocked = op(best_blocked_);
  if (blocked.type == OpType::kGet && blocked.found) {
    std::string writes;
    size_t listed = 0;
    for (uint32_t i = 0; i < ops_.size() && listed < kMaxOpen; ++i) {
      if (op(i).type == OpType::kSet && op(i).value == blocked.value) {
        writes += "    " + DescribeOp(op(i), ops_[i], origin_ns) + "\n";
        ++listed;
      }
    }
    out += writes.empty() ? fmt::format("  No set of this key wrote {}.\n", Quote(blocked.value))
                          : fmt::format("  The sets of this key that wrote {}:\n{}",
                                        Quote(blocked.value), writes);
  }
  return out;
}

}  // namespace

CheckResult CheckLinearizable(const std::vector<Op>& history) {
  return CheckLinearizable(history, CheckOptions{});
}

CheckResult CheckLinearizable(const std::vector<Op>& history, const CheckOptions& options) {
  CheckResult result;
  result.ops_checked = history.size();
  if (history.empty()) return result;
  int64_t origin_ns = history[0].invoke_ns;
  for (const Op& o : history) origin_ns = std::min(origin_ns, o.invoke_ns);

  std::map<std::string_view, std::vector<size_t>> by_key;
  std::string malformed;
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& o = history[i];
    if (!o.indeterminate && o.complete_ns < o.invoke_ns) {
      malformed += "  " + DescribeOp(o, i, origin_ns) + "\n";
    }
    // An indeterminate get neither changes the key nor has a result to explain.
    if (o.type == OpType::kGet && o.indeterminate) continue;
    by_key[o.key].push_back(i);
  }
  if (!malformed.empty()) {
    result.ok = false;
    result.explanation =
        "Malformed history: ops that complete before they are invoked:\n" + malformed;
    return result;
  }

  std::string violations;
  std::string inconclusive;
  for (auto& [key, ops] : by_key) {
    const size_t count = ops.size();
    KeySearch search(history, std::move(ops), options);
    const Verdict verdict = search.Run();
    result.states_explored += search.states();
    if (verdict == Verdict::kViolation) {
      violations += fmt::format("key {}: not linearizable ({} ops, {} states searched)\n",
                                Quote(key), count, search.states());
      violations += search.Explain(origin_ns);
    } else if (verdict == Verdict::kInconclusive) {
      inconclusive += fmt::format(
          "key {}: inconclusive: the search gave up after {} states ({} ops; "
          "CheckOptions::max_states_per_key). Where it had got furthest:\n",
          Quote(key), search.states(), count);
      inconclusive += search.Explain(origin_ns);
    }
  }
  if (!violations.empty()) {
    result.ok = false;
    result.explanation = violations + inconclusive;
  } else if (!inconclusive.empty()) {
    result.ok = false;
    result.inconclusive = true;
    result.explanation = inconclusive;
  }
  return result;
}

}  // namespace kvs::lin
