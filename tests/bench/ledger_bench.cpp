// Ledger apply throughput from batches of 500 against raw SQLite inserts of
// the same rows, measured in the same run (paired, like journal_bench).
//
// Target (DESIGN.md): >= 100 000 movements/s applied from batches.
//
//   ledger_bench [--dir=DIR] [google-benchmark flags]
//
// Each iteration takes the next batch of 500 movements of one device (a mix
// of receipts, put-aways and picks over 1 000 items and bins, ~400-byte
// payloads with evidence) and, in alternating order:
// - ledger: Ledger::handle_movements(topic, batch JSON text): parse, check
//   topic/version/device, movement_from_json + validate each, one
//   BEGIN IMMEDIATE … COMMIT with the device row, 500 movement rows and 1 000
//   balance upserts (negative-balance check on the subtracted side);
// - raw: one BEGIN IMMEDIATE … COMMIT inserting the same 500 movement rows
//   (same schema, same pragmas, prepared statement, canonical payload
//   serialised up front, so raw does no JSON and no balances).
// Both are timed separately; the counters and the last lines give the rates
// and ledger/raw. Arg 1: synchronous=FULL (what tally-ledger runs), Arg 0:
// synchronous=OFF (for information).
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg_server.hpp"
#include "tally/ledger/ledger.hpp"
#include "tally/ledger/postgres_store.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"

namespace {

namespace fs = std::filesystem;
using tally::scanner::Endpoint;
using tally::scanner::Location;
using tally::scanner::Movement;
using tally::scanner::MovementType;
using tally::scanner::StockState;

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr std::size_t kBatch = 500;
constexpr int kItems = 1000;

fs::path g_root;
int g_file_counter = 0;

struct Totals {
  double ledger_s = 0;
  double raw_s = 0;
  std::uint64_t movements = 0;
};
std::map<std::pair<int, int>, Totals> g_totals;  // by (durable, group)
std::map<std::pair<int, int>, Totals> g_pg_totals;  // by (durable, group): ledger_s = PostgreSQL, raw_s = SQLite

fs::path fresh_file(const char* name) {
  return g_root / (std::string(name) + "-" + std::to_string(g_file_counter++) + ".db");
}

Movement make(std::uint64_t seq) {
  Movement m;
  m.device = "bench-01";
  m.site = "bench-site";
  m.seq = seq;
  m.operator_id = "alice";
  const int item = static_cast<int>((seq / 3) % kItems);
  char bin[32];
  std::snprintf(bin, sizeof bin, "A-%02d-%02d-1", item / 100, item % 100);
  m.item.sku = "SKU-" + std::to_string(item);
  m.item.lot = "L42";
  m.qty = 3;
  switch (seq % 3) {
    case 1:
      m.type = MovementType::receipt;
      m.from = Endpoint{Location{"@supplier"}, std::nullopt};
      m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      m.reference = "PO:4500012";
      break;
    case 2:
      m.type = MovementType::putaway;
      m.from = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      m.to = Endpoint{Location{bin}, StockState::available};
      break;
    default:
      m.type = MovementType::pick;
      m.from = Endpoint{Location{bin}, StockState::available};
      m.to = Endpoint{Location{"TOTE:17"}, StockState::picked};
      m.reference = "ORD:991";
      break;
  }
  m.evidence = {"OP:alice", "CMD:MOVE", bin, m.item.sku, "TOTE:17"};
  m.wall_time_ms = kT0 + static_cast<std::int64_t>(seq);
  m.hlc = (static_cast<std::uint64_t>(kT0) << 16) + seq;
  return m;
}

struct Prepared {
  std::string payload;             // the batch message
  std::vector<Movement> movements;  // for the raw side
  std::vector<std::string> texts;   // canonical payloads
};

Prepared prepare_batch(std::uint64_t first_seq) {
  Prepared p;
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < kBatch; ++i) {
    Movement m = make(first_seq + i);
    p.texts.push_back(tally::wire::to_json_text(m));
    list.push_back(tally::wire::to_json(m));
    p.movements.push_back(std::move(m));
  }
  p.payload = nlohmann::json{{"v", 1}, {"device", "bench-01"}, {"site", "bench-site"}, {"movements", list}}.dump();
  return p;
}

