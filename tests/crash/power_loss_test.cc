// Power loss and disk faults at the store level (issue 8), through the Env seam: LogStore
// with FsyncPolicy::kAlways, driven by concurrent Engine::Write batches, on a PowerLossEnv
// (crash/power_loss_env.h) that keeps only what was synced when the power goes.
//
// Promises checked: every acknowledged write is there after the power comes back; a batch
// in flight is all or nothing; a failed write or sync fails its batch, turns the store
// read-only (ReadOnly after) without retrying the sync, reads go on, and a reopen after the
// fault clears recovers everything acknowledged.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "crash/expected_state.h"
#include "crash/power_loss_env.h"
#include "store/log_store.h"
#include "store/test_util.h"

namespace kvs::crash {
namespace {

constexpr int kWriters = 4;
constexpr size_t kKeysPerWriter = 16;
constexpr size_t kMaxValueBytes = 40 * 1024;  // above the segment size: some get their own
constexpr uint64_t kSegmentBytes = 16 * 1024;

std::string KeyName(size_t key) { return fmt::format("key-{}", key); }

// A writer's batch whose fate was unknown when it stopped: all or nothing after the crash.
struct InFlight {
  std::vector<size_t> keys;
  std::vector<KeyState> before, after;  // per key: acknowledged state, state after the batch
};

class StoreCrashTest : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(data_); }

  Options StoreOptions() {
    Options o;
    o.data_dir = data_;
    o.fsync = FsyncPolicy::kAlways;
    o.segment_bytes = kSegmentBytes;
    o.on_warning = [this](std::string_view w) {
      std::lock_guard lock(warnings_mu_);
      warnings_.emplace_back(w);
    };
    return o;
  }

  // For the tests that count every sync and every failed one in the process: without the
  // background thread, whose hint files (fsynced) would race the counters. Hints under
  // power loss are covered by AcknowledgedWritesSurvivePowerLossAtRandomPoints.
  Options FaultOptions() {
    Options o = StoreOptions();
    o.background_compaction = false;
    // The zero-filler's writes and fdatasyncs go through the Env too, on a descriptor of
    // its own; an injected fault must hit the writer's, which is what these tests follow.
    // (The filler's own failures: tests/store/zero_filler_test.cc.)
    o.zero_fill_ahead_bytes = 0;
    return o;
  }

  // Every key against the model; observed states become the acknowledged ones.
  void VerifyAll(Engine& store, ExpectedState& model, const std::string& ctx) {
    int failures = 0;
    for (size_t k = 0; k < model.size(); ++k) {
      Result<std::string> got = store.Get(KeyName(k));
      KeyState observed;
      if (got.ok()) {
        observed = FingerprintOf(*got);
      } else if (!got.status().IsNotFound()) {
        ADD_FAILURE() << ctx << ": Get " << KeyName(k) << ": " << got.status().ToString();
        continue;
      }
      if (!model.Allowed(k, observed)) {
        if (++failures <= 20) {
          ADD_FAILURE() << ctx << ": " << KeyName(k) << " holds " << Describe(observed)
                        << ", expected " << model.Explain(k);
        }
        continue;
      }
      model.Resolve(k, observed);
    }
  }

  // Opens the store after a crash and checks it: each batch that was in flight applied all
  // or nothing, every key as the model allows. Null (a failure recorded) if it cannot open.
  std::unique_ptr<LogStore> OpenAndVerify(const Options& options, Env& env, ExpectedState& model,
                                          const std::vector<std::optional<InFlight>>& in_flight,
                                          const std::string& ctx);

  kvs::testing::TempDir dir_;
  const std::string data_ = dir_.File("data");
  std::mutex warnings_mu_;
  std::vector<std::string> warnings_;
};

