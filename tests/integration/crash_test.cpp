// kill -9 against the real tallyd: post scans in a loop, kill the process at
// a random moment, restart, repeat; then check that every scan answered 2xx
// is in the journal exactly once, every answered movement is there unchanged,
// and the seqs have no gaps.
//
// TALLY_CRASH_ROUNDS (default 6) and TALLY_CRASH_SEED make longer or
// reproducible runs (docs/OPERATIONS.md, "Soak and crash runs").
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon.hpp"
#include "http_client.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

struct Answered {
  std::int64_t scan_id = 0;
  std::string text;
  nlohmann::json movement;  // null unless the scan completed one
};

unsigned env_or(const char* name, unsigned fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : fallback;
}

// Posts a move workflow over and over until the connection breaks. Bin
// labels carry a running number, so most scan texts are unique.
class Picker {
 public:
  Picker(std::uint16_t port, unsigned& cycle, std::vector<Answered>& answered)
      : client_(port, "127.0.0.1", std::chrono::seconds(5)), cycle_(cycle), answered_(answered) {}

  void run() {
    try {
      post("OP:alice");
      post("CMD:CANCEL");  // an open step from before the crash, if any
      post("CMD:MOVE");
      for (;;) {
        const unsigned n = ++cycle_;
        post("A-" + std::to_string(n) + "-1-1");
        for (unsigned i = 0; i <= n % 3; ++i) post("4006381333931");
        post("B-" + std::to_string(n) + "-2-2");
      }
    } catch (const std::exception&) {
      // The daemon died under us: expected.
    }
  }

 private:
  void post(const std::string& text) {
    auto r = client_.post_json("/api/v1/scans", nlohmann::json{{"text", text}}.dump());
    if (r.status / 100 != 2) return;  // refused scans change nothing; not tracked
    const auto body = r.json();
    answered_.push_back({body.at("scan_id").get<std::int64_t>(), text,
                         body.contains("movement") ? body["movement"] : nlohmann::json()});
  }

  HttpClient client_;
  unsigned& cycle_;
  std::vector<Answered>& answered_;
};

struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("open " + path);
    }
  }
  ~Db() { sqlite3_close(db); }
  // Rows of a query as strings.
  std::vector<std::vector<std::string>> rows(const char* sql) const {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    std::vector<std::vector<std::string>> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* t = sqlite3_column_text(st, i);
        row.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }
};

TEST(CrashTest, EveryAnsweredScanSurvivesKill9ExactlyOnce) {
  const unsigned rounds = env_or("TALLY_CRASH_ROUNDS", 6);
  const unsigned seed = env_or("TALLY_CRASH_SEED", std::random_device{}());
  RecordProperty("seed", static_cast<int>(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_after_ms(30, 400);
  SCOPED_TRACE("TALLY_CRASH_SEED=" + std::to_string(seed));

  TempDir dir("tally-crash");
  const std::vector<std::string> args = {"--data-dir", dir.str(), "--device-id", "crash-1", "--site", "test",
                                         "--http",     "127.0.0.1:0", "--log-level", "error", "--mqtt", ""};
  std::vector<Answered> answered;
  unsigned cycle = 0;
  for (unsigned round = 0; round < rounds; ++round) {
    Daemon d(TALLYD_PATH, args);
    const auto port = d.wait_listening();
    Picker picker(port, cycle, answered);
    std::thread client(&Picker::run, &picker);
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms(rng)));
    d.kill9();
    client.join();
  }
  ASSERT_GT(answered.size(), rounds * 3U) << "the client got too few answers to prove anything";

  // Restart once more: the journal must open and agree with what was answered.
  Daemon d(TALLYD_PATH, args);
  HttpClient http(d.wait_listening());
  std::map<std::uint64_t, nlohmann::json> listed;
  for (std::uint64_t after = 0;;) {
    auto page = http.get("/api/v1/movements?after=" + std::to_string(after) + "&limit=1000").json();
    if (page["movements"].empty()) break;
    for (const auto& m : page["movements"]) listed[m["seq"].get<std::uint64_t>()] = m;
    after = page["next_after"].get<std::uint64_t>();
  }
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait().code, 0);

  Db db((dir.path() / "journal.db").string());
  std::map<std::int64_t, std::string> scans;
  for (const auto& row : db.rows("SELECT id, text FROM scans")) scans[std::stoll(row[0])] = row[1];

  std::set<std::int64_t> ids;
  std::size_t answered_movements = 0;
  for (const auto& a : answered) {
    EXPECT_TRUE(ids.insert(a.scan_id).second) << "scan id answered twice: " << a.scan_id;
    const auto it = scans.find(a.scan_id);
    ASSERT_NE(it, scans.end()) << "answered scan lost: " << a.text << " (id " << a.scan_id << ")";
    EXPECT_EQ(it->second, a.text) << "scan id " << a.scan_id << " holds another scan";
    if (!a.movement.is_null()) {
      ++answered_movements;
      const auto seq = a.movement["seq"].get<std::uint64_t>();
      ASSERT_TRUE(listed.count(seq)) << "answered movement lost: seq " << seq;
      EXPECT_EQ(listed[seq], a.movement);
    }
  }
  // Seqs are 1..N without gaps, in the journal and in the API.
  const auto seqs = db.rows("SELECT seq FROM movements ORDER BY seq");
  for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(std::stoull(seqs[i][0]), i + 1);
  EXPECT_EQ(listed.size(), seqs.size());
  EXPECT_GE(seqs.size(), answered_movements);
  EXPECT_GT(answered_movements, 0U);
}

}  // namespace
}  // namespace tally::test
