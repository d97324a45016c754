// kvs::Server's group commit, in-process over a MemoryEngine whose gate holds a batch in
// Engine::Write: writes arriving meanwhile form the next batch; a failed batch fails
// every write in it; Stop() acknowledges what is in flight before Run() returns.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "server/server_fixture.h"

namespace kvs::testing {
namespace {

constexpr auto kGateTimeout = std::chrono::seconds(30);

class GroupCommitTest : public InProcessServerTest {
 protected:
  // Starts the server, closes the engine's gate and puts one write ("first") in flight,
  // held at the gate: every write the server receives from now on waits for the next
  // batch. `first_` gets its reply once the gate opens.
  void StartWithABatchHeldAtTheGate() {
    StartServer();
    engine_.CloseGate();
    first_ = std::make_unique<Conn>(port_);
    first_->Send(SetJson("first", "1"));
    ASSERT_TRUE(engine_.WaitForWritersAtGate(1, kGateTimeout));
    info_ = std::make_unique<Conn>(port_);
  }

  // Each client sends, in one go: set a, rm a, rm a (absent by then), set b. JSON clients
  // are the even ones, RESP the odd ones.
  static std::string Burst(int client) {
    const std::string a = "a" + std::to_string(client), b = "b" + std::to_string(client);
    if (client % 2 == 0) return SetJson(a, "x") + RmJson(a) + RmJson(a) + SetJson(b, "y");
    return Resp({"SET", a, "x"}) + Resp({"DEL", a}) + Resp({"DEL", a}) + Resp({"SET", b, "y"});
  }
  static constexpr size_t kRequestsPerBurst = 4;
  // The ops of n clients' bursts: a RESP DEL of an absent key is decided on the loop and
  // writes nothing; JSON's rm leaves that to the engine.
  static size_t OpsOfBursts(int n) { return n * kRequestsPerBurst - n / 2; }

  // The replies to Burst(client), in order, when its batch succeeded.
  static void ExpectBurstReplies(Conn& c, int client) {
    if (client % 2 == 0) {
      EXPECT_EQ(c.ReadLine(), kJsonOk) << client;
      EXPECT_EQ(c.ReadLine(), kJsonOk) << client;
      EXPECT_EQ(c.ReadLine(), kJsonNotFound) << client;
      EXPECT_EQ(c.ReadLine(), kJsonOk) << client;
    } else {
      EXPECT_EQ(c.ReadLine(), "+OK\r") << client;
      EXPECT_EQ(c.ReadLine(), ":1\r") << client;
      EXPECT_EQ(c.ReadLine(), ":0\r") << client;
      EXPECT_EQ(c.ReadLine(), "+OK\r") << client;
    }
  }

  // Connects `n` clients and sends each its Burst; returns once the server decoded them.
  std::vector<std::unique_ptr<Conn>> SendBursts(int n) {
    std::vector<std::unique_ptr<Conn>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<Conn>(port_));
      clients.back()->Send(Burst(i));
    }
    // "first" was decoded before, as were the INFO requests, which are not counted here.
    EXPECT_TRUE(WaitForRequestsDecoded(*info_, 1 + n * kRequestsPerBurst));
    return clients;
  }

  std::unique_ptr<Conn> first_;
  std::unique_ptr<Conn> info_;
};

TEST_F(GroupCommitTest, WritesArrivingDuringABatchCommitTogetherAsTheNext) {
  StartWithABatchHeldAtTheGate();
  constexpr int kClients = 8;
  std::vector<std::unique_ptr<Conn>> clients = SendBursts(kClients);
  engine_.OpenGate();

  EXPECT_EQ(first_->ReadLine(), kJsonOk);
  for (int i = 0; i < kClients; ++i) ExpectBurstReplies(*clients[i], i);
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, OpsOfBursts(kClients)}));
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(Stored("a" + std::to_string(i)), "NotFound: Key not found") << i;
    EXPECT_EQ(Stored("b" + std::to_string(i)), "y") << i;
  }
}

