// PostgresStore's reads (postgres_store_impl.hpp): balances, history,
// devices, KPI samples, exceptions, dead letters, master data and
// check_invariants.
#include "postgres_store_impl.hpp"

namespace tally::ledger::pg_detail {

Result<std::vector<Balance>> PostgresStore::balances(const BalanceQuery& q) {
  std::string sql = "SELECT item, lot, location, state, qty FROM balances WHERE true";
  std::vector<Param> params;
  const auto add = [&](const char* column, const std::string& value) {
    params.push_back(p(value));
    sql += std::string(" AND ") + column + " = $" + std::to_string(params.size());
  };
  if (!q.item.empty()) add("item", q.item);
  if (!q.location.empty()) add("location", q.location);
  if (!q.state.empty()) add("state", q.state);
  if (!q.include_zero) sql += " AND qty != 0";
  params.push_back(p(static_cast<std::int64_t>(q.limit)));
  sql += " ORDER BY item, lot, location, state LIMIT $" + std::to_string(params.size());
  auto r = run(sql, params, "balances");
  if (!r) return r.error();
  std::vector<Balance> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(Balance{text(res, i, 0), text(res, i, 1), text(res, i, 2), text(res, i, 3), int64(res, i, 4)});
  }
  return out;
}

std::vector<StoredMovement> PostgresStore::stored_movements(const PGresult* res) {
  std::vector<StoredMovement> out;
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(StoredMovement{int64(res, i, 4), text(res, i, 0), static_cast<std::uint64_t>(int64(res, i, 1)),
                                 text(res, i, 2), int64(res, i, 3)});
  }
  return out;
}

Result<std::vector<StoredMovement>> PostgresStore::movements(const std::string& device, std::uint64_t after,
                                                             std::size_t limit) {
  auto r = device.empty()
               ? run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE id > $1 ORDER BY id LIMIT $2",
                     {p_u64(after), p(static_cast<std::int64_t>(limit))}, "movements")
               : run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE device = $1 AND seq > $2 "
                     "ORDER BY seq LIMIT $3",
                     {p(device), p_u64(after), p(static_cast<std::int64_t>(limit))}, "movements");
  if (!r) return r.error();
  return stored_movements(r->get());
}

Result<std::vector<StoredMovement>> PostgresStore::history(const HistoryQuery& query) {
  auto r =
      run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE ($1 = '' OR item = $1) AND "
          "($2 = '' OR from_location = $2 OR to_location = $2) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
          {p(query.item), p(query.location), p(query.before), p(static_cast<std::int64_t>(query.limit))}, "history");
  if (!r) return r.error();
  return stored_movements(r->get());
}

Result<std::vector<RejectedMovement>> PostgresStore::rejected(const std::string& device) {
  auto r = run("SELECT device, seq, reason, payload FROM rejected WHERE $1 = '' OR device = $1 ORDER BY device, seq",
               {p(device)}, "rejected");
  if (!r) return r.error();
  std::vector<RejectedMovement> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(RejectedMovement{text(res, i, 0), static_cast<std::uint64_t>(int64(res, i, 1)), text(res, i, 2),
                                   text(res, i, 3)});
  }
  return out;
}

Result<std::vector<DeviceInfo>> PostgresStore::devices() {
  auto r =
      run("SELECT device, site, applied_through, last_seen_ms, last_batch_size, movements, rejected "
          "FROM devices ORDER BY device",
          {}, "devices");
  if (!r) return r.error();
  std::vector<DeviceInfo> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    DeviceInfo d;
    d.device = text(res, i, 0);
    d.site = text(res, i, 1);
    d.applied_through = static_cast<std::uint64_t>(int64(res, i, 2));
    d.last_seen_ms = int64(res, i, 3);
    d.last_batch_size = int64(res, i, 4);
    d.movements = static_cast<std::uint64_t>(int64(res, i, 5));
    d.rejected = static_cast<std::uint64_t>(int64(res, i, 6));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<DeviceStatus>> PostgresStore::device_statuses() {
  auto r = run(rules::kStatusSelect, {}, "device status");
  if (!r) return r.error();
  std::vector<DeviceStatus> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    DeviceStatus st;
    st.device = text(res, i, 0);
    st.site = text(res, i, 1);
    st.online = int64(res, i, 2) != 0;
    st.pending = static_cast<std::uint64_t>(int64(res, i, 3));
    st.last_seq = static_cast<std::uint64_t>(int64(res, i, 4));
    st.version = text(res, i, 5);
    st.received_ms = int64(res, i, 6);
    out.push_back(std::move(st));
  }
  return out;
}

