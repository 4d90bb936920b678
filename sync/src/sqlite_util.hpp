// A tiny RAII layer over the sqlite3 C API, private to sync/ (not installed,
// not a public header): owning pointers, a Use guard that resets a cached
// statement, binds that borrow their text. The device's journal
// (journal.cpp) and the ledger's SQLite store both use it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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

}  // namespace tally::sqlite_util
