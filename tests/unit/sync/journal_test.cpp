// The device journal on real SQLite files, one temp directory per test.
// Covers seq assignment, all-or-nothing appends, the outbox and acks, the
// open-time refusals (which must leave the file byte-identical) and a full
// disk provoked through the max_page_count fault-injection seam.
#include "tally/journal/journal.hpp"
#include "tally/journal/worker.hpp"
#include "tally/wire/movement_json.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tally::journal {
namespace {

namespace fs = std::filesystem;
using scanner::Endpoint;
using scanner::Location;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

constexpr std::int64_t kT0 = 1'790'000'000'000;  // a Unix ms in 2026

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_at(const fs::path& p, std::uintmax_t offset, const std::string& bytes) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs one SQL statement on the file with a plain connection (a "stray tool").
void raw_sql(const fs::path& p, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

Movement move(std::int64_t qty = 1, std::int64_t time_ms = kT0) {
  Movement m;
  m.operator_id = "alice";
  m.type = MovementType::move;
  m.item.gtin = "09506000134352";
  m.item.lot = "L42";
  m.qty = qty;
  m.from = Endpoint{Location{"A-01-01-1"}, StockState::available};
  m.to = Endpoint{Location{"B-02-01-1"}, StockState::available};
  m.evidence = {"A-01-01-1", "(01)09506000134352(10)L42", "B-02-01-1"};
  m.wall_time_ms = time_ms;
  return m;
}

ScanRecord scan(const std::string& text, std::int64_t time_ms = kT0) {
  return ScanRecord{text, "code128", "hid:0", "alice", "move", "good", "movement_recorded", time_ms};
}

Entry entry_with_move(std::int64_t qty = 1, std::int64_t time_ms = kT0) {
  return Entry{scan("B-02-01-1", time_ms), move(qty, time_ms), ""};
}

Entry scan_only(const std::string& text = "A-01-01-1") { return Entry{scan(text), std::nullopt, ""}; }

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tally-journal-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "journal.db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Options options(std::string device = "hh-07", std::string site = "berlin-1") const {
    Options o;
    o.path = path_;
    o.device = std::move(device);
    o.site = std::move(site);
    return o;
  }

  std::unique_ptr<Journal> open_ok(const Options& o) {
    auto r = Journal::open(o);
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<Journal> open_ok() { return open_ok(options()); }

  // Creates a journal with `n` movements and closes it (WAL checkpointed).
  void make_journal(int n) {
    auto j = open_ok();
    ASSERT_NE(j, nullptr);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(j->append(entry_with_move(1 + i % 5, kT0 + i)).ok());
  }

  std::vector<std::uint64_t> seqs(const Journal& j, std::uint64_t after = 0) {
    auto r = j.movements_after(after, 1'000'000);
    EXPECT_TRUE(r.ok()) << r.error().message;
    std::vector<std::uint64_t> out;
    if (r.ok()) {
      for (const auto& m : *r) out.push_back(m.seq);
    }
    return out;
  }

  fs::path dir_;
  fs::path path_;
};

// ---------------------------------------------------------------- appends

TEST_F(JournalTest, NewJournalIsEmpty) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  const Status s = j->status();
  EXPECT_EQ(s.device, "hh-07");
  EXPECT_EQ(s.site, "berlin-1");
  EXPECT_EQ(s.last_seq, 0U);
  EXPECT_EQ(s.acked_seq, 0U);
  EXPECT_EQ(s.pending, 0U);
  EXPECT_EQ(s.scans, 0);
  EXPECT_FALSE(j->session_snapshot().has_value());
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(JournalTest, AppendAssignsSeqOneTwoThreeAndStampsDeviceAndSite) {
  auto j = open_ok();
  for (std::uint64_t want = 1; want <= 3; ++want) {
    Entry e = entry_with_move();
    e.movement->device = "someone-else";  // the journal's identity wins
    auto r = j->append(e);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->seq, want);
    EXPECT_EQ(r->scan_id, static_cast<std::int64_t>(want));
  }
  auto ms = j->movements_after(0, 10);
  ASSERT_TRUE(ms.ok());
  ASSERT_EQ(ms->size(), 3U);
  for (const auto& m : *ms) {
    EXPECT_EQ(m.device, "hh-07");
    EXPECT_EQ(m.site, "berlin-1");
    EXPECT_EQ(m.item.lot, "L42");
  }
  EXPECT_EQ(j->status().last_seq, 3U);
  EXPECT_EQ(j->status().scans, 3);
}

TEST_F(JournalTest, ScanWithoutMovementDoesNotConsumeASeq) {
  auto j = open_ok();
  auto a = j->append(scan_only());
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->seq.has_value());
  auto b = j->append(entry_with_move());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->seq, 1U);
  EXPECT_EQ(j->status().scans, 2);
}