// Writes batches of 1-4 puts/deletes of the writer's own keys until one fails (or
// `max_batches`). Returns the failed batch, if any; `first_error` gets its status.
std::optional<InFlight> RunStoreWriter(Engine& store, ExpectedState& model, int id, uint64_t seed,
                                       int max_batches, Status* first_error,
                                       std::atomic<uint64_t>& acks) {
  std::mt19937_64 rng(seed);
  uint64_t writes = 0;
  for (int b = 0; b < max_batches; ++b) {
    WriteBatch batch;
    InFlight f;
    std::vector<bool> expect_found;
    std::vector<size_t> op_keys;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      const size_t key = id * kKeysPerWriter + rng() % kKeysPerWriter;
      op_keys.push_back(key);
      if (std::find(f.keys.begin(), f.keys.end(), key) == f.keys.end()) {
        f.keys.push_back(key);
        f.before.push_back(model.acked(key));
      }
      if (rng() % 100 < 20) {
        expect_found.push_back(model.Latest(key).has_value());
        batch.Delete(KeyName(key));
        model.Begin(key, std::nullopt);
      } else {
        std::string value = MakeValue(id, writes++, PickValueSize(rng, kMaxValueBytes), rng);
        expect_found.push_back(false);
        model.Begin(key, FingerprintOf(value));
        batch.Put(KeyName(key), value);
      }
    }
    std::vector<Status> results;
    Status s = store.Write(batch, &results);
    if (!s.ok()) {
      *first_error = s;
      for (size_t key : f.keys) f.after.push_back(model.Latest(key));
      return f;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const bool is_delete = batch.ops()[i].kind == WriteBatch::OpKind::kDelete;
      EXPECT_EQ(results[i].IsNotFound(), is_delete && !expect_found[i]) << results[i].ToString();
      model.Ack(op_keys[i]);
    }
    acks.fetch_add(batch.size());
  }
  return std::nullopt;
}

// All-or-nothing: the batch's keys are all as before it or all as after it.
void ExpectAtomic(Engine& store, const InFlight& f, const std::string& ctx) {
  bool all_before = true, all_after = true;
  for (size_t i = 0; i < f.keys.size(); ++i) {
    Result<std::string> got = store.Get(KeyName(f.keys[i]));
    const KeyState observed = got.ok() ? KeyState(FingerprintOf(*got)) : std::nullopt;
    all_before = all_before && observed == f.before[i];
    all_after = all_after && observed == f.after[i];
  }
  EXPECT_TRUE(all_before || all_after)
      << ctx << ": a batch of " << f.keys.size() << " keys was applied in part";
}

std::unique_ptr<LogStore> StoreCrashTest::OpenAndVerify(
    const Options& options, Env& env, ExpectedState& model,
    const std::vector<std::optional<InFlight>>& in_flight, const std::string& ctx) {
  Result<std::unique_ptr<LogStore>> opened = LogStore::Open(options, &env);
  if (!opened.ok()) {
    ADD_FAILURE() << ctx << ": " << opened.status().ToString();
    return nullptr;
  }
  std::unique_ptr<LogStore> store = std::move(opened).value();
  for (const auto& f : in_flight) {
    if (f) ExpectAtomic(*store, *f, ctx);
  }
  VerifyAll(*store, model, ctx);
  return store;
}

// Runs one RunStoreWriter thread per slot of in_flight (up to `batches` batches each) on
// `store` until all stop; each leaves its unresolved batch in in_flight, its error in errors.
void RunWriters(Engine& store, ExpectedState& model, std::mt19937_64& rng, int batches,
                std::vector<std::optional<InFlight>>& in_flight, std::vector<Status>& errors,
                std::atomic<uint64_t>& acks) {
  std::vector<std::thread> threads;
  for (size_t w = 0; w < in_flight.size(); ++w) {
    threads.emplace_back([&, w, s = rng()] {
      in_flight[w] =
          RunStoreWriter(store, model, static_cast<int>(w), s, batches, &errors[w], acks);
    });
  }
  for (auto& t : threads) t.join();
}

TEST_F(StoreCrashTest, AcknowledgedWritesSurvivePowerLossAtRandomPoints) {
  const uint64_t seed = TestSeed();
  const int rounds = Rounds(30);
  std::cout << fmt::format("[crash] power loss: seed {} (rerun: KVS_CRASH_SEED={}), {} rounds\n",
                           seed, seed, rounds);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  ExpectedState model(kWriters * kKeysPerWriter);
  std::vector<std::optional<InFlight>> in_flight(kWriters);
  uint64_t total_acks = 0, recovery_cuts = 0, torn_restores = 0;

  for (int round = 0; round <= rounds; ++round) {
    const std::string ctx = fmt::format("seed {} round {}", seed, round);
    if (round % 3 == 2) {
      // Power fails again while the store recovers (torn-tail cut, preallocation).
      PowerLossEnv env(data_, rng());
      env.CutPowerAfter(rng() % 8);
      { (void)LogStore::Open(StoreOptions(), &env); }
      ASSERT_TRUE(env.RestoreDurableState(rng() % 2 == 0).ok());
      ++recovery_cuts;
    }
    PowerLossEnv env(data_, rng());
    std::unique_ptr<LogStore> store = OpenAndVerify(StoreOptions(), env, model, in_flight, ctx);
    if (HasFailure() || round == rounds) break;

    env.CutPowerAfter(1 + rng() % 300);
    std::atomic<uint64_t> acks{0};
    std::vector<Status> errors(kWriters);
    RunWriters(*store, model, rng, 400, in_flight, errors, acks);
    env.CutPower();  // in case the writers finished first
    store.reset();
    const bool torn = rng() % 2 == 0;
    torn_restores += torn;
    ASSERT_TRUE(env.RestoreDurableState(torn).ok());
    total_acks += acks.load();
  }
  std::cout << fmt::format(
      "[crash] power loss: {} rounds ({} with torn unsynced pages, {} with a second cut during "
      "recovery), {} acknowledged ops, {} key checks, all passed\n",
      rounds, torn_restores, recovery_cuts, total_acks, (rounds + 1) * model.size());
}

