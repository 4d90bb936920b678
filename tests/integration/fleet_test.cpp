// The ledger's fleet view and KPI history (issue 7) with real parts: a real
// tallyd publishes its retained status (birth, last will) through a real
// mosquitto to the real tally-ledger, which shows it in GET /api/v1/devices;
// kill -9 of tallyd brings its last will; malformed statuses become dead
// letters and change nothing; the ledger samples its KPIs into a history
// that survives a restart and is pruned to its retention.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "eventually.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "temp_dir.hpp"

namespace tally::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kDevice = "hh-1";
constexpr const char* kSite = "test";

// A Paho client publishing what a broken or hostile device would.
class Publisher {
 public:
  Publisher(const std::string& uri, const std::string& id) : client_(uri, id, mqtt::create_options(MQTTVERSION_5)) {
    auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
    client_.connect(opts)->wait_for(10s);
  }
  ~Publisher() {
    try {
      client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }
  void publish(const std::string& topic, const std::string& payload) {
    client_.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(10s);
  }

 private:
  mqtt::async_client client_;
};

class Fleet : public ::testing::Test {
 protected:
  std::vector<std::string> tallyd_args() const {
    return {"--config", tallyd_config_.string(), "--data-dir", (dir_.path() / "device").string(), "--device-id",
            kDevice, "--site", kSite, "--http", "127.0.0.1:0", "--log-level", "warn", "--mqtt", broker_.uri()};
  }
  std::unique_ptr<Daemon> start_ledger(const std::string& mqtt, const std::string& toml = "") {
    std::ofstream(ledger_config_) << toml;
    auto d = std::make_unique<Daemon>(
        TALLY_LEDGER_PATH, std::vector<std::string>{"--config", ledger_config_.string(), "--data-dir",
                                                    (dir_.path() / "ledger").string(), "--mqtt", mqtt, "--http",
                                                    "127.0.0.1:0", "--client-id", "ledger-fleet", "--log-level", "warn"});
    ledger_port_ = d->wait_listening();
    return d;
  }
  json get(const std::string& target) const {
    HttpClient http(ledger_port_);
    return http.get(target).json();
  }
  json device(const std::string& id = kDevice) const {
    for (const auto& d : get("/api/v1/devices").value("devices", json::array())) {
      if (d["device"] == id) return d;
    }
    return json();
  }
  std::size_t dead_letters() const { return get("/api/v1/dead-letters?limit=1000")["dead_letters"].size(); }
  static void scan(HttpClient& c, const std::string& text) {
    const auto r = c.post_json("/api/v1/scans", json{{"text", text}}.dump());
    ASSERT_EQ(r.status / 100, 2U) << text << ": " << r.body;
  }

