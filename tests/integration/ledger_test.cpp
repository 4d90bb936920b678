// The real tally-ledger binary (TALLY_LEDGER_PATH) against a real mosquitto
// (never 1883), with a Paho MQTT 5 client in the test playing a device: it
// publishes batches to tally/v1/{site}/{device}/movements and reads acks.
// Covers acks after commit, duplicates, gaps/reordering, malformed, wrong
// version, oversized and forged messages (dead letters, ledger alive), the
// HTTP API, and kill -9 mid-stream followed by a full resend (exactly once).
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "tally/wire/movement_json.hpp"
#include "temp_dir.hpp"

namespace {

using nlohmann::json;
using tally::scanner::Endpoint;
using tally::scanner::Location;
using tally::scanner::Movement;
using tally::scanner::MovementType;
using tally::scanner::StockState;
using tally::test::Daemon;
using tally::test::HttpClient;
using tally::test::Mosquitto;
using tally::test::TempDir;
using namespace std::chrono_literals;

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr const char* kSite = "s1";
constexpr const char* kDevice = "hh-1";

// seq 3k+1 receipt 2 → DOCK-1, 3k+2 put-away 2 → bin, 3k+3 pick 1 from bin.
Movement movement(std::uint64_t seq, const std::string& device = kDevice) {
  Movement m;
  m.device = device;
  m.site = kSite;
  m.seq = seq;
  m.operator_id = "alice";
  m.item.sku = "SKU-" + std::to_string((seq - 1) / 3 % 7);
  m.evidence = {"OP:alice", m.item.sku};
  m.wall_time_ms = kT0;
  switch (seq % 3) {
    case 1:
      m.type = MovementType::receipt;
      m.qty = 2;
      m.from = Endpoint{Location{"@supplier"}, std::nullopt};
      m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      break;
    case 2:
      m.type = MovementType::putaway;
      m.qty = 2;
      m.from = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      m.to = Endpoint{Location{"A-01-01-1"}, StockState::available};
      break;
    default:
      m.type = MovementType::pick;
      m.qty = 1;
      m.from = Endpoint{Location{"A-01-01-1"}, StockState::available};
      m.to = Endpoint{Location{"TOTE:1"}, StockState::picked};
      break;
  }
  return m;
}

std::string batch(std::uint64_t first, std::uint64_t last, const std::string& device = kDevice) {
  json list = json::array();
  for (std::uint64_t s = first; s <= last; ++s) list.push_back(tally::wire::to_json(movement(s, device)));
  return json{{"v", 1}, {"device", device}, {"site", kSite}, {"movements", list}}.dump();
}

std::string movements_topic(const std::string& device = kDevice) {
  return std::string("tally/v1/") + kSite + "/" + device + "/movements";
}

// A device: publishes batches, consumes its acks.
class FakeDevice {
 public:
  FakeDevice(const std::string& uri, const std::string& id)
      : client_(uri, id, mqtt::create_options(MQTTVERSION_5)) {
    client_.start_consuming();
    auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
    client_.connect(opts)->wait_for(10s);
    client_.subscribe(std::string("tally/v1/") + kSite + "/" + kDevice + "/ack", 1)->wait_for(10s);
  }
  ~FakeDevice() {
    try {
      client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }

  void publish(const std::string& topic, const std::string& payload) {
    client_.publish(topic, payload.data(), payload.size(), 1, false)->wait_for(10s);
  }

  // The next ack (JSON), or nullopt after `timeout`.
  std::optional<json> next_ack(std::chrono::milliseconds timeout = 10s) {
    mqtt::const_message_ptr msg;
    if (!client_.try_consume_message_for(&msg, timeout) || !msg) return std::nullopt;
    return json::parse(msg->to_string(), nullptr, false);
  }

  // Reads acks until applied_through reaches `want` (true) or time runs out.
  bool wait_applied(std::uint64_t want, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto ack = next_ack(500ms);
      if (ack && ack->value("applied_through", std::uint64_t{0}) >= want) return true;
    }
    return false;
  }

