// Identity on the broker (docs/PROTOCOL.md "Security"): certificates made by
// deploy/certs, a real mosquitto running deploy/mosquitto/tally.conf with
// deploy/mosquitto/acl (paths and ports rewritten for the test) on free
// loopback ports, Paho MQTT 5 clients with those certificates, the real
// tally-ledger and tallyd over TLS.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
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
using tally::test::Daemon;
using tally::test::HttpClient;
using tally::test::Mosquitto;
using tally::test::TempDir;
using namespace std::chrono_literals;

const std::string kSource = TALLY_SOURCE_DIR;
constexpr const char* kSite = "s1";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("deploy/mosquitto/tally.conf has no '" + from + "'");
  text.replace(at, from.size(), to);
}

// The certificates of one test site, made once by deploy/certs.
struct Certs {
  TempDir dir{"tally-certs"};
  std::string ca() const { return dir.str() + "/ca.crt"; }
  std::string crt(const std::string& who) const {
    return who == "ledger" ? dir.str() + "/ledger/ledger.crt" : dir.str() + "/devices/" + who + ".crt";
  }
  std::string key(const std::string& who) const {
    return who == "ledger" ? dir.str() + "/ledger/ledger.key" : dir.str() + "/devices/" + who + ".key";
  }
};

std::unique_ptr<Certs> g_certs;  // the suite's CA and certificates (SetUpTestSuite)

std::pair<tally::test::ExitStatus, std::string> certs_cmd(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--dir", dir});
  return tally::test::run_to_end(kSource + "/deploy/certs", args);
}

// deploy/mosquitto/tally.conf with the test's ports, files and stderr log.
Mosquitto::ConfigMaker site_broker(std::uint16_t* plain_port = nullptr) {
  return [plain_port](std::uint16_t port, const std::string& dir) {
    std::string conf = read_file(kSource + "/deploy/mosquitto/tally.conf");
    const std::string certs = g_certs->dir.str();
    replace_once(conf, "cafile /etc/mosquitto/tally/ca.crt", "cafile " + certs + "/ca.crt");
    replace_once(conf, "certfile /etc/mosquitto/tally/broker.crt", "certfile " + certs + "/broker/broker.crt");
    replace_once(conf, "keyfile /etc/mosquitto/tally/broker.key", "keyfile " + certs + "/broker/broker.key");
    replace_once(conf, "acl_file /etc/mosquitto/tally/acl", "acl_file " + kSource + "/deploy/mosquitto/acl");
    replace_once(conf, "persistence_location /var/lib/mosquitto/", "persistence_location " + dir + "/");
    replace_once(conf, "log_dest syslog", "log_dest stderr");
    replace_once(conf, "\nlistener 8883\n", "\nlistener " + std::to_string(port) + " 127.0.0.1\n");
    const auto plain = tally::test::free_loopback_port();
    if (plain_port) *plain_port = plain;
    replace_once(conf, "\nlistener 1883 127.0.0.1\n", "\nlistener " + std::to_string(plain) + " 127.0.0.1\n");
    return conf;
  };
}

std::string tls_uri(const Mosquitto& b) { return "ssl://127.0.0.1:" + std::to_string(b.port()); }

