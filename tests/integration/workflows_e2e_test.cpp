// The warehouse workflows end to end against the real tallyd (TALLYD_PATH):
// receive → put-away → task pick (with a wrong-bin scan that is refused and
// journaled as a device-side exception) → damage, all through
// POST /api/v1/scans, read back from GET /api/v1/movements and the journal.
//
// The pick task is seeded by writing the journal's master data before tallyd
// starts (what the MQTT downlink stores when it receives tasks).
//
// DeviceExceptionsReachTheLedgerExactlyOnce runs the whole stack: tallyd, a
// real mosquitto and the real tally-ledger (TALLY_LEDGER_PATH).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "tally/journal/journal.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

using nlohmann::json;

constexpr const char* kItem = "09506000134352";

class WorkflowsE2E : public ::testing::Test {
 protected:
  journal::Options journal_options() const {
    journal::Options o;
    o.path = dir_.path() / "journal.db";
    o.device = "hh-1";
    o.site = "test";
    return o;
  }

  void seed_master_data() {
    auto j = journal::Journal::open(journal_options());
    ASSERT_TRUE(j.ok()) << j.error().message;
    const json catalog = {{"v", 1},
                          {"version", 1},
                          {"items", {{{"gtin", kItem}, {"sku", "SKU-B"}, {"suggested_bin", "A-01-01-1"}}}}};
    const json tasks = {
        {"v", 1},
        {"version", 1},
        {"tasks",
         {{{"id", "TASK:17"},
           {"type", "pick"},
           {"reference", "ORD:991"},
           {"lines", {{{"line", 1}, {"gtin", kItem}, {"qty", 2}, {"bin", "A-01-01-1"}}}}},
          {{"id", "TASK:40"},
           {"type", "receive"},
           {"reference", "ASN:77"},
           {"lines",
            {{{"line", 1}, {"gtin", kItem}, {"qty", 24}, {"sscc", "106141411234567897"}},
             {{"line", 2}, {"gtin", "04006381333931"}, {"qty", 6}, {"sscc", "106141411234567897"}}}}}}}};
    ASSERT_TRUE((*j)->put_master_data("catalog", 1, catalog.dump()).ok());
    ASSERT_TRUE((*j)->put_master_data("tasks", 1, tasks.dump()).ok());
  }

  std::vector<std::string> args() const {
    return {"--data-dir", dir_.str(), "--device-id", "hh-1", "--site", "test", "--http", "127.0.0.1:0",
            "--log-level", "warn"};
  }

  json scan(HttpClient& c, const std::string& text, unsigned expect_status) {
    auto r = c.post_json("/api/v1/scans", json{{"text", text}}.dump());
    EXPECT_EQ(r.status, expect_status) << text << ": " << r.body;
    return r.json();
  }

  TempDir dir_{"tally-workflows-e2e"};
};