  // Publishes an empty batch until the ledger acks it: its subscription is
  // in place (the ledger prints its HTTP line before MQTT is connected).
  bool wait_ledger_ready(std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const std::string empty =
        json{{"v", 1}, {"device", kDevice}, {"site", kSite}, {"movements", json::array()}}.dump();
    while (std::chrono::steady_clock::now() < deadline) {
      publish(movements_topic(), empty);
      if (next_ack(300ms)) {
        drain();
        return true;
      }
    }
    return false;
  }

  void drain() {
    while (next_ack(300ms)) {
    }
  }

 private:
  mqtt::async_client client_;
};

class LedgerIntegration : public ::testing::Test {
 protected:
  std::unique_ptr<Daemon> start_ledger(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--data-dir", data_.str(), "--http", "127.0.0.1:0", "--mqtt", broker_.uri(),
                                  "--client-id", "ledger-test", "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto d = std::make_unique<Daemon>(TALLY_LEDGER_PATH, args);
    port_ = d->wait_listening();
    return d;
  }

  json get(const std::string& target) {
    HttpClient http(port_);
    auto r = http.get(target);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.body;
    return r.json();
  }

  std::size_t stored_movements() { return get("/api/v1/movements?device=" + std::string(kDevice) + "&limit=1000")["movements"].size(); }

  void expect_invariants() {
    const json v = get("/api/v1/invariants");
    EXPECT_TRUE(v["violations"].empty()) << v.dump();
  }

