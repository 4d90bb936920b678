// tally-sim — a fleet of simulated devices against a real mosquitto and the
// real tally-ledger, with scheduled faults, ending in a check that the ledger
// equals the union of all journals (issue 9; docs/OPERATIONS.md "Fleet
// simulator", docs/PERFORMANCE.md "Scale").
//
// Each simulated device is what tallyd runs, minus HTTP and USB: the real
// tally::device::Engine (the scanner Session and a real SQLite journal on its
// worker thread, durable appends) and the real tally::edge::EdgeClient (Paho
// MQTT 5) over it, all edge clients on one Asio thread. A device scans a
// realistic cycle (receive 3 against a PO, put away, move one, pick one,
// count a bin — now and then miscounted, which the ledger books as an adjust)
// at a configurable scan rate with jitter. Faults, spread over the run:
// broker restarts (SIGTERM + start on the same port, persistence kept),
// kill -9 of tally-ledger and restart, partitions (a group of devices loses
// its MQTT client for a while and keeps scanning offline) and device kills
// (client dropped, journal closed mid-drain and reopened: the session
// resumes from its snapshot).
//
// After the run it heals every partition, waits until every device's journal
// is acknowledged, stops everything and checks, from the journals and the
// ledger's SQLite file (read-only): every journaled (device, seq) is in the
// ledger exactly once with the same content, nothing else is; no movement was
// rejected; every balance equals the sum of the movements (journals + the
// ledger's own count adjustments); every item's balances sum to zero; the
// ledger's own /api/v1/invariants passes; every scan answered as recorded is
// in its journal. Prints one human line and a JSON report (also --json=FILE);
// exit status 1 on any violation, 2 on a usage or set-up error.
//
// Ack lag: from the moment a movement's scan was answered as recorded (it is
// durable; the edge client sends it linger_ms later) until the edge client
// hands the ledger's ack that covers it to the journal (Outbox::record_ack),
// observed by a pass-through Outbox around the engine's journal worker.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "http_client.hpp"
#include "mosquitto.hpp"
#include "tally/device/engine.hpp"
#include "tally/edge/edge_client.hpp"
#include "tally/journal/journal.hpp"
#include "tally/ledger/store.hpp"
#include "tally/ui/device_routes.hpp"
#include "tally/wire/movement_json.hpp"
#include "temp_dir.hpp"

namespace {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kSite = "sim";

struct Config {
  int devices = 20;
  double duration_s = 60;      // scanning time
  double scan_ms = 100;        // mean time between two scans of one device
  double jitter = 0.5;         // each gap is scan_ms * (1 ± jitter), uniform
  int broker_restarts = 1;
  int ledger_kills = 1;
  int partitions = 1;
  int device_kills = 1;
  double partition_s = 3;      // how long a partition lasts
  double partition_share = 0.2;  // share of devices cut off by one partition
  double settle_s = 60;        // longest wait for every ack after the run
  int resend_timeout_ms = 2000;
  int linger_ms = 20;
  std::uint64_t seed = 1;
  std::string dir;        // work folder (default: a temp dir, removed)
  std::string json_out;   // also write the JSON report here
  bool fsync = true;      // durable journals (tallyd's setting)
};

std::optional<Config> parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      if (a == "--no-fsync") {
        c.fsync = false;
        continue;
      }
      std::cerr << "tally-sim: bad argument '" << a << "' (use --name=value; see the source header)\n";
      return std::nullopt;
    }
    const std::string k = a.substr(2, eq - 2);
    const std::string v = a.substr(eq + 1);
    try {
      if (k == "devices") c.devices = std::stoi(v);
      else if (k == "duration-s") c.duration_s = std::stod(v);
      else if (k == "scan-ms") c.scan_ms = std::stod(v);
      else if (k == "jitter") c.jitter = std::stod(v);
      else if (k == "broker-restarts") c.broker_restarts = std::stoi(v);
      else if (k == "ledger-kills") c.ledger_kills = std::stoi(v);
      else if (k == "partitions") c.partitions = std::stoi(v);
      else if (k == "device-kills") c.device_kills = std::stoi(v);
      else if (k == "partition-s") c.partition_s = std::stod(v);
      else if (k == "partition-share") c.partition_share = std::stod(v);
      else if (k == "settle-s") c.settle_s = std::stod(v);
      else if (k == "resend-timeout-ms") c.resend_timeout_ms = std::stoi(v);
      else if (k == "linger-ms") c.linger_ms = std::stoi(v);
      else if (k == "seed") c.seed = std::stoull(v);
      else if (k == "dir") c.dir = v;
      else if (k == "json") c.json_out = v;
      else {
        std::cerr << "tally-sim: unknown option --" << k << '\n';
        return std::nullopt;
      }
    } catch (const std::exception&) {
      std::cerr << "tally-sim: bad value for --" << k << ": '" << v << "'\n";
      return std::nullopt;
    }
  }
  if (c.devices < 1 || c.duration_s <= 0 || c.scan_ms <= 0 || c.jitter < 0 || c.jitter >= 1 || c.settle_s <= 0) {
    std::cerr << "tally-sim: need devices ≥ 1, duration-s > 0, scan-ms > 0, 0 ≤ jitter < 1, settle-s > 0\n";
    return std::nullopt;
  }
  return c;
}