// A Paho MQTT 5 client with (or without) a certificate of the site.
class Client {
 public:
  // who: a device id or "ledger"; empty: no client certificate.
  Client(const std::string& uri, const std::string& client_id, const std::string& who)
      : client_(uri, client_id, mqtt::create_options(MQTTVERSION_5)) {
    client_.start_consuming();
    mqtt::ssl_options ssl;
    ssl.set_trust_store(g_certs->ca());
    if (!who.empty()) {
      ssl.set_key_store(g_certs->crt(who));
      ssl.set_private_key(g_certs->key(who));
    }
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);
    opts_.set_mqtt_version(MQTTVERSION_5);
    opts_.set_clean_start(true);
    opts_.set_connect_timeout(5);
    opts_.set_ssl(ssl);
  }
  ~Client() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }

  // "" when connected, else what Paho said.
  std::string connect() {
    try {
      client_.connect(opts_)->wait();
      return "";
    } catch (const mqtt::exception& e) {
      return std::string("refused: ") + e.what();
    }
  }

  // SUBACK reason codes (granted QoS, or ≥ 0x80).
  std::vector<int> subscribe(const std::string& filter) {
    auto tok = client_.subscribe(filter, 1);
    tok->wait_for(10s);
    std::vector<int> out;
    const mqtt::subscribe_response response = tok->get_subscribe_response();
    const std::vector<mqtt::ReasonCode> codes = response.get_reason_codes();
    for (auto rc : codes) out.push_back(static_cast<int>(rc));
    return out;
  }

  // The PUBACK reason code of a QoS 1 publish (0 = success); -1 without PUBACK.
  int publish(const std::string& topic, const std::string& payload, bool retain = false) {
    auto tok = client_.publish(topic, payload.data(), payload.size(), 1, retain);
    try {
      if (!tok->wait_for(10s)) return -1;
      return static_cast<int>(tok->get_reason_code());
    } catch (const mqtt::exception& e) {
      return e.get_reason_code();
    }
  }

  // Messages that arrive within `quiet` of each other (topic → payloads).
  std::vector<std::pair<std::string, std::string>> received(std::chrono::milliseconds quiet = 1500ms) {
    std::vector<std::pair<std::string, std::string>> out;
    mqtt::const_message_ptr msg;
    while (client_.try_consume_message_for(&msg, quiet) && msg) out.emplace_back(msg->get_topic(), msg->to_string());
    return out;
  }

  bool connected() const { return client_.is_connected(); }

 private:
  mqtt::async_client client_;
  mqtt::connect_options opts_;
};

std::string movements_topic(const std::string& device) {
  return std::string("tally/v1/") + kSite + "/" + device + "/movements";
}

tally::scanner::Movement receipt(const std::string& device, std::uint64_t seq) {
  using namespace tally::scanner;
  Movement m;
  m.device = device;
  m.site = kSite;
  m.seq = seq;
  m.operator_id = "alice";
  m.item.sku = "SKU-1";
  m.evidence = {"OP:alice", "SKU-1"};
  m.wall_time_ms = 1'790'000'000'000;
  m.type = MovementType::receipt;
  m.qty = 2;
  m.from = Endpoint{Location{"@supplier"}, std::nullopt};
  m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
  return m;
}

// A batch of receipts seq first..last; `named` is the device the payload
// claims, `owner` the device its movements name.
std::string batch(const std::string& named, std::uint64_t first, std::uint64_t last, const std::string& owner = "") {
  json list = json::array();
  for (auto s = first; s <= last; ++s) list.push_back(tally::wire::to_json(receipt(owner.empty() ? named : owner, s)));
  return json{{"v", 1}, {"device", named}, {"site", kSite}, {"movements", list}}.dump();
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_certs = std::make_unique<Certs>();
    auto [st, err] = certs_cmd(g_certs->dir.str(), {"device", "hh-1", "hh-2"});
    ASSERT_EQ(st.code, 0) << err;
    ASSERT_EQ(certs_cmd(g_certs->dir.str(), {"ledger"}).first.code, 0);
    ASSERT_EQ(certs_cmd(g_certs->dir.str(), {"broker", "localhost", "127.0.0.1"}).first.code, 0);
  }
  static void TearDownTestSuite() {
    g_certs.reset();
  }
};