TEST_F(StoreCrashTest, ControlUnsyncedWritesAreLostAtPowerLoss) {
  // The harness has teeth: with --fsync never nothing is synced before the acknowledgement,
  // and the power cut must take those writes away (kill -9 would not).
  ExpectedState model(20);
  {
    PowerLossEnv env(data_, 1);
    Options o = StoreOptions();
    o.fsync = FsyncPolicy::kNever;
    // The zero-filler fdatasyncs the segment it zeroes ahead of the writer, and an fdatasync
    // makes the whole file durable, acknowledged writes included: without it nothing syncs.
    o.zero_fill_ahead_bytes = 0;
    Result<std::unique_ptr<LogStore>> opened = LogStore::Open(o, &env);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    for (size_t k = 0; k < model.size(); ++k) {
      ASSERT_TRUE((*opened)->Set(KeyName(k), "acknowledged").ok());
      model.Begin(k, FingerprintOf("acknowledged"));
      model.Ack(k);
    }
    env.CutPower();
    opened.value().reset();  // closes the store while the power is off
    ASSERT_TRUE(env.RestoreDurableState(/*torn_pages=*/false).ok());
  }
  PowerLossEnv env(data_, 2);
  Result<std::unique_ptr<LogStore>> store = LogStore::Open(StoreOptions(), &env);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  size_t lost = 0;
  for (size_t k = 0; k < model.size(); ++k) {
    Result<std::string> got = (*store)->Get(KeyName(k));
    const KeyState observed = got.ok() ? KeyState(FingerprintOf(*got)) : std::nullopt;
    lost += !model.Allowed(k, observed);
  }
  EXPECT_EQ(lost, model.size());
}

TEST_F(StoreCrashTest, PowerLossDuringRepairNeverServesWrongData) {
  // A store whose first segment has a damaged record; --repair rewrites that segment (temp
  // file, sync, rename, directory sync). Cut the power after each of its file operations in
  // turn: afterwards a plain open either refuses (the damage is still there) or serves the
  // repaired data, and a repair completes; never a wrong value, never a lost intact record.
  constexpr size_t kKeys = 40;
  std::map<std::string, std::string> written;
  {
    Options o = StoreOptions();
    o.segment_bytes = 4096;
    Result<std::unique_ptr<LogStore>> store = LogStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::mt19937_64 rng(5);
    for (size_t k = 0; k < kKeys; ++k) {
      written[KeyName(k)] = MakeValue(0, k, 500, rng);
      ASSERT_TRUE((*store)->Set(KeyName(k), written[KeyName(k)]).ok());
    }
  }
  {
    // Flip a byte of the first record's value (key-0 was written there first).
    std::fstream f(data_ + "/1.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(40);
    const char c = static_cast<char>(f.get() ^ 0x10);
    f.seekp(40);
    f.put(c);
  }
  // Without its hint, so that a start reads 1.log and meets the damage (with the hint it
  // would be met only when key-0 is read).
  std::filesystem::remove(data_ + "/1.hint");
  const std::string pristine = dir_.File("pristine");
  std::filesystem::copy(data_, pristine, std::filesystem::copy_options::recursive);

  auto expect_sound = [&](Engine& store, const std::string& ctx) {
    for (size_t k = 0; k < kKeys; ++k) {
      Result<std::string> got = store.Get(KeyName(k));
      if (k == 0) {
        EXPECT_TRUE(got.status().IsNotFound()) << ctx << ": the damaged record was served";
      } else {
        ASSERT_TRUE(got.ok()) << ctx << ": " << KeyName(k) << ": " << got.status().ToString();
        EXPECT_EQ(*got, written[KeyName(k)]) << ctx << ": " << KeyName(k);
      }
    }
  };
  int cuts = 0;
  for (uint64_t cut = 0; cut < 16; ++cut) {
    const std::string ctx = fmt::format("power cut after {} operations of the repair", cut);
    std::filesystem::remove_all(data_);
    std::filesystem::copy(pristine, data_, std::filesystem::copy_options::recursive);
    Options o = StoreOptions();
    o.segment_bytes = 4096;
    o.repair = true;
    {
      PowerLossEnv env(data_, cut);
      env.CutPowerAfter(cut);
      { (void)LogStore::Open(o, &env); }
      const bool cut_happened = env.powered_off();
      ASSERT_TRUE(env.RestoreDurableState(cut % 2 == 1).ok());
      if (!cut_happened) break;  // the repair finished before the cut: every point is done
    }
    ++cuts;
    {
      Options plain = o;
      plain.repair = false;
      Result<std::unique_ptr<LogStore>> store = LogStore::Open(plain);
      if (store.ok()) {
        expect_sound(**store, ctx + " (plain open)");
      } else {
        EXPECT_TRUE(store.status().IsCorruption()) << ctx << ": " << store.status().ToString();
      }
    }
    Result<std::unique_ptr<LogStore>> store = LogStore::Open(o);
    ASSERT_TRUE(store.ok()) << ctx << ": " << store.status().ToString();
    expect_sound(**store, ctx + " (repair)");
    if (HasFailure()) return;
  }
  EXPECT_GE(cuts, 5) << "the repair should take several file operations";
  std::cout << fmt::format("[crash] repair: power cut at each of {} points of a repair\n", cuts);
}

// ---- Disk faults ------------------------------------------------------------------------

struct FaultCase {
  std::string name;
  bool on_sync;  // else on write
  int err_no;
  bool partial;     // a write that gets part of its data out first
  bool power_loss;  // reopen after a power cut instead of a plain close

  friend void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }
};

