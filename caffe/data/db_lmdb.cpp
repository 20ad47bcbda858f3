#include "caffe/data/db_lmdb.hpp"

#include <cerrno>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <system_error>

#include "caffe/core/common.hpp"

namespace caffe {
namespace db {
namespace {

namespace fs = std::filesystem;

MDB_val as_mdb_val(const std::string& bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view as_view(const MDB_val& value) {
  return std::string_view(static_cast<const char*>(value.mv_data), value.mv_size);
}

// Creates and opens an environment; returns the LMDB status (the handle is closed on failure,
// as LMDB requires).
int open_environment(const std::string& path, unsigned flags, size_t map_size,
                     std::unique_ptr<MDB_env, EnvCloser>* env) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != MDB_SUCCESS) return rc;
  std::unique_ptr<MDB_env, EnvCloser> owned(raw);
  if (map_size > 0) {
    rc = mdb_env_set_mapsize(raw, map_size);
    if (rc != MDB_SUCCESS) return rc;
  }
  rc = mdb_env_open(raw, path.c_str(), flags, 0664);
  if (rc == MDB_SUCCESS) *env = std::move(owned);
  return rc;
}

void check_readable_lmdb(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) fail("LMDB '", path, "' does not exist");
  if (!is_lmdb_directory(path)) {
    fail("'", path, "' is not an LMDB database (expected a directory holding data.mdb)");
  }
}

}  // namespace

bool is_lmdb_directory(const std::string& path) {
  std::error_code error;
  return fs::is_directory(path, error) && fs::is_regular_file(fs::path(path) / "data.mdb", error);
}

void prepare_new_database(const std::string& path, bool overwrite) {
  std::error_code error;
  if (!fs::exists(path, error)) return;
  if (!overwrite) fail("'", path, "' already exists; pass --overwrite to replace it");
  if (is_lmdb_directory(path)) {
    fs::remove(fs::path(path) / "data.mdb", error);
    if (!error) fs::remove(fs::path(path) / "lock.mdb", error);
    if (error) fail("cannot remove the old LMDB in '", path, "': ", error.message());
    return;
  }
  if (!fs::is_directory(path, error) || !fs::is_empty(path, error)) {
    fail("refusing to overwrite '", path, "': it is not an LMDB directory");
  }
}

void remove_database(const std::string& path) {
  std::error_code error;
  fs::remove(fs::path(path) / "data.mdb", error);
  fs::remove(fs::path(path) / "lock.mdb", error);
  fs::remove(path, error);  // only when nothing else is left in it
}

LmdbEnvironment::LmdbEnvironment(const std::string& path, Access access, size_t map_size)
    : path_(path) {
  if (access == Access::READ_ONLY) {
    check_readable_lmdb(path);
    const unsigned flags = MDB_RDONLY | MDB_NOTLS;
    int rc = open_environment(path, flags, 0, &env_);
    // A database on a read-only medium cannot take reader locks; reading it unlocked is safe
    // because nobody can be writing it.
    if (rc == EACCES || rc == EROFS) rc = open_environment(path, flags | MDB_NOLOCK, 0, &env_);
    check(rc, "cannot open LMDB");
    return;
  }
  std::error_code error;
  fs::create_directory(path, error);
  if (error) fail("cannot create LMDB directory '", path, "': ", error.message());
  check(open_environment(path, MDB_NOTLS, map_size, &env_), "cannot open LMDB for writing");
}

std::shared_ptr<const LmdbEnvironment> LmdbEnvironment::OpenShared(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<const LmdbEnvironment>> open;
  check_readable_lmdb(path);
  std::error_code error;
  const std::string canonical = fs::canonical(path, error).string();
  const std::string& key = error ? path : canonical;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto existing = open[key].lock()) return existing;
  for (auto entry = open.begin(); entry != open.end();) {  // forget closed environments
    entry = entry->second.expired() ? open.erase(entry) : std::next(entry);
  }
  auto environment = std::make_shared<const LmdbEnvironment>(path, Access::READ_ONLY);
  open[key] = environment;
  return environment;
}