TEST_F(SecurityTest, CertsScriptIsIdempotentRefusesBadIdsAndKeepsKeysPrivate) {
  TempDir dir{"tally-certs-script"};
  auto [st1, out1] = certs_cmd(dir.str(), {"device", "hh-9"});
  ASSERT_EQ(st1.code, 0) << out1;
  const auto crt = read_file(dir.str() + "/devices/hh-9.crt");
  const auto ca = read_file(dir.str() + "/ca.crt");
  auto [st2, out2] = certs_cmd(dir.str(), {"device", "hh-9"});
  ASSERT_EQ(st2.code, 0) << out2;
  EXPECT_EQ(read_file(dir.str() + "/devices/hh-9.crt"), crt) << "a second run keeps the certificate";
  EXPECT_EQ(read_file(dir.str() + "/ca.crt"), ca) << "the CA is made once";
  for (const char* key : {"/ca.key", "/devices/hh-9.key"}) {
    const auto perms = std::filesystem::status(dir.str() + key).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << key;
  }
  const std::vector<std::string> bad_ids{"a/b",       "hh+1",   "#",     "",      ".hidden", "-x", "ledger", "catalog",
                                        "locations", std::string(65, 'a'), "sp ace", "$SYS"};
  for (const auto& bad : bad_ids) {
    auto [st, err] = certs_cmd(dir.str(), {"device", bad});
    EXPECT_EQ(st.code, 2) << "'" << bad << "' " << err;
    EXPECT_FALSE(std::filesystem::exists(dir.str() + "/devices/" + bad + ".crt")) << bad;
  }
  EXPECT_EQ(certs_cmd(dir.str(), {"broker", "bad host"}).first.code, 2);
  EXPECT_EQ(certs_cmd(dir.str(), {"frobnicate"}).first.code, 2);
}

TEST_F(SecurityTest, DeviceCertificateWritesOnlyItsOwnTopicsAndReadsOnlyItsOwnAndMasterData) {
  Mosquitto broker(site_broker());
  Client ledger(tls_uri(broker), "ledger-1", "ledger");
  ASSERT_EQ(ledger.connect(), "");
  // The ledger's shared subscription: granted (QoS 1), deliveries checked by `read`.
  EXPECT_EQ(ledger.subscribe("$share/ledger/tally/v1/+/+/movements"), std::vector<int>{1});

  // hh-2's certificate with the ledger's client id cannot take over the
  // ledger's session: the broker uses the CN as client id.
  Client impostor(tls_uri(broker), "ledger-1", "hh-2");
  ASSERT_EQ(impostor.connect(), "");

  Client device(tls_uri(broker), "hh-1", "hh-1");
  ASSERT_EQ(device.connect(), "");
  EXPECT_EQ(device.subscribe("tally/v1/" + std::string(kSite) + "/hh-1/ack"), std::vector<int>{1});
  // mosquitto 2.0's acl_file does not check SUBSCRIBE: a filter on another
  // device's acks is granted, but nothing is delivered through it (below).
  EXPECT_EQ(device.subscribe("tally/v1/" + std::string(kSite) + "/hh-2/ack"), std::vector<int>{1});
  EXPECT_EQ(device.subscribe("tally/v1/" + std::string(kSite) + "/catalog/+"), std::vector<int>{1});
  EXPECT_EQ(device.subscribe("tally/v1/" + std::string(kSite) + "/+/allowances/+"), std::vector<int>{1});

  EXPECT_EQ(device.publish(movements_topic("hh-1"), "own-1"), 0);
  // Denied: mosquitto 2.0.11 answers an MQTT 5 QoS 1 PUBLISH with PUBACK
  // reason 0x87 "not authorized", drops the message and keeps the connection.
  EXPECT_EQ(device.publish(movements_topic("hh-2"), "forged"), 0x87);
  EXPECT_EQ(device.publish("tally/v1/" + std::string(kSite) + "/hh-2/status", "forged-status", true), 0x87);
  EXPECT_EQ(device.publish("tally/v1/" + std::string(kSite) + "/hh-1/ack", "self-ack"), 0x87);
  EXPECT_EQ(device.publish("tally/v1/" + std::string(kSite) + "/catalog/0", "forged-catalog", true), 0x87);
  EXPECT_EQ(device.publish("tally/v1/" + std::string(kSite) + "/hh-1/allowances/0", "self-grant", true), 0x87);
  EXPECT_EQ(device.publish("$share/ledger/tally/v1/s1/hh-2/movements", "share"), 0x87);
  EXPECT_TRUE(device.connected());
  EXPECT_EQ(device.publish(movements_topic("hh-1"), "own-2"), 0);
  // Another site's topic is not bound by the ACL (documented): the ledger
  // checks it against the payload.
  EXPECT_EQ(device.publish("tally/v1/other/hh-1/movements", "own-other-site"), 0);

  const auto got = ledger.received();
  std::vector<std::string> payloads;
  for (const auto& [topic, payload] : got) payloads.push_back(payload);
  EXPECT_EQ(payloads, (std::vector<std::string>{"own-1", "own-2", "own-other-site"}));
  EXPECT_TRUE(ledger.connected());

  // Reads: the ledger writes hh-2's ack, hh-1's ack and the catalog; hh-1
  // gets only its own ack and the master data.
  EXPECT_EQ(ledger.publish("tally/v1/" + std::string(kSite) + "/hh-2/ack", "ack-2"), 0);
  EXPECT_EQ(ledger.publish("tally/v1/" + std::string(kSite) + "/hh-1/ack", "ack-1"), 0);
  EXPECT_EQ(ledger.publish("tally/v1/" + std::string(kSite) + "/catalog/0", "catalog-0", true), 0);
  // Pick allowances: each device reads only its own.
  EXPECT_EQ(ledger.publish("tally/v1/" + std::string(kSite) + "/hh-2/allowances/0", "grant-2", true), 0);
  EXPECT_EQ(ledger.publish("tally/v1/" + std::string(kSite) + "/hh-1/allowances/0", "grant-1", true), 0);
  std::set<std::string> seen;
  for (const auto& [topic, payload] : device.received()) seen.insert(topic + "=" + payload);
  EXPECT_EQ(seen, (std::set<std::string>{"tally/v1/s1/hh-1/ack=ack-1", "tally/v1/s1/catalog/0=catalog-0",
                                         "tally/v1/s1/hh-1/allowances/0=grant-1"}));
}

