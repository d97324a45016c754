// Transactions and read-modify-write commands against the real kvs-server (issue 17):
//   - MULTI/EXEC is all or nothing across kill -9: a transaction's writes join one group
//     commit batch, whose records recover together or not at all;
//   - N clients doing M INCRs each leave exactly N×M, on both engines (RocksDB's reads all
//     go off the loop first, so every INCR there takes the fetch path);
//   - FLUSHDB and FLUSHALL (one prefix delete each) hold across kill -9.
//
// Seeded: the seed is printed; rerun one with KVS_CRASH_SEED=<seed>.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::crash {
namespace {

using e2e::Conn;
using e2e::FreePort;
using e2e::ServerProcess;
using e2e::WaitForPort;

constexpr int kStartTimeoutS = 60;  // ASan on a loaded 2-core machine

std::string Resp(const std::vector<std::string>& words) {
  std::string s = fmt::format("*{}\r\n", words.size());
  for (const std::string& w : words) s += fmt::format("${}\r\n{}\r\n", w.size(), w);
  return s;
}

// GET over `conn`: the value, or nullopt for a missing key.
std::optional<std::string> Get(Conn& conn, const std::string& key) {
  conn.Send(Resp({"GET", key}));
  std::optional<std::string> header = conn.ReadLine();
  if (!header || header->empty() || (*header)[0] != '$') {
    ADD_FAILURE() << "GET " << key << ": " << header.value_or("(no reply)");
    return std::nullopt;
  }
  const long len = std::stol(header->substr(1));
  if (len < 0) return std::nullopt;
  std::optional<std::string> body = conn.ReadN(static_cast<size_t>(len) + 2);
  if (!body) return std::nullopt;
  return body->substr(0, static_cast<size_t>(len));
}

uint64_t Seed() {
  if (const char* s = std::getenv("KVS_CRASH_SEED")) return std::stoull(s);
  return std::random_device{}();
}

class TransactionTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<ServerProcess> Start() {
    auto server = std::make_unique<ServerProcess>(std::vector<std::string>{
        "--addr", fmt::format("127.0.0.1:{}", port_), "--data-dir",
        dir_.path(), "--engine", GetParam()});
    EXPECT_TRUE(WaitForPort(port_, kStartTimeoutS));
    return server;
  }

  const int port_ = FreePort();
  testing::TempDir dir_;
};

// Each transaction sets every key of one group to a new value: after any kill, a group's keys
// hold one value (or are all absent), never a mix of two transactions.
TEST_P(TransactionTest, MultiExecIsAllOrNothingAcrossKill9) {
  const uint64_t seed = Seed();
  std::cout << "seed " << seed << " (KVS_CRASH_SEED)\n";
  std::mt19937_64 rng(seed);
  constexpr int kGroups = 4;
  constexpr int kKeysPerGroup = 5;
  constexpr int kRounds = 3;
  auto key = [](int g, int k) { return fmt::format("group{}:key{}", g, k); };
  for (int round = 0; round < kRounds; ++round) {
    auto server = Start();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> acked{0};
    std::thread writer([&, round] {
      Conn conn(port_);
      std::mt19937_64 wrng(seed + static_cast<uint64_t>(round));
      for (uint64_t n = 0; !stop.load(); ++n) {
        // A few transactions in one write, then their replies.
        std::string burst;
        const int count = 1 + static_cast<int>(wrng() % 4);
        for (int t = 0; t < count; ++t) {
          const int g = static_cast<int>(wrng() % kGroups);
          // Large values: the batch's write takes long enough to be cut by the kill.
          const std::string value =
              fmt::format("r{}-n{}-t{}-", round, n, t) + std::string(20000 + wrng() % 40000, 'v');
          burst += Resp({"MULTI"});
          for (int k = 0; k < kKeysPerGroup; ++k) burst += Resp({"SET", key(g, k), value});
          burst += Resp({"EXEC"});
        }
        conn.Send(burst);
        // +OK, QUEUED × keys, then EXEC's array header and its +OKs, per transaction.
        for (int line = 0; line < count * (2 + 2 * kKeysPerGroup); ++line) {
          if (!conn.ReadLine(5)) return;  // killed
        }
        acked += static_cast<uint64_t>(count);
      }
    });
    // The kill falls at a random point after the first acknowledgement (a loaded machine
    // may take longer than any fixed delay to get there; 60 s bounds a hang).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (acked.load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 600));
    server->Stop(SIGKILL);
    stop = true;
    writer.join();
    server = Start();
    Conn conn(port_);
    for (int g = 0; g < kGroups; ++g) {
      const std::optional<std::string> first = Get(conn, key(g, 0));
      for (int k = 1; k < kKeysPerGroup; ++k) {
        const std::optional<std::string> other = Get(conn, key(g, k));
        EXPECT_EQ(other.has_value(), first.has_value()) << "round " << round << " " << key(g, k);
        if (first && other) {
          EXPECT_EQ(other->substr(0, 32), first->substr(0, 32))
              << "round " << round << ": a transaction was applied in part, group " << g;
          EXPECT_EQ(*other, *first) << "round " << round << " group " << g;
        }
      }
    }
    EXPECT_GT(acked.load(), 0u) << "round " << round << ": nothing was acknowledged";
    server->Stop();
  }
}