TEST_F(JournalTest, HlcFollowsTheClockAndNeverGoesBack) {
  auto j = open_ok();
  auto a = j->append(entry_with_move(1, kT0));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->hlc, static_cast<std::uint64_t>(kT0) << 16);
  auto b = j->append(entry_with_move(1, kT0));  // clock stalled
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->hlc, a->hlc + 1);
  auto c = j->append(entry_with_move(1, kT0 - 60'000));  // clock stepped back
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->hlc, b->hlc + 1);
  auto d = j->append(entry_with_move(1, kT0 + 5));  // clock moved on
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->hlc, static_cast<std::uint64_t>(kT0 + 5) << 16);
  auto ms = j->movements_after(0, 10);
  ASSERT_TRUE(ms.ok());
  EXPECT_EQ((*ms)[2].hlc, c->hlc);
}

TEST_F(JournalTest, SeqAndHlcContinueGapFreeAcrossReopen) {
  std::uint64_t last_hlc = 0;
  {
    auto j = open_ok();
    ASSERT_TRUE(j->append(entry_with_move()).ok());
    auto r = j->append(entry_with_move());
    ASSERT_TRUE(r.ok());
    last_hlc = r->hlc;
  }
  auto j = open_ok();
  EXPECT_EQ(j->status().last_seq, 2U);
  EXPECT_EQ(j->status().scans, 2);
  auto r = j->append(entry_with_move(1, kT0 - 1000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 3U);
  EXPECT_GT(r->hlc, last_hlc);
  EXPECT_EQ(seqs(*j), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(JournalTest, InvalidMovementWritesNothingAndKeepsTheSeq) {
  auto j = open_ok();
  ASSERT_TRUE(j->append(entry_with_move()).ok());
  Entry bad = entry_with_move(0);  // qty 0 on a move
  bad.session_snapshot = R"({"step":"bad"})";
  auto r = j->append(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_qty");
  EXPECT_EQ(j->status().last_seq, 1U);
  EXPECT_EQ(j->status().scans, 1);
  EXPECT_FALSE(j->session_snapshot().has_value());

  Entry bad_stamped = entry_with_move(0);  // already carrying this journal's identity
  bad_stamped.movement->device = "hh-07";
  bad_stamped.movement->site = "berlin-1";
  auto r2 = j->append(bad_stamped);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, "invalid_qty");

  auto ok = j->append(entry_with_move());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->seq, 2U);
  EXPECT_EQ(ok->scan_id, 2);
  EXPECT_EQ(seqs(*j), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(JournalTest, BatchIsAllOrNothing) {
  auto j = open_ok();
  std::vector<Entry> batch{entry_with_move(), scan_only(), entry_with_move(0), entry_with_move()};
  auto r = j->append_batch(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_qty");
  EXPECT_NE(r.error().message.find("entry 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(j->status().last_seq, 0U);
  EXPECT_EQ(j->status().scans, 0);

  batch[2] = entry_with_move(2);
  batch[3].session_snapshot = R"({"step":"done"})";
  auto ok = j->append_batch(batch);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ASSERT_EQ(ok->size(), 4U);
  EXPECT_EQ((*ok)[0].seq, 1U);
  EXPECT_FALSE((*ok)[1].seq.has_value());
  EXPECT_EQ((*ok)[2].seq, 2U);
  EXPECT_EQ((*ok)[3].seq, 3U);
  EXPECT_LT((*ok)[2].hlc, (*ok)[3].hlc);
  EXPECT_EQ(j->status().scans, 4);
  EXPECT_EQ(j->session_snapshot(), R"({"step":"done"})");
  EXPECT_TRUE(j->append_batch({}).ok());
}

TEST_F(JournalTest, NonUtf8EvidenceIsStillRecorded) {
  auto j = open_ok();
  Entry e = entry_with_move();
  e.scan.text = std::string("\xff\xfe binary", 9);
  e.movement->evidence.push_back(e.scan.text);
  auto r = j->append(e);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto ms = j->movements_after(0, 10);
  ASSERT_TRUE(ms.ok()) << ms.error().message;
  EXPECT_EQ(ms->size(), 1U);
}

// ------------------------------------------------------------ outbox, acks

TEST_F(JournalTest, OutboxIsAscendingAndAckAdvancesIt) {
  auto j = open_ok();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->append(entry_with_move(i + 1)).ok());
  auto all = j->outbox(10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5U);
  for (std::size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].seq, i + 1);
    EXPECT_EQ((*all)[i].qty, static_cast<std::int64_t>(i + 1));
  }
  auto two = j->outbox(2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[1].seq, 2U);

  ASSERT_TRUE(j->set_acked(3).ok());
  auto rest = j->outbox(10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2U);
  EXPECT_EQ(rest->front().seq, 4U);
  EXPECT_EQ(j->status().pending, 2U);
  EXPECT_EQ(seqs(*j, 4), (std::vector<std::uint64_t>{5}));
  EXPECT_TRUE(j->movements_after(5, 10)->empty());
  EXPECT_TRUE(j->movements_after(0, 0)->empty());
  EXPECT_TRUE(j->movements_after(UINT64_MAX, 10)->empty());

  j.reset();
  j = open_ok();
  EXPECT_EQ(j->status().acked_seq, 3U);
  EXPECT_EQ(j->outbox(10)->size(), 2U);
}

TEST_F(JournalTest, SetAckedIsMonotonicAndRefusesBeyondLastSeq) {
  auto j = open_ok();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->append(entry_with_move()).ok());
  ASSERT_TRUE(j->set_acked(4).ok());
  ASSERT_TRUE(j->set_acked(2).ok());  // stale ack: ignored
  EXPECT_EQ(j->status().acked_seq, 4U);
  auto beyond = j->set_acked(6);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, "ack_beyond_last_seq");
  EXPECT_EQ(j->status().acked_seq, 4U);
  ASSERT_TRUE(j->set_acked(5).ok());
  EXPECT_EQ(j->status().pending, 0U);
  EXPECT_TRUE(j->outbox(10)->empty());
  j.reset();
  EXPECT_EQ(open_ok()->status().acked_seq, 5U);
}

TEST_F(JournalTest, AckedSeqAndHlcFloorSurvivePrunedRows) {
  std::uint64_t hlc_before = 0;
  {
    auto j = open_ok();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(j->append(entry_with_move(1, kT0 + 1000)).ok());
    hlc_before = j->movements_after(3, 1)->front().hlc;
    ASSERT_TRUE(j->set_acked(4).ok());
  }
  // What a future pruning of acknowledged movements would leave behind.
  raw_sql(path_, "DELETE FROM movements");
  auto j = open_ok();
  EXPECT_EQ(j->status().last_seq, 4U);
  EXPECT_EQ(j->status().pending, 0U);
  auto r = j->append(entry_with_move(1, kT0));  // the clock is behind the floor
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->seq, 5U);
  EXPECT_GT(r->hlc, hlc_before);
}

// --------------------------------------------------------- session, master

TEST_F(JournalTest, SessionSnapshotRoundTrip) {
  {
    auto j = open_ok();
    Entry e = scan_only("OP:alice");
    e.session_snapshot = R"({"operator":"alice"})";
    ASSERT_TRUE(j->append(e).ok());
    ASSERT_TRUE(j->append(scan_only("CMD:MOVE")).ok());  // empty: leaves it as is
    EXPECT_EQ(j->session_snapshot(), R"({"operator":"alice"})");
    e.session_snapshot = R"({"operator":"alice","mode":"move"})";
    ASSERT_TRUE(j->append(e).ok());
  }
  EXPECT_EQ(open_ok()->session_snapshot(), R"({"operator":"alice","mode":"move"})");
}

// ------------------------------------------------- device exceptions (v2)

scanner::DeviceException wrong_bin(std::int64_t time_ms = kT0) {
  scanner::DeviceException e;
  e.kind = "wrong_bin";
  e.operator_id = "alice";
  e.mode = "pick";
  e.expected = "A-01-01-1";
  e.scanned = "B-02-01-1";
  e.evidence = {"B-02-01-1"};
  e.time_ms = time_ms;
  e.task = "TASK:17/1";
  return e;
}

TEST_F(JournalTest, ExceptionsAreJournaledWithTheirScanAndReadBackInOrder) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  // A refused scan: the scan and its exception, no movement, no snapshot.
  Entry refused = scan_only("B-02-01-1");
  refused.scan.feedback = "error";
  refused.exception = wrong_bin();
  auto a = j->append(refused);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_FALSE(a->seq);
  // An accepted scan with a movement and an exception (a short pick).
  Entry both = entry_with_move();
  both.exception = wrong_bin(kT0 + 1);
  both.exception->kind = "short_pick";
  both.exception->evidence = {"A-01-01-1", "\xff\xfe", "TOTE:1"};  // non-UTF-8 evidence is kept as U+FFFD
  both.exception->reason = "SHORT";
  auto b = j->append(both);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->seq, 1U);

  auto all = j->exceptions_after(0, 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].scan_id, a->scan_id);
  EXPECT_EQ((*all)[0].exception, wrong_bin());
  EXPECT_EQ((*all)[1].scan_id, b->scan_id);
  EXPECT_EQ((*all)[1].exception.kind, "short_pick");
  EXPECT_EQ((*all)[1].exception.reason, "SHORT");
  EXPECT_EQ((*all)[1].exception.evidence[1], "\xEF\xBF\xBD\xEF\xBF\xBD");
  auto rest = j->exceptions_after((*all)[0].id, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1U);
  EXPECT_EQ((*rest)[0].id, (*all)[1].id);
  EXPECT_TRUE(j->exceptions_after(0, 0)->empty());
  EXPECT_EQ(j->status().scans, 2);
}

