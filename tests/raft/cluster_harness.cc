#include "raft/cluster_harness.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "proto/resp_codec.h"

namespace kvs::raft_test {

namespace {

using Clock = std::chrono::steady_clock;

std::string RespCommand(const std::vector<std::string>& args) {
  std::string out;
  proto::resp::AppendArrayHeader(args.size(), &out);
  for (const std::string& a : args) proto::resp::AppendBulk(a, &out);
  return out;
}

// The address after "\"leader\":\"" in a not-leader reply; "" when null or absent.
std::string LeaderHint(const std::string& reply) {
  const std::string marker = "\"leader\":\"";
  const size_t at = reply.find(marker);
  if (at == std::string::npos) return "";
  const size_t end = reply.find('"', at + marker.size());
  return reply.substr(at + marker.size(), end - at - marker.size());
}

}  // namespace

Cluster::Cluster(int size, std::vector<std::string> extra_args, int initial)
    : initial_(initial < 0 ? size : initial), extra_args_(std::move(extra_args)) {
  char tmpl[] = "/tmp/kvs-cluster-XXXXXX";
  root_ = ::mkdtemp(tmpl);
  for (int i = 0; i < size; ++i) {
    Node n;
    n.client_port = e2e::FreePort();
    n.raft_port = e2e::FreePort();
    n.dir = fmt::format("{}/node{}", root_, i + 1);
    nodes_.push_back(std::move(n));
  }
}

Cluster::~Cluster() {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].paused) Resume(i);
    nodes_[i].proc.reset();
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void Cluster::UseNetworkNamespaces(const std::vector<std::string>& netns,
                                   const std::vector<std::string>& hosts) {
  for (int i = 0; i < size(); ++i) {
    nodes_[i].launcher = {"/usr/sbin/ip", "netns", "exec", netns[i]};
    nodes_[i].host = hosts[i];
  }
}

std::string Cluster::ClientAddr(int i) const {
  return fmt::format("{}:{}", nodes_[i].host, nodes_[i].client_port);
}

std::string Cluster::PeerSpec(int i) const {
  return fmt::format("{}={}/{}:{}", i + 1, ClientAddr(i), nodes_[i].host, nodes_[i].raft_port);
}

std::optional<std::string> Cluster::LocalValue(int i, const std::string& key) {
  if (!Running(i) || nodes_[i].paused) return std::nullopt;
  e2e::Conn conn(nodes_[i].client_port, nodes_[i].host);
  if (!conn.ok()) return std::nullopt;
  conn.Send(GetJson(key, /*stale=*/true));
  std::optional<std::string> reply = conn.ReadLine(10);
  return reply ? ValueOf(*reply) : std::nullopt;
}

std::vector<std::string> Cluster::ArgsFor(int i) const {
  // The initial nodes know each other; a later node also knows itself and waits (--join).
  const int known = i < initial_ ? initial_ : i + 1;
  std::string peers;
  for (int j = 0; j < known; ++j) peers += (j ? "," : "") + PeerSpec(j);
  std::vector<std::string> args{"--addr",     ClientAddr(i),
                                "--data-dir", nodes_[i].dir,
                                "--node-id",  std::to_string(i + 1),
                                "--peers",    peers,
                                "--threads",  "2"};
  if (i >= initial_) args.push_back("--join");
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  return args;
}

void Cluster::Start(int i) {
  nodes_[i].proc.reset();
  nodes_[i].paused = false;
  nodes_[i].proc = std::make_unique<e2e::ServerProcess>(ArgsFor(i), std::vector<std::string>{},
                                                        nodes_[i].launcher);
  ASSERT_TRUE(e2e::WaitForPort(nodes_[i].client_port, 60, nodes_[i].host)) << Stderr(i);
}

void Cluster::StartAll() {
  for (int i = 0; i < initial_; ++i) Start(i);
}

