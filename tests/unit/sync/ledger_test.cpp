// The ledger's store and message handling on real SQLite files (one temp dir
// per test): apply in seq order, duplicates, gaps, rejections, forged
// devices, dead letters, balances and their zero-sum invariant, count →
// adjust, negative balances, exceptions, restart, downlink chunks.
//
// The store contract (StoreContract) runs against every Store: the SQLite
// store and the PostgreSQL store on a throwaway server started by the test
// (pg_server.hpp; skipped only when PostgreSQL is not installed).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/allowances.hpp"
#include "tally/ledger/downlink.hpp"
#include "tally/ledger/ledger.hpp"
#include "tally/ledger/postgres_store.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"
#include "pg_server.hpp"
#include "temp_dir.hpp"

namespace tally::ledger {
namespace {

using nlohmann::json;
using scanner::Endpoint;
using scanner::Location;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

constexpr std::int64_t kT0 = 1'790'000'000'000;
const std::string kGtin = "09506000134352";
const std::string kTopic = "tally/v1/s1/d1/movements";

Movement mv(std::uint64_t seq, MovementType type, std::int64_t qty, Endpoint from, Endpoint to,
            const std::string& device = "d1") {
  Movement m;
  m.device = device;
  m.site = "s1";
  m.seq = seq;
  m.operator_id = "alice";
  m.type = type;
  m.item.gtin = kGtin;
  m.item.lot = "L1";
  m.qty = qty;
  m.from = std::move(from);
  m.to = std::move(to);
  m.evidence = {"OP:alice", "scan-" + std::to_string(seq)};
  m.wall_time_ms = kT0;
  m.hlc = static_cast<std::uint64_t>(kT0) << 16;
  return m;
}

Endpoint ext(const char* party) { return Endpoint{Location{party}, std::nullopt}; }
Endpoint at(const char* bin, StockState s) { return Endpoint{Location{bin}, s}; }

Movement receipt(std::uint64_t seq, std::int64_t qty) {
  return mv(seq, MovementType::receipt, qty, ext("@supplier"), at("DOCK-1", StockState::inbound));
}
Movement putaway(std::uint64_t seq, std::int64_t qty) {
  return mv(seq, MovementType::putaway, qty, at("DOCK-1", StockState::inbound), at("A-01-01-1", StockState::available));
}
Movement pick(std::uint64_t seq, std::int64_t qty, const char* bin = "A-01-01-1") {
  return mv(seq, MovementType::pick, qty, at(bin, StockState::available), at("TOTE:1", StockState::picked));
}

std::string batch_text(const std::vector<json>& movements, const std::string& device = "d1",
                       const std::string& site = "s1") {
  return json{{"v", 1}, {"device", device}, {"site", site}, {"movements", movements}}.dump();
}
std::string batch_text(const std::vector<Movement>& ms) {
  std::vector<json> js;
  for (const auto& m : ms) js.push_back(wire::to_json(m));
  return batch_text(js);
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (backend() == "postgres") {
      auto& pg = test::PgServer::instance();
      if (!pg.installed()) GTEST_SKIP() << "PostgreSQL store tests skipped: " << pg.why_not();
      ASSERT_TRUE(pg.available()) << pg.why_not();
      pg_db_ = test::PgServer::next_name();
      std::string error;
      pg_conninfo_ = pg.create_database(pg_db_, error);
      ASSERT_TRUE(error.empty()) << error;
    }
    reopen();
  }
  void TearDown() override {
    ledger_.reset();
    store_.reset();
    if (!pg_db_.empty()) test::PgServer::instance().drop_database(pg_db_);
  }

  // "sqlite" here; StoreContract runs the same tests on every store.
  virtual std::string backend() const { return "sqlite"; }

  void reopen() {
    ledger_.reset();
    store_.reset();
    auto s = backend() == "postgres" ? open_postgres_store(PostgresOptions{pg_conninfo_})
                                     : open_sqlite_store(SqliteOptions{dir_.path() / "ledger.db"});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ledger_ = std::make_unique<Ledger>(*store_, LedgerOptions{});
  }

  // Runs SQL on the store's database behind its back (the store is closed).
  void exec_behind(const std::string& sql) {
    ledger_.reset();
    store_.reset();
    if (backend() == "postgres") {
      const std::string error = test::PgServer::instance().exec(pg_db_, sql);
      ASSERT_TRUE(error.empty()) << error;
    } else {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open((dir_.path() / "ledger.db").c_str(), &db), SQLITE_OK);
      ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db);
    }
  }

  Handled handle(const std::string& payload, const std::string& topic = kTopic) {
    auto h = ledger_->handle_movements(topic, payload, kT0);
    EXPECT_TRUE(h) << (h ? "" : h.error().message);
    return h ? std::move(*h) : Handled{};
  }
  Handled send(const std::vector<Movement>& ms) { return handle(batch_text(ms)); }

  std::int64_t balance(const std::string& location, const std::string& state) {
    BalanceQuery q;
    q.item = kGtin;
    q.location = location;
    q.state = state;
    q.include_zero = true;
    auto b = store_->balances(q);
    EXPECT_TRUE(b);
    std::int64_t sum = 0;
    for (const auto& row : *b) sum += row.qty;
    return sum;
  }
  std::size_t stored(const std::string& device = "d1") {
    auto m = store_->movements(device, 0, 100000);
    EXPECT_TRUE(m);
    return m->size();
  }
  std::vector<ExceptionRecord> exceptions_of(const std::string& kind) {
    auto all = store_->exceptions("");
    EXPECT_TRUE(all);
    std::vector<ExceptionRecord> out;
    for (auto& e : *all) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  void expect_invariants() {
    auto v = store_->check_invariants();
    ASSERT_TRUE(v) << v.error().message;
    for (const auto& x : *v) ADD_FAILURE() << x.kind << ": " << x.message;
  }

  test::TempDir dir_{"tally-ledger-unit"};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ledger> ledger_;
  std::string pg_db_;
  std::string pg_conninfo_;
};

// The storage contract of tally/ledger/store.hpp, on every Store.
class StoreContract : public LedgerTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract, ::testing::Values(std::string("sqlite"), std::string("postgres")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(LedgerTopic, ParsesMovementsTopics) {
  auto t = parse_movements_topic("tally/v1/site-a/dev-1/movements");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->site, "site-a");
  EXPECT_EQ(t->device, "dev-1");
  EXPECT_FALSE(parse_movements_topic("tally/v1/site-a/movements"));
  EXPECT_FALSE(parse_movements_topic("tally/v1/a/b/c/movements"));
  EXPECT_FALSE(parse_movements_topic("tally/v2/a/b/movements"));
  EXPECT_FALSE(parse_movements_topic("tally/v1/a/b/ack"));
  EXPECT_FALSE(parse_movements_topic("tally/v1/a/b/exceptions"));
  auto e = parse_exceptions_topic("tally/v1/site-a/dev-1/exceptions");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->device, "dev-1");
  EXPECT_FALSE(parse_exceptions_topic("tally/v1/site-a/dev-1/movements"));
}

TEST_P(StoreContract, AppliesInOrderAndAcksAfterCommit) {
  auto h = send({receipt(1, 10), putaway(2, 10), pick(3, 4)});
  ASSERT_TRUE(h.ack);
  EXPECT_EQ(h.ack->topic, "tally/v1/s1/d1/ack");
  const json ack = json::parse(h.ack->payload);
  EXPECT_EQ(ack["v"], 1);
  EXPECT_EQ(ack["applied_through"], 3);
  EXPECT_TRUE(ack["rejected"].empty());
  EXPECT_EQ(h.outcome->applied, 3u);
  EXPECT_EQ(*store_->applied_through("d1"), 3u);
  EXPECT_EQ(stored(), 3u);
  EXPECT_EQ(balance("@supplier", ""), -10);
  EXPECT_EQ(balance("DOCK-1", "inbound"), 0);
  EXPECT_EQ(balance("A-01-01-1", "available"), 6);
  EXPECT_EQ(balance("TOTE:1", "picked"), 4);
  expect_invariants();
  auto devices = store_->devices();
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].site, "s1");
  EXPECT_EQ((*devices)[0].applied_through, 3u);
  EXPECT_EQ((*devices)[0].movements, 3u);
}

