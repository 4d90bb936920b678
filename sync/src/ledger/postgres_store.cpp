// The PostgreSQL ledger store (libpq). The same contract and apply rules as
// the embedded SQLite store (sqlite_store.cpp, tally/ledger/store.hpp): one
// transaction per batch (a savepoint per batch in a group), per device
// strictly in seq order, dedup by (device, seq), balances derived from the
// movements in the same transaction, count → adjust of device "ledger",
// negative_balance / rejected_movement / forged_device / count_difference
// exceptions. Every statement is prepared once per connection (by its text).
//
// Several instances may share one database: a batch holds its device row's
// lock (FOR UPDATE) until commit; balance rows are written in key order.
#include "postgres_store_impl.hpp"

namespace tally::ledger::pg_detail {

Result<std::uint64_t> PostgresStore::applied_through(const std::string& device) {
  auto r = run("SELECT applied_through FROM devices WHERE device = $1", {p(device)}, "read device");
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::uint64_t{0};
  return static_cast<std::uint64_t>(int64(r->get(), 0, 0));
}

Result<void> PostgresStore::put_device_statuses(std::span<const DeviceStatus> statuses) {
  if (statuses.empty()) return {};
  // The last one per device, written in device order: two instances
  // writing the same devices cannot deadlock.
  std::map<std::string, const DeviceStatus*> last;
  for (const DeviceStatus& st : statuses) last[st.device] = &st;
  static const std::string upsert = dollars(rules::kStatusUpsert);
  return rules::in_transaction(*this, "commit device status", [&]() -> Result<void> {
    for (const auto& [device, st] : last) {
      auto r = run(upsert,
                   {p(st->device), p(st->site), p(std::int64_t{st->online ? 1 : 0}), p_u64(st->pending),
                    p_u64(st->last_seq), p(st->version), p(st->received_ms), p(std::int64_t{st->retained ? 1 : 0})},
                   "device status");
      if (!r) return r.error();
    }
    return {};
  });
}

Result<bool> PostgresStore::add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms,
                                           std::int64_t prune_before_ms) {
  static const std::string insert = dollars(rules::kKpiSampleInsert);
  static const std::string prune = dollars(rules::kKpiSamplePrune);
  return rules::in_transaction(*this, "commit kpi sample", [&]() -> Result<bool> {
    auto added = run(insert, {p(sample.time_ms), p(sample.kpis), p(sample.time_ms - min_gap_ms)}, "kpi sample");
    if (!added) return added.error();
    const bool stored = std::strtoll(PQcmdTuples(added->get()), nullptr, 10) > 0;
    if (auto pruned = run(prune, {p(prune_before_ms)}, "prune kpi samples"); !pruned) return pruned.error();
    return stored;
  });
}

Result<std::int64_t> PostgresStore::apply_device_exceptions(const DeviceExceptionBatch& batch) {
  return rules::in_transaction(*this, "commit device exceptions", [&]() -> Result<std::int64_t> {
    // The device's cursor row, locked until the commit (created when new),
    // so two instances never raise one device's exceptions twice.
    if (auto r = run("INSERT INTO device_exception_cursors(device, through) VALUES ($1, 0) "
                     "ON CONFLICT (device) DO NOTHING",
                     {p(batch.device)}, "add exceptions cursor");
        !r) {
      return r.error();
    }
    auto r = run("SELECT through FROM device_exception_cursors WHERE device = $1 FOR UPDATE", {p(batch.device)},
                 "lock exceptions cursor");
    if (!r) return r.error();
    std::int64_t through = PQntuples(r->get()) == 0 ? 0 : int64(r->get(), 0, 0);
    for (const auto& [id, record] : batch.exceptions) {
      if (id <= through) continue;  // a duplicate delivery
      if (auto x = insert_exception(record, batch.now_ms); !x) return x.error();
      through = id;
    }
    if (auto u = run("UPDATE device_exception_cursors SET through = $2 WHERE device = $1 AND through < $2",
                     {p(batch.device), p(through)}, "update exceptions cursor");
        !u) {
      return u.error();
    }
    return through;
  });
}