TEST_F(JournalTest, ExceptionInAFailedBatchIsNotWritten) {
  auto j = open_ok();
  Entry e = scan_only();
  e.exception = wrong_bin();
  Entry bad = entry_with_move();
  bad.movement->qty = 0;
  EXPECT_FALSE(j->append_batch({e, bad}).ok());
  EXPECT_TRUE(j->exceptions_after(0, 10)->empty());
}

// What the outbox sends is the stored text: a row the strict reader refuses
// (say an older build's kind) still leaves the device, and the ledger keeps
// it as a rejected_device_exception instead of the cursor stalling on it.
TEST_F(JournalTest, ExceptionTextsAreSentAsStored) {
  {
    auto j = open_ok();
    Entry e = entry_with_move();
    e.exception = wrong_bin();
    ASSERT_TRUE(j->append(e).ok());
  }
  raw_sql(path_, "UPDATE device_exceptions SET payload = '{\"kind\":\"Old Kind\",\"x\":1}'");
  auto j = open_ok();
  EXPECT_EQ(j->exceptions_after(0, 10).error().code, "journal_corrupt");
  auto texts = j->exception_texts_after(0, 10);
  ASSERT_TRUE(texts.ok()) << texts.error().message;
  ASSERT_EQ(texts->size(), 1U);
  EXPECT_EQ((*texts)[0].payload, R"({"kind":"Old Kind","x":1})");
  EXPECT_EQ((*texts)[0].seq, 1U);
  EXPECT_TRUE(j->exception_texts_after((*texts)[0].id, 10)->empty());
  raw_sql(path_, "UPDATE device_exceptions SET payload = 'not json'");
  EXPECT_EQ(open_ok()->exception_texts_after(0, 10).error().code, "journal_corrupt");
}