  Mosquitto broker_;
  TempDir data_{"tally-ledger-it"};
  std::uint16_t port_ = 0;
};

TEST(LedgerCli, BadConfigExitsNonZeroWithOneLine) {
  auto [status, err] = tally::test::run_to_end(TALLY_LEDGER_PATH, {"--http", "no-port"});
  EXPECT_EQ(status.code, 2);
  EXPECT_NE(err.find("HOST:PORT"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(LedgerCli, BadConfigFileAndCatalogExitTwo) {
  TempDir dir{"tally-ledger-cli"};
  const auto conf = dir.path() / "bad.toml";
  std::ofstream(conf) << "[nonsense]\nx = 1\n";
  auto [st1, err1] = tally::test::run_to_end(TALLY_LEDGER_PATH, {"--config", conf.string(), "--data-dir", dir.str()});
  EXPECT_EQ(st1.code, 2);
  EXPECT_NE(err1.find("unknown config section [nonsense]"), std::string::npos) << err1;
  const auto catalog = dir.path() / "catalog.json";
  std::ofstream(catalog) << R"({"v":1,"version":1,"items":"not a list"})";
  auto [st2, err2] = tally::test::run_to_end(
      TALLY_LEDGER_PATH, {"--catalog", catalog.string(), "--data-dir", (dir.path() / "d").string(), "--mqtt", "",
                          "--http", "127.0.0.1:0"});
  EXPECT_EQ(st2.code, 2);
  EXPECT_EQ(std::count(err2.begin(), err2.end(), '\n'), 1) << err2;
  auto [st3, err3] = tally::test::run_to_end(TALLY_LEDGER_PATH, {"--log-level", "loud"});
  EXPECT_EQ(st3.code, 2);
  EXPECT_NE(err3.find("log level"), std::string::npos) << err3;
}

TEST_F(LedgerIntegration, AppliesAcksAndIgnoresDuplicatesAndGaps) {
  auto ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());

  device.publish(movements_topic(), batch(1, 3));
  auto ack = device.next_ack();
  ASSERT_TRUE(ack) << ledger->drain_stderr();
  EXPECT_EQ((*ack)["v"], 1);
  EXPECT_EQ((*ack)["applied_through"], 3);
  EXPECT_TRUE((*ack)["rejected"].empty());

  // Redelivered: acked again, applied once.
  device.publish(movements_topic(), batch(1, 3));
  EXPECT_EQ((*device.next_ack())["applied_through"], 3);

  // Reordered: 7..9 arrives before 4..6 → a gap, nothing applied.
  device.publish(movements_topic(), batch(7, 9));
  EXPECT_EQ((*device.next_ack())["applied_through"], 3);
  device.publish(movements_topic(), batch(4, 6));
  EXPECT_EQ((*device.next_ack())["applied_through"], 6);
  device.publish(movements_topic(), batch(7, 9));
  EXPECT_EQ((*device.next_ack())["applied_through"], 9);

  // An invalid movement is rejected with its reason and passed.
  json bad = json::parse(batch(10, 11));
  bad["movements"][0]["qty"] = -4;
  device.publish(movements_topic(), bad.dump());
  ack = device.next_ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["applied_through"], 11);
  ASSERT_EQ((*ack)["rejected"].size(), 1u);
  EXPECT_EQ((*ack)["rejected"][0]["seq"], 10);

  EXPECT_EQ(stored_movements(), 10u);  // 1..9 and 11
  const json devices = get("/api/v1/devices");
  ASSERT_EQ(devices["devices"].size(), 1u);
  EXPECT_EQ(devices["devices"][0]["applied_through"], 11);
  const json ex = get("/api/v1/exceptions?status=open");
  bool rejected_exception = false;
  for (const auto& e : ex["exceptions"]) rejected_exception |= e["kind"] == "rejected_movement" && e["seq"] == 10;
  EXPECT_TRUE(rejected_exception) << ex.dump();
  expect_invariants();
}

TEST_F(LedgerIntegration, BadMessagesBecomeDeadLettersAndTheLedgerStaysUp) {
  auto ledger = start_ledger({"--max-message-bytes", "4096"});
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());

  device.publish(movements_topic(), "{this is not json");
  device.publish(movements_topic(), json{{"v", 2}, {"device", kDevice}, {"site", kSite}, {"movements", json::array()}}.dump());
  device.publish(movements_topic(), batch(1, 40));          // > 4096 bytes
  device.publish(movements_topic(), batch(1, 2, "hh-2"));  // forged: hh-2's batch under hh-1's topic
  device.publish(movements_topic(), batch(1, 2));          // a good one afterwards
  auto ack = device.next_ack();
  ASSERT_TRUE(ack) << ledger->drain_stderr();
  EXPECT_EQ((*ack)["applied_through"], 2);
  EXPECT_FALSE(device.next_ack(500ms)) << "bad messages must not be acked";

  const json dl = get("/api/v1/dead-letters");
  ASSERT_EQ(dl["dead_letters"].size(), 4u) << dl.dump();
  for (const auto& d : dl["dead_letters"]) EXPECT_LE(d["payload"].get<std::string>().size(), 4096u);
  std::string reasons;
  for (const auto& d : dl["dead_letters"]) reasons += d["reason"].get<std::string>() + "\n";
  for (const char* code : {"bad_json", "bad_version", "too_large", "forged_device"}) {
    EXPECT_NE(reasons.find(code), std::string::npos) << code << " in " << reasons;
  }
  bool forged = false;
  const json exceptions = get("/api/v1/exceptions");
  for (const auto& e : exceptions["exceptions"]) forged |= e["kind"] == "forged_device";
  EXPECT_TRUE(forged);
  EXPECT_EQ(stored_movements(), 2u);
  EXPECT_TRUE(ledger->running());
  ledger->signal(SIGTERM);
  EXPECT_EQ(ledger->wait(10s).code, 0);
}

// The admin check: `tally-ledger --check-invariants` on the store, exit 0
// when consistent, 1 with one line per violation (here a balance row edited
// behind the ledger's back with the sqlite3 shell).
TEST(LedgerCli, CheckInvariantsFindsATamperedBalance) {
  TempDir dir{"tally-ledger-check"};
  const std::vector<std::string> args{"--data-dir", dir.str(), "--check-invariants"};
  auto [st1, err1] = tally::test::run_to_end(TALLY_LEDGER_PATH, args);
  EXPECT_EQ(st1.code, 0) << err1;
  auto [st2, err2] = tally::test::run_to_end(
      "/usr/bin/sqlite3", {(dir.path() / "ledger.db").string(),
                           "INSERT INTO balances(item, lot, location, state, qty) VALUES ('09506000134352', '', "
                           "'A-01-01-1', 'available', 5)"});
  ASSERT_EQ(st2.code, 0) << err2;
  auto [st3, err3] = tally::test::run_to_end(TALLY_LEDGER_PATH, args);
  EXPECT_EQ(st3.code, 1) << err3;
}

TEST_F(LedgerIntegration, Kill9MidStreamThenResendIsExactlyOnce) {
  constexpr std::uint64_t kBatches = 60;
  constexpr std::uint64_t kPer = 30;
  constexpr std::uint64_t kTotal = kBatches * kPer;
  auto ledger = start_ledger();
  {
    FakeDevice device(broker_.uri(), "dev-hh-1");
    ASSERT_TRUE(device.wait_ledger_ready());
    for (std::uint64_t b = 0; b < kBatches; ++b) {
      device.publish(movements_topic(), batch(b * kPer + 1, (b + 1) * kPer));
      if (b == kBatches / 3) {
        ASSERT_TRUE(device.wait_applied(kPer, 10s));
        ledger->kill9();  // mid-stream: some batches applied, some queued, some in flight
      }
    }
  }
  ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1b");
  ASSERT_TRUE(device.wait_ledger_ready());
  // The device knows nothing reliable: it resends everything.
  for (std::uint64_t b = 0; b < kBatches; ++b) device.publish(movements_topic(), batch(b * kPer + 1, (b + 1) * kPer));
  ASSERT_TRUE(device.wait_applied(kTotal, 30s)) << ledger->drain_stderr();

  std::vector<std::uint64_t> seqs;
  std::uint64_t after = 0;
  for (;;) {
    const json page = get("/api/v1/movements?device=" + std::string(kDevice) + "&limit=1000&after=" +
                          std::to_string(after));
    if (page["movements"].empty()) break;
    for (const auto& m : page["movements"]) seqs.push_back(m["seq"]);
    after = page["next_after"];
  }
  ASSERT_EQ(seqs.size(), kTotal);
  for (std::uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ(seqs[i], i + 1);
  // Balances: every receipt 2, put-away 2, pick 1 → the bin holds 1 per triple.
  const json bin = get("/api/v1/balances?location=A-01-01-1&state=available");
  std::int64_t in_bin = 0;
  for (const auto& b : bin["balances"]) in_bin += b["qty"].get<std::int64_t>();
  EXPECT_EQ(in_bin, static_cast<std::int64_t>(kTotal / 3));
  expect_invariants();
}

TEST_F(LedgerIntegration, TasksArePublishedRetainedAndChunked) {
  auto ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());
  HttpClient http(port_);
  const json task{{"site", kSite},
                  {"device", kDevice},
                  {"task",
                   {{"id", "TASK:1"},
                    {"type", "pick"},
                    {"reference", "ORD:1"},
                    {"lines", {{{"line", 1}, {"sku", "SKU-1"}, {"qty", 2}, {"bin", "A-01-01-1"}}}}}}};
  auto r = http.post_json("/api/v1/tasks", task.dump());
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json()["version"], 1);
  EXPECT_EQ(r.json()["published"], true);

