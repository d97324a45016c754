// kvs-server as a systemd service (systemd/kvs.service, docs/OPERATIONS.md): the unit
// verifies and is sandboxed, the server speaks the sd_notify protocol, logs for the
// journal, and the .deb holds what the service needs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadText(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

// The full path of an executable on PATH, if there is one.
std::optional<std::string> Which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

// The build directory (KVS_BIN_DIR is its bin/) and the source tree it was configured from.
fs::path BuildDir() { return fs::path(KVS_BIN_DIR).parent_path(); }

fs::path SourceDir() {
  std::ifstream cache(BuildDir() / "CMakeCache.txt");
  const std::string key = "kvs_SOURCE_DIR:STATIC=";
  for (std::string line; std::getline(cache, line);) {
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
  }
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

fs::path UnitFile() { return SourceDir() / "systemd" / "kvs.service"; }

// A copy of the unit, named kvs.service, whose ExecStart= is the binary under test.
fs::path UnitWithBuiltBinary(const kvs::testing::TempDir& dir) {
  std::string unit = ReadText(UnitFile());
  const std::string from = "ExecStart=/usr/bin/kvs-server";
  size_t at = unit.find(from);
  EXPECT_NE(at, std::string::npos) << "the unit should run /usr/bin/kvs-server";
  if (at != std::string::npos) unit.replace(at, from.size(), "ExecStart=" + BinPath("kvs-server"));
  fs::path copy = fs::path(dir.path()) / "kvs.service";
  WriteText(copy, unit);
  return copy;
}

// ---------------------------------------------------------------------------------------
// The unit file.

TEST(SystemdUnitTest, RunsTheInstalledBinaryAsANotifyService) {
  std::string unit = ReadText(UnitFile());
  ASSERT_FALSE(unit.empty()) << UnitFile();
  EXPECT_THAT(unit, HasSubstr("\nType=notify\n"));
  EXPECT_THAT(unit, HasSubstr("\nExecStart=/usr/bin/kvs-server\n"));
  EXPECT_THAT(unit, HasSubstr("\nStateDirectory=kvs\n"));
  EXPECT_THAT(unit, HasSubstr("\nEnvironment=KVS_DATA_DIR=/var/lib/kvs\n"));
  EXPECT_THAT(unit, HasSubstr("\nEnvironmentFile=-/etc/default/kvs\n"));
  // The environment file comes after Environment= so that it overrides it.
  EXPECT_LT(unit.find("Environment=KVS_DATA_DIR"), unit.find("EnvironmentFile="));
}

TEST(SystemdUnitTest, VerifiesWithSystemdAnalyze) {
  std::optional<std::string> analyze = Which("systemd-analyze");
  if (!analyze) GTEST_SKIP() << "systemd-analyze is not installed";
  kvs::testing::TempDir dir;
  fs::path unit = UnitWithBuiltBinary(dir);
  CommandResult r = RunCommand({*analyze, "verify", unit.string()}, {}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("kvs.service:"))) << "warnings about the unit";
}

TEST(SystemdUnitTest, ExposureScoreIsAtMostTwo) {
  std::optional<std::string> analyze = Which("systemd-analyze");
  if (!analyze) GTEST_SKIP() << "systemd-analyze is not installed";
  CommandResult r =
      RunCommand({*analyze, "security", "--offline=yes", UnitFile().string()}, {}, 120);
  std::smatch m;
  static const std::regex kOverall(R"(Overall exposure level for kvs\.service: ([0-9]+\.[0-9]+))");
  if (!std::regex_search(r.out, m, kOverall)) {
    GTEST_SKIP() << "this systemd-analyze has no offline security check: " << r.err;
  }
  EXPECT_LE(std::stod(m[1].str()), 2.0) << r.out;
}

// ---------------------------------------------------------------------------------------
// sd_notify(3): a datagram socket standing in for the service manager.

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next message; nullopt when none comes within timeout_s (a bound, not a measurement).
  std::optional<std::string> Next(int timeout_s = 30) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_s * 1000) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }
  // Messages until one containing `state` (returned), or nullopt; all seen go to `seen`.
  std::optional<std::string> Until(const std::string& state, std::vector<std::string>* seen) {
    while (std::optional<std::string> msg = Next()) {
      seen->push_back(*msg);
      if (msg->find(state) != std::string::npos) return msg;
    }
    return std::nullopt;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A test run under a service manager must not talk to it, nor to its journal.
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("JOURNAL_STREAM");
    ASSERT_TRUE(notify_.ok()) << "cannot bind " << sock_dir_.File("notify");
  }
  static std::string Joined(const std::vector<std::string>& msgs) {
    std::string out;
    for (const auto& m : msgs) out += "[" + m + "] ";
    return out;
  }

  kvs::testing::TempDir data_dir_;
  kvs::testing::TempDir sock_dir_;
  NotifySocket notify_{sock_dir_.File("notify")};
};

