// RAII access to an LMDB database laid out as Caffe lays it out: DB_PATH is a directory that
// holds data.mdb and lock.mdb.  Every LMDB failure becomes a caffe::Error that names the path
// and carries mdb_strerror's text.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caffe {
namespace db {

// True when `path` is a directory containing an LMDB data file (data.mdb).
bool is_lmdb_directory(const std::string& path);

// Makes room for a new database at `path`: an existing path is an error unless `overwrite`,
// and even then only an LMDB (whose data.mdb and lock.mdb are removed) or an empty folder is
// given up; a typo must not cost the user a folder.
void prepare_new_database(const std::string& path, bool overwrite);
// Removes what an abandoned conversion wrote at `path`: data.mdb, lock.mdb, then the folder
// when nothing else is in it.
void remove_database(const std::string& path);

struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
struct TxnAborter {
  void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
struct CursorCloser {
  void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};

// An open LMDB environment (one unnamed database).  Readers and writers borrow it.
class LmdbEnvironment {
 public:
  enum class Access { READ_ONLY, READ_WRITE };

  // Writers start with this map and double it whenever a batch does not fit (on 64-bit Linux
  // the map is address space; data.mdb only grows with its contents).
  static constexpr size_t kDefaultMapSize = size_t{256} << 20;

  // READ_ONLY: `path` must be an existing LMDB directory.  READ_WRITE: the directory is
  // created when missing (its parent must exist) and mapped with `map_size` bytes at first.
  LmdbEnvironment(const std::string& path, Access access, size_t map_size = kDefaultMapSize);

  // LMDB forbids opening one database twice in a process (closing either copy drops the
  // other's file locks), so read-only users share one environment per path through this.
  static std::shared_ptr<const LmdbEnvironment> OpenShared(const std::string& path);

  const std::string& path() const { return path_; }
  MDB_env* handle() const { return env_.get(); }
  // Number of records in the database.
  size_t num_records() const;
  // Doubles the memory map; the writer calls it when a batch does not fit.
  void grow_map();

  // Throws caffe::Error("<what> '<path>': <mdb_strerror(code)>") when code != MDB_SUCCESS.
  void check(int code, const char* what) const;

 private:
  std::string path_;
  std::unique_ptr<MDB_env, EnvCloser> env_;
};

// A read-only transaction with a cursor that walks the records in key order.  It may live on
// any one thread (the environment is opened with MDB_NOTLS).
class LmdbReader {
 public:
  explicit LmdbReader(const LmdbEnvironment& environment);

  // Positions on the first record; false when the database is empty.
  bool first();
  // Advances; false past the last record.
  bool next();
  bool valid() const { return valid_; }
  // The current record; the views stay valid until the cursor moves.
  std::string_view key() const;
  std::string_view value() const;

 private:
  bool move(MDB_cursor_op op);

  const LmdbEnvironment& environment_;
  std::unique_ptr<MDB_txn, TxnAborter> txn_;
  std::unique_ptr<MDB_cursor, CursorCloser> cursor_;  // declared after txn_: closed first
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
  bool valid_ = false;
};

// Buffers puts and writes them in one transaction per `batch_size` records, growing the map
// and retrying when a batch does not fit.  Records still buffered when the writer is destroyed
// without commit() are dropped: an interrupted conversion never half-writes a batch.
class LmdbWriter {
 public:
  explicit LmdbWriter(LmdbEnvironment& environment, size_t batch_size = 1000);

  void put(std::string key, std::string value);
  // Writes every buffered record.
  void commit();
  size_t committed() const { return committed_; }

 private:
  // One write transaction over the pending records.  Returns MDB_MAP_FULL rather than
  // throwing so commit() can grow the map and retry; other failures throw.
  int try_write_pending();

  LmdbEnvironment& environment_;
  size_t batch_size_;
  size_t committed_ = 0;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace db
}  // namespace caffe