TEST_P(StoreContract, HistoryOfAnItemOrABinIsNewestFirstAndPages) {
  Movement other = receipt(4, 5);
  other.item.gtin = "04006381333931";
  send({receipt(1, 10), putaway(2, 10), pick(3, 1), other, pick(5, 2, "A-01-01-1")});
  const auto seqs = [](const Result<std::vector<StoredMovement>>& rows) {
    std::vector<std::uint64_t> out;
    for (const auto& m : *rows) out.push_back(m.seq);
    return out;
  };
  // A bin: every movement into or out of it, newest first.
  auto bin = store_->history(HistoryQuery{"", "A-01-01-1", 0, 100});
  ASSERT_TRUE(bin) << bin.error().message;
  EXPECT_EQ(seqs(bin), (std::vector<std::uint64_t>{5, 3, 2}));
  EXPECT_EQ(json::parse(bin->front().payload)["evidence"], json::array({"OP:alice", "scan-5"}));
  // An item: the other item's receipt is not in it; DOCK-1 and the item together.
  auto item = store_->history(HistoryQuery{kGtin, "", 0, 100});
  ASSERT_TRUE(item);
  EXPECT_EQ(seqs(item), (std::vector<std::uint64_t>{5, 3, 2, 1}));
  auto both = store_->history(HistoryQuery{kGtin, "DOCK-1", 0, 100});
  ASSERT_TRUE(both);
  EXPECT_EQ(seqs(both), (std::vector<std::uint64_t>{2, 1}));
  // Pages: `before` is the last row id of the previous page.
  auto first = store_->history(HistoryQuery{kGtin, "", 0, 2});
  ASSERT_TRUE(first);
  ASSERT_EQ(seqs(first), (std::vector<std::uint64_t>{5, 3}));
  auto second = store_->history(HistoryQuery{kGtin, "", first->back().id, 2});
  ASSERT_TRUE(second);
  EXPECT_EQ(seqs(second), (std::vector<std::uint64_t>{2, 1}));
  auto none = store_->history(HistoryQuery{"", "Z-99-99-9", 0, 100});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContract, DuplicatesAreIgnored) {
  send({receipt(1, 10), putaway(2, 10)});
  auto again = send({receipt(1, 10), putaway(2, 10)});
  EXPECT_EQ(again.outcome->duplicates, 2u);
  EXPECT_EQ(again.outcome->applied, 0u);
  EXPECT_EQ(json::parse(again.ack->payload)["applied_through"], 2);
  // Overlapping: 2 is a duplicate, 3 is new.
  auto overlap = send({putaway(2, 10), pick(3, 1)});
  EXPECT_EQ(overlap.outcome->duplicates, 1u);
  EXPECT_EQ(overlap.outcome->applied, 1u);
  EXPECT_EQ(stored(), 3u);
  EXPECT_EQ(balance("A-01-01-1", "available"), 9);
  expect_invariants();
}

TEST_P(StoreContract, GapAppliesNothingAndRepeatsAppliedThrough) {
  send({receipt(1, 10)});
  auto gap = send({putaway(3, 10), pick(4, 1)});
  EXPECT_TRUE(gap.outcome->gap);
  EXPECT_EQ(gap.outcome->applied, 0u);
  EXPECT_EQ(json::parse(gap.ack->payload)["applied_through"], 1);
  EXPECT_EQ(stored(), 1u);
  EXPECT_EQ(balance("A-01-01-1", "available"), 0);
  // A gap inside a batch stops it there.
  auto inner = send({putaway(2, 5), pick(4, 1)});
  EXPECT_EQ(inner.outcome->applied, 1u);
  EXPECT_TRUE(inner.outcome->gap);
  EXPECT_EQ(*store_->applied_through("d1"), 2u);
}

TEST_P(StoreContract, InvalidMovementIsRejectedAndAppliedThroughPassesIt) {
  std::vector<json> ms{wire::to_json(receipt(1, 10)), wire::to_json(putaway(2, 10)), wire::to_json(pick(3, 1))};
  ms[1]["qty"] = 0;  // invalid_qty
  auto h = handle(batch_text(ms));
  const json ack = json::parse(h.ack->payload);
  EXPECT_EQ(ack["applied_through"], 3);
  ASSERT_EQ(ack["rejected"].size(), 1u);
  EXPECT_EQ(ack["rejected"][0]["seq"], 2);
  EXPECT_EQ(ack["rejected"][0]["reason"].get<std::string>().rfind("invalid_qty: ", 0), 0u);
  EXPECT_EQ(stored(), 2u);
  auto rej = store_->rejected("d1");
  ASSERT_TRUE(rej);
  ASSERT_EQ(rej->size(), 1u);
  EXPECT_EQ((*rej)[0].seq, 2u);
  auto ex = exceptions_of("rejected_movement");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].seq, 2u);
  EXPECT_EQ(ex[0].evidence["scans"], json({"OP:alice", "scan-2"}));
  EXPECT_FALSE(ex[0].owner.empty());
  EXPECT_FALSE(ex[0].next_action.empty());
  // Resending the same batch changes nothing.
  auto again = handle(batch_text(ms));
  EXPECT_EQ(again.outcome->duplicates, 3u);
  EXPECT_EQ(exceptions_of("rejected_movement").size(), 1u);
}

TEST_P(StoreContract, ForgedDeviceIsDeadLetteredWithAnException) {
  auto h = handle(batch_text({wire::to_json(receipt(1, 10))}, "d2"), kTopic);
  EXPECT_FALSE(h.ack);
  ASSERT_TRUE(h.dead_letter);
  EXPECT_EQ(h.dead_letter->rfind("forged_device", 0), 0u);
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(stored("d2"), 0u);
  EXPECT_EQ(exceptions_of("forged_device").size(), 1u);
  auto dl = store_->dead_letters(10);
  ASSERT_TRUE(dl);
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_EQ((*dl)[0].topic, kTopic);
  // A movement naming another device inside d1's batch is rejected.
  auto inner = send({receipt(1, 10), mv(2, MovementType::putaway, 1, at("DOCK-1", StockState::inbound),
                                        at("A-01-01-1", StockState::available), "d2")});
  EXPECT_EQ(inner.outcome->applied_through, 2u);
  ASSERT_EQ(inner.outcome->rejected.size(), 1u);
  EXPECT_EQ(inner.outcome->rejected[0].reason.rfind("forged_device: ", 0), 0u);
  EXPECT_EQ(exceptions_of("forged_device").size(), 2u);
}

// Device-side exceptions (docs/PROTOCOL.md "Device exceptions").
const std::string kExceptionsTopic = "tally/v1/s1/d1/exceptions";

json device_exception(std::int64_t id, const std::string& kind, std::optional<std::uint64_t> seq = std::nullopt) {
  return json{{"id", id},
              {"seq", seq ? json(*seq) : json(nullptr)},
              {"kind", kind},
              {"operator", "alice"},
              {"mode", "pick"},
              {"expected", "A-01-01-1"},
              {"scanned", "B-02-01-1"},
              {"evidence", {"B-02-01-1"}},
              {"time_ms", kT0},
              {"task", "TASK:7/1"},
              {"reason", ""}};
}
std::string exceptions_text(const std::vector<json>& list, const std::string& device = "d1") {
  return json{{"v", 1}, {"device", device}, {"site", "s1"}, {"exceptions", list}}.dump();
}

TEST_P(StoreContract, DeviceExceptionsAreRaisedExactlyOnceWithOwnerAndNextAction) {
  auto h = handle(exceptions_text({device_exception(1, "wrong_bin"), device_exception(2, "short_pick", 3)}),
                  kExceptionsTopic);
  ASSERT_TRUE(h.ack);
  EXPECT_EQ(h.ack->topic, "tally/v1/s1/d1/ack");
  EXPECT_EQ(json::parse(h.ack->payload), (json{{"v", 1}, {"exceptions_through", 2}}));
  auto wrong = exceptions_of("wrong_bin");
  ASSERT_EQ(wrong.size(), 1U);
  EXPECT_EQ(wrong[0].device, "d1");
  EXPECT_EQ(wrong[0].seq, 0U);
  EXPECT_EQ(wrong[0].owner, "inventory");
  EXPECT_FALSE(wrong[0].next_action.empty());
  EXPECT_EQ(wrong[0].status, "open");
  EXPECT_EQ(wrong[0].evidence["scans"], json::array({"B-02-01-1"}));
  EXPECT_EQ(wrong[0].evidence["operator"], "alice");
  EXPECT_EQ(wrong[0].evidence["task"], "TASK:7/1");
  EXPECT_EQ(wrong[0].evidence["seqs"], json::array());
  auto shorts = exceptions_of("short_pick");
  ASSERT_EQ(shorts.size(), 1U);
  EXPECT_EQ(shorts[0].seq, 3U);
  EXPECT_EQ(shorts[0].priority, "high");
  EXPECT_EQ(shorts[0].evidence["seqs"], json::array({3}));

  // Redelivery (same message, and an overlapping one): only id 3 is new.
  h = handle(exceptions_text({device_exception(1, "wrong_bin"), device_exception(2, "short_pick", 3)}),
             kExceptionsTopic);
  EXPECT_EQ(json::parse(h.ack->payload)["exceptions_through"], 2);
  h = handle(exceptions_text({device_exception(2, "short_pick", 3), device_exception(3, "expired_lot")}),
             kExceptionsTopic);
  EXPECT_EQ(json::parse(h.ack->payload)["exceptions_through"], 3);
  EXPECT_EQ(exceptions_of("short_pick").size(), 1U);
  EXPECT_EQ(exceptions_of("expired_lot").size(), 1U);
  // The cursor is stored, not remembered: a restarted ledger still dedups.
  reopen();
  h = handle(exceptions_text({device_exception(3, "expired_lot")}), kExceptionsTopic);
  EXPECT_EQ(json::parse(h.ack->payload)["exceptions_through"], 3);
  EXPECT_EQ(exceptions_of("expired_lot").size(), 1U);
  EXPECT_EQ(store_->exceptions("")->size(), 3U);
  // The movements cursor is separate.
  EXPECT_EQ(*store_->applied_through("d1"), 0U);
}

