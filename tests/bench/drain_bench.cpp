// Drain benchmark (issue 5, docs/PERFORMANCE.md "Drain"): N movements queued
// in a real device journal, then the real tallyd and the real tally-ledger
// binaries drain them through a real mosquitto on a loopback port until the
// ledger has acknowledged all of them. Printed beside the raw broker
// round-trip of the same bytes (a Paho publisher and subscriber moving the
// same batch payloads through the same broker), measured in the same run.
//
//   drain_bench [--movements=N] [--dir=DIR] [--target-s=S]
//
// Exit status 0 when everything was acknowledged (and, with --target-s, in
// time); 1 otherwise. Timing: from spawning tallyd (start-up, journal open,
// MQTT connect included) until the ledger's ack with applied_through = N is
// seen by a Paho client subscribed to the device's ack topic (acks are
// published only after the ledger's commit).
#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_args.hpp"
#include "daemon.hpp"
#include "mosquitto.hpp"
#include "tally/journal/journal.hpp"
#include "tally/wire/movement_json.hpp"
#include "temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSite = "bench";
constexpr const char* kDevice = "hh-bench";
constexpr std::int64_t kT0 = 1'790'000'000'000;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Receipts, put-aways and picks over 1 000 items and bins (stock never goes
// negative, so the ledger raises no exceptions): 3k+1 receipt 4 → DOCK-1,
// 3k+2 put-away 4 → bin, 3k+3 pick 1 → tote. Five evidence scans each.
tally::journal::Entry entry(std::uint64_t i) {
  using namespace tally::scanner;
  const std::uint64_t k = i / 3;
  const std::string gtin = "SKU-" + std::to_string(1000 + k % 1000);
  const std::string bin = "A-" + std::to_string(10 + k % 90) + "-0" + std::to_string(1 + k % 9) + "-1";
  tally::journal::Entry e;
  e.scan = tally::journal::ScanRecord{bin, "code128", "bench", "alice", "move", "good", "movement_recorded",
                                      kT0 + static_cast<std::int64_t>(i)};
  Movement m;
  m.operator_id = "alice";
  m.item.sku = gtin;
  m.item.lot = "L" + std::to_string(k % 7);
  m.wall_time_ms = e.scan.time_ms;
  switch (i % 3) {
    case 0:
      m.type = MovementType::receipt;
      m.qty = 4;
      m.from = Endpoint{Location{"@supplier"}, std::nullopt};
      m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      m.reference = "PO:4500012";
      break;
    case 1:
      m.type = MovementType::putaway;
      m.qty = 4;
      m.from = Endpoint{Location{"DOCK-1"}, StockState::inbound};
      m.to = Endpoint{Location{bin}, StockState::available};
      break;
    default:
      m.type = MovementType::pick;
      m.qty = 1;
      m.from = Endpoint{Location{bin}, StockState::available};
      m.to = Endpoint{Location{"TOTE:17"}, StockState::picked};
      m.reference = "ORD:77";
      break;
  }
  m.evidence = {"OP:alice", "CMD:MOVE", bin, gtin, "TOTE:17"};
  e.movement = std::move(m);
  return e;
}

// A Paho MQTT 5 client that counts messages and bytes and remembers the
// highest applied_through it saw on an ack topic.
class Watcher {
 public:
  Watcher(const std::string& uri, const std::string& id) : cli_(uri, id, mqtt::create_options(MQTTVERSION_5)) {
    cli_.set_message_callback([this](mqtt::const_message_ptr m) { on_message(m); });
    mqtt::connect_options o;  // setters: Paho C++ 1.2.0's builder loses v5 properties
    o.set_mqtt_version(MQTTVERSION_5);
    o.set_clean_start(true);
    cli_.connect(o)->wait_for(10s);
  }
  ~Watcher() {
    try {
      cli_.disconnect()->wait_for(2s);
    } catch (...) {
    }
  }
  void subscribe(const std::string& filter) { cli_.subscribe(filter, 1)->wait_for(10s); }
  mqtt::async_client& client() { return cli_; }

  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, pred);
  }
  std::uint64_t messages = 0, bytes = 0, applied = 0;
  std::mutex mutex_;

 private:
  void on_message(const mqtt::const_message_ptr& m) {
    std::lock_guard lock(mutex_);
    ++messages;
    bytes += m->get_payload_ref().size();
    if (m->get_topic().size() > 4 && m->get_topic().compare(m->get_topic().size() - 4, 4, "/ack") == 0) {
      const json j = json::parse(m->get_payload_str(), nullptr, false);
      if (j.is_object()) applied = std::max(applied, j.value("applied_through", std::uint64_t{0}));
    }
    cv_.notify_all();
  }
  mqtt::async_client cli_;
  std::condition_variable cv_;
};


}  // namespace