// Increments decided in commit order: none lost, none counted twice, however they batch.
TEST_P(TransactionTest, ConcurrentIncrementsAllCount) {
  auto server = Start();
  constexpr int kClients = 8;
  constexpr int kPerClient = 400;
  constexpr int kPipeline = 20;
  std::vector<std::thread> clients;
  std::atomic<int> errors{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Conn conn(port_);
      for (int done = 0; done < kPerClient; done += kPipeline) {
        std::string burst;
        for (int j = 0; j < kPipeline; ++j) {
          burst += Resp({"INCR", "counter"});
          burst += Resp({"INCRBY", "by3", "3"});
          // Each client's own key too, read back and rewritten by APPEND.
          burst += Resp({"APPEND", fmt::format("log{}", i), "x"});
        }
        conn.Send(burst);
        for (int j = 0; j < 3 * kPipeline; ++j) {
          std::optional<std::string> line = conn.ReadLine();
          if (!line || line->empty() || (*line)[0] != ':') ++errors;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  Conn conn(port_);
  EXPECT_EQ(Get(conn, "counter"), std::to_string(kClients * kPerClient));
  EXPECT_EQ(Get(conn, "by3"), std::to_string(3 * kClients * kPerClient));
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(Get(conn, fmt::format("log{}", i)), std::string(kPerClient, 'x'));
  }
  // And after a restart, from the disk.
  server->Stop();
  server = Start();
  Conn again(port_);
  EXPECT_EQ(Get(again, "counter"), std::to_string(kClients * kPerClient));
  server->Stop();
}

// FLUSHDB and FLUSHALL are acknowledged once durable: after a kill -9 the flushed keys stay
// gone, the other databases' stay, and what was written after the flush is there.
TEST_P(TransactionTest, FlushesSurviveKill9) {
  auto server = Start();
  auto send = [](Conn& conn, const std::vector<std::string>& words) {
    conn.Send(Resp(words));
    std::string line = conn.ReadLine().value_or("(no reply)");
    if (line.ends_with('\r')) line.pop_back();
    return line;
  };
  {
    Conn conn(port_);
    for (int db = 0; db < 2; ++db) {
      ASSERT_EQ(send(conn, {"SELECT", std::to_string(db)}), "+OK");
      for (int chunk = 0; chunk < 10; ++chunk) {
        std::vector<std::string> mset{"MSET"};
        for (int i = 0; i < 100; ++i) {
          mset.push_back(fmt::format("k{}", chunk * 100 + i));
          mset.push_back(fmt::format("v{}-{}", db, chunk * 100 + i));
        }
        ASSERT_EQ(send(conn, mset), "+OK");
      }
    }
    ASSERT_EQ(send(conn, {"FLUSHDB"}), "+OK");  // db 1
    ASSERT_EQ(send(conn, {"SET", "after", "1"}), "+OK");
  }
  server->Stop(SIGKILL);
  server = Start();
  {
    Conn conn(port_);
    EXPECT_EQ(send(conn, {"DBSIZE"}), ":1000");
    EXPECT_EQ(Get(conn, "k999"), "v0-999");
    ASSERT_EQ(send(conn, {"SELECT", "1"}), "+OK");
    EXPECT_EQ(send(conn, {"DBSIZE"}), ":1");
    EXPECT_EQ(Get(conn, "after"), "1");
    EXPECT_EQ(Get(conn, "k0"), std::nullopt);
    ASSERT_EQ(send(conn, {"FLUSHALL"}), "+OK");
    ASSERT_EQ(send(conn, {"SET", "after-all", "2"}), "+OK");
  }
  server->Stop(SIGKILL);
  server = Start();
  Conn conn(port_);
  EXPECT_EQ(send(conn, {"DBSIZE"}), ":0");
  ASSERT_EQ(send(conn, {"SELECT", "1"}), "+OK");
  EXPECT_EQ(send(conn, {"DBSIZE"}), ":1");
  EXPECT_EQ(Get(conn, "after-all"), "2");
  server->Stop();
}

INSTANTIATE_TEST_SUITE_P(Engines, TransactionTest, ::testing::Values("kvs", "rocksdb"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace kvs::crash