class DiskFaultTest : public StoreCrashTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(DiskFaultTest, FailedWriteTurnsStoreReadOnlyAndLosesNothingAcknowledged) {
  const FaultCase& fc = GetParam();
  ExpectedState model(64);
  auto env = std::make_unique<PowerLossEnv>(data_, 1);
  Result<std::unique_ptr<LogStore>> opened = LogStore::Open(FaultOptions(), env.get());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<LogStore> store = std::move(opened).value();
  std::mt19937_64 rng(3);
  // Enough 1 KiB values to roll a few segments.
  for (size_t k = 0; k + 1 < model.size(); ++k) {
    const std::string v = MakeValue(0, k, 1000, rng);
    model.Begin(k, FingerprintOf(v));
    ASSERT_TRUE(store->Set(KeyName(k), v).ok());
    model.Ack(k);
  }
  ASSERT_TRUE(store->Remove(KeyName(7)).ok());
  model.Begin(7, std::nullopt);
  model.Ack(7);

  if (fc.on_sync) {
    env->FailSyncs(fc.err_no);
  } else {
    env->FailWrites(fc.err_no, 0, fc.partial);
  }
  const size_t victim = model.size() - 1;
  const std::string v = MakeValue(1, 0, 3000, rng);
  model.Begin(victim, FingerprintOf(v));
  Status s = store->Set(KeyName(victim), v);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.err_no(), fc.err_no) << s.ToString();

  // Read-only from now on; the failed sync is never retried.
  EngineStats stats = store->Stats();
  EXPECT_TRUE(stats.read_only);
  EXPECT_THAT(stats.failure, ::testing::HasSubstr(std::strerror(fc.err_no)));
  EXPECT_TRUE(store->Set("later", "x").IsReadOnly());
  EXPECT_TRUE(store->Remove(KeyName(1)).IsReadOnly());
  std::vector<Status> results;
  WriteBatch batch;
  batch.Put("later", "y");
  EXPECT_TRUE(store->Write(batch, &results).IsReadOnly());
  EXPECT_TRUE(store->Sync().IsReadOnly());
  // Reads go on, and never show the failed write.
  for (size_t k = 0; k < model.size(); ++k) {
    Result<std::string> got = store->Get(KeyName(k));
    const KeyState observed = got.ok() ? KeyState(FingerprintOf(*got)) : std::nullopt;
    EXPECT_EQ(observed, model.acked(k)) << KeyName(k);
  }
  EXPECT_TRUE(store->Get("later").status().IsNotFound());

  env->ClearFaults();
  if (fc.power_loss) env->CutPower();
  store.reset();  // closing a failed store must not sync either
  EXPECT_EQ(env->syncs_after_fault(), 0u) << "a sync after the failure (a retried fsync?)";
  if (fc.power_loss) {
    ASSERT_TRUE(env->RestoreDurableState(/*torn_pages=*/true).ok());
  }
  env.reset();

  // The fault has cleared: a reopen has every acknowledged write; the failed one may or may
  // not be there (its bytes may have reached the disk), and the store takes writes again.
  env = std::make_unique<PowerLossEnv>(data_, 2);
  opened = LogStore::Open(StoreOptions(), env.get());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store = std::move(opened).value();
  VerifyAll(*store, model, fc.name);
  EXPECT_TRUE(store->Get("later").status().IsNotFound());
  EXPECT_TRUE(store->Set("later", "z").ok());
  EXPECT_EQ(store->Get("later").value(), "z");
}