// A valid GTIN-13 from a 12-digit body (restricted-circulation prefix 2).
std::string gtin13(std::uint64_t n) {
  std::string body = std::to_string(200000000000ULL + n % 100000000000ULL);
  int sum = 0;
  for (std::size_t i = 0; i < 12; ++i) sum += (body[i] - '0') * (i % 2 == 0 ? 1 : 3);
  return body + static_cast<char>('0' + (10 - sum % 10) % 10);
}

// CPU seconds (utime + stime) of a live process, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(s.substr(close + 2));
  std::string f;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(f);
    if (i == 15) {
      stime = std::stoull(f);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The scans of one work cycle of device `d` (cycle k), and how the model of
// the device's count bin changes. Every movement keeps the device's own
// stock non-negative in its own seq order, so the ledger never sees a
// negative balance whatever the interleaving of devices.
struct Step {
  std::string text;
  bool movement = false;  // this scan records a movement
};

class Script {
 public:
  Script(int d, std::uint64_t seed) : d_(d), rng_(seed * 7919U + static_cast<std::uint64_t>(d)) {}

  const Step& current() {
    if (pos_ >= steps_.size()) next_cycle();
    return steps_[pos_];
  }
  void advance() { ++pos_; }

 private:
  void next_cycle() {
    steps_.clear();
    pos_ = 0;
    const std::string dev = std::to_string(d_);
    const std::string item = gtin13(static_cast<std::uint64_t>(d_) * 1000U + cycle_ % 5U);
    const std::string bin_a = "S-" + dev + "-1-1";
    const std::string bin_b = "S-" + dev + "-2-" + std::to_string(1 + cycle_ % 5U);
    auto add = [&](std::string t, bool m = false) { steps_.push_back({std::move(t), m}); };
    if (cycle_ == 0) add("OP:op" + dev);
    add("CMD:RECEIVE");
    add("PO:" + std::to_string(4500000 + cycle_));
    add(item);
    add(item);
    add(item);
    add("CMD:CONFIRM", true);  // receipt 3 @supplier → DOCK-1:inbound
    add("CMD:DONE");
    add("CMD:PUTAWAY");
    add("LOC:DOCK-1");
    add(item);
    add("CMD:QTY:3");
    add(bin_a, true);  // putaway 3 DOCK-1:inbound → bin A
    add("CMD:MOVE");
    add(bin_a);
    add(item);
    add(bin_b, true);  // move 1 bin A → bin B
    add("CMD:DONE");
    add("CMD:PICK");
    add("ORD:" + std::to_string(7700000 + cycle_));
    add(bin_a);
    add(item);
    add("TOTE:" + dev, true);  // pick 1 bin A → tote
    add("CMD:DONE");
    // Count bin B: the device's own model of what is there; one count in
    // seven finds one more (the ledger books a +1 adjust, which the model
    // then follows).
    auto& in_b = bin_b_[{bin_b, item}];
    in_b += 1;
    const bool off = std::uniform_int_distribution<int>(0, 6)(rng_) == 0;
    const std::int64_t counted = in_b + (off ? 1 : 0);
    in_b = counted;
    add("CMD:COUNT");
    add(bin_b);
    add(item);
    add("CMD:QTY:" + std::to_string(counted));
    add("CMD:CONFIRM", true);  // count
    add("CMD:DONE");
    ++cycle_;
  }

  int d_;
  std::mt19937_64 rng_;
  std::uint64_t cycle_ = 0;
  std::vector<Step> steps_;
  std::size_t pos_ = 0;
  std::map<std::pair<std::string, std::string>, std::int64_t> bin_b_;
};

struct Device;

// The edge client's view of the journal worker, passed through unchanged; it only
// notes when an ack reaches the journal (the ack lag).
class ObservedOutbox final : public tally::edge::Outbox {
 public:
  ObservedOutbox(tally::edge::Outbox& inner, std::function<void(std::uint64_t)> on_ack)
      : inner_(inner), on_ack_(std::move(on_ack)) {}
  tally::edge::OutboxState outbox_state() const override { return inner_.outbox_state(); }
  void read_outbox(std::uint64_t after, std::size_t limit,
                   std::function<void(tally::Result<std::vector<tally::edge::OutboxItem>>)> done) override {
    inner_.read_outbox(after, limit, std::move(done));
  }
  void record_ack(std::uint64_t applied_through, std::function<void(tally::Result<void>)> done) override {
    on_ack_(applied_through);  // called on the edge client's executor
    inner_.record_ack(applied_through, std::move(done));
  }
  void read_exceptions(std::int64_t after, std::size_t limit,
                       std::function<void(tally::Result<std::vector<tally::edge::ExceptionItem>>)> done) override {
    inner_.read_exceptions(after, limit, std::move(done));
  }
  void record_exceptions_ack(std::int64_t through, std::function<void(tally::Result<void>)> done) override {
    inner_.record_exceptions_ack(through, std::move(done));
  }
  void store_master_data(std::string kind, std::int64_t version, std::string text,
                         std::function<void(tally::Result<void>)> done) override {
    inner_.store_master_data(std::move(kind), version, std::move(text), std::move(done));
  }
  void set_append_listener(std::function<void(tally::edge::OutboxState)> listener) override {
    inner_.set_append_listener(std::move(listener));
  }

 private:
  tally::edge::Outbox& inner_;
  std::function<void(std::uint64_t)> on_ack_;
};

struct Stats {
  std::uint64_t scans = 0;
  std::uint64_t recorded = 0;  // movements answered as recorded
  std::uint64_t script_errors = 0;
  std::uint64_t overloaded = 0;
  std::string first_script_error;
  std::vector<double> lag_ms;
};

// One simulated device. Everything but the engine's own worker runs on the
// Asio thread.
struct Device {
  int index = 0;
  std::string id;
  tally::device::EngineOptions engine_options;
  tally::edge::EdgeOptions edge_options;
  std::unique_ptr<tally::device::Engine> engine;
  std::unique_ptr<ObservedOutbox> outbox;
  std::unique_ptr<tally::edge::EdgeClient> edge;
  std::unique_ptr<asio::steady_timer> timer;
  std::unique_ptr<Script> script;
  bool scanning = true;    // false once the run's scanning time is over
  bool in_flight = false;  // a scan waits for its answer
  bool restarting = false;
  bool kill_pending = false;
  bool partitioned = false;
  std::uint64_t acked = 0;
  std::uint64_t last_recorded_seq = 0;
  std::map<std::uint64_t, Clock::time_point> unacked;  // seq → answered as recorded
  std::vector<std::uint64_t> recorded_seqs;             // every seq answered as recorded
};

class Fleet {
 public:
  Fleet(const Config& config, asio::io_context& io, std::string broker_uri, const std::filesystem::path& dir)
      : config_(config), io_(io), rng_(config.seed) {
    for (int d = 0; d < config.devices; ++d) {
      auto dev = std::make_unique<Device>();
      dev->index = d;
      dev->id = "sim-" + std::to_string(d);
      auto& eo = dev->engine_options;
      eo.session.device = dev->id;
      eo.session.site = kSite;
      eo.journal.path = dir / dev->id / "journal.db";
      eo.journal.device = dev->id;
      eo.journal.site = kSite;
      eo.journal.durable = config.fsync;
      eo.version = "tally-sim";
      eo.mqtt_uri = broker_uri;
      auto& ed = dev->edge_options;
      ed.uri = broker_uri;
      ed.device = dev->id;
      ed.site = kSite;
      ed.version = "tally-sim";
      ed.window.linger = std::chrono::milliseconds(config.linger_ms);
      ed.window.resend_timeout = std::chrono::milliseconds(config.resend_timeout_ms);
      ed.keepalive = 5s;
      ed.backoff_min = 50ms;
      ed.backoff_max = 2000ms;
      ed.session_expiry = 3600s;
      dev->script = std::make_unique<Script>(d, config.seed);
      std::filesystem::create_directories(eo.journal.path.parent_path());
      devices_.push_back(std::move(dev));
    }
  }

  // Opens every journal (blocking; before the loop runs). False on error.
  bool open_all() {
    for (auto& d : devices_) {
      auto e = tally::device::Engine::open(d->engine_options);
      if (!e) {
        std::cerr << "tally-sim: " << d->id << ": " << e.error().message << '\n';
        return false;
      }
      d->engine = std::move(*e);
    }
    return true;
  }

  // On the Asio thread: connect every device and start scanning.
  void start() {
    for (auto& d : devices_) {
      d->timer = std::make_unique<asio::steady_timer>(io_);
      connect(*d);
      schedule(*d, true);
    }
  }

  // On the Asio thread.
  void partition(std::size_t first, std::size_t count, std::chrono::milliseconds length) {
    auto group = std::make_shared<std::vector<Device*>>();
    for (std::size_t i = 0; i < count; ++i) {
      Device& d = *devices_[(first + i) % devices_.size()];
      if (d.partitioned || d.restarting || !d.edge) continue;
      d.partitioned = true;
      disconnect(d);
      group->push_back(&d);
    }
    auto t = std::make_shared<asio::steady_timer>(io_, length);
    t->async_wait([this, t, group](boost::system::error_code) {
      for (Device* d : *group) {
        d->partitioned = false;
        if (!d->restarting) connect(*d);
      }
    });
    ++faults_["partitions"];
  }

  // On the Asio thread: drop the device's client and close its journal
  // (when no scan is waiting for its answer), reopen both.
  void kill_device(std::size_t i) {
    Device& d = *devices_[i % devices_.size()];
    if (d.restarting) return;
    d.kill_pending = true;
    if (!d.in_flight) restart(d);
  }

  // On the Asio thread: stop scanning, heal partitions; `done` once every
  // device has its journal acknowledged (or never, the caller times out).
  void finish(std::function<void()> done) {
    on_all_acked_ = std::move(done);
    for (auto& d : devices_) {
      d->scanning = false;
      if (d->timer) d->timer->cancel();
      if (d->partitioned) {
        d->partitioned = false;
        if (!d->restarting) connect(*d);
      }
    }
    check_all_acked();
  }

  // On the Asio thread: stop every client (the engines stay open).
  void stop_clients() {
    for (auto& d : devices_) {
      disconnect(*d);
      if (d->timer) d->timer->cancel();
    }
  }

  // Blocking, after the loop: closes every journal.
  void close_all() {
    for (auto& d : devices_) {
      d->outbox.reset();
      d->engine.reset();
    }
  }

  std::vector<std::unique_ptr<Device>>& devices() { return devices_; }
  Stats& stats() { return stats_; }
  std::map<std::string, int>& faults() { return faults_; }
  std::size_t restarts_running() const { return restarts_running_; }

 private:
  void connect(Device& d) {
    d.outbox = std::make_unique<ObservedOutbox>(d.engine->journal_worker(), [this, &d](std::uint64_t n) { on_ack(d, n); });
    d.edge = std::make_unique<tally::edge::EdgeClient>(io_.get_executor(), *d.outbox, d.edge_options);
    if (auto r = d.edge->start(); !r) std::cerr << "tally-sim: " << d.id << ": " << r.error().message << '\n';
  }
  void disconnect(Device& d) {
    if (d.edge) d.edge->stop();
    d.edge.reset();
  }

  void on_ack(Device& d, std::uint64_t n) {
    if (n <= d.acked) return;
    d.acked = n;
    const auto now = Clock::now();
    for (auto it = d.unacked.begin(); it != d.unacked.end() && it->first <= n; it = d.unacked.erase(it)) {
      stats_.lag_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    }
    if (on_all_acked_) check_all_acked();
  }

  void check_all_acked() {
    if (!on_all_acked_) return;
    for (auto& d : devices_) {
      if (d->in_flight || d->restarting || d->acked < d->last_recorded_seq) return;
    }
    auto done = std::move(on_all_acked_);
    on_all_acked_ = nullptr;
    done();
  }

  void schedule(Device& d, bool first = false) {
    if (!d.scanning || d.restarting) return;
    const double lo = config_.scan_ms * (1 - config_.jitter);
    const double hi = config_.scan_ms * (1 + config_.jitter);
    // The first scans of the fleet are spread over one scan interval.
    const double gap = first ? std::uniform_real_distribution<double>(0, hi)(rng_)
                             : std::uniform_real_distribution<double>(lo, hi)(rng_);
    d.timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(gap * 1000)));
    d.timer->async_wait([this, &d](boost::system::error_code ec) {
      if (!ec) scan(d);
    });
  }

  void scan(Device& d) {
    if (!d.scanning || d.restarting || d.in_flight) return;
    d.in_flight = true;
    ++stats_.scans;
    const Step step = d.script->current();
    tally::ui::ScanRequest req;
    req.text = step.text;
    req.source = "sim";
    d.engine->submit_scan(std::move(req), [this, &d, step](tally::ui::ScanReply reply) {
      asio::post(io_, [this, &d, step, reply = std::move(reply)] { answered(d, step, reply); });
    });
  }

  void answered(Device& d, const Step& step, const tally::ui::ScanReply& reply) {
    using Kind = tally::ui::ScanReply::Kind;
    d.in_flight = false;
    if (reply.kind == Kind::failed && reply.error && reply.error->code == "overloaded") {
      ++stats_.overloaded;  // the journal queue is full: the same scan again
    } else {
      const bool ok = reply.kind == Kind::recorded || reply.kind == Kind::accepted;
      if (!ok || step.movement != (reply.kind == Kind::recorded)) {
        if (stats_.script_errors++ == 0) {
          const auto shown = tally::ui::scan_response(reply);
          stats_.first_script_error = d.id + " '" + step.text + "' → " + std::to_string(shown.status) + " " +
                                      shown.body.dump();
        }
      }
      const auto now = Clock::now();
      for (const auto& m : reply.recorded) {  // a pallet: several
        d.recorded_seqs.push_back(m.seq);
        d.last_recorded_seq = std::max(d.last_recorded_seq, m.seq);
        if (m.seq > d.acked) d.unacked.emplace(m.seq, now);
        ++stats_.recorded;
      }
      d.script->advance();
    }
    if (d.kill_pending) {
      restart(d);
      return;
    }
    schedule(d);
    if (on_all_acked_) check_all_acked();
  }

  // "kill -9" of a device: the client is dropped without waiting for
  // anything, the journal closed while batches and acks are in flight, and
  // both reopened from the file (the engine restores the session snapshot).
  void restart(Device& d) {
    d.kill_pending = false;
    d.restarting = true;
    ++restarts_running_;
    ++faults_["device_kills"];
    disconnect(d);
    d.timer->cancel();
    d.outbox.reset();
    auto engine = std::shared_ptr<tally::device::Engine>(std::move(d.engine));
    asio::post(blocking_, [this, &d, engine]() mutable {
      engine.reset();  // joins its worker: blocking, so not on the Asio thread
      auto reopened = tally::device::Engine::open(d.engine_options);
      asio::post(io_, [this, &d, reopened = std::make_shared<decltype(reopened)>(std::move(reopened))]() mutable {
        --restarts_running_;
        d.restarting = false;
        if (!*reopened) {
          std::cerr << "tally-sim: " << d.id << " does not reopen: " << reopened->error().message << '\n';
          ++stats_.script_errors;
          return;
        }
        d.engine = std::move(**reopened);
        if (!d.partitioned) connect(d);
        schedule(d);
        if (on_all_acked_) check_all_acked();
      });
    });
  }

  const Config& config_;
  asio::io_context& io_;
  asio::thread_pool blocking_{1};
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Device>> devices_;
  Stats stats_;
  std::map<std::string, int> faults_;
  std::function<void()> on_all_acked_;
  std::size_t restarts_running_ = 0;
};