  TempDir dir_{"tally-fleet"};
  Mosquitto broker_;
  std::filesystem::path tallyd_config_ = dir_.path() / "tallyd.toml";
  std::filesystem::path ledger_config_ = dir_.path() / "ledger.toml";
  std::uint16_t ledger_port_ = 0;
};

TEST_F(Fleet, TallydStatusShowsPendingGoesOfflineOnKill9AndBadStatusChangesNothing) {
  // Keep-alive 5 s: the broker sends the last will ~7.5 s after a kill -9.
  // Batches sent before the ledger subscribed are lost at the broker and
  // resent only after an hour or a reconnect, so "pending" holds still.
  std::ofstream(tallyd_config_) << "[mqtt]\nkeepalive_s = 5\nresend_timeout_ms = 3600000\nbackoff_min_ms = 50\n"
                                   "backoff_max_ms = 400\n";
  auto tallyd = std::make_unique<Daemon>(TALLYD_PATH, tallyd_args());
  {
    HttpClient c(tallyd->wait_listening());
    ASSERT_TRUE(eventually([&] { return c.get("/api/v1/status").json()["broker"]["connected"] == true; }, 15s));
    scan(c, "OP:alice");
    scan(c, "CMD:MOVE");
    for (int i = 0; i < 3; ++i) {  // three moves, journaled, nobody to apply them
      scan(c, "A-" + std::to_string(10 + i) + "-1-1");
      scan(c, "09506000134352");
      scan(c, "B-" + std::to_string(i) + "-1-1");
    }
    ASSERT_EQ(c.get("/api/v1/status").json()["journal"]["pending"], 3);
  }

  // The ledger subscribes later and gets the retained status.
  auto ledger = start_ledger(broker_.uri());
  ASSERT_TRUE(eventually([&] { return device()["pending"] == 3; }, 20s)) << device() << ledger->drain_stderr();
  json d = device();
  EXPECT_EQ(d["site"], kSite);
  EXPECT_EQ(d["online"], true);
  EXPECT_EQ(d["last_seq"], 3);
  EXPECT_EQ(d["applied_through"], 0);  // the ledger has none of them
  EXPECT_EQ(d["lag"], 3);
  EXPECT_EQ(d["version"], TALLY_VERSION);
  EXPECT_EQ(d["stale"], false);
  EXPECT_GT(d["status_ms"].get<std::int64_t>(), 0);

  // kill -9: no clean "online":false; the broker publishes the last will.
  tallyd->kill9();
  ASSERT_TRUE(eventually([&] { return device()["online"] == false; }, 30s)) << device();
  d = device();
  EXPECT_EQ(d["pending"], 3);  // what it last said, not the will's counters of its connect (0)
  EXPECT_EQ(d["last_seq"], 3);
  EXPECT_EQ(d["stale"], true);  // offline: it may be scanning on

  // Back: birth, the resend is applied, the ack makes pending 0.
  tallyd = std::make_unique<Daemon>(TALLYD_PATH, tallyd_args());
  tallyd->wait_listening();
  ASSERT_TRUE(eventually(
      [&] {
        const json x = device();
        return x["online"] == true && x["pending"] == 0 && x["applied_through"] == 3;
      },
      30s))
      << device() << tallyd->drain_stderr();
  d = device();
  EXPECT_EQ(d["lag"], 0);
  EXPECT_EQ(d["stale"], false);
  EXPECT_EQ(d["movements"], 3);

  // Garbage and a forged status: dead letters, nothing else changes.
  const json before = get("/api/v1/devices");
  const std::size_t letters = dead_letters();
  {
    Publisher bad(broker_.uri(), "not-a-device");
    const std::string topic = std::string("tally/v1/") + kSite + "/" + kDevice + "/status";
    bad.publish(topic, "{\"v\":1,\"online\":\"maybe\"");
    bad.publish(topic, json{{"v", 1}, {"online", false}, {"pending", 9}, {"last_seq", 9}, {"version", "x"},
                            {"device", "hh-2"}}
                           .dump());
    bad.publish(std::string("tally/v1/") + kSite + "/hh-9/status", json{{"v", 1}, {"online", true}}.dump());
  }
  ASSERT_TRUE(eventually([&] { return dead_letters() == letters + 3; }, 15s)) << get("/api/v1/dead-letters");
  const json dl = get("/api/v1/dead-letters?limit=3")["dead_letters"];
  std::string reasons;
  for (const auto& x : dl) reasons += x["reason"].get<std::string>() + "\n";
  EXPECT_NE(reasons.find("bad_json"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("forged_device"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("bad_status"), std::string::npos) << reasons;
  EXPECT_EQ(get("/api/v1/devices"), before);  // no hh-9, hh-1 as it was

  // Kept in the store: a restarted ledger without MQTT still shows it.
  tallyd->signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return device()["online"] == false; }, 15s));  // its clean goodbye
  ledger->signal(SIGTERM);
  EXPECT_EQ(ledger->wait().code, 0);
  ledger = start_ledger("");
  d = device();
  EXPECT_EQ(d["online"], false);
  EXPECT_EQ(d["pending"], 0);
  EXPECT_EQ(d["last_seq"], 3);
  EXPECT_EQ(d["version"], TALLY_VERSION);
}