  // A late subscriber gets the retained chunk(s).
  mqtt::async_client sub(broker_.uri(), "late-sub", mqtt::create_options(MQTTVERSION_5));
  sub.start_consuming();
  sub.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize())->wait();
  sub.subscribe(std::string("tally/v1/") + kSite + "/" + kDevice + "/tasks/+", 1)->wait();
  mqtt::const_message_ptr msg;
  ASSERT_TRUE(sub.try_consume_message_for(&msg, 5s));
  EXPECT_TRUE(msg->is_retained());
  const json chunk = json::parse(msg->to_string());
  EXPECT_EQ(chunk["kind"], "tasks");
  EXPECT_EQ(chunk["version"], 1);
  EXPECT_EQ(chunk["chunks"], 1);
  EXPECT_EQ(json::parse(chunk["data"].get<std::string>())["tasks"][0]["id"], "TASK:1");
  sub.disconnect()->wait();

  EXPECT_EQ(http.get("/api/v1/tasks?device=" + std::string(kDevice)).json()["tasks"][0]["version"], 1);
  EXPECT_EQ(http.post_json("/api/v1/tasks", R"({"site":"s1","device":"hh-1","task":{"id":7}})").status, 400u);
  EXPECT_EQ(http.get("/api/v1/exceptions?status=bogus").status, 400u);
  EXPECT_EQ(http.get("/api/v1/nope").status, 404u);
  EXPECT_NE(http.get("/").body.find("Tally ledger"), std::string::npos);
}

