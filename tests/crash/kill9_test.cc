// kill -9 under load (issue 8): concurrent writers drive the real kvs-server over RESP and
// JSON while the harness SIGKILLs it at random moments, restarts it on the same data
// directory and checks every key against the expected-state model (crash/expected_state.h):
// the last acknowledged value, or the outcome of a write that was in flight at the kill.
//
// Seeded: the seed is printed; rerun one with KVS_CRASH_SEED=<seed>. KVS_CRASH_ROUNDS=<n>
// runs n rounds per configuration (a soak).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "crash/crash_client.h"
#include "crash/expected_state.h"
#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::crash {
namespace {

using e2e::FreePort;
using e2e::InfoNumber;
using e2e::ServerProcess;
using e2e::WaitForPort;

constexpr int kWriters = 6;  // half speak RESP, half JSON
constexpr size_t kKeysPerWriter = 32;
constexpr size_t kMaxValueBytes = 200 * 1024;
constexpr int kStartTimeoutS = 60;  // ASan on a loaded 2-core machine

std::string KeyName(size_t key) { return fmt::format("key-{}", key); }

struct KillConfig {
  std::string name;
  std::string engine;
  std::string fsync;
  int rounds;  // default; KVS_CRASH_ROUNDS overrides

  // For gtest/ctest names: the name, not the bytes.
  friend void PrintTo(const KillConfig& c, std::ostream* os) { *os << c.name; }
};

// One writer: a connection of its own, bursts of 1-4 pipelined sets/removes of its own keys.
// Stops when the connection breaks (the kill) or `stop` is set; what was sent but not
// answered stays pending in the model.
class Writer {
 public:
  Writer(int id, Proto proto, ExpectedState* model, uint64_t seed)
      : id_(id), proto_(proto), model_(model), rng_(seed) {}