TEST_P(StoreContract, BadDeviceExceptionMessagesAreDeadLettersAndRaiseNothing) {
  for (const std::string& payload :
       {exceptions_text({device_exception(0, "wrong_bin")}),
        exceptions_text({device_exception(2, "wrong_bin"), device_exception(1, "wrong_bin")}),
        std::string("{\"v\":1}"), std::string("[]")}) {
    auto h = handle(payload, kExceptionsTopic);
    EXPECT_FALSE(h.ack) << payload;
    ASSERT_TRUE(h.dead_letter) << payload;
  }
  EXPECT_TRUE(store_->exceptions("")->empty());
  // Another device's id in d1's topic: forged, with an exception about it.
  auto h = handle(exceptions_text({device_exception(1, "wrong_bin")}, "d2"), kExceptionsTopic);
  EXPECT_FALSE(h.ack);
  ASSERT_TRUE(h.dead_letter);
  EXPECT_EQ(h.dead_letter->rfind("forged_device", 0), 0U);
  EXPECT_EQ(exceptions_of("forged_device").size(), 1U);
  EXPECT_TRUE(exceptions_of("wrong_bin").empty());
  EXPECT_EQ(store_->dead_letters(100)->size(), 5U);
}

// An element with a sound id but bad content is not retried forever: it is
// raised as rejected_device_exception with the element as evidence, and the
// cursor passes it.
TEST_P(StoreContract, AMalformedDeviceExceptionIsKeptAsEvidenceAndPassed) {
  json no_kind = device_exception(1, "wrong_bin");
  no_kind.erase("kind");
  json bad_seq = device_exception(3, "short_pick");
  bad_seq["seq"] = -4;
  auto h = handle(exceptions_text({no_kind, device_exception(2, "Not A Kind"), bad_seq, device_exception(4, "wrong_bin")}),
                  kExceptionsTopic);
  ASSERT_TRUE(h.ack);
  EXPECT_EQ(json::parse(h.ack->payload)["exceptions_through"], 4);
  auto rejected = exceptions_of("rejected_device_exception");
  ASSERT_EQ(rejected.size(), 3U);
  EXPECT_EQ(rejected[0].evidence["device_exception_id"], 1);
  EXPECT_NE(rejected[0].evidence["reason"].get<std::string>().find("kind"), std::string::npos);
  EXPECT_EQ(json::parse(rejected[0].evidence["element"].get<std::string>())["id"], 1);
  EXPECT_EQ(exceptions_of("wrong_bin").size(), 1U);
}

TEST_P(StoreContract, BadMessagesAreDeadLettersAndChangeNothing) {
  ledger_ = std::make_unique<Ledger>(*store_, LedgerOptions{2000});
  const std::string big(5000, 'x');
  for (const std::string& payload :
       {std::string("{not json"), std::string("[1,2]"), json{{"v", 2}, {"device", "d1"}, {"site", "s1"},
                                                              {"movements", json::array()}}.dump(),
        json{{"v", 1}, {"device", "d1"}, {"site", "s1"}, {"movements", {{{"seq", "x"}}}}}.dump(),
        batch_text({wire::to_json(putaway(2, 1)), wire::to_json(receipt(1, 1))}),  // descending
        big}) {
    auto h = handle(payload);
    EXPECT_FALSE(h.ack) << payload;
    EXPECT_TRUE(h.dead_letter) << payload;
  }
  auto dl = store_->dead_letters(100);
  ASSERT_TRUE(dl);
  ASSERT_EQ(dl->size(), 6u);
  EXPECT_EQ((*dl)[0].payload.size(), 2000u);  // newest first: the oversized one, truncated
  EXPECT_EQ((*dl)[0].reason.rfind("too_large", 0), 0u);
  EXPECT_EQ(stored(), 0u);
  EXPECT_EQ(*store_->applied_through("d1"), 0u);
  // Still works afterwards.
  EXPECT_EQ(send({receipt(1, 1)}).outcome->applied, 1u);
}

TEST_P(StoreContract, BalancesSumToZeroAndTamperingIsDetected) {
  send({receipt(1, 10), putaway(2, 7), pick(3, 2),
        mv(4, MovementType::ship, 2, at("TOTE:1", StockState::picked), ext("@customer"))});
  BalanceQuery all;
  all.include_zero = true;
  auto rows = store_->balances(all);
  ASSERT_TRUE(rows);
  std::int64_t sum = 0;
  for (const auto& r : *rows) {
    sum += r.qty;
    EXPECT_EQ(r.location.front() == '@', r.state.empty()) << r.location;
  }
  EXPECT_EQ(sum, 0);
  expect_invariants();

  // Edit a balance behind the ledger's back: the check must say so.
  exec_behind("UPDATE balances SET qty = qty + 1 WHERE location = 'A-01-01-1'");
  reopen();
  auto v = store_->check_invariants();
  ASSERT_TRUE(v);
  bool sum_bad = false;
  bool mismatch = false;
  for (const auto& x : *v) {
    sum_bad |= x.kind == "sum_not_zero";
    mismatch |= x.kind == "balance_mismatch";
  }
  EXPECT_TRUE(sum_bad);
  EXPECT_TRUE(mismatch);
}

TEST_P(StoreContract, CountDifferenceBecomesAdjustAndException) {
  send({receipt(1, 10), putaway(2, 10)});
  const auto bin = at("A-01-01-1", StockState::available);
  auto h = send({mv(3, MovementType::count, 7, bin, bin)});
  EXPECT_EQ(h.outcome->applied, 1u);
  EXPECT_EQ(balance("A-01-01-1", "available"), 7);
  EXPECT_EQ(balance("@adjustment", ""), 3);
  auto adj = store_->movements(std::string(kLedgerDevice), 0, 10);
  ASSERT_TRUE(adj);
  ASSERT_EQ(adj->size(), 1u);
  const json a = json::parse((*adj)[0].payload);
  EXPECT_EQ(a["type"], "adjust");
  EXPECT_EQ(a["seq"], 1);
  EXPECT_EQ(a["qty"], 3);
  EXPECT_EQ(a["to"]["location"], "@adjustment");
  auto ex = exceptions_of("count_difference");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].evidence["difference"], -3);
  EXPECT_EQ(ex[0].evidence["booked"], 10);
  EXPECT_EQ(ex[0].owner, "inventory-control");
  expect_invariants();

  // A count that matches changes nothing; a higher one adjusts in.
  send({mv(4, MovementType::count, 7, bin, bin)});
  EXPECT_EQ(exceptions_of("count_difference").size(), 1u);
  send({mv(5, MovementType::count, 9, bin, bin)});
  EXPECT_EQ(balance("A-01-01-1", "available"), 9);
  EXPECT_EQ(*store_->applied_through(std::string(kLedgerDevice)), 2u);
  EXPECT_EQ(exceptions_of("count_difference").size(), 2u);
  expect_invariants();
}

