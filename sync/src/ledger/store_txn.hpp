// The transaction verbs of a ledger store's database, and the two loops both
// stores (sqlite_store.cpp, postgres_store.cpp) run over them, written once:
// one unit of work in one transaction, and the group commit of
// Store::apply_batches (one transaction, a savepoint per batch). Private to
// sync/src/ledger; the stores supply only their SQL, as for the apply rules
// (apply_step.hpp).
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <memory>
#include <optional>
#include <string>

#include "apply_rules.hpp"
#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger::rules {

class TxnSql {
 public:
  virtual ~TxnSql() = default;
  virtual Result<void> begin() = 0;
  // The error, if any, says `what` was being committed.
  virtual Result<void> commit(std::string_view what) = 0;
  // A ROLLBACK when a transaction is open; never fails.
  virtual void abort_txn() = 0;
  virtual Result<void> savepoint() = 0;
  virtual Result<void> rollback_to_savepoint() = 0;
  virtual Result<void> release_savepoint() = 0;
  // False when the database ended the transaction itself (SQLite after some
  // errors, a PostgreSQL connection lost): nothing is left to roll back to.
  virtual bool transaction_alive() = 0;
};

// Runs `work` (returning a Result) in one transaction: committed when it
// succeeds, rolled back when it or the commit fails.
template <typename Work>
auto in_transaction(TxnSql& db, std::string_view what, Work&& work) -> decltype(work()) {
  if (auto r = db.begin(); !r) return r.error();
  auto result = std::forward<Work>(work)();
  if (!result) {
    db.abort_txn();
    return result;
  }
  if (auto r = db.commit(what); !r) {
    db.abort_txn();
    return r.error();
  }
  return result;
}

// Store::apply_batches: every batch in one transaction, each under its own
// savepoint; a batch that fails is rolled back to it and reported in its
// slot while the others commit. An error of the transaction itself (begin,
// a savepoint, the commit, a transaction the database ended) fails the
// whole group, with nothing applied.
template <typename Apply>
Result<std::vector<Result<ApplyOutcome>>> apply_group(TxnSql& db, std::span<const Batch> batches, Apply&& apply) {
  if (auto r = db.begin(); !r) return r.error();
  std::vector<Result<ApplyOutcome>> out;
  out.reserve(batches.size());
  const auto fail = [&db](Error e) {
    db.abort_txn();
    return e;
  };
  for (const Batch& batch : batches) {
    if (auto r = db.savepoint(); !r) return fail(r.error());
    auto result = apply(batch);
    if (!result) {
      if (!db.transaction_alive()) return result.error();
      if (auto r = db.rollback_to_savepoint(); !r) return fail(r.error());
    }
    if (auto r = db.release_savepoint(); !r) return fail(r.error());
    out.push_back(std::move(result));
  }
  if (auto r = db.commit("commit batches"); !r) return fail(r.error());
  return out;
}

// The Store methods both stores implement the same way around their own
// SQL, written once (CRTP): open, a batch and a group of batches in their
// transaction, an exception's lifecycle step. Derived (befriending this
// class) is a TxnSql and supplies init(options), apply_in_txn(batch),
// update_exception_in_txn(…) and select_master(kind, scope) ("" for all).
template <typename Derived, typename Options>
class TxnStore : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const Options& options) {
    auto store = std::unique_ptr<Derived>(new Derived());
    if (auto r = store->init(options); !r) return r.error();
    return std::unique_ptr<Store>(std::move(store));
  }

  Result<ApplyOutcome> apply_batch(const Batch& batch) final {
    return in_transaction(txn(), "commit batch", [&] { return self().apply_in_txn(batch); });
  }

  Result<std::vector<Result<ApplyOutcome>>> apply_batches(std::span<const Batch> batches) final {
    return apply_group(txn(), batches, [this](const Batch& batch) { return self().apply_in_txn(batch); });
  }

  Result<ExceptionRecord> update_exception(std::int64_t id, const std::string& action, const std::string& owner,
                                           const std::string& note, std::int64_t now_ms) final {
    if (auto ok = check_exception_action(action, owner); !ok) return ok.error();
    return in_transaction(txn(), "commit exception",
                          [&] { return self().update_exception_in_txn(id, action, owner, note, now_ms); });
  }

  Result<std::optional<MasterDataRecord>> master_data(const std::string& kind, const std::string& scope) final {
    auto all = self().select_master(kind, scope);
    if (!all) return all.error();
    if (all->empty()) return std::optional<MasterDataRecord>();
    return std::optional<MasterDataRecord>(std::move(all->front()));
  }

  Result<std::vector<MasterDataRecord>> all_master_data() final { return self().select_master("", ""); }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  TxnSql& txn() { return static_cast<Derived&>(*this); }
};

}  // namespace tally::ledger::rules
