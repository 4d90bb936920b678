// The whole stack under faults (issue 5's open item, issue 9): the real
// tallyd draining a backlog through a real mosquitto into the real
// tally-ledger, while the broker restarts mid-drain and tallyd is killed with
// -9 mid-drain, with live scans before, during and after. At the end every
// journaled movement is in the ledger exactly once with the journal's
// content, the balances equal the sum of the journal's movements and the
// ledger's invariants hold.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "eventually.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "tally/journal/journal.hpp"
#include "tally/wire/movement_json.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kDevice = "hh-1";
constexpr const char* kSite = "test";
constexpr std::uint64_t kBacklog = 1500;

class FullStackFaults : public ::testing::Test {
 protected:
  journal::Options journal_options() const {
    journal::Options o;
    o.path = dir_.path() / "device" / "journal.db";
    o.device = kDevice;
    o.site = kSite;
    return o;
  }

  // A backlog as after an offline shift: receipts of 2 into DOCK-1 and
  // put-aways of 2 into a bin, alternating (stock never goes negative).
  void prefill() {
    journal::Options o = journal_options();
    o.durable = false;  // set-up speed only
    std::filesystem::create_directories(o.path.parent_path());
    auto j = journal::Journal::open(o);
    ASSERT_TRUE(j) << j.error().message;
    std::vector<journal::Entry> batch;
    for (std::uint64_t i = 0; i < kBacklog; ++i) {
      journal::Entry e;
      const std::string bin = "A-" + std::to_string(10 + i % 50) + "-1-1";
      e.scan = journal::ScanRecord{bin, "code128", "test", "alice", "move", "good", "movement_recorded",
                                   1'790'000'000'000 + static_cast<std::int64_t>(i)};
      scanner::Movement m;
      m.operator_id = "alice";
      m.item.gtin = "09506000134352";
      m.qty = 2;
      if (i % 2 == 0) {
        m.type = scanner::MovementType::receipt;
        m.from = scanner::Endpoint{scanner::Location{"@supplier"}, std::nullopt};
        m.to = scanner::Endpoint{scanner::Location{"DOCK-1"}, scanner::StockState::inbound};
        m.reference = "PO:4500012";
      } else {
        m.type = scanner::MovementType::putaway;
        m.from = scanner::Endpoint{scanner::Location{"DOCK-1"}, scanner::StockState::inbound};
        m.to = scanner::Endpoint{scanner::Location{bin}, scanner::StockState::available};
      }
      m.evidence = {"DOCK-1", "09506000134352", bin};
      m.wall_time_ms = e.scan.time_ms;
      e.movement = std::move(m);
      batch.push_back(std::move(e));
      if (batch.size() == 500) {
        ASSERT_TRUE((*j)->append_batch(batch));
        batch.clear();
      }
    }
  }

  std::vector<std::string> tallyd_args(const std::string& mqtt) const {
    return {"--config", config_.string(), "--data-dir", (dir_.path() / "device").string(), "--device-id", kDevice,
            "--site", kSite, "--http", "127.0.0.1:0", "--log-level", "warn", "--mqtt", mqtt};
  }
  std::vector<std::string> ledger_args(const std::string& mqtt) const {
    return {"--data-dir", (dir_.path() / "ledger").string(), "--mqtt", mqtt, "--http", "127.0.0.1:0",
            "--log-level", "warn"};
  }

  static void scan(HttpClient& c, const std::string& text) {
    const auto r = c.post_json("/api/v1/scans", json{{"text", text}}.dump());
    ASSERT_EQ(r.status / 100, 2U) << text << ": " << r.body;
  }
  // n moves of one unit between two bins that the backlog filled.
  void live_moves(HttpClient& c, int n) {
    for (int i = 0; i < n; ++i, ++live_) {
      scan(c, "A-" + std::to_string(10 + live_ % 50) + "-1-1");
      scan(c, "09506000134352");
      scan(c, "B-" + std::to_string(live_ % 7) + "-1-1");
    }
  }
  static std::uint64_t applied(HttpClient& ledger) {
    const json d = ledger.get("/api/v1/devices").json();
    for (const auto& dev : d.value("devices", json::array())) {
      if (dev["device"] == kDevice) return dev["applied_through"].get<std::uint64_t>();
    }
    return 0;
  }

  TempDir dir_{"full-stack-faults"};
  std::filesystem::path config_ = dir_.path() / "tallyd.toml";
  int live_ = 0;
};