int main(int argc, char** argv) {
  using tally::bench::arg_value;
  const auto n = static_cast<std::uint64_t>(std::stoull(arg_value(argc, argv, "movements", "100000")));
  const double target_s = std::stod(arg_value(argc, argv, "target-s", "0"));
  const std::string dir = arg_value(argc, argv, "dir", "");
  if (!dir.empty()) ::setenv("TMPDIR", dir.c_str(), 1);

  tally::test::TempDir work{"tally-drain-bench"};
  const auto data = work.path() / "device";
  std::filesystem::create_directories(data);

  // 1. The backlog: N movements in a real journal (durable=false only to make
  //    the set-up quick; the file is the same).
  std::vector<std::string> payloads;  // the journal's stored payload texts, for the raw run
  {
    tally::journal::Options o;
    o.path = data / "journal.db";
    o.device = kDevice;
    o.site = kSite;
    o.durable = false;
    auto j = tally::journal::Journal::open(o);
    if (!j) {
      std::cerr << "journal: " << j.error().message << '\n';
      return 1;
    }
    std::vector<tally::journal::Entry> batch;
    for (std::uint64_t i = 0; i < n; ++i) {
      batch.push_back(entry(i));
      if (batch.size() == 1000 || i + 1 == n) {
        if (auto r = (*j)->append_batch(batch); !r) {
          std::cerr << "append: " << r.error().message << '\n';
          return 1;
        }
        batch.clear();
      }
    }
    auto rows = (*j)->movements_after(0, n);
    if (!rows || rows->size() != n) {
      std::cerr << "journal read-back failed\n";
      return 1;
    }
    payloads.reserve(n);
    for (const auto& m : *rows) payloads.push_back(tally::wire::to_json_text(m));
  }

  // The same batch payloads tallyd sends with its defaults (500 movements,
  // at most 256 KiB).
  std::vector<std::string> batches;
  {
    const std::string head = std::string(R"({"v":1,"device":")") + kDevice + R"(","site":")" + kSite +
                             R"(","movements":[)";
    std::string cur;
    std::size_t count = 0;
    for (const auto& p : payloads) {
      if (count == 500 || (count > 0 && cur.size() + p.size() + 3 > 256U * 1024U)) {
        batches.push_back(cur + "]}");
        cur.clear();
        count = 0;
      }
      cur += count == 0 ? head : ",";
      cur += p;
      ++count;
    }
    if (count > 0) batches.push_back(cur + "]}");
  }
  std::uint64_t total_bytes = 0;
  for (const auto& b : batches) total_bytes += b.size();

  tally::test::Mosquitto broker;

  // 2. Raw broker round trip of the same bytes: a Paho publisher and a Paho
  //    subscriber, QoS 1, every batch payload once, until all arrived.
  double raw_s = 0;
  {
    Watcher sub(broker.uri(), "bench-raw-sub");
    sub.subscribe("bench/raw");
    Watcher pub(broker.uri(), "bench-raw-pub");
    const auto t0 = Clock::now();
    std::vector<mqtt::delivery_token_ptr> tokens;
    tokens.reserve(batches.size());
    for (const auto& b : batches) {
      // Paho limits messages in flight (max_inflight); wait and retry when full.
      for (;;) {
        try {
          tokens.push_back(pub.client().publish("bench/raw", b.data(), b.size(), 1, false));
          break;
        } catch (const mqtt::exception&) {
          std::this_thread::sleep_for(100us);
        }
      }
    }
    const bool ok = sub.wait([&] { return sub.messages >= batches.size(); }, 120s);
    raw_s = seconds_since(t0);
    if (!ok) {
      std::cerr << "raw round trip: only " << sub.messages << " of " << batches.size() << " arrived\n";
      return 1;
    }
  }

  // 3. tally-ledger, ready when it acks an empty batch of a probe device.
  Watcher acks(broker.uri(), "bench-acks");
  acks.subscribe(std::string("tally/v1/") + kSite + "/+/ack");
  tally::test::Daemon ledger(TALLY_LEDGER_PATH, {"--data-dir", (work.path() / "ledger").string(), "--http",
                                                 "127.0.0.1:0", "--mqtt", broker.uri(), "--client-id",
                                                 "bench-ledger", "--log-level", "warn"});
  ledger.wait_listening();
  {
    const std::string probe =
        std::string(R"({"v":1,"device":"probe","site":")") + kSite + R"(","movements":[]})";
    const std::string topic = std::string("tally/v1/") + kSite + "/probe/movements";
    bool ready = false;
    for (int i = 0; i < 50 && !ready; ++i) {
      acks.client().publish(topic, probe.data(), probe.size(), 1, false)->wait_for(5s);
      ready = acks.wait([&] { return acks.messages > 0; }, 300ms);
    }
    if (!ready) {
      std::cerr << "tally-ledger never acked; stderr: " << ledger.drain_stderr() << '\n';
      return 1;
    }
  }

  // 4. tallyd drains the journal.
  const auto conf = work.path() / "tallyd.toml";
  {
    std::ofstream(conf) << "[mqtt]\nbackoff_min_ms = 50\n";  // defaults otherwise
  }
  const auto t0 = Clock::now();
  tally::test::Daemon tallyd(TALLYD_PATH, {"--config", conf.string(), "--data-dir", data.string(), "--device-id",
                                           kDevice, "--site", kSite, "--http", "127.0.0.1:0", "--log-level", "warn",
                                           "--mqtt", broker.uri()});
  const bool drained = acks.wait([&] { return acks.applied >= n; }, 120s);
  const double drain_s = seconds_since(t0);

  const double mb = static_cast<double>(total_bytes) / 1e6;
  std::printf("movements            %llu in %zu batches, %.1f MB of batch payload\n",
              static_cast<unsigned long long>(n), batches.size(), mb);
  std::printf("drain (tallyd -> mosquitto -> tally-ledger -> ack)  %7.3f s  %9.0f movements/s  %6.1f MB/s\n",
              drain_s, static_cast<double>(n) / drain_s, mb / drain_s);
  std::printf("raw broker round trip, same bytes (Paho pub -> sub)  %7.3f s  %9.0f movements/s  %6.1f MB/s\n",
              raw_s, static_cast<double>(n) / raw_s, mb / raw_s);
  std::printf("drain / raw          %.2fx\n", drain_s / raw_s);
  if (!drained) {
    std::printf("NOT DRAINED: applied_through %llu of %llu\n", static_cast<unsigned long long>(acks.applied),
                static_cast<unsigned long long>(n));
    std::cerr << "tallyd stderr: " << tallyd.drain_stderr() << "\nledger stderr: " << ledger.drain_stderr() << '\n';
    return 1;
  }
  if (target_s > 0) {
    std::printf("target               %.1f s: %s\n", target_s, drain_s <= target_s ? "met" : "NOT met");
    if (drain_s > target_s) return 1;
  }
  tallyd.signal(SIGTERM);
  tallyd.wait();
  ledger.signal(SIGTERM);
  ledger.wait();
  return 0;
}
