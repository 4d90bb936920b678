// The tally-ledger process (see tally/ledger/app.hpp).
//
// Threads: the main thread runs the one io_context (HTTP, MQTT handlers,
// signals, reconnect timer); a parse thread turns inbound messages into
// batches (JSON, validation; no store); the store Worker thread owns the
// Store and does every SQLite call, applying queued batches in groups (one
// transaction per group, a savepoint per batch). The io thread never blocks
// on SQLite: it only enqueues (bounded) and publishes what comes back.
//
// Exactly-once in effect: a batch is applied in one transaction on the
// worker; its ack is posted to the io thread and published only after the
// commit returned. Paho acknowledges the inbound PUBLISH to the broker when
// its callback returns (before the apply), so a ledger that dies between the
// two loses that message from the broker; the device has no ack for it and
// resends it, and the (device, seq) rules make the resend harmless.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api_json.hpp"
#include "tally/ledger/allowances.hpp"
#include "tally/ledger/app.hpp"
#include "tally/ledger/downlink.hpp"
#include "tally/ledger/epcis.hpp"
#include "tally/ledger/kpi.hpp"
#include "tally/ledger/ledger.hpp"
#include "tally/ledger/postgres_store.hpp"
#include "tally/ledger/store.hpp"
#include "tally/wire/movement_json.hpp"
#include "tally/wire/protocol.hpp"
#include "tally/mqtt/client.hpp"
#include "tally/service/startup.hpp"
#include "tally/service/watchdog.hpp"
#include "tally/service/work_queue.hpp"
#include "tally/ui/http_server.hpp"
#include "tally/ui/ledger_api.hpp"

namespace tally::ledger {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// Movements and exceptions are shared between instances; the status is not:
// every instance keeps the fleet's status (retained, so each one gets every
// device's last word when it subscribes).
constexpr const char* kSubscription = wire::kMovementsSubscription;
using wire::kExceptionsSubscription;
using wire::kStatusSubscription;
// The window of the KPIs the history samples (the dashboard's).
constexpr std::int64_t kKpiSampleWindowMs = 24 * 3600 * 1000;
constexpr std::chrono::seconds kReconnectDelay{1};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_level(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.find_first_of("/+#") == std::string::npos;
}

// Everything the process shares between the io thread and the worker.
class Service final : public ui::LedgerApi {
 public:
  Service(asio::io_context& io, const AppConfig& config, Store& store)
      : io_(io), config_(config), store_(store), ledger_(store, LedgerOptions{config.max_message_bytes}),
        worker_("store", config.queue_max), parser_("parser", config.queue_max), reconnect_(io), kpi_timer_(io), allowance_timer_(io) {}

  ~Service() override {
    parser_.stop();
    worker_.stop();
  }

  Result<void> start_mqtt() {
    if (config_.mqtt_uri.empty()) return {};
    mqtt::ConnectOptions o;
    o.uri = config_.mqtt_uri;
    o.client_id = config_.client_id;
    o.tls = mqtt::Tls{config_.mqtt_ca_file, config_.mqtt_cert_file, config_.mqtt_key_file};
    mqtt::Handlers h;
    h.connected = [this](bool session_present) { on_connected(session_present); };
    h.connect_failed = [this](const std::string& why) {
      spdlog::warn("mqtt connect to {} failed: {}", config_.mqtt_uri, why);
      schedule_reconnect();
    };
    h.connection_lost = [this](const std::string& why) {
      spdlog::warn("mqtt connection lost: {}", why);
      schedule_reconnect();
    };
    h.message = [this](mqtt::Message m) { on_message(std::move(m)); };
    auto client = mqtt::Client::create(io_.get_executor(), o, std::move(h));
    if (!client) return client.error();
    client_ = std::move(*client);
    client_->connect();
    return {};
  }

  // The watchdog's check that the store's thread still works: a no-op
  // behind the queued batches.
  void probe(std::function<void()> alive) {
    worker_.post([alive = std::move(alive)] { alive(); }, /*past_limit=*/true);
  }

  // systemd's STATUS= line (io thread).
  std::string status_line() {
    return "pending " + std::to_string(worker_.queued()) + " store jobs, broker " +
           (config_.mqtt_uri.empty() ? "off" : client_ && client_->connected() ? "connected" : "disconnected");
  }

