// The journal's reads (movements and device exceptions after a cursor, the
// outbox, the stored session), its acks and its master data. See
// journal.hpp; the state is Journal::Impl (journal_impl.hpp).
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "journal_impl.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::journal {

// ------------------------------------------------------------------- reads

Result<std::vector<scanner::Movement>> Journal::movements_after(std::uint64_t after, std::size_t limit) const {
  std::vector<scanner::Movement> out;
  if (limit == 0) return out;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (after >= kMax) return out;
  sqlite3_stmt* s = impl_->select_after.get();
  Use use(s);
  sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(after));
  sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, kMax)));
  out.reserve(std::min<std::size_t>(limit, 1024));
  int rc = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, 1));
    // Data read back is checked like data received: a row that does not
    // parse, or disagrees with its key, is corruption, never skipped.
    auto corrupt_row = [&](const std::string& why) {
      return make_error("journal_corrupt", "journal " + impl_->path + ": movement " + std::to_string(seq) + " " + why);
    };
    if (text == nullptr) return corrupt_row("has no payload");
    auto j = nlohmann::json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return corrupt_row("payload is not JSON");
    auto m = wire::movement_from_json(j);
    if (!m) return corrupt_row("payload is invalid: " + m.error().code + ": " + m.error().message);
    if (m->seq != seq) return corrupt_row("payload says seq " + std::to_string(m->seq));
    out.push_back(std::move(m).value());
  }
  if (rc != SQLITE_DONE) return sql_error(impl_->db.get(), rc, "read movements");
  return out;
}

Result<std::vector<StoredMovementText>> Journal::movement_texts_after(std::uint64_t after, std::size_t limit) const {
  std::vector<StoredMovementText> out;
  if (limit == 0) return out;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (after >= kMax - 1) return out;
  sqlite3_stmt* s = impl_->select_texts.get();
  Use use(s);
  sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(after));
  sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, kMax - 1) + 1));
  out.reserve(std::min<std::size_t>(limit, 1024));
  std::string prev(wire::kGenesisHash);
  bool have_prev = after == 0;
  int rc = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    std::string hash = column_text(s, 3);
    auto corrupt_row = [&](const std::string& why) {
      return make_error("journal_corrupt", "journal " + impl_->path + ": movement " + std::to_string(seq) + " " + why);
    };
    if (!wire::is_chain_hash(hash)) return corrupt_row("has no chain hash");
    if (seq == after) {  // the row before the first: only its hash is needed
      prev = std::move(hash);
      have_prev = true;
      continue;
    }
    if (!have_prev) return corrupt_row("has no predecessor " + std::to_string(after) + " to chain from");
    StoredMovementText t;
    t.seq = seq;
    t.wall_time_ms = sqlite3_column_int64(s, 1);
    t.payload = column_text(s, 2);
    if (t.payload.size() < 2 || t.payload.front() != '{' || t.payload.back() != '}') {
      return corrupt_row("payload is not a JSON object");
    }
    t.prev_hash = std::move(prev);
    prev = hash;
    t.hash = std::move(hash);
    out.push_back(std::move(t));
    if (out.size() == limit) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_error(impl_->db.get(), rc, "read movements");
  return out;
}

Result<std::vector<StoredException>> Journal::exceptions_after(std::int64_t after, std::size_t limit) const {
  auto texts = exception_texts_after(after, limit);
  if (!texts) return texts.error();
  std::vector<StoredException> out;
  out.reserve(texts->size());
  for (auto& t : *texts) {
    auto e = wire::device_exception_from_json(nlohmann::json::parse(t.payload, nullptr, /*allow_exceptions=*/false));
    if (!e) {
      return make_error("journal_corrupt", "journal " + impl_->path + ": device exception " + std::to_string(t.id) +
                                               " is invalid: " + e.error().message);
    }
    out.push_back(StoredException{t.id, t.scan_id, t.seq, std::move(*e)});
  }
  return out;
}

