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
#include "tally/ledger/postgres_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tally/wire/movement_json.hpp"
#include "apply_rules.hpp"
#include "apply_step.hpp"
#include "schema.hpp"
#include "store_txn.hpp"
#include "fleet_schema.hpp"

namespace tally::ledger {
namespace {

using scanner::Movement;

constexpr int kSchemaVersion = schema::kVersion;
constexpr std::int64_t kMigrationLock = 0x7461'6c6c'7931;  // "tally1"

const auto& kMigrations = schema::kPostgres;  // schema.hpp

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResPtr = std::unique_ptr<PGresult, ResultDeleter>;
struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

// One statement parameter: text, or raw bytes (bytea).
struct Param {
  std::string value;
  bool binary = false;
};
Param p(std::string_view s) { return Param{std::string(s), false}; }
Param p(std::int64_t v) { return Param{std::to_string(v), false}; }
Param p_u64(std::uint64_t v) { return Param{std::to_string(static_cast<std::int64_t>(v)), false}; }
Param p_bytes(std::string_view s) { return Param{std::string(s), true}; }

// The shared SQL of fleet_schema.hpp with PostgreSQL's placeholders ("?1" → "$1").
std::string dollars(std::string_view sqlite_sql) {
  std::string out(sqlite_sql);
  std::replace(out.begin(), out.end(), '?', '$');
  return out;
}

std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}
std::int64_t int64(const PGresult* r, int row, int col) { return std::strtoll(PQgetvalue(r, row, col), nullptr, 10); }

// A bytea column in the text result format ("\x" + hex).
std::string bytea(const PGresult* r, int row, int col) {
  const std::string t = text(r, row, col);
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return t;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  std::string out;
  out.reserve((t.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < t.size(); i += 2) {
    out.push_back(static_cast<char>((nibble(t[i]) << 4) | nibble(t[i + 1])));
  }
  return out;
}

using rules::Key;

constexpr const char* kExceptionColumns =
    "id, kind, device, seq, owner, priority, evidence, next_action, status, note, subject, created_ms, resolved_ms";

ExceptionRecord read_exception(const PGresult* r, int row) {
  ExceptionRecord e;
  e.id = int64(r, row, 0);
  e.kind = text(r, row, 1);
  e.device = text(r, row, 2);
  e.seq = static_cast<std::uint64_t>(int64(r, row, 3));
  e.owner = text(r, row, 4);
  e.priority = text(r, row, 5);
  e.evidence = nlohmann::json::parse(text(r, row, 6), nullptr, false);
  if (e.evidence.is_discarded()) e.evidence = nlohmann::json::object();
  e.next_action = text(r, row, 7);
  e.status = text(r, row, 8);
  e.note = text(r, row, 9);
  e.subject = text(r, row, 10);
  e.created_ms = int64(r, row, 11);
  e.resolved_ms = int64(r, row, 12);
  return e;
}

class PostgresStore final : public Store, private rules::ApplySql, private rules::TxnSql {
 public:
  static Result<std::unique_ptr<Store>> open(const PostgresOptions& options) {
    auto store = std::unique_ptr<PostgresStore>(new PostgresStore());
    if (auto r = store->init(options); !r) return r.error();
    return std::unique_ptr<Store>(std::move(store));
  }

  Result<ApplyOutcome> apply_batch(const Batch& batch) override {
    return rules::in_transaction(*this, "commit batch", [&] { return apply_in_txn(batch); });
  }

  Result<std::vector<Result<ApplyOutcome>>> apply_batches(std::span<const Batch> batches) override {
    return rules::apply_group(*this, batches, [this](const Batch& batch) { return apply_in_txn(batch); });
  }

  Result<std::uint64_t> applied_through(const std::string& device) override {
    auto r = run("SELECT applied_through FROM devices WHERE device = $1", {p(device)}, "read device");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::uint64_t{0};
    return static_cast<std::uint64_t>(int64(r->get(), 0, 0));
  }

  Result<std::vector<Balance>> balances(const BalanceQuery& q) override {
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

  // The rows of a "SELECT device, seq, payload, applied_ms, id FROM movements …".
  static std::vector<StoredMovement> stored_movements(const PGresult* res) {
    std::vector<StoredMovement> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      out.push_back(StoredMovement{int64(res, i, 4), text(res, i, 0), static_cast<std::uint64_t>(int64(res, i, 1)),
                                   text(res, i, 2), int64(res, i, 3)});
    }
    return out;
  }

  Result<std::vector<StoredMovement>> movements(const std::string& device, std::uint64_t after,
                                                std::size_t limit) override {
    auto r = device.empty()
                 ? run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE id > $1 ORDER BY id LIMIT $2",
                       {p_u64(after), p(static_cast<std::int64_t>(limit))}, "movements")
                 : run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE device = $1 AND seq > $2 "
                       "ORDER BY seq LIMIT $3",
                       {p(device), p_u64(after), p(static_cast<std::int64_t>(limit))}, "movements");
    if (!r) return r.error();
    return stored_movements(r->get());
  }

