// ServerTest: a fixture that starts the real kvs-server on a free loopback port with a
// fresh data directory, and runs kvs-client against it.
#pragma once

#include <map>
#include <memory>
#include <sstream>
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
  // field -> value of `kvs-client stats`, whose every line must be "field:<spaces>value".
  std::map<std::string, std::string> Stats() {
    CommandResult r = Client({"stats"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return StatsFields(r.out);
  }
  static std::map<std::string, std::string> StatsFields(const std::string& out) {
    std::map<std::string, std::string> fields;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      size_t colon = line.find(':');
      EXPECT_NE(colon, std::string::npos) << line;
      if (colon == std::string::npos) continue;
      size_t value = line.find_first_not_of(' ', colon + 1);
      EXPECT_NE(value, std::string::npos) << line;
      if (value == std::string::npos) continue;
      fields[line.substr(0, colon)] = line.substr(value);
    }
    return fields;
  }

  kvs::testing::TempDir dir_;
  int port_ = 0;
};

}  // namespace kvs::e2e