// An empty-bin count (SKU *EMPTY*, qty 0) zeroes every item and lot booked
// at that bin and state, each with its own adjust and count_difference;
// other bins and states are untouched.
TEST_P(StoreContract, EmptyBinCountZeroesEverythingBookedThere) {
  Movement other = putaway(3, 4);
  other.item.lot = "L2";  // a second lot of the same item in the bin
  Movement sku = mv(5, MovementType::putaway, 2, at("DOCK-1", StockState::inbound), at("A-01-01-1", StockState::available));
  sku.item.gtin.clear();
  sku.item.sku = "SKU-7";
  sku.item.lot.clear();
  Movement sku_in = receipt(4, 2);
  sku_in.item = sku.item;
  Movement l2_in = receipt(2, 4);
  l2_in.item.lot = "L2";
  send({receipt(1, 10), l2_in, other, sku_in, sku, putaway(6, 10)});
  // One unit goes to another bin; the damaged state of the bin is separate.
  send({mv(7, MovementType::move, 1, at("A-01-01-1", StockState::available), at("B-02-01-1", StockState::available)),
        mv(8, MovementType::damage, 2, at("A-01-01-1", StockState::available), at("A-01-01-1", StockState::damaged))});
  const auto bin = at("A-01-01-1", StockState::available);
  Movement empty = mv(9, MovementType::count, 0, bin, bin);
  empty.item = scanner::Item{"", std::string(scanner::kEmptyBinSku), "", "", ""};
  auto h = send({empty});
  ASSERT_TRUE(h.outcome);
  EXPECT_EQ(h.outcome->applied, 1U);
  BalanceQuery q;
  q.location = "A-01-01-1";
  q.state = "available";
  EXPECT_TRUE(store_->balances(q)->empty());  // nothing non-zero left
  EXPECT_EQ(balance("A-01-01-1", "damaged"), 2);
  EXPECT_EQ(balance("B-02-01-1", "available"), 1);
  auto adj = store_->movements(std::string(kLedgerDevice), 0, 10);
  ASSERT_TRUE(adj);
  EXPECT_EQ(adj->size(), 3U);  // gtin L1, gtin L2, SKU-7
  auto ex = exceptions_of("count_difference");
  ASSERT_EQ(ex.size(), 3U);
  for (const auto& e : ex) {
    EXPECT_EQ(e.seq, 9U);
    EXPECT_EQ(e.evidence["counted"], 0);
    EXPECT_EQ(e.evidence["location"], "A-01-01-1");
  }
  expect_invariants();
  // A second empty count of the now empty bin changes nothing.
  Movement again = empty;
  again.seq = 10;
  send({again});
  EXPECT_EQ(exceptions_of("count_difference").size(), 3U);
  expect_invariants();
}

// FEFO: a pick task line with lot_rule "fefo" and no lot gets the lot with
// the earliest expiry the ledger has available in its bin; once that lot is
// gone, the next one. Other lines are untouched.
TEST_P(StoreContract, FefoLinesGetTheEarliestExpiringLotOfTheBin) {
  const auto lot = [](Movement m, const char* l, const char* expiry) {
    m.item.lot = l;
    m.item.expiry = expiry;
    return m;
  };
  // L1 expires later than L2; L3 (earliest) is in another bin; L4 has no expiry.
  Movement l3 = lot(putaway(7, 5), "L3", "2026-06-30");
  l3.to = at("B-02-01-1", StockState::available);
  send({lot(receipt(1, 5), "L1", "2027-01-31"), lot(receipt(2, 5), "L2", "2026-12-31"),
        lot(receipt(3, 5), "L3", "2026-06-30"), lot(receipt(4, 5), "L4", ""), lot(putaway(5, 5), "L1", "2027-01-31"),
        lot(putaway(6, 5), "L2", "2026-12-31"), l3, lot(putaway(8, 5), "L4", "")});
  const json task = {{"id", "TASK:9"},
                     {"type", "pick"},
                     {"lines",
                      {{{"line", 1}, {"gtin", kGtin}, {"qty", 2}, {"bin", "A-01-01-1"}, {"lot_rule", "fefo"}},
                       {{"line", 2}, {"gtin", kGtin}, {"qty", 1}, {"bin", "A-01-01-1"}},
                       {{"line", 3}, {"gtin", kGtin}, {"qty", 1}, {"bin", "A-01-01-1"}, {"lot_rule", "fefo"},
                        {"lot", "L1"}},
                       {{"line", 4}, {"gtin", kGtin}, {"qty", 1}, {"bin", "C-03-01-1"}, {"lot_rule", "fefo"}}}}};
  auto assigned = assign_fefo_lots(*store_, task);
  ASSERT_TRUE(assigned) << assigned.error().message;
  EXPECT_EQ((*assigned)["lines"][0]["lot"], "L2");
  EXPECT_FALSE((*assigned)["lines"][1].contains("lot"));
  EXPECT_EQ((*assigned)["lines"][2]["lot"], "L1");
  EXPECT_FALSE((*assigned)["lines"][3].contains("lot"));  // nothing in that bin
  // L2 picked empty: L1 is next.
  send({lot(pick(9, 5), "L2", "")});
  assigned = assign_fefo_lots(*store_, task);
  ASSERT_TRUE(assigned);
  EXPECT_EQ((*assigned)["lines"][0]["lot"], "L1");
  // A receive task is not touched.
  json receive = task;
  receive["type"] = "receive";
  EXPECT_EQ(*assign_fefo_lots(*store_, receive), receive);
}

// Pick allowances (escrow, tally/ledger/allowances.hpp) on every store.
class AllowanceTest : public StoreContract {
 protected:
  void SetUp() override {
    StoreContract::SetUp();
    policy_.enabled = true;
    policy_.ttl_ms = 60'000;
    policy_.clock_margin_ms = 0;
  }
  // A pick task on `device` for kGtin in A-01-01-1.
  void give_task(const std::string& device) {
    const json tasks = {{"tasks",
                         {{{"id", "TASK:1"},
                           {"type", "pick"},
                           {"lines", {{{"line", 1}, {"gtin", kGtin}, {"qty", 2}, {"bin", "A-01-01-1"}}}}}}}};
    ASSERT_TRUE(store_->put_master_data("tasks", task_scope("s1", device), tasks));
  }
  std::vector<MasterDataRecord> regrant(std::int64_t now) {
    auto r = regrant_allowances(*store_, policy_, now);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<MasterDataRecord>{};
  }
  // The device's stored grants: [{"id","qty","basis_seq",…}].
  json grants(const std::string& device) {
    auto rec = store_->master_data("allowances", task_scope("s1", device));
    EXPECT_TRUE(rec);
    if (!rec || !*rec) return json::array();
    return json::parse((*rec)->payload)["allowances"];
  }
  std::int64_t granted(const std::string& device) {
    std::int64_t sum = 0;
    for (const auto& g : grants(device)) sum += g["qty"].get<std::int64_t>();
    return sum;
  }
  Handled send_as(const std::string& device, const std::vector<Movement>& ms) {
    std::vector<json> js;
    for (const auto& m : ms) js.push_back(wire::to_json(m));
    return handle(batch_text(js, device), "tally/v1/s1/" + device + "/movements");
  }
  Movement pick_as(const std::string& device, std::uint64_t seq, std::int64_t qty) {
    Movement m = pick(seq, qty);
    m.device = device;
    return m;
  }
  AllowancePolicy policy_;
};