// The ledger process, restartable; CPU time summed over its lives.
class LedgerProcess {
 public:
  LedgerProcess(std::filesystem::path data, std::string broker_uri)
      : data_(std::move(data)), broker_uri_(std::move(broker_uri)) {}
  void start() {
    process_ = std::make_unique<tally::test::Daemon>(
        TALLY_LEDGER_PATH, std::vector<std::string>{"--data-dir", data_.string(), "--http", "127.0.0.1:0", "--mqtt",
                                                    broker_uri_, "--client-id", "sim-ledger", "--log-level",
                                                    "error"});
    port_ = process_->wait_listening();
  }
  void kill9() {
    cpu_s_ += cpu_seconds(process_->pid());
    process_->kill9();
    process_.reset();
  }
  void stop() {
    if (!process_) return;
    cpu_s_ += cpu_seconds(process_->pid());
    process_->signal(SIGTERM);
    process_->wait();
    process_.reset();
  }
  double cpu_s() const { return cpu_s_ + (process_ ? cpu_seconds(process_->pid()) : 0.0); }
  std::uint16_t port() const { return port_; }
  std::filesystem::path db() const { return data_ / "ledger.db"; }

 private:
  std::filesystem::path data_;
  std::string broker_uri_;
  std::unique_ptr<tally::test::Daemon> process_;
  std::uint16_t port_ = 0;
  double cpu_s_ = 0;
};

