// Journal::Impl, the open journal's connection, prepared statements and
// cached counters, shared by journal.cpp (open, append) and
// reads.cpp (reads, acks, master data). Private to tally::journal.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../sqlite_util.hpp"
#include "tally/journal/journal.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::journal {

// ---------------------------------------------------------------- RAII layer

// The layer over the sqlite3 C API that the ledger's SQLite store uses too
// (sqlite_util.hpp): owning pointers, a Use guard that resets a cached
// statement and clears its bindings, binds that borrow their text.
using sqlite_util::bind_text;
using sqlite_util::column_text;
using sqlite_util::DbPtr;
using sqlite_util::exec;
using sqlite_util::is_corrupt;
using sqlite_util::StmtPtr;
using sqlite_util::Use;

// Maps a failed SQLite call to the journal's error codes.
inline Error sql_error(sqlite3* db, int rc, std::string_view what) { return sqlite_util::sql_error(db, rc, what, "journal"); }

struct Journal::Impl {
  DbPtr db;
  std::string path;  // for messages
  std::string device;
  std::string site;

  // Cached counters, equal to the file after every commit; an append reads
  // last_seq/last_hlc again inside its transaction, so they can never drift.
  std::uint64_t last_seq = 0;
  std::uint64_t last_hlc = 0;
  std::uint64_t acked_seq = 0;
  std::int64_t scans = 0;
  std::int64_t last_exception_id = 0;  // highest device_exceptions.id
  std::int64_t exceptions_acked = 0;   // sync_state.exceptions_acked
  // Set when a ROLLBACK failed and the connection may still be inside a
  // transaction: every later write is refused until the journal is reopened.
  bool broken = false;

  // Prepared once at open (SQLITE_PREPARE_PERSISTENT): the hot path only
  // binds, steps and resets.
  StmtPtr begin, commit, rollback;
  StmtPtr read_state;  // last_seq, last_hlc, acked_seq inside the txn
  StmtPtr insert_scan, insert_movement, upsert_session;
  StmtPtr select_after, select_texts, update_acked, select_session;
  StmtPtr upsert_master, select_master;
  StmtPtr insert_exception, select_exceptions, update_exceptions_acked;

  Result<void> prepare(StmtPtr& out, const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    out.reset(s);
    if (rc != SQLITE_OK) return sql_error(db.get(), rc, std::string("prepare ") + sql);
    return {};
  }

  Result<void> prepare_all() {
    const std::pair<StmtPtr*, const char*> all[] = {
        {&begin, "BEGIN IMMEDIATE"},
        {&commit, "COMMIT"},
        {&rollback, "ROLLBACK"},
        // last_seq and last_hlc come from the newest movement (hlc grows with
        // seq). acked_seq and sync_state.last_hlc are floors under them, so
        // neither could go back even if acknowledged rows were pruned.
        {&read_state,
         "SELECT MAX(s.acked_seq, IFNULL(newest.seq, 0)), MAX(s.last_hlc, IFNULL(newest.hlc, 0)), s.acked_seq, "
         "newest.hash "
         "FROM sync_state AS s LEFT JOIN (SELECT seq, hlc, hash FROM movements ORDER BY seq DESC LIMIT 1) AS newest "
         "WHERE s.id = 1"},
        {&insert_scan,
         "INSERT INTO scans(time_ms, text, symbology, source, operator, mode, feedback, code) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
        {&insert_movement,
         "INSERT INTO movements(seq, scan_id, hlc, time_ms, type, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&upsert_session,
         "INSERT INTO session(id, snapshot) VALUES (1, ?1) "
         "ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot"},
        {&select_after, "SELECT seq, payload FROM movements WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
        // From `after` itself (when it exists): its hash is the first prev_hash.
        {&select_texts,
         "SELECT seq, time_ms, payload, hash FROM movements WHERE seq >= ?1 ORDER BY seq LIMIT ?2"},
        {&update_acked,
         "UPDATE sync_state SET acked_seq = ?1, last_hlc = MAX(last_hlc, ?2) WHERE id = 1 AND acked_seq < ?1"},
        {&select_session, "SELECT snapshot FROM session WHERE id = 1"},
        {&upsert_master,
         "INSERT INTO master_data(kind, version, payload) VALUES (?1, ?2, ?3) "
         "ON CONFLICT(kind) DO UPDATE SET version = excluded.version, payload = excluded.payload"},
        {&select_master, "SELECT version, payload FROM master_data WHERE kind = ?1"},
        {&insert_exception,
         "INSERT INTO device_exceptions(scan_id, time_ms, kind, payload, seq) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&select_exceptions,
         "SELECT id, scan_id, payload, seq FROM device_exceptions WHERE id > ?1 ORDER BY id LIMIT ?2"},
        {&update_exceptions_acked,
         "UPDATE sync_state SET exceptions_acked = ?1 WHERE id = 1 AND exceptions_acked < ?1"},
    };
    for (const auto& [stmt, sql] : all) {
      if (auto r = prepare(*stmt, sql); !r) return r;
    }
    return {};
  }

  // Steps a statement that returns no rows.
  int step_done(sqlite3_stmt* s) {
    Use use(s);
    const int rc = sqlite3_step(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }

  // Reads acked/last_seq/last_hlc; inside a write transaction on the hot path.
  Result<void> load_state(std::uint64_t& seq, std::uint64_t& hlc, std::uint64_t& acked, std::string* hash = nullptr) {
    Use use(read_state.get());
    const int rc = sqlite3_step(read_state.get());
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_DONE) return make_error("journal_corrupt", "journal: sync_state row missing in " + path);
      return sql_error(db.get(), rc, "read sync state");
    }
    seq = static_cast<std::uint64_t>(sqlite3_column_int64(read_state.get(), 0));
    hlc = static_cast<std::uint64_t>(sqlite3_column_int64(read_state.get(), 1));
    acked = static_cast<std::uint64_t>(sqlite3_column_int64(read_state.get(), 2));
    if (hash != nullptr) {
      // The chain continues from the newest movement (genesis when none).
      // Movements are never pruned yet; pruning must keep the newest row.
      *hash = sqlite3_column_type(read_state.get(), 3) == SQLITE_NULL ? std::string(wire::kGenesisHash)
                                                                       : column_text(read_state.get(), 3);
    }
    return {};
  }

  // Ends a failed write transaction. If even ROLLBACK fails the connection
  // is marked broken, because its transaction state is no longer known.
  void abort_txn() {
    if (sqlite3_get_autocommit(db.get()) != 0) return;  // SQLite already rolled back
    step_done(rollback.get());
    if (sqlite3_get_autocommit(db.get()) == 0) broken = true;
  }

  // Scratch space of the hot path, reused across appends so that copy-
  // assignment recycles buffers instead of allocating.
  scanner::Movement scratch;  // a movement stamped for validation
  std::string payload;        // the movement's wire text
  std::string chain;          // the hash of the newest movement written

  Result<std::vector<Appended>> append_entries(std::span<const Entry> entries);
};

}  // namespace tally::journal
