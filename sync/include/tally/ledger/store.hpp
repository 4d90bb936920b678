// The ledger's storage seam: everything tally-ledger keeps (devices and their
// applied_through, movements, rejections, balances, exceptions, dead letters,
// master data) behind one interface, so a PostgreSQL store can follow the
// embedded SQLite one (open_sqlite_store). The semantics below are the
// contract every implementation keeps; tests/unit/sync/ledger_store_test.cpp
// checks them against a Store& and can be pointed at another implementation.
//
// Apply rules (docs/PROTOCOL.md "## Ledger"): one transaction per batch; per
// device strictly in seq order; seq <= applied_through is a duplicate and is
// ignored; the first new seq must be applied_through + 1, else nothing is
// applied (a gap); a later gap inside the batch stops the batch there. A valid
// movement is stored and moves balances; an invalid one is stored as rejected
// (it counts as processed, so applied_through passes it). A count movement
// changes no balance itself: the ledger turns the difference between the
// counted qty and the balance into an `adjust` movement of device "ledger".
//
// Thread-safety: a Store is thread-compatible (one thread at a time); every
// call may block on disk I/O, so never call it on the Asio thread.
#pragma once

#include <cstdint>
#include <map>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

// The device id of movements the ledger creates itself (count adjustments).
inline constexpr std::string_view kLedgerDevice = "ledger";

// Kinds: "negative_balance", "conflicting_picks", "rejected_movement",
// "forged_device", "count_difference", "hash_chain_break", "clock_skew",
// "unknown_item", "unknown_location", and the device-side kinds. Status: "open", "assigned", "resolved".
struct ExceptionRecord {
  std::int64_t id = 0;
  std::string kind;
  std::string device;
  std::uint64_t seq = 0;  // 0 when not about one movement
  std::string owner;
  std::string priority;  // "high", "medium", "low"
  nlohmann::json evidence = nlohmann::json::object();
  std::string next_action;
  std::string status = "open";
  std::string note;
  std::string subject;  // dedup key, e.g. the balance row of a negative_balance
  std::int64_t created_ms = 0;
  std::int64_t resolved_ms = 0;
};

// One element of a batch, already parsed. Exactly one of `movement` (valid,
// device/site checked) or `error` (why it is rejected) is meaningful.
struct Incoming {
  std::uint64_t seq = 0;
  std::optional<scanner::Movement> movement;  // set when valid
  Error error;                                // when !movement: "code" + "message"
  std::string payload;  // canonical JSON text when valid, the raw element when rejected
  // Hash chain (docs/PROTOCOL.md "Hash chain"): the element's "hash" and
  // "prev_hash" as received (empty when absent), and for a valid movement
  // wire::chain_hash(prev_hash, payload) as computed by the ledger.
  std::string hash;
  std::string prev_hash;
  std::string computed_hash;
  // Exceptions to raise in the same transaction when this element is
  // processed (applied or rejected); ignored for duplicates and after a gap.
  std::vector<ExceptionRecord> raise;
};

// One message of device-side exceptions (docs/PROTOCOL.md "Device
// exceptions"), parsed: each element's id (the device's journal id,
// ascending) and the exception record the ledger raises for it.
struct DeviceExceptionBatch {
  std::string device;
  std::string site;
  std::int64_t now_ms = 0;
  std::vector<std::pair<std::int64_t, ExceptionRecord>> exceptions;  // ids ascending
};

struct Batch {
  std::string device;
  std::string site;
  std::vector<Incoming> movements;  // seqs ascending
  std::int64_t now_ms = 0;
};

struct Rejection {
  std::uint64_t seq = 0;
  std::string reason;  // "code: message"
};

struct ApplyOutcome {
  std::uint64_t applied_through = 0;  // after the commit
  std::vector<Rejection> rejected;    // rejected in this batch
  std::size_t applied = 0;            // movements stored as valid
  std::size_t duplicates = 0;         // seq <= applied_through, ignored
  bool gap = false;                   // stopped at a missing seq
  std::vector<std::int64_t> exceptions;  // ids raised by this batch
};

struct Balance {
  std::string item;  // gtin, else sku
  std::string lot;
  std::string location;
  std::string state;  // "" for external parties
  std::int64_t qty = 0;
};