TEST_F(JournalTest, UnparsableExceptionRowIsCorrupt) {
  {
    auto j = open_ok();
    Entry e = scan_only();
    e.exception = wrong_bin();
    ASSERT_TRUE(j->append(e).ok());
  }
  raw_sql(path_, "UPDATE device_exceptions SET payload = '{\"kind\":1}'");
  auto r = open_ok()->exceptions_after(0, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_corrupt");
}

// A journal written by a v1 build (no device_exceptions table) is upgraded
// in place on open: its scans, movements, ack and snapshot are kept.
TEST_F(JournalTest, VersionOneJournalIsUpgradedInPlace) {
  {
    auto j = open_ok();
    ASSERT_NE(j, nullptr);
    Entry e = entry_with_move(3);
    e.session_snapshot = R"({"operator":"alice"})";
    ASSERT_TRUE(j->append(e).ok());
    ASSERT_TRUE(j->append(entry_with_move(2)).ok());
    ASSERT_TRUE(j->set_acked(1).ok());
  }
  // Make it exactly what v1 wrote: the v1 tables and user_version 1.
  raw_sql(path_,
          "DROP TABLE device_exceptions; ALTER TABLE movements DROP COLUMN hash; "
          "ALTER TABLE sync_state DROP COLUMN exceptions_acked; PRAGMA user_version = 1");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'device_exceptions'", -1, &st,
                                 nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }

  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(seqs(*j), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(j->status().acked_seq, 1U);
  EXPECT_EQ(j->status().scans, 2);
  EXPECT_EQ(j->session_snapshot(), R"({"operator":"alice"})");
  EXPECT_TRUE(j->exceptions_after(0, 10)->empty());
  Entry e = scan_only();
  e.exception = wrong_bin();
  ASSERT_TRUE(j->append(e).ok());
  EXPECT_EQ(j->exceptions_after(0, 10)->size(), 1U);
  j.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kSchemaVersion);
  EXPECT_EQ(kSchemaVersion, 4);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// Every movement is chained at append: hash = chain_hash(prev, payload), and
// the outbox texts carry the stored payload with its prev_hash and hash.
TEST_F(JournalTest, MovementsFormAHashChain) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(j->append(entry_with_move(i + 1)).ok());
  ASSERT_TRUE(j->append(scan_only()).ok());  // no movement: no link
  auto texts = j->movement_texts_after(0, 10);
  ASSERT_TRUE(texts.ok()) << texts.error().message;
  ASSERT_EQ(texts->size(), 4U);
  auto parsed = j->movements_after(0, 10);
  ASSERT_TRUE(parsed.ok());
  std::string prev(tally::wire::kGenesisHash);
  for (std::size_t i = 0; i < texts->size(); ++i) {
    const auto& t = (*texts)[i];
    EXPECT_EQ(t.seq, i + 1);
    EXPECT_EQ(t.payload, tally::wire::to_json_text((*parsed)[i]));
    EXPECT_EQ(t.prev_hash, prev);
    EXPECT_EQ(t.hash, tally::wire::chain_hash(prev, t.payload));
    EXPECT_TRUE(tally::wire::is_chain_hash(t.hash));
    prev = t.hash;
  }
  // Read from the middle: prev_hash comes from the row before.
  auto tail = j->movement_texts_after(2, 1);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 1U);
  EXPECT_EQ(tail->front().seq, 3U);
  EXPECT_EQ(tail->front().prev_hash, (*texts)[1].hash);
  EXPECT_TRUE(j->movement_texts_after(4, 10)->empty());
  // A reopened journal continues the chain.
  j.reset();
  j = open_ok();
  ASSERT_TRUE(j->append(entry_with_move(9)).ok());
  auto last = j->movement_texts_after(4, 10);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1U);
  EXPECT_EQ(last->front().prev_hash, prev);
  EXPECT_EQ(last->front().hash, tally::wire::chain_hash(prev, last->front().payload));
}

