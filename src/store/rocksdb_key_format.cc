// The RocksDB engine's key format and the migration of a database of an earlier kvs; the
// steps and why each is crash-safe are in rocksdb_key_format.h.

#include "store/rocksdb_key_format.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "base/failpoint.h"
#include "store/db_key.h"
#include "store/rocksdb_util.h"

namespace kvs {
namespace {

// The handles DB::Open and CreateColumnFamily hand out, destroyed (the families stay) before
// the database is closed, as RocksDB requires.
class Families {
 public:
  Families(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(db), handles_(std::move(handles)) {}
  Families(const Families&) = delete;
  // Hands the handle of `name`'s family over (null when there is none); it is no longer ours.
  rocksdb::ColumnFamilyHandle* Release(std::string_view name) {
    rocksdb::ColumnFamilyHandle* h = Find(name);
    if (h != nullptr) handles_.erase(std::find(handles_.begin(), handles_.end(), h));
    return h;
  }
  Families& operator=(const Families&) = delete;
  ~Families() {
    for (rocksdb::ColumnFamilyHandle* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  }

  // Null when the database has no such family.
  rocksdb::ColumnFamilyHandle* Find(std::string_view name) const {
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }
  void Add(rocksdb::ColumnFamilyHandle* h) { handles_.push_back(h); }
  // Drops the family of `h` from the database and destroys `h`.
  Status Drop(rocksdb::ColumnFamilyHandle* h) {
    KVS_RETURN_IF_ERROR(FromRocks(db_->DropColumnFamily(h), "drop column family " + h->GetName()));
    handles_.erase(std::find(handles_.begin(), handles_.end(), h));
    return FromRocks(db_->DestroyColumnFamilyHandle(h), "destroy column family handle");
  }

 private:
  rocksdb::DB* const db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class Migration {
 public:
  Migration(rocksdb::DB* db, Families* families, const rocksdb::Options& options,
            const std::string& path, const RocksMigrationOptions& migration)
      : db_(db),
        families_(families),
        options_(options),
        path_(path),
        migration_(migration),
        data_(db->DefaultColumnFamily()),
        meta_(families->Find(kRocksMetaFamily)) {
    read_.fill_cache = false;  // one pass over everything: keep the block cache for later
  }

  Status Run() {
    std::string format;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), meta_, ToSlice(kRocksKeyFormatKey), &format);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read key_format");
    if (s.IsNotFound()) {
      KVS_ASSIGN_OR_RETURN(bool empty, DataIsEmpty());
      if (empty) {
        // A new database, or an empty one of an earlier kvs: nothing to convert.
        KVS_RETURN_IF_ERROR(SetFormat(kRocksKeyFormatCurrent));
        return DropStaging();
      }
      Warn(
          fmt::format("{}: keys written by an earlier kvs; converting them to database 0's "
                      "keys (a one-time rewrite of the whole database)",
                      path_));
      KVS_RETURN_IF_ERROR(CopyToStaging());
      KVS_RETURN_IF_ERROR(ClearData());
      format = kRocksKeyFormatMigrating;
    }
    if (format == kRocksKeyFormatMigrating) {
      uint64_t moved = 0;
      KVS_RETURN_IF_ERROR(MoveBack(&moved));
      KVS_RETURN_IF_ERROR(SetFormat(kRocksKeyFormatCurrent));
      Warn(fmt::format("{}: keys converted to database 0's keys ({} moved in this start)", path_,
                       moved));
      KVS_RETURN_IF_ERROR(Point("rocksdb.migrate.marked"));
      // The old copies and the range delete over them would otherwise hold their disk space
      // until compactions happen to reach them. Optional: a crash here loses nothing.
      rocksdb::CompactRangeOptions compact;
      compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
      KVS_RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact, data_, nullptr, nullptr),
                                    "compact after migration"));
      format = kRocksKeyFormatCurrent;
    }
    if (format == kRocksKeyFormatNoExpiry) {
      // Nothing to convert: plain values are values without an expiry time.
      KVS_RETURN_IF_ERROR(SetFormat(kRocksKeyFormatCurrent));
      format = kRocksKeyFormatCurrent;
    }
    if (format != kRocksKeyFormatCurrent) {
      return Status::NotSupported(
          fmt::format("{}: key_format '{}' is not one this kvs knows (written by a newer "
                      "version?)",
                      path_, format));
    }
    return DropStaging();  // left over if a start stopped right after the last step
  }