struct BalanceQuery {
  std::string item;      // empty: any
  std::string location;  // empty: any
  std::string state;     // empty: any
  bool include_zero = false;
  std::size_t limit = 1000;
};

struct StoredMovement {
  std::int64_t id = 0;  // the ledger's row id (order of application)
  std::string device;
  std::uint64_t seq = 0;
  std::string payload;  // canonical JSON text
  std::int64_t applied_ms = 0;
};

// The history of an item and/or a location (GET /api/v1/history).
struct HistoryQuery {
  std::string item;      // gtin, else sku; empty: any
  std::string location;  // as source or destination; empty: any
  std::int64_t before = 0;  // row ids below this; 0: from the newest
  std::size_t limit = 100;
};

struct RejectedMovement {
  std::string device;
  std::uint64_t seq = 0;
  std::string reason;
  std::string payload;
};

struct DeviceInfo {
  std::string device;
  std::string site;
  std::uint64_t applied_through = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t last_batch_size = 0;
  std::uint64_t movements = 0;  // stored valid movements
  std::uint64_t rejected = 0;
};

// The last status a device published (retained tally/v1/{site}/{device}/status,
// birth or last will; docs/PROTOCOL.md "Device status at the ledger").
struct DeviceStatus {
  std::string device;
  std::string site;
  bool online = false;
  std::uint64_t pending = 0;   // movements journaled and not yet acked, as the device said
  std::uint64_t last_seq = 0;  // the device's highest journaled seq
  std::string version;         // the device's software version
  std::int64_t received_ms = 0;  // the ledger's clock when this content arrived
  // Delivered as a retained message (the broker's copy on subscribe): when
  // the stored status has the same content, its received_ms is kept, so a
  // ledger restart does not make old statuses look fresh.
  bool retained = false;
};

// One KPI sample (GET /api/v1/kpis/history): the values of compute_kpis at
// time_ms, as JSON text (kpi.hpp kpi_sample()).
struct KpiSample {
  std::int64_t time_ms = 0;
  std::string kpis;
};

struct KpiSampleQuery {
  std::int64_t since_ms = 0;   // samples with time_ms > since_ms
  std::int64_t before_ms = 0;  // and < before_ms; 0: no upper bound
  std::size_t limit = 500;     // the newest `limit` of them
};

struct DeadLetter {
  std::int64_t id = 0;
  std::string topic;
  std::string payload;  // truncated to the configured maximum
  std::string reason;
  std::int64_t time_ms = 0;
};

struct Violation {
  std::string kind;     // "sum_not_zero", "external_state", "balance_mismatch"
  std::string message;
};

struct MasterDataRecord {
  std::string kind;   // "catalog", "locations", "tasks"
  std::string scope;  // "{site}" for catalog/locations, "{site}/{device}" for tasks
  std::int64_t version = 0;
  std::string payload;  // the JSON text, "version" equal to `version`
  std::int64_t published_chunks = 0;  // chunks last published (to clear leftovers)
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies one batch in one transaction (see the rules above). Error codes:
  // "ledger_io", "disk_full". On error nothing was written.
  virtual Result<ApplyOutcome> apply_batch(const Batch& batch) = 0;
  // Group commit: applies several batches in one transaction, each batch
  // atomic on its own (a savepoint): one batch failing leaves the others.
  // The outer error (commit failed, or the transaction was lost) means none
  // of them was written. One fsync for the group instead of one per batch.
  virtual Result<std::vector<Result<ApplyOutcome>>> apply_batches(std::span<const Batch> batches) = 0;
  // 0 for an unknown device.
  virtual Result<std::uint64_t> applied_through(const std::string& device) = 0;
  // Raises each exception whose id is above the device's exceptions_through
  // and advances it, in one transaction; ids at or below it are duplicates
  // and change nothing. Returns the new exceptions_through (the ack).
  virtual Result<std::int64_t> apply_device_exceptions(const DeviceExceptionBatch& batch) = 0;