TEST_F(FullStackFaults, BrokerRestartAndTallydKill9MidDrainApplyEverythingExactlyOnce) {
  prefill();
  // Small batches and a narrow window: the drain takes long enough to be
  // interrupted twice.
  std::ofstream(config_) << "[mqtt]\nbatch_max = 10\ninflight_max = 1\nlinger_ms = 5\nresend_timeout_ms = 1000\n"
                            "backoff_min_ms = 50\nbackoff_max_ms = 400\nkeepalive_s = 5\n";
  Mosquitto broker;
  Daemon ledger(TALLY_LEDGER_PATH, ledger_args(broker.uri()));
  HttpClient l(ledger.wait_listening());
  std::uint64_t last_seq = 0;
  {
    Daemon d(TALLYD_PATH, tallyd_args(broker.uri()));
    HttpClient c(d.wait_listening());
    scan(c, "OP:alice");
    scan(c, "CMD:MOVE");
    live_moves(c, 3);
    ASSERT_TRUE(eventually([&] { return applied(l) >= 100; }, 30s)) << applied(l);
    const auto before_restart = applied(l);
    ASSERT_LT(before_restart, kBacklog) << "drained before the fault: nothing was tested";
    broker.stop();  // mid-drain
    live_moves(c, 3);  // scanning goes on offline
    broker.start();
    ASSERT_TRUE(eventually([&] { return applied(l) >= before_restart + 100; }, 30s)) << applied(l);
    const auto before_kill = applied(l);
    ASSERT_LT(before_kill, kBacklog) << "drained before the kill: nothing was tested";
    d.kill9();  // mid-drain, batches and acks in flight
  }
  {
    Daemon d(TALLYD_PATH, tallyd_args(broker.uri()));
    HttpClient c(d.wait_listening());
    live_moves(c, 3);  // the session was restored (operator, move mode)
    ASSERT_TRUE(eventually(
        [&] {
          const json s = c.get("/api/v1/status").json();
          last_seq = s["journal"]["last_seq"].get<std::uint64_t>();
          return s["journal"]["acked_seq"] == last_seq;
        },
        60s))
        << c.get("/api/v1/status").body << d.drain_stderr();
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait().code, 0);
  }
  ASSERT_EQ(last_seq, kBacklog + 9);
  EXPECT_EQ(applied(l), last_seq);

  // The ledger's movements of the device, every page.
  std::map<std::uint64_t, std::vector<json>> in_ledger;
  for (std::uint64_t after = 0;;) {
    const json page = l.get("/api/v1/movements?device=hh-1&limit=500&after=" + std::to_string(after)).json();
    const auto& rows = page["movements"];
    if (rows.empty()) break;
    for (json m : rows) {
      m.erase("applied_ms");
      m.erase("id");  // the ledger's row id (paging), not part of the movement
      in_ledger[m["seq"].get<std::uint64_t>()].push_back(m);
    }
    after = page["next_after"].get<std::uint64_t>();
  }
  // The journal: each seq exactly once in the ledger, same content; the
  // balances are the sum of the journal's movements.
  auto j = journal::Journal::open(journal_options());
  ASSERT_TRUE(j) << j.error().message;
  auto texts = (*j)->movement_texts_after(0, last_seq + 1);
  ASSERT_TRUE(texts);
  ASSERT_EQ(texts->size(), last_seq);
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> expected;  // item, location, state
  for (const auto& t : *texts) {
    const auto it = in_ledger.find(t.seq);
    ASSERT_NE(it, in_ledger.end()) << "seq " << t.seq << " lost";
    ASSERT_EQ(it->second.size(), 1U) << "seq " << t.seq << " applied " << it->second.size() << " times";
    EXPECT_EQ(it->second[0], json::parse(t.payload)) << "seq " << t.seq;
    auto m = wire::movement_from_json(json::parse(t.payload));
    ASSERT_TRUE(m) << t.payload;
    const auto state = [](const scanner::Endpoint& e) {
      return e.state ? std::string(scanner::to_string(*e.state)) : std::string();
    };
    expected[{m->item.id(), m->from.location.code, state(m->from)}] -= m->qty;
    expected[{m->item.id(), m->to.location.code, state(m->to)}] += m->qty;
  }
  EXPECT_EQ(in_ledger.size(), last_seq) << "the ledger holds seqs the journal does not";
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> actual;
  const json balances = l.get("/api/v1/balances?limit=1000").json();
  for (const auto& b : balances["balances"]) {
    if (b["qty"] != 0) actual[{b["item"], b["location"], b["state"]}] = b["qty"].get<std::int64_t>();
  }
  std::erase_if(expected, [](const auto& kv) { return kv.second == 0; });
  EXPECT_EQ(actual, expected);
  const std::tuple<std::string, std::string, std::string> supplier{"09506000134352", "@supplier", ""};
  EXPECT_EQ(actual[supplier], -static_cast<std::int64_t>(kBacklog));  // 750 receipts of 2
  const json inv = l.get("/api/v1/invariants").json();
  EXPECT_TRUE(inv.contains("violations") && inv["violations"].empty()) << inv;
}

}  // namespace
}  // namespace tally::test