// A journal written by a v2 build (no movements.hash) is upgraded in place on
// open, and the movements already in it are chained from the genesis hash.
TEST_F(JournalTest, VersionTwoJournalIsUpgradedInPlaceAndChained) {
  std::vector<std::string> payloads;
  {
    auto j = open_ok();
    ASSERT_NE(j, nullptr);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(j->append(entry_with_move(i + 1)).ok());
    ASSERT_TRUE(j->set_acked(2).ok());
    auto rows = j->movements_after(0, 10);
    ASSERT_TRUE(rows.ok());
    for (const auto& m : rows.value()) payloads.push_back(tally::wire::to_json_text(m));
  }
  // Exactly what v2 wrote: no hash column, user_version 2.
  raw_sql(path_,
          "ALTER TABLE movements DROP COLUMN hash; ALTER TABLE sync_state DROP COLUMN exceptions_acked; "
          "ALTER TABLE device_exceptions DROP COLUMN seq; PRAGMA user_version = 2");
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->status().acked_seq, 2U);
  EXPECT_EQ(j->status().last_seq, 3U);
  auto texts = j->movement_texts_after(0, 10);
  ASSERT_TRUE(texts.ok()) << texts.error().message;
  ASSERT_EQ(texts->size(), 3U);
  std::string prev(tally::wire::kGenesisHash);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*texts)[i].payload, payloads[i]);  // untouched
    EXPECT_EQ((*texts)[i].prev_hash, prev);
    EXPECT_EQ((*texts)[i].hash, tally::wire::chain_hash(prev, payloads[i]));
    prev = (*texts)[i].hash;
  }
  ASSERT_TRUE(j->append(entry_with_move(4)).ok());
  auto next = j->movement_texts_after(3, 10);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1U);
  EXPECT_EQ(next->front().prev_hash, prev);
  j.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// Device exceptions have their own sync cursor: each carries the seq of the
// movement journaled with it, the ledger's exceptions_through is persisted
// monotonically, and an ack beyond the last exception is refused.
TEST_F(JournalTest, ExceptionsCarryTheirSeqAndAnAckCursor) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  Entry refused = scan_only("B-02-01-1");
  refused.exception = wrong_bin();
  auto a = j->append(refused);
  ASSERT_TRUE(a.ok());
  EXPECT_GT(a->exception_id, 0);
  Entry both = entry_with_move();
  both.exception = wrong_bin(kT0 + 1);
  both.exception->kind = "short_pick";
  auto b = j->append(both);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->exception_id, a->exception_id + 1);
  EXPECT_EQ(j->append(scan_only())->exception_id, 0);

  auto all = j->exceptions_after(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2U);
  EXPECT_FALSE((*all)[0].seq);
  EXPECT_EQ((*all)[1].seq, b->seq);
  EXPECT_EQ(j->status().last_exception_id, b->exception_id);
  EXPECT_EQ(j->status().exceptions_acked, 0);

  EXPECT_EQ(j->set_exceptions_acked(b->exception_id + 1).error().code, "ack_beyond_last_exception");
  ASSERT_TRUE(j->set_exceptions_acked(a->exception_id).ok());
  ASSERT_TRUE(j->set_exceptions_acked(0).ok());  // an old ack changes nothing
  EXPECT_EQ(j->status().exceptions_acked, a->exception_id);
  j.reset();
  j = open_ok();
  EXPECT_EQ(j->status().exceptions_acked, a->exception_id);
  EXPECT_EQ(j->status().last_exception_id, b->exception_id);
  EXPECT_EQ(j->status().acked_seq, 0U);  // the two cursors are independent
}

// A pick both short and beyond its allowance: two exceptions, one append,
// both linked to the movement; the last one is the status's last id.
TEST_F(JournalTest, MoreExceptionsOfOneScanShareItsMovement) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  Entry e = entry_with_move();
  e.exception = wrong_bin();
  e.exception->kind = "short_pick";
  e.more_exceptions.push_back(wrong_bin(kT0 + 1));
  e.more_exceptions.back().kind = "allowance_exceeded";
  auto a = j->append(e);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->more_exception_ids.size(), 1U);
  EXPECT_EQ(a->more_exception_ids[0], a->exception_id + 1);
  auto all = j->exceptions_after(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].exception.kind, "short_pick");
  EXPECT_EQ((*all)[1].exception.kind, "allowance_exceeded");
  EXPECT_EQ((*all)[1].seq, a->seq);
  EXPECT_EQ((*all)[1].scan_id, a->scan_id);
  EXPECT_EQ(j->status().last_exception_id, a->more_exception_ids[0]);
  // Only more_exceptions (no first one): still written.
  Entry only = entry_with_move();
  only.more_exceptions.push_back(wrong_bin(kT0 + 2));
  auto b = j->append(only);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->exception_id, 0);
  ASSERT_EQ(b->more_exception_ids.size(), 1U);
  EXPECT_EQ(j->status().last_exception_id, b->more_exception_ids[0]);
}