INSTANTIATE_TEST_SUITE_P(Stores, AllowanceTest, ::testing::Values(std::string("sqlite"), std::string("postgres")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(AllowanceTest, SplitsAvailableStockAndReturnsItWhenUsedOrExpired) {
  send({receipt(1, 10), putaway(2, 10)});  // 10 available in A-01-01-1 (lot L1)
  give_task("d2");
  give_task("d3");
  auto changed = regrant(kT0);
  ASSERT_EQ(changed.size(), 3U);  // d1 (seen, no task: an empty snapshot), d2, d3
  for (const auto& rec : changed) EXPECT_EQ(master_data_topic(rec), "tally/v1/" + rec.scope + "/allowances");
  EXPECT_EQ(granted("d1"), 0);
  ASSERT_EQ(grants("d2").size(), 1U);
  const json g2 = grants("d2")[0];
  EXPECT_EQ(g2["item"], kGtin);
  EXPECT_EQ(g2["lot"], "L1");
  EXPECT_EQ(g2["bin"], "A-01-01-1");
  EXPECT_EQ(g2["qty"], 5);
  EXPECT_EQ(g2["basis_seq"], 0);
  EXPECT_EQ(g2["expires_ms"], kT0 + 60'000);
  EXPECT_EQ(granted("d3"), 5);
  EXPECT_TRUE(regrant(kT0 + 1).empty());  // nothing changed: nothing stored or published

  // d2 picks 3: its grant stays (2 left); then 2 more: used up, returned,
  // and nothing is free to grant again (d3 still holds 5 of the 5 left).
  send_as("d2", {pick_as("d2", 1, 3)});
  EXPECT_TRUE(regrant(kT0 + 2).empty());
  send_as("d2", {pick_as("d2", 2, 2)});
  changed = regrant(kT0 + 3);
  ASSERT_EQ(changed.size(), 1U);
  EXPECT_EQ(changed[0].scope, "s1/d2");
  EXPECT_EQ(grants("d2").size(), 0U);
  EXPECT_EQ(granted("d3"), 5);

  // New stock: d2 gets what d3 does not hold, counted from its applied_through.
  send({receipt(3, 4), putaway(4, 4)});  // 9 available
  regrant(kT0 + 4);
  ASSERT_EQ(grants("d2").size(), 1U);
  EXPECT_EQ(grants("d2")[0]["qty"], 4);
  EXPECT_EQ(grants("d2")[0]["basis_seq"], 2);
  EXPECT_EQ(granted("d3"), 5);

  // d3's grant expires: its units return and go to d3 again, fresh.
  const std::string old_id = grants("d3")[0]["id"];
  regrant(kT0 + 60'000);
  ASSERT_EQ(grants("d3").size(), 1U);
  EXPECT_NE(grants("d3")[0]["id"], old_id);
  EXPECT_EQ(grants("d3")[0]["qty"], 5);
  EXPECT_EQ(granted("d2"), 4);  // still live
}

// Whatever the devices pick (mostly within their grants, sometimes beyond)
// and whenever the ledger re-grants: a new grant only hands out what is
// available beyond the remaining parts of the live ones, so while every pick
// stays within its grant the live grants never promise more than is there.
TEST_P(AllowanceTest, NeverGrantsMoreThanAvailableAcrossDevices) {
  const std::vector<std::string> devs = {"d2", "d3", "d4"};
  for (const auto& d : devs) give_task(d);
  std::uint64_t seq1 = 0;
  std::map<std::string, std::uint64_t> seq;
  std::uint32_t rnd = 12345;
  const auto next = [&rnd](std::int64_t n) {
    rnd = rnd * 1103515245U + 12345U;
    return static_cast<std::int64_t>((rnd >> 16) % static_cast<std::uint32_t>(n));
  };
  // id -> what is left of each live grant of `dev` (its picks after basis counted).
  const auto left = [this](const std::string& dev) {
    std::map<std::string, std::int64_t> out;
    for (const auto& g : grants(dev)) {
      auto rows = store_->movements(dev, g["basis_seq"].get<std::uint64_t>(), 100000);
      EXPECT_TRUE(rows);
      std::int64_t used = 0;
      for (const auto& r : *rows) used += json::parse(r.payload)["qty"].get<std::int64_t>();
      out[g["id"]] = std::max<std::int64_t>(0, g["qty"].get<std::int64_t>() - used);
    }
    return out;
  };
  std::int64_t available = 0;
  std::int64_t now = kT0;
  bool oversold = false;
  int fresh_grants = 0, over_picks = 0;
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    now += 7'000;
    if (next(3) == 0) {  // stock arrives
      const auto q = 1 + next(6);
      send({receipt(++seq1, q), putaway(++seq1, q)});
      available += q;
    }
    const std::string d = devs[static_cast<std::size_t>(next(3))];
    std::int64_t mine = 0;
    for (const auto& [id, q] : left(d)) mine += q;
    if (mine > 0 && next(6) == 0) {  // beyond its grant
      send_as(d, {pick_as(d, ++seq[d], mine + 1)});
      available -= mine + 1;
      ++over_picks;
      oversold = true;
    } else if (mine > 0 && next(2) == 0) {
      const auto q = 1 + next(mine);
      send_as(d, {pick_as(d, ++seq[d], q)});
      available -= q;
    }
    std::map<std::string, std::int64_t> before;
    for (const auto& dev : devs) before.merge(left(dev));
    regrant(now);
    std::int64_t kept = 0, fresh = 0, promised = 0;
    for (const auto& dev : devs) {
      for (const auto& [id, q] : left(dev)) {
        (before.contains(id) ? kept : fresh) += q;
        promised += q;
        if (!before.contains(id)) ++fresh_grants;
      }
    }
    ASSERT_EQ(balance("A-01-01-1", "available"), available);
    ASSERT_LE(fresh, std::max<std::int64_t>(0, available - kept));
    if (!oversold) {
      ASSERT_LE(promised, available);
      EXPECT_TRUE(available <= 0 || promised > 0) << "the stock is escrowed, not withheld";
    }
  }
  EXPECT_GT(fresh_grants, 5);  // the run exercised re-granting
  EXPECT_GT(over_picks, 0);
}

TEST_P(AllowanceTest, OffGrantsNothingAndTheActivePolicyGrantsRecentDevices) {
  send({receipt(1, 3), putaway(2, 3)});
  give_task("d2");
  policy_.enabled = false;
  EXPECT_TRUE(regrant(kT0).empty());
  EXPECT_EQ(grants("d2").size(), 0U);
  policy_.enabled = true;
  policy_.grant_to = "active";
  policy_.active_ms = 60'000;
  regrant(kT0);  // d1 was seen at kT0; d2 never sent anything
  EXPECT_EQ(granted("d1"), 3);
  EXPECT_EQ(granted("d2"), 0);
  AllowancePolicy bad = policy_;
  bad.grant_to = "everyone";
  EXPECT_FALSE(check_allowance_policy(bad));
  EXPECT_TRUE(check_allowance_policy(policy_));
}

// A device clock far ahead of the ledger's raises one clock_skew exception
// (not one per movement); a sane movement clears it, a new skew raises again.
TEST_P(StoreContract, DeviceClockAheadRaisesOneClockSkew) {
  const auto at_time = [](Movement m, std::int64_t t) {
    m.wall_time_ms = t;
    return m;
  };
  const std::int64_t day = 24LL * 3600 * 1000;
  send({at_time(receipt(1, 10), kT0 + day), at_time(putaway(2, 10), kT0 + day)});
  auto skew = exceptions_of("clock_skew");
  ASSERT_EQ(skew.size(), 1U);
  EXPECT_EQ(skew[0].seq, 1U);
  EXPECT_EQ(skew[0].evidence["ahead_ms"], day);
  EXPECT_FALSE(skew[0].next_action.empty());
  send({at_time(pick(3, 1), kT0 + day)});
  EXPECT_EQ(exceptions_of("clock_skew").size(), 1U);
  send({at_time(pick(4, 1), kT0 - 60'000), at_time(pick(5, 1), kT0 + 2 * day)});  // fixed, then off again
  EXPECT_EQ(exceptions_of("clock_skew").size(), 2U);
  // A clock a few minutes ahead is normal drift.
  send({at_time(pick(6, 1), kT0 + 5 * 60'000)});
  EXPECT_EQ(exceptions_of("clock_skew").size(), 2U);
  EXPECT_EQ(stored(), 6U);  // recorded as received: the device records facts
}

// A skewed duplicate (a resend the store ignores) does not use up the
// device's one clock_skew: the new movement behind it raises it.
TEST_P(StoreContract, ASkewedDuplicateDoesNotHideTheClockSkew) {
  send({receipt(1, 10)});
  Movement dup = receipt(1, 10);
  dup.wall_time_ms = kT0 + 24LL * 3600 * 1000;
  Movement next = putaway(2, 10);
  next.wall_time_ms = dup.wall_time_ms;
  send({dup, next});
  auto skew = exceptions_of("clock_skew");
  ASSERT_EQ(skew.size(), 1U);
  EXPECT_EQ(skew[0].seq, 2U);
}

TEST_P(StoreContract, NegativeBalanceRaisesOneException) {
  send({receipt(1, 2), putaway(2, 2)});
  send({pick(3, 5)});
  EXPECT_EQ(balance("A-01-01-1", "available"), -3);
  auto ex = exceptions_of("negative_balance");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].owner, "inventory-control");
  EXPECT_EQ(ex[0].next_action, "count bin A-01-01-1");
  EXPECT_EQ(ex[0].seq, 3u);
  EXPECT_EQ(ex[0].priority, "high");
  send({pick(4, 1)});  // still negative, the open exception covers it
  EXPECT_EQ(exceptions_of("negative_balance").size(), 1u);
  expect_invariants();
}

// A movement of an item the site's catalog does not know is still applied
// (the device recorded a fact) and raises one unknown_item; a resend raises
// nothing new. Without a catalog nothing is checked.
TEST_P(StoreContract, UnknownItemIsAppliedAndRaisedOnce) {
  send({receipt(1, 5)});
  EXPECT_TRUE(exceptions_of("unknown_item").empty());  // no catalog yet
  ASSERT_TRUE(store_->put_master_data("catalog", "s1", json{{"items", json::array({{{"sku", "OTHER"}}})}}));
  Movement r = receipt(2, 3);
  r.evidence = {"CMD:RECEIVE", "(01)09506000134352(10)L1", "CMD:QTY:3", "CMD:CONFIRM"};
  r.operator_id = "bob";
  r.wall_time_ms = kT0 - 5000;
  auto h = send({r});
  ASSERT_TRUE(h.outcome);
  EXPECT_EQ(h.outcome->applied, 1u);
  EXPECT_EQ(balance("DOCK-1", "inbound"), 8);
  auto ex = exceptions_of("unknown_item");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].device, "d1");
  EXPECT_EQ(ex[0].seq, 2u);
  EXPECT_EQ(ex[0].owner, "master_data");
  EXPECT_EQ(ex[0].priority, "medium");
  EXPECT_EQ(ex[0].status, "open");
  EXPECT_EQ(ex[0].next_action,
            "add item 09506000134352 to the catalog of site s1 or correct the movement (seq 2 of d1)");
  const json& ev = ex[0].evidence;
  EXPECT_EQ(ev["device"], "d1");
  EXPECT_EQ(ev["seqs"], json::array({2}));
  EXPECT_EQ(ev["scans"], json(r.evidence));
  EXPECT_EQ(ev["operator"], "bob");
  EXPECT_EQ(ev["item"], kGtin);
  EXPECT_EQ(ev["lot"], "L1");
  EXPECT_EQ(ev["qty"], 3);
  EXPECT_EQ(ev["type"], "receipt");
  EXPECT_EQ(ev["to"], (json{{"location", "DOCK-1"}, {"state", "inbound"}}));
  EXPECT_EQ(ev["device_time_ms"], kT0 - 5000);
  EXPECT_EQ(ev["source"], "ledger");
  EXPECT_EQ(ev["catalog_version"], 1);
  send({r});  // a resend
  reopen();   // and a restarted ledger
  send({r});
  EXPECT_EQ(exceptions_of("unknown_item").size(), 1u);
  EXPECT_EQ(balance("DOCK-1", "inbound"), 8);
  // The item added (as a GTIN-13): the next movement of it is not flagged.
  ASSERT_TRUE(store_->put_master_data("catalog", "s1", json{{"items", json::array({{{"gtin", "9506000134352"}}})}}));
  send({putaway(3, 3)});
  EXPECT_EQ(exceptions_of("unknown_item").size(), 1u);
  expect_invariants();
}

// Bins the site's locations do not list raise one unknown_location per
// movement (external parties and totes are not master data); applied anyway.
TEST_P(StoreContract, UnknownLocationIsAppliedAndRaisedOnce) {
  ASSERT_TRUE(store_->put_master_data(
      "locations", "s1",
      json{{"locations", json::array({{{"code", "DOCK-1"}, {"kind", "dock"}}, {{"code", "a-01-01-1"}, {"kind", "bin"}}})}}));
  send({receipt(1, 5), putaway(2, 5)});
  EXPECT_TRUE(exceptions_of("unknown_location").empty());
  const Movement move = mv(3, MovementType::move, 2, at("A-01-01-1", StockState::available),
                           at("B-09-09-9", StockState::available));
  send({move, pick(4, 1)});
  EXPECT_EQ(balance("B-09-09-9", "available"), 2);
  auto ex = exceptions_of("unknown_location");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].seq, 3u);
  EXPECT_EQ(ex[0].owner, "master_data");
  EXPECT_EQ(ex[0].evidence["locations"], json::array({"B-09-09-9"}));
  EXPECT_EQ(ex[0].evidence["scans"], json(move.evidence));
  EXPECT_EQ(ex[0].evidence["operator"], "alice");
  EXPECT_EQ(ex[0].next_action,
            "add location B-09-09-9 to the locations of site s1 or correct the movement (seq 3 of d1)");
  send({move, pick(4, 1)});
  EXPECT_EQ(exceptions_of("unknown_location").size(), 1u);
  EXPECT_TRUE(exceptions_of("unknown_item").empty());  // no catalog: items unchecked
  expect_invariants();
}

// Two devices picked the last unit of a bin (both offline): the second
// pick applied drives the row negative and raises one conflicting_picks that
// names both devices and both movements.
TEST_P(StoreContract, ConflictingPicksNameBothDevicesAndMovements) {
  send({receipt(1, 1), putaway(2, 1)});
  Movement theirs = pick(1, 1);
  theirs.device = "d2";
  theirs.operator_id = "bob";
  theirs.wall_time_ms = kT0 + 1000;
  theirs.evidence = {"TASK:7", "A-01-01-1", "09506000134352", "TOTE:1"};
  handle(batch_text({wire::to_json(theirs)}, "d2"), "tally/v1/s1/d2/movements");
  EXPECT_EQ(balance("A-01-01-1", "available"), 0);
  Movement mine = pick(3, 1);
  mine.wall_time_ms = kT0 + 2000;
  send({mine});
  EXPECT_EQ(balance("A-01-01-1", "available"), -1);
  EXPECT_TRUE(exceptions_of("negative_balance").empty());
  auto ex = exceptions_of("conflicting_picks");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].device, "d1");
  EXPECT_EQ(ex[0].seq, 3u);
  EXPECT_EQ(ex[0].owner, "inventory-control");
  EXPECT_EQ(ex[0].priority, "high");
  EXPECT_EQ(ex[0].next_action,
            "count bin A-01-01-1: d2 seq 1 (bob) and d1 seq 3 (alice) both picked 09506000134352 there and the bin "
            "had too little for both; correct the pick that got no goods");
  const json& ev = ex[0].evidence;
  EXPECT_EQ(ev["devices"], json::array({"d1", "d2"}));
  EXPECT_EQ(ev["seqs"], json::array({3, 1}));
  EXPECT_EQ(ev["location"], "A-01-01-1");
  EXPECT_EQ(ev["state"], "available");
  EXPECT_EQ(ev["qty"], -1);
  ASSERT_EQ(ev["movements"].size(), 2u);
  const json expect_mine{{"device", "d1"},        {"seq", 3},           {"type", "pick"},
                         {"operator", "alice"},   {"qty", 1},           {"device_time_ms", kT0 + 2000},
                         {"reference", ""},       {"to", "TOTE:1"},     {"scans", mine.evidence}};
  const json expect_theirs{{"device", "d2"},      {"seq", 1},           {"type", "pick"},
                           {"operator", "bob"},   {"qty", 1},           {"device_time_ms", kT0 + 1000},
                           {"reference", ""},     {"to", "TOTE:1"},     {"scans", theirs.evidence}};
  EXPECT_EQ(ev["movements"][0], expect_mine);
  EXPECT_EQ(ev["movements"][1], expect_theirs);
  // A resend raises nothing; a further pick is covered by the open exception.
  send({mine});
  send({pick(4, 1)});
  EXPECT_EQ(exceptions_of("conflicting_picks").size(), 1u);
  EXPECT_TRUE(exceptions_of("negative_balance").empty());
  expect_invariants();
}

// Another device's last take that was not a pick (a move) is evidence of a
// plain negative_balance, not a conflicting pick.
TEST_P(StoreContract, NegativeBalanceAfterAnotherDevicesMoveNamesBoth) {
  send({receipt(1, 2), putaway(2, 2)});
  Movement moved = mv(1, MovementType::move, 2, at("A-01-01-1", StockState::available),
                      at("B-01-01-1", StockState::available), "d2");
  handle(batch_text({wire::to_json(moved)}, "d2"), "tally/v1/s1/d2/movements");
  send({pick(3, 1)});
  EXPECT_TRUE(exceptions_of("conflicting_picks").empty());
  auto ex = exceptions_of("negative_balance");
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].next_action, "count bin A-01-01-1");
  EXPECT_EQ(ex[0].evidence["seqs"], json::array({3, 1}));
  ASSERT_EQ(ex[0].evidence["movements"].size(), 2u);
  EXPECT_EQ(ex[0].evidence["movements"][1]["device"], "d2");
  EXPECT_EQ(ex[0].evidence["movements"][1]["type"], "move");
}