void LmdbEnvironment::check(int code, const char* what) const {
  if (code != MDB_SUCCESS) fail(what, " '", path_, "': ", mdb_strerror(code));
}

size_t LmdbEnvironment::num_records() const {
  MDB_stat stat;
  check(mdb_env_stat(env_.get(), &stat), "cannot read the record count of LMDB");
  return stat.ms_entries;
}

void LmdbEnvironment::grow_map() {
  MDB_envinfo info;
  check(mdb_env_info(env_.get(), &info), "cannot query LMDB");
  check(mdb_env_set_mapsize(env_.get(), info.me_mapsize * 2), "cannot grow the map of LMDB");
}

LmdbReader::LmdbReader(const LmdbEnvironment& environment) : environment_(environment) {
  MDB_txn* txn = nullptr;
  environment_.check(mdb_txn_begin(environment_.handle(), nullptr, MDB_RDONLY, &txn),
                     "cannot begin a read transaction on LMDB");
  txn_.reset(txn);
  MDB_dbi dbi;
  environment_.check(mdb_dbi_open(txn, nullptr, 0, &dbi), "cannot open the database in LMDB");
  MDB_cursor* cursor = nullptr;
  environment_.check(mdb_cursor_open(txn, dbi, &cursor), "cannot open a cursor on LMDB");
  cursor_.reset(cursor);
}

bool LmdbReader::move(MDB_cursor_op op) {
  const int rc = mdb_cursor_get(cursor_.get(), &key_, &value_, op);
  valid_ = rc == MDB_SUCCESS;
  if (rc != MDB_NOTFOUND) environment_.check(rc, "cannot read LMDB");
  return valid_;
}

bool LmdbReader::first() { return move(MDB_FIRST); }
bool LmdbReader::next() { return move(MDB_NEXT); }

std::string_view LmdbReader::key() const {
  if (!valid_) fail("LMDB '", environment_.path(), "': reading a key with no current record");
  return as_view(key_);
}

std::string_view LmdbReader::value() const {
  if (!valid_) fail("LMDB '", environment_.path(), "': reading a value with no current record");
  return as_view(value_);
}

LmdbWriter::LmdbWriter(LmdbEnvironment& environment, size_t batch_size)
    : environment_(environment), batch_size_(batch_size == 0 ? 1 : batch_size) {
  pending_.reserve(batch_size_);
}

void LmdbWriter::put(std::string key, std::string value) {
  pending_.emplace_back(std::move(key), std::move(value));
  if (pending_.size() >= batch_size_) commit();
}

void LmdbWriter::commit() {
  if (pending_.empty()) return;
  while (try_write_pending() == MDB_MAP_FULL) environment_.grow_map();
  committed_ += pending_.size();
  pending_.clear();
}

int LmdbWriter::try_write_pending() {
  MDB_txn* raw = nullptr;
  environment_.check(mdb_txn_begin(environment_.handle(), nullptr, 0, &raw),
                     "cannot begin a write transaction on LMDB");
  std::unique_ptr<MDB_txn, TxnAborter> txn(raw);
  MDB_dbi dbi;
  environment_.check(mdb_dbi_open(raw, nullptr, 0, &dbi), "cannot open the database in LMDB");
  for (const auto& [key, value] : pending_) {
    MDB_val mdb_key = as_mdb_val(key);
    MDB_val mdb_value = as_mdb_val(value);
    const int rc = mdb_put(raw, dbi, &mdb_key, &mdb_value, 0);
    if (rc == MDB_MAP_FULL) return rc;
    if (rc != MDB_SUCCESS)
      fail("cannot write key '", key, "' to LMDB '", environment_.path(), "': ", mdb_strerror(rc));
  }
  const int rc = mdb_txn_commit(txn.release());  // commit frees the transaction, even on failure
  if (rc != MDB_MAP_FULL) environment_.check(rc, "cannot commit to LMDB");
  return rc;
}

}  // namespace db
}  // namespace caffe
