#include "tally/device/app.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <malloc.h>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "tally/device/camera.hpp"
#include "tally/device/config.hpp"
#include "tally/device/engine.hpp"
#include "tally/device/feedback.hpp"
#include "tally/edge/edge_client.hpp"
#include "tally/service/startup.hpp"
#include "tally/service/watchdog.hpp"
#include "tally/ui/http_server.hpp"
#include "camera_status.hpp"
#include "scanner_inputs.hpp"
#include "metrics_text.hpp"
#include "usb_status.hpp"

namespace tally::device {
namespace {

edge::EdgeOptions edge_options(const Config& config) {
  edge::EdgeOptions o;
  o.uri = config.mqtt_uri;
  o.device = config.device_id;
  o.site = config.site;
  o.version = TALLY_VERSION;
  o.window.batch_max = static_cast<std::size_t>(config.mqtt_batch_max);
  o.window.linger = std::chrono::milliseconds(config.mqtt_linger_ms);
  o.window.inflight_max = static_cast<std::size_t>(config.mqtt_inflight_max);
  o.window.resend_timeout = std::chrono::milliseconds(config.mqtt_resend_timeout_ms);
  o.session_expiry = std::chrono::seconds(config.mqtt_session_expiry_s);
  o.keepalive = std::chrono::seconds(config.mqtt_keepalive_s);
  o.backoff_min = std::chrono::milliseconds(config.mqtt_backoff_min_ms);
  o.backoff_max = std::chrono::milliseconds(config.mqtt_backoff_max_ms);
  o.tls = mqtt::Tls{config.mqtt_ca_file, config.mqtt_cert_file, config.mqtt_key_file};
  return o;
}

// The sync client's part of /api/v1/status and /metrics.
SyncReport sync_report(const edge::EdgeClient* sync, const std::string& uri) {
  SyncReport report;
  report.status = [sync, uri](nlohmann::json& j) {
    if (sync == nullptr) {
      j["broker"] = {{"uri", uri}, {"enabled", false}, {"connected", false}};
      return;
    }
    const edge::EdgeStats s = sync->stats();
    using nlohmann::json;
    const auto or_null = [](bool absent, auto value) { return absent ? json() : json(value); };
    j["broker"] = {{"uri", s.uri},
                   {"enabled", s.enabled},
                   {"connected", s.connected},
                   {"connects", s.connects},
                   {"last_connect_error", or_null(s.last_connect_error.empty(), s.last_connect_error)}};
    if (s.last_ack_at_ms > 0) {
      j["last_ack"] = {{"applied_through", s.applied_through}, {"at_ms", s.last_ack_at_ms}};
    } else {
      j["last_ack"] = nullptr;
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const bool none = s.oldest_unacked_ms == 0;
    j["lag"] = {{"pending", s.pending},
                {"oldest_unacked_ms", or_null(none, s.oldest_unacked_ms)},
                {"oldest_unacked_age_ms", or_null(none, std::max<std::int64_t>(0, now_ms - s.oldest_unacked_ms))}};
  };
  report.metrics = [sync]() -> std::string {
    if (sync == nullptr) return {};
    const edge::EdgeStats s = sync->stats();
    std::string m;
    const auto add = [&m](const char* name, const char* type, const char* help, std::uint64_t value) {
      add_metric(m, name, type, help, value);
    };
    add("tally_sync_connected", "gauge", "1 while connected to the broker.", s.connected ? 1U : 0U);
    add("tally_sync_connects_total", "counter", "Successful broker connections.", s.connects);
    add("tally_sync_batches_sent_total", "counter", "Movement batches handed to MQTT.", s.batches_sent);
    add("tally_sync_movements_sent_total", "counter", "Movements handed to MQTT (resends included).", s.movements_sent);
    add("tally_sync_movements_resent_total", "counter", "Movements sent again (reconnect, timeout, gap).",
        s.movements_resent);
    add("tally_sync_rewinds_total", "counter", "Times sending restarted at acked_seq + 1 (timeout or gap).", s.rewinds);
    add("tally_sync_acks_total", "counter", "Acks received from the ledger.", s.acks);
    add("tally_sync_rejected_total", "counter", "Movements the ledger rejected.", s.rejected);
    add("tally_sync_master_data_stored_total", "counter", "Master-data versions received and stored.",
        s.master_data_stored);
    add("tally_sync_bad_messages_total", "counter", "Downlink messages ignored as malformed.", s.bad_messages);
    add("tally_sync_applied_through", "gauge", "The ledger's last applied_through.", s.applied_through);
    add("tally_sync_exception_batches_sent_total", "counter", "Device-exception messages handed to MQTT.",
        s.exception_batches_sent);
    return m;
  };
  return report;
}

// systemd's STATUS= line: what an operator wants from `systemctl status`.
std::string status_line(const edge::Outbox& journal, const edge::EdgeClient* sync) {
  const edge::OutboxState o = journal.outbox_state();
  std::string line = "pending " + std::to_string(o.last_seq - std::min(o.acked_seq, o.last_seq)) + ", broker ";
  if (sync == nullptr) return line + "off";
  return line + (sync->stats().connected ? "connected" : "disconnected");
}

// The engine's options from tallyd's config: the session ([session],
// [labels]), the journal, the queue bound and frame decoding ([decode]).
EngineOptions engine_options(const Config& config) {
  EngineOptions o;
  o.session = scanner::SessionOptions{config.device_id, config.site, config.receiving_location};
  o.session.idle_timeout_ms = config.session_idle_timeout_s * 1000;
  o.session.require_pin = config.session_require_pin;
  o.session.pins = config.session_pins;
  o.session.labels = config.labels;
  if (config.session_reason_codes) o.session.reason_codes = *config.session_reason_codes;
  o.journal.path = config.journal_path();
  o.journal.device = config.device_id;
  o.journal.site = config.site;
  o.queue_max = config.queue_max;
  o.mqtt_uri = config.mqtt_uri;
  // POST /api/v1/frames decodes in a child process. DecodeWorker fork()s
  // without exec, so run() calls this before anything starts a thread
  // (Engine::open starts the journal worker and the frame thread, the Paho
  // client its own) and before the journal and sockets are opened.
  o.frame_decoder = std::make_shared<DecodeWorker>();
  o.frame_decode = config.decode;  // [decode]
  return o;
}

// The journal and the session restored from it: the engine, or null after
// saying why on stderr.
std::unique_ptr<Engine> open_engine(const Config& config) {
  auto engine = Engine::open(engine_options(config));
  if (!engine) {
    std::cerr << "tallyd: cannot use journal " << config.journal_path().string() << ": "
              << engine.error().message << " [" << engine.error().code << "]\n";
    return nullptr;
  }
  return std::move(engine).value();
}

// Serves until SIGINT/SIGTERM: feedback, the HTTP API, MQTT sync, the
// scanner inputs and the watchdog on one Asio thread, the engine's worker
// and frame threads beside it. The exit code.
int serve(const Config& config, Engine& engine) {
  asio::io_context io{1};
  // [feedback]: played from the engine's replies only (after the append).
  auto feedback = Feedback::open(io, config.feedback);
  if (!feedback) {
    std::cerr << "tallyd: " << feedback.error().message << '\n';
    return 2;
  }
  FeedbackDeviceApi feedback_api(io, engine, **feedback);
  ScannerInputs inputs(io, config, feedback_api, **feedback, engine);
  CameraTriggerApi http_api(feedback_api, inputs.cameras());  // the cameras start after the server
  FeedbackOutbox sync_outbox(io, engine.journal_worker(), **feedback);

  ui::HttpOptions http_options;
  http_options.host = config.http_host;
  http_options.port = config.http_port;
  ui::HttpServer http(io, http_api, http_options);
  auto endpoint = http.start();
  if (!endpoint) {
    std::cerr << "tallyd: cannot listen on " << config.http_host << ':' << config.http_port << ": "
              << endpoint.error().message << '\n';
    return 4;
  }

  // Journal sync over MQTT (off with an empty URI).
  std::unique_ptr<edge::EdgeClient> sync;
  if (!config.mqtt_uri.empty()) {
    sync = std::make_unique<edge::EdgeClient>(io.get_executor(), sync_outbox, edge_options(config));
    if (auto r = sync->start(); !r) {
      std::cerr << "tallyd: cannot use MQTT broker " << config.mqtt_uri << ": " << r.error().message << '\n';
      return 2;
    }
  }
  if (auto ec = inputs.start()) {
    std::cerr << "tallyd: --stdin needs a terminal or a pipe: " << ec.message() << '\n';
    return 2;
  }
  engine.set_sync_report(
      with_camera_report(with_usb_report(sync_report(sync.get(), config.mqtt_uri), inputs.usb()), &inputs.cameras()));

  // systemd's watchdog (WatchdogSec=): pinged from this loop, and only while
  // the journal worker answers a queued no-op in time.
  journal::Worker& journal = engine.journal_worker();
  service::Watchdog watchdog(
      io.get_executor(),
      [&journal](std::function<void()> alive) {
        journal.post([alive = std::move(alive)](journal::Journal&) { alive(); }, /*past_limit=*/true);
      },
      [&journal, &sync] { return status_line(journal, sync.get()); });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: finishing the in-flight append and stopping", signo);
    service::notify("STOPPING=1");
    watchdog.stop();
    http.stop();
    inputs.stop();
    (*feedback)->stop();
    if (sync) sync->stop();
  });

  const auto host = endpoint->address().is_v6() ? "[" + endpoint->address().to_string() + "]"
                                                : endpoint->address().to_string();
  std::cout << "tallyd " << TALLY_VERSION << ": device " << config.device_id << ", site " << config.site
            << ", journal " << config.journal_path().string() << '\n'
            << "listening on http://" << host << ':' << endpoint->port() << std::endl;
  // Startup's transient heap (config, journal migrations and replay, the
  // first JSON) goes back to the kernel before the long idle: ~120 KB of the
  // idle RSS target (docs/PERFORMANCE.md "Footprint"). glibc; all arenas.
  ::malloc_trim(0);
  service::notify("READY=1\nSTATUS=" + status_line(journal, sync.get()));
  watchdog.start();

  io.run();
  if (sync) sync->stop();
  engine.set_sync_report({});
  inputs.release();  // waits (bounded) for the USB transfers
  engine.stop();  // drains the queue: the in-flight append completes
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int run(const std::vector<std::string>& args) {
  const auto loaded = load_config(args);
  if (auto code = service::start("tallyd", loaded)) return *code;
  const Config& config = loaded->config;
  auto engine = open_engine(config);
  if (!engine) return 3;
  return serve(config, *engine);
}

}  // namespace tally::device