TEST_F(SecurityTest, ClientsWithoutASiteCertificateAreRefused) {
  Mosquitto broker(site_broker());
  // The broker takes a device with its site certificate. First: a TLS
  // client created in this process right after failed handshakes of others
  // sometimes saw "socket error" under load (the broker logged an EOF from
  // the client mid-handshake; inside Paho/OpenSSL, not the broker's policy).
  {
    Client good(tls_uri(broker), "hh-2", "hh-2");
    ASSERT_EQ(good.connect(), "") << broker.log();
  }
  Client none(tls_uri(broker), "anon", "");
  EXPECT_NE(none.connect(), "") << "no client certificate";
  EXPECT_FALSE(none.connected());

  // A certificate of another CA (same CN) is refused as well.
  TempDir other{"tally-other-ca"};
  ASSERT_EQ(certs_cmd(other.str(), {"device", "hh-1"}).first.code, 0);
  {
    mqtt::async_client c(tls_uri(broker), "hh-1", mqtt::create_options(MQTTVERSION_5));
    mqtt::ssl_options ssl;
    ssl.set_trust_store(g_certs->ca());
    ssl.set_key_store(other.str() + "/devices/hh-1.crt");
    ssl.set_private_key(other.str() + "/devices/hh-1.key");
    mqtt::connect_options o;
    o.set_mqtt_version(MQTTVERSION_5);
    o.set_connect_timeout(5);
    o.set_ssl(ssl);
    EXPECT_THROW(c.connect(o)->wait(), mqtt::exception);
  }
  // Plain MQTT on the TLS port gets nowhere either.
  {
    mqtt::async_client c("tcp://127.0.0.1:" + std::to_string(broker.port()), "plain",
                         mqtt::create_options(MQTTVERSION_5));
    mqtt::connect_options o;
    o.set_mqtt_version(MQTTVERSION_5);
    o.set_connect_timeout(3);
    EXPECT_THROW(c.connect(o)->wait(), mqtt::exception);
  }
}

