// A fault-injecting SQLite VFS for tests: the seam for faults a test cannot
// provoke on a real disk (power loss at an exact write, a full disk or an
// I/O error on the n-th write). It wraps the default "unix" VFS; every file
// SQLite opens by name goes through it.
//
// Power loss model: writes reach the real file at once (so SQLite reads what
// it wrote), and each one not yet covered by an xSync of its file is kept in
// an undo log. arm_power_loss(n) lets n more write/truncate/sync operations
// through; the next one and everything after it fail (SQLITE_IOERR): the
// machine is off. After every connection is closed, lose_unsynced() rolls
// the files back the way a crash can leave them: each unsynced write is
// kept, lost, or torn at 512-byte sector boundaries (chosen by the given
// RNG), and a file may fall back to its last synced size. Then the test
// reopens the database with the real VFS (use_real_vfs()).
//
// xSync does not call the real fsync: what survives is decided by the
// model, so the disk need not be flushed (and the simulation runs fast).
//
// Error injection: fail_writes(code, after) makes the write/truncate/sync
// operations after the next `after` ones fail with `code` (SQLITE_FULL,
// SQLITE_IOERR_WRITE …) until fail_writes(0) — the disk has space again.
//
// One instance per process at a time (it registers itself with SQLite);
// not thread-safe: use it from the test thread and from the one thread that
// drives the database.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tally::test {

class FaultVfs {
 public:
  FaultVfs();  // registers "tally-fault" and makes it the default VFS
  ~FaultVfs();  // makes "unix" the default again and unregisters
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // Default VFS for sqlite3_open*(…, nullptr): this one, or the real "unix".
  void use_fault_vfs();
  void use_real_vfs();

  void arm_power_loss(std::uint64_t after_ops);
  bool powered_off() const { return powered_off_; }
  // Rolls back unsynced writes (see above); every tracked file must be closed.
  // Powers on again and disarms; the undo logs are empty afterwards.
  void lose_unsynced(std::mt19937_64& rng);

  void fail_writes(int code, std::uint64_t after_ops = 0);

  // Write/truncate/sync operations on tracked files so far (for choosing a
  // crash point), and files currently open through this VFS.
  std::uint64_t ops() const { return ops_; }
  std::size_t open_files() const { return names_.size(); }

  // Internal (called by the C callbacks).
  struct Undo {
    std::int64_t offset = 0;
    std::string old_bytes;  // what [offset, offset + size) held before
  };
  struct FileState {
    std::vector<Undo> undo;       // unsynced writes, oldest first
    std::int64_t synced_size = 0;  // file size at the last xSync
  };
  int gate();  // SQLITE_OK, or the error this operation fails with
  FileState& state(const std::string& name) { return files_[name]; }
  void forget(const std::string& name) { files_.erase(name); }
  // Returns the stored name of a tracked file, null for "" (untracked).
  const std::string* opened(sqlite3_file* f, const std::string& name) {
    const std::string& n = names_[f] = name;
    return n.empty() ? nullptr : &n;
  }
  void closed(sqlite3_file* f) { names_.erase(f); }
  sqlite3_vfs* real() const { return real_; }

 private:
  sqlite3_vfs vfs_{};
  sqlite3_vfs* real_ = nullptr;
  std::map<std::string, FileState> files_;
  std::uint64_t ops_ = 0;
  std::uint64_t crash_at_ = 0;  // 0: not armed
  bool powered_off_ = false;
  int fail_code_ = 0;
  std::uint64_t fail_at_ = 0;
  std::map<sqlite3_file*, std::string> names_;  // every open file, "" when untracked
};

}  // namespace tally::test
