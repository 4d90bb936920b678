// The embedded ledger store: one SQLite file (WAL, synchronous=FULL), every
// hot statement prepared once. The contract is in tally/ledger/store.hpp;
// the format is written up in docs/PROTOCOL.md "## Ledger".
//
// Balances are a cache of the movements (SUM per item, lot, location, state),
// updated in the same transaction as the movements that change them and
// never edited otherwise; check_invariants recomputes them from movements.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "../sqlite_util.hpp"
#include "apply_rules.hpp"
#include "apply_step.hpp"
#include "schema.hpp"
#include "store_txn.hpp"
#include "fleet_schema.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::ledger {
namespace {

using namespace tally::sqlite_util;  // NOLINT(google-build-using-namespace): the RAII layer
using scanner::Movement;

constexpr int kSchemaVersion = schema::kVersion;

const auto& kMigrations = schema::kSqlite;  // schema.hpp

Error sql_error(sqlite3* db, int rc, std::string_view what) { return sqlite_util::sql_error(db, rc, what, "ledger"); }

using rules::Key;

class SqliteStore final : public Store, private rules::ApplySql, private rules::TxnSql {
 public:
  static Result<std::unique_ptr<Store>> open(const SqliteOptions& options) {
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore());
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
    Use use(select_device_.get());
    bind_text(*use, 1, device);
    const int rc = sqlite3_step(*use);
    if (rc == SQLITE_DONE) return std::uint64_t{0};
    if (rc != SQLITE_ROW) return sql_error(db_.get(), rc, "read device");
    return static_cast<std::uint64_t>(sqlite3_column_int64(*use, 0));
  }