TEST_P(StoreContract, ExceptionsAreAssignedAndResolved) {
  send({receipt(1, 1), putaway(2, 1), pick(3, 2)});
  auto ex = exceptions_of("negative_balance");
  ASSERT_EQ(ex.size(), 1u);
  const auto id = ex[0].id;
  EXPECT_EQ(store_->update_exception(id, "assign", "", "", kT0).error().code, "bad_request");
  auto a = store_->update_exception(id, "assign", "bob", "on it", kT0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, "assigned");
  EXPECT_EQ(a->owner, "bob");
  auto r = store_->update_exception(id, "resolve", "", "recounted", kT0 + 5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "resolved");
  EXPECT_EQ(r->resolved_ms, kT0 + 5);
  EXPECT_EQ(store_->update_exception(id, "resolve", "", "", kT0).error().code, "conflict");
  EXPECT_EQ(store_->update_exception(999, "resolve", "", "", kT0).error().code, "not_found");
  EXPECT_EQ(store_->exceptions("resolved")->size(), 1u);
  EXPECT_EQ(store_->exceptions("open")->size(), 0u);
  // Resolved: a new negative balance on the same row raises a new one.
  send({pick(4, 1)});
  EXPECT_EQ(store_->exceptions("open")->size(), 1u);
}

TEST_P(StoreContract, RestartKeepsAppliedThroughAndBalances) {
  send({receipt(1, 10), putaway(2, 10)});
  reopen();
  EXPECT_EQ(*store_->applied_through("d1"), 2u);
  auto again = send({receipt(1, 10), putaway(2, 10), pick(3, 1)});
  EXPECT_EQ(again.outcome->duplicates, 2u);
  EXPECT_EQ(again.outcome->applied, 1u);
  EXPECT_EQ(balance("A-01-01-1", "available"), 9);
  expect_invariants();
}