  virtual Result<std::vector<Balance>> balances(const BalanceQuery& query) = 0;
  // lot -> expiry (ISO date) of an item, from the first applied movement of
  // each lot that carried one (GS1 (17)); lots never seen with one are absent.
  virtual Result<std::map<std::string, std::string>> lot_expiries(const std::string& item) = 0;
  // Movements of `device` (all devices when empty) with seq > after.
  virtual Result<std::vector<StoredMovement>> movements(const std::string& device, std::uint64_t after,
                                                        std::size_t limit) = 0;
  // Movements matching `query`, newest (highest id) first. Walks the rows
  // by id (no index on item or location): meant for the dashboard, not bulk.
  virtual Result<std::vector<StoredMovement>> history(const HistoryQuery& query) = 0;
  virtual Result<std::vector<RejectedMovement>> rejected(const std::string& device) = 0;
  virtual Result<std::vector<DeviceInfo>> devices() = 0;

  // Fleet status and KPI history (docs/PROTOCOL.md "Device status at the
  // ledger", docs/OPERATIONS.md "KPI history").
  // Keeps the newest status per device (upsert), all in one transaction, in
  // order (a later element for the same device wins).
  virtual Result<void> put_device_statuses(std::span<const DeviceStatus> statuses) = 0;
  // Every stored status, by device.
  virtual Result<std::vector<DeviceStatus>> device_statuses() = 0;
  // Stores `sample` unless one with time_ms in (sample.time_ms - min_gap_ms,
  // sample.time_ms] exists (several ledger instances over one database
  // sample the same KPIs), then deletes the samples older than
  // `prune_before_ms`; one transaction. Returns whether it was stored.
  virtual Result<bool> add_kpi_sample(const KpiSample& sample, std::int64_t min_gap_ms,
                                      std::int64_t prune_before_ms) = 0;
  // The newest `limit` samples in (since_ms, before_ms), oldest first.
  virtual Result<std::vector<KpiSample>> kpi_samples(const KpiSampleQuery& query) = 0;

  // Stores a new exception (id, created_ms, status assigned here).
  virtual Result<std::int64_t> raise_exception(const ExceptionRecord& exception) = 0;
  // status empty: all.
  virtual Result<std::vector<ExceptionRecord>> exceptions(const std::string& status) = 0;
  // action "assign" (owner required) or "resolve". Error codes:
  // "not_found", "bad_request", "conflict" (already resolved).
  virtual Result<ExceptionRecord> update_exception(std::int64_t id, const std::string& action,
                                                   const std::string& owner, const std::string& note,
                                                   std::int64_t now_ms) = 0;

  virtual Result<void> record_dead_letter(const DeadLetter& letter) = 0;
  virtual Result<std::vector<DeadLetter>> dead_letters(std::size_t limit) = 0;

  // The sum of every item (and lot) over all rows is zero, external rows have
  // state "", and every balance equals the sum of the stored movements.
  virtual Result<std::vector<Violation>> check_invariants() = 0;

  // Replaces (kind, scope) with a new version: previous version + 1, written
  // into the payload's "version" member. Returns the stored record.
  virtual Result<MasterDataRecord> put_master_data(const std::string& kind, const std::string& scope,
                                                   const nlohmann::json& payload) = 0;
  virtual Result<std::optional<MasterDataRecord>> master_data(const std::string& kind,
                                                              const std::string& scope) = 0;
  virtual Result<std::vector<MasterDataRecord>> all_master_data() = 0;
  // The stored version of (kind, scope), 0 when there is none; reads no
  // payload (the ledger asks before every group of batches).
  virtual Result<std::int64_t> master_data_version(const std::string& kind, const std::string& scope) = 0;
  virtual Result<void> set_published_chunks(const std::string& kind, const std::string& scope,
                                            std::int64_t version, std::int64_t chunks) = 0;
};

struct SqliteOptions {
  std::filesystem::path path;  // e.g. <data-dir>/ledger.db
  // synchronous=FULL in WAL mode: the ledger acks only after commit and the
  // device then forgets the movements, so a commit must survive power loss.
  // Only benchmarks that measure the difference turn this off.
  bool durable = true;
  int busy_timeout_ms = 5000;
};

// Error codes: "ledger_io", "ledger_corrupt", "ledger_newer_schema".
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

// "code: message", the reason format of acks and rejections.
inline std::string reason_text(const Error& e) { return e.code + ": " + e.message; }

}  // namespace tally::ledger