TEST_F(WorkflowsE2E, ReceivePutawayPickDamage) {
  seed_master_data();
  json receipt, putaway, pick, damage;
  {
    Daemon d(TALLYD_PATH, args());
    HttpClient c(d.wait_listening());
    scan(c, "OP:alice", 200);

    // Receive 3 against a PO at the default dock.
    scan(c, "CMD:RECEIVE", 200);
    scan(c, "PO:4500012", 200);
    for (int i = 0; i < 3; ++i) scan(c, kItem, 200);
    receipt = scan(c, "CMD:CONFIRM", 201);
    scan(c, "CMD:DONE", 200);

    // Put the 3 away into A-01-01-1.
    scan(c, "CMD:PUTAWAY", 200);
    scan(c, "LOC:DOCK-1", 200);
    scan(c, kItem, 200);
    scan(c, "CMD:QTY:3", 200);
    putaway = scan(c, "A-01-01-1", 201);

    // Pick task TASK:17 (the only open one): a wrong bin is refused and flagged.
    auto started = scan(c, "CMD:PICK", 200);
    EXPECT_EQ(started["prompt"], "Go to A-01-01-1, pick 2 x 09506000134352") << started;
    auto wrong = scan(c, "B-02-01-1", 422);
    EXPECT_EQ(wrong["code"], "wrong_bin") << wrong;
    EXPECT_EQ(wrong["exception"]["kind"], "wrong_bin") << wrong;
    EXPECT_EQ(wrong["exception"]["recorded"], true) << wrong;
    EXPECT_EQ(wrong["prompt"], "Go to A-01-01-1, pick 2 x 09506000134352");
    scan(c, "A-01-01-1", 200);
    scan(c, kItem, 200);
    scan(c, kItem, 200);
    pick = scan(c, "TOTE:7", 201);
    EXPECT_EQ(pick["prompt"], "Scan TASK or bin to pick") << pick;

    // Damage one in the bin.
    scan(c, "CMD:DAMAGE", 200);
    scan(c, "A-01-01-1", 200);
    scan(c, kItem, 200);
    scan(c, "CMD:CONFIRM", 422);  // a reason is required
    scan(c, "CMD:REASON:CRUSHED", 200);
    damage = scan(c, "CMD:CONFIRM", 201);

    auto list = c.get("/api/v1/movements?after=0&limit=10").json();
    ASSERT_EQ(list["movements"].size(), 4U) << list;
    EXPECT_EQ(list["movements"][0], receipt["movement"]);
    EXPECT_EQ(list["movements"][1], putaway["movement"]);
    EXPECT_EQ(list["movements"][2], pick["movement"]);
    EXPECT_EQ(list["movements"][3], damage["movement"]);
    for (const auto& m : list["movements"]) {
      EXPECT_EQ(m["operator"], "alice");
      EXPECT_EQ(m["device"], "hh-1");
    }
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait().code, 0);
  }

  const json& r = receipt["movement"];
  EXPECT_EQ(r["type"], "receipt");
  EXPECT_EQ(r["qty"], 3);
  EXPECT_EQ(r["reference"], "PO:4500012");
  EXPECT_EQ(r["to"]["location"], "DOCK-1");
  EXPECT_EQ(r["to"]["state"], "inbound");

  const json& p = putaway["movement"];
  EXPECT_EQ(p["type"], "putaway");
  EXPECT_EQ(p["from"]["state"], "inbound");
  EXPECT_EQ(p["to"]["location"], "A-01-01-1");
  EXPECT_EQ(p["to"]["state"], "available");

  const json& k = pick["movement"];
  EXPECT_EQ(k["type"], "pick");
  EXPECT_EQ(k["qty"], 2);
  EXPECT_EQ(k["from"]["location"], "A-01-01-1");
  EXPECT_EQ(k["from"]["state"], "available");
  EXPECT_EQ(k["to"]["location"], "TOTE:7");
  EXPECT_EQ(k["to"]["state"], "picked");
  EXPECT_EQ(k["reference"], "TASK:17/1");
  EXPECT_EQ(k["evidence"], json::array({"A-01-01-1", kItem, kItem, "TOTE:7"}));  // not the refused scan

  const json& g = damage["movement"];
  EXPECT_EQ(g["type"], "damage");
  EXPECT_EQ(g["qty"], 1);
  EXPECT_EQ(g["reason"], "CRUSHED");
  EXPECT_EQ(g["from"]["state"], "available");
  EXPECT_EQ(g["to"]["location"], "A-01-01-1");
  EXPECT_EQ(g["to"]["state"], "damaged");

  // The refused wrong-bin scan is in the journal with its exception.
  auto j = journal::Journal::open(journal_options());
  ASSERT_TRUE(j.ok()) << j.error().message;
  auto exceptions = (*j)->exceptions_after(0, 10);
  ASSERT_TRUE(exceptions.ok()) << exceptions.error().message;
  ASSERT_EQ(exceptions->size(), 1U);
  const auto& x = (*exceptions)[0].exception;
  EXPECT_EQ(x.kind, "wrong_bin");
  EXPECT_EQ(x.operator_id, "alice");
  EXPECT_EQ(x.mode, "pick");
  EXPECT_EQ(x.expected, "A-01-01-1");
  EXPECT_EQ(x.scanned, "B-02-01-1");
  EXPECT_EQ(x.task, "TASK:17/1");
  EXPECT_EQ(x.evidence, std::vector<std::string>{"B-02-01-1"});
}