TEST_F(LedgerIntegration, CatalogIsChunkedAndLeftoverChunksAreCleared) {
  // Small chunks (config file) so a modest catalog needs several.
  const auto config = data_.path() / "ledger.toml";
  std::ofstream(config) << "[downlink]\nchunk_bytes = 256\n";
  json items = json::array();
  for (int i = 0; i < 12; ++i) {
    items.push_back({{"gtin", ""}, {"sku", "SKU-" + std::to_string(i)}, {"description", "Widget Ä " + std::to_string(i)},
                     {"pack_size", 1}, {"suggested_bin", "A-01-01-1"}});
  }
  const auto catalog_file = data_.path() / "catalog.json";
  std::ofstream(catalog_file) << json{{"v", 1}, {"version", 1}, {"items", items}}.dump();
  auto ledger = start_ledger({"--config", config.string(), "--catalog", catalog_file.string(), "--site", kSite});
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());

  mqtt::async_client sub(broker_.uri(), "catalog-sub", mqtt::create_options(MQTTVERSION_5));
  sub.start_consuming();
  sub.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize())->wait();
  sub.subscribe(std::string("tally/v1/") + kSite + "/catalog/+", 1)->wait();
  std::map<int, json> chunks;
  mqtt::const_message_ptr msg;
  while (sub.try_consume_message_for(&msg, 2s)) {
    const json c = json::parse(msg->to_string());
    chunks[c["chunk"].get<int>()] = c;
    if (static_cast<int>(chunks.size()) == c["chunks"].get<int>()) break;
  }
  ASSERT_GT(chunks.size(), 2u);
  std::string text;
  for (const auto& [i, c] : chunks) {
    EXPECT_EQ(c["version"], 1);
    EXPECT_EQ(c["kind"], "catalog");
    text += c["data"].get<std::string>();
  }
  EXPECT_EQ(json::parse(text)["items"].size(), 12u);
  const std::size_t old_chunks = chunks.size();

  // A smaller version 2 over HTTP: fewer chunks, the leftovers are cleared.
  HttpClient http(port_);
  auto r = http.post_json(std::string("/api/v1/catalog?site=") + kSite,
                          json{{"v", 1}, {"items", json::array({items[0]})}}.dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["version"], 2);
  std::size_t cleared = 0;
  std::size_t v2 = 0;
  while (sub.try_consume_message_for(&msg, 2s)) {
    if (msg->to_string().empty()) {
      ++cleared;
    } else if (json::parse(msg->to_string())["version"] == 2) {
      ++v2;
    }
  }
  EXPECT_GE(v2, 1u);
  EXPECT_EQ(v2 + cleared, old_chunks);
  sub.disconnect()->wait();
}

TEST_F(LedgerIntegration, ExceptionsAreAssignedAndResolvedOverHttp) {
  auto ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());
  json bad = json::parse(batch(1, 1));
  bad["movements"][0]["qty"] = 0;
  device.publish(movements_topic(), bad.dump());
  ASSERT_TRUE(device.wait_applied(1));
  HttpClient http(port_);
  const json open = http.get("/api/v1/exceptions?status=open").json();
  ASSERT_EQ(open["exceptions"].size(), 1u) << open.dump();
  const auto id = open["exceptions"][0]["id"].get<std::int64_t>();
  const std::string path = "/api/v1/exceptions/" + std::to_string(id);
  EXPECT_EQ(http.post_json(path, R"({"action":"assign"})").status, 400u);
  auto a = http.post_json(path, R"({"action":"assign","owner":"bob","note":"looking"})");
  ASSERT_EQ(a.status, 200u) << a.body;
  EXPECT_EQ(a.json()["status"], "assigned");
  auto r = http.post_json(path, R"({"action":"resolve","note":"re-scanned"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["status"], "resolved");
  EXPECT_EQ(http.post_json(path, R"({"action":"resolve"})").status, 409u);
  EXPECT_EQ(http.post_json("/api/v1/exceptions/999", R"({"action":"resolve"})").status, 404u);
  EXPECT_EQ(http.get("/api/v1/exceptions?status=open").json()["exceptions"].size(), 0u);
}