  void Run(int port, const std::atomic<bool>& stop, std::atomic<uint64_t>& acks) {
    KvConn conn(port, proto_);
    if (!conn.ok()) return;
    struct Op {
      size_t key;
      bool remove;
      bool expect_found;  // a remove: whether the key exists when it runs
    };
    std::vector<Op> ops;
    while (!stop.load(std::memory_order_relaxed)) {
      ops.clear();
      const int burst = 1 + static_cast<int>(rng_() % 4);
      for (int i = 0; i < burst; ++i) {
        const size_t key = id_ * kKeysPerWriter + rng_() % kKeysPerWriter;
        if (rng_() % 100 < 20) {
          ops.push_back({key, true, model_->Latest(key).has_value()});
          model_->Begin(key, std::nullopt);
          conn.AddRemove(KeyName(key));
        } else {
          const std::string value =
              MakeValue(id_, writes_++, PickValueSize(rng_, kMaxValueBytes), rng_);
          ops.push_back({key, false, false});
          model_->Begin(key, FingerprintOf(value));
          conn.AddSet(KeyName(key), value);
        }
      }
      conn.Flush();
      for (const Op& op : ops) {
        std::optional<Reply> r = conn.NextWriteReply();
        if (!r) return;  // the server is gone: this op and the later ones stay pending
        if (!r->ok) {
          failure_ = fmt::format("writer {} ({}): error reply to a write of {}: {}", id_,
                                 ProtoName(proto_), KeyName(op.key), r->error);
          return;
        }
        if (op.remove && r->not_found == op.expect_found) {
          failure_ = fmt::format("writer {} ({}): remove of {} answered {} but the key {}", id_,
                                 ProtoName(proto_), KeyName(op.key),
                                 r->not_found ? "not found" : "removed",
                                 op.expect_found ? "exists" : "does not exist");
          return;
        }
        model_->Ack(op.key);
        acks.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  const std::string& failure() const { return failure_; }

 private:
  const int id_;
  const Proto proto_;
  ExpectedState* const model_;
  std::mt19937_64 rng_;
  uint64_t writes_ = 0;
  std::string failure_;
};

class KillNineTest : public ::testing::TestWithParam<KillConfig> {
 protected:
  std::unique_ptr<ServerProcess> Start() {
    port_ = FreePort();
    return std::make_unique<ServerProcess>(std::vector<std::string>{
        "--addr", fmt::format("127.0.0.1:{}", port_), "--data-dir", dir_.path(), "--engine",
        GetParam().engine, "--fsync", GetParam().fsync, "--segment-bytes", "65536", "--threads",
        "2",
        // Compact often, so that kills land in compactions too.
        "--compact-min-dead-bytes", "65536", "--compact-dead-ratio", "0.3"});
  }

  // Reads every key back and checks it against the model; on success the observed states
  // become the acknowledged ones. Returns the number of keys present.
  size_t VerifyAll(ExpectedState& model, uint64_t seed, int round, uint64_t* applied_in_flight) {
    KvConn conn(port_, Proto::kResp);
    EXPECT_TRUE(conn.ok());
    size_t present = 0, failures = 0;
    constexpr size_t kChunk = 64;
    for (size_t first = 0; first < model.size(); first += kChunk) {
      const size_t last = std::min(model.size(), first + kChunk);
      for (size_t k = first; k < last; ++k) conn.AddGet(KeyName(k));
      conn.Flush();
      for (size_t k = first; k < last; ++k) {
        std::optional<Reply> r = conn.NextGetReply();
        if (!r || !r->ok) {
          ADD_FAILURE() << "seed " << seed << " round " << round << ": GET " << KeyName(k)
                        << " failed: " << (r ? r->error : "connection lost");
          return present;
        }
        KeyState observed;
        if (r->value) observed = FingerprintOf(*r->value);
        if (!model.Allowed(k, observed)) {
          if (++failures <= 20) {
            ADD_FAILURE() << "seed " << seed << " round " << round << ": " << KeyName(k)
                          << " holds " << Describe(observed) << " ("
                          << (r->value ? r->value->substr(0, 24) : std::string("-"))
                          << "...), expected " << model.Explain(k);
          }
          continue;
        }
        if (observed != model.acked(k)) ++*applied_in_flight;
        model.Resolve(k, observed);
        if (observed) ++present;
      }
    }
    if (GetParam().engine == "kvs") {
      // Every key of the store is one of the model's: the index count must agree.
      KvConn stats(port_, Proto::kResp);
      EXPECT_EQ(stats.DbSize(), static_cast<long long>(present)) << "seed " << seed;
    }
    return present;
  }

  kvs::testing::TempDir dir_;
  int port_ = 0;
};

TEST_P(KillNineTest, AcknowledgedWritesSurviveKillNine) {
  const KillConfig& cfg = GetParam();
  const uint64_t seed = TestSeed();
  const int rounds = Rounds(cfg.rounds);
  std::cout << fmt::format("[crash] {}: seed {} (rerun: KVS_CRASH_SEED={}), {} rounds\n", cfg.name,
                           seed, seed, rounds);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  ExpectedState model(kWriters * kKeysPerWriter);
  uint64_t total_acks = 0, total_pending = 0, total_applied = 0, keys_checked = 0;
  // Compactions the servers reported (INFO) just before each kill or stop: a lower bound of
  // those that ran, since INFO counts from the start of each process.
  uint64_t compactions = 0;

  for (int round = 0; round < rounds; ++round) {
    const bool last = round + 1 == rounds;
    auto server = Start();
    ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << server->Stderr();

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> acks{0};
    std::vector<std::unique_ptr<Writer>> writers;
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      writers.push_back(
          std::make_unique<Writer>(w, w % 2 == 0 ? Proto::kResp : Proto::kJson, &model, rng()));
      threads.emplace_back([&, w] { writers[w]->Run(port_, stop, acks); });
    }
    // The kill lands after a random amount of acknowledged work plus a random delay.
    const uint64_t target = 20 + rng() % 400;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (acks.load() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 250));
    compactions += InfoNumber(port_, "compactions").value_or(0);
    // The last round stops with SIGTERM under load: a clean shutdown must keep the same
    // promise (and exit 0).
    const int code = server->Stop(last ? SIGTERM : SIGKILL, 60);
    stop = true;
    for (auto& t : threads) t.join();
    if (last) {
      EXPECT_EQ(code, 0) << server->Stderr();
    } else {
      EXPECT_EQ(code, -SIGKILL);
    }
    for (const auto& w : writers) EXPECT_EQ(w->failure(), "") << "seed " << seed;
    uint64_t pending = 0;
    for (size_t k = 0; k < model.size(); ++k) pending += model.pending(k);
    total_acks += acks.load();
    total_pending += pending;

    if (round % 3 == 1) {
      // A second kill while the restarted server may still be recovering (cutting a torn
      // tail, preallocating): recovery itself must be crash-safe.
      auto early = Start();
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
      early->Stop(SIGKILL, 60);
    }
    auto restarted = Start();
    ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS))
        << "seed " << seed << " round " << round << ": the server did not come back\n"
        << restarted->Stderr();
    uint64_t applied = 0;
    const size_t present = VerifyAll(model, seed, round, &applied);
    total_applied += applied;
    keys_checked += model.size();
    std::cout << fmt::format(
        "[crash] {} round {}: {} after {} acknowledged writes, {} in flight; {} keys checked, "
        "{} present, {} holding an in-flight write\n",
        cfg.name, round, last ? "SIGTERM" : "SIGKILL", acks.load(), pending, model.size(), present,
        applied);
    if (::testing::Test::HasFailure()) {
      std::cout << "[crash] server log after restart:\n" << restarted->Stderr();
      return;
    }
    compactions += InfoNumber(port_, "compactions").value_or(0);
    EXPECT_EQ(restarted->Stop(SIGTERM, 60), 0) << restarted->Stderr();
  }
  if (cfg.engine == "kvs") {
    // Hint files are no proof of compaction (every rolled segment gets one): the servers'
    // own count is. The compactor ran during the rounds, so kills could meet it.
    EXPECT_GT(compactions, 0u) << "no compaction happened; the kills never met one";
  }
  std::cout << fmt::format(
      "[crash] {}: {} rounds, {} acknowledged writes, {} in flight at kills ({} keys found "
      "holding one), {} key checks, {} compactions seen, all passed\n",
      cfg.name, rounds, total_acks, total_pending, total_applied, keys_checked, compactions);
}

INSTANTIATE_TEST_SUITE_P(Engines, KillNineTest,
                         ::testing::Values(KillConfig{"kvs_always", "kvs", "always", 10},
                                           KillConfig{"kvs_never", "kvs", "never", 3},
                                           KillConfig{"rocksdb_always", "rocksdb", "always", 4}),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace kvs::crash
