// Power loss at a random write, many times, against the real journal and the
// real SQLite ledger store (tests/support/fault_vfs.hpp is the seam: SQLite
// cannot be made to lose power otherwise). Each seed runs a random workload,
// cuts the power after a random number of write/sync operations, drops every
// write not yet synced (whole, partly or torn), then reopens the database
// with the real VFS and checks the promises:
//   * every call that returned success survives (appends, acks, master data,
//     applied batches); the one in flight is there entirely or not at all;
//   * seqs are gap-free, the hash chain is intact, balances equal the sum of
//     the stored movements (no half-applied batch);
//   * the file opens cleanly and PRAGMA integrity_check says "ok";
//   * the reopened database takes the next write.
//
// TALLY_POWER_LOSS_SEEDS=N (default 150 per store) runs more: the long
// campaign in docs/OPERATIONS.md. TALLY_POWER_LOSS_FIRST_SEED picks the start
// (a failure prints its seed).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fault_vfs.hpp"
#include "tally/journal/journal.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"
#include "temp_dir.hpp"

namespace tally {
namespace {

namespace fs = std::filesystem;
using scanner::Endpoint;
using scanner::Location;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

constexpr std::int64_t kT0 = 1'790'000'000'000;

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string integrity(const fs::path& p) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(p.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string e = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return e;
  }
  std::string out;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* o, int, char** v, char**) {
        *static_cast<std::string*>(o) += v[0] != nullptr ? v[0] : "null";
        return 0;
      },
      &out, nullptr);
  sqlite3_close(db);
  return out;
}

Movement move(std::int64_t qty, std::int64_t n) {
  Movement m;
  m.operator_id = "alice";
  m.type = MovementType::move;
  m.item.gtin = "09506000134352";
  m.item.lot = "L" + std::to_string(n % 7);
  m.qty = qty;
  m.from = Endpoint{Location{"A-01-01-1"}, StockState::available};
  m.to = Endpoint{Location{"B-02-01-1"}, StockState::available};
  // A fat evidence list now and then, so some transactions span many pages.
  m.evidence = {"A-01-01-1", "scan-" + std::to_string(n), std::string(static_cast<std::size_t>(n % 5) * 900, 'e')};
  m.wall_time_ms = kT0 + n;
  return m;
}

journal::Entry entry(std::mt19937_64& rng, std::int64_t n) {
  journal::Entry e;
  e.scan = journal::ScanRecord{"scan-" + std::to_string(n), "code128", "hid:0", "alice", "move", "good",
                               "movement_recorded", kT0 + n};
  if (rng() % 6 != 0) e.movement = move(1 + static_cast<std::int64_t>(rng() % 9), n);
  if (e.movement && rng() % 8 == 0) e.more_movements.push_back(move(2, n + 100000));
  e.session_snapshot = R"({"n":)" + std::to_string(n) + "}";
  return e;
}

// ----------------------------------------------------------------- journal

// What the journal must hold: everything that succeeded, plus maybe the call
// that was cut off (`maybe_*`: the values if it did land).
struct JournalModel {
  std::vector<std::string> evidence;  // per seq - 1: evidence[1] of the movement
  std::int64_t scans = 0;
  std::uint64_t acked = 0;
  std::int64_t catalog = 0;
  // The interrupted call, if any.
  std::vector<std::string> maybe_evidence;
  std::int64_t maybe_scans = 0;
  std::optional<std::uint64_t> maybe_acked;
  std::optional<std::int64_t> maybe_catalog;
};

journal::Options journal_options(const fs::path& p) {
  journal::Options o;
  o.path = p;
  o.device = "hh-07";
  o.site = "berlin-1";
  return o;
}

void add(const journal::Entry& e, std::vector<std::string>& ev, std::int64_t& scans) {
  ++scans;
  if (e.movement) ev.push_back(e.movement->evidence.at(1));
  for (const auto& m : e.more_movements) ev.push_back(m.evidence.at(1));
}

