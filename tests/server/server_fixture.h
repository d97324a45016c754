// InProcessServerTest: the real kvs::Server on 127.0.0.1 (port 0) over a MemoryEngine and
// a real work-stealing pool, in the test's process, so that a test can hold the engine's
// writes at its gate and look at the batches the group commit made. Clients are
// e2e::Conn sockets (tests/e2e/harness.h).
//
// Threads: the server's loop runs on loop_thread_, which also calls Listen() and destroys
// the Server, as uring::Loop requires one thread for all three. The test thread may call
// server_->Stop() and JoinServer().
#pragma once

#include "store/db_key.h"

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "e2e/harness.h"
#include "pool/thread_pool.h"
#include "proto/resp_codec.h"
#include "server/memory_engine.h"
#include "server/server.h"
#include "uring/loop.h"

namespace kvs::testing {

using e2e::Conn;
using e2e::GetJson;
using e2e::RmJson;
using e2e::SetJson;
using e2e::ValueReply;

// Requests and replies as the wire has them (src/proto/reply.cc, wire_format.h).
inline constexpr char kJsonPing[] = "{\"op\":\"ping\"}\n";
inline constexpr char kJsonOk[] = R"({"ok":true})";
inline constexpr char kJsonNull[] = R"({"ok":true,"value":null})";
inline constexpr char kJsonNotFound[] = R"({"ok":false,"error":"Key not found"})";

// A RESP command as redis-cli sends it: an array of bulk strings.
inline std::string Resp(std::initializer_list<std::string_view> args) {
  std::string out;
  proto::resp::AppendArrayHeader(args.size(), &out);
  for (std::string_view arg : args) proto::resp::AppendBulk(arg, &out);
  return out;
}

class InProcessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!uring::Loop::Create().ok()) GTEST_SKIP() << "io_uring is not available";
  }

  void TearDown() override {
    engine_.OpenGate();  // a write held at the gate would keep the pool from draining
    if (loop_thread_.joinable()) {
      server_->Stop();
      (void)JoinServer();
    }
  }

  // Starts serving with `config` (its address is set here; its clock, unless set, is the
  // engine's) and sets port_.
  void StartServer(ServerConfig config = {}) {
    config.addr = *ParseAddress("127.0.0.1:0");
    if (config.clock == nullptr) config.clock = clock_;
    pool_ = MakePool(PoolKind::kStealing, 2);
    server_ = std::make_unique<Server>(config, &engine_, pool_.get());
    loop_thread_ = std::thread([this] {
      Status listened = server_->Listen();
      if (listened.ok()) port_ = server_->port();
      listened_.set_value(listened);
      if (!listened.ok()) {
        run_.set_value(listened);
        return;
      }
      run_.set_value(server_->Run());
      pool_down_.get_future().wait();
      server_.reset();
    });
    const Status listened = listened_.get_future().get();
    ASSERT_TRUE(listened.ok()) << listened.ToString();
  }

  // Waits for Run() to return (after a Stop()), then shuts the pool down and has the loop
  // thread destroy the server, in the order server.h asks for. Returns Run()'s status.
  Status JoinServer() {
    Status run = run_.get_future().get();
    pool_->Shutdown(ShutdownMode::kDrain);
    pool_down_.set_value();
    loop_thread_.join();
    return run;
  }

  // The engine's value of `key` (of database 0), or its error as text.
  std::string Stored(std::string_view key) {
    Result<std::string> value = engine_.Get(EncodeDbKey(0, key));
    return value.ok() ? *value : value.status().ToString();
  }

  // The value of `field` in the server's INFO, asked over `conn`; 0 when absent.
  static uint64_t InfoField(e2e::Conn& conn, const std::string& field) {
    conn.Send("*1\r\n$4\r\nINFO\r\n");
    const std::string header = conn.ReadLine().value_or("$0\r");
    size_t len = 0;
    std::from_chars(header.data() + 1, header.data() + header.size(), len);
    const std::string text = conn.ReadN(len + 2).value_or("");
    const size_t at = text.find("\r\n" + field + ":");
    if (at == std::string::npos) return 0;
    uint64_t value = 0;
    std::from_chars(text.data() + at + field.size() + 3, text.data() + text.size(), value);
    return value;
  }

  // Waits until the server has decoded `n` requests besides the INFOs this asks with, so
  // that requests already sent are known to be in its hands; false after 30 s.
  bool WaitForRequestsDecoded(e2e::Conn& info, uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      ++infos_sent_;
      if (InfoField(info, "total_commands_processed") >= n + infos_sent_) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  // The wall clock plus clock_offset_ms_: tests step it forward and back.
  std::atomic<int64_t> clock_offset_ms_{0};
  const std::shared_ptr<ExpiryClock> clock_ = std::make_shared<ExpiryClock>(
      [this] { return ExpiryClock::SystemMs() + clock_offset_ms_.load(); });
  MemoryEngine engine_{clock_};
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Server> server_;
  int port_ = 0;

 private:
  std::thread loop_thread_;
  std::promise<Status> listened_;
  std::promise<Status> run_;
  std::promise<void> pool_down_;
  uint64_t infos_sent_ = 0;
};

}  // namespace kvs::testing