// A pallet SSCC against an ASN: one POST, one 201, every receipt durable.
TEST_F(WorkflowsE2E, PalletSsccReceivesEveryAsnLineInOneScan) {
  seed_master_data();
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  scan(c, "OP:alice", 200);
  scan(c, "CMD:RECEIVE", 200);
  scan(c, "ASN:77", 200);
  const json r = scan(c, "(00)106141411234567897", 201);
  ASSERT_EQ(r["movements"].size(), 2U) << r;
  EXPECT_EQ(r["movement"], r["movements"][0]);
  EXPECT_EQ(r["movements"][0]["seq"], 1);
  EXPECT_EQ(r["movements"][0]["qty"], 24);
  EXPECT_EQ(r["movements"][1]["seq"], 2);
  EXPECT_EQ(r["movements"][1]["qty"], 6);
  EXPECT_EQ(r["movements"][1]["item"]["gtin"], "04006381333931");
  const json all = c.get("/api/v1/movements").json()["movements"];
  ASSERT_EQ(all.size(), 2U) << all;
  EXPECT_EQ(all[1]["hlc"], r["movements"][1]["hlc"]);
  EXPECT_EQ(all[1]["reference"], "ASN:77");
}

// Half a task pick and a receipt in progress survive kill -9 of the real
// tallyd: after the restart the operator, the mode and the open step are as
// the last answered scan left them, and finishing the step records one
// movement with every scan of it as evidence.
TEST_F(WorkflowsE2E, HalfAPickAndAnOpenReceiptSurviveKill9) {
  seed_master_data();
  {
    Daemon d(TALLYD_PATH, args());
    HttpClient c(d.wait_listening());
    scan(c, "OP:alice", 200);
    scan(c, "CMD:RECEIVE", 200);
    scan(c, "PO:4500012", 200);
    scan(c, kItem, 200);
    scan(c, kItem, 200);
    d.kill9();
  }
  json receipt;
  {
    Daemon d(TALLYD_PATH, args());
    HttpClient c(d.wait_listening());
    const json st = c.get("/api/v1/status").json();
    EXPECT_EQ(st["operator"], "alice") << st;
    EXPECT_EQ(st["mode"], "receive") << st;
    scan(c, kItem, 200);
    receipt = scan(c, "CMD:CONFIRM", 201);
    scan(c, "CMD:DONE", 200);
    scan(c, "CMD:PUTAWAY", 200);
    scan(c, "LOC:DOCK-1", 200);
    scan(c, kItem, 200);
    scan(c, "CMD:QTY:3", 200);
    scan(c, "A-01-01-1", 201);
    // Half the pick of TASK:17 (2 units): the bin and one unit.
    scan(c, "CMD:PICK", 200);
    scan(c, "A-01-01-1", 200);
    scan(c, kItem, 200);
    d.kill9();
  }
  Daemon d(TALLYD_PATH, args());
  HttpClient c(d.wait_listening());
  const json st = c.get("/api/v1/status").json();
  EXPECT_EQ(st["operator"], "alice") << st;
  EXPECT_EQ(st["mode"], "pick") << st;
  scan(c, kItem, 200);
  const json pick = scan(c, "TOTE:7", 201);
  EXPECT_EQ(receipt["movement"]["type"], "receipt");
  EXPECT_EQ(receipt["movement"]["qty"], 3);
  EXPECT_EQ(receipt["movement"]["reference"], "PO:4500012");
  EXPECT_EQ(pick["movement"]["type"], "pick") << pick;
  EXPECT_EQ(pick["movement"]["qty"], 2);
  EXPECT_EQ(pick["movement"]["reference"], "TASK:17/1");
  EXPECT_EQ(pick["movement"]["evidence"], json::array({"A-01-01-1", kItem, kItem, "TOTE:7"}));
  const json all = c.get("/api/v1/movements").json()["movements"];
  ASSERT_EQ(all.size(), 3U) << all;  // receipt, put-away, pick: nothing lost, nothing twice
  EXPECT_EQ(all[2]["seq"], 3);
}