// Raw SQLite: the same schema (made by open_sqlite_store) and pragmas.
class Raw {
 public:
  Raw(const fs::path& path, bool durable) {
    { auto s = tally::ledger::open_sqlite_store({path, durable}); }  // schema
    sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                                (durable ? "FULL" : "OFF") + "; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
    sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, nullptr);
    sqlite3_prepare_v3(db_,
                       "INSERT INTO movements(device, seq, type, item, lot, qty, from_location, from_state, "
                       "to_location, to_state, payload, applied_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                       "?11, ?12)",
                       -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr);
    sqlite3_prepare_v3(db_, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &begin_, nullptr);
    sqlite3_prepare_v3(db_, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &commit_, nullptr);
  }
  ~Raw() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(begin_);
    sqlite3_finalize(commit_);
    sqlite3_close_v2(db_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool insert(const std::vector<Prepared>& group) {
    if (sqlite3_step(begin_) != SQLITE_DONE) {
      std::fprintf(stderr, "raw begin: %s\n", sqlite3_errmsg(db_));
      return false;
    }
    sqlite3_reset(begin_);
    for (const Prepared& p : group) {
    for (std::size_t i = 0; i < p.movements.size(); ++i) {
      const Movement& m = p.movements[i];
      const auto text = [this](int idx, std::string_view s) {
        sqlite3_bind_text64(insert_, idx, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
      };
      const std::string_view fs = m.from.state ? tally::scanner::to_string(*m.from.state) : std::string_view("");
      const std::string_view ts = m.to.state ? tally::scanner::to_string(*m.to.state) : std::string_view("");
      text(1, m.device);
      sqlite3_bind_int64(insert_, 2, static_cast<sqlite3_int64>(m.seq));
      text(3, tally::scanner::to_string(m.type));
      text(4, m.item.id());
      text(5, m.item.lot);
      sqlite3_bind_int64(insert_, 6, m.qty);
      text(7, m.from.location.code);
      text(8, fs);
      text(9, m.to.location.code);
      text(10, ts);
      text(11, p.texts[i]);
      sqlite3_bind_int64(insert_, 12, kT0);
      const int rc = sqlite3_step(insert_);
      sqlite3_reset(insert_);
      if (rc != SQLITE_DONE) {
        std::fprintf(stderr, "raw insert: %s\n", sqlite3_errmsg(db_));
        return false;
      }
    }
    }
    const int rc = sqlite3_step(commit_);
    sqlite3_reset(commit_);
    return rc == SQLITE_DONE;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Args: durable (1: synchronous=FULL), group (batches per transaction: 1 is
// one transaction per batch; more is tally-ledger's group commit when batches
// are queued, the raw side then also inserts the group in one transaction).
void BM_ApplyBatch500(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  const auto group = static_cast<std::size_t>(state.range(1));
  auto store = tally::ledger::open_sqlite_store({fresh_file("ledger"), durable});
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  tally::ledger::Ledger ledger(**store, {});
  Raw raw(fresh_file("raw"), durable);
  const std::string topic = "tally/v1/bench-site/bench-01/movements";
  std::uint64_t next_seq = 1;
  double ledger_s = 0;
  double raw_s = 0;
  bool ledger_first = true;
  for (auto _ : state) {
    std::vector<Prepared> batches;
    std::vector<tally::ledger::Ledger::Inbound> msgs;
    for (std::size_t g = 0; g < group; ++g) {
      batches.push_back(prepare_batch(next_seq));
      msgs.push_back({topic, batches.back().payload});
      next_seq += kBatch;
    }
    double l = 0;
    double r = 0;
    const auto run_ledger = [&] {
      const auto t0 = std::chrono::steady_clock::now();
      auto results = ledger.handle_many(msgs, kT0);
      l = seconds_since(t0);
      for (const auto& h : results) {
        if (!h) std::fprintf(stderr, "apply: %s\n", h.error().message.c_str());
        if (!h || !h->outcome || h->outcome->applied != kBatch) return false;
      }
      return true;
    };
    const auto run_raw = [&] {
      const auto t0 = std::chrono::steady_clock::now();
      const bool ok = raw.insert(batches);
      r = seconds_since(t0);
      return ok;
    };
    bool ok = ledger_first ? (run_ledger() && run_raw()) : (run_raw() && run_ledger());
    ledger_first = !ledger_first;
    if (!ok) {
      state.SkipWithError("apply or raw insert failed");
      return;
    }
    ledger_s += l;
    raw_s += r;
    state.SetIterationTime(l);
  }
  const double n = static_cast<double>(state.iterations() * kBatch * group);
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  if (ledger_s > 0 && raw_s > 0) {
    state.counters["ledger_per_s"] = n / ledger_s;
    state.counters["raw_per_s"] = n / raw_s;
    state.counters["ledger_over_raw"] = raw_s / ledger_s;
  }
  auto& t = g_totals[{static_cast<int>(state.range(0)), static_cast<int>(group)}];
  t.ledger_s += ledger_s;
  t.raw_s += raw_s;
  t.movements += static_cast<std::uint64_t>(n);
}
BENCHMARK(BM_ApplyBatch500)
    ->Args({1, 1})
    ->Args({0, 1})
    ->Args({1, 8})
    ->ArgNames({"durable", "group"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// tally-ledger's pipeline: one thread parses (Ledger::prepare) the next
// group of 8 batches while this one applies the previous group in one
// transaction (synchronous=FULL). The rate is wall-clock movements/s of the
// whole pipeline; the payloads are generated before timing starts.
void BM_Pipelined(benchmark::State& state) {
  constexpr std::size_t kGroup = 8;
  const auto iterations = static_cast<std::size_t>(state.max_iterations);
  auto store = tally::ledger::open_sqlite_store({fresh_file("pipe"), true});
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  tally::ledger::Ledger ledger(**store, {});
  const std::string topic = "tally/v1/bench-site/bench-01/movements";
  std::vector<std::vector<tally::ledger::Ledger::Inbound>> groups(iterations + 1);
  std::uint64_t next_seq = 1;
  for (auto& g : groups) {
    for (std::size_t i = 0; i < kGroup; ++i) {
      g.push_back({topic, prepare_batch(next_seq).payload});
      next_seq += kBatch;
    }
  }
  const auto parse = [&ledger](std::vector<tally::ledger::Ledger::Inbound> msgs) {
    std::vector<tally::ledger::Ledger::Prepared> out;
    for (auto& m : msgs) out.push_back(tally::ledger::Ledger::prepare(ledger.options(), std::move(m), kT0));
    return out;
  };
  auto next = std::async(std::launch::async, parse, std::move(groups[0]));
  std::size_t k = 1;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto parsed = next.get();
    if (k < groups.size()) next = std::async(std::launch::async, parse, std::move(groups[k++]));
    auto results = ledger.apply_prepared(parsed, kT0);
    for (const auto& h : results) {
      if (!h || !h->outcome || h->outcome->applied != kBatch) state.SkipWithError("apply failed");
    }
  }
  const double wall = seconds_since(t0);
  if (next.valid()) next.wait();
  const double n = static_cast<double>(state.iterations() * kBatch * kGroup);
  state.counters["ledger_per_s"] = n / wall;
  std::printf("pipelined (parse thread + store thread), synchronous=FULL, 8 batches of 500 per transaction: "
              "%.0f movements/s\n", n / wall);
}
BENCHMARK(BM_Pipelined)->Iterations(25)->UseRealTime()->Unit(benchmark::kMillisecond);

// The PostgreSQL store (libpq) against the SQLite store on the same batches
// in the same run, both through Ledger::handle_many (parse + apply), in
// alternating order. PostgreSQL is a throwaway server started by the bench
// (tests/support/pg_server.hpp, unix socket only) with fsync on, so
// durable=1 is synchronous_commit=on against synchronous=FULL and durable=0
// synchronous_commit=off against synchronous=OFF. Skipped when PostgreSQL is
// not installed.
void BM_PostgresVsSqlite(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  const auto group = static_cast<std::size_t>(state.range(1));
  auto& pg = tally::test::PgServer::instance();
  if (!pg.available()) {
    state.SkipWithError(("PostgreSQL: " + pg.why_not()).c_str());
    return;
  }
  const std::string db = tally::test::PgServer::next_name();
  std::string error;
  const std::string conninfo = pg.create_database(db, error);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  auto pstore = tally::ledger::open_postgres_store({conninfo, durable});
  auto sstore = tally::ledger::open_sqlite_store({fresh_file("pgpair"), durable});
  if (!pstore || !sstore) {
    state.SkipWithError(!pstore ? pstore.error().message.c_str() : sstore.error().message.c_str());
    return;
  }
  tally::ledger::Ledger pledger(**pstore, {});
  tally::ledger::Ledger sledger(**sstore, {});
  const std::string topic = "tally/v1/bench-site/bench-01/movements";
  std::uint64_t next_seq = 1;
  double pg_s = 0;
  double sqlite_s = 0;
  bool pg_first = true;
  const auto apply = [](tally::ledger::Ledger& ledger, const std::vector<tally::ledger::Ledger::Inbound>& msgs,
                        double& seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    auto results = ledger.handle_many(msgs, kT0);
    seconds = seconds_since(t0);
    for (const auto& h : results) {
      if (!h) std::fprintf(stderr, "apply: %s\n", h.error().message.c_str());
      if (!h || !h->outcome || h->outcome->applied != kBatch) return false;
    }
    return true;
  };
  for (auto _ : state) {
    std::vector<tally::ledger::Ledger::Inbound> msgs;
    for (std::size_t g = 0; g < group; ++g) {
      msgs.push_back({topic, prepare_batch(next_seq).payload});
      next_seq += kBatch;
    }
    double p = 0;
    double s = 0;
    const bool ok = pg_first ? (apply(pledger, msgs, p) && apply(sledger, msgs, s))
                             : (apply(sledger, msgs, s) && apply(pledger, msgs, p));
    pg_first = !pg_first;
    if (!ok) {
      state.SkipWithError("apply failed");
      break;
    }
    pg_s += p;
    sqlite_s += s;
    state.SetIterationTime(p);
  }
  const double n = static_cast<double>(state.iterations() * kBatch * group);
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  if (pg_s > 0 && sqlite_s > 0) {
    state.counters["pg_per_s"] = n / pg_s;
    state.counters["sqlite_per_s"] = n / sqlite_s;
    state.counters["pg_over_sqlite"] = sqlite_s / pg_s;
  }
  auto& t = g_pg_totals[{static_cast<int>(state.range(0)), static_cast<int>(group)}];
  t.ledger_s += pg_s;
  t.raw_s += sqlite_s;
  t.movements += static_cast<std::uint64_t>(n);
  pstore->reset();  // closes the connection, so the database can go
  pg.drop_database(db);
}
BENCHMARK(BM_PostgresVsSqlite)
    ->Args({1, 1})
    ->Args({1, 8})
    ->Args({0, 8})
    ->ArgNames({"durable", "group"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// For information: the two halves of the ledger's cost, separately.
void BM_ParseBatch500(benchmark::State& state) {
  const Prepared p = prepare_batch(1);
  const tally::ledger::MovementsTopic topic{"bench-site", "bench-01"};
  for (auto _ : state) {
    auto b = tally::ledger::parse_batch(topic, p.payload, kT0);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_ParseBatch500)->Unit(benchmark::kMillisecond);

void BM_StoreApply500(benchmark::State& state) {
  auto store = tally::ledger::open_sqlite_store({fresh_file("store"), state.range(0) != 0});
  const tally::ledger::MovementsTopic topic{"bench-site", "bench-01"};
  std::uint64_t next_seq = 1;
  for (auto _ : state) {
    state.PauseTiming();
    auto b = tally::ledger::parse_batch(topic, prepare_batch(next_seq).payload, kT0);
    next_seq += kBatch;
    state.ResumeTiming();
    auto r = (*store)->apply_batch(*b);
    if (!r || r->applied != kBatch) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_StoreApply500)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dir=", 6) == 0) {
      dir = argv[i] + 6;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (dir.empty()) dir = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  g_root = fs::path(dir) / ("tally-ledger-bench-" + std::to_string(::getpid()));
  ::setenv("TALLY_PG_FSYNC", "1", 1);  // the PostgreSQL server flushes its WAL like a production one
  fs::create_directories(g_root);
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& [key, t] : g_totals) {
    if (t.ledger_s <= 0 || t.raw_s <= 0) continue;
    std::printf("%s, %d batch(es) of 500 per transaction: ledger apply %.0f movements/s, raw SQLite inserts %.0f "
                "rows/s, ledger/raw %.3f (%llu movements)\n",
                key.first != 0 ? "synchronous=FULL" : "synchronous=OFF", key.second,
                static_cast<double>(t.movements) / t.ledger_s,
                static_cast<double>(t.movements) / t.raw_s, t.raw_s / t.ledger_s,
                static_cast<unsigned long long>(t.movements));
  }
  for (const auto& [key, t] : g_pg_totals) {
    if (t.ledger_s <= 0 || t.raw_s <= 0) continue;
    std::printf("%s, %d batch(es) of 500 per transaction: PostgreSQL store %.0f movements/s, SQLite store %.0f "
                "movements/s, PostgreSQL/SQLite %.3f (%llu movements)\n",
                key.first != 0 ? "durable (synchronous_commit=on / synchronous=FULL)"
                               : "not durable (synchronous_commit=off / synchronous=OFF)",
                key.second, static_cast<double>(t.movements) / t.ledger_s,
                static_cast<double>(t.movements) / t.raw_s, t.raw_s / t.ledger_s,
                static_cast<unsigned long long>(t.movements));
  }
  std::error_code ignored;
  fs::remove_all(g_root, ignored);
  return 0;
}
