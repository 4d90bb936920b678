// SqliteStore's reads (sqlite_store_impl.hpp): balances, history, devices,
// KPI samples, exceptions, dead letters, master data and check_invariants.
#include "sqlite_store_impl.hpp"

namespace tally::ledger::sqlite_detail {

Result<std::map<std::string, std::string>> SqliteStore::lot_expiries(const std::string& item) {
  StmtPtr s;
  if (const int rc = prepare_once("SELECT lot, expiry FROM lots WHERE item = ?1", s); rc != SQLITE_OK) {
    return sql_error(db_.get(), rc, "lots");
  }
  bind_text(s.get(), 1, item);
  std::map<std::string, std::string> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out[column_text(s.get(), 0)] = column_text(s.get(), 1);
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "lots");
  return out;
}

Result<std::vector<Balance>> SqliteStore::balances(const BalanceQuery& q) {
  std::string sql = "SELECT item, lot, location, state, qty FROM balances WHERE 1";
  if (!q.item.empty()) sql += " AND item = ?1";
  if (!q.location.empty()) sql += " AND location = ?2";
  if (!q.state.empty()) sql += " AND state = ?3";
  if (!q.include_zero) sql += " AND qty != 0";
  sql += " ORDER BY item, lot, location, state LIMIT ?4";
  StmtPtr s;
  if (const int rc = prepare_once(sql.c_str(), s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "balances");
  if (!q.item.empty()) bind_text(s.get(), 1, q.item);
  if (!q.location.empty()) bind_text(s.get(), 2, q.location);
  if (!q.state.empty()) bind_text(s.get(), 3, q.state);
  bind_int(s.get(), 4, static_cast<std::int64_t>(q.limit));
  std::vector<Balance> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(Balance{column_text(s.get(), 0), column_text(s.get(), 1), column_text(s.get(), 2),
                          column_text(s.get(), 3), sqlite3_column_int64(s.get(), 4)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "balances");
  return out;
}

Result<std::vector<StoredMovement>> SqliteStore::stored_movements(sqlite3_stmt* s, const char* what) {
  std::vector<StoredMovement> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.push_back(StoredMovement{sqlite3_column_int64(s, 4), column_text(s, 0),
                                 static_cast<std::uint64_t>(sqlite3_column_int64(s, 1)), column_text(s, 2),
                                 sqlite3_column_int64(s, 3)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, what);
  return out;
}

Result<std::vector<StoredMovement>> SqliteStore::movements(const std::string& device, std::uint64_t after,
                                                           std::size_t limit) {
  StmtPtr s;
  const char* sql = device.empty()
                        ? "SELECT device, seq, payload, applied_ms, id FROM movements WHERE id > ?2 ORDER BY id "
                          "LIMIT ?3"
                        : "SELECT device, seq, payload, applied_ms, id FROM movements WHERE device = ?1 AND seq > ?2 "
                          "ORDER BY seq LIMIT ?3";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "movements");
  if (!device.empty()) bind_text(s.get(), 1, device);
  bind_int(s.get(), 2, static_cast<std::int64_t>(after));
  bind_int(s.get(), 3, static_cast<std::int64_t>(limit));
  return stored_movements(s.get(), "movements");
}

Result<std::vector<StoredMovement>> SqliteStore::history(const HistoryQuery& query) {
  StmtPtr s;
  const char* sql =
      "SELECT device, seq, payload, applied_ms, id FROM movements WHERE (?1 = '' OR item = ?1) AND "
      "(?2 = '' OR from_location = ?2 OR to_location = ?2) AND (?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "history");
  bind_text(s.get(), 1, query.item);
  bind_text(s.get(), 2, query.location);
  bind_int(s.get(), 3, query.before);
  bind_int(s.get(), 4, static_cast<std::int64_t>(query.limit));
  return stored_movements(s.get(), "history");
}

Result<std::vector<RejectedMovement>> SqliteStore::rejected(const std::string& device) {
  StmtPtr s;
  const char* sql =
      "SELECT device, seq, reason, payload FROM rejected WHERE ?1 = '' OR device = ?1 "
      "ORDER BY device, seq";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "rejected");
  bind_text(s.get(), 1, device);
  std::vector<RejectedMovement> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(RejectedMovement{column_text(s.get(), 0),
                                   static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 1)),
                                   column_text(s.get(), 2), column_text(s.get(), 3)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "rejected");
  return out;
}

Result<std::vector<DeviceInfo>> SqliteStore::devices() {
  StmtPtr s;
  const char* sql =
      "SELECT device, site, applied_through, last_seen_ms, last_batch_size, movements, rejected "
      "FROM devices ORDER BY device";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "devices");
  std::vector<DeviceInfo> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    DeviceInfo d;
    d.device = column_text(s.get(), 0);
    d.site = column_text(s.get(), 1);
    d.applied_through = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 2));
    d.last_seen_ms = sqlite3_column_int64(s.get(), 3);
    d.last_batch_size = sqlite3_column_int64(s.get(), 4);
    d.movements = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 5));
    d.rejected = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 6));
    out.push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "devices");
  return out;
}