 private:
  void Warn(std::string_view msg) const {
    if (migration_.on_warning) migration_.on_warning(msg);
  }

  Status Point(std::string_view name) const {
    KVS_FAILPOINT(name);
    if (migration_.stop_at && migration_.stop_at(name)) {
      return Status::Aborted(fmt::format("key format migration stopped at {}", name));
    }
    return Status::Ok();
  }

  // Every write of the migration is synced: each is a step a crash must not undo.
  Status WriteSynced(rocksdb::WriteBatch* batch, std::string_view what) {
    if (batch->Count() == 0) return Status::Ok();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Write(wo, batch), what);
  }

  Status SetFormat(std::string_view format) {
    rocksdb::WriteBatch batch;
    KVS_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta_, ToSlice(kRocksKeyFormatKey), ToSlice(format)), "batch"));
    KVS_RETURN_IF_ERROR(WriteSynced(&batch, "write key_format"));
    // Into a table file at once: a family that is never written again would otherwise keep
    // the WAL file holding this write alive until RocksDB forces a flush.
    return FromRocks(db_->Flush(rocksdb::FlushOptions(), meta_), "flush kvs_meta");
  }

  Result<bool> DataIsEmpty() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, data_));
    it->SeekToFirst();
    KVS_RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
    return !it->Valid();
  }

  // Step 1: every pair, as it is, into kvs_migrate. Repeatable: the data is not touched.
  Status CopyToStaging() {
    rocksdb::ColumnFamilyHandle* staging = families_->Find(kRocksMigrateFamily);
    if (staging == nullptr) {
      KVS_RETURN_IF_ERROR(
          FromRocks(db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(options_),
                                            std::string(kRocksMigrateFamily), &staging),
                    "create column family kvs_migrate"));
      families_->Add(staging);
    }
    return InChunks(data_, "copy to kvs_migrate", "rocksdb.migrate.copied_chunk",
                    [&](rocksdb::WriteBatch* batch, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) { return batch->Put(staging, key, value); });
  }

  // Step 2, the commit point: the data family emptied and "migrating" recorded, atomically.
  Status ClearData() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, data_));
    it->SeekToLast();
    KVS_RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
    rocksdb::WriteBatch batch;
    if (it->Valid()) {
      // [the empty key, just above the last key): every key there is.
      const std::string end = it->key().ToString() + '\0';
      KVS_RETURN_IF_ERROR(
          FromRocks(batch.DeleteRange(data_, rocksdb::Slice(), ToSlice(end)), "batch"));
    }
    KVS_RETURN_IF_ERROR(FromRocks(
        batch.Put(meta_, ToSlice(kRocksKeyFormatKey), ToSlice(kRocksKeyFormatMigrating)), "batch"));
    KVS_RETURN_IF_ERROR(WriteSynced(&batch, "clear for migration"));
    return Point("rocksdb.migrate.cleared");
  }

  // Step 3: each pair back as db 0's engine key; a pair is in one family or the other.
  Status MoveBack(uint64_t* moved) {
    rocksdb::ColumnFamilyHandle* staging = families_->Find(kRocksMigrateFamily);
    if (staging == nullptr) {
      return Status::Corruption(
          fmt::format("{}: key_format is '{}' but column family {} is missing", path_,
                      kRocksKeyFormatMigrating, kRocksMigrateFamily));
    }
    std::string engine_key;
    return InChunks(
        staging, "move from kvs_migrate", "rocksdb.migrate.moved_chunk",
        [&](rocksdb::WriteBatch* batch, const rocksdb::Slice& key, const rocksdb::Slice& value) {
          engine_key.clear();
          AppendDbKey(0, std::string_view(key.data(), key.size()), &engine_key);
          ++*moved;
          rocksdb::Status s = batch->Put(data_, ToSlice(engine_key), value);
          return s.ok() ? batch->Delete(staging, key) : s;
        });
  }

  // Hands every pair of `from` to `add`, which puts its writes into a batch; the batch is
  // written (synced) whenever it holds chunk_bytes, and at the end, each time followed by
  // failpoint `point`. One iterator for the whole pass: a later one would have to step over
  // the deletes of the pairs already moved.
  Status InChunks(rocksdb::ColumnFamilyHandle* from, std::string_view what, std::string_view point,
                  const std::function<rocksdb::Status(rocksdb::WriteBatch*, const rocksdb::Slice&,
                                                      const rocksdb::Slice&)>& add) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, from));
    rocksdb::WriteBatch batch;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      KVS_RETURN_IF_ERROR(FromRocks(add(&batch, it->key(), it->value()), "batch"));
      if (batch.GetDataSize() >= migration_.chunk_bytes) {
        KVS_RETURN_IF_ERROR(WriteSynced(&batch, what));
        batch.Clear();
        KVS_RETURN_IF_ERROR(Point(point));
      }
    }
    KVS_RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
    KVS_RETURN_IF_ERROR(WriteSynced(&batch, what));
    return Point(point);
  }

  Status DropStaging() {
    rocksdb::ColumnFamilyHandle* staging = families_->Find(kRocksMigrateFamily);
    return staging == nullptr ? Status::Ok() : families_->Drop(staging);
  }

  rocksdb::DB* const db_;
  Families* const families_;
  const rocksdb::Options& options_;
  const std::string& path_;
  const RocksMigrationOptions& migration_;
  rocksdb::ColumnFamilyHandle* const data_;
  rocksdb::ColumnFamilyHandle* const meta_;
  rocksdb::ReadOptions read_;
};

}  // namespace