// A v3 journal (no exception cursor, no device_exceptions.seq) is upgraded
// in place: the seq of each exception is found from its scan's movement.
TEST_F(JournalTest, VersionThreeJournalIsUpgradedAndExceptionsLinked) {
  {
    auto j = open_ok();
    Entry refused = scan_only();
    refused.exception = wrong_bin();
    ASSERT_TRUE(j->append(refused).ok());
    ASSERT_TRUE(j->append(entry_with_move()).ok());
    Entry both = entry_with_move();
    both.exception = wrong_bin(kT0 + 2);
    both.exception->kind = "short_pick";
    ASSERT_TRUE(j->append(both).ok());
    ASSERT_TRUE(j->set_acked(1).ok());
  }
  raw_sql(path_,
          "ALTER TABLE sync_state DROP COLUMN exceptions_acked; ALTER TABLE device_exceptions DROP COLUMN seq; "
          "PRAGMA user_version = 3");
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  auto all = j->exceptions_after(0, 10);
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2U);
  EXPECT_FALSE((*all)[0].seq);
  EXPECT_EQ((*all)[1].seq, 2U);
  EXPECT_EQ(j->status().exceptions_acked, 0);
  EXPECT_EQ(j->status().last_exception_id, (*all)[1].id);
  EXPECT_EQ(j->status().acked_seq, 1U);
}

