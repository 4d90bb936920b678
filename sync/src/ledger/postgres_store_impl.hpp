// The PostgreSQL ledger store's class (PostgresStore), shared by its two
// source files: postgres_store.cpp (connect, migrate, apply, the SQL of the
// apply rules) and postgres_reads.cpp (queries and check_invariants).
// Private to tally::ledger.
#pragma once

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

#include "apply_rules.hpp"
#include "apply_step.hpp"
#include "fleet_schema.hpp"
#include "schema.hpp"
#include "store_txn.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::ledger::pg_detail {

using scanner::Movement;

inline constexpr int kSchemaVersion = schema::kVersion;
inline constexpr std::int64_t kMigrationLock = 0x7461'6c6c'7931;  // "tally1"

inline const auto& kMigrations = schema::kPostgres;  // schema.hpp

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
inline Param p(std::string_view s) { return Param{std::string(s), false}; }
inline Param p(std::int64_t v) { return Param{std::to_string(v), false}; }
inline Param p_u64(std::uint64_t v) { return Param{std::to_string(static_cast<std::int64_t>(v)), false}; }
inline Param p_bytes(std::string_view s) { return Param{std::string(s), true}; }

// The shared SQL of fleet_schema.hpp with PostgreSQL's placeholders ("?1" → "$1").
inline std::string dollars(std::string_view sqlite_sql) {
  std::string out(sqlite_sql);
  std::replace(out.begin(), out.end(), '?', '$');
  return out;
}

inline std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}
inline std::int64_t int64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