TEST_F(GroupCommitTest, ReadsOfOtherConnectionsAreServedWhileABatchIsInFlight) {
  StartServer();
  ASSERT_TRUE(engine_.Set(EncodeDbKey(0, "k"), "old").ok());
  engine_.CloseGate();
  Conn writer(port_), reader(port_);
  writer.Send(SetJson("k", "new"));
  ASSERT_TRUE(engine_.WaitForWritersAtGate(1, kGateTimeout));
  reader.Send(GetJson("k") + GetJson("missing"));
  EXPECT_EQ(reader.ReadLine(), ValueReply("old"));  // the write is not acknowledged yet
  EXPECT_EQ(reader.ReadLine(), kJsonNull);
  engine_.OpenGate();
  EXPECT_EQ(writer.ReadLine(), kJsonOk);
  reader.Send(GetJson("k"));
  EXPECT_EQ(reader.ReadLine(), ValueReply("new"));
}

TEST_F(GroupCommitTest, AFailedBatchFailsEveryWriteInItAndLaterWritesAreRefused) {
  StartWithABatchHeldAtTheGate();
  engine_.FailWriteCall(2, Status::IOError("injected fdatasync failure"));
  constexpr int kClients = 6;
  std::vector<std::unique_ptr<Conn>> clients = SendBursts(kClients);
  engine_.OpenGate();

  EXPECT_EQ(first_->ReadLine(), kJsonOk);  // its batch was before the failure
  for (int i = 0; i < kClients; ++i) {
    for (size_t r = 0; r < kRequestsPerBurst; ++r) {
      if (i % 2 == 0) {
        EXPECT_EQ(clients[i]->ReadLine(),
                  R"({"ok":false,"error":"IOError: injected fdatasync failure"})")
            << i;
      } else {
        EXPECT_EQ(clients[i]->ReadLine(), "-ERR IOError: injected fdatasync failure\r") << i;
      }
    }
  }
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, OpsOfBursts(kClients)}));

  // Nothing of the failed batch was applied, reads go on, writes are refused.
  clients[0]->Send(GetJson("b0") + GetJson("first") + SetJson("later", "z"));
  EXPECT_EQ(clients[0]->ReadLine(), kJsonNull);
  EXPECT_EQ(clients[0]->ReadLine(), ValueReply("1"));
  EXPECT_EQ(clients[0]->ReadLine(),
            R"({"ok":false,"error":"ReadOnly: store is read-only after a failed write: )"
            R"(IOError: injected fdatasync failure"})");
  clients[1]->Send(Resp({"DEL", "first"}));
  EXPECT_EQ(clients[1]->ReadLine(),
            "-ERR ReadOnly: store is read-only after a failed write: IOError: injected "
            "fdatasync failure\r");
  EXPECT_EQ(Stored("first"), "1");
}

TEST_F(GroupCommitTest, StopAcknowledgesWritesInFlightBeforeRunReturns) {
  StartWithABatchHeldAtTheGate();
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<Conn>> clients = SendBursts(kClients);
  server_->Stop();
  engine_.OpenGate();
  const Status run = JoinServer();
  EXPECT_TRUE(run.ok()) << run.ToString();

  // Run() has returned and the server is gone: what the clients read now was sent before.
  EXPECT_EQ(first_->ReadLine(), kJsonOk);
  for (int i = 0; i < kClients; ++i) {
    ExpectBurstReplies(*clients[i], i);
    EXPECT_EQ(clients[i]->ReadAll(), "") << i;
    EXPECT_TRUE(clients[i]->peer_closed()) << i;
  }
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, OpsOfBursts(kClients)}));
  EXPECT_EQ(Stored("first"), "1");
  EXPECT_EQ(Stored("b3"), "y");
}

}  // namespace
}  // namespace kvs::testing
