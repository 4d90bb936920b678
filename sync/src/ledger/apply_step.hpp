// The apply step both ledger stores share (docs/PROTOCOL.md "Applying"): the
// per-device seq rules, rejections, count → adjust, balances accumulated per
// batch, lot expiries and the exceptions they raise. A store runs it inside
// its own transaction and supplies only the SQL, through ApplySql (the
// dialect seam). Private to sync/src/ledger.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "apply_rules.hpp"
#include "tally/ledger/store.hpp"

namespace tally::ledger::rules {

// A balance row after a take: its new qty and the last movement of another
// device that took from it before (empty/0 when none).
struct Taken {
  std::int64_t qty = 0;
  std::string other_device;
  std::uint64_t other_seq = 0;
};

// The statements the apply step needs, each run in the store's open
// transaction. Errors are the store's ("ledger_io", "disk_full").
class ApplySql {
 public:
  virtual ~ApplySql() = default;
  // The device's applied_through (0 when new). PostgreSQL also creates and
  // locks the device's row until the commit.
  virtual Result<std::uint64_t> device_through(const std::string& device, const std::string& site,
                                               std::int64_t now_ms) = 0;
  virtual Result<void> insert_movement(const scanner::Movement& m, std::string_view payload,
                                       const std::string& from_state, const std::string& to_state,
                                       std::int64_t now_ms) = 0;
  virtual Result<void> insert_rejected(const std::string& device, std::uint64_t seq, const std::string& reason,
                                       const std::string& payload, std::int64_t now_ms) = 0;
  virtual Result<std::int64_t> insert_exception(const ExceptionRecord& e, std::int64_t now_ms) = 0;
  virtual Result<std::int64_t> balance_of(const Key& key) = 0;
  // (item, lot) -> qty of the non-zero rows at (location, state).
  virtual Result<std::map<std::pair<std::string, std::string>, std::int64_t>> bin_balances(
      const std::string& location, const std::string& state) = 0;
  virtual Result<void> add_balance(const Key& key, std::int64_t delta) = 0;
  // Adds delta and records (device, seq) as the row's last taker.
  virtual Result<Taken> take_balance(const Key& key, std::int64_t delta, const std::string& device,
                                     std::uint64_t seq) = 0;
  // An exception of one of kNegativeKinds is open for the row (PostgreSQL:
  // under an advisory lock, so two instances raise one).
  virtual Result<bool> negative_open(const std::string& subject) = 0;
  // The stored canonical text of (device, seq), "" when there is none.
  virtual Result<std::string> movement_payload(const std::string& device, std::uint64_t seq) = 0;
  virtual Result<void> upsert_device(const std::string& device, const std::string& site, std::uint64_t through,
                                     std::int64_t now_ms, std::int64_t batch_size, std::int64_t applied,
                                     std::int64_t rejected) = 0;
  virtual Result<void> insert_lot(const std::string& item, const std::string& lot, const std::string& expiry) = 0;
};

// Applies one batch through `sql` (one transaction or savepoint, the
// store's). Thread-compatible; holds the per-batch scratch.
class ApplyStep {
 public:
  Result<ApplyOutcome> apply(const Batch& batch, ApplySql& sql);

 private:
  Result<void> store_movement(const scanner::Movement& m, std::string_view payload, std::int64_t now_ms);
  Result<void> apply_count(const scanner::Movement& count, const Batch& batch, ApplyOutcome& out);
  Result<void> reject(const Batch& batch, const Incoming& in, ApplyOutcome& out);
  Result<void> flush(const Batch& batch, ApplyOutcome& out);
  Result<void> raise_negative(const Key& key, const Taken& taken, const Pending& who, const Batch& batch,
                              ApplyOutcome& out);
  Result<void> raise(const ExceptionRecord& e, std::int64_t now_ms, ApplyOutcome& out);

  ApplySql* sql_ = nullptr;
  // Per-batch scratch: balance changes not yet written (a batch touches the
  // same rows many times; std::map: rows in key order, the same lock order in
  // every transaction), lot expiries, the ledger's own seq.
  std::map<Key, Pending> pending_;
  std::map<std::pair<std::string, std::string>, std::string> lot_expiry_;
  std::optional<std::uint64_t> ledger_seq_;
  std::size_t ledger_applied_ = 0;
};

}  // namespace tally::ledger::rules
