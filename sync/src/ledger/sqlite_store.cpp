// The embedded ledger store: one SQLite file (WAL, synchronous=FULL), every
// hot statement prepared once. The contract is in tally/ledger/store.hpp;
// the format is written up in docs/PROTOCOL.md "## Ledger".
//
// Balances are a cache of the movements (SUM per item, lot, location, state),
// updated in the same transaction as the movements that change them and
// never edited otherwise; check_invariants recomputes them from movements.
#include "sqlite_store_impl.hpp"

namespace tally::ledger::sqlite_detail {

Result<std::uint64_t> SqliteStore::applied_through(const std::string& device) {
  Use use(select_device_.get());
  bind_text(*use, 1, device);
  const int rc = sqlite3_step(*use);
  if (rc == SQLITE_DONE) return std::uint64_t{0};
  if (rc != SQLITE_ROW) return sql_error(db_.get(), rc, "read device");
  return static_cast<std::uint64_t>(sqlite3_column_int64(*use, 0));
}

Result<std::int64_t> SqliteStore::apply_device_exceptions(const DeviceExceptionBatch& batch) {
  return rules::in_transaction(*this, "commit device exceptions", [&]() -> Result<std::int64_t> {
    std::int64_t through = 0;
    {
      Use use(select_exception_cursor_.get());
      bind_text(*use, 1, batch.device);
      const int rc = sqlite3_step(*use);
      if (rc == SQLITE_ROW) {
        through = sqlite3_column_int64(*use, 0);
      } else if (rc != SQLITE_DONE) {
        return sql_error(db_.get(), rc, "read exceptions cursor");
      }
    }
    for (const auto& [id, record] : batch.exceptions) {
      if (id <= through) continue;  // a duplicate delivery
      if (auto r = insert_exception(record, batch.now_ms); !r) return r.error();
      through = id;
    }
    Use use(upsert_exception_cursor_.get());
    bind_text(*use, 1, batch.device);
    bind_int(*use, 2, through);
    if (const int rc = sqlite3_step(*use); rc != SQLITE_DONE) {
      return sql_error(db_.get(), rc, "update exceptions cursor");
    }
    return through;
  });
}

Result<void> SqliteStore::put_device_statuses(std::span<const DeviceStatus> statuses) {
  if (statuses.empty()) return {};
  return rules::in_transaction(*this, "commit device status", [&]() -> Result<void> {
    for (const DeviceStatus& st : statuses) {
      Use use(upsert_status_.get());
      bind_text(*use, 1, st.device);
      bind_text(*use, 2, st.site);
      bind_int(*use, 3, st.online ? 1 : 0);
      bind_int(*use, 4, static_cast<std::int64_t>(st.pending));
      bind_int(*use, 5, static_cast<std::int64_t>(st.last_seq));
      bind_text(*use, 6, st.version);
      bind_int(*use, 7, st.received_ms);
      bind_int(*use, 8, st.retained ? 1 : 0);
      if (const int rc = sqlite3_step(*use); rc != SQLITE_DONE) return sql_error(db_.get(), rc, "device status");
    }
    return {};
  });
}

Result<bool> SqliteStore::add_kpi_sample_in_txn(const KpiSample& sample, std::int64_t min_gap_ms,
                                                std::int64_t prune_before_ms) {
  StmtPtr insert, prune;
  int rc = prepare_once(rules::kKpiSampleInsert, insert);
  if (rc == SQLITE_OK) {
    bind_int(insert.get(), 1, sample.time_ms);
    bind_text(insert.get(), 2, sample.kpis);
    bind_int(insert.get(), 3, sample.time_ms - min_gap_ms);
    rc = sqlite3_step(insert.get());
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  const bool stored = rc == SQLITE_OK && sqlite3_changes(db_.get()) > 0;
  if (rc == SQLITE_OK && (rc = prepare_once(rules::kKpiSamplePrune, prune)) == SQLITE_OK) {
    bind_int(prune.get(), 1, prune_before_ms);
    rc = sqlite3_step(prune.get());
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  if (rc != SQLITE_OK) return sql_error(db_.get(), rc, "kpi sample");
  return stored;
}

Result<ExceptionRecord> SqliteStore::update_exception_in_txn(std::int64_t id, const std::string& action,
                                                             const std::string& owner, const std::string& note,
                                                             std::int64_t now_ms) {
  auto current = exception_by_id(id);
  if (!current) return current.error();
  if (!*current) return make_error("not_found", "no exception " + std::to_string(id));
  auto e = rules::exception_after(std::move(**current), action, owner, note, now_ms);
  if (!e) return e;
  StmtPtr s;
  const char* sql = "UPDATE exceptions SET status = ?2, owner = ?3, note = ?4, resolved_ms = ?5 WHERE id = ?1";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "update exception");
  bind_int(s.get(), 1, id);
  bind_text(s.get(), 2, e->status);
  bind_text(s.get(), 3, e->owner);
  bind_text(s.get(), 4, e->note);
  bind_int(s.get(), 5, e->resolved_ms);
  if (const int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) return sql_error(db_.get(), rc, "update exception");
  return e;
}

Result<void> SqliteStore::record_dead_letter(const DeadLetter& d) {
  StmtPtr s;
  const char* sql = "INSERT INTO dead_letter(topic, payload, reason, time_ms) VALUES (?1, ?2, ?3, ?4)";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "dead letter");
  bind_text(s.get(), 1, d.topic);
  bind_blob(s.get(), 2, d.payload);
  bind_text(s.get(), 3, d.reason);
  bind_int(s.get(), 4, d.time_ms);
  if (const int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) return sql_error(db_.get(), rc, "dead letter");
  return {};
}

Result<MasterDataRecord> SqliteStore::put_master_data(const std::string& kind, const std::string& scope,
                                                      const nlohmann::json& payload) {
  auto current = master_data(kind, scope);
  if (!current) return current.error();
  const MasterDataRecord rec = rules::next_master_data(*current, kind, scope, payload);
  StmtPtr s;
  const char* sql =
      "INSERT INTO master_data(kind, scope, version, payload, published_chunks) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(kind, scope) DO UPDATE SET version = excluded.version, payload = excluded.payload";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "master data");
  bind_text(s.get(), 1, kind);
  bind_text(s.get(), 2, scope);
  bind_int(s.get(), 3, rec.version);
  bind_text(s.get(), 4, rec.payload);
  bind_int(s.get(), 5, rec.published_chunks);
  if (const int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) return sql_error(db_.get(), rc, "master data");
  return rec;
}

