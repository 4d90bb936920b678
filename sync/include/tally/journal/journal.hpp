// The device journal: one SQLite file per device that holds every accepted
// scan, every movement (with its gap-free per-device seq), the session
// snapshot, the ledger's acknowledgement (acked_seq) and cached master data.
//
// Durability: WAL with synchronous=FULL, so a committed append survives power
// loss (docs/JOURNAL.md says why). A scan and the movement it completes are
// written in one transaction; seq and hlc are assigned inside it.
//
// Opening refuses (never repairs, recreates or truncates) a journal that is
// corrupt, from a newer schema, or belongs to another device id or site.
//
// Thread-safety: a Journal is thread-compatible (one thread at a time);
// every call may block on disk I/O, so never call it on the Asio thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"
#include "tally/scanner/session.hpp"

namespace tally::journal {

// v1: scans, movements, sync_state, session, master_data.
// v2: + device_exceptions (additive; a v1 file is upgraded in place on open).
// v3: + movements.hash, the per-device hash chain (docs/JOURNAL.md); a v2 file
//     is upgraded in place on open and its existing movements are chained.
// v4: + sync_state.exceptions_acked and device_exceptions.seq: device
//     exceptions are synced to the ledger with their own cursor.
inline constexpr int kSchemaVersion = 4;

struct Options {
  std::filesystem::path path;  // the journal file, e.g. <data-dir>/journal.db
  std::string device;          // must match the journal's device id
  std::string site;            // must match the journal's site
  bool create_if_missing = true;
  // synchronous=FULL in WAL mode: fsync on every commit. Only benchmarks and
  // tests that measure the difference turn this off.
  bool durable = true;
  // How long a write waits for another connection's lock (PRAGMA
  // busy_timeout). Only tools reading the same file ever hold one.
  int busy_timeout_ms = 5000;
  // Fault-injection seam for tests: PRAGMA max_page_count on this connection
  // (0 = unlimited, the default). Writes that would grow the file past it fail
  // with SQLITE_FULL, exactly like a full disk ("disk_full"). Never set in
  // production.
  std::uint32_t max_page_count = 0;
};

// One accepted scan as journaled (the evidence behind movements).
struct ScanRecord {
  std::string text;
  std::string symbology;
  std::string source;
  std::string operator_id;
  std::string mode;
  std::string feedback;  // "good" / "warning"
  std::string code;      // the session's outcome code
  std::int64_t time_ms = 0;
};

// What one append wrote.
struct Appended {
  std::int64_t scan_id = 0;          // rowid of the scan
  std::optional<std::uint64_t> seq;  // seq of the movement, if one was written
  std::uint64_t hlc = 0;
  std::int64_t exception_id = 0;  // id of the device exception, if one was written
  std::vector<std::int64_t> more_exception_ids;  // ids of Entry::more_exceptions, in order
  std::vector<std::pair<std::uint64_t, std::uint64_t>> more;  // (seq, hlc) of Entry::more_movements, in order
};

// One unit of an append: a scan, optionally the movement it completed, and
// the session snapshot after it (JSON text; empty leaves the snapshot as is).
// `exception`: a device-side exception the scan revealed, stored in
// device_exceptions with the scan's id. A refused scan that revealed one is
// journaled as an entry with the exception, no movement and no snapshot.
struct Entry {
  ScanRecord scan;
  std::optional<scanner::Movement> movement;
  std::string session_snapshot;
  std::optional<scanner::DeviceException> exception = std::nullopt;  // defaulted: Entry{scan, movement, snapshot} stays valid
  // Further movements of the same scan, after `movement` (which must be set
  // when these are): seqs follow on, all in the same transaction.
  std::vector<scanner::Movement> more_movements = {};
  // Further device exceptions of the same scan, after `exception` (a pick
  // that is short and beyond its allowance), linked to `movement` like it.
  std::vector<scanner::DeviceException> more_exceptions = {};
};

// A journaled device-side exception (synced to the ledger by its id).
struct StoredException {
  std::int64_t id = 0;       // rowid, ascending
  std::int64_t scan_id = 0;  // the scan that revealed it
  std::optional<std::uint64_t> seq;  // the movement journaled with it, if any
  scanner::DeviceException exception;
};

// One journaled movement as the outbox sends it, without parsing it: the
// stored canonical text and its place in the device's hash chain.
struct StoredMovementText {
  std::uint64_t seq = 0;
  std::int64_t wall_time_ms = 0;
  std::string payload;    // canonical wire JSON (tally::wire::to_json_text)
  std::string hash;       // wire::chain_hash(prev_hash, payload)
  std::string prev_hash;  // the hash of seq - 1 (wire::kGenesisHash for seq 1)
};

struct Status {
  std::string device;
  std::string site;
  std::uint64_t last_seq = 0;   // highest seq written, 0 when none
  std::uint64_t acked_seq = 0;  // highest seq the ledger acknowledged
  std::uint64_t pending = 0;    // last_seq - acked_seq
  std::int64_t scans = 0;       // journaled scans
  std::int64_t last_exception_id = 0;  // highest device exception id, 0 when none
  std::int64_t exceptions_acked = 0;   // highest id the ledger acknowledged
};

class Journal {
 public:
  // Error codes: "journal_corrupt", "journal_newer_schema",
  // "journal_foreign_device", "journal_foreign_site", "journal_missing",
  // "journal_io".
  static Result<std::unique_ptr<Journal>> open(const Options& options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one entry in one transaction: the movement (validated first,
  // "invalid_*" codes from scanner::validate) gets seq = last_seq + 1 and its
  // hlc; device/site are stamped from the journal. On any error nothing is
  // written. Error codes: scanner validation codes, "disk_full", "journal_io".
  Result<Appended> append(const Entry& entry);
  // Appends many entries in one transaction (all or nothing).
  Result<std::vector<Appended>> append_batch(const std::vector<Entry>& entries);

  // Movements with seq > after, ascending, at most `limit`.
  Result<std::vector<scanner::Movement>> movements_after(std::uint64_t after, std::size_t limit) const;
  // The same rows as stored text (no parse, no re-serialisation): what the
  // outbox sends. Checks only that each row has a payload object and a hash;
  // the ledger validates every movement it receives. Error codes:
  // "journal_corrupt", "journal_io".
  Result<std::vector<StoredMovementText>> movement_texts_after(std::uint64_t after, std::size_t limit) const;
  // Device-side exceptions with id > after, ascending, at most `limit`.
  // Error codes: "journal_corrupt" (a row that does not parse), "journal_io".
  Result<std::vector<StoredException>> exceptions_after(std::int64_t after, std::size_t limit) const;
  // The same rows as stored text, without parsing (what the outbox sends;
  // the ledger judges each element): id, seq and the payload object. Error
  // codes: "journal_corrupt" (a payload that is not a JSON object text),
  // "journal_io".
  struct StoredExceptionText {
    std::int64_t id = 0;
    std::int64_t scan_id = 0;
    std::optional<std::uint64_t> seq;
    std::string payload;
  };
  Result<std::vector<StoredExceptionText>> exception_texts_after(std::int64_t after, std::size_t limit) const;

  // The outbox: movements_after(acked_seq, limit).
  Result<std::vector<scanner::Movement>> outbox(std::size_t limit) const;

  // Records the ledger's acknowledgement. Monotonic: a lower value is
  // ignored; a value above last_seq is refused ("ack_beyond_last_seq").
  Result<void> set_acked(std::uint64_t applied_through);
  // Records the ledger's exceptions_through (device exceptions stored up to
  // that id). Monotonic; beyond the last id: "ack_beyond_last_exception".
  Result<void> set_exceptions_acked(std::int64_t through);

  Status status() const;
  // The last stored session snapshot (JSON text), if any.
  std::optional<std::string> session_snapshot() const;

  // Cached master data ("catalog", "locations", "tasks"): the whole version
  // replaces the previous one atomically.
  Result<void> put_master_data(const std::string& kind, std::int64_t version, const std::string& json);
  std::optional<std::pair<std::int64_t, std::string>> master_data(const std::string& kind) const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::journal