// The batch of seqs first..last with every movement's time_ms set to `time_ms`.
std::string batch_at(std::uint64_t first, std::uint64_t last, std::int64_t time_ms, const std::string& device = kDevice) {
  json b = json::parse(batch(first, last, device));
  for (auto& m : b["movements"]) m["time_ms"] = time_ms;
  return b.dump();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<json> exceptions_of(const json& all, const std::string& kind, const std::string& device) {
  std::vector<json> out;
  for (const auto& e : all["exceptions"]) {
    if (e["kind"] == kind && e["device"] == device) out.push_back(e);
  }
  return out;
}

// docs/PROTOCOL.md "Exceptions", clock_skew: a clock days ahead raises one
// exception per device (until a movement with a sane time arrives) and the
// movements are applied as received; a clock days behind is not flagged.
TEST_F(LedgerIntegration, ClockDaysAheadRaisesOneClockSkewAndEverythingIsApplied) {
  auto ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  device.publish(movements_topic(), batch_at(1, 3, now_ms() + 3 * kDay));
  ASSERT_TRUE(device.wait_applied(3));
  device.publish(movements_topic(), batch_at(4, 6, now_ms() + 3 * kDay));  // still ahead: no second one
  ASSERT_TRUE(device.wait_applied(6));
  auto skews = exceptions_of(get("/api/v1/exceptions"), "clock_skew", kDevice);
  ASSERT_EQ(skews.size(), 1u);
  EXPECT_EQ(skews[0]["seq"], 1);
  EXPECT_EQ(skews[0]["owner"], "it");
  EXPECT_GE(skews[0]["evidence"]["ahead_ms"].get<std::int64_t>(), 3 * kDay - 60'000);
  EXPECT_NE(skews[0]["next_action"].get<std::string>().find("NTP"), std::string::npos);
  // The clock is set right, then goes wrong again: a new exception.
  device.publish(movements_topic(), batch_at(7, 9, now_ms()));
  ASSERT_TRUE(device.wait_applied(9));
  device.publish(movements_topic(), batch_at(10, 12, now_ms() + 2 * kDay));
  ASSERT_TRUE(device.wait_applied(12));
  skews = exceptions_of(get("/api/v1/exceptions"), "clock_skew", kDevice);
  ASSERT_EQ(skews.size(), 2u);
  EXPECT_EQ(skews[1]["seq"], 10);
  // Days behind: applied, not flagged (an offline device looks the same).
  device.publish(movements_topic(), batch_at(13, 15, now_ms() - 5 * kDay));
  ASSERT_TRUE(device.wait_applied(15));
  EXPECT_EQ(exceptions_of(get("/api/v1/exceptions"), "clock_skew", kDevice).size(), 2u);
  EXPECT_EQ(stored_movements(), 15u);
  expect_invariants();
}

// docs/PROTOCOL.md "Seq conflicts": a device restored from an old journal
// backup re-sends seqs it had sent (harmless duplicates), then records new
// movements under seqs the ledger already holds. Those are not applied, the
// ack lists them as rejected, and one seq_conflict exception (owner it)
// names the device, the seqs, both contents and the next action; resends
// and a ledger restart raise nothing again.
TEST_F(LedgerIntegration, RestoredJournalBackupRaisesOneSeqConflictAndAppliesNothingTwice) {
  auto ledger = start_ledger();
  {
    FakeDevice device(broker_.uri(), "dev-hh-1");
    ASSERT_TRUE(device.wait_ledger_ready());
    device.publish(movements_topic(), batch(1, 9));
    ASSERT_TRUE(device.wait_applied(9));
  }
  const json before = get("/api/v1/balances?limit=100");
  // The backup knew seqs 1..6 (acked through 3): it resends 4..6 as they
  // were, then 7..9 are new movements of bob, and 10..11 come after.
  json restored = json::parse(batch(4, 11));
  for (auto& m : restored["movements"]) {
    const auto seq = m["seq"].get<std::uint64_t>();
    if (seq >= 7 && seq <= 9) m["operator"] = "bob";
  }
  FakeDevice device(broker_.uri(), "dev-hh-1");
  device.publish(movements_topic(), restored.dump());
  auto ack = device.next_ack();
  ASSERT_TRUE(ack) << ledger->drain_stderr();
  EXPECT_EQ((*ack)["applied_through"], 11);
  ASSERT_EQ((*ack)["rejected"].size(), 3u) << *ack;
  EXPECT_EQ((*ack)["rejected"][0]["seq"], 7);
  EXPECT_EQ((*ack)["rejected"][2]["seq"], 9);
  EXPECT_NE((*ack)["rejected"][0]["reason"].get<std::string>().find("seq_conflict"), std::string::npos);

  auto conflicts = exceptions_of(get("/api/v1/exceptions"), "seq_conflict", kDevice);
  ASSERT_EQ(conflicts.size(), 1u) << get("/api/v1/exceptions").dump();
  const json& e = conflicts[0];
  EXPECT_EQ(e["owner"], "it");
  EXPECT_EQ(e["priority"], "high");
  EXPECT_EQ(e["status"], "open");
  EXPECT_EQ(e["seq"], 7);
  EXPECT_EQ(e["evidence"]["seqs"], json::array({7, 8, 9}));
  EXPECT_EQ(e["evidence"]["applied_through"], 9);
  EXPECT_EQ(e["evidence"]["matching_duplicates"], 3);
  ASSERT_EQ(e["evidence"]["received"].size(), 3u);
  EXPECT_EQ(json::parse(e["evidence"]["received"][0].get<std::string>())["operator"], "bob");
  EXPECT_EQ(json::parse(e["evidence"]["stored"][0].get<std::string>())["operator"], "alice");
  EXPECT_NE(e["next_action"].get<std::string>().find("NOT applied"), std::string::npos);
  EXPECT_NE(e["next_action"].get<std::string>().find(kDevice), std::string::npos);

  // What is stored for 7..9 is the first content, once; 10..11 are applied.
  const json stored = get("/api/v1/movements?device=" + std::string(kDevice) + "&limit=100");
  ASSERT_EQ(stored["movements"].size(), 11u);
  for (const auto& m : stored["movements"]) EXPECT_EQ(m["operator"], "alice") << m;
  // Balances moved only by 10..11 (a receipt and a put-away of 2).
  std::int64_t supplier_before = 0, supplier_after = 0;
  for (const auto& b : before["balances"]) supplier_before += b["location"] == "@supplier" ? b["qty"].get<std::int64_t>() : 0;
  const json after = get("/api/v1/balances?limit=100");
  for (const auto& b : after["balances"]) {
    supplier_after += b["location"] == "@supplier" ? b["qty"].get<std::int64_t>() : 0;
  }
  EXPECT_EQ(supplier_after, supplier_before - 2);

  // Resent (the device keeps its unacked movements), and after a kill -9 of
  // the ledger: rejected again, no second exception.
  device.publish(movements_topic(), restored.dump());
  ASSERT_TRUE(device.next_ack());
  ledger->kill9();
  ledger = start_ledger();
  device.publish(movements_topic(), restored.dump());
  ack = device.next_ack(15s);
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["rejected"].size(), 3u);
  EXPECT_EQ(exceptions_of(get("/api/v1/exceptions"), "seq_conflict", kDevice).size(), 1u);
  expect_invariants();
}

// A new device given a retired id: a fresh journal from seq 1 whose content
// differs from what the ledger holds for that id. Not merged: rejected, and
// a seq_conflict exception that says so.
TEST_F(LedgerIntegration, NewJournalUnderARetiredIdIsAnExceptionNotAMerge) {
  auto ledger = start_ledger();
  FakeDevice device(broker_.uri(), "dev-hh-1");
  ASSERT_TRUE(device.wait_ledger_ready());
  device.publish(movements_topic(), batch(1, 3));
  ASSERT_TRUE(device.wait_applied(3));
  json fresh = json::parse(batch(1, 2));
  for (auto& m : fresh["movements"]) {
    m["operator"] = "carol";
    m["time_ms"] = now_ms();
  }
  device.publish(movements_topic(), fresh.dump());
  auto ack = device.next_ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["applied_through"], 3);
  EXPECT_EQ((*ack)["rejected"].size(), 2u) << *ack;
  auto conflicts = exceptions_of(get("/api/v1/exceptions"), "seq_conflict", kDevice);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0]["evidence"]["seqs"], json::array({1, 2}));
  EXPECT_NE(conflicts[0]["evidence"]["likely"].get<std::string>().find("retired id"), std::string::npos);
  EXPECT_EQ(stored_movements(), 3u);
  const json kept = get("/api/v1/movements?device=" + std::string(kDevice));
  for (const auto& m : kept["movements"]) EXPECT_EQ(m["operator"], "alice");
  expect_invariants();
}

}  // namespace