// Runs the workload until the power fails (or it ends); returns the model.
JournalModel journal_workload(test::FaultVfs& vfs, const fs::path& p, std::mt19937_64& rng, int steps) {
  JournalModel model;
  auto opened = journal::Journal::open(journal_options(p));
  if (!opened) {
    EXPECT_TRUE(vfs.powered_off()) << opened.error().code << ": " << opened.error().message;
    return model;
  }
  auto j = std::move(*opened);
  for (std::int64_t n = 1; n <= steps; ++n) {
    const auto pick = rng() % 20;
    if (pick < 12) {
      const journal::Entry e = entry(rng, n);
      if (auto r = j->append(e); !r) {
        EXPECT_TRUE(vfs.powered_off()) << r.error().code << ": " << r.error().message;
        add(e, model.maybe_evidence, model.maybe_scans);
        return model;
      }
      add(e, model.evidence, model.scans);
    } else if (pick < 14) {
      std::vector<journal::Entry> batch;
      const std::uint64_t size = 2 + rng() % 3;
      for (std::uint64_t k = 0; k < size; ++k) batch.push_back(entry(rng, n * 10 + static_cast<std::int64_t>(k)));
      const bool ok = j->append_batch(batch).ok();
      for (const auto& e : batch) ok ? add(e, model.evidence, model.scans) : add(e, model.maybe_evidence, model.maybe_scans);
      if (!ok) {
        EXPECT_TRUE(vfs.powered_off());
        return model;
      }
    } else if (pick < 17) {
      const std::uint64_t to = model.evidence.empty() ? 0 : 1 + rng() % model.evidence.size();
      if (!j->set_acked(to)) {
        EXPECT_TRUE(vfs.powered_off());
        model.maybe_acked = std::max(to, model.acked);
        return model;
      }
      model.acked = std::max(to, model.acked);
    } else if (pick < 19) {
      const std::int64_t v = model.catalog + 1;
      const std::string json = R"({"version":)" + std::to_string(v) + R"(,"items":[")" +
                               std::string(static_cast<std::size_t>(rng() % 3000), 'c') + "\"]}";
      if (!j->put_master_data("catalog", v, json)) {
        EXPECT_TRUE(vfs.powered_off());
        model.maybe_catalog = v;
        return model;
      }
      model.catalog = v;
    } else {  // close and reopen: checkpoints on close
      j.reset();
      auto again = journal::Journal::open(journal_options(p));
      if (!again) {
        EXPECT_TRUE(vfs.powered_off()) << again.error().message;
        return model;
      }
      j = std::move(*again);
    }
  }
  return model;
}

void check_journal(const fs::path& p, const JournalModel& m, std::uint64_t seed) {
  SCOPED_TRACE("journal seed " + std::to_string(seed));
  auto opened = journal::Journal::open(journal_options(p));
  ASSERT_TRUE(opened) << opened.error().code << ": " << opened.error().message;
  auto& j = **opened;
  const journal::Status st = j.status();
  const std::uint64_t sure = m.evidence.size();
  ASSERT_TRUE(st.last_seq == sure || st.last_seq == sure + m.maybe_evidence.size())
      << "last_seq " << st.last_seq << ", " << sure << " committed, " << m.maybe_evidence.size() << " in flight";
  const bool landed = st.last_seq > sure || (m.maybe_evidence.empty() && st.scans > m.scans);
  EXPECT_EQ(st.scans, m.scans + (landed ? m.maybe_scans : 0));

  auto rows = j.movement_texts_after(0, 1'000'000);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), st.last_seq);
  std::string prev(wire::kGenesisHash);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const auto& r = (*rows)[i];
    ASSERT_EQ(r.seq, i + 1) << "seq gap";
    EXPECT_EQ(r.prev_hash, prev);
    EXPECT_EQ(r.hash, wire::chain_hash(prev, r.payload));
    prev = r.hash;
    const std::string& want = i < sure ? m.evidence[i] : m.maybe_evidence[i - sure];
    EXPECT_NE(r.payload.find("\"" + want + "\""), std::string::npos) << "seq " << r.seq << " is not " << want;
  }
  EXPECT_TRUE(st.acked_seq == m.acked || (m.maybe_acked && st.acked_seq == *m.maybe_acked))
      << "acked " << st.acked_seq << ", committed " << m.acked;
  const auto md = j.master_data("catalog");
  const std::int64_t version = md ? md->first : 0;
  EXPECT_TRUE(version == m.catalog || (m.maybe_catalog && version == *m.maybe_catalog))
      << "catalog " << version << ", committed " << m.catalog;
  if (md) {
    EXPECT_NE(md->second.find("\"version\":" + std::to_string(version)), std::string::npos);
  }

  // It takes the next write.
  std::mt19937_64 rng(seed);
  auto next = j.append(entry(rng, 999));
  ASSERT_TRUE(next) << next.error().message;
  opened->reset();
  EXPECT_EQ(integrity(p), "ok");
}