Result<void> SqliteStore::set_published_chunks(const std::string& kind, const std::string& scope, std::int64_t version,
                                               std::int64_t chunks) {
  StmtPtr s;
  const char* sql = "UPDATE master_data SET published_chunks = ?4 WHERE kind = ?1 AND scope = ?2 AND version = ?3";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "master data");
  bind_text(s.get(), 1, kind);
  bind_text(s.get(), 2, scope);
  bind_int(s.get(), 3, version);
  bind_int(s.get(), 4, chunks);
  if (const int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) return sql_error(db_.get(), rc, "master data");
  return {};
}

Result<void> SqliteStore::init(const SqliteOptions& options) {
  path_ = options.path.string();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) return sql_error(db_.get(), rc, "open " + path_);
  sqlite3_extended_result_codes(db_.get(), 1);
  sqlite3_busy_timeout(db_.get(), options.busy_timeout_ms);
  const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                              (options.durable ? "FULL" : "OFF") + "; PRAGMA foreign_keys=ON;";
  if (rc = exec(db_.get(), pragmas.c_str()); rc != SQLITE_OK) return sql_error(db_.get(), rc, "pragmas " + path_);
  if (auto r = migrate(); !r) return r;
  return prepare_all();
}

Result<void> SqliteStore::migrate() {
  StmtPtr s;
  int rc = prepare_once("PRAGMA user_version", s);
  if (rc != SQLITE_OK) return sql_error(db_.get(), rc, "read schema version of " + path_);
  rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW) return sql_error(db_.get(), rc, "read schema version of " + path_);
  const int from = sqlite3_column_int(s.get(), 0);
  s.reset();
  if (from > kSchemaVersion) {
    return make_error("ledger_newer_schema", "ledger " + path_ + " has schema " + std::to_string(from) +
                                                 ", this build knows up to " + std::to_string(kSchemaVersion));
  }
  if (from == kSchemaVersion) return {};
  return sqlite_util::migrate(db_.get(), kMigrations, from, "ledger");
}

int SqliteStore::prepare_once(const char* sql, StmtPtr& out) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &s, nullptr);
  out.reset(s);
  return rc;
}