TEST_F(Fleet, KpiHistorySamplesSurvivesARestartAndIsPruned) {
  const std::string keep_long = "[kpi]\nsample_interval_s = 1\nhistory_retention_s = 3600\n";
  auto ledger = start_ledger(broker_.uri(), keep_long);
  const auto samples = [&] { return get("/api/v1/kpis/history?limit=1000"); };
  ASSERT_TRUE(eventually([&] { return samples()["samples"].size() >= 2; }, 20s)) << ledger->drain_stderr();
  json h = samples();
  EXPECT_EQ(h["interval_s"], 1);
  EXPECT_EQ(h["retention_s"], 3600);
  EXPECT_EQ(h["more"], false);
  EXPECT_EQ(h["samples"][0]["kpis"]["exception_queue"], 0);
  EXPECT_TRUE(h["samples"][0]["kpis"]["pick_accuracy"].is_null());

  // A forged batch raises an exception: later samples count it.
  {
    Publisher forger(broker_.uri(), "forger");
    const std::string topic = std::string("tally/v1/") + kSite + "/" + kDevice + "/movements";
    forger.publish(topic, json{{"v", 1}, {"device", "hh-2"}, {"site", kSite}, {"movements", json::array()}}.dump());
  }
  ASSERT_TRUE(eventually([&] { return samples()["samples"].back()["kpis"]["exception_queue"] == 1; }, 20s))
      << samples();
  h = samples();
  std::int64_t last = 0;
  for (const auto& s : h["samples"]) {  // oldest first
    EXPECT_GT(s["time_ms"].get<std::int64_t>(), last);
    last = s["time_ms"].get<std::int64_t>();
  }
  const std::size_t had = h["samples"].size();
  const std::int64_t first = h["samples"][0]["time_ms"];
  // The newest `limit`, with "more" for what was left out.
  const json page = get("/api/v1/kpis/history?limit=1");
  ASSERT_EQ(page["samples"].size(), 1U);
  EXPECT_EQ(page["more"], true);
  EXPECT_GE(page["samples"][0]["time_ms"].get<std::int64_t>(), last);

  ledger->signal(SIGTERM);
  ASSERT_EQ(ledger->wait().code, 0);
  ledger = start_ledger("", keep_long);
  h = samples();
  ASSERT_GE(h["samples"].size(), had) << h;
  EXPECT_EQ(h["samples"][0]["time_ms"], first);
  ASSERT_TRUE(eventually([&] { return samples()["samples"].size() > had; }, 20s));  // sampling goes on

  // A short retention: what is older than it before the newest sample goes.
  ledger->signal(SIGTERM);
  ASSERT_EQ(ledger->wait().code, 0);
  ledger = start_ledger("", "[kpi]\nsample_interval_s = 1\nhistory_retention_s = 2\n");
  ASSERT_TRUE(eventually([&] { return samples()["samples"][0]["time_ms"] != first; }, 20s)) << samples();
  h = samples();
  const std::int64_t newest = h["samples"].back()["time_ms"];
  for (const auto& s : h["samples"]) EXPECT_GE(s["time_ms"].get<std::int64_t>(), newest - 2000) << h;
}

TEST(FleetConfig, BadKpiSamplingConfigExitsTwo) {
  TempDir dir{"tally-fleet-config"};
  const auto conf = dir.path() / "ledger.toml";
  for (const char* bad : {"[kpi]\nsample_interval_s = -1\n", "[kpi]\nsample_interval_s = 10\nhistory_retention_s = 5\n",
                          "[kpi]\nsample_interval_s = 1\nhistory_retention_s = 200000\n",
                          "[kpi]\nsample_interval_s = \"1m\"\n"}) {
    std::ofstream(conf) << bad;
    auto [st, err] = run_to_end(TALLY_LEDGER_PATH, {"--config", conf.string(), "--data-dir", dir.str()});
    EXPECT_EQ(st.code, 2) << bad;
    EXPECT_NE(err.find("kpi."), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace tally::test