  Result<std::int64_t> apply_device_exceptions(const DeviceExceptionBatch& batch) override {
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

  Result<std::map<std::string, std::string>> lot_expiries(const std::string& item) override {
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

  Result<std::vector<Balance>> balances(const BalanceQuery& q) override {
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

  // The rows of a "SELECT device, seq, payload, applied_ms, id FROM movements …".
  Result<std::vector<StoredMovement>> stored_movements(sqlite3_stmt* s, const char* what) {
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

  Result<std::vector<StoredMovement>> movements(const std::string& device, std::uint64_t after,
                                                std::size_t limit) override {
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

  Result<std::vector<StoredMovement>> history(const HistoryQuery& query) override {
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

  Result<std::vector<RejectedMovement>> rejected(const std::string& device) override {
    StmtPtr s;
    const char* sql = "SELECT device, seq, reason, payload FROM rejected WHERE ?1 = '' OR device = ?1 "
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

  Result<std::vector<DeviceInfo>> devices() override {
    StmtPtr s;
    const char* sql = "SELECT device, site, applied_through, last_seen_ms, last_batch_size, movements, rejected "
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

  Result<void> put_device_statuses(std::span<const DeviceStatus> statuses) override {
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

  Result<std::vector<DeviceStatus>> device_statuses() override {
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

  Result<bool> add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms) override {
    return rules::in_transaction(*this, "commit kpi sample", [&]() -> Result<bool> {
      return add_kpi_sample_in_txn(sample, min_gap_ms, prune_before_ms);
    });
  }

  Result<bool> add_kpi_sample_in_txn(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms) {
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

  Result<std::vector<KpiSample>> kpi_samples(const KpiSampleQuery& q) override {
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

  Result<std::int64_t> raise_exception(const ExceptionRecord& e) override {
    return insert_exception(e, e.created_ms);
  }

  Result<std::vector<ExceptionRecord>> exceptions(const std::string& status) override {
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

  Result<ExceptionRecord> update_exception(std::int64_t id, const std::string& action, const std::string& owner,
                                           const std::string& note, std::int64_t now_ms) override {
    if (auto ok = rules::check_exception_action(action, owner); !ok) return ok.error();
    return rules::in_transaction(*this, "commit exception",
                                 [&] { return update_exception_in_txn(id, action, owner, note, now_ms); });
  }

  Result<ExceptionRecord> update_exception_in_txn(std::int64_t id, const std::string& action,
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

  Result<void> record_dead_letter(const DeadLetter& d) override {
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

  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override {
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

  Result<std::vector<Violation>> check_invariants() override {
    std::vector<Violation> out;
    const auto run = [&](const char* sql, const char* kind, auto describe) -> Result<void> {
      StmtPtr s;
      if (const int rc = prepare_once(sql, s); rc != SQLITE_OK) return sql_error(db_.get(), rc, "check");
      int rc = SQLITE_OK;
      while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(Violation{kind, describe(s.get())});
      if (rc != SQLITE_DONE) return sql_error(db_.get(), rc, "check");
      return {};
    };
    const auto key_text = [](sqlite3_stmt* s) {
      return "item " + column_text(s, 0) + " lot '" + column_text(s, 1) + "' at " + column_text(s, 2) + " (" +
             column_text(s, 3) + ")";
    };
    if (auto r = run("SELECT item, lot, SUM(qty) FROM balances GROUP BY item, lot HAVING SUM(qty) != 0",
                     "sum_not_zero",
                     [](sqlite3_stmt* s) {
                       return "item " + column_text(s, 0) + " lot '" + column_text(s, 1) + "' sums to " +
                              std::to_string(sqlite3_column_int64(s, 2)) + ", not 0";
                     });
        !r) {
      return r.error();
    }
    if (auto r = run("SELECT item, lot, location, state FROM balances WHERE (substr(location, 1, 1) = '@') != "
                     "(state = '')",
                     "external_state", [&](sqlite3_stmt* s) { return key_text(s) + ": state must be empty exactly "
                                                                                     "for external parties"; });
        !r) {
      return r.error();
    }
    static constexpr const char* kDerived =
        "WITH d(item, lot, location, state, qty) AS ("
        " SELECT item, lot, from_location, from_state, -qty FROM movements WHERE type != 'count'"
        " UNION ALL SELECT item, lot, to_location, to_state, qty FROM movements WHERE type != 'count'),"
        " s AS (SELECT item, lot, location, state, SUM(qty) AS qty FROM d GROUP BY 1, 2, 3, 4) ";
    const std::string a = std::string(kDerived) +
                          "SELECT s.item, s.lot, s.location, s.state, s.qty, IFNULL(b.qty, 0) FROM s LEFT JOIN "
                          "balances AS b USING (item, lot, location, state) WHERE s.qty != IFNULL(b.qty, 0)";
    const std::string b = std::string(kDerived) +
                          "SELECT b.item, b.lot, b.location, b.state, 0, b.qty FROM balances AS b LEFT JOIN s "
                          "USING (item, lot, location, state) WHERE s.qty IS NULL AND b.qty != 0";
    const auto mismatch = [&](sqlite3_stmt* s) {
      return key_text(s) + ": movements sum to " + std::to_string(sqlite3_column_int64(s, 4)) + ", balance is " +
             std::to_string(sqlite3_column_int64(s, 5));
    };
    if (auto r = run(a.c_str(), "balance_mismatch", mismatch); !r) return r.error();
    if (auto r = run(b.c_str(), "balance_mismatch", mismatch); !r) return r.error();
    return out;
  }

  Result<MasterDataRecord> put_master_data(const std::string& kind, const std::string& scope,
                                           const nlohmann::json& payload) override {
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

  Result<std::optional<MasterDataRecord>> master_data(const std::string& kind, const std::string& scope) override {
    auto all = select_master(kind, scope);
    if (!all) return all.error();
    if (all->empty()) return std::optional<MasterDataRecord>();
    return std::optional<MasterDataRecord>(std::move(all->front()));
  }

  Result<std::vector<MasterDataRecord>> all_master_data() override { return select_master("", ""); }

  Result<std::int64_t> master_data_version(const std::string& kind, const std::string& scope) override {
    Use use(select_master_version_.get());
    bind_text(*use, 1, kind);
    bind_text(*use, 2, scope);
    const int rc = sqlite3_step(*use);
    if (rc == SQLITE_ROW) return sqlite3_column_int64(*use, 0);
    if (rc == SQLITE_DONE) return std::int64_t{0};
    return sql_error(db_.get(), rc, "master data version");
  }

  Result<void> set_published_chunks(const std::string& kind, const std::string& scope, std::int64_t version,
                                    std::int64_t chunks) override {
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

 private:
  SqliteStore() = default;

  // ------------------------------------------------------------ open

  Result<void> init(const SqliteOptions& options) {
    path_ = options.path.string();
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
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

  Result<void> migrate() {
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

  int prepare_once(const char* sql, StmtPtr& out) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &s, nullptr);
    out.reset(s);
    return rc;
  }

  Result<void> prepare_all() {
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

  // ------------------------------------------------------------ helpers

  int step_done(sqlite3_stmt* s) {
    Use use(s);
    const int rc = sqlite3_step(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }

  // ------------------------------------------------------------ rules::TxnSql (transactions)

  Result<void> step_txn(const StmtPtr& statement, std::string_view what) {
    if (const int rc = step_done(statement.get()); rc != SQLITE_OK) return sql_error(db_.get(), rc, what);
    return {};
  }
  Result<void> begin() override { return step_txn(begin_, "begin"); }
  Result<void> commit(std::string_view what) override { return step_txn(commit_, what); }
  void abort_txn() override {
    if (sqlite3_get_autocommit(db_.get()) != 0) return;
    step_done(rollback_.get());
  }
  Result<void> savepoint() override { return step_txn(savepoint_, "savepoint"); }
  Result<void> rollback_to_savepoint() override { return step_txn(rollback_to_, "rollback to savepoint"); }
  Result<void> release_savepoint() override { return step_txn(release_, "release savepoint"); }
  bool transaction_alive() override { return sqlite3_get_autocommit(db_.get()) == 0; }

  Result<std::optional<ExceptionRecord>> exception_by_id(std::int64_t id) {
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

  static ExceptionRecord read_exception(sqlite3_stmt* s) {
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

  Result<std::vector<MasterDataRecord>> select_master(const std::string& kind, const std::string& scope) {
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

  // ------------------------------------------------------------ rules::ApplySql (the apply step's SQL)

  Result<std::uint64_t> device_through(const std::string& device, const std::string&, std::int64_t) override {
    return applied_through(device);  // BEGIN IMMEDIATE already serialises writers
  }

  Result<void> insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                               const std::string& to_state, std::int64_t now_ms) override {
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

  Result<void> insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                               const std::string& payload, std::int64_t now_ms) override {
    Use use(insert_rejected_.get());
    bind_text(*use, 1, device);
    bind_int(*use, 2, static_cast<std::int64_t>(seq));
    bind_text(*use, 3, reason);
    bind_text(*use, 4, payload);
    bind_int(*use, 5, now_ms);
    return done(*use, "insert rejected");
  }

  Result<std::int64_t> insert_exception(const ExceptionRecord& e, std::int64_t now_ms) override {
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

  Result<bool> negative_open(const std::string& subject) override {
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

  Result<std::int64_t> balance_of(const Key& key) override {
    Use use(select_balance_.get());
    bind_key(*use, key);
    const int rc = sqlite3_step(*use);
    if (rc == SQLITE_ROW) return sqlite3_column_int64(*use, 0);
    if (rc == SQLITE_DONE) return std::int64_t{0};
    return sql_error(db_.get(), rc, "read balance");
  }

  Result<std::map<std::pair<std::string, std::string>, std::int64_t>> bin_balances(const std::string& location,
                                                                                 const std::string& state) override {
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

  Result<void> add_balance(const Key& key, std::int64_t delta) override {
    Use use(add_balance_.get());
    bind_key(*use, key);
    bind_int(*use, 5, delta);
    return done(*use, "update balance");
  }

  Result<rules::Taken> take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                    std::uint64_t seq) override {
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

  Result<std::string> movement_payload(const std::string& device, std::uint64_t seq) override {
    Use use(select_movement_.get());
    bind_text(*use, 1, device);
    bind_int(*use, 2, static_cast<std::int64_t>(seq));
    const int rc = sqlite3_step(*use);
    if (rc == SQLITE_ROW) return column_text(*use, 0);
    if (rc == SQLITE_DONE) return std::string();
    return sql_error(db_.get(), rc, "read movement");
  }

  Result<void> upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                             std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                             std::int64_t rejected_count) override {
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

  Result<void> insert_lot(const std::string& item, const std::string& lot, const std::string& expiry) override {
    Use use(insert_lot_.get());
    bind_text(*use, 1, item);
    bind_text(*use, 2, lot);
    bind_text(*use, 3, expiry);
    return done(*use, "insert lot");
  }

  static void bind_key(sqlite3_stmt* s, const Key& key) {
    bind_text(s, 1, std::get<0>(key));
    bind_text(s, 2, std::get<1>(key));
    bind_text(s, 3, std::get<2>(key));
    bind_text(s, 4, std::get<3>(key));
  }

  // Steps a statement that returns no rows.
  Result<void> done(sqlite3_stmt* s, std::string_view what) {
    if (const int rc = sqlite3_step(s); rc != SQLITE_DONE) return sql_error(db_.get(), rc, what);
    return {};
  }

  Result<ApplyOutcome> apply_in_txn(const Batch& batch) { return step_.apply(batch, *this); }

  DbPtr db_;
  std::string path_;
  StmtPtr begin_, commit_, rollback_, savepoint_, rollback_to_, release_;
  StmtPtr select_device_, upsert_device_, insert_movement_, add_balance_, take_balance_, select_balance_;
  StmtPtr select_movement_;
  StmtPtr select_bin_;
  StmtPtr insert_rejected_, insert_exception_, open_exception_for_;
  StmtPtr select_exception_cursor_, upsert_exception_cursor_, insert_lot_, select_master_version_;
  StmtPtr upsert_status_;
  rules::ApplyStep step_;  // the apply rules, shared with the PostgreSQL store
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) { return SqliteStore::open(options); }

}  // namespace tally::ledger