// A refused wrong-bin scan recorded while the ledger is down reaches the
// ledger once it is up (resent on the device's timeout), as an open
// exception with owner, evidence and next action; tallyd killed with -9 and
// restarted does not send it again (the exceptions ack is journaled).
TEST_F(WorkflowsE2E, DeviceExceptionsReachTheLedgerExactlyOnce) {
  using namespace std::chrono_literals;
  seed_master_data();
  Mosquitto broker;
  std::vector<std::string> a = args();
  a.push_back("--mqtt");
  a.push_back(broker.uri());
  const auto conf = dir_.path() / "tallyd.toml";
  std::ofstream(conf) << "[mqtt]\nlinger_ms = 5\nresend_timeout_ms = 300\nbackoff_min_ms = 50\nbackoff_max_ms = 400\n";
  a.push_back("--config");
  a.push_back(conf.string());
  const auto wait_for = [](auto done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  const std::vector<std::string> ledger_args = {"--data-dir", dir_.str() + "/ledger", "--mqtt", broker.uri(),
                                                "--http", "127.0.0.1:0", "--log-level", "warn"};
  const auto wrong_bins = [](HttpClient& l) {
    json out = json::array();
    const json all = l.get("/api/v1/exceptions").json();
    for (const auto& e : all["exceptions"]) {
      if (e["kind"] == "wrong_bin") out.push_back(e);
    }
    return out;
  };
  {
    Daemon d(TALLYD_PATH, a);
    HttpClient c(d.wait_listening());
    scan(c, "OP:alice", 200);
    scan(c, "CMD:PICK", 200);
    EXPECT_EQ(scan(c, "B-02-01-1", 422)["code"], "wrong_bin");
    // No ledger yet: the exception waits in the journal.
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(c.get("/api/v1/status").json()["journal"]["exceptions"]["pending"], 1);

    Daemon ledger(TALLY_LEDGER_PATH, ledger_args);
    HttpClient l(ledger.wait_listening());
    ASSERT_TRUE(wait_for([&] { return c.get("/api/v1/status").json()["journal"]["exceptions"]["pending"] == 0; }, 20s))
        << c.get("/api/v1/status").body << d.drain_stderr() << ledger.drain_stderr();
    const json found = wrong_bins(l);
    ASSERT_EQ(found.size(), 1U) << l.get("/api/v1/exceptions").body << ledger.drain_stderr();
    const json& e = found[0];
    EXPECT_EQ(e["device"], "hh-1");
    EXPECT_EQ(e["status"], "open");
    EXPECT_EQ(e["owner"], "inventory");
    EXPECT_FALSE(e["next_action"].get<std::string>().empty());
    EXPECT_EQ(e["evidence"]["scans"], json::array({"B-02-01-1"}));
    EXPECT_EQ(e["evidence"]["expected"], "A-01-01-1");
    EXPECT_EQ(e["evidence"]["operator"], "alice");
    EXPECT_EQ(e["evidence"]["task"], "TASK:17/1");
    d.kill9();
  }
  // Restarted: nothing is pending, nothing arrives twice.
  Daemon ledger(TALLY_LEDGER_PATH, ledger_args);
  HttpClient l(ledger.wait_listening());
  Daemon d(TALLYD_PATH, a);
  HttpClient c(d.wait_listening());
  const json st = c.get("/api/v1/status").json();
  EXPECT_EQ(st["journal"]["exceptions"]["pending"], 0) << st;
  EXPECT_EQ(st["journal"]["exceptions"]["acked_id"], 1) << st;
  ASSERT_TRUE(wait_for([&] { return c.get("/api/v1/status").json()["broker"]["connected"] == true; }, 20s));
  std::this_thread::sleep_for(500ms);  // more than one resend timeout
  EXPECT_EQ(wrong_bins(l).size(), 1U);
}

// A [session] section from a TOML file: PIN after the badge (journaled
// masked), an expired GS1 lot refused on a pick with the exception in the
// journal, and the idle timeout signing the operator out.
TEST_F(WorkflowsE2E, SessionConfigPinGs1ExpiredLotAndIdleTimeout) {
  seed_master_data();
  const auto toml = dir_.path() / "tallyd.toml";
  {
    std::ofstream(toml) << "[session]\nidle_timeout_s = 2\nrequire_pin = true\n"
                           "reason_codes = [\"CRUSHED\"]\n[session.pins]\nalice = \"90817263\"\n";
  }
  std::vector<std::string> a = args();
  a.insert(a.end(), {"--config", toml.string()});
  // Lot L1 expired on 2025-01-01: ]C1 + the raw element string, GS after the lot.
  const std::string expired = std::string("]C1") + "01" + kItem + "10L1\x1D" + "17250101";
  {
    Daemon d(TALLYD_PATH, a);
    HttpClient c(d.wait_listening());
    EXPECT_EQ(scan(c, "OP:alice", 200)["code"], "pin_required");
    EXPECT_EQ(scan(c, "CMD:PICK", 422)["code"], "pin_required");
    EXPECT_EQ(scan(c, "PIN:1111", 422)["code"], "wrong_pin");
    EXPECT_EQ(scan(c, "PIN:90817263", 200)["code"], "signed_in");
    EXPECT_EQ(scan(c, "CMD:PICK", 200)["prompt"], "Go to A-01-01-1, pick 2 x 09506000134352");
    scan(c, "A-01-01-1", 200);
    auto refused = scan(c, expired, 422);
    EXPECT_EQ(refused["code"], "expired_lot") << refused;
    EXPECT_EQ(refused["exception"]["kind"], "expired_lot") << refused;
    EXPECT_EQ(refused["exception"]["recorded"], true) << refused;
    // A good lot is accepted; then nothing for longer than the timeout.
    scan(c, "(01)09506000134352(10)L2(17)351231", 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto timed_out = scan(c, kItem, 422);
    EXPECT_EQ(timed_out["code"], "idle_timeout") << timed_out;
    EXPECT_EQ(timed_out["prompt"], "Scan your badge") << timed_out;
    // The configured reason codes apply (after signing in again).
    EXPECT_EQ(scan(c, "OP:alice", 200)["code"], "pin_required");
    EXPECT_EQ(scan(c, "PIN:90817263", 200)["code"], "signed_in");
    scan(c, "CMD:DAMAGE", 200);
    scan(c, "A-01-01-1", 200);
    scan(c, kItem, 200);
    EXPECT_EQ(scan(c, "CMD:REASON:WET", 422)["code"], "unknown_reason");
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait().code, 0);
  }
  auto j = journal::Journal::open(journal_options());
  ASSERT_TRUE(j.ok()) << j.error().message;
  auto exceptions = (*j)->exceptions_after(0, 10);
  ASSERT_TRUE(exceptions.ok()) << exceptions.error().message;
  ASSERT_EQ(exceptions->size(), 1U);
  EXPECT_EQ((*exceptions)[0].exception.kind, "expired_lot");
  EXPECT_EQ((*exceptions)[0].exception.evidence, std::vector<std::string>{expired});
  j->reset();
  // The PIN is nowhere in the journal files (the scan is kept as PIN:****).
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(dir_.path() / (std::string("journal.db") + suffix), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(bytes.find("PIN:****"), std::string::npos);
  EXPECT_EQ(bytes.find("90817263"), std::string::npos);
}

}  // namespace
}  // namespace tally::test