TEST_F(NotifyTest, ReadyOnlyOnceListeningThenStoppingAndExitZeroOnSigterm) {
  ServerProcess server({"--addr", "127.0.0.1:0", "--data-dir", data_dir_.path()}, {notify_.env()});
  std::vector<std::string> seen;
  std::optional<std::string> ready = notify_.Until("READY=1", &seen);
  ASSERT_TRUE(ready) << Joined(seen) << server.Stderr();
  // Recovery was announced before readiness.
  EXPECT_THAT(seen.front(), HasSubstr("STATUS=recovering data directory " + data_dir_.path()));

  // READY=1 comes with the address actually bound, which accepts connections right away.
  std::smatch m;
  static const std::regex kServing(R"(STATUS=serving on 127\.0\.0\.1:([0-9]+), 0 keys)");
  ASSERT_TRUE(std::regex_search(*ready, m, kServing)) << *ready;
  int port = std::stoi(m[1].str());
  Conn conn(port);
  EXPECT_TRUE(conn.ok());
  conn.Send("{\"op\":\"ping\"}\n");
  EXPECT_EQ(conn.ReadLine(), "{\"ok\":true}");

  ::kill(server.pid(), SIGTERM);
  seen.clear();
  EXPECT_TRUE(notify_.Until("STOPPING=1", &seen)) << Joined(seen) << server.Stderr();
  EXPECT_EQ(server.WaitExit(60), 0) << server.Stderr();
}

TEST_F(NotifyTest, ReadyStatusCountsTheRecoveredKeys) {
  const int port = FreePort();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  {
    ServerProcess first({"--addr", addr, "--data-dir", data_dir_.path()});
    ASSERT_TRUE(WaitForPort(port)) << first.Stderr();
    for (const char* key : {"a", "b", "c"}) {
      CommandResult r = RunCommand({BinPath("kvs-client"), "set", key, "v", "--addr", addr});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    ASSERT_EQ(first.Stop(), 0) << first.Stderr();
  }
  ServerProcess second({"--addr", addr, "--data-dir", data_dir_.path()}, {notify_.env()});
  std::vector<std::string> seen;
  std::optional<std::string> ready = notify_.Until("READY=1", &seen);
  ASSERT_TRUE(ready) << Joined(seen) << second.Stderr();
  EXPECT_THAT(*ready, HasSubstr("STATUS=serving on " + addr + ", 3 keys"));
}

TEST_F(NotifyTest, TheLoopSendsWatchdogPingsWhenTheManagerAsksForThem) {
  ServerProcess server({"--addr", "127.0.0.1:0", "--data-dir", data_dir_.path()},
                       {notify_.env(), "WATCHDOG_USEC=2000000"});
  std::vector<std::string> seen;
  ASSERT_TRUE(notify_.Until("READY=1", &seen)) << Joined(seen) << server.Stderr();
  EXPECT_TRUE(notify_.Until("WATCHDOG=1", &seen)) << Joined(seen) << server.Stderr();
  EXPECT_TRUE(notify_.Until("WATCHDOG=1", &seen)) << Joined(seen) << server.Stderr();
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Stderr();
}

TEST_F(NotifyTest, NoReadyWhenThePortCannotBeBound) {
  const int port = FreePort();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  kvs::testing::TempDir other_dir;
  ServerProcess holder({"--addr", addr, "--data-dir", other_dir.path()});
  ASSERT_TRUE(WaitForPort(port)) << holder.Stderr();

  ServerProcess server({"--addr", addr, "--data-dir", data_dir_.path()}, {notify_.env()});
  std::optional<int> code = server.WaitExit(60);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  std::vector<std::string> seen;
  while (std::optional<std::string> msg = notify_.Next(1)) seen.push_back(*msg);
  EXPECT_THAT(Joined(seen), AllOf(Not(HasSubstr("READY=1")), HasSubstr("STATUS=failed: ")));
}

// ---------------------------------------------------------------------------------------
// Logs: "<N>" syslog priorities and no timestamps when stderr is the journal's stream.

// Runs kvs-server on a data directory it cannot create (it logs its start, then the error,
// and exits 1) under /bin/sh, which sets JOURNAL_STREAM to `journal_stream`, or to the
// identity of its own stderr when "self".
CommandResult RunFailingServer(const std::string& journal_stream) {
  std::string set_stream = journal_stream == "self"
                               ? "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2)"
                               : "JOURNAL_STREAM=" + journal_stream;
  return RunCommand({"/bin/sh", "-c",
                     set_stream + " && export JOURNAL_STREAM && exec " + BinPath("kvs-server") +
                         " --addr 127.0.0.1:0 --data-dir /dev/null/kvs"});
}

TEST(JournalLogTest, SyslogPrioritiesWithoutTimestampsWhenStderrIsTheJournal) {
  ::unsetenv("JOURNAL_STREAM");
  CommandResult r = RunFailingServer("self");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, StartsWith("<6>kvs "));
  EXPECT_THAT(r.err, HasSubstr("\n<3>"));
  EXPECT_THAT(r.err, HasSubstr("/dev/null/kvs"));
  EXPECT_FALSE(std::regex_search(r.err, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d)"))) << r.err;
}

TEST(JournalLogTest, TimestampedLinesWhenStderrIsSomethingElse) {
  ::unsetenv("JOURNAL_STREAM");
  // JOURNAL_STREAM inherited from a parent whose stderr was the journal, but ours is not.
  CommandResult r = RunFailingServer("1:2");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(
      std::regex_search(r.err, std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} info kvs )")))
      << r.err;
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex(R"(\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} error .*/dev/null/kvs)")))
      << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("<6>")));
}