using BalanceKey = std::tuple<std::string, std::string, std::string, std::string>;

std::string state_of(const tally::scanner::Endpoint& e) {
  return e.state ? std::string(tally::scanner::to_string(*e.state)) : std::string();
}

// What the final check found.
struct Verdict {
  std::uint64_t journaled = 0, ledger_rows = 0, missing = 0, duplicates = 0, mismatched = 0, foreign = 0,
                rejected = 0, unacked = 0, answered_not_journaled = 0, balance_mismatches = 0, nonzero_items = 0,
                adjustments = 0, exceptions = 0;
  bool invariants_ok = false;
  std::vector<std::string> problems;  // the first few, for the reader
  void note(const std::string& p) {
    if (problems.size() < 12) problems.push_back(p);
  }
  bool ok() const {
    return missing == 0 && duplicates == 0 && mismatched == 0 && foreign == 0 && rejected == 0 && unacked == 0 &&
           answered_not_journaled == 0 && balance_mismatches == 0 && nonzero_items == 0 && invariants_ok;
  }
};

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
  // Runs `sql`, calling row(stmt) for every row. False on error.
  bool each(const char* sql, const std::function<void(sqlite3_stmt*)>& row) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return false;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
  }
};

std::string text(sqlite3_stmt* st, int col) {
  const auto* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
}