Result<void> SqliteStore::prepare_all() {
  const std::pair<StmtPtr*, const char*> all[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&savepoint_, "SAVEPOINT batch"},
      {&rollback_to_, "ROLLBACK TO batch"},
      {&release_, "RELEASE batch"},
      {&select_device_, "SELECT applied_through FROM devices WHERE device = ?1"},
      {&upsert_device_,
       "INSERT INTO devices(device, site, applied_through, last_seen_ms, last_batch_size, movements, rejected) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(device) DO UPDATE SET "
       "applied_through = MAX(applied_through, excluded.applied_through), last_seen_ms = excluded.last_seen_ms, "
       "last_batch_size = excluded.last_batch_size, movements = movements + excluded.movements, "
       "rejected = rejected + excluded.rejected"},
      {&insert_movement_,
       "INSERT INTO movements(device, seq, type, item, lot, qty, from_location, from_state, to_location, to_state, "
       "payload, applied_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
      {&add_balance_,
       "INSERT INTO balances(item, lot, location, state, qty) VALUES (?1, ?2, ?3, ?4, ?5) "
       "ON CONFLICT(item, lot, location, state) DO UPDATE SET qty = qty + excluded.qty"},
      {&take_balance_,
       "INSERT INTO balances(item, lot, location, state, qty, taker_device, taker_seq) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(item, lot, location, state) DO UPDATE SET "
       "qty = qty + excluded.qty, "
       "other_device = CASE WHEN taker_device != excluded.taker_device THEN taker_device ELSE other_device END, "
       "other_seq = CASE WHEN taker_device != excluded.taker_device THEN taker_seq ELSE other_seq END, "
       "taker_device = excluded.taker_device, taker_seq = excluded.taker_seq "
       "RETURNING qty, other_device, other_seq"},
      {&select_movement_, "SELECT payload FROM movements WHERE device = ?1 AND seq = ?2"},
      {&select_balance_, "SELECT qty FROM balances WHERE item = ?1 AND lot = ?2 AND location = ?3 AND state = ?4"},
      {&select_bin_, "SELECT item, lot, qty FROM balances WHERE location = ?1 AND state = ?2 AND qty != 0"},
      {&insert_rejected_,
       "INSERT OR IGNORE INTO rejected(device, seq, reason, payload, time_ms) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&insert_exception_,
       "INSERT INTO exceptions(kind, device, seq, owner, priority, evidence, next_action, status, note, subject, "
       "created_ms, resolved_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, 0)"},
      {&open_exception_for_,
       "SELECT 1 FROM exceptions WHERE kind = ?1 AND subject = ?2 AND status != 'resolved' LIMIT 1"},
      {&select_exception_cursor_, "SELECT through FROM device_exception_cursors WHERE device = ?1"},
      {&select_master_version_, "SELECT version FROM master_data WHERE kind = ?1 AND scope = ?2"},
      {&upsert_status_, rules::kStatusUpsert},
      {&insert_lot_, "INSERT INTO lots(item, lot, expiry) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"},
      {&upsert_exception_cursor_,
       "INSERT INTO device_exception_cursors(device, through) VALUES (?1, ?2) "
       "ON CONFLICT(device) DO UPDATE SET through = MAX(through, excluded.through)"},
  };
  for (const auto& [stmt, sql] : all) {
    if (const int rc = prepare_persistent(db_.get(), sql, *stmt); rc != SQLITE_OK) {
      return sql_error(db_.get(), rc, std::string("prepare ") + sql);
    }
  }
  return {};
}

Result<void> SqliteStore::insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                                          const std::string& to_state, std::int64_t now_ms) {
  Use use(insert_movement_.get());
  sqlite3_stmt* s = *use;
  bind_text(s, 1, m.device);
  bind_int(s, 2, static_cast<std::int64_t>(m.seq));
  bind_text(s, 3, scanner::to_string(m.type));
  bind_text(s, 4, m.item.id());
  bind_text(s, 5, m.item.lot);
  bind_int(s, 6, m.qty);
  bind_text(s, 7, m.from.location.code);
  bind_text(s, 8, from_state);
  bind_text(s, 9, m.to.location.code);
  bind_text(s, 10, to_state);
  bind_text(s, 11, payload);
  bind_int(s, 12, now_ms);
  return done(s, "insert movement");
}

Result<void> SqliteStore::insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                                          const std::string& payload, std::int64_t now_ms) {
  Use use(insert_rejected_.get());
  bind_text(*use, 1, device);
  bind_int(*use, 2, static_cast<std::int64_t>(seq));
  bind_text(*use, 3, reason);
  bind_text(*use, 4, payload);
  bind_int(*use, 5, now_ms);
  return done(*use, "insert rejected");
}