  // Pick allowances (escrow): re-granted on the store's thread every
  // refresh_ms (tally/ledger/allowances.hpp); changed snapshots are published
  // like tasks. One job at a time; a full queue skips a round.
  void start_allowances() {
    if (!config_.allowances.enabled || stopping_) return;
    allowance_timer_.expires_after(std::chrono::milliseconds(config_.allowances.refresh_ms));
    allowance_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      const bool queued = worker_.post([this] {
        auto changed = regrant_allowances(store_, config_.allowances, now_ms());
        if (!changed) spdlog::warn("re-granting pick allowances: {}", changed.error().message);
        asio::post(io_, [this, records = changed ? std::move(*changed) : std::vector<MasterDataRecord>{}] {
          for (const auto& rec : records) publish_record(rec);
          start_allowances();
        });
      });
      if (!queued) start_allowances();
    });
  }

  // On the io thread, at shutdown.
  void stop() {
    stopping_ = true;
    allowance_timer_.cancel();
    reconnect_.cancel();
    kpi_timer_.cancel();
    if (client_) client_->disconnect();
  }

  void finish() {
    parser_.stop();  // parses what arrived; its batches go to the worker
    worker_.stop();
    client_.reset();
  }

  // ------------------------------------------------------------ LedgerApi

  void balances(std::string item, std::string location, std::string state, std::size_t limit,
                Reply reply) override {
    run(reply, [this, item = std::move(item), location = std::move(location), state = std::move(state),
                limit]() -> ui::ApiReply {
      BalanceQuery q{item, location, state, false, limit};
      auto rows = store_.balances(q);
      if (!rows) return error_reply(rows.error());
      json out = json::array();
      for (const auto& b : *rows) {
        out.push_back({{"item", b.item}, {"lot", b.lot}, {"location", b.location}, {"state", b.state}, {"qty", b.qty}});
      }
      return {200, {{"balances", std::move(out)}}};
    });
  }

  void movements(std::string device, std::uint64_t after, std::size_t limit, Reply reply) override {
    run(reply, [this, device = std::move(device), after, limit]() -> ui::ApiReply {
      auto rows = store_.movements(device, after, limit);
      if (!rows) return error_reply(rows.error());
      std::uint64_t next = after;
      for (const auto& m : *rows) next = device.empty() ? static_cast<std::uint64_t>(m.id) : m.seq;
      return {200, {{"movements", movements_json(*rows)}, {"next_after", next}}};
    });
  }

  void history(std::string item, std::string location, std::uint64_t before, std::size_t limit,
               Reply reply) override {
    run(reply, [this, q = HistoryQuery{std::move(item), std::move(location), static_cast<std::int64_t>(before),
                                       limit}]() -> ui::ApiReply {
      auto rows = store_.history(q);
      if (!rows) return error_reply(rows.error());
      // A full page may have more below its last row; a short one has not.
      const std::int64_t next = rows->size() == q.limit && !rows->empty() ? rows->back().id : 0;
      return {200, {{"movements", movements_json(*rows)}, {"next_before", next}}};
    });
  }

  void exceptions(std::string status, Reply reply) override {
    run(reply, [this, status = std::move(status)]() -> ui::ApiReply {
      auto rows = store_.exceptions(status);
      if (!rows) return error_reply(rows.error());
      json out = json::array();
      for (const auto& e : *rows) out.push_back(to_json(e));
      return {200, {{"exceptions", std::move(out)}}};
    });
  }

  void update_exception(std::int64_t id, json body, Reply reply) override {
    const auto str = [&body](const char* key) -> std::optional<std::string> {
      const auto it = body.find(key);
      if (it == body.end()) return std::string();
      if (!it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    auto action = str("action");
    auto owner = str("owner");
    auto note = str("note");
    if (!action || !owner || !note) {
      return reply({400, ui::error_body("bad_request", "action, owner and note must be strings")});
    }
    run(reply, [this, id, action = *action, owner = *owner, note = *note]() -> ui::ApiReply {
      auto e = store_.update_exception(id, action, owner, note, now_ms());
      if (!e) return error_reply(e.error());
      return {200, to_json(*e)};
    });
  }

  void devices(Reply reply) override {
    run(reply, [this]() -> ui::ApiReply {
      auto rows = store_.devices();
      if (!rows) return error_reply(rows.error());
      auto statuses = store_.device_statuses();
      if (!statuses) return error_reply(statuses.error());
      return {200, {{"devices", devices_json(*rows, *statuses)}}};
    });
  }

  void tasks(std::string device, Reply reply) override {
    run(reply, [this, device = std::move(device)]() -> ui::ApiReply {
      auto all = store_.all_master_data();
      if (!all) return error_reply(all.error());
      json out = json::array();
      for (const auto& r : *all) {
        if (r.kind != "tasks") continue;
        const auto slash = r.scope.find('/');
        const std::string site = r.scope.substr(0, slash);
        const std::string dev = slash == std::string::npos ? std::string() : r.scope.substr(slash + 1);
        if (!device.empty() && dev != device) continue;
        json payload = json::parse(r.payload, nullptr, false);
        out.push_back({{"site", site},
                       {"device", dev},
                       {"version", r.version},
                       {"tasks", payload.is_object() ? payload.value("tasks", json::array()) : json::array()}});
      }
      return {200, {{"tasks", std::move(out)}}};
    });
  }

  void create_task(json body, Reply reply) override {
    const auto site = body.value("site", json()).is_string() ? body["site"].get<std::string>() : std::string();
    const auto device = body.value("device", json()).is_string() ? body["device"].get<std::string>() : std::string();
    if (!valid_level(site) || !valid_level(device)) {
      return reply({400, ui::error_body("bad_request", "site and device must be non-empty topic levels")});
    }
    if (!body.contains("task") || !body["task"].is_object()) {
      return reply({400, ui::error_body("bad_request", "task must be an object")});
    }
    json task = body["task"];
    run_publishing(reply, [this, site, device, task = std::move(task)]() -> Result<std::pair<MasterDataRecord, json>> {
      const std::string scope = task_scope(site, device);
      auto current = store_.master_data("tasks", scope);
      if (!current) return current.error();
      json snapshot = *current ? json::parse((*current)->payload, nullptr, false) : json();
      auto lots = assign_fefo_lots(store_, task);  // FEFO lines get the lot to pick
      if (!lots) return lots.error();
      auto next = with_task(snapshot.is_discarded() ? json() : snapshot, *lots);
      if (!next) return next.error();
      auto rec = store_.put_master_data("tasks", scope, *next);
      if (!rec) return rec.error();
      json shown = json::parse(rec->payload, nullptr, false);
      return std::make_pair(*rec, json{{"site", site}, {"device", device}, {"version", rec->version},
                                       {"tasks", shown.value("tasks", json::array())}});
    }, 201);
  }

  void put_master_data(std::string kind, std::string site, json body, Reply reply) override {
    if (!valid_level(site)) return reply({400, ui::error_body("bad_request", "site must be a topic level")});
    if (auto r = check_master_data(kind, body); !r) return reply(error_reply(r.error()));
    run_publishing(reply, [this, kind, site, body = std::move(body)]() -> Result<std::pair<MasterDataRecord, json>> {
      auto rec = store_.put_master_data(kind, site, body);
      if (!rec) return rec.error();
      return std::make_pair(*rec, json{{"kind", kind}, {"site", site}, {"version", rec->version}});
    }, 200);
  }

  void dead_letters(std::size_t limit, Reply reply) override {
    run(reply, [this, limit]() -> ui::ApiReply {
      auto rows = store_.dead_letters(limit);
      if (!rows) return error_reply(rows.error());
      json out = json::array();
      for (const auto& d : *rows) {
        out.push_back({{"id", d.id}, {"topic", d.topic}, {"payload", d.payload}, {"reason", d.reason},
                       {"time_ms", d.time_ms}});
      }
      return {200, {{"dead_letters", std::move(out)}}};
    });
  }

  // KPIs read at most about this many movements of the window (the oldest first).
  static constexpr std::size_t kKpiMovementsMax = 1'000'000;

  void kpis(std::uint64_t window_s, Reply reply) override {
    run(reply, [this, window_s]() -> ui::ApiReply {
      auto kpis = current_kpis(static_cast<std::int64_t>(window_s) * 1000, now_ms());
      if (!kpis) return error_reply(kpis.error());
      return {200, {{"kpis", std::move(*kpis)}}};
    });
  }

  void kpi_history(std::int64_t since_ms, std::int64_t before_ms, std::size_t limit, Reply reply) override {
    run(reply, [this, q = KpiSampleQuery{since_ms, before_ms, limit + 1}]() -> ui::ApiReply {
      auto rows = store_.kpi_samples(q);
      if (!rows) return error_reply(rows.error());
      const bool more = rows->size() == q.limit;  // the oldest one is beyond the page
      json samples = json::array();
      for (std::size_t i = more ? 1 : 0; i < rows->size(); ++i) {
        json kpis = json::parse((*rows)[i].kpis, nullptr, false);
        samples.push_back({{"time_ms", (*rows)[i].time_ms}, {"kpis", kpis.is_discarded() ? json::object() : kpis}});
      }
      return {200,
              {{"samples", std::move(samples)},
               {"more", more},
               {"interval_s", config_.kpi_sample_interval_s},
               {"retention_s", config_.kpi_history_retention_s}}};
    });
  }

  // io thread: samples the KPIs every [kpi] sample_interval_s (the work
  // itself is a job on the store's thread, like every store call).
  void start_kpi_sampling() {
    if (config_.kpi_sample_interval_s == 0) return;
    kpi_timer_.expires_after(std::chrono::seconds(config_.kpi_sample_interval_s));
    arm_kpi_timer();
  }

  void epcis_events(std::uint64_t after, std::size_t limit, Reply reply) override {
    run(reply, [this, after, limit]() -> ui::ApiReply {
      auto doc = epcis_page(store_, after, limit, now_ms());
      if (!doc) return error_reply(doc.error());
      return {200, std::move(*doc)};
    });
  }

  void invariants(Reply reply) override {
    run(reply, [this]() -> ui::ApiReply {
      auto v = store_.check_invariants();
      if (!v) return error_reply(v.error());
      json out = json::array();
      for (const auto& x : *v) out.push_back({{"kind", x.kind}, {"message", x.message}});
      return {200, {{"violations", std::move(out)}}};
    });
  }

 private:
  // Worker thread: the KPIs over the last `window_ms` (kpi.hpp).
  Result<json> current_kpis(std::int64_t window_ms, std::int64_t now) {
    KpiInput in;
    in.now_ms = now;
    in.window_ms = window_ms;
    const std::int64_t start = in.now_ms - in.window_ms;
    std::uint64_t after = 0;
    for (;;) {
      auto page = store_.movements("", after, 10'000);
      if (!page) return page.error();
      for (const auto& sm : *page) {
        after = static_cast<std::uint64_t>(sm.id);
        if (sm.applied_ms < start) continue;
        const json j = json::parse(sm.payload, nullptr, false);
        if (j.is_discarded()) continue;
        auto m = wire::movement_from_json(j);
        if (!m) continue;
        in.movements.push_back(KpiMovement{std::move(*m), sm.applied_ms});
      }
      if (page->size() < 10'000 || in.movements.size() >= kKpiMovementsMax) break;
    }
    auto ex = store_.exceptions("");
    if (!ex) return ex.error();
    in.exceptions = std::move(*ex);
    return compute_kpis(in, config_.kpi_bands);
  }

  void arm_kpi_timer() {
    kpi_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      sample_kpis();
      kpi_timer_.expires_at(kpi_timer_.expiry() + std::chrono::seconds(config_.kpi_sample_interval_s));
      arm_kpi_timer();
    });
  }

  // io thread: one sample, unless the previous one is still queued or running.
  void sample_kpis() {
    if (sampling_.exchange(true)) return;
    const bool queued = worker_.post([this] {
      const std::int64_t now = now_ms();
      const auto interval_ms = static_cast<std::int64_t>(config_.kpi_sample_interval_s) * 1000;
      const auto retention_ms = static_cast<std::int64_t>(config_.kpi_history_retention_s) * 1000;
      auto kpis = current_kpis(kKpiSampleWindowMs, now);
      auto stored = kpis ? store_.add_kpi_sample(KpiSample{now, kpi_sample(*kpis).dump()}, interval_ms / 2,
                                                 now - retention_ms)
                         : Result<bool>(kpis.error());
      if (!stored) spdlog::warn("kpi sample not stored: {}", stored.error().message);
      sampling_ = false;
    });
    if (!queued) {
      sampling_ = false;
      spdlog::warn("kpi sample skipped: the store's queue is full");
    }
  }

  // Runs `job` on the worker and replies with its result; 503 when full.
  template <typename Job>
  void run(const Reply& reply, Job job) {
    const bool queued = worker_.post([reply, job = std::move(job)]() mutable { reply(job()); });
    if (!queued) reply({503, ui::error_body("overloaded", "the ledger's queue is full, try again")});
  }

  // Stores master data on the worker, then publishes it on the io thread
  // and replies (201/200 with `body` and the number of chunks).
  template <typename Job>
  void run_publishing(const Reply& reply, Job job, unsigned status) {
    const bool queued = worker_.post([this, reply, status, job = std::move(job)]() mutable {
      auto done = job();
      if (!done) return reply(error_reply(done.error()));
      auto [rec, body] = std::move(*done);
      asio::post(io_, [this, reply, status, rec = std::move(rec), body = std::move(body)]() mutable {
        const bool published = publish_record(rec);
        body["published"] = published;
        reply({status, std::move(body)});
      });
    });
    if (!queued) reply({503, ui::error_body("overloaded", "the ledger's queue is full, try again")});
  }

  // io thread: publishes a record's chunks (retained QoS1); on success records
  // the chunk count so a later smaller version clears the leftovers.
  bool publish_record(const MasterDataRecord& rec) {
    if (!client_ || !client_->connected()) return false;  // published again on (re)connect
    const auto msgs = master_data_messages(rec, config_.chunk_bytes);
    for (const auto& m : msgs) {
      if (auto r = client_->publish(m.topic, m.payload, 1, true); !r) {
        spdlog::warn("publish {} failed: {}", m.topic, r.error().message);
        return false;
      }
    }
    const auto chunks = static_cast<std::int64_t>(
        std::count_if(msgs.begin(), msgs.end(), [](const Publish& p) { return !p.payload.empty(); }));
    worker_.post([this, rec, chunks] {
      if (auto r = store_.set_published_chunks(rec.kind, rec.scope, rec.version, chunks); !r) {
        spdlog::warn("recording published chunks: {}", r.error().message);
      }
    });
    return true;
  }

  void schedule_reconnect() {
    if (stopping_) return;
    reconnect_.expires_after(kReconnectDelay);
    reconnect_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || !client_) return;
      client_->connect();
    });
  }

  void on_connected(bool session_present) {
    spdlog::info("mqtt connected to {} (session present: {})", config_.mqtt_uri, session_present);
    client_->subscribe({{kSubscription, 1}, {kExceptionsSubscription, 1}, {kStatusSubscription, 1}}, [](const Result<void>& r) {
      if (!r) spdlog::error("subscribe to {} failed: {}", kSubscription, r.error().message);
    });
    // Republish every master data snapshot (retained; idempotent).
    worker_.post([this] {
      auto all = store_.all_master_data();
      if (!all) return spdlog::error("reading master data: {}", all.error().message);
      asio::post(io_, [this, all = std::move(*all)] {
        for (const auto& rec : all) publish_record(rec);
      });
    });
  }

  // io thread: hands the message to the parse thread (bounded). Parsing
  // (JSON, validation) is CPU-bound and runs beside the store's thread; the
  // parsed batches wait in inbox_ and the store worker takes everything
  // queued, up to group_max, in one go.
  void on_message(mqtt::Message m) {
    const std::string topic = m.topic;
    const bool queued = parser_.post([this, m = std::move(m)]() mutable {
      auto prepared = Ledger::prepare(ledger_.options(),
                                      Ledger::Inbound{std::move(m.topic), std::move(m.payload), m.retained}, now_ms());
      bool post_drain = false;
      {
        std::lock_guard lock(inbox_mu_);
        if (inbox_.size() >= config_.queue_max) {
          spdlog::warn("queue full: message on {} dropped unacked (the device resends)", prepared.message.topic);
          return;
        }
        inbox_.push_back(std::move(prepared));
        post_drain = !drain_posted_;
        drain_posted_ = true;
      }
      if (post_drain && !worker_.post([this] { drain_inbox(); })) {
        std::lock_guard lock(inbox_mu_);
        drain_posted_ = false;  // the worker is full or stopping; the next message tries again
      }
    });
    if (!queued) spdlog::warn("queue full: message on {} dropped unacked (the device resends)", topic);
  }

  // Worker thread: applies queued messages in groups (one transaction per
  // group, each batch atomic), then posts their acks to the io thread.
  void drain_inbox() {
    for (;;) {
      std::vector<Ledger::Prepared> group;
      {
        std::lock_guard lock(inbox_mu_);
        while (!inbox_.empty() && group.size() < config_.group_max) {
          group.push_back(std::move(inbox_.front()));
          inbox_.pop_front();
        }
        if (group.empty()) {
          drain_posted_ = false;
          return;
        }
      }
      auto results = ledger_.apply_prepared(group, now_ms());
      std::vector<Publish> acks;
      for (std::size_t i = 0; i < results.size(); ++i) {
        auto& handled = results[i];
        if (!handled) {
          spdlog::error("applying {} failed (no ack; the device resends): {}", group[i].message.topic,
                        handled.error().message);
          continue;
        }
        if (handled->dead_letter) spdlog::warn("dead letter from {}: {}", group[i].message.topic, *handled->dead_letter);
        if (handled->ack) acks.push_back(std::move(*handled->ack));
      }
      if (!acks.empty()) {
        asio::post(io_, [this, acks = std::move(acks)] {
          if (!client_ || !client_->connected()) return;  // the device resends and gets it then
          for (const auto& ack : acks) {
            if (auto r = client_->publish(ack.topic, ack.payload, 1, false); !r) {
              spdlog::warn("ack to {} not sent: {}", ack.topic, r.error().message);
            }
          }
        });
      }
    }
  }

  asio::io_context& io_;
  const AppConfig& config_;
  Store& store_;
  Ledger ledger_;  // worker thread only
  service::WorkQueue worker_;  // the store's thread
  service::WorkQueue parser_;  // parses inbound batches (no store)
  asio::steady_timer reconnect_;
  asio::steady_timer kpi_timer_;      // io thread only
  std::atomic<bool> sampling_{false};  // a KPI sample is queued or running
  asio::steady_timer allowance_timer_;
  std::unique_ptr<mqtt::Client> client_;  // io thread only
  std::mutex inbox_mu_;
  std::deque<Ledger::Prepared> inbox_;  // GUARDED_BY(inbox_mu_)
  bool drain_posted_ = false;          // GUARDED_BY(inbox_mu_): a drain_inbox job is queued or running
  bool stopping_ = false;                 // io thread only
};

}  // namespace