TEST_P(StoreContract, GroupCommitKeepsEachBatchsRules) {
  std::vector<json> other;
  for (auto m : {receipt(1, 4), putaway(2, 4)}) {
    m.device = "d2";
    other.push_back(wire::to_json(m));
  }
  const std::vector<Ledger::Inbound> msgs{
      {kTopic, batch_text({receipt(1, 10), putaway(2, 10)})},
      {kTopic, "garbage"},
      {"tally/v1/s1/d2/movements", batch_text(other, "d2")},
      {kTopic, batch_text({pick(3, 1)})},           // follows the first batch inside the same transaction
      {kTopic, batch_text({receipt(1, 10), pick(5, 1)})},  // duplicate, then a gap
  };
  auto results = ledger_->handle_many(msgs, kT0);
  ASSERT_EQ(results.size(), msgs.size());
  ASSERT_TRUE(results[0] && results[0]->ack);
  EXPECT_EQ(json::parse(results[0]->ack->payload)["applied_through"], 2);
  ASSERT_TRUE(results[1]);
  EXPECT_TRUE(results[1]->dead_letter);
  EXPECT_FALSE(results[1]->ack);
  EXPECT_EQ(results[2]->ack->topic, "tally/v1/s1/d2/ack");
  EXPECT_EQ(json::parse(results[3]->ack->payload)["applied_through"], 3);
  EXPECT_TRUE(results[4]->outcome->gap);
  EXPECT_EQ(results[4]->outcome->duplicates, 1u);
  EXPECT_EQ(json::parse(results[4]->ack->payload)["applied_through"], 3);
  EXPECT_EQ(stored("d1"), 3u);
  EXPECT_EQ(stored("d2"), 2u);
  EXPECT_EQ(balance("A-01-01-1", "available"), 13);
  expect_invariants();
}

TEST_P(StoreContract, MasterDataVersionsAndChunks) {
  const json catalog{{"v", 1}, {"version", 1}, {"items", {{{"gtin", kGtin}, {"sku", "S1"}, {"description", "Ä widget"},
                                                           {"pack_size", 1}, {"suggested_bin", "A-01-01-1"}}}}};
  ASSERT_TRUE(check_master_data("catalog", catalog));
  auto rec = store_->put_master_data("catalog", "s1", catalog);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->version, 1);
  auto msgs = master_data_messages(*rec, 40);
  ASSERT_GT(msgs.size(), 2u);
  std::string joined;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].topic, "tally/v1/s1/catalog/" + std::to_string(i));
    EXPECT_TRUE(msgs[i].retained);
    const json m = json::parse(msgs[i].payload);
    EXPECT_EQ(m["kind"], "catalog");
    EXPECT_EQ(m["version"], 1);
    EXPECT_EQ(m["chunk"], i);
    EXPECT_EQ(m["chunks"], msgs.size());
    joined += m["data"].get<std::string>();
  }
  EXPECT_EQ(json::parse(joined)["items"][0]["description"], "Ä widget");
  ASSERT_TRUE(store_->set_published_chunks("catalog", "s1", 1, static_cast<std::int64_t>(msgs.size())));

  // A smaller version 2 clears the leftover chunk indexes.
  auto rec2 = store_->put_master_data("catalog", "s1", json{{"v", 1}, {"items", json::array()}});
  ASSERT_TRUE(rec2);
  EXPECT_EQ(rec2->version, 2);
  auto msgs2 = master_data_messages(*rec2, 40);
  ASSERT_EQ(msgs2.size(), msgs.size());
  EXPECT_FALSE(msgs2[0].payload.empty());
  EXPECT_TRUE(msgs2.back().payload.empty());

  // Tasks: per device, replaced by id.
  auto t1 = with_task(json(), json{{"id", "TASK:1"}, {"type", "pick"}, {"reference", "ORD:1"},
                                   {"lines", {{{"line", 1}, {"gtin", kGtin}, {"qty", 2}, {"bin", "A-01-01-1"}}}}});
  ASSERT_TRUE(t1) << t1.error().message;
  auto trec = store_->put_master_data("tasks", task_scope("s1", "d1"), *t1);
  ASSERT_TRUE(trec);
  EXPECT_EQ(master_data_topic(*trec), "tally/v1/s1/d1/tasks");
  EXPECT_FALSE(with_task(json(), json{{"id", 5}}));
  EXPECT_EQ(store_->all_master_data()->size(), 2u);
}

}  // namespace
}  // namespace tally::ledger

