// Offline pick allowances (escrow, issue 5) end to end: a real mosquitto, the
// real tally-ledger with [allowances] on, and two real tallyd. Both devices
// get pick tasks for the same bin and an allowance each out of its stock
// while online; the broker stops; both pick the same units offline: the
// picks within each allowance raise nothing, the one beyond it is recorded
// and raised on that device at once. After the broker is back the ledger
// has every pick, the device's allowance_exceeded and its own
// negative_balance / conflicting_picks for the oversold bin.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "tally/journal/journal.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSite = "test";
constexpr const char* kItem = "09506000134352";
constexpr const char* kBin = "A-01-01-1";

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);  // test side only
  }
  return done();
}

class Escrow : public ::testing::Test {
 protected:
  // `qty` units received and put away into kBin by hh-1 (its journal, before it starts).
  void stock(std::int64_t qty) {
    journal::Options o;
    o.path = dir_.path() / "hh-1" / "journal.db";
    o.device = "hh-1";
    o.site = kSite;
    std::filesystem::create_directories(o.path.parent_path());
    auto j = journal::Journal::open(o);
    ASSERT_TRUE(j) << j.error().message;
    std::vector<journal::Entry> entries;
    for (int i = 0; i < 2; ++i) {
      journal::Entry e;
      e.scan = journal::ScanRecord{kItem, "", "test", "alice", "receive", "good", "movement_recorded", 1'790'000'000'000};
      scanner::Movement m;
      m.operator_id = "alice";
      m.item.gtin = kItem;
      m.qty = qty;
      m.type = i == 0 ? scanner::MovementType::receipt : scanner::MovementType::putaway;
      m.from = i == 0 ? scanner::Endpoint{scanner::Location{"@supplier"}, std::nullopt}
                      : scanner::Endpoint{scanner::Location{"DOCK-1"}, scanner::StockState::inbound};
      m.to = i == 0 ? scanner::Endpoint{scanner::Location{"DOCK-1"}, scanner::StockState::inbound}
                    : scanner::Endpoint{scanner::Location{kBin}, scanner::StockState::available};
      m.evidence = {kItem};
      m.wall_time_ms = e.scan.time_ms;
      e.movement = std::move(m);
      entries.push_back(std::move(e));
    }
    ASSERT_TRUE((*j)->append_batch(entries));
  }
  std::vector<std::string> tallyd_args(const std::string& device, const std::string& mqtt) const {
    return {"--config", config_.string(), "--data-dir", (dir_.path() / device).string(), "--device-id", device,
            "--site", kSite, "--http", "127.0.0.1:0", "--log-level", "warn", "--mqtt", mqtt};
  }
  static json post(HttpClient& c, const std::string& text, unsigned want) {
    const auto r = c.post_json("/api/v1/scans", json{{"text", text}}.dump());
    EXPECT_EQ(r.status, want) << text << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  void task(HttpClient& ledger, const std::string& device) {
    const json body = {{"site", kSite},
                       {"device", device},
                       {"task",
                        {{"id", "TASK:" + device},
                         {"type", "pick"},
                         {"lines", {{{"line", 1}, {"gtin", kItem}, {"qty", 2}, {"bin", kBin}}}}}}};
    const auto r = ledger.post_json("/api/v1/tasks", body.dump());
    ASSERT_EQ(r.status / 100, 2U) << r.body;
  }
  static bool synced(HttpClient& c) {
    const json s = c.get("/api/v1/status").json();
    const json& j = s["journal"];
    return j["acked_seq"] == j["last_seq"] && j["exceptions"]["pending"] == 0;
  }

  TempDir dir_{"escrow"};
  std::filesystem::path config_ = dir_.path() / "tallyd.toml";
  std::filesystem::path ledger_config_ = dir_.path() / "ledger.toml";
};

TEST_F(Escrow, TwoOfflineDevicesCannotSilentlyOversellTheSameUnits) {
  stock(4);
  std::ofstream(config_) << "[mqtt]\nlinger_ms = 5\nresend_timeout_ms = 1000\nbackoff_min_ms = 50\n"
                            "backoff_max_ms = 300\nkeepalive_s = 5\n";
  std::ofstream(ledger_config_) << "[allowances]\nenabled = true\nttl_s = 3600\ngrant_to = \"tasks\"\n"
                                   "refresh_ms = 200\n";
  Mosquitto broker;
  Daemon ledger(TALLY_LEDGER_PATH, {"--config", ledger_config_.string(), "--data-dir",
                                    (dir_.path() / "ledger").string(), "--mqtt", broker.uri(), "--http",
                                    "127.0.0.1:0", "--log-level", "warn"});
  HttpClient l(ledger.wait_listening());
  Daemon d1(TALLYD_PATH, tallyd_args("hh-1", broker.uri()));
  Daemon d2(TALLYD_PATH, tallyd_args("hh-2", broker.uri()));
  HttpClient c1(d1.wait_listening());
  HttpClient c2(d2.wait_listening());
  task(l, "hh-1");
  task(l, "hh-2");

  // Online: the stock is applied, both devices hold their tasks and an
  // allowance of 2 of the 4 units each.
  const auto grants = [](HttpClient& c) {
    const json s = c.get("/api/v1/status").json();
    return s["allowances"].is_object() ? s["allowances"]["grants"].get<int>() : 0;
  };
  const auto tasks = [](HttpClient& c) { return c.get("/api/v1/status").json()["tasks"].size(); };
  ASSERT_TRUE(eventually([&] { return grants(c1) == 1 && grants(c2) == 1 && tasks(c1) == 1 && tasks(c2) == 1; },
                         30s))
      << c1.get("/api/v1/status").body << "\n" << c2.get("/api/v1/status").body << d1.drain_stderr()
      << ledger.drain_stderr();
  ASSERT_TRUE(synced(c1));

  broker.stop();  // both offline from here
  for (HttpClient* c : {&c1, &c2}) {
    post(*c, "OP:alice", 200);
    post(*c, "CMD:PICK", 200);  // starts the device's task: 2 x item from kBin
    post(*c, kBin, 200);
    post(*c, kItem, 200);
    post(*c, kItem, 200);
    const json done = post(*c, "TOTE:1", 201);
    EXPECT_EQ(done["feedback"], "good") << done;
    EXPECT_FALSE(done.contains("exception")) << done;  // within its allowance
    EXPECT_EQ(done["allowance"]["remaining"], 0) << done;
  }
  // hh-2 takes one more unit ad hoc: beyond its allowance, flagged at once.
  post(c2, "CMD:PICK", 200);
  post(c2, kBin, 200);
  post(c2, kItem, 200);
  const json over = post(c2, "TOTE:1", 201);
  EXPECT_EQ(over["feedback"], "warning") << over;
  ASSERT_TRUE(over.contains("exception")) << over;
  EXPECT_EQ(over["exception"]["kind"], "allowance_exceeded") << over;
  const std::uint64_t over_seq = over["movement"]["seq"];
  const json st2 = c2.get("/api/v1/status").json();
  EXPECT_EQ(st2["journal"]["exceptions"]["pending"], 1) << st2;  // raised on the device, offline
  EXPECT_EQ(c1.get("/api/v1/status").json()["journal"]["exceptions"]["pending"], 0);

  broker.start();
  ASSERT_TRUE(eventually([&] { return synced(c1) && synced(c2); }, 60s))
      << c1.get("/api/v1/status").body << "\n" << c2.get("/api/v1/status").body;

  // The ledger has all three picks, the device's exception (linked to the
  // pick's seq) and its own oversell exception for the bin.
  const json balances = l.get(std::string("/api/v1/balances?location=") + kBin + "&state=available").json();
  ASSERT_EQ(balances["balances"].size(), 1U) << balances;
  EXPECT_EQ(balances["balances"][0]["qty"], -1) << balances;
  const json ex = l.get("/api/v1/exceptions").json()["exceptions"];
  int allowance = 0, oversold = 0;
  for (const auto& e : ex) {
    if (e["kind"] == "allowance_exceeded") {
      ++allowance;
      EXPECT_EQ(e["device"], "hh-2") << e;
      EXPECT_EQ(e["seq"], over_seq) << e;
      EXPECT_EQ(e["owner"], "inventory") << e;
      EXPECT_EQ(e["priority"], "high") << e;
      EXPECT_EQ(e["evidence"]["seqs"], json::array({over_seq})) << e;
    }
    if (e["kind"] == "negative_balance" || e["kind"] == "conflicting_picks") {
      ++oversold;
      EXPECT_EQ(e["evidence"]["location"], kBin) << e;
    }
  }
  EXPECT_EQ(allowance, 1) << ex;
  EXPECT_EQ(oversold, 1) << ex;
  const json inv = l.get("/api/v1/invariants").json();
  EXPECT_TRUE(inv.contains("violations") && inv["violations"].empty()) << inv;

  for (Daemon* d : {&d1, &d2}) {
    d->signal(SIGTERM);
    EXPECT_EQ(d->wait().code, 0);
  }
}

}  // namespace
}  // namespace tally::test