Result<void> PostgresStore::record_dead_letter(const DeadLetter& d) {
  auto r = run("INSERT INTO dead_letter(topic, payload, reason, time_ms) VALUES ($1, $2, $3, $4)",
               {p(d.topic), p_bytes(d.payload), p(d.reason), p(d.time_ms)}, "dead letter");
  if (!r) return r.error();
  return {};
}

Result<void> PostgresStore::set_published_chunks(const std::string& kind, const std::string& scope,
                                                 std::int64_t version, std::int64_t chunks) {
  auto r = run("UPDATE master_data SET published_chunks = $4 WHERE kind = $1 AND scope = $2 AND version = $3",
               {p(kind), p(scope), p(version), p(chunks)}, "master data");
  if (!r) return r.error();
  return {};
}

Result<void> PostgresStore::init(const PostgresOptions& options) {
  options_ = options;
  conn_.reset(PQconnectdb(options.conninfo.c_str()));
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    return make_error("ledger_io", "ledger: cannot connect to PostgreSQL: " + last_message());
  }
  if (auto r = session_setup(); !r) return r;
  return migrate();
}

Result<void> PostgresStore::session_setup() {
  prepared_.clear();
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);  // no NOTICE lines on stderr
  std::string setup = "SET client_min_messages = warning; SET synchronous_commit = ";
  setup += options_.durable ? "on" : "off";
  ResPtr r(PQexec(conn_.get(), setup.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error_of(r.get(), "session setup");
  return {};
}

Result<void> PostgresStore::ensure_connected() {
  if (PQstatus(conn_.get()) == CONNECTION_OK) return {};
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return make_error("ledger_io", "ledger: PostgreSQL connection lost: " + last_message());
  }
  return session_setup();
}

Result<void> PostgresStore::migrate() {
  auto lock = run("SELECT pg_advisory_lock($1)", {p(kMigrationLock)}, "lock schema");
  if (!lock) return lock.error();
  auto result = migrate_locked();
  (void)run("SELECT pg_advisory_unlock($1)", {p(kMigrationLock)}, "unlock schema");
  return result;
}

Result<void> PostgresStore::migrate_locked() {
  if (auto r =
          run("CREATE TABLE IF NOT EXISTS tally_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)", {}, "create meta");
      !r) {
    return r.error();
  }
  auto v = run("SELECT value FROM tally_meta WHERE key = 'schema_version'", {}, "read schema version");
  if (!v) return v.error();
  const int from = PQntuples(v->get()) == 0 ? 0 : static_cast<int>(int64(v->get(), 0, 0));
  if (from > kSchemaVersion) {
    return make_error("ledger_newer_schema", "ledger database has schema " + std::to_string(from) +
                                                 ", this build knows up to " + std::to_string(kSchemaVersion));
  }
  if (from == kSchemaVersion) return {};
  if (auto r = begin(); !r) return r;
  for (int i = from; i < kSchemaVersion; ++i) {
    // Several statements: the simple query protocol, no parameters.
    ResPtr r(PQexec(conn_.get(), kMigrations[static_cast<std::size_t>(i)]));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      Error e = error_of(r.get(), "migrate");
      abort_txn();
      return e;
    }
  }
  if (auto r = run("INSERT INTO tally_meta(key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE "
                   "SET value = excluded.value",
                   {p(static_cast<std::int64_t>(kSchemaVersion))}, "migrate");
      !r) {
    abort_txn();
    return r.error();
  }
  if (auto r = run("COMMIT", {}, "commit migration"); !r) {
    abort_txn();
    return r.error();
  }
  return {};
}

Error PostgresStore::error_of(const PGresult* r, std::string_view what) const {
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = last_message();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  msg = "ledger: " + std::string(what) + ": " + msg + (sqlstate.empty() ? "" : " (sqlstate " + sqlstate + ")");
  if (sqlstate == "53100") return make_error("disk_full", msg);
  return make_error("ledger_io", msg);
}

Result<ResPtr> PostgresStore::run(const std::string& sql, const std::vector<Param>& params, std::string_view what) {
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE || PQstatus(conn_.get()) != CONNECTION_OK) {
    if (auto r = ensure_connected(); !r) return r.error();
  }
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    ResPtr r(PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error_of(r.get(), what);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  values.reserve(params.size());
  lengths.reserve(params.size());
  formats.reserve(params.size());
  for (const Param& x : params) {
    values.push_back(x.value.data());
    lengths.push_back(static_cast<int>(x.value.size()));
    formats.push_back(x.binary ? 1 : 0);
  }
  ResPtr r(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(params.size()), values.data(),
                          lengths.data(), formats.data(), 0));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error_of(r.get(), what);
  return r;
}