INSTANTIATE_TEST_SUITE_P(
    Faults, DiskFaultTest,
    ::testing::Values(FaultCase{"WriteEio", false, EIO, false, false},
                      FaultCase{"WriteEnospcShortWrite", false, ENOSPC, true, false},
                      FaultCase{"SyncEio", true, EIO, false, false},
                      FaultCase{"SyncEnospc", true, ENOSPC, false, false},
                      FaultCase{"WriteEioThenPowerLoss", false, EIO, true, true},
                      FaultCase{"SyncEioThenPowerLoss", true, EIO, false, true},
                      FaultCase{"SyncEnospcThenPowerLoss", true, ENOSPC, false, true}),
    [](const auto& param_info) { return param_info.param.name; });

TEST_F(StoreCrashTest, FaultUnderConcurrentWritersLosesNothingAcknowledged) {
  const uint64_t seed = TestSeed();
  const int rounds = Rounds(8);
  std::cout << fmt::format("[crash] disk faults: seed {} (rerun: KVS_CRASH_SEED={}), {} rounds\n",
                           seed, seed, rounds);
  std::mt19937_64 rng(seed);
  ExpectedState model(kWriters * kKeysPerWriter);
  std::vector<std::optional<InFlight>> in_flight(kWriters);
  uint64_t total_acks = 0;
  for (int round = 0; round <= rounds; ++round) {
    const std::string ctx = fmt::format("seed {} round {}", seed, round);
    PowerLossEnv env(data_, rng());
    std::unique_ptr<LogStore> store = OpenAndVerify(FaultOptions(), env, model, in_flight, ctx);
    if (HasFailure() || round == rounds) break;

    const bool on_sync = round % 2 == 0;
    const int err = rng() % 2 == 0 ? EIO : ENOSPC;
    if (on_sync) {
      env.FailSyncs(err, rng() % 60);
    } else {
      env.FailWrites(err, rng() % 60, /*partial=*/true);
    }
    std::atomic<uint64_t> acks{0};
    std::vector<Status> errors(kWriters);
    RunWriters(*store, model, rng, 1000, in_flight, errors, acks);
    total_acks += acks.load();
    // Every writer stopped on an error: the fault itself or ReadOnly after it, never anything
    // acknowledged after the first failure.
    int faults = 0;
    for (const Status& e : errors) {
      ASSERT_FALSE(e.ok()) << ctx << ": a writer ran out of batches before the fault";
      EXPECT_TRUE(e.IsReadOnly() || (e.IsIOError() && e.err_no() == err)) << ctx << e.ToString();
      faults += e.IsIOError();
    }
    EXPECT_EQ(faults, 1) << ctx;
    EXPECT_EQ(on_sync ? env.failed_syncs() : env.failed_writes(), 1u) << ctx;
    EXPECT_EQ(env.syncs_after_fault(), 0u) << ctx << ": a sync after the failure";
    EXPECT_TRUE(store->Stats().read_only);
    // Reads go on: every key still reads its acknowledged state.
    for (size_t k = 0; k < model.size(); ++k) {
      Result<std::string> got = store->Get(KeyName(k));
      const KeyState observed = got.ok() ? KeyState(FingerprintOf(*got)) : std::nullopt;
      EXPECT_EQ(observed, model.acked(k)) << ctx << ": " << KeyName(k);
    }
    env.ClearFaults();
    env.CutPower();
    store.reset();
    ASSERT_TRUE(env.RestoreDurableState(rng() % 2 == 0).ok());
  }
  std::cout << fmt::format(
      "[crash] disk faults: {} rounds, {} acknowledged ops, {} key checks, all passed\n", rounds,
      total_acks, (rounds + 1) * model.size());
}

}  // namespace
}  // namespace kvs::crash