TEST_F(SecurityTest, LedgerOverTlsRejectsAPayloadWhoseDeviceDiffersFromItsTopic) {
  Mosquitto broker(site_broker());
  TempDir data{"tally-ledger-sec"};
  const auto conf = data.path() / "ledger.toml";
  std::ofstream(conf) << "[mqtt]\nuri = \"" << tls_uri(broker) << "\"\nclient_id = \"ledger-a\"\nca_file = \""
                      << g_certs->ca() << "\"\ncert_file = \"" << g_certs->crt("ledger") << "\"\nkey_file = \""
                      << g_certs->key("ledger") << "\"\n";
  Daemon ledger(TALLY_LEDGER_PATH, {"--config", conf.string(), "--data-dir", (data.path() / "d").string(), "--http",
                                    "127.0.0.1:0", "--log-level", "warn"});
  const auto http_port = ledger.wait_listening();

  Client device(tls_uri(broker), "hh-1", "hh-1");
  ASSERT_EQ(device.connect(), "");
  ASSERT_EQ(device.subscribe("tally/v1/s1/hh-1/ack"), std::vector<int>{1});
  // Ready when an empty batch is acked (the ledger subscribes after start).
  bool ready = false;
  for (int i = 0; i < 50 && !ready; ++i) {
    device.publish(movements_topic("hh-1"), batch("hh-1", 1, 0));
    ready = !device.received(300ms).empty();
  }
  ASSERT_TRUE(ready) << ledger.drain_stderr() << broker.log();

  // The broker lets hh-1 write its own topic; the payload claims hh-2, or
  // carries hh-2's movements: what a compromised hh-1 (or a misconfigured
  // ACL) would send. The ledger refuses both and raises forged_device.
  EXPECT_EQ(device.publish(movements_topic("hh-1"), batch("hh-2", 1, 2)), 0);
  EXPECT_EQ(device.publish(movements_topic("hh-1"), batch("hh-1", 1, 1, "hh-2")), 0);
  EXPECT_EQ(device.publish(movements_topic("hh-1"), batch("hh-1", 2, 3)), 0);
  const auto acks = device.received(1500ms);
  ASSERT_FALSE(acks.empty());
  std::vector<std::uint64_t> through;
  for (const auto& [topic, payload] : acks) through.push_back(json::parse(payload)["applied_through"].get<std::uint64_t>());
  EXPECT_EQ(through.back(), 3u) << "hh-1's seq 1 was rejected (another device's movement), 2..3 applied";

  HttpClient http(http_port);
  const json dl = http.get("/api/v1/dead-letters").json();
  ASSERT_EQ(dl["dead_letters"].size(), 1u) << dl.dump();
  EXPECT_NE(dl["dead_letters"][0]["reason"].get<std::string>().find("forged_device"), std::string::npos) << dl.dump();
  const json ex = http.get("/api/v1/exceptions").json();
  int forged = 0;
  for (const auto& e : ex["exceptions"]) {
    if (e["kind"] == "forged_device") {
      ++forged;
      EXPECT_EQ(e["owner"], "security");
    }
  }
  EXPECT_EQ(forged, 2) << ex.dump();
  EXPECT_TRUE(http.get("/api/v1/movements?device=hh-2").json()["movements"].empty());
  EXPECT_EQ(http.get("/api/v1/movements?device=hh-1").json()["movements"].size(), 2u);
  EXPECT_TRUE(ledger.running());
}