Result<void> PostgresStore::begin() {
  if (auto r = ensure_connected(); !r) return r;
  if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) abort_txn();
  if (auto r = run("BEGIN", {}, "begin"); !r) return r.error();
  return {};
}

Result<std::uint64_t> PostgresStore::device_through(const std::string& device, const std::string& site,
                                                    std::int64_t now_ms) {
  if (auto r = run("INSERT INTO devices(device, site, applied_through, last_seen_ms, last_batch_size, movements, "
                   "rejected) VALUES ($1, $2, 0, $3, 0, 0, 0) ON CONFLICT (device) DO NOTHING",
                   {p(device), p(site), p(now_ms)}, "add device");
      !r) {
    return r.error();
  }
  auto r = run("SELECT applied_through FROM devices WHERE device = $1 FOR UPDATE", {p(device)}, "lock device");
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::uint64_t{0};
  return static_cast<std::uint64_t>(int64(r->get(), 0, 0));
}

Result<void> PostgresStore::insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                                            const std::string& to_state, std::int64_t now_ms) {
  return exec(
      "INSERT INTO movements(device, seq, type, item, lot, qty, from_location, from_state, to_location, "
      "to_state, payload, applied_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      {p(m.device), p_u64(m.seq), p(scanner::to_string(m.type)), p(m.item.id()), p(m.item.lot), p(m.qty),
       p(m.from.location.code), p(from_state), p(m.to.location.code), p(to_state), p(payload), p(now_ms)},
      "insert movement");
}

Result<std::int64_t> PostgresStore::insert_exception(const ExceptionRecord& e, std::int64_t now_ms) {
  const std::string evidence = e.evidence.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto r =
      run("INSERT INTO exceptions(kind, device, seq, owner, priority, evidence, next_action, status, note, "
          "subject, created_ms, resolved_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, 0) "
          "RETURNING id",
          {p(e.kind), p(e.device), p_u64(e.seq), p(e.owner), p(e.priority), p(evidence), p(e.next_action), p(e.note),
           p(e.subject), p(now_ms)},
          "insert exception");
  if (!r) return r.error();
  return int64(r->get(), 0, 0);
}

Result<bool> PostgresStore::negative_open(const std::string& subject) {
  // Another instance may be looking at the same row: one exception each.
  if (auto r = run("SELECT pg_advisory_xact_lock(hashtext($1))", {p("negative_balance|" + subject)}, "lock subject");
      !r) {
    return r.error();
  }
  auto open = run("SELECT 1 FROM exceptions WHERE kind IN ($2, $3) AND subject = $1 AND status != 'resolved' LIMIT 1",
                  {p(subject), p(rules::kNegativeKinds[0]), p(rules::kNegativeKinds[1])}, "find exception");
  if (!open) return open.error();
  return PQntuples(open->get()) > 0;
}

Result<std::int64_t> PostgresStore::balance_of(const Key& key) {
  auto r = run("SELECT qty FROM balances WHERE item = $1 AND lot = $2 AND location = $3 AND state = $4",
               {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key))}, "read balance");
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::int64_t{0};
  return int64(r->get(), 0, 0);
}

Result<std::map<std::pair<std::string, std::string>, std::int64_t>> PostgresStore::bin_balances(
    const std::string& location, const std::string& state) {
  auto r = run("SELECT item, lot, qty FROM balances WHERE location = $1 AND state = $2 AND qty != 0",
               {p(location), p(state)}, "read bin balances");
  if (!r) return r.error();
  std::map<std::pair<std::string, std::string>, std::int64_t> out;
  for (int i = 0; i < PQntuples(r->get()); ++i)
    out[{text(r->get(), i, 0), text(r->get(), i, 1)}] += int64(r->get(), i, 2);
  return out;
}

Result<void> PostgresStore::add_balance(const Key& key, std::int64_t delta) {
  return exec(
      "INSERT INTO balances(item, lot, location, state, qty) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (item, lot, location, state) DO UPDATE SET qty = balances.qty + excluded.qty",
      {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key)), p(delta)}, "update balance");
}