int run(const std::vector<std::string>& args) {
  const auto loaded = load_app_config(args);
  if (auto code = service::start("tally-ledger", loaded)) return *code;
  const AppConfig& config = loaded->config;
  const std::string store_name = config.postgres.empty() ? config.db_path().string() : "PostgreSQL";
  auto store = config.postgres.empty() ? open_sqlite_store(SqliteOptions{config.db_path()})
                                       : open_postgres_store(PostgresOptions{config.postgres});
  if (!store) {
    std::cerr << "tally-ledger: cannot use " << store_name << ": " << store.error().message << " ["
              << store.error().code << "]\n";
    return 3;
  }
  if (config.check_invariants) {
    auto violations = (*store)->check_invariants();
    if (!violations) {
      std::cerr << "tally-ledger: checking " << store_name << ": " << violations.error().message << '\n';
      return 3;
    }
    for (const auto& v : *violations) std::cout << v.kind << ": " << v.message << '\n';
    if (violations->empty()) std::cout << "ok: balances match the movements and every item sums to zero\n";
    return violations->empty() ? 0 : 1;
  }
  if (!config.catalog_file.empty()) {
    if (auto r = load_catalog_file(**store, config.catalog_file, config.site); !r) {
      std::cerr << "tally-ledger: " << r.error().message << '\n';
      return 2;
    }
  }

  asio::io_context io{1};
  Service service(io, config, **store);
  auto router = ui::make_ledger_router(service);
  ui::HttpOptions http_options;
  http_options.host = config.http_host;
  http_options.port = config.http_port;
  http_options.body_bytes_max = 4 * 1024 * 1024;  // catalogs
  http_options.server_name = "tally-ledger";
  ui::HttpServer http(io, *router, http_options);
  auto endpoint = http.start();
  if (!endpoint) {
    std::cerr << "tally-ledger: cannot listen on " << config.http_host << ':' << config.http_port << ": "
              << endpoint.error().message << '\n';
    return 4;
  }
  if (auto r = service.start_mqtt(); !r) {
    std::cerr << "tally-ledger: mqtt: " << r.error().message << '\n';
    return 2;
  }
  service.start_allowances();

  // systemd's watchdog (WatchdogSec=): pinged from this loop while the store's
  // thread answers a queued no-op in time.
  tally::service::Watchdog watchdog(
      io.get_executor(), [&service](std::function<void()> alive) { service.probe(std::move(alive)); },
      [&service] { return service.status_line(); });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signo);
    tally::service::notify("STOPPING=1");
    watchdog.stop();
    http.stop();
    service.stop();
    io.stop();
  });

  std::cout << "listening on http://" << endpoint->address().to_string() << ':' << endpoint->port() << std::endl;
  spdlog::info("ledger {} ready; mqtt {}", store_name,
               config.mqtt_uri.empty() ? std::string("off") : config.mqtt_uri);
  service.start_kpi_sampling();
  tally::service::notify("READY=1\nSTATUS=" + service.status_line());
  watchdog.start();
  io.run();
  service.finish();  // drains the worker: every queued batch is committed or not started
  spdlog::info("stopped");
  return 0;
}

}  // namespace tally::ledger