void RocksDatabase::Close() {
  if (db == nullptr) return;
  if (expiry != nullptr) (void)db->DestroyColumnFamilyHandle(expiry.release());
  (void)db->Close();
  db.reset();
}

Result<RocksDatabase> OpenRocksDb(const rocksdb::Options& options,
                                  const rocksdb::ColumnFamilyOptions& expiry_options,
                                  const std::string& path, const RocksMigrationOptions& migration) {
  const rocksdb::DBOptions db_options(options);
  std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
  rocksdb::Env* env = options.env != nullptr ? options.env : rocksdb::Env::Default();
  if (env->FileExists(path + "/CURRENT").ok()) {
    // Every family must be opened; a database of an earlier kvs has only the default one.
    KVS_RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(db_options, path, &names),
                                  "list column families of " + path));
  }
  for (std::string_view created : {kRocksMetaFamily, kRocksExpiryFamily}) {
    if (std::find(names.begin(), names.end(), created) == names.end()) {
      names.emplace_back(created);  // created by the open
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    if (name == kRocksMetaFamily) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    } else if (name == kRocksExpiryFamily) {
      families.emplace_back(name, expiry_options);
    } else {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions(options));
    }
  }
  rocksdb::DBOptions open_options = db_options;
  open_options.create_missing_column_families = true;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(open_options, path, families, &handles, &raw);
  RocksDatabase opened;
  opened.db.reset(raw);
  KVS_RETURN_IF_ERROR(FromRocks(s, "open " + path));
  {
    Families open(opened.db.get(), std::move(handles));  // destroyed before the DB may be
    opened.expiry.reset(open.Release(kRocksExpiryFamily));
    KVS_RETURN_IF_ERROR(Migration(opened.db.get(), &open, options, path, migration).Run());
  }
  return opened;
}

}  // namespace kvs
