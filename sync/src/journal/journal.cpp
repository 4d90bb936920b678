// The device journal on the raw sqlite3 C API. Format and rules are written
// up in docs/JOURNAL.md; the contract is in journal.hpp.
//
// Layout of this file: the schema and its migrations, the open-time checks,
// then appending. The state and statements are Journal::Impl
// (journal_impl.hpp); reads, acks and master data are reads.cpp.
#include "tally/journal/journal.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "journal_impl.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::journal {

namespace {

// -------------------------------------------------------------- the schema

// Migration i (0-based) takes the file from user_version i to i + 1. Each
// runs in the same transaction as the user_version bump. Append only: a
// shipped migration is never edited.
constexpr std::array<const char*, kSchemaVersion> kMigrations{
    // v0 → v1
    R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE scans(
  id        INTEGER PRIMARY KEY,
  time_ms   INTEGER NOT NULL,
  text      TEXT NOT NULL,
  symbology TEXT NOT NULL,
  source    TEXT NOT NULL,
  operator  TEXT NOT NULL,
  mode      TEXT NOT NULL,
  feedback  TEXT NOT NULL,
  code      TEXT NOT NULL
);
CREATE TABLE movements(
  seq     INTEGER PRIMARY KEY CHECK (seq > 0),
  scan_id INTEGER NOT NULL REFERENCES scans(id),
  hlc     INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  type    TEXT NOT NULL,
  payload TEXT NOT NULL
);
-- acked_seq: the ledger's applied_through, monotonic.
-- last_hlc: a floor under the clock, refreshed on every ack. The clock's
-- current value is MAX(last_hlc, hlc of the newest movement), so appends do
-- not rewrite this row; the floor keeps the clock monotonic if movement rows
-- are ever pruned.
CREATE TABLE sync_state(
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  acked_seq INTEGER NOT NULL,
  last_hlc  INTEGER NOT NULL
);
INSERT INTO sync_state(id, acked_seq, last_hlc) VALUES (1, 0, 0);
CREATE TABLE session(
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  snapshot TEXT NOT NULL
);
CREATE TABLE master_data(
  kind    TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  payload TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // v1 → v2: device-side exceptions (wrong bin, wrong item, expired lot,
    // unknown item, short pick), each with the scan that revealed it.
    R"sql(
CREATE TABLE device_exceptions(
  id      INTEGER PRIMARY KEY,
  scan_id INTEGER NOT NULL REFERENCES scans(id),
  time_ms INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  payload TEXT NOT NULL
);
)sql",
    // v2 → v3: the per-device hash chain (tamper-evident history). The rows
    // already there are chained by backfill_chain() in the same transaction.
    R"sql(
ALTER TABLE movements ADD COLUMN hash TEXT NOT NULL DEFAULT '';
)sql",
    // v3 → v4: device exceptions are synced to the ledger. exceptions_acked
    // is the ledger's exceptions_through (monotonic, like acked_seq); seq
    // links an exception to the movement journaled with it (NULL: none).
    R"sql(
ALTER TABLE sync_state ADD COLUMN exceptions_acked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_exceptions ADD COLUMN seq INTEGER;
CREATE INDEX v4_movements_by_scan ON movements(scan_id);
UPDATE device_exceptions SET seq = (SELECT m.seq FROM movements AS m WHERE m.scan_id = device_exceptions.scan_id);
DROP INDEX v4_movements_by_scan;
)sql",
};

// Hybrid logical clock: the upper 48 bits are Unix milliseconds, the lower
// 16 a logical counter. A new hlc is max(last_hlc + 1, time_ms << 16): it
// follows the wall clock when that moves forward and still increases by one
// when the clock stalls or steps back, so hlc order always equals seq order.
constexpr int kHlcLogicalBits = 16;
constexpr std::int64_t kHlcMaxMs = (std::int64_t{1} << (63 - kHlcLogicalBits)) - 1;  // keeps hlc < 2^63