// A bytea column in the text result format ("\x" + hex).
inline std::string bytea(const PGresult* r, int row, int col) {
  std::string t = text(r, row, col);
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

inline constexpr const char* kExceptionColumns =
    "id, kind, device, seq, owner, priority, evidence, next_action, status, note, subject, created_ms, resolved_ms";

inline ExceptionRecord read_exception(const PGresult* r, int row) {
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

class PostgresStore final : public rules::TxnStore<PostgresStore, PostgresOptions>,
                            private rules::ApplySql,
                            private rules::TxnSql {
  friend class rules::TxnStore<PostgresStore, PostgresOptions>;

 public:
  Result<std::uint64_t> applied_through(const std::string& device) override;
  Result<std::vector<Balance>> balances(const BalanceQuery& q) override;

  // The rows of a "SELECT device, seq, payload, applied_ms, id FROM movements …".
  static std::vector<StoredMovement> stored_movements(const PGresult* res);
  Result<std::vector<StoredMovement>> movements(const std::string& device, std::uint64_t after,
                                                std::size_t limit) override;
  Result<std::vector<StoredMovement>> history(const HistoryQuery& query) override;
  Result<std::vector<RejectedMovement>> rejected(const std::string& device) override;
  Result<std::vector<DeviceInfo>> devices() override;
  Result<void> put_device_statuses(std::span<const DeviceStatus> statuses) override;
  Result<std::vector<DeviceStatus>> device_statuses() override;
  Result<bool> add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms) override;
  Result<std::vector<KpiSample>> kpi_samples(const KpiSampleQuery& q) override;
  Result<std::int64_t> raise_exception(const ExceptionRecord& e) override {
    if (auto r = ensure_connected(); !r) return r.error();
    return insert_exception(e, e.created_ms);
  }

  Result<std::vector<ExceptionRecord>> exceptions(const std::string& status) override;
  Result<std::int64_t> apply_device_exceptions(const DeviceExceptionBatch& batch) override;
  Result<std::map<std::string, std::string>> lot_expiries(const std::string& item) override;
  Result<void> record_dead_letter(const DeadLetter& d) override;
  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override;
  Result<std::vector<Violation>> check_invariants() override;
  Result<MasterDataRecord> put_master_data(const std::string& kind, const std::string& scope,
                                           const nlohmann::json& payload) override {
    return rules::in_transaction(*this, "commit master data", [&] { return put_master_in_txn(kind, scope, payload); });
  }


  Result<std::int64_t> master_data_version(const std::string& kind, const std::string& scope) override;
  Result<void> set_published_chunks(const std::string& kind, const std::string& scope, std::int64_t version,
                                    std::int64_t chunks) override;

 private:
  PostgresStore() = default;

  // ------------------------------------------------------------ connection

  Result<void> init(const PostgresOptions& options);
  Result<void> session_setup();

  // A lost connection is re-established at the next call outside a transaction.
  Result<void> ensure_connected();
  Result<void> migrate();
  Result<void> migrate_locked();
  std::string last_message() const {
    std::string m = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }

  Error error_of(const PGresult* r, std::string_view what) const;

  // Runs one statement, prepared once per connection by its text.
  Result<ResPtr> run(const std::string& sql, const std::vector<Param>& params, std::string_view what);

  // ------------------------------------------------------------ rules::TxnSql (transactions)

  Result<void> run_txn(const char* sql, std::string_view what) {
    if (auto r = run(sql, {}, what); !r) return r.error();
    return {};
  }
  Result<void> commit(std::string_view what) override { return run_txn("COMMIT", what); }
  Result<void> savepoint() override { return run_txn("SAVEPOINT batch", "savepoint"); }
  Result<void> rollback_to_savepoint() override {
    return run_txn("ROLLBACK TO SAVEPOINT batch", "rollback to savepoint");
  }
  Result<void> release_savepoint() override { return run_txn("RELEASE SAVEPOINT batch", "release savepoint"); }
  bool transaction_alive() override { return PQstatus(conn_.get()) == CONNECTION_OK; }

  Result<void> begin() override;
  void abort_txn() override {
    if (PQstatus(conn_.get()) != CONNECTION_OK) return;
    if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
    ResPtr r(PQexec(conn_.get(), "ROLLBACK"));
  }

  // ------------------------------------------------------------ rules::ApplySql (the apply step's SQL)

  // The device's applied_through, its row locked until the commit (created
  // when new), so two instances never apply one device's batches at once.
  Result<std::uint64_t> device_through(const std::string& device, const std::string& site,
                                       std::int64_t now_ms) override;
  Result<void> insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                               const std::string& to_state, std::int64_t now_ms) override;
  Result<void> insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                               const std::string& payload, std::int64_t now_ms) override {
    return exec(
        "INSERT INTO rejected(device, seq, reason, payload, time_ms) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING",
        {p(device), p_u64(seq), p(reason), p(payload), p(now_ms)}, "insert rejected");
  }

  Result<std::int64_t> insert_exception(const ExceptionRecord& e, std::int64_t now_ms) override;
  Result<bool> negative_open(const std::string& subject) override;
  Result<std::int64_t> balance_of(const Key& key) override;
  Result<std::map<std::pair<std::string, std::string>, std::int64_t>> bin_balances(const std::string& location,
                                                                                   const std::string& state) override;
  Result<void> add_balance(const Key& key, std::int64_t delta) override;
  Result<rules::Taken> take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                    std::uint64_t seq) override;
  Result<std::string> movement_payload(const std::string& device, std::uint64_t seq) override;
  Result<void> upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                             std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                             std::int64_t rejected_count) override;
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

  Result<ExceptionRecord> update_exception_in_txn(std::int64_t id, const std::string& action, const std::string& owner,
                                                  const std::string& note, std::int64_t now_ms);
  Result<MasterDataRecord> put_master_in_txn(const std::string& kind, const std::string& scope,
                                             const nlohmann::json& payload);
  Result<std::vector<MasterDataRecord>> select_master(const std::string& kind, const std::string& scope);
  PostgresOptions options_;
  ConnPtr conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text → statement name

  rules::ApplyStep step_;  // the apply rules, shared with the SQLite store
};

}  // namespace tally::ledger::pg_detail