// One scan that completes several movements (a pallet SSCC against an ASN):
// seqs follow on in one transaction, all or nothing.
TEST_F(JournalTest, OneScanWithSeveralMovementsGetsConsecutiveSeqs) {
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->append(entry_with_move()).ok());
  Entry pallet = entry_with_move(24);
  pallet.more_movements = {move(10), move(5)};
  auto a = j->append(pallet);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->seq, 2U);
  ASSERT_EQ(a->more.size(), 2U);
  EXPECT_EQ(a->more[0].first, 3U);
  EXPECT_EQ(a->more[1].first, 4U);
  EXPECT_GT(a->more[0].second, a->hlc);
  EXPECT_GT(a->more[1].second, a->more[0].second);
  EXPECT_EQ(seqs(*j), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(j->status().scans, 2);
  auto texts = j->movement_texts_after(0, 10);
  ASSERT_TRUE(texts.ok());
  for (std::size_t i = 1; i < texts->size(); ++i) EXPECT_EQ((*texts)[i].prev_hash, (*texts)[i - 1].hash);

  // A bad one among them: nothing of the entry is written.
  Entry bad = entry_with_move(3);
  bad.more_movements = {move(1), move(0)};
  EXPECT_FALSE(j->append(bad).ok());
  Entry orphan = scan_only();
  orphan.more_movements = {move(1)};
  EXPECT_EQ(j->append(orphan).error().code, "invalid_entry");
  EXPECT_EQ(seqs(*j), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(j->status().scans, 2);
}

TEST_F(JournalTest, MasterDataIsReplacedPerKind) {
  {
    auto j = open_ok();
    EXPECT_FALSE(j->master_data("catalog").has_value());
    ASSERT_TRUE(j->put_master_data("catalog", 1, R"({"items":[1]})").ok());
    ASSERT_TRUE(j->put_master_data("locations", 7, R"({"bins":[]})").ok());
    ASSERT_TRUE(j->put_master_data("catalog", 2, R"({"items":[1,2]})").ok());
  }
  auto j = open_ok();
  auto catalog = j->master_data("catalog");
  ASSERT_TRUE(catalog.has_value());
  EXPECT_EQ(catalog->first, 2);
  EXPECT_EQ(catalog->second, R"({"items":[1,2]})");
  EXPECT_EQ(j->master_data("locations")->first, 7);
  EXPECT_FALSE(j->master_data("tasks").has_value());
}

// ------------------------------------------------------------- refusals

TEST_F(JournalTest, MissingWithoutCreateIsRefused) {
  Options o = options();
  o.create_if_missing = false;
  auto r = Journal::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_missing");
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(JournalTest, ExistingJournalOpensWithoutCreate) {
  make_journal(2);
  Options o = options();
  o.create_if_missing = false;
  auto j = open_ok(o);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->status().last_seq, 2U);
}

TEST_F(JournalTest, ForeignDeviceIsRefusedAndTheFileIsUntouched) {
  make_journal(3);
  const std::string before = read_bytes(path_);
  auto r = Journal::open(options("hh-99"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_foreign_device");
  EXPECT_NE(r.error().message.find("hh-07"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("hh-99"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_bytes(path_), before);
  EXPECT_EQ(open_ok()->status().last_seq, 3U);  // still the owner's, intact
}

TEST_F(JournalTest, ForeignSiteIsRefusedAndTheFileIsUntouched) {
  make_journal(1);
  const std::string before = read_bytes(path_);
  auto r = Journal::open(options("hh-07", "paris-2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_foreign_site");
  EXPECT_NE(r.error().message.find("berlin-1"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(JournalTest, GarbageFileIsCorruptAndLeftAlone) {
  std::string junk(8192, '\0');
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + 7) % 251);
  { std::ofstream(path_, std::ios::binary) << junk; }
  auto r = Journal::open(options());  // create_if_missing must not recreate it
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_corrupt");
  EXPECT_NE(r.error().message.find(path_.string()), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_bytes(path_), junk);
}

TEST_F(JournalTest, CorruptedPageIsDetected) {
  make_journal(300);
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 8U * 4096U);
  // Overwrite one whole page in the middle, as a torn or bit-rotted write would.
  const std::uintmax_t page = (size / 4096) / 2;
  write_at(path_, page * 4096, std::string(4096, '\x5a'));
  const std::string before = read_bytes(path_);
  auto r = Journal::open(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_corrupt") << r.error().message;
  EXPECT_NE(r.error().message.find(path_.string()), std::string::npos) << r.error().message;
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(JournalTest, NewerSchemaIsRefused) {
  make_journal(1);
  raw_sql(path_, "PRAGMA user_version = 99");
  const std::string before = read_bytes(path_);
  auto r = Journal::open(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_newer_schema");
  EXPECT_NE(r.error().message.find("99"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(JournalTest, SomeOtherDatabaseIsRefused) {
  raw_sql(path_, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
  const std::string before = read_bytes(path_);
  auto r = Journal::open(options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_corrupt");
  EXPECT_EQ(read_bytes(path_), before);
}

TEST_F(JournalTest, UnparsableMovementRowIsCorrupt) {
  make_journal(3);
  raw_sql(path_, "UPDATE movements SET payload = '{\"seq\":' WHERE seq = 2");
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  auto r = j->movements_after(0, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_corrupt");
  EXPECT_NE(r.error().message.find("movement 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(j->movements_after(2, 10)->size(), 1U);
}

// ------------------------------------------------------------- disk full

TEST_F(JournalTest, DiskFullIsReportedAndWritesNothing) {
  make_journal(1);
  Options o = options();
  o.max_page_count = 40;  // ~160 KiB: fills after a few dozen fat entries
  auto j = open_ok(o);
  ASSERT_NE(j, nullptr);
  Entry fat = entry_with_move();
  fat.scan.text = std::string(3000, 'x');
  fat.movement->evidence.push_back(std::string(3000, 'y'));

  Result<Appended> r = Appended{};
  Status before;
  for (int i = 0; i < 1000 && r.ok(); ++i) {
    before = j->status();
    r = j->append(fat);
  }
  ASSERT_FALSE(r.ok()) << "the page limit was never reached";
  EXPECT_EQ(r.error().code, "disk_full") << r.error().message;
  const Status after = j->status();
  EXPECT_EQ(after.last_seq, before.last_seq);
  EXPECT_EQ(after.scans, before.scans);
  EXPECT_EQ(seqs(*j).size(), before.last_seq);

  // A batch hitting the limit is rolled back as a whole.
  std::vector<Entry> batch(5, fat);
  auto b = j->append_batch(batch);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "disk_full");
  EXPECT_EQ(j->status().last_seq, before.last_seq);

  // Space comes back: the next append takes the very next seq.
  j.reset();
  j = open_ok();
  EXPECT_EQ(j->status().last_seq, before.last_seq);
  EXPECT_EQ(j->status().scans, before.scans);
  auto next = j->append(entry_with_move());
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->seq, before.last_seq + 1);
}


// ------------------------------------------------------------ the worker
// journal::Worker (worker.hpp): the journal on its own thread, the sync
// client's Outbox. Real journal files; every call waits for its answer.

namespace worker_test {

template <typename T>
T wait_for(std::future<T>& f) {
  EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  return f.get();
}

// Posts an append and waits for it; the job runs on the worker thread and,
// like the engine's scan job, publishes before it answers.
bool append_on(Worker& w, Entry e) {
  std::promise<bool> done;
  auto f = done.get_future();
  EXPECT_TRUE(w.post([&w, &done, e = std::move(e)](Journal& j) {
    const bool ok = j.append(e).ok();
    w.publish();
    done.set_value(ok);
  }));
  return wait_for(f);
}

}  // namespace worker_test

TEST_F(JournalTest, WorkerServesTheOutboxAndTellsTheListenerAfterEachAppend) {
  using namespace worker_test;
  Worker w(open_ok(), 16);
  std::mutex m;
  std::vector<edge::OutboxState> told;
  w.set_append_listener([&](edge::OutboxState s) {
    std::lock_guard lock(m);
    told.push_back(s);
  });
  ASSERT_TRUE(append_on(w, entry_with_move(2)));
  ASSERT_TRUE(append_on(w, scan_only()));  // no movement: the listener is not told
  ASSERT_TRUE(append_on(w, entry_with_move(3)));
  Entry refused = scan_only("B-02-01-1");
  refused.exception = wrong_bin();
  ASSERT_TRUE(append_on(w, refused));
  {
    std::lock_guard lock(m);
    ASSERT_EQ(told.size(), 3U);
    EXPECT_EQ(told[0].last_seq, 1U);
    EXPECT_EQ(told[1].last_seq, 2U);
    EXPECT_EQ(told[2].last_exception_id, 1);
  }
  EXPECT_EQ(w.status().last_seq, 2U);
  EXPECT_EQ(w.status().scans, 4);

  std::promise<Result<std::vector<edge::OutboxItem>>> read;
  auto rf = read.get_future();
  w.read_outbox(0, 10, [&read](auto r) { read.set_value(std::move(r)); });
  auto items = wait_for(rf);
  ASSERT_TRUE(items.ok()) << items.error().message;
  ASSERT_EQ(items->size(), 2U);
  EXPECT_EQ((*items)[1].seq, 2U);
  const auto second = nlohmann::json::parse((*items)[1].json);
  EXPECT_EQ(second["qty"], 3);
  EXPECT_EQ(second["prev_hash"], nlohmann::json::parse((*items)[0].json)["hash"]);  // the chain

  std::promise<Result<std::vector<edge::ExceptionItem>>> xs;
  auto xf = xs.get_future();
  w.read_exceptions(0, 10, [&xs](auto r) { xs.set_value(std::move(r)); });
  auto exceptions = wait_for(xf);
  ASSERT_TRUE(exceptions.ok());
  ASSERT_EQ(exceptions->size(), 1U);
  const auto x = nlohmann::json::parse((*exceptions)[0].json);
  EXPECT_EQ(x["id"], 1);
  EXPECT_EQ(x["kind"], "wrong_bin");
  EXPECT_TRUE(x["seq"].is_null());

  // An ack is in the status before its answer arrives, and persists.
  std::promise<Result<void>> ack;
  auto af = ack.get_future();
  w.record_ack(2, [&](Result<void> r) {
    EXPECT_EQ(w.outbox_state().acked_seq, 2U);
    ack.set_value(std::move(r));
  });
  ASSERT_TRUE(wait_for(af).ok());
  std::promise<Result<void>> xack;
  auto xaf = xack.get_future();
  w.record_exceptions_ack(1, [&xack](Result<void> r) { xack.set_value(std::move(r)); });
  ASSERT_TRUE(wait_for(xaf).ok());
  w.stop();
  auto reopened = open_ok();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->status().acked_seq, 2U);
  EXPECT_EQ(reopened->status().exceptions_acked, 1);
}

TEST_F(JournalTest, WorkerStoresMasterDataThroughItsOwnersHandler) {
  using namespace worker_test;
  Worker w(open_ok(), 16);
  const auto store = [&w](const std::string& kind, std::int64_t version, const std::string& text) {
    std::promise<Result<void>> p;
    auto f = p.get_future();
    w.store_master_data(kind, version, text, [&p](Result<void> r) { p.set_value(std::move(r)); });
    return wait_for(f);
  };
  // Without a handler: stored as is when newer, an older version ignored.
  ASSERT_TRUE(store("catalog", 2, R"({"v":1,"version":2,"items":[]})").ok());
  ASSERT_TRUE(store("catalog", 1, R"({"v":1,"version":1,"items":[]})").ok());
  // With one: the handler decides (here it refuses) and nothing is stored.
  std::atomic<int> asked{0};
  w.set_master_data_handler([&asked](Journal&, const std::string&, std::int64_t, const std::string&) -> Result<void> {
    ++asked;
    return make_error("bad_master_data", "refused by the owner");
  });
  const auto refused = store("catalog", 3, "{}");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "bad_master_data");
  EXPECT_EQ(asked.load(), 1);
  w.stop();
  auto j = open_ok();
  ASSERT_NE(j, nullptr);
  const auto stored = j->master_data("catalog");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->first, 2);
}

TEST_F(JournalTest, WorkerRefusesPastItsBoundAndFinishesWhatIsQueuedOnStop) {
  using namespace worker_test;
  Worker w(open_ok(), 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  auto started_f = started.get_future();
  ASSERT_TRUE(w.post([&started, gate](Journal&) {
    started.set_value();
    gate.wait();
  }));
  started_f.wait();  // the worker is busy; two may wait
  std::atomic<int> appended{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(w.post([&appended](Journal& j) { appended += j.append(entry_with_move()).ok() ? 1 : 0; }));
  }
  EXPECT_FALSE(w.post([](Journal&) {}));  // full
  std::promise<Result<void>> over;
  auto of = over.get_future();
  w.record_ack(1, [&over](Result<void> r) { over.set_value(std::move(r)); });
  const auto refused = wait_for(of);  // answered at once, on this thread
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "overloaded");
  EXPECT_TRUE(w.post([](Journal&) {}, /*past_limit=*/true));  // the watchdog's probe
  release.set_value();
  w.stop();  // runs the queued appends before it returns
  EXPECT_EQ(appended.load(), 2);
  EXPECT_EQ(w.status().last_seq, 2U);
  EXPECT_FALSE(w.post([](Journal&) {}));  // stopped
}

}  // namespace
}  // namespace tally::journal