  Result<std::vector<StoredMovement>> history(const HistoryQuery& query) override {
    auto r = run("SELECT device, seq, payload, applied_ms, id FROM movements WHERE ($1 = '' OR item = $1) AND "
                 "($2 = '' OR from_location = $2 OR to_location = $2) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
                 {p(query.item), p(query.location), p(query.before), p(static_cast<std::int64_t>(query.limit))},
                 "history");
    if (!r) return r.error();
    return stored_movements(r->get());
  }

  Result<std::vector<RejectedMovement>> rejected(const std::string& device) override {
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

  Result<std::vector<DeviceInfo>> devices() override {
    auto r = run("SELECT device, site, applied_through, last_seen_ms, last_batch_size, movements, rejected "
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

  Result<void> put_device_statuses(std::span<const DeviceStatus> statuses) override {
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

  Result<std::vector<DeviceStatus>> device_statuses() override {
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

  Result<bool> add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms) override {
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

  Result<std::vector<KpiSample>> kpi_samples(const KpiSampleQuery& q) override {
    static const std::string select = dollars(rules::kKpiSampleSelect);
    auto r = run(select, {p(q.since_ms), p(q.before_ms), p(static_cast<std::int64_t>(q.limit))}, "kpi samples");
    if (!r) return r.error();
    std::vector<KpiSample> out;
    const PGresult* res = r->get();
    for (int i = PQntuples(res) - 1; i >= 0; --i) out.push_back(KpiSample{int64(res, i, 0), text(res, i, 1)});
    return out;
  }

  Result<std::int64_t> raise_exception(const ExceptionRecord& e) override {
    if (auto r = ensure_connected(); !r) return r.error();
    return insert_exception(e, e.created_ms);
  }

  Result<std::vector<ExceptionRecord>> exceptions(const std::string& status) override {
    auto r = run(std::string("SELECT ") + kExceptionColumns + " FROM exceptions WHERE $1 = '' OR status = $1 ORDER BY id",
                 {p(status)}, "exceptions");
    if (!r) return r.error();
    std::vector<ExceptionRecord> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.push_back(read_exception(r->get(), i));
    return out;
  }

  Result<ExceptionRecord> update_exception(std::int64_t id, const std::string& action, const std::string& owner,
                                           const std::string& note, std::int64_t now_ms) override {
    if (auto ok = rules::check_exception_action(action, owner); !ok) return ok.error();
    return rules::in_transaction(*this, "commit exception",
                                 [&] { return update_exception_in_txn(id, action, owner, note, now_ms); });
  }

  Result<std::int64_t> apply_device_exceptions(const DeviceExceptionBatch& batch) override {
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

  Result<std::map<std::string, std::string>> lot_expiries(const std::string& item) override {
    auto r = run("SELECT lot, expiry FROM lots WHERE item = $1", {p(item)}, "lots");
    if (!r) return r.error();
    std::map<std::string, std::string> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out[text(r->get(), i, 0)] = text(r->get(), i, 1);
    return out;
  }

  Result<void> record_dead_letter(const DeadLetter& d) override {
    auto r = run("INSERT INTO dead_letter(topic, payload, reason, time_ms) VALUES ($1, $2, $3, $4)",
                 {p(d.topic), p_bytes(d.payload), p(d.reason), p(d.time_ms)}, "dead letter");
    if (!r) return r.error();
    return {};
  }

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override {
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

  Result<std::vector<Violation>> check_invariants() override {
    std::vector<Violation> out;
    const auto key_text = [](const PGresult* r, int i) {
      return "item " + text(r, i, 0) + " lot '" + text(r, i, 1) + "' at " + text(r, i, 2) + " (" + text(r, i, 3) + ")";
    };
    auto sums = run("SELECT item, lot, SUM(qty) FROM balances GROUP BY item, lot HAVING SUM(qty) != 0", {}, "check");
    if (!sums) return sums.error();
    for (int i = 0; i < PQntuples(sums->get()); ++i) {
      out.push_back(Violation{"sum_not_zero", "item " + text(sums->get(), i, 0) + " lot '" + text(sums->get(), i, 1) +
                                                  "' sums to " + text(sums->get(), i, 2) + ", not 0"});
    }
    auto ext = run("SELECT item, lot, location, state FROM balances WHERE (substr(location, 1, 1) = '@') != "
                   "(state = '')",
                   {}, "check");
    if (!ext) return ext.error();
    for (int i = 0; i < PQntuples(ext->get()); ++i) {
      out.push_back(Violation{"external_state",
                              key_text(ext->get(), i) + ": state must be empty exactly for external parties"});
    }
    static constexpr const char* kDerived =
        "WITH d(item, lot, location, state, qty) AS ("
        " SELECT item, lot, from_location, from_state, -qty FROM movements WHERE type != 'count'"
        " UNION ALL SELECT item, lot, to_location, to_state, qty FROM movements WHERE type != 'count'),"
        " s AS (SELECT item, lot, location, state, SUM(qty) AS qty FROM d GROUP BY 1, 2, 3, 4) ";
    const std::string a = std::string(kDerived) +
                          "SELECT s.item, s.lot, s.location, s.state, s.qty, COALESCE(b.qty, 0) FROM s LEFT JOIN "
                          "balances AS b USING (item, lot, location, state) WHERE s.qty != COALESCE(b.qty, 0)";
    const std::string b = std::string(kDerived) +
                          "SELECT b.item, b.lot, b.location, b.state, 0, b.qty FROM balances AS b LEFT JOIN s "
                          "USING (item, lot, location, state) WHERE s.qty IS NULL AND b.qty != 0";
    for (const std::string* sql : {&a, &b}) {
      auto r = run(*sql, {}, "check");
      if (!r) return r.error();
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        out.push_back(Violation{"balance_mismatch", key_text(r->get(), i) + ": movements sum to " +
                                                        text(r->get(), i, 4) + ", balance is " + text(r->get(), i, 5)});
      }
    }
    return out;
  }

  Result<MasterDataRecord> put_master_data(const std::string& kind, const std::string& scope,
                                           const nlohmann::json& payload) override {
    return rules::in_transaction(*this, "commit master data", [&] { return put_master_in_txn(kind, scope, payload); });
  }

  Result<std::optional<MasterDataRecord>> master_data(const std::string& kind, const std::string& scope) override {
    auto all = select_master(kind, scope);
    if (!all) return all.error();
    if (all->empty()) return std::optional<MasterDataRecord>();
    return std::optional<MasterDataRecord>(std::move(all->front()));
  }

  Result<std::vector<MasterDataRecord>> all_master_data() override { return select_master("", ""); }

  Result<std::int64_t> master_data_version(const std::string& kind, const std::string& scope) override {
    auto r = run("SELECT version FROM master_data WHERE kind = $1 AND scope = $2", {p(kind), p(scope)},
                 "master data version");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::int64_t{0};
    return int64(r->get(), 0, 0);
  }

  Result<void> set_published_chunks(const std::string& kind, const std::string& scope, std::int64_t version,
                                    std::int64_t chunks) override {
    auto r = run("UPDATE master_data SET published_chunks = $4 WHERE kind = $1 AND scope = $2 AND version = $3",
                 {p(kind), p(scope), p(version), p(chunks)}, "master data");
    if (!r) return r.error();
    return {};
  }

 private:
  PostgresStore() = default;

  // ------------------------------------------------------------ connection

  Result<void> init(const PostgresOptions& options) {
    options_ = options;
    conn_.reset(PQconnectdb(options.conninfo.c_str()));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
      return make_error("ledger_io", "ledger: cannot connect to PostgreSQL: " + last_message());
    }
    if (auto r = session_setup(); !r) return r;
    return migrate();
  }

  Result<void> session_setup() {
    prepared_.clear();
    PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);  // no NOTICE lines on stderr
    std::string setup = "SET client_min_messages = warning; SET synchronous_commit = ";
    setup += options_.durable ? "on" : "off";
    ResPtr r(PQexec(conn_.get(), setup.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error_of(r.get(), "session setup");
    return {};
  }

  // A lost connection is re-established at the next call outside a transaction.
  Result<void> ensure_connected() {
    if (PQstatus(conn_.get()) == CONNECTION_OK) return {};
    PQreset(conn_.get());
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      return make_error("ledger_io", "ledger: PostgreSQL connection lost: " + last_message());
    }
    return session_setup();
  }

  Result<void> migrate() {
    auto lock = run("SELECT pg_advisory_lock($1)", {p(kMigrationLock)}, "lock schema");
    if (!lock) return lock.error();
    auto result = migrate_locked();
    (void)run("SELECT pg_advisory_unlock($1)", {p(kMigrationLock)}, "unlock schema");
    return result;
  }

  Result<void> migrate_locked() {
    if (auto r = run("CREATE TABLE IF NOT EXISTS tally_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)", {},
                     "create meta");
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

  std::string last_message() const {
    std::string m = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }

  Error error_of(const PGresult* r, std::string_view what) const {
    std::string msg = r != nullptr ? PQresultErrorMessage(r) : "";
    if (msg.empty()) msg = last_message();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state != nullptr ? state : "";
    msg = "ledger: " + std::string(what) + ": " + msg + (sqlstate.empty() ? "" : " (sqlstate " + sqlstate + ")");
    if (sqlstate == "53100") return make_error("disk_full", msg);
    return make_error("ledger_io", msg);
  }

  // Runs one statement, prepared once per connection by its text.
  Result<ResPtr> run(const std::string& sql, const std::vector<Param>& params, std::string_view what) {
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

  // ------------------------------------------------------------ rules::TxnSql (transactions)

  Result<void> run_txn(const char* sql, std::string_view what) {
    if (auto r = run(sql, {}, what); !r) return r.error();
    return {};
  }
  Result<void> commit(std::string_view what) override { return run_txn("COMMIT", what); }
  Result<void> savepoint() override { return run_txn("SAVEPOINT batch", "savepoint"); }
  Result<void> rollback_to_savepoint() override { return run_txn("ROLLBACK TO SAVEPOINT batch", "rollback to savepoint"); }
  Result<void> release_savepoint() override { return run_txn("RELEASE SAVEPOINT batch", "release savepoint"); }
  bool transaction_alive() override { return PQstatus(conn_.get()) == CONNECTION_OK; }

  Result<void> begin() override {
    if (auto r = ensure_connected(); !r) return r;
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) abort_txn();
    if (auto r = run("BEGIN", {}, "begin"); !r) return r.error();
    return {};
  }

  void abort_txn() override {
    if (PQstatus(conn_.get()) != CONNECTION_OK) return;
    if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
    ResPtr r(PQexec(conn_.get(), "ROLLBACK"));
  }

  // ------------------------------------------------------------ rules::ApplySql (the apply step's SQL)

  // The device's applied_through, its row locked until the commit (created
  // when new), so two instances never apply one device's batches at once.
  Result<std::uint64_t> device_through(const std::string& device, const std::string& site,
                                       std::int64_t now_ms) override {
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

  Result<void> insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                               const std::string& to_state, std::int64_t now_ms) override {
    return exec("INSERT INTO movements(device, seq, type, item, lot, qty, from_location, from_state, to_location, "
                "to_state, payload, applied_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                {p(m.device), p_u64(m.seq), p(scanner::to_string(m.type)), p(m.item.id()), p(m.item.lot), p(m.qty),
                 p(m.from.location.code), p(from_state), p(m.to.location.code), p(to_state), p(payload), p(now_ms)},
                "insert movement");
  }

  Result<void> insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                               const std::string& payload, std::int64_t now_ms) override {
    return exec("INSERT INTO rejected(device, seq, reason, payload, time_ms) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT DO NOTHING",
                {p(device), p_u64(seq), p(reason), p(payload), p(now_ms)}, "insert rejected");
  }

  Result<std::int64_t> insert_exception(const ExceptionRecord& e, std::int64_t now_ms) override {
    const std::string evidence = e.evidence.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto r = run("INSERT INTO exceptions(kind, device, seq, owner, priority, evidence, next_action, status, note, "
                 "subject, created_ms, resolved_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, 0) "
                 "RETURNING id",
                 {p(e.kind), p(e.device), p_u64(e.seq), p(e.owner), p(e.priority), p(evidence), p(e.next_action),
                  p(e.note), p(e.subject), p(now_ms)},
                 "insert exception");
    if (!r) return r.error();
    return int64(r->get(), 0, 0);
  }

  Result<bool> negative_open(const std::string& subject) override {
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

  Result<std::int64_t> balance_of(const Key& key) override {
    auto r = run("SELECT qty FROM balances WHERE item = $1 AND lot = $2 AND location = $3 AND state = $4",
                 {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key))}, "read balance");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::int64_t{0};
    return int64(r->get(), 0, 0);
  }

  Result<std::map<std::pair<std::string, std::string>, std::int64_t>> bin_balances(const std::string& location,
                                                                                 const std::string& state) override {
    auto r = run("SELECT item, lot, qty FROM balances WHERE location = $1 AND state = $2 AND qty != 0",
                 {p(location), p(state)}, "read bin balances");
    if (!r) return r.error();
    std::map<std::pair<std::string, std::string>, std::int64_t> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out[{text(r->get(), i, 0), text(r->get(), i, 1)}] += int64(r->get(), i, 2);
    return out;
  }

  Result<void> add_balance(const Key& key, std::int64_t delta) override {
    return exec("INSERT INTO balances(item, lot, location, state, qty) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (item, lot, location, state) DO UPDATE SET qty = balances.qty + excluded.qty",
                {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key)), p(delta)},
                "update balance");
  }

  Result<rules::Taken> take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                    std::uint64_t seq) override {
    auto r = run("INSERT INTO balances(item, lot, location, state, qty, taker_device, taker_seq) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (item, lot, location, state) DO UPDATE SET "
                 "qty = balances.qty + excluded.qty, "
                 "other_device = CASE WHEN balances.taker_device != excluded.taker_device THEN balances.taker_device "
                 "ELSE balances.other_device END, "
                 "other_seq = CASE WHEN balances.taker_device != excluded.taker_device THEN balances.taker_seq "
                 "ELSE balances.other_seq END, "
                 "taker_device = excluded.taker_device, taker_seq = excluded.taker_seq "
                 "RETURNING qty, other_device, other_seq",
                 {p(std::get<0>(key)), p(std::get<1>(key)), p(std::get<2>(key)), p(std::get<3>(key)), p(delta),
                  p(device), p_u64(seq)},
                 "update balance");
    if (!r) return r.error();
    return rules::Taken{int64(r->get(), 0, 0), text(r->get(), 0, 1),
                        static_cast<std::uint64_t>(int64(r->get(), 0, 2))};
  }

  Result<std::string> movement_payload(const std::string& device, std::uint64_t seq) override {
    auto r = run("SELECT payload FROM movements WHERE device = $1 AND seq = $2", {p(device), p_u64(seq)},
                 "read movement");
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0) return std::string();
    return text(r->get(), 0, 0);
  }

