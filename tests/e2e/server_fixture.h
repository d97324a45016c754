// ServerTest: a fixture that starts the real kvs-server on a free loopback port with a
// fresh data directory, and runs kvs-client against it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::e2e {

class ServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra = {},
                                       std::vector<std::string> env = {}) {
    port_ = FreePort();
    std::vector<std::string> args{"--addr", Addr(), "--data-dir", dir_.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<ServerProcess>(args, env);
    EXPECT_TRUE(WaitForPort(port_)) << s->Stderr();
    return s;
  }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  CommandResult Client(std::vector<std::string> args) {
    args.insert(args.begin(), BinPath("kvs-client"));
    args.push_back("--addr");
    args.push_back(Addr());
    return RunCommand(args);
  }

  kvs::testing::TempDir dir_;
  int port_ = 0;
};

}  // namespace kvs::e2e