// The campaign both tests run: measure one whole workload's write/sync count,
// then for each seed cut the power at a random point of it (or a little
// past its end), lose the unsynced writes, reopen with the real VFS, check.
template <typename Workload, typename Check>
void power_loss_campaign(const std::string& file, Workload workload, Check check) {
  const std::uint64_t first = env_u64("TALLY_POWER_LOSS_FIRST_SEED", 1);
  const std::uint64_t seeds = env_u64("TALLY_POWER_LOSS_SEEDS", 150);
  test::FaultVfs vfs;
  std::uint64_t total = 0;
  {
    test::TempDir dir("tally-power-loss");
    std::mt19937_64 rng(0);
    const auto before = vfs.ops();
    workload(vfs, dir.path() / file, rng);
    total = vfs.ops() - before;
  }
  ASSERT_GT(total, 20U);
  int crashed = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    test::TempDir dir("tally-power-loss");
    const fs::path p = dir.path() / file;
    std::mt19937_64 rng(seed);
    vfs.use_fault_vfs();
    vfs.arm_power_loss(rng() % (total + total / 4));
    const auto model = workload(vfs, p, rng);
    crashed += vfs.powered_off() ? 1 : 0;
    vfs.lose_unsynced(rng);
    vfs.use_real_vfs();
    check(p, model, seed);
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) {
      FAIL() << "reproduce: TALLY_POWER_LOSS_FIRST_SEED=" << seed << " TALLY_POWER_LOSS_SEEDS=1";
    }
  }
  // The crash points must really fall inside the workloads.
  EXPECT_GT(crashed, static_cast<int>(seeds / 2));
  std::printf("%llu seeds, %d lost power mid-workload (%llu ops per workload)\n",
              static_cast<unsigned long long>(seeds), crashed, static_cast<unsigned long long>(total));
}

TEST(PowerLoss, JournalKeepsEveryAcceptedAppend) {
  power_loss_campaign(
      "journal.db",
      [](test::FaultVfs& vfs, const fs::path& p, std::mt19937_64& rng) { return journal_workload(vfs, p, rng, 30); },
      check_journal);
}

// ------------------------------------------------------------ ledger store

Movement ledger_move(const std::string& device, std::uint64_t seq, std::int64_t qty) {
  Movement m = move(qty, static_cast<std::int64_t>(seq));
  m.device = device;
  m.site = "s1";
  m.seq = seq;
  m.type = MovementType::receipt;
  m.from = Endpoint{Location{"@supplier"}, std::nullopt};
  m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
  m.hlc = static_cast<std::uint64_t>(kT0) << 16;
  return m;
}

ledger::Batch ledger_batch(const std::string& device, std::uint64_t from, std::size_t n, std::string& prev) {
  ledger::Batch b;
  b.device = device;
  b.site = "s1";
  b.now_ms = kT0;
  for (std::size_t k = 0; k < n; ++k) {
    ledger::Incoming in;
    in.seq = from + k;
    in.movement = ledger_move(device, in.seq, static_cast<std::int64_t>(1 + in.seq % 4));
    in.payload = wire::to_json_text(*in.movement);
    in.prev_hash = prev;
    in.computed_hash = wire::chain_hash(prev, in.payload);
    in.hash = in.computed_hash;
    prev = in.hash;
    b.movements.push_back(std::move(in));
  }
  return b;
}

struct LedgerModel {
  std::map<std::string, std::uint64_t> through;        // committed
  std::map<std::string, std::uint64_t> maybe_through;  // if the cut-off group landed
};

