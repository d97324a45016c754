// libFuzzer target: the JSON decoder (and the JSON reply/request encoders it round-trips
// through). See fuzz_harness.h for the properties checked.
#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return kvs::proto::fuzz::FuzzOne(kvs::proto::Protocol::kJson, data, size);
}