  Result<void> upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                             std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                             std::int64_t rejected_count) override {
    return exec("INSERT INTO devices(device, site, applied_through, last_seen_ms, last_batch_size, movements, "
                "rejected) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device) DO UPDATE SET "
                "site = excluded.site, "
                "applied_through = GREATEST(devices.applied_through, excluded.applied_through), "
                "last_seen_ms = excluded.last_seen_ms, last_batch_size = excluded.last_batch_size, "
                "movements = devices.movements + excluded.movements, rejected = devices.rejected + excluded.rejected",
                {p(device), p(site), p_u64(through), p(now_ms), p(batch_size), p(applied), p(rejected_count)},
                "update device");
  }

  Result<void> insert_lot(const std::string& item, const std::string& lot, const std::string& expiry) override {
    return exec("INSERT INTO lots(item, lot, expiry) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                {p(item), p(lot), p(expiry)}, "insert lot");
  }

  // A statement without rows.
  Result<void> exec(const std::string& sql, const std::vector<Param>& params, std::string_view what) {
    auto r = run(sql, params, what);
    if (!r) return r.error();
    return {};
  }

  Result<ApplyOutcome> apply_in_txn(const Batch& batch) { return step_.apply(batch, *this); }

  Result<ExceptionRecord> update_exception_in_txn(std::int64_t id, const std::string& action,
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

  Result<MasterDataRecord> put_master_in_txn(const std::string& kind, const std::string& scope,
                                             const nlohmann::json& payload) {
    if (auto r = run("SELECT pg_advisory_xact_lock(hashtext($1))", {p("master|" + kind + "|" + scope)}, "lock");
        !r) {
      return r.error();
    }
    auto current = master_data(kind, scope);
    if (!current) return current.error();
    MasterDataRecord rec;
    rec.kind = kind;
    rec.scope = scope;
    rec.version = *current ? (*current)->version + 1 : 1;
    rec.published_chunks = *current ? (*current)->published_chunks : 0;
    nlohmann::json copy = payload;
    copy["v"] = 1;
    copy["version"] = rec.version;
    rec.payload = copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (auto r = run("INSERT INTO master_data(kind, scope, version, payload, published_chunks) VALUES ($1, $2, $3, $4, "
                     "$5) ON CONFLICT (kind, scope) DO UPDATE SET version = excluded.version, payload = "
                     "excluded.payload",
                     {p(kind), p(scope), p(rec.version), p(rec.payload), p(rec.published_chunks)}, "master data");
        !r) {
      return r.error();
    }
    return rec;
  }

  Result<std::vector<MasterDataRecord>> select_master(const std::string& kind, const std::string& scope) {
    auto r = run("SELECT kind, scope, version, payload, published_chunks FROM master_data "
                 "WHERE ($1 = '' OR kind = $1) AND ($1 = '' OR scope = $2) ORDER BY kind, scope",
                 {p(kind), p(scope)}, "master data");
    if (!r) return r.error();
    std::vector<MasterDataRecord> out;
    const PGresult* res = r->get();
    for (int i = 0; i < PQntuples(res); ++i) {
      out.push_back(MasterDataRecord{text(res, i, 0), text(res, i, 1), int64(res, i, 2), text(res, i, 3),
                                     int64(res, i, 4)});
    }
    return out;
  }

  PostgresOptions options_;
  ConnPtr conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text → statement name

  rules::ApplyStep step_;  // the apply rules, shared with the SQLite store
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options) {
  return PostgresStore::open(options);
}

}  // namespace tally::ledger
