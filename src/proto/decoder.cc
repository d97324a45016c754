#include "proto/decoder.h"

namespace kvs::proto {

Protocol DetectProtocol(char first_byte) {
  const bool letter = (first_byte >= 'a' && first_byte <= 'z') ||
                      (first_byte >= 'A' && first_byte <= 'Z');
  return first_byte == '*' || letter ? Protocol::kResp : Protocol::kJson;
}

Decoder::Decoder(const ProtoLimits& limits) : json_(limits), resp_(limits) {}

Decoder::Decoder(Protocol protocol, const ProtoLimits& limits)
    : protocol_(protocol), json_(limits), resp_(limits) {}

Decoded Decoder::Next(std::string_view input, bool eof) {
  if (!protocol_) {
    if (input.empty()) return Decoded{};
    protocol_ = DetectProtocol(input[0]);
  }
  return *protocol_ == Protocol::kResp ? resp_.Next(input, eof) : json_.Next(input, eof, padding_);
}

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kGet:
      return "GET";
    case Command::kSet:
      return "SET";
    case Command::kRm:
      return "DEL";
    case Command::kPing:
      return "PING";
    case Command::kExists:
      return "EXISTS";
    case Command::kDbSize:
      return "DBSIZE";
    case Command::kInfo:
      return "INFO";
    case Command::kQuit:
      return "QUIT";
    case Command::kCommand:
      return "COMMAND";
    case Command::kConfigGet:
      return "CONFIG GET";
    case Command::kReadOnly:
      return "READONLY";
    case Command::kReadWrite:
      return "READWRITE";
    case Command::kCluster:
      return "CLUSTER";
    case Command::kRedis:
      return "(by name)";
  }
  return "?";
}

}  // namespace kvs::proto