Result<std::int64_t> SqliteStore::insert_exception(const ExceptionRecord& e, std::int64_t now_ms) {
  Use use(insert_exception_.get());
  const std::string evidence = e.evidence.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  bind_text(*use, 1, e.kind);
  bind_text(*use, 2, e.device);
  bind_int(*use, 3, static_cast<std::int64_t>(e.seq));
  bind_text(*use, 4, e.owner);
  bind_text(*use, 5, e.priority);
  bind_text(*use, 6, evidence);
  bind_text(*use, 7, e.next_action);
  bind_text(*use, 8, e.note);
  bind_text(*use, 9, e.subject);
  bind_int(*use, 10, now_ms);
  if (auto r = done(*use, "insert exception"); !r) return r.error();
  return sqlite3_last_insert_rowid(db_.get());
}

Result<bool> SqliteStore::negative_open(const std::string& subject) {
  for (const std::string_view kind : rules::kNegativeKinds) {
    Use use(open_exception_for_.get());
    bind_text(*use, 1, kind);
    bind_text(*use, 2, subject);
    const int rc = sqlite3_step(*use);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "find exception");
  }
  return false;
}

Result<std::int64_t> SqliteStore::balance_of(const Key& key) {
  Use use(select_balance_.get());
  bind_key(*use, key);
  const int rc = sqlite3_step(*use);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(*use, 0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return sql_error(db_.get(), rc, "read balance");
}

Result<std::map<std::pair<std::string, std::string>, std::int64_t>> SqliteStore::bin_balances(
    const std::string& location, const std::string& state) {
  Use use(select_bin_.get());
  bind_text(*use, 1, location);
  bind_text(*use, 2, state);
  std::map<std::pair<std::string, std::string>, std::int64_t> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(*use)) == SQLITE_ROW) {
    out[{column_text(*use, 0), column_text(*use, 1)}] += sqlite3_column_int64(*use, 2);
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "read bin balances");
  return out;
}

Result<void> SqliteStore::add_balance(const Key& key, std::int64_t delta) {
  Use use(add_balance_.get());
  bind_key(*use, key);
  bind_int(*use, 5, delta);
  return done(*use, "update balance");
}

Result<rules::Taken> SqliteStore::take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                               std::uint64_t seq) {
  Use use(take_balance_.get());
  sqlite3_stmt* stmt = *use;
  bind_key(stmt, key);
  bind_int(stmt, 5, delta);
  bind_text(stmt, 6, device);
  bind_int(stmt, 7, static_cast<std::int64_t>(seq));
  int rc = sqlite3_step(stmt);
  rules::Taken t;
  if (rc == SQLITE_ROW) {
    t.qty = sqlite3_column_int64(stmt, 0);
    t.other_device = column_text(stmt, 1);
    t.other_seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 2));
    rc = sqlite3_step(stmt);
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "update balance");
  return t;
}

Result<std::string> SqliteStore::movement_payload(const std::string& device, std::uint64_t seq) {
  Use use(select_movement_.get());
  bind_text(*use, 1, device);
  bind_int(*use, 2, static_cast<std::int64_t>(seq));
  const int rc = sqlite3_step(*use);
  if (rc == SQLITE_ROW) return column_text(*use, 0);
  if (rc == SQLITE_DONE) return std::string();
  return sql_error(db_.get(), rc, "read movement");
}

Result<void> SqliteStore::upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                                        std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                                        std::int64_t rejected_count) {
  Use use(upsert_device_.get());
  bind_text(*use, 1, device);
  bind_text(*use, 2, site);
  bind_int(*use, 3, static_cast<std::int64_t>(through));
  bind_int(*use, 4, now_ms);
  bind_int(*use, 5, batch_size);
  bind_int(*use, 6, applied);
  bind_int(*use, 7, rejected_count);
  return done(*use, "update device");
}

Result<void> SqliteStore::insert_lot(const std::string& item, const std::string& lot, const std::string& expiry) {
  Use use(insert_lot_.get());
  bind_text(*use, 1, item);
  bind_text(*use, 2, lot);
  bind_text(*use, 3, expiry);
  return done(*use, "insert lot");
}

void SqliteStore::bind_key(sqlite3_stmt* s, const Key& key) {
  bind_text(s, 1, std::get<0>(key));
  bind_text(s, 2, std::get<1>(key));
  bind_text(s, 3, std::get<2>(key));
  bind_text(s, 4, std::get<3>(key));
}

}  // namespace tally::ledger::sqlite_detail

namespace tally::ledger {
using sqlite_detail::SqliteStore;

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) { return SqliteStore::open(options); }

}  // namespace tally::ledger
