// A tiny RAII layer over the sqlite3 C API, private to sync/ (not installed,
// not a public header): owning pointers, a Use guard that resets a cached
// statement, binds that borrow their text. The device's journal
// (journal.cpp) and the ledger's SQLite store both use it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tally/scanner/result.hpp"

namespace tally::sqlite_util {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// Resets (and clears the bindings of) a cached statement when a use of it
// ends, however it ends, so no statement keeps a read transaction open.
class Use {
 public:
  explicit Use(sqlite3_stmt* s) : s_(s) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const { return s_; }
  sqlite3_stmt* operator*() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

// SQLITE_STATIC: every caller keeps `text` alive until the step is done.
inline int bind_text(sqlite3_stmt* s, int index, std::string_view text) {
  return sqlite3_bind_text64(s, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}
inline int bind_blob(sqlite3_stmt* s, int index, std::string_view bytes) {
  return sqlite3_bind_blob64(s, index, bytes.data(), bytes.size(), SQLITE_STATIC);
}
inline int bind_int(sqlite3_stmt* s, int index, std::int64_t v) { return sqlite3_bind_int64(s, index, v); }

inline std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  const int n = sqlite3_column_bytes(s, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}
inline std::string column_blob(sqlite3_stmt* s, int col) {
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

inline bool is_full(int rc) { return (rc & 0xff) == SQLITE_FULL; }
inline bool is_corrupt(int rc) { return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB; }

// Runs SQL without results (pragmas, DDL). Returns the sqlite result code.
inline int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

// Prepares a statement kept for the connection's life.
inline int prepare_persistent(sqlite3* db, const char* sql, StmtPtr& out) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  out.reset(s);
  return rc;
}

// A failed SQLite call as an Error of `who` ("journal", "ledger"):
// "disk_full", "<who>_corrupt" or "<who>_io", the message saying what failed
// and SQLite's own words. Call it before anything else touches `db` (a
// ROLLBACK would replace the message).
inline Error sql_error(sqlite3* db, int rc, std::string_view what, std::string_view who) {
  const std::string msg = std::string(who) + ": " + std::string(what) + ": " +
                          (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + " (sqlite " +
                          std::to_string(rc) + ")";
  if (is_full(rc)) return make_error("disk_full", msg);
  if (is_corrupt(rc)) return make_error(std::string(who) + "_corrupt", msg);
  return make_error(std::string(who) + "_io", msg);
}

// Takes a file from schema `from` (PRAGMA user_version) to
// migrations.size(): migration i takes version i to i + 1. All of it runs in
// one BEGIN IMMEDIATE transaction with the user_version bump (the version
// lives in the database header and is transactional), so a file is at its
// old version or the new one, never between. `after(i)`, if given, runs in
// that transaction right after migration i (a backfill, first rows) and
// returns an SQLite result code and what it did. On failure everything is
// rolled back and the error (sql_error of `who`) says which step failed.
inline Result<void> migrate(sqlite3* db, std::span<const char* const> migrations, int from, std::string_view who,
                            const std::function<std::pair<int, std::string>(int)>& after = nullptr) {
  const auto fail = [db, who](int rc, std::string_view what) {
    Error e = sql_error(db, rc, what, who);
    if (sqlite3_get_autocommit(db) == 0) exec(db, "ROLLBACK");
    return e;
  };
  if (const int rc = exec(db, "BEGIN IMMEDIATE"); rc != SQLITE_OK) return fail(rc, "begin migration");
  const auto target = static_cast<int>(migrations.size());
  for (int v = from; v < target; ++v) {
    const std::string step = "migration to v" + std::to_string(v + 1);
    if (const int rc = exec(db, migrations[static_cast<std::size_t>(v)]); rc != SQLITE_OK) return fail(rc, step);
    if (after) {
      if (const auto [rc, what] = after(v); rc != SQLITE_OK) return fail(rc, step + ": " + what);
    }
  }
  const std::string bump = "PRAGMA user_version = " + std::to_string(target);
  if (const int rc = exec(db, bump.c_str()); rc != SQLITE_OK) return fail(rc, "set user_version");
  if (const int rc = exec(db, "COMMIT"); rc != SQLITE_OK) return fail(rc, "commit migration");
  return {};
}

}  // namespace tally::sqlite_util
