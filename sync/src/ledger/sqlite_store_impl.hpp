// The embedded ledger store's class (SqliteStore), shared by its two source
// files: sqlite_store.cpp (open, apply, the SQL of the apply rules) and
// sqlite_reads.cpp (queries and check_invariants). Private to tally::ledger.
#pragma once

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
#include "fleet_schema.hpp"
#include "schema.hpp"
#include "store_txn.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::ledger::sqlite_detail {

using namespace tally::sqlite_util;  // NOLINT(google-build-using-namespace): the RAII layer
using scanner::Movement;

inline constexpr int kSchemaVersion = schema::kVersion;

inline const auto& kMigrations = schema::kSqlite;  // schema.hpp

inline Error sql_error(sqlite3* db, int rc, std::string_view what) {
  return sqlite_util::sql_error(db, rc, what, "ledger");
}

using rules::Key;

class SqliteStore final : public rules::TxnStore<SqliteStore, SqliteOptions>,
                          private rules::ApplySql,
                          private rules::TxnSql {
  friend class rules::TxnStore<SqliteStore, SqliteOptions>;

 public:
  Result<std::uint64_t> applied_through(const std::string& device) override;
  Result<std::int64_t> apply_device_exceptions(const DeviceExceptionBatch& batch) override;
  Result<std::map<std::string, std::string>> lot_expiries(const std::string& item) override;
  Result<std::vector<Balance>> balances(const BalanceQuery& q) override;

  // The rows of a "SELECT device, seq, payload, applied_ms, id FROM movements …".
  Result<std::vector<StoredMovement>> stored_movements(sqlite3_stmt* s, const char* what);
  Result<std::vector<StoredMovement>> movements(const std::string& device, std::uint64_t after,
                                                std::size_t limit) override;
  Result<std::vector<StoredMovement>> history(const HistoryQuery& query) override;
  Result<std::vector<RejectedMovement>> rejected(const std::string& device) override;
  Result<std::vector<DeviceInfo>> devices() override;
  Result<void> put_device_statuses(std::span<const DeviceStatus> statuses) override;
  Result<std::vector<DeviceStatus>> device_statuses() override;
  Result<bool> add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms) override {
    return rules::in_transaction(*this, "commit kpi sample", [&]() -> Result<bool> {
      return add_kpi_sample_in_txn(sample, min_gap_ms, prune_before_ms);
    });
  }

  Result<bool> add_kpi_sample_in_txn(const KpiSample& sample, std::int64_t min_gap_ms, std::int64_t prune_before_ms);
  Result<std::vector<KpiSample>> kpi_samples(const KpiSampleQuery& q) override;
  Result<std::int64_t> raise_exception(const ExceptionRecord& e) override { return insert_exception(e, e.created_ms); }

  Result<std::vector<ExceptionRecord>> exceptions(const std::string& status) override;
  Result<ExceptionRecord> update_exception_in_txn(std::int64_t id, const std::string& action, const std::string& owner,
                                                  const std::string& note, std::int64_t now_ms);
  Result<void> record_dead_letter(const DeadLetter& d) override;
  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) override;
  Result<std::vector<Violation>> check_invariants() override;
  Result<MasterDataRecord> put_master_data(const std::string& kind, const std::string& scope,
                                           const nlohmann::json& payload) override;

  Result<std::int64_t> master_data_version(const std::string& kind, const std::string& scope) override;
  Result<void> set_published_chunks(const std::string& kind, const std::string& scope, std::int64_t version,
                                    std::int64_t chunks) override;

 private:
  SqliteStore() = default;

  // ------------------------------------------------------------ open

  Result<void> init(const SqliteOptions& options);
  Result<void> migrate();
  int prepare_once(const char* sql, StmtPtr& out);
  Result<void> prepare_all();

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

  Result<std::optional<ExceptionRecord>> exception_by_id(std::int64_t id);
  static ExceptionRecord read_exception(sqlite3_stmt* s);
  Result<std::vector<MasterDataRecord>> select_master(const std::string& kind, const std::string& scope);

  // ------------------------------------------------------------ rules::ApplySql (the apply step's SQL)

  Result<std::uint64_t> device_through(const std::string& device, const std::string&, std::int64_t) override {
    return applied_through(device);  // BEGIN IMMEDIATE already serialises writers
  }

  Result<void> insert_movement(const Movement& m, std::string_view payload, const std::string& from_state,
                               const std::string& to_state, std::int64_t now_ms) override;
  Result<void> insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                               const std::string& payload, std::int64_t now_ms) override;
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
  Result<void> insert_lot(const std::string& item, const std::string& lot, const std::string& expiry) override;
  static void bind_key(sqlite3_stmt* s, const Key& key);

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

}  // namespace tally::ledger::sqlite_detail