Result<rules::Taken> PostgresStore::take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                                 std::uint64_t seq) {
  auto r =
      run("INSERT INTO balances(item, lot, location, state, qty, taker_device, taker_seq) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (item, lot, location, state) DO UPDATE SET "
          "qty = balances.qty + excluded.qty, "
          "other_device = CASE WHEN balances.taker_device != excluded.taker_device THEN balances.taker_device "
          "ELSE balances.other_device END, "
          "other_seq = CASE WHEN balances.taker_device != excluded.taker_device THEN balances.taker_seq "
          "ELSE balances.other_seq END, "
          "taker_device = excluded.taker_device, taker_seq = excluded.taker_seq "
          "RETURNING qty, other_device, other_seq",
          {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key)), p(delta), p(device),
           p_u64(seq)},
          "update balance");
  if (!r) return r.error();
  return rules::Taken{int64(r->get(), 0, 0), text(r->get(), 0, 1), static_cast<std::uint64_t>(int64(r->get(), 0, 2))};
}

Result<std::string> PostgresStore::movement_payload(const std::string& device, std::uint64_t seq) {
  auto r =
      run("SELECT payload FROM movements WHERE device = $1 AND seq = $2", {p(device), p_u64(seq)}, "read movement");
  if (!r) return r.error();
  if (PQntuples(r->get()) == 0) return std::string();
  return text(r->get(), 0, 0);
}

Result<void> PostgresStore::upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                                          std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                                          std::int64_t rejected_count) {
  return exec(
      "INSERT INTO devices(device, site, applied_through, last_seen_ms, last_batch_size, movements, "
      "rejected) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device) DO UPDATE SET "
      "site = excluded.site, "
      "applied_through = GREATEST(devices.applied_through, excluded.applied_through), "
      "last_seen_ms = excluded.last_seen_ms, last_batch_size = excluded.last_batch_size, "
      "movements = devices.movements + excluded.movements, rejected = devices.rejected + excluded.rejected",
      {p(device), p(site), p_u64(through), p(now_ms), p(batch_size), p(applied), p(rejected_count)}, "update device");
}

Result<ExceptionRecord> PostgresStore::update_exception_in_txn(std::int64_t id, const std::string& action,
                                                               const std::string& owner, const std::string& note,
                                                               std::int64_t now_ms) {
  auto cur = run(std::string("SELECT ") + kExceptionColumns + " FROM exceptions WHERE id = $1 FOR UPDATE", {p(id)},
                 "exception");
  if (!cur) return cur.error();
  if (PQntuples(cur->get()) == 0) return make_error("not_found", "no exception " + std::to_string(id));
  auto e = rules::exception_after(read_exception(cur->get(), 0), action, owner, note, now_ms);
  if (!e) return e;
  if (auto r = run("UPDATE exceptions SET status = $2, owner = $3, note = $4, resolved_ms = $5 WHERE id = $1",
                   {p(id), p(e->status), p(e->owner), p(e->note), p(e->resolved_ms)}, "update exception");
      !r) {
    return r.error();
  }
  return e;
}

Result<MasterDataRecord> PostgresStore::put_master_in_txn(const std::string& kind, const std::string& scope,
                                                          const nlohmann::json& payload) {
  if (auto r = run("SELECT pg_advisory_xact_lock(hashtext($1))", {p("master|" + kind + "|" + scope)}, "lock"); !r) {
    return r.error();
  }
  auto current = master_data(kind, scope);
  if (!current) return current.error();
  const MasterDataRecord rec = rules::next_master_data(*current, kind, scope, payload);
  if (auto r = run("INSERT INTO master_data(kind, scope, version, payload, published_chunks) VALUES ($1, $2, $3, $4, "
                   "$5) ON CONFLICT (kind, scope) DO UPDATE SET version = excluded.version, payload = "
                   "excluded.payload",
                   {p(kind), p(scope), p(rec.version), p(rec.payload), p(rec.published_chunks)}, "master data");
      !r) {
    return r.error();
  }
  return rec;
}

}  // namespace tally::ledger::pg_detail

namespace tally::ledger {
using pg_detail::PostgresStore;

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options) {
  return PostgresStore::open(options);
}

}  // namespace tally::ledger