Result<std::vector<DeviceStatus>> SqliteStore::device_statuses() {
  StmtPtr s;
  if (const int rc = prepare_once(rules::kStatusSelect, s); rc != SQLITE_OK) {
    return sql_error(db_.get(), rc, "device status");
  }
  std::vector<DeviceStatus> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    DeviceStatus st;
    st.device = column_text(s.get(), 0);
    st.site = column_text(s.get(), 1);
    st.online = sqlite3_column_int64(s.get(), 2) != 0;
    st.pending = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 3));
    st.last_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 4));
    st.version = column_text(s.get(), 5);
    st.received_ms = sqlite3_column_int64(s.get(), 6);
    out.push_back(std::move(st));
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "device status");
  return out;
}

Result<std::vector<KpiSample>> SqliteStore::kpi_samples(const KpiSampleQuery& q) {
  StmtPtr s;
  if (const int rc = prepare_once(rules::kKpiSampleSelect, s); rc != SQLITE_OK) {
    return sql_error(db_.get(), rc, "kpi samples");
  }
  bind_int(s.get(), 1, q.since_ms);
  bind_int(s.get(), 2, q.before_ms);
  bind_int(s.get(), 3, static_cast<std::int64_t>(q.limit));
  std::vector<KpiSample> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(KpiSample{sqlite3_column_int64(s.get(), 0), column_text(s.get(), 1)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "kpi samples");
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<ExceptionRecord>> SqliteStore::exceptions(const std::string& status) {
  StmtPtr s;
  const char* sql =
      "SELECT id, kind, device, seq, owner, priority, evidence, next_action, status, note, subject, created_ms, "
      "resolved_ms FROM exceptions WHERE ?1 = '' OR status = ?1 ORDER BY id";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "exceptions");
  bind_text(s.get(), 1, status);
  std::vector<ExceptionRecord> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_exception(s.get()));
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "exceptions");
  return out;
}

Result<std::vector<DeadLetter>> SqliteStore::dead_letters(std::size_t limit) {
  StmtPtr s;
  const char* sql = "SELECT id, topic, payload, reason, time_ms FROM dead_letter ORDER BY id DESC LIMIT ?1";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "dead letters");
  bind_int(s.get(), 1, static_cast<std::int64_t>(limit));
  std::vector<DeadLetter> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(DeadLetter{sqlite3_column_int64(s.get(), 0), column_text(s.get(), 1), column_blob(s.get(), 2),
                             column_text(s.get(), 3), sqlite3_column_int64(s.get(), 4)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "dead letters");
  return out;
}

Result<std::vector<Violation>> SqliteStore::check_invariants() {
  std::vector<Violation> out;
  for (const rules::InvariantCheck& check : rules::invariant_checks()) {
    StmtPtr s;
    if (const int rc = prepare_once(check.sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "check");
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(s.get()); ++c) row.push_back(column_text(s.get(), c));
      out.push_back(Violation{check.kind, check.describe(row)});
    }
    if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "check");
  }
  return out;
}

Result<std::int64_t> SqliteStore::master_data_version(const std::string& kind, const std::string& scope) {
  Use use(select_master_version_.get());
  bind_text(*use, 1, kind);
  bind_text(*use, 2, scope);
  const int rc = sqlite3_step(*use);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(*use, 0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return sql_error(db_.get(), rc, "master data version");
}

Result<std::optional<ExceptionRecord>> SqliteStore::exception_by_id(std::int64_t id) {
  StmtPtr s;
  const char* sql =
      "SELECT id, kind, device, seq, owner, priority, evidence, next_action, status, note, subject, created_ms, "
      "resolved_ms FROM exceptions WHERE id = ?1";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "exception");
  bind_int(s.get(), 1, id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<ExceptionRecord>();
  if (rc != SQLITE_ROW) return sql_error(db_.get(), rc, "exception");
  return std::optional<ExceptionRecord>(read_exception(s.get()));
}

ExceptionRecord SqliteStore::read_exception(sqlite3_stmt* s) {
  ExceptionRecord e;
  e.id = sqlite3_column_int64(s, 0);
  e.kind = column_text(s, 1);
  e.device = column_text(s, 2);
  e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
  e.owner = column_text(s, 4);
  e.priority = column_text(s, 5);
  e.evidence = nlohmann::json::parse(column_text(s, 6), nullptr, false);
  if (e.evidence.is_discarded()) e.evidence = nlohmann::json::object();
  e.next_action = column_text(s, 7);
  e.status = column_text(s, 8);
  e.note = column_text(s, 9);
  e.subject = column_text(s, 10);
  e.created_ms = sqlite3_column_int64(s, 11);
  e.resolved_ms = sqlite3_column_int64(s, 12);
  return e;
}

Result<std::vector<MasterDataRecord>> SqliteStore::select_master(const std::string& kind, const std::string& scope) {
  StmtPtr s;
  const char* sql =
      "SELECT kind, scope, version, payload, published_chunks FROM master_data "
      "WHERE (?1 = '' OR kind = ?1) AND (?1 = '' OR scope = ?2) ORDER BY kind, scope";
  if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "master data");
  bind_text(s.get(), 1, kind);
  bind_text(s.get(), 2, scope);
  std::vector<MasterDataRecord> out;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out.push_back(MasterDataRecord{column_text(s.get(), 0), column_text(s.get(), 1), sqlite3_column_int64(s.get(), 2),
                                   column_text(s.get(), 3), sqlite3_column_int64(s.get(), 4)});
  }
  if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "master data");
  return out;
}

}  // namespace tally::ledger::sqlite_detail