void book(std::map<BalanceKey, std::int64_t>& balances, const tally::scanner::Movement& m) {
  if (m.type == tally::scanner::MovementType::count) return;  // changes nothing; differences come as adjusts
  balances[{m.item.id(), m.item.lot, m.from.location.code, state_of(m.from)}] -= m.qty;
  balances[{m.item.id(), m.item.lot, m.to.location.code, state_of(m.to)}] += m.qty;
}

Verdict check(Fleet& fleet, const std::filesystem::path& ledger_db, bool invariants_ok) {
  Verdict v;
  v.invariants_ok = invariants_ok;
  if (!invariants_ok) v.note("the ledger's /api/v1/invariants failed");
  Db ledger;
  if (sqlite3_open_v2(ledger_db.c_str(), &ledger.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    v.note("cannot open " + ledger_db.string());
    ++v.missing;
    return v;
  }
  // The ledger's movements, by (device, seq), with how often each occurs.
  std::map<std::pair<std::string, std::uint64_t>, std::pair<int, std::string>> rows;
  std::vector<tally::scanner::Movement> adjustments;
  ledger.each("SELECT device, seq, payload FROM movements", [&](sqlite3_stmt* st) {
    auto& r = rows[{text(st, 0), static_cast<std::uint64_t>(sqlite3_column_int64(st, 1))}];
    ++r.first;
    r.second = text(st, 2);
    ++v.ledger_rows;
  });
  ledger.each("SELECT device, seq, reason FROM rejected", [&](sqlite3_stmt* st) {
    ++v.rejected;
    v.note("rejected " + text(st, 0) + ":" + std::to_string(sqlite3_column_int64(st, 1)) + " " + text(st, 2));
  });
  ledger.each("SELECT count(*) FROM exceptions", [&](sqlite3_stmt* st) {
    v.exceptions = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
  });
  std::map<BalanceKey, std::int64_t> expected;
  std::map<std::pair<std::string, std::uint64_t>, bool> seen;
  for (auto& dev : fleet.devices()) {
    tally::journal::Options o = dev->engine_options.journal;
    o.create_if_missing = false;
    auto j = tally::journal::Journal::open(o);
    if (!j) {
      v.note(dev->id + ": journal does not open: " + j.error().message);
      ++v.missing;
      continue;
    }
    const auto status = (*j)->status();
    if (status.acked_seq != status.last_seq) {
      ++v.unacked;
      v.note(dev->id + ": acked_seq " + std::to_string(status.acked_seq) + " < last_seq " +
             std::to_string(status.last_seq));
    }
    auto texts = (*j)->movement_texts_after(0, status.last_seq + 1);
    if (!texts) {
      v.note(dev->id + ": " + texts.error().message);
      ++v.missing;
      continue;
    }
    std::map<std::uint64_t, bool> in_journal;
    for (const auto& t : *texts) {
      ++v.journaled;
      in_journal[t.seq] = true;
      const json mine = json::parse(t.payload, nullptr, false);
      auto parsed = tally::wire::movement_from_json(mine);
      if (parsed) book(expected, *parsed);
      const auto it = rows.find({dev->id, t.seq});
      seen[{dev->id, t.seq}] = true;
      if (it == rows.end()) {
        ++v.missing;
        v.note("missing " + dev->id + ":" + std::to_string(t.seq));
        continue;
      }
      if (it->second.first != 1) {
        ++v.duplicates;
        v.note("duplicate " + dev->id + ":" + std::to_string(t.seq) + " ×" + std::to_string(it->second.first));
      }
      if (json::parse(it->second.second, nullptr, false) != mine) {
        ++v.mismatched;
        v.note("content differs " + dev->id + ":" + std::to_string(t.seq));
      }
    }
    for (auto seq : dev->recorded_seqs) {
      if (!in_journal.count(seq)) {
        ++v.answered_not_journaled;
        v.note(dev->id + ": seq " + std::to_string(seq) + " was answered as recorded and is not journaled");
      }
    }
  }
  for (const auto& [key, r] : rows) {
    if (key.first == tally::ledger::kLedgerDevice) {
      auto m = tally::wire::movement_from_json(json::parse(r.second, nullptr, false));
      if (m) {
        book(expected, *m);
        ++v.adjustments;
      }
      continue;
    }
    if (!seen.count(key)) {
      ++v.foreign;
      v.note("in the ledger, in no journal: " + key.first + ":" + std::to_string(key.second));
    }
  }
  // Balances: the ledger's rows against the sum of the movements, and every
  // item's rows summing to zero.
  std::map<BalanceKey, std::int64_t> actual;
  std::map<std::string, std::int64_t> per_item;
  ledger.each("SELECT item, lot, location, state, qty FROM balances", [&](sqlite3_stmt* st) {
    const auto qty = sqlite3_column_int64(st, 4);
    actual[{text(st, 0), text(st, 1), text(st, 2), text(st, 3)}] = qty;
    per_item[text(st, 0)] += qty;
  });
  for (auto it = expected.begin(); it != expected.end();) it = it->second == 0 ? expected.erase(it) : std::next(it);
  for (auto it = actual.begin(); it != actual.end();) it = it->second == 0 ? actual.erase(it) : std::next(it);
  for (const auto& [k, q] : expected) {
    const auto it = actual.find(k);
    if (it == actual.end() || it->second != q) {
      ++v.balance_mismatches;
      v.note("balance " + std::get<0>(k) + "@" + std::get<2>(k) + ":" + std::get<3>(k) + " expected " +
             std::to_string(q) + ", ledger " + (it == actual.end() ? std::string("none") : std::to_string(it->second)));
    }
  }
  for (const auto& [k, q] : actual) {
    if (!expected.count(k)) {
      ++v.balance_mismatches;
      v.note("balance " + std::get<0>(k) + "@" + std::get<2>(k) + " " + std::to_string(q) + " from no movement");
    }
  }
  for (const auto& [item, sum] : per_item) {
    if (sum != 0) {
      ++v.nonzero_items;
      v.note("item " + item + " sums to " + std::to_string(sum));
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_args(argc, argv);
  if (!parsed) return 2;
  const Config config = *parsed;
  if (!config.dir.empty()) {
    std::filesystem::create_directories(config.dir);
    ::setenv("TMPDIR", config.dir.c_str(), 1);
  }
  ::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);  // the edge clients' info lines, times N devices
  tally::test::TempDir work{"tally-sim"};
  const auto t_start = Clock::now();

  tally::test::Mosquitto broker;
  LedgerProcess ledger(work.path() / "ledger", broker.uri());
  ledger.start();

  asio::io_context io;
  Fleet fleet(config, io, broker.uri(), work.path() / "devices");
  if (!fleet.open_all()) return 2;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  asio::post(io, [&] { fleet.start(); });
  const auto t_scan = Clock::now();
  const double cpu_before = ledger.cpu_s();

  // The fault schedule: each kind spread evenly over the scanning time, the
  // kinds offset from each other so they do not all coincide.
  struct Fault {
    double at_s;
    std::string kind;
    int n;
  };
  std::vector<Fault> faults;
  auto spread = [&](int count, const std::string& kind, double offset) {
    for (int i = 0; i < count; ++i) {
      faults.push_back({config.duration_s * (i + offset) / (count + 0.5), kind, i});
    }
  };
  spread(config.broker_restarts, "broker_restart", 0.5);
  spread(config.ledger_kills, "ledger_kill9", 0.8);
  spread(config.partitions, "partition", 0.3);
  spread(config.device_kills, "device_kill", 0.65);
  std::sort(faults.begin(), faults.end(), [](const Fault& a, const Fault& b) { return a.at_s < b.at_s; });
  std::map<std::string, int> process_faults;
  std::mt19937_64 pick(config.seed ^ 0x5eedU);
  for (const auto& f : faults) {
    std::this_thread::sleep_until(t_scan + std::chrono::milliseconds(static_cast<std::int64_t>(f.at_s * 1000)));
    std::cerr << "tally-sim: t=" << f.at_s << "s " << f.kind << '\n';
    if (f.kind == "broker_restart") {
      broker.stop();
      std::this_thread::sleep_for(1s);
      broker.start();
      ++process_faults["broker_restarts"];
    } else if (f.kind == "ledger_kill9") {
      ledger.kill9();
      std::this_thread::sleep_for(500ms);
      ledger.start();
      ++process_faults["ledger_kills"];
    } else if (f.kind == "partition") {
      const auto count = std::max<std::size_t>(1, static_cast<std::size_t>(config.devices * config.partition_share));
      const auto first = static_cast<std::size_t>(pick() % static_cast<std::uint64_t>(config.devices));
      const auto length = std::chrono::milliseconds(static_cast<std::int64_t>(config.partition_s * 1000));
      asio::post(io, [&fleet, first, count, length] { fleet.partition(first, count, length); });
    } else {
      const auto which = static_cast<std::size_t>(pick() % static_cast<std::uint64_t>(config.devices));
      asio::post(io, [&fleet, which] { fleet.kill_device(which); });
    }
  }
  std::this_thread::sleep_until(t_scan + std::chrono::milliseconds(static_cast<std::int64_t>(config.duration_s * 1000)));
  const double scan_s = std::chrono::duration<double>(Clock::now() - t_scan).count();

  // Settle: every device acknowledged up to its last recorded seq.
  std::mutex m;
  std::condition_variable cv;
  bool all_acked = false;
  const auto t_settle = Clock::now();
  asio::post(io, [&] {
    fleet.finish([&] {
      std::lock_guard lock(m);
      all_acked = true;
      cv.notify_all();
    });
  });
  {
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::milliseconds(static_cast<std::int64_t>(config.settle_s * 1000)),
                [&] { return all_acked; });
  }
  const double settle_s = std::chrono::duration<double>(Clock::now() - t_settle).count();
  const double ledger_cpu_s = ledger.cpu_s() - cpu_before;
  const double run_s = std::chrono::duration<double>(Clock::now() - t_scan).count();

  bool invariants_ok = false;
  try {
    tally::test::HttpClient http(ledger.port());
    const auto r = http.get("/api/v1/invariants");
    const json body = r.json();
    invariants_ok = r.status == 200 && body.contains("violations") && body["violations"].empty();
    if (!invariants_ok) std::cerr << "tally-sim: invariants: " << r.status << ' ' << r.body << '\n';
  } catch (const std::exception& e) {
    std::cerr << "tally-sim: invariants: " << e.what() << '\n';
  }
  ledger.stop();
  broker.stop();
  // The broker goes first, so no client has a DISCONNECT in flight when the
  // loop stops below (EdgeClient::stop() sends it without blocking the loop).
  std::this_thread::sleep_for(300ms);
  // Stop the clients, then the loop, then the journals.
  {
    std::promise<void> stopped;
    asio::post(io, [&] {
      fleet.stop_clients();
      stopped.set_value();
    });
    stopped.get_future().wait();
  }
  guard.reset();
  io.stop();
  io_thread.join();
  fleet.close_all();


  Verdict v = check(fleet, ledger.db(), invariants_ok);
  auto& st = fleet.stats();
  if (st.script_errors > 0) v.note("script errors: " + std::to_string(st.script_errors) + ", first: " + st.first_script_error);
  const bool ok = v.ok() && all_acked && st.script_errors == 0;
  if (!all_acked) v.note("not every device was acknowledged within settle-s");

  auto faults_json = json::object();
  for (const auto& [k, n] : process_faults) faults_json[k] = n;
  for (const auto& [k, n] : fleet.faults()) faults_json[k] = n;
  const double movements_per_s = static_cast<double>(st.recorded) / scan_s;
  const json report = {
      {"ok", ok},
      {"devices", config.devices},
      {"scan_ms", config.scan_ms},
      {"scanning_s", scan_s},
      {"settle_s", settle_s},
      {"scans", st.scans},
      {"movements_recorded", st.recorded},
      {"movements_per_s", movements_per_s},
      {"journaled", v.journaled},
      {"ledger_rows", v.ledger_rows},
      {"ledger_adjustments", v.adjustments},
      {"ledger_exceptions", v.exceptions},
      {"faults", faults_json},
      {"violations",
       {{"missing", v.missing},
        {"duplicates", v.duplicates},
        {"content_differs", v.mismatched},
        {"in_no_journal", v.foreign},
        {"rejected", v.rejected},
        {"unacked_journals", v.unacked},
        {"answered_not_journaled", v.answered_not_journaled},
        {"balance_mismatches", v.balance_mismatches},
        {"items_not_zero", v.nonzero_items},
        {"invariants_ok", v.invariants_ok},
        {"script_errors", st.script_errors}}},
      {"ack_lag_ms",
       {{"samples", st.lag_ms.size()},
        {"p50", percentile(st.lag_ms, 0.50)},
        {"p99", percentile(st.lag_ms, 0.99)},
        {"max", percentile(st.lag_ms, 1.0)}}},
      {"ledger_cpu_s", ledger_cpu_s},
      {"ledger_cpu_share", ledger_cpu_s / run_s},
      {"problems", v.problems},
      {"total_s", std::chrono::duration<double>(Clock::now() - t_start).count()}};
  std::printf("tally-sim %s: %d devices, %llu movements (%.0f/s) in %.1f s, faults %s, ledger rows %llu, "
              "ack lag p50 %.0f ms p99 %.0f ms, ledger CPU %.2f s (%.0f%%)\n",
              ok ? "OK" : "FAILED", config.devices, static_cast<unsigned long long>(st.recorded), movements_per_s,
              scan_s, faults_json.dump().c_str(), static_cast<unsigned long long>(v.ledger_rows),
              percentile(st.lag_ms, 0.5), percentile(st.lag_ms, 0.99), ledger_cpu_s, 100 * ledger_cpu_s / run_s);
  for (const auto& p : v.problems) std::printf("  problem: %s\n", p.c_str());
  std::printf("%s\n", report.dump().c_str());
  if (!config.json_out.empty()) std::ofstream(config.json_out) << report.dump(2) << '\n';
  return ok ? 0 : 1;
}