void Cluster::Kill(int i) {
  if (nodes_[i].paused) Resume(i);
  if (nodes_[i].proc && nodes_[i].proc->running()) nodes_[i].proc->Stop(SIGKILL);
}

void Cluster::Stop(int i) {
  if (nodes_[i].paused) Resume(i);
  ASSERT_TRUE(nodes_[i].proc);
  EXPECT_EQ(nodes_[i].proc->Stop(SIGTERM, 60), 0) << Stderr(i);
}

void Cluster::Pause(int i) {
  ASSERT_TRUE(Running(i));
  ::kill(nodes_[i].proc->pid(), SIGSTOP);
  nodes_[i].paused = true;
}

void Cluster::Resume(int i) {
  ::kill(nodes_[i].proc->pid(), SIGCONT);
  nodes_[i].paused = false;
}

bool Cluster::Running(int i) const {
  return nodes_[i].proc != nullptr && nodes_[i].proc->running();
}

std::string Cluster::Stderr(int i) const {
  return nodes_[i].proc ? nodes_[i].proc->Stderr() : std::string();
}

std::optional<std::string> Cluster::Status(int i, int timeout_s) {
  if (!Running(i) || nodes_[i].paused) return std::nullopt;
  e2e::Conn conn(nodes_[i].client_port, nodes_[i].host);
  if (!conn.ok()) return std::nullopt;
  conn.Send(RespCommand({"CLUSTER", "STATUS"}));
  std::optional<std::string> header = conn.ReadLine(timeout_s);
  if (!header || header->empty() || (*header)[0] != '$') return std::nullopt;
  const size_t len = std::stoul(header->substr(1));
  std::optional<std::string> body = conn.ReadN(len + 2, timeout_s);
  if (!body) return std::nullopt;
  body->resize(len);
  return body;
}

bool Cluster::EventuallyLocal(int i, const std::string& key, const std::string& want,
                              int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    if (LocalValue(i, key) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string StatusField(const std::string& status, const std::string& field) {
  const std::string key = field + ":";
  size_t at = 0;
  while (at < status.size()) {
    size_t eol = status.find('\n', at);
    if (eol == std::string::npos) eol = status.size();
    std::string line = status.substr(at, eol - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(key, 0) == 0) return line.substr(key.size());
    at = eol + 1;
  }
  return "";
}

int Cluster::WaitForLeader(int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    std::map<std::string, int> votes;  // leader id as seen by running nodes
    int running = 0;
    int leader = -1;
    for (int i = 0; i < size(); ++i) {
      std::optional<std::string> s = Status(i, 2);
      if (!s) continue;
      ++running;
      const std::string id = StatusField(*s, "leader_id");
      if (id != "0" && !id.empty()) ++votes[id];
      if (StatusField(*s, "state") == "leader") leader = i;
    }
    if (leader >= 0 && votes[std::to_string(leader + 1)] * 2 > running) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

std::optional<std::string> Cluster::Call(const std::string& json, int start, int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  int at = start;
  while (Clock::now() < deadline) {
    std::optional<std::string> reply;
    if (Running(at) && !nodes_[at].paused) {
      e2e::Conn conn(nodes_[at].client_port, nodes_[at].host);
      if (conn.ok()) {
        conn.Send(json);
        reply = conn.ReadLine(10);
      }
    }
    if (reply && reply->find("\"not leader\"") == std::string::npos &&
        reply->find("may or may not") == std::string::npos) {
      return reply;
    }
    const std::string hint = reply ? LeaderHint(*reply) : "";
    int next = -1;
    for (int j = 0; j < size() && !hint.empty(); ++j) {
      if (ClientAddr(j) == hint) next = j;
    }
    if (next >= 0 && next != at) {
      at = next;
      continue;
    }
    // No answer or no leader known: try the next node after a pause.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    at = (at + 1) % size();
  }
  return std::nullopt;
}

}  // namespace kvs::raft_test