TEST_F(SecurityTest, MissingOrUnreadableTlsFilesExitTwoWithOneLine) {
  TempDir dir{"tally-tls-config"};
  const auto conf = dir.path() / "c.toml";
  std::ofstream(conf) << "[mqtt]\nuri = \"ssl://127.0.0.1:8883\"\nca_file = \"" << g_certs->ca()
                      << "\"\ncert_file = \"" << dir.str() << "/nope.crt\"\nkey_file = \"" << g_certs->key("ledger")
                      << "\"\n";
  for (const char* path : {TALLY_LEDGER_PATH, TALLYD_PATH}) {
    auto [st, err] = tally::test::run_to_end(std::string(path), {"--config", conf.string(), "--data-dir", dir.str() + "/d"});
    EXPECT_EQ(st.code, 2) << path << ": " << err;
    EXPECT_NE(err.find("mqtt.cert_file '" + dir.str() + "/nope.crt' does not exist"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST_F(SecurityTest, TallydSyncsWithTheLedgerOverTlsEndToEnd) {
  Mosquitto broker(site_broker());
  TempDir dir{"tally-e2e-tls"};
  const auto tls_conf = [&](const std::string& who, const std::string& extra) {
    const auto path = dir.path() / (who + ".toml");
    std::ofstream(path) << "[mqtt]\nuri = \"" << tls_uri(broker) << "\"\nca_file = \"" << g_certs->ca()
                        << "\"\ncert_file = \"" << g_certs->crt(who) << "\"\nkey_file = \"" << g_certs->key(who)
                        << "\"\n"
                        << extra;
    return path.string();
  };
  Daemon ledger(TALLY_LEDGER_PATH, {"--config", tls_conf("ledger", "client_id = \"ledger-e2e\"\n"), "--data-dir",
                                    dir.str() + "/ledger", "--http", "127.0.0.1:0", "--log-level", "warn"});
  HttpClient lhttp(ledger.wait_listening());
  Daemon tallyd(TALLYD_PATH, {"--config", tls_conf("hh-1", "linger_ms = 5\nbackoff_min_ms = 50\nbackoff_max_ms = 400\n"),
                              "--data-dir", dir.str() + "/tallyd", "--device-id", "hh-1", "--site", kSite, "--http",
                              "127.0.0.1:0", "--log-level", "warn"});
  HttpClient http(tallyd.wait_listening());
  for (const std::string scan : {"OP:alice", "CMD:MOVE", "A-01-01-1", "4006381333931", "B-02-01-1", "A-01-01-1",
                                 "4006381333931", "B-02-01-2"}) {
    auto r = http.post_json("/api/v1/scans", json{{"text", scan}}.dump());
    ASSERT_EQ(r.status / 100, 2u) << scan << ": " << r.body;
  }
  json s;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    s = http.get("/api/v1/status").json();
    if (s["journal"]["acked_seq"] == 2 && s["journal"]["pending"] == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(s["journal"]["acked_seq"], 2) << s.dump() << "\n" << tallyd.drain_stderr() << ledger.drain_stderr()
                                          << broker.log();
  EXPECT_EQ(s["broker"]["connected"], true);
  EXPECT_EQ(s["broker"]["uri"], tls_uri(broker));
  EXPECT_EQ(lhttp.get("/api/v1/movements?device=hh-1").json()["movements"].size(), 2u);
  // The ACL lets the ledger read every device's status (the fleet view).
  json d;
  const auto status_deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < status_deadline) {
    const json all = lhttp.get("/api/v1/devices").json();
    d = all["devices"].empty() ? json() : all["devices"][0];
    if (d.is_object() && d["online"] == true && d["pending"] == 0 && d["last_seq"] == 2) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(d["online"], true) << d.dump() << broker.log();
  EXPECT_EQ(d["pending"], 0) << d.dump();
  EXPECT_EQ(d["last_seq"], 2) << d.dump();
  EXPECT_TRUE(lhttp.get("/api/v1/dead-letters").json()["dead_letters"].empty());
}

}  // namespace