Result<std::vector<Journal::StoredExceptionText>> Journal::exception_texts_after(std::int64_t after,
                                                                                 std::size_t limit) const {
  std::vector<StoredExceptionText> out;
  if (limit == 0) return out;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  sqlite3_stmt* s = impl_->select_exceptions.get();
  Use use(s);
  sqlite3_bind_int64(s, 1, after);
  sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, kMax)));
  int rc = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    StoredExceptionText x;
    x.id = sqlite3_column_int64(s, 0);
    x.scan_id = sqlite3_column_int64(s, 1);
    x.payload = column_text(s, 2);
    if (x.payload.size() < 2 || x.payload.front() != '{' || x.payload.back() != '}') {
      return make_error("journal_corrupt", "journal " + impl_->path + ": device exception " + std::to_string(x.id) +
                                               " is not a JSON object");
    }
    if (sqlite3_column_type(s, 3) != SQLITE_NULL) x.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    out.push_back(std::move(x));
  }
  if (rc != SQLITE_DONE) return sql_error(impl_->db.get(), rc, "read device exceptions");
  return out;
}

Result<std::vector<scanner::Movement>> Journal::outbox(std::size_t limit) const {
  return movements_after(impl_->acked_seq, limit);
}

Result<void> Journal::set_acked(std::uint64_t applied_through) {
  Impl& d = *impl_;
  if (applied_through > d.last_seq) {
    return make_error("ack_beyond_last_seq", "ack " + std::to_string(applied_through) + " is beyond last seq " +
                                                 std::to_string(d.last_seq) + " of journal " + d.path);
  }
  if (applied_through <= d.acked_seq) return {};  // monotonic: an old ack changes nothing
  if (d.broken) return make_error("journal_io", "journal " + d.path + ": a failed rollback left it unusable");
  sqlite3_stmt* s = d.update_acked.get();
  sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(applied_through));
  sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(d.last_hlc));
  const int rc = d.step_done(s);
  if (rc != SQLITE_OK) return sql_error(d.db.get(), rc, "set acked_seq");
  d.acked_seq = applied_through;
  return {};
}

Result<void> Journal::set_exceptions_acked(std::int64_t through) {
  Impl& d = *impl_;
  if (through > d.last_exception_id) {
    return make_error("ack_beyond_last_exception", "exceptions ack " + std::to_string(through) +
                                                       " is beyond the last device exception " +
                                                       std::to_string(d.last_exception_id) + " of journal " + d.path);
  }
  if (through <= d.exceptions_acked) return {};  // monotonic
  if (d.broken) return make_error("journal_io", "journal " + d.path + ": a failed rollback left it unusable");
  sqlite3_stmt* s = d.update_exceptions_acked.get();
  sqlite3_bind_int64(s, 1, through);
  const int rc = d.step_done(s);
  if (rc != SQLITE_OK) return sql_error(d.db.get(), rc, "set exceptions_acked");
  d.exceptions_acked = through;
  return {};
}

Status Journal::status() const {
  const Impl& d = *impl_;
  Status s;
  s.device = d.device;
  s.site = d.site;
  s.last_seq = d.last_seq;
  s.acked_seq = d.acked_seq;
  s.pending = d.last_seq - d.acked_seq;
  s.scans = d.scans;
  s.last_exception_id = d.last_exception_id;
  s.exceptions_acked = d.exceptions_acked;
  return s;
}

std::optional<std::string> Journal::session_snapshot() const {
  sqlite3_stmt* s = impl_->select_session.get();
  Use use(s);
  if (sqlite3_step(s) != SQLITE_ROW) return std::nullopt;
  return column_text(s, 0);
}

Result<void> Journal::put_master_data(const std::string& kind, std::int64_t version, const std::string& json) {
  Impl& d = *impl_;
  if (d.broken) return make_error("journal_io", "journal " + d.path + ": a failed rollback left it unusable");
  // One statement in autocommit mode: the row is replaced atomically.
  sqlite3_stmt* s = d.upsert_master.get();
  bind_text(s, 1, kind);
  sqlite3_bind_int64(s, 2, version);
  bind_text(s, 3, json);
  const int rc = d.step_done(s);
  if (rc != SQLITE_OK) return sql_error(d.db.get(), rc, "store master data " + kind);
  return {};
}

std::optional<std::pair<std::int64_t, std::string>> Journal::master_data(const std::string& kind) const {
  sqlite3_stmt* s = impl_->select_master.get();
  Use use(s);
  bind_text(s, 1, kind);
  if (sqlite3_step(s) != SQLITE_ROW) return std::nullopt;
  return std::make_pair(sqlite3_column_int64(s, 0), column_text(s, 1));
}

}  // namespace tally::journal