std::uint64_t next_hlc(std::uint64_t last_hlc, std::int64_t time_ms) {
  const auto ms = static_cast<std::uint64_t>(std::clamp<std::int64_t>(time_ms, 0, kHlcMaxMs));
  return std::max(last_hlc + 1, ms << kHlcLogicalBits);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Makes a newly created file's directory entry durable (SQLite syncs the
// directory for its WAL, not for the main file it was asked to create).
void sync_parent_dir(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace


// ------------------------------------------------------------------- open

namespace {

// Reads a single integer from a one-row query; used only at open.
Result<std::int64_t> query_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StmtPtr s(raw);
  if (rc != SQLITE_OK) return sql_error(db, rc, sql);
  rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return sqlite3_column_int64(s.get(), 0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return sql_error(db, rc, sql);
}

Error corrupt(const std::string& path, const std::string& why) {
  return make_error("journal_corrupt", "journal " + path + " is corrupt: " + why);
}

// PRAGMA quick_check: the b-tree structure of every page (O(file size)).
// Returns the first problem it reports, or nothing when the file is sound.
Result<void> quick_check(sqlite3* db, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &raw, nullptr);
  StmtPtr s(raw);
  if (rc != SQLITE_OK) {
    if (is_corrupt(rc)) return corrupt(path, sqlite3_errmsg(db));
    return sql_error(db, rc, "quick_check of " + path);
  }
  rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW) {
    if (is_corrupt(rc)) return corrupt(path, sqlite3_errmsg(db));
    return sql_error(db, rc, "quick_check of " + path);
  }
  std::string verdict = column_text(s.get(), 0);
  if (verdict != "ok") return corrupt(path, "quick_check: " + verdict);
  return {};
}

Result<std::optional<std::string>> meta_value(sqlite3* db, const char* key) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &raw, nullptr);
  StmtPtr s(raw);
  if (rc != SQLITE_OK) return sql_error(db, rc, "read meta");
  bind_text(s.get(), 1, key);
  rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) return std::optional<std::string>(column_text(s.get(), 0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return sql_error(db, rc, "read meta");
}

// v2 → v3: computes hash for every existing movement, in seq order, from
// the genesis hash (inside the migration's transaction).
int backfill_chain(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT seq, payload FROM movements ORDER BY seq", -1, &raw, nullptr);
  StmtPtr select(raw);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_prepare_v2(db, "UPDATE movements SET hash = ?2 WHERE seq = ?1", -1, &raw, nullptr);
  StmtPtr update(raw);
  if (rc != SQLITE_OK) return rc;
  std::string prev(wire::kGenesisHash);
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    std::string hash = wire::chain_hash(prev, column_text(select.get(), 1));
    sqlite3_reset(update.get());
    sqlite3_bind_int64(update.get(), 1, sqlite3_column_int64(select.get(), 0));
    bind_text(update.get(), 2, hash);
    const int u = sqlite3_step(update.get());
    if (u != SQLITE_DONE) return u;
    prev = std::move(hash);
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// Runs the migrations from `from` to kSchemaVersion (sqlite_util::migrate);
// on a brand-new file also writes meta (device, site, created), and the v3
// migration chains the movements already there.
Result<void> migrate(sqlite3* db, int from, const Options& options) {
  const auto after = [db, from, &options](int v) -> std::pair<int, std::string> {
    if (v == 2) {
      if (const int rc = backfill_chain(db); rc != SQLITE_OK) return {rc, "chaining existing movements"};
    }
    if (v + 1 < kSchemaVersion || from != 0) return {SQLITE_OK, ""};
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES (?1, ?2)", -1, &raw, nullptr);
    StmtPtr s(raw);
    const std::string created = std::to_string(now_ms());
    const std::pair<const char*, const std::string*> rows[] = {
        {"device", &options.device}, {"site", &options.site}, {"created", &created}};
    for (const auto& [key, value] : rows) {
      if (rc != SQLITE_OK) break;
      sqlite3_reset(s.get());
      bind_text(s.get(), 1, key);
      bind_text(s.get(), 2, *value);
      rc = sqlite3_step(s.get());
      rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    return {rc, "write meta"};
  };
  return sqlite_util::migrate(db, kMigrations, from, "journal", after);
}

}  // namespace

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

// Long on purpose: the open-time refusals in the order they are checked
// (each must leave the file untouched), then the migration.
Result<std::unique_ptr<Journal>> Journal::open(const Options& options) {
  const std::string path = options.path.string();
  if (options.device.empty() || options.site.empty()) {
    return make_error("journal_io", "journal " + path + ": device and site must not be empty");
  }

  std::error_code ec;
  const bool exists = std::filesystem::exists(options.path, ec);
  if (ec) return make_error("journal_io", "journal " + path + ": " + ec.message());
  if (!exists && !options.create_if_missing) {
    return make_error("journal_missing", "journal " + path + " does not exist");
  }

  // READWRITE always; CREATE only when we are the ones creating the file.
  // NOMUTEX: a Journal is used by one thread at a time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (!exists) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    if (is_corrupt(rc)) return corrupt(path, db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc));
    return make_error("journal_io", "journal " + path + ": cannot open: " +
                                        (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);

  // Until every check has passed, closing must not checkpoint a WAL left by
  // a crash into the main file: a refused journal stays byte-for-byte as found.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);

  // Connection-only settings (nothing is written by these):
  //  * synchronous=FULL when durable. In WAL mode NORMAL syncs the WAL only
  //    at checkpoints, so the last commits can vanish on power loss; FULL
  //    fsyncs the WAL on every COMMIT, which is what lets the beep follow the
  //    append. NORMAL (benchmarks only) is still crash-safe, just not durable.
  //  * foreign_keys=ON: movements.scan_id must name a journaled scan.
  //  * busy_timeout: wait, rather than fail, if a tool holds the write lock.
  const std::string pragmas = std::string("PRAGMA synchronous = ") + (options.durable ? "FULL" : "NORMAL") +
                              "; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = " +
                              std::to_string(std::max(options.busy_timeout_ms, 0)) + ";";
  rc = exec(db.get(), pragmas.c_str());
  if (rc != SQLITE_OK) {
    if (is_corrupt(rc)) return corrupt(path, sqlite3_errmsg(db.get()));
    return sql_error(db.get(), rc, "pragmas on " + path);
  }

  // Checks, read-only, in order: structure, schema version, owner.
  if (exists) {
    if (auto r = quick_check(db.get(), path); !r) return r.error();
  }
  auto user_version = query_int(db.get(), "PRAGMA user_version");
  if (!user_version) return user_version.error();
  if (*user_version > kSchemaVersion) {
    return make_error("journal_newer_schema", "journal " + path + " has schema version " +
                                                  std::to_string(*user_version) + ", this build knows up to " +
                                                  std::to_string(kSchemaVersion));
  }
  if (*user_version < 0) return corrupt(path, "negative user_version");
  if (*user_version == 0) {
    // Version 0 is only acceptable for an empty file (new, or a creation that
    // crashed before its first commit). Anything else is not our journal.
    auto objects = query_int(db.get(), "SELECT COUNT(*) FROM sqlite_schema");
    if (!objects) return objects.error();
    if (*objects != 0) return corrupt(path, "tables present but no schema version (not a Tally journal?)");
    if (exists && !options.create_if_missing) {
      return make_error("journal_missing", "journal " + path + " is empty and create_if_missing is off");
    }
  } else {
    auto device = meta_value(db.get(), "device");
    if (!device) return device.error();
    auto site = meta_value(db.get(), "site");
    if (!site) return site.error();
    if (!*device || !*site) return corrupt(path, "meta has no device or site");
    if (**device != options.device) {
      return make_error("journal_foreign_device", "journal " + path + " belongs to device \"" + **device +
                                                      "\", not to this device \"" + options.device + "\"");
    }
    if (**site != options.site) {
      return make_error("journal_foreign_site", "journal " + path + " belongs to site \"" + **site +
                                                    "\", not to this site \"" + options.site + "\"");
    }
  }

  // Every check passed: from here on the file may be written.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  {
    sqlite3_stmt* s = nullptr;
    rc = sqlite3_prepare_v2(db.get(), "PRAGMA journal_mode = WAL", -1, &s, nullptr);
    StmtPtr stmt(s);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) return sql_error(db.get(), rc, "journal_mode=WAL on " + path);
    if (column_text(stmt.get(), 0) != "wal") {
      return make_error("journal_io", "journal " + path + ": WAL mode not available (" +
                                          column_text(stmt.get(), 0) + ")");
    }
  }
  if (options.max_page_count > 0) {
    const std::string limit = "PRAGMA max_page_count = " + std::to_string(options.max_page_count);
    if (auto r = query_int(db.get(), limit.c_str()); !r) return r.error();
  }
  if (*user_version < kSchemaVersion) {
    if (auto r = migrate(db.get(), static_cast<int>(*user_version), options); !r) return r.error();
    if (!exists) sync_parent_dir(options.path);
  }

  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db);
  impl->path = path;
  impl->device = options.device;
  impl->site = options.site;
  if (auto r = impl->prepare_all(); !r) return r.error();
  if (auto r = impl->load_state(impl->last_seq, impl->last_hlc, impl->acked_seq); !r) return r.error();
  auto scans = query_int(impl->db.get(), "SELECT COUNT(*) FROM scans");
  if (!scans) return scans.error();
  impl->scans = *scans;
  auto last_exception = query_int(impl->db.get(), "SELECT IFNULL(MAX(id), 0) FROM device_exceptions");
  if (!last_exception) return last_exception.error();
  impl->last_exception_id = *last_exception;
  auto exceptions_acked = query_int(impl->db.get(), "SELECT exceptions_acked FROM sync_state WHERE id = 1");
  if (!exceptions_acked) return exceptions_acked.error();
  impl->exceptions_acked = *exceptions_acked;
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

// ------------------------------------------------------------------ append

// Long on purpose: the one write transaction of a scan, read top to bottom
// in the order its rows are written; split up, that order would be hidden.
Result<std::vector<Appended>> Journal::Impl::append_entries(std::span<const Entry> entries) {
  if (broken) return make_error("journal_io", "journal " + path + ": a failed rollback left it unusable; reopen it");
  if (entries.empty()) return std::vector<Appended>{};

  // Validate every movement as it will be written, i.e. with this journal's
  // device and site, before touching the file (seq/hlc do not take part in
  // validation). Movements from the session already carry both, so the copy
  // into `scratch` is only made for those that do not.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].movement) {
      if (!entries[i].more_movements.empty()) {
        return make_error("invalid_entry", "entry " + std::to_string(i) + ": more_movements without a movement");
      }
      continue;
    }
    for (std::size_t k = 0; k <= entries[i].more_movements.size(); ++k) {
      const scanner::Movement& m = k == 0 ? *entries[i].movement : entries[i].more_movements[k - 1];
      const bool stamped = m.device == device && m.site == site;
      if (!stamped) {
        scratch = m;
        scratch.device = device;
        scratch.site = site;
      }
      if (auto valid = scanner::validate(stamped ? m : scratch); !valid) {
        if (entries.size() == 1 && entries[i].more_movements.empty()) return valid.error();
        return make_error(valid.error().code, "entry " + std::to_string(i) + ": " + valid.error().message);
      }
    }
  }

  int rc = step_done(begin.get());
  if (rc != SQLITE_OK) {
    Error e = sql_error(db.get(), rc, "begin");
    abort_txn();
    return e;
  }
  // From here on every failure leaves through `fail`: the error is taken
  // first, the failed statement reset, the transaction rolled back; the
  // cached counters are untouched.
  auto fail = [this](int code, std::string_view what, sqlite3_stmt* failed) {
    Error e = sql_error(db.get(), code, what);
    if (failed != nullptr) sqlite3_reset(failed);
    abort_txn();
    return e;
  };

  std::uint64_t seq = 0, hlc = 0, acked = 0;
  if (auto r = load_state(seq, hlc, acked, &chain); !r) {
    abort_txn();
    return r.error();
  }

  std::vector<Appended> out;
  out.reserve(entries.size());
  const Entry* last_snapshot = nullptr;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    const ScanRecord& scan = entry.scan;
    {
      sqlite3_stmt* s = insert_scan.get();
      Use use(s);
      sqlite3_bind_int64(s, 1, scan.time_ms);
      bind_text(s, 2, scan.text);
      bind_text(s, 3, scan.symbology);
      bind_text(s, 4, scan.source);
      bind_text(s, 5, scan.operator_id);
      bind_text(s, 6, scan.mode);
      bind_text(s, 7, scan.feedback);
      bind_text(s, 8, scan.code);
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return fail(rc, "insert scan", s);
    }
    Appended a;
    a.scan_id = sqlite3_last_insert_rowid(db.get());

    for (std::size_t k = 0; entry.movement && k <= entry.more_movements.size(); ++k) {
      const scanner::Movement& m = k == 0 ? *entry.movement : entry.more_movements[k - 1];
      const wire::Stamp stamp{device, site, seq + 1, next_hlc(hlc, m.wall_time_ms)};
      // The canonical wire text of the movement with its stamp. Non-UTF-8
      // bytes (binary barcode content in evidence) become U+FFFD rather than
      // refusing a movement that was physically done; scans.text keeps the
      // raw bytes.
      wire::to_json_text(m, stamp, payload);
      chain = wire::chain_hash(chain, payload);
      sqlite3_stmt* s = insert_movement.get();
      Use use(s);
      sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(stamp.seq));
      sqlite3_bind_int64(s, 2, a.scan_id);
      sqlite3_bind_int64(s, 3, static_cast<std::int64_t>(stamp.hlc));
      sqlite3_bind_int64(s, 4, m.wall_time_ms);
      bind_text(s, 5, scanner::to_string(m.type));
      bind_text(s, 6, payload);
      bind_text(s, 7, chain);
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return fail(rc, "insert movement " + std::to_string(stamp.seq), s);
      seq = stamp.seq;
      hlc = stamp.hlc;
      if (k == 0) {
        a.seq = seq;
        a.hlc = hlc;
      } else {
        a.more.emplace_back(seq, hlc);
      }
    }
    for (std::size_t k = 0; k <= entry.more_exceptions.size(); ++k) {
      const scanner::DeviceException* x = k == 0 ? (entry.exception ? &*entry.exception : nullptr)
                                                 : &entry.more_exceptions[k - 1];
      if (x == nullptr) continue;
      const std::string text = wire::to_json_text(*x);
      sqlite3_stmt* s = insert_exception.get();
      Use use(s);
      sqlite3_bind_int64(s, 1, a.scan_id);
      sqlite3_bind_int64(s, 2, x->time_ms);
      bind_text(s, 3, x->kind);
      bind_text(s, 4, text);
      if (a.seq) {
        sqlite3_bind_int64(s, 5, static_cast<std::int64_t>(*a.seq));
      } else {
        sqlite3_bind_null(s, 5);
      }
      rc = sqlite3_step(s);
      if (rc != SQLITE_DONE) return fail(rc, "insert device exception", s);
      const std::int64_t id = sqlite3_last_insert_rowid(db.get());
      if (k == 0) {
        a.exception_id = id;
      } else {
        a.more_exception_ids.push_back(id);
      }
    }
    if (!entry.session_snapshot.empty()) last_snapshot = &entry;
    out.push_back(a);
  }

  // Once per transaction: only the final snapshot matters. (last_seq and
  // last_hlc need no write of their own: they are read back from the
  // newest movement row, which keeps the commit to the rows raw SQLite
  // would write.)
  if (last_snapshot != nullptr) {
    sqlite3_stmt* s = upsert_session.get();
    bind_text(s, 1, last_snapshot->session_snapshot);
    rc = step_done(s);
    if (rc != SQLITE_OK) return fail(rc, "store session snapshot", nullptr);
  }

  rc = step_done(commit.get());
  if (rc != SQLITE_OK) return fail(rc, "commit", nullptr);

  last_seq = seq;
  last_hlc = hlc;
  acked_seq = acked;
  scans += static_cast<std::int64_t>(entries.size());
  for (const Appended& a : out) {
    last_exception_id = std::max(last_exception_id, a.exception_id);
    for (const std::int64_t id : a.more_exception_ids) last_exception_id = std::max(last_exception_id, id);
  }
  return out;
}

Result<Appended> Journal::append(const Entry& entry) {
  auto r = impl_->append_entries(std::span<const Entry>(&entry, 1));
  if (!r) return r.error();
  return r->front();
}

Result<std::vector<Appended>> Journal::append_batch(const std::vector<Entry>& entries) {
  return impl_->append_entries(entries);
}

}  // namespace tally::journal