namespace tally::ledger {
namespace {

// Elements chained the way the device's journal chains them.
std::vector<json> chained(const std::vector<Movement>& ms, std::string& prev) {
  std::vector<json> out;
  for (const auto& m : ms) {
    const std::string canonical = wire::to_json_text(m);
    const std::string hash = wire::chain_hash(prev, canonical);
    std::string element;
    wire::append_chained(element, canonical, prev, hash);
    out.push_back(json::parse(element));
    prev = hash;
  }
  return out;
}

TEST_P(StoreContract, HashChainVerifiesOnTheNormalPath) {
  std::string prev(wire::kGenesisHash);
  ASSERT_TRUE(handle(batch_text(chained({receipt(1, 10), putaway(2, 10)}, prev))).ack);
  auto h = handle(batch_text(chained({pick(3, 1), pick(4, 1)}, prev)));
  ASSERT_TRUE(h.outcome);
  EXPECT_EQ(h.outcome->applied_through, 4U);
  EXPECT_TRUE(exceptions_of("hash_chain_break").empty());
  // Unchained elements (a device without the chain) are not verified.
  send({pick(5, 1)});
  EXPECT_TRUE(exceptions_of("hash_chain_break").empty());
  EXPECT_EQ(stored(), 5U);
}

TEST_P(StoreContract, TamperedMovementRaisesHashChainBreakAndIsStillApplied) {
  std::string prev(wire::kGenesisHash);
  auto first = chained({receipt(1, 10), putaway(2, 10), pick(3, 1)}, prev);
  first[1]["qty"] = 9;  // altered after the device hashed it
  auto h = handle(batch_text(first));
  ASSERT_TRUE(h.outcome);
  EXPECT_EQ(h.outcome->applied_through, 3U);  // the rule: applied as received, flagged
  auto breaks = exceptions_of("hash_chain_break");
  ASSERT_EQ(breaks.size(), 1U);  // seq 3 links to the received hash of seq 2: one break
  EXPECT_EQ(breaks[0].seq, 2U);
  EXPECT_EQ(breaks[0].owner, "security");
  EXPECT_EQ(breaks[0].priority, "high");
  EXPECT_FALSE(breaks[0].next_action.empty());
  EXPECT_EQ(breaks[0].evidence["hash"], first[1]["hash"]);
  EXPECT_NE(breaks[0].evidence["computed_hash"], first[1]["hash"]);
  EXPECT_FALSE(breaks[0].evidence["scans"].empty());
  EXPECT_EQ(balance("A-01-01-1", "available"), 8);  // 9 put away, 1 picked

  // A missing link (seq 4 claims a predecessor other than seq 3's hash).
  std::string wrong = wire::chain_hash("x", "y");
  auto second = chained({pick(4, 1)}, wrong);
  handle(batch_text(second));
  breaks = exceptions_of("hash_chain_break");
  ASSERT_EQ(breaks.size(), 2U);
  EXPECT_EQ(breaks[1].seq, 4U);
  // A resend of the same batch is a duplicate: nothing raised again.
  handle(batch_text(second));
  EXPECT_EQ(exceptions_of("hash_chain_break").size(), 2U);
}

// Device status (docs/PROTOCOL.md "Device status at the ledger").
const std::string kStatusTopic = "tally/v1/s1/d1/status";

std::string status_text(bool online, std::uint64_t pending, std::uint64_t last_seq, json extra = json::object()) {
  json j = {{"v", 1}, {"online", online}, {"pending", pending}, {"last_seq", last_seq}, {"version", "0.1.0"}};
  j.update(extra);
  return j.dump();
}

TEST(LedgerTopic, ParsesStatusTopics) {
  auto t = parse_status_topic("tally/v1/site-a/dev-1/status");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->site, "site-a");
  EXPECT_EQ(t->device, "dev-1");
  EXPECT_FALSE(parse_status_topic("tally/v1/site-a/status"));
  EXPECT_FALSE(parse_status_topic("tally/v1/a/b/c/status"));
  EXPECT_FALSE(parse_status_topic("tally/v1/a/b/movements"));
  EXPECT_FALSE(parse_movements_topic("tally/v1/a/b/status"));
}

TEST_P(StoreContract, StatusIsKeptPerDeviceNewestWinsAndSurvivesRestart) {
  auto h = ledger_->handle_movements(kStatusTopic, status_text(true, 3, 10, {{"device", "d1"}, {"site", "s1"}}), kT0);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->ack);  // statuses are not acknowledged
  EXPECT_FALSE(h->dead_letter);
  handle(status_text(false, 0, 0), "tally/v1/s2/d2/status");
  auto all = store_->device_statuses();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].device, "d1");
  EXPECT_EQ((*all)[0].site, "s1");
  EXPECT_TRUE((*all)[0].online);
  EXPECT_EQ((*all)[0].pending, 3U);
  EXPECT_EQ((*all)[0].last_seq, 10U);
  EXPECT_EQ((*all)[0].version, "0.1.0");
  EXPECT_EQ((*all)[0].received_ms, kT0);
  EXPECT_EQ((*all)[1].device, "d2");
  EXPECT_EQ((*all)[1].site, "s2");
  EXPECT_FALSE((*all)[1].online);

  // Several in one group: the last one of a device wins.
  std::vector<Ledger::Inbound> group{{kStatusTopic, status_text(true, 2, 11)},
                                     {kStatusTopic, status_text(false, 1, 12)}};
  for (const auto& r : ledger_->handle_many(group, kT0 + 1000)) EXPECT_TRUE(r);
  all = store_->device_statuses();
  EXPECT_FALSE((*all)[0].online);
  EXPECT_EQ((*all)[0].pending, 1U);
  EXPECT_EQ((*all)[0].last_seq, 12U);
  EXPECT_EQ((*all)[0].received_ms, kT0 + 1000);

  // The broker's retained copy of the same content (a ledger reconnect) keeps
  // the time it first arrived; a retained copy with other content does not.
  ledger_->handle_many({{kStatusTopic, status_text(false, 1, 12), true}}, kT0 + 9000);
  EXPECT_EQ((*store_->device_statuses())[0].received_ms, kT0 + 1000);
  ledger_->handle_many({{kStatusTopic, status_text(false, 4, 15), true}}, kT0 + 9000);
  EXPECT_EQ((*store_->device_statuses())[0].received_ms, kT0 + 9000);
  // A live copy of the same content is news (a new birth).
  ledger_->handle_many({{kStatusTopic, status_text(false, 4, 15)}}, kT0 + 10000);
  EXPECT_EQ((*store_->device_statuses())[0].received_ms, kT0 + 10000);

  // A last will carries the counters of the device's connect (lower than what
  // its later statuses said): offline, with the newer counters kept.
  ledger_->handle_many({{kStatusTopic, status_text(true, 6, 20)}}, kT0 + 11000);
  ledger_->handle_many({{kStatusTopic, status_text(false, 4, 15)}}, kT0 + 12000);
  all = store_->device_statuses();
  EXPECT_FALSE((*all)[0].online);
  EXPECT_EQ((*all)[0].pending, 6U);
  EXPECT_EQ((*all)[0].last_seq, 20U);
  EXPECT_EQ((*all)[0].received_ms, kT0 + 12000);
  // A new journal under the same id starts again low: taken as it comes.
  ledger_->handle_many({{kStatusTopic, status_text(true, 4, 15)}}, kT0 + 13000);
  EXPECT_EQ((*store_->device_statuses())[0].last_seq, 15U);

  // An empty payload (someone cleared the retained status) changes nothing.
  auto cleared = ledger_->handle_movements(kStatusTopic, "", kT0 + 20000);
  ASSERT_TRUE(cleared);
  EXPECT_FALSE(cleared->dead_letter);
  EXPECT_EQ((*store_->device_statuses())[0].pending, 4U);

  reopen();
  all = store_->device_statuses();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].pending, 4U);
  EXPECT_EQ((*all)[0].last_seq, 15U);
  EXPECT_TRUE(store_->dead_letters(10)->empty());
}

TEST_P(StoreContract, BadStatusesAreDeadLettersAndChangeNothing) {
  handle(status_text(true, 1, 5), kStatusTopic);
  for (const std::string& payload :
       {std::string("{not json"), std::string("[1]"), status_text(true, 1, 5, {{"v", 2}}),
        status_text(true, 1, 5, {{"online", "yes"}}), status_text(true, 1, 5, {{"pending", -1}}),
        status_text(true, 1, 5, {{"last_seq", 1.5}}), status_text(true, 6, 5),
        status_text(true, 1, 5, {{"version", 7}}), status_text(true, 1, 5, {{"version", std::string(65, 'x')}}),
        status_text(true, 1, 5, {{"last_seq", 9223372036854775808ULL}}),
        json{{"v", 1}, {"pending", 1}, {"last_seq", 5}, {"version", ""}}.dump(),  // no "online"
        status_text(true, 1, 5, {{"device", 7}}), status_text(false, 0, 9, {{"device", "d2"}}),
        status_text(false, 0, 9, {{"site", "s9"}})}) {
    auto h = handle(payload, kStatusTopic);
    EXPECT_TRUE(h.dead_letter) << payload;
    EXPECT_FALSE(h.ack) << payload;
  }
  auto dl = store_->dead_letters(100);
  ASSERT_TRUE(dl);
  ASSERT_EQ(dl->size(), 14U);
  EXPECT_EQ((*dl)[0].topic, kStatusTopic);
  EXPECT_EQ((*dl)[0].reason.rfind("forged_device", 0), 0U) << (*dl)[0].reason;
  EXPECT_EQ((*dl)[2].reason.rfind("bad_status", 0), 0U) << (*dl)[2].reason;
  auto all = store_->device_statuses();
  ASSERT_EQ(all->size(), 1U);
  EXPECT_TRUE((*all)[0].online);
  EXPECT_EQ((*all)[0].pending, 1U);
  EXPECT_EQ((*all)[0].last_seq, 5U);
  // A forged status stays retained at the broker and comes again on every
  // ledger connect: one forged_device exception while it is unresolved.
  EXPECT_EQ(exceptions_of("forged_device").size(), 1U);
  ledger_->handle_many({{kStatusTopic, status_text(false, 0, 9, {{"device", "d2"}}), true}}, kT0);
  EXPECT_EQ(exceptions_of("forged_device").size(), 1U);
  EXPECT_EQ(store_->dead_letters(100)->size(), 15U);  // each arrival is a dead letter
  EXPECT_EQ(stored(), 0U);
}

TEST_P(StoreContract, KpiSamplesKeepAGapPruneAndSurviveRestart) {
  constexpr std::int64_t kGap = 30'000;
  for (int i = 0; i < 5; ++i) {
    const std::int64_t t = kT0 + i * 60'000;
    auto added = store_->add_kpi_sample(KpiSample{t, json{{"i", i}}.dump()}, kGap, t - 180'000);
    ASSERT_TRUE(added) << added.error().message;
    EXPECT_TRUE(*added);
    // A second instance sampling 10 s later is within the gap: not stored.
    auto twin = store_->add_kpi_sample(KpiSample{t + 10'000, json{{"twin", i}}.dump()}, kGap, t - 180'000);
    ASSERT_TRUE(twin);
    EXPECT_FALSE(*twin);
  }
  // Samples at 0..4 min, each pruning those older than 3 min before it: 1..4 remain.
  auto rows = store_->kpi_samples(KpiSampleQuery{});
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 4U);
  EXPECT_EQ(rows->front().time_ms, kT0 + 60'000);  // oldest first
  EXPECT_EQ(json::parse(rows->back().kpis)["i"], 4);
  // The newest `limit` of a range.
  rows = store_->kpi_samples(KpiSampleQuery{kT0 + 60'000, kT0 + 240'000, 1});
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ(rows->front().time_ms, kT0 + 180'000);
  reopen();
  rows = store_->kpi_samples(KpiSampleQuery{0, 0, 100});
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 4U);
}

}  // namespace
}  // namespace tally::ledger
