#include "server/connection.h"

namespace kvs::server_internal {

Call Call::From(const proto::Request& request) {
  Call call;
  call.shape = request.shape;
  call.command = request.command;
  call.key = request.key;
  call.value = request.value;
  call.stale = request.stale;
  call.args.reserve(request.args.size());
  for (std::string_view arg : request.args) call.args.emplace_back(arg);
  return call;
}

std::vector<std::string> Call::Keys() && {
  if (args.empty()) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    return keys;
  }
  return std::move(args);
}

CallClass Classify(const Call& call) {
  if (call.command != proto::Command::kRedis) return Classify(call.command);
  switch (call.spec->id) {
    case proto::CommandId::kExec:
      return CallClass::kWrite;
    case proto::CommandId::kInfo:  // the keyspace is counted on the pool
    case proto::CommandId::kCluster:
      return CallClass::kRead;
    default:
      break;
  }
  switch (call.spec->exec) {
    case proto::Exec::kRead:
      return CallClass::kRead;
    case proto::Exec::kWrite:
      return CallClass::kWrite;
    case proto::Exec::kConnection:
    case proto::Exec::kTransaction:
      return CallClass::kLocal;
  }
  return CallClass::kLocal;
}

CallClass Classify(proto::Command command) {
  switch (command) {
    case proto::Command::kGet:
    case proto::Command::kExists:
    case proto::Command::kDbSize:
    case proto::Command::kCluster:  // answered asynchronously, like a read
      return CallClass::kRead;
    case proto::Command::kSet:
    case proto::Command::kRm:
      return CallClass::kWrite;
    case proto::Command::kPing:
    case proto::Command::kInfo:
    case proto::Command::kQuit:
    case proto::Command::kCommand:
    case proto::Command::kConfigGet:
    case proto::Command::kReadOnly:
    case proto::Command::kReadWrite:
    case proto::Command::kRedis:
      return CallClass::kLocal;
  }
  return CallClass::kLocal;
}

}  // namespace kvs::server_internal