// ---------------------------------------------------------------------------------------
// The Debian package, built by CPack from this build directory.

TEST(DebPackageTest, HoldsTheBinariesTheUnitAndTheDefaultsFile) {
  std::optional<std::string> cpack = Which("cpack");
  std::optional<std::string> dpkg_deb = Which("dpkg-deb");
  if (!cpack || !dpkg_deb) GTEST_SKIP() << "cpack or dpkg-deb is not installed";
  kvs::testing::TempDir out;
  CommandResult built = RunCommand({*cpack, "-G", "DEB", "--config",
                                    (BuildDir() / "CPackConfig.cmake").string(), "-B", out.path()},
                                   {}, 280);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  std::optional<fs::path> deb;
  for (const auto& entry : fs::directory_iterator(out.path())) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  ASSERT_TRUE(deb) << built.out;
  EXPECT_THAT(deb->filename().string(), StartsWith("kvs_"));

  CommandResult files = RunCommand({*dpkg_deb, "-c", deb->string()});
  ASSERT_EQ(files.exit_code, 0) << files.err;
  for (const char* path : {" ./usr/bin/kvs-server\n", " ./usr/bin/kvs-client\n",
                           " ./lib/systemd/system/kvs.service\n", " ./etc/default/kvs\n"}) {
    EXPECT_THAT(files.out, HasSubstr(path));
  }

  CommandResult control = RunCommand({*dpkg_deb, "-I", deb->string()});
  ASSERT_EQ(control.exit_code, 0) << control.err;
  EXPECT_THAT(control.out, HasSubstr("Package: kvs\n"));
  EXPECT_THAT(control.out, HasSubstr("liburing2"));  // Depends: from the binaries' libraries
  for (const char* script : {"postinst", "prerm", "postrm", "conffiles"}) {
    EXPECT_THAT(control.out, HasSubstr(std::string(" ") + script + " "));
  }

  // The packaged unit runs the packaged binary and reads the packaged defaults file.
  kvs::testing::TempDir root;
  ASSERT_EQ(RunCommand({*dpkg_deb, "-x", deb->string(), root.path()}).exit_code, 0);
  std::string unit = ReadText(fs::path(root.path()) / "lib/systemd/system/kvs.service");
  EXPECT_THAT(unit, HasSubstr("\nExecStart=/usr/bin/kvs-server\n"));
  EXPECT_THAT(unit, HasSubstr("\nEnvironmentFile=-/etc/default/kvs\n"));
  EXPECT_EQ(ReadText(fs::path(root.path()) / "etc/default/kvs"),
            ReadText(SourceDir() / "systemd" / "kvs.env"));
}

}  // namespace
}  // namespace kvs::e2e