Result<std::vector<KpiSample>> PostgresStore::kpi_samples(const KpiSampleQuery& q) {
  static const std::string select = dollars(rules::kKpiSampleSelect);
  auto r = run(select, {p(q.since_ms), p(q.before_ms), p(static_cast<std::int64_t>(q.limit))}, "kpi samples");
  if (!r) return r.error();
  std::vector<KpiSample> out;
  const PGresult* res = r->get();
  for (int i = PQntuples(res) - 1; i >= 0; --i) out.push_back(KpiSample{int64(res, i, 0), text(res, i, 1)});
  return out;
}

Result<std::vector<ExceptionRecord>> PostgresStore::exceptions(const std::string& status) {
  auto r = run(std::string("SELECT ") + kExceptionColumns + " FROM exceptions WHERE $1 = '' OR status = $1 ORDER BY id",
               {p(status)}, "exceptions");
  if (!r) return r.error();
  std::vector<ExceptionRecord> out;
  for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(read_exception(r->get(), i));
  return out;
}

Result<std::map<std::string, std::string>> PostgresStore::lot_expiries(const std::string& item) {
  auto r = run("SELECT lot, expiry FROM lots WHERE item = $1", {p(item)}, "lots");
  if (!r) return r.error();
  std::map<std::string, std::string> out;
  for (int i = 0; i < PQntuples(r->get()); ++i) out[text(r->get(), i, 0)] = text(r->get(), i, 1);
  return out;
}

Result<std::vector<DeadLetter>> PostgresStore::dead_letters(std::size_t limit) {
  auto r = run("SELECT id, topic, payload, reason, time_ms FROM dead_letter ORDER BY id DESC LIMIT $1",
               {p(static_cast<std::int64_t>(limit))}, "dead letters");
  if (!r) return r.error();
  std::vector<DeadLetter> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(DeadLetter{int64(res, i, 0), text(res, i, 1), bytea(res, i, 2), text(res, i, 3), int64(res, i, 4)});
  }
  return out;
}

Result<std::vector<Violation>> PostgresStore::check_invariants() {
  std::vector<Violation> out;
  for (const rules::InvariantCheck& check : rules::invariant_checks()) {
    auto r = run(check.sql, {}, "check");
    if (!r) return r.error();
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(r->get()); ++c) row.push_back(text(r->get(), i, c));
      out.push_back(Violation{check.kind, check.describe(row)});
    }
  }
  return out;
}

Result<std::int64_t> PostgresStore::master_data_version(const std::string& kind, const std::string& scope) {
  auto r =
      run("SELECT version FROM master_data WHERE kind = $1 AND scope = $2", {p(kind), p(scope)}, "master data version");
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::int64_t{0};
  return int64(r->get(), 0, 0);
}

Result<std::vector<MasterDataRecord>> PostgresStore::select_master(const std::string& kind, const std::string& scope) {
  auto r =
      run("SELECT kind, scope, version, payload, published_chunks FROM master_data "
          "WHERE ($1 = '' OR kind = $1) AND ($1 = '' OR scope = $2) ORDER BY kind, scope",
          {p(kind), p(scope)}, "master data");
  if (!r) return r.error();
  std::vector<MasterDataRecord> out;
  const PGresult* res = r->get();
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(
        MasterDataRecord{text(res, i, 0), text(res, i, 1), int64(res, i, 2), text(res, i, 3), int64(res, i, 4)});
  }
  return out;
}

}  // namespace tally::ledger::pg_detail
