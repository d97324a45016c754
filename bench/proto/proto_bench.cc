// Parse and encode throughput of the protocol layer (docs/perf-proto.md).
// Each parse benchmark decodes a pipelined buffer of requests the way a connection does;
// items = requests, bytes = wire bytes. Encode benchmarks append GET replies to one buffer.
#include <benchmark/benchmark.h>

#include <string>

#include "proto/decoder.h"
#include "proto/reply.h"
#include "proto/request_encoder.h"

namespace kvs::proto {
namespace {

constexpr size_t kKeyBytes = 16;

// Enough requests of `value_bytes` to fill ~1 MiB (at least 1).
std::string Pipeline(Shape shape, Command command, size_t value_bytes, bool escapes,
                     size_t* count) {
  const size_t n = std::max<size_t>(1, (size_t{1} << 20) / (value_bytes + 64));
  std::string value(value_bytes, 'v');
  if (escapes) {
    for (size_t i = 0; i < value.size(); i += 8) value[i] = '"';  // 1 in 8 escaped
  }
  std::string wire;
  for (size_t i = 0; i < n; ++i) {
    std::string key = "key:" + std::to_string(100000000000 + i);
    key.resize(kKeyBytes, 'k');
    Request r{shape, command, key, value, command == Command::kSet, {}, false, {}};
    EncodeRequest(r, &wire);
  }
  *count = n;
  return wire;
}

void Parse(benchmark::State& state, Shape shape, Command command, bool escapes, bool padded) {
  size_t n;
  const std::string wire =
      Pipeline(shape, command, static_cast<size_t>(state.range(0)), escapes, &n);
  // Slack after the data, for the padded variant.
  std::string storage = wire + std::string(64, ' ');
  const std::string_view input(storage.data(), wire.size());
  for (auto _ : state) {
    Decoder decoder(shape == Shape::kResp ? Protocol::kResp : Protocol::kJson);
    if (padded) decoder.set_input_padding(64);
    std::string_view rest = input;
    size_t got = 0;
    for (;;) {
      Decoded d = decoder.Next(rest);
      if (d.status != DecodeStatus::kRequest) break;
      benchmark::DoNotOptimize(d.request.value.data());
      rest.remove_prefix(d.consumed);
      ++got;
    }
    if (got != n) state.SkipWithError("not every request decoded");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}

void BM_JsonParseSet(benchmark::State& s) { Parse(s, Shape::kJson, Command::kSet, false, false); }
void BM_JsonParseSetPadded(benchmark::State& s) {
  Parse(s, Shape::kJson, Command::kSet, false, true);
}
void BM_JsonParseSetEscaped(benchmark::State& s) {
  Parse(s, Shape::kJson, Command::kSet, true, false);
}
void BM_JsonParseGet(benchmark::State& s) { Parse(s, Shape::kJson, Command::kGet, false, false); }
void BM_LegacyParseSet(benchmark::State& s) {
  Parse(s, Shape::kJsonLegacy, Command::kSet, false, false);
}
void BM_RespParseSet(benchmark::State& s) { Parse(s, Shape::kResp, Command::kSet, false, false); }
void BM_RespParseGet(benchmark::State& s) { Parse(s, Shape::kResp, Command::kGet, false, false); }

// Value sizes: small (100 B), medium (16 KiB), large (1 MiB).
BENCHMARK(BM_JsonParseSet)->Arg(100)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK(BM_JsonParseSetPadded)->Arg(100)->Arg(1 << 20);
BENCHMARK(BM_JsonParseSetEscaped)->Arg(100)->Arg(1 << 20);
BENCHMARK(BM_JsonParseGet)->Arg(0);
BENCHMARK(BM_LegacyParseSet)->Arg(100);
BENCHMARK(BM_RespParseSet)->Arg(100)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK(BM_RespParseGet)->Arg(0);

// One request alone in its buffer: the JSON line must be copied for simdjson's padding
// unless the caller promises slack (padded).
void ParseOne(benchmark::State& state, bool padded) {
  std::string wire;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  EncodeRequest({Shape::kJson, Command::kSet, "key", value, true, {}, false, {}}, &wire);
  std::string storage = wire + std::string(64, ' ');
  const std::string_view input(storage.data(), wire.size());
  Decoder decoder(Protocol::kJson);
  if (padded) decoder.set_input_padding(64);
  for (auto _ : state) {
    Decoded d = decoder.Next(input);
    benchmark::DoNotOptimize(d.request.value.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
void BM_JsonParseOneCopied(benchmark::State& s) { ParseOne(s, false); }
void BM_JsonParseOnePadded(benchmark::State& s) { ParseOne(s, true); }
BENCHMARK(BM_JsonParseOneCopied)->Arg(100)->Arg(1 << 20);
BENCHMARK(BM_JsonParseOnePadded)->Arg(100)->Arg(1 << 20);

void Encode(benchmark::State& state, Shape shape) {
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const size_t n = std::max<size_t>(1, (size_t{1} << 20) / (value.size() + 32));
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (size_t i = 0; i < n; ++i) EncodeGetReply(shape, value, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
void BM_JsonEncodeGet(benchmark::State& s) { Encode(s, Shape::kJson); }
void BM_RespEncodeGet(benchmark::State& s) { Encode(s, Shape::kResp); }
BENCHMARK(BM_JsonEncodeGet)->Arg(100)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK(BM_RespEncodeGet)->Arg(100)->Arg(16 << 10)->Arg(1 << 20);

void BM_RespEncodeSetOk(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 1000; ++i) EncodeSetReply(Shape::kResp, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_RespEncodeSetOk);

}  // namespace
}  // namespace kvs::proto

BENCHMARK_MAIN();