LedgerModel ledger_workload(test::FaultVfs& vfs, const fs::path& p, std::mt19937_64& rng, int steps) {
  LedgerModel model;
  std::map<std::string, std::string> chain;
  auto opened = ledger::open_sqlite_store(ledger::SqliteOptions{p});
  if (!opened) {
    EXPECT_TRUE(vfs.powered_off()) << opened.error().message;
    return model;
  }
  auto store = std::move(*opened);
  for (int step = 0; step < steps; ++step) {
    // A group of batches for different devices, one transaction.
    std::vector<ledger::Batch> group;
    std::map<std::string, std::uint64_t> next = model.through;
    std::map<std::string, std::string> next_chain = chain;
    for (const char* d : {"d1", "d2", "d3"}) {
      if (rng() % 2 == 0) continue;
      if (!next_chain.contains(d)) next_chain[d] = std::string(wire::kGenesisHash);
      const std::size_t n = 1 + rng() % 12;
      group.push_back(ledger_batch(d, next[d] + 1, n, next_chain[d]));
      next[d] += n;
    }
    if (group.empty()) continue;
    auto r = store->apply_batches(group);
    if (!r) {
      EXPECT_TRUE(vfs.powered_off()) << r.error().message;
      model.maybe_through = next;
      return model;
    }
    for (const auto& one : *r) {
      if (!one) {  // a savepoint failed: the store lost power inside the group
        EXPECT_TRUE(vfs.powered_off()) << one.error().message;
        model.maybe_through = next;
        return model;
      }
    }
    model.through = next;
    chain = next_chain;
  }
  return model;
}

void check_ledger(const fs::path& p, const LedgerModel& m, std::uint64_t seed) {
  SCOPED_TRACE("ledger seed " + std::to_string(seed));
  auto opened = ledger::open_sqlite_store(ledger::SqliteOptions{p});
  ASSERT_TRUE(opened) << opened.error().code << ": " << opened.error().message;
  auto& store = **opened;
  int landed = -1;  // the group in flight: all of it or none of it
  for (const char* d : {"d1", "d2", "d3"}) {
    auto through = store.applied_through(d);
    ASSERT_TRUE(through) << through.error().message;
    const std::uint64_t sure = m.through.contains(d) ? m.through.at(d) : 0;
    const std::uint64_t maybe = m.maybe_through.contains(d) ? m.maybe_through.at(d) : sure;
    ASSERT_TRUE(*through == sure || *through == maybe) << d << " applied_through " << *through << ", committed "
                                                       << sure << ", in flight " << maybe;
    if (sure != maybe) {
      const int here = *through == maybe ? 1 : 0;
      EXPECT_TRUE(landed == -1 || landed == here) << "a group of batches landed in part";
      landed = here;
    }
    auto ms = store.movements(d, 0, 1'000'000);
    ASSERT_TRUE(ms) << ms.error().message;
    ASSERT_EQ(ms->size(), *through) << d;
    for (std::size_t i = 0; i < ms->size(); ++i) ASSERT_EQ((*ms)[i].seq, i + 1) << d << " seq gap";
  }
  auto violations = store.check_invariants();
  ASSERT_TRUE(violations) << violations.error().message;
  for (const auto& v : *violations) ADD_FAILURE() << v.kind << ": " << v.message;
  // It takes the next batch (a new chain: the link is not what is checked).
  auto through = store.applied_through("d1");
  ASSERT_TRUE(through);
  std::string prev(wire::kGenesisHash);
  const ledger::Batch b = ledger_batch("d1", *through + 1, 1, prev);
  auto r = store.apply_batch(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->applied_through, *through + 1);
  opened->reset();
  EXPECT_EQ(integrity(p), "ok");
}

TEST(PowerLoss, LedgerStoreNeverHalfAppliesABatch) {
  power_loss_campaign(
      "ledger.db",
      [](test::FaultVfs& vfs, const fs::path& p, std::mt19937_64& rng) { return ledger_workload(vfs, p, rng, 12); },
      check_ledger);
}

}  // namespace
}  // namespace tally
