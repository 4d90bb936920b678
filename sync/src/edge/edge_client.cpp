#include "tally/edge/edge_client.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tally/edge/chunk_assembler.hpp"
#include "tally/mqtt/client.hpp"

namespace tally::edge {
namespace {

namespace asio = boost::asio;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool parse_index(std::string_view text, std::size_t& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace


struct EdgeClient::Impl : std::enable_shared_from_this<EdgeClient::Impl> {
  asio::any_io_executor executor;
  Outbox& outbox;
  EdgeOptions options;
  SendWindow window;
  Backoff backoff;
  ChunkAssembler assembler;
  std::unique_ptr<mqtt::Client> client;
  asio::steady_timer send_timer;
  asio::steady_timer reconnect_timer;
  asio::steady_timer status_timer;
  asio::steady_timer exception_timer;  // resend of an unacknowledged exceptions message
  std::optional<TimePoint> send_timer_at;

  std::string site_root;  // tally/v1/{site}/
  std::string movements_topic, ack_topic, status_topic, exceptions_topic;

  bool started = false;
  bool stopped = false;
  bool connected = false;
  bool reading = false;                       // one outbox read at a time
  std::uint64_t epoch = 0;                    // bumped by rewinds and disconnects: older reads are dropped
  std::optional<TimePoint> read_pause_until;  // after a failed or empty read
  std::uint64_t max_sent_seq = 0;             // highest seq ever handed to MQTT (for the resent counter)
  std::uint64_t recorded_ack = 0;             // acked_seq the journal has (or is writing)
  bool recording_ack = false;
  // Device exceptions: one message in flight at a time, by id.
  std::int64_t exceptions_last = 0;         // highest journaled id known
  std::int64_t exceptions_acked = 0;        // the ledger's exceptions_through
  std::int64_t exceptions_recorded = 0;     // what the journal has (or is writing)
  std::int64_t exceptions_in_flight = 0;    // last id of the message in flight; 0: none
  bool exceptions_reading = false;
  bool recording_exceptions_ack = false;
  // First seq of each batch in flight → (last seq, wall time of its first movement), for lag.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::int64_t>> batch_times;

  std::optional<TimePoint> last_status_at;
  std::uint64_t last_status_pending = ~std::uint64_t{0};
  std::uint64_t last_status_seq = ~std::uint64_t{0};
  bool status_timer_armed = false;

  mutable std::mutex stats_mutex;
  EdgeStats stats_;  // GUARDED_BY(stats_mutex)

  Impl(asio::any_io_executor ex, Outbox& o, EdgeOptions opts)
      : executor(std::move(ex)),
        outbox(o),
        options(std::move(opts)),
        window(options.window),
        backoff(options.backoff_min, options.backoff_max),
        assembler(AssemblerOptions{options.master_data_max_bytes, 4096}),
        send_timer(executor),
        reconnect_timer(executor),
        status_timer(executor),
        exception_timer(executor) {
    site_root = wire::site_root(options.site);
    movements_topic = wire::device_topic(options.site, options.device, "movements");
    ack_topic = wire::device_topic(options.site, options.device, "ack");
    status_topic = wire::device_topic(options.site, options.device, "status");
    exceptions_topic = wire::device_topic(options.site, options.device, "exceptions");
    std::lock_guard lock(stats_mutex);
    stats_.uri = options.uri;
    stats_.enabled = !options.uri.empty();
  }

  template <typename Fn>
  void update_stats(Fn fn) {
    std::lock_guard lock(stats_mutex);
    fn(stats_);
  }

  // Posts fn(Impl&) to the executor if this Impl still exists then.
  template <typename Fn>
  auto on_executor(Fn fn) {
    return [weak = weak_from_this(), ex = executor, fn = std::move(fn)](auto&&... args) mutable {
      asio::post(ex, [weak, fn, args = std::make_tuple(std::forward<decltype(args)>(args)...)]() mutable {
        if (auto self = weak.lock()) {
          std::apply([&](auto&&... a) { fn(*self, std::move(a)...); }, std::move(args));
        }
      });
    };
  }

  std::string status_payload(bool online) const {
    return wire::status_payload(options.device, options.site,
                                wire::Status{online, window.pending(), window.last_seq(), options.version});
  }

  Result<void> start() {
    if (started || options.uri.empty()) return {};
    started = true;
    const OutboxState st = outbox.outbox_state();
    window.reset(st.acked_seq, st.last_seq);
    recorded_ack = st.acked_seq;
    exceptions_last = st.last_exception_id;
    exceptions_acked = st.exceptions_acked;
    exceptions_recorded = st.exceptions_acked;
    refresh_counters();

    mqtt::ConnectOptions co;
    co.uri = options.uri;
    co.client_id = options.device;
    co.tls = options.tls;
    co.clean_start = false;
    co.session_expiry = options.session_expiry;
    co.keepalive = options.keepalive;
    co.will = mqtt::Will{status_topic, status_payload(false), 1, true};
    mqtt::Handlers h;
    std::weak_ptr<Impl> weak = weak_from_this();
    h.connected = [weak](bool session_present) {
      if (auto self = weak.lock()) self->on_connected(session_present);
    };
    h.connect_failed = [weak](const std::string& reason) {
      if (auto self = weak.lock()) self->on_connect_failed(reason);
    };
    h.connection_lost = [weak](const std::string& reason) {
      if (auto self = weak.lock()) self->on_connection_lost(reason);
    };
    h.message = [weak](mqtt::Message m) {
      if (auto self = weak.lock()) self->on_message(m);
    };
    auto created = mqtt::Client::create(executor, std::move(co), std::move(h));
    if (!created) return created.error();
    client = std::move(created).value();

    outbox.set_append_listener(on_executor([](Impl& self, OutboxState state) { self.on_appended(state); }));
    spdlog::info("sync: {} as client {} ({} pending, acked through {})", options.uri, options.device, window.pending(),
                 window.acked());
    client->connect();
    return {};
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    if (!started) return;
    outbox.set_append_listener(nullptr);
    send_timer.cancel();
    reconnect_timer.cancel();
    status_timer.cancel();
    exception_timer.cancel();
    if (client && connected) {
      (void)client->publish(status_topic, status_payload(false), 1, true);
      // Never blocks the executor: the DISCONNECT goes out (after the status,
      // at most 1 s) while the loop goes on; the connection lives on inside
      // the mqtt::Client until then, and keeps the io_context's run() going.
      client->disconnect_async(std::chrono::milliseconds(1000));
    }
    connected = false;
    client.reset();
  }

  void refresh_counters() {
    update_stats([this](EdgeStats& s) {
      s.acked_seq = window.acked();
      s.last_seq = window.last_seq();
      s.pending = window.pending();
      s.connected = connected;
      s.oldest_unacked_ms = batch_times.empty() ? 0 : batch_times.begin()->second.second;
      s.exceptions_acked = exceptions_acked;
      s.exceptions_pending = std::max<std::int64_t>(0, exceptions_last - exceptions_acked);
    });
  }

  // --- connection ----------------------------------------------------------

  void on_connected(bool session_present) {
    if (stopped) return;
    connected = true;
    backoff.reset();
    ++epoch;
    window.on_reconnect();
    batch_times.clear();
    read_pause_until.reset();
    update_stats([](EdgeStats& s) {
      ++s.connects;
      s.last_connect_error.clear();
    });
    spdlog::info("sync: connected to {} (session {}), {} pending", options.uri, session_present ? "resumed" : "new",
                 window.pending());
    client->subscribe({{ack_topic, 1},
                       {site_root + "catalog/+", 1},
                       {site_root + "locations/+", 1},
                       {wire::device_topic(options.site, options.device, "tasks/+"), 1},
                       {wire::device_topic(options.site, options.device, "allowances/+"), 1}},
                      [](Result<void> r) {
                        if (!r) spdlog::warn("sync: subscribe failed: {}", r.error().message);
                      });
    last_status_pending = ~std::uint64_t{0};
    last_status_at.reset();
    publish_status();
    refresh_counters();
    exceptions_in_flight = 0;  // whatever was in flight is resent in this session
    exception_timer.cancel();
    pump();
    pump_exceptions();
  }

  void on_connect_failed(const std::string& reason) {
    if (stopped) return;
    connected = false;
    update_stats([&reason](EdgeStats& s) { s.last_connect_error = reason; });
    schedule_reconnect(reason);
  }

  void on_connection_lost(const std::string& reason) {
    if (stopped) return;
    connected = false;
    ++epoch;
    send_timer.cancel();
    send_timer_at.reset();
    exception_timer.cancel();
    exceptions_in_flight = 0;
    update_stats([&reason](EdgeStats& s) { s.last_connect_error = reason; });
    refresh_counters();
    schedule_reconnect(reason);
  }

  void schedule_reconnect(const std::string& reason) {
    const auto delay = backoff.next();
    spdlog::warn("sync: {}; reconnecting in {} ms (attempt {})", reason, delay.count(), backoff.attempts());
    if (client) client->set_will(mqtt::Will{status_topic, status_payload(false), 1, true});
    reconnect_timer.expires_after(delay);
    reconnect_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && !self->stopped && self->client) self->client->connect();
    });
  }

  // --- sending ---------------------------------------------------------------

  void on_appended(const OutboxState& st) {
    if (stopped) return;
    if (st.last_seq > window.last_seq()) window.on_appended(st.last_seq, Clock::now());
    if (st.last_exception_id > exceptions_last && exceptions_in_flight < 0) {  // end a pause: there is news
      exceptions_in_flight = 0;
      exception_timer.cancel();
    }
    exceptions_last = std::max(exceptions_last, st.last_exception_id);
    refresh_counters();
    status_changed();
    pump();
    pump_exceptions();
  }

  // --- device exceptions (stop-and-wait) --------------------------------------

  void pump_exceptions() {
    if (stopped || !connected || !client || exceptions_reading || exceptions_in_flight != 0) return;
    if (exceptions_acked >= exceptions_last) return;
    exceptions_reading = true;
    const std::uint64_t e = epoch;
    outbox.read_exceptions(exceptions_acked, options.exception_batch_max,
                           on_executor([e](Impl& self, Result<std::vector<ExceptionItem>> items) {
                             self.on_exceptions_read(e, std::move(items));
                           }));
  }

  void on_exceptions_read(std::uint64_t e, Result<std::vector<ExceptionItem>> items) {
    exceptions_reading = false;
    if (stopped) return;
    if (e != epoch || !connected || exceptions_in_flight != 0) {
      pump_exceptions();
      return;
    }
    if (!items || items->empty()) {
      // Nothing to send after all (or the read failed): try again after the
      // resend timeout rather than spin.
      if (!items) spdlog::warn("sync: reading device exceptions failed: {}", items.error().message);
      pause_exceptions();
      return;
    }
    std::string payload = wire::envelope_open(options.device, options.site, "exceptions");
    std::size_t n = 0;
    for (const auto& item : *items) {
      if (n > 0 && payload.size() + item.json.size() + 2 > options.batch_max_bytes) break;
      if (n > 0) payload += ',';
      payload += item.json;
      ++n;
    }
    payload += wire::kEnvelopeClose;
    const std::int64_t last = (*items)[n - 1].id;
    if (auto r = client->publish(exceptions_topic, payload, 1, false); !r) {
      spdlog::debug("sync: publish of device exceptions through {} failed: {}", last, r.error().message);
      pause_exceptions();  // the reconnect or the timer sends again
      return;
    }
    exceptions_in_flight = last;
    arm_exception_timer();
    update_stats([](EdgeStats& s) { ++s.exception_batches_sent; });
  }

  // Nothing in flight, but wait a resend timeout before the next try (a
  // failed read or publish); a new exception or a reconnect ends the pause.
  void pause_exceptions() {
    exceptions_in_flight = -1;
    arm_exception_timer();
  }

  void arm_exception_timer() {
    exception_timer.expires_after(window.options().resend_timeout);
    exception_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && !self->stopped) {
        if (self->exceptions_in_flight > 0) {
          spdlog::warn("sync: no ack for device exceptions through {}; sending again", self->exceptions_in_flight);
        }
        self->exceptions_in_flight = 0;
        self->pump_exceptions();
      }
    });
  }

  void on_exceptions_ack(std::int64_t through) {
    if (through > exceptions_last) {
      bad_message("ack exceptions_through " + std::to_string(through) + " is beyond the last device exception " +
                  std::to_string(exceptions_last));
      return;
    }
    exceptions_acked = std::max(exceptions_acked, through);
    if (exceptions_in_flight > 0 && exceptions_acked >= exceptions_in_flight) {
      exceptions_in_flight = 0;
      exception_timer.cancel();
    }
    record_exceptions_ack();
    refresh_counters();
    pump_exceptions();
  }

  // Persists exceptions_acked (one write at a time; coalesces).
  void record_exceptions_ack() {
    if (recording_exceptions_ack || exceptions_acked <= exceptions_recorded) return;
    recording_exceptions_ack = true;
    const std::int64_t target = exceptions_acked;
    outbox.record_exceptions_ack(target, on_executor([target](Impl& self, Result<void> r) {
                                   self.recording_exceptions_ack = false;
                                   if (!r) {
                                     spdlog::error("sync: recording exceptions ack {} failed: {} [{}]", target,
                                                   r.error().message, r.error().code);
                                     return;
                                   }
                                   self.exceptions_recorded = std::max(self.exceptions_recorded, target);
                                   if (!self.stopped) self.record_exceptions_ack();
                                 }));
  }

  void arm_send_timer(TimePoint at) {
    if (send_timer_at && *send_timer_at == at) return;
    send_timer_at = at;
    send_timer.expires_at(at);
    send_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->send_timer_at.reset();
        self->pump();
      }
    });
  }

  void pump() {
    if (stopped || !connected || !client) return;
    const TimePoint now = Clock::now();
    if (window.check_timeout(now)) {
      ++epoch;
      batch_times.clear();
      update_stats([](EdgeStats& s) { ++s.rewinds; });
      spdlog::warn("sync: no ack within {} ms; resending from seq {}", window.options().resend_timeout.count(),
                   window.acked() + 1);
    }
    if (reading) return;
    if (read_pause_until && *read_pause_until > now) {
      arm_send_timer(*read_pause_until);
      return;
    }
    read_pause_until.reset();
    const SendWindow::Plan plan = window.plan(now);
    if (plan.send) {
      reading = true;
      const std::uint64_t e = epoch;
      const std::uint64_t after = plan.after;
      outbox.read_outbox(plan.after, plan.count,
                         on_executor([e, after](Impl& self, Result<std::vector<OutboxItem>> items) {
                           self.on_read(e, after, std::move(items));
                         }));
      return;
    }
    if (plan.wake_at) arm_send_timer(*plan.wake_at);
  }

  void on_read(std::uint64_t e, std::uint64_t after, Result<std::vector<OutboxItem>> items) {
    reading = false;
    if (stopped) return;
    if (e != epoch || !connected || after != window.sent_through()) {
      pump();  // the world moved on (rewind, disconnect): plan again
      return;
    }
    const TimePoint now = Clock::now();
    if (!items || items->empty() || items->front().seq != after + 1) {
      spdlog::warn("sync: outbox read after seq {} failed: {}", after,
                   !items ? items.error().message : std::string("no movements where some were expected"));
      read_pause_until = now + std::chrono::milliseconds(500);
      pump();
      return;
    }
    // Keep only a contiguous run.
    std::size_t n = 1;
    while (n < items->size() && (*items)[n].seq == (*items)[n - 1].seq + 1) ++n;
    const auto& list = *items;
    std::string payload;
    std::size_t bytes = 64 + options.device.size() + options.site.size() + list[0].json.size();
    for (std::size_t i = 1; i < n; ++i) {
      if (bytes + list[i].json.size() + 1 > options.batch_max_bytes) {
        n = i;  // the rest goes in the next batch
        break;
      }
      bytes += list[i].json.size() + 1;
    }
    payload.reserve(bytes);
    payload += wire::envelope_open(options.device, options.site, "movements");
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) payload += ',';
      payload += list[i].json;
    }
    payload += wire::kEnvelopeClose;
    const std::uint64_t first = list[0].seq;
    const std::uint64_t last = list[n - 1].seq;
    if (auto r = client->publish(movements_topic, payload, 1, false); !r) {
      // Not connected any more: the reconnect resends from acked + 1.
      spdlog::debug("sync: publish of seqs {}..{} failed: {}", first, last, r.error().message);
      return;
    }
    window.on_sent(first, last, now);
    batch_times[first] = {last, list[0].wall_time_ms};
    const std::uint64_t resent = max_sent_seq >= first ? std::min(max_sent_seq, last) - first + 1 : 0;
    max_sent_seq = std::max(max_sent_seq, last);
    update_stats([&](EdgeStats& s) {
      ++s.batches_sent;
      s.movements_sent += n;
      s.movements_resent += resent;
    });
    refresh_counters();
    pump();
  }

  // --- receiving -------------------------------------------------------------

  void on_message(const mqtt::Message& m) {
    if (stopped) return;
    if (m.topic == ack_topic) {
      on_ack(m.payload);
      return;
    }
    if (m.topic.rfind(site_root, 0) != 0) return;
    const std::string_view rest = std::string_view(m.topic).substr(site_root.size());
    std::string kind;
    std::string_view index_text;
    const std::string tasks_prefix = options.device + "/tasks/";
    const std::string allowances_prefix = options.device + "/allowances/";
    if (rest.rfind("catalog/", 0) == 0) {
      kind = "catalog";
      index_text = rest.substr(8);
    } else if (rest.rfind("locations/", 0) == 0) {
      kind = "locations";
      index_text = rest.substr(10);
    } else if (rest.rfind(tasks_prefix, 0) == 0) {
      kind = "tasks";
      index_text = rest.substr(tasks_prefix.size());
    } else if (rest.rfind(allowances_prefix, 0) == 0) {
      kind = "allowances";
      index_text = rest.substr(allowances_prefix.size());
    } else {
      return;
    }
    std::size_t index = 0;
    if (!parse_index(index_text, index)) {
      bad_message("downlink topic " + m.topic + " has no chunk index");
      return;
    }
    auto offered = assembler.offer(kind, index, m.payload);
    if (!offered) {
      bad_message(offered.error().message + " (" + m.topic + ")");
      return;
    }
    if (!*offered) return;
    MasterDataText done = std::move(**offered);
    spdlog::info("sync: {} version {} received ({} bytes); storing", done.kind, done.version, done.text.size());
    const std::string k = done.kind;
    const std::int64_t v = done.version;
    outbox.store_master_data(
        std::move(done.kind), done.version, std::move(done.text), on_executor([k, v](Impl& self, Result<void> r) {
          if (!r) {
            spdlog::warn("sync: storing {} version {} failed: {} [{}]", k, v, r.error().message, r.error().code);
            self.assembler.forget(k, v);
            self.update_stats([](EdgeStats& s) { ++s.bad_messages; });
            return;
          }
          self.update_stats([](EdgeStats& s) { ++s.master_data_stored; });
        }));
  }

  void bad_message(const std::string& what) {
    spdlog::warn("sync: ignored message: {}", what);
    update_stats([](EdgeStats& s) { ++s.bad_messages; });
  }

  void on_ack(const std::string& payload) {
    const auto ack = parse_ack(payload);
    if (!ack) {
      bad_message("ack is not {\"v\":1,\"applied_through\":N,…} or {\"v\":1,\"exceptions_through\":N}");
      return;
    }
    if (ack->exceptions_through) {
      on_exceptions_ack(*ack->exceptions_through);
      if (!ack->applied_through) return;
    }
    const std::uint64_t applied = *ack->applied_through;
    const std::uint64_t rejected = ack->rejected.size();
    for (const auto& [seq, reason] : ack->rejected) spdlog::warn("sync: ledger rejected seq {}: {}", seq, reason);
    const auto effect = window.on_ack(applied, Clock::now());
    update_stats([&](EdgeStats& s) {
      ++s.acks;
      s.rejected += rejected;
      s.applied_through = applied;
      s.last_ack_at_ms = wall_ms();
    });
    if (effect == SendWindow::AckEffect::beyond) {
      bad_message("ack applied_through " + std::to_string(applied) + " is beyond last_seq " +
                  std::to_string(window.last_seq()));
      return;
    }
    if (effect == SendWindow::AckEffect::rewind) {
      ++epoch;
      batch_times.clear();
      update_stats([](EdgeStats& s) { ++s.rewinds; });
      spdlog::info("sync: ledger applied through {}; resending from {}", applied, window.acked() + 1);
    }
    while (!batch_times.empty() && batch_times.begin()->second.first <= window.acked()) {
      batch_times.erase(batch_times.begin());
    }
    record_ack();
    refresh_counters();
    status_changed();
    pump();
  }

  // Persists window.acked() (one write at a time; coalesces).
  void record_ack() {
    if (recording_ack || window.acked() <= recorded_ack) return;
    recording_ack = true;
    const std::uint64_t target = window.acked();
    outbox.record_ack(target, on_executor([target](Impl& self, Result<void> r) {
                        self.recording_ack = false;
                        if (!r) {
                          spdlog::error("sync: recording ack {} failed: {} [{}]", target, r.error().message,
                                        r.error().code);
                          return;  // the next ack tries again; the ledger keeps answering
                        }
                        self.recorded_ack = std::max(self.recorded_ack, target);
                        if (!self.stopped) self.record_ack();
                      }));
  }

  // --- status ----------------------------------------------------------------

  void publish_status() {
    if (!connected || !client) return;
    (void)client->publish(status_topic, status_payload(true), 1, true);
    last_status_at = Clock::now();
    last_status_pending = window.pending();
    last_status_seq = window.last_seq();
  }

  bool status_stale() const { return window.pending() != last_status_pending || window.last_seq() != last_status_seq; }

  void status_changed() {
    if (!connected || !status_stale() || status_timer_armed) return;
    const TimePoint now = Clock::now();
    if (!last_status_at || *last_status_at + options.status_interval <= now) {
      publish_status();
      return;
    }
    status_timer_armed = true;
    status_timer.expires_at(*last_status_at + options.status_interval);
    status_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->status_timer_armed = false;
        if (!self->stopped && self->status_stale()) self->publish_status();
      }
    });
  }
};

EdgeClient::EdgeClient(asio::any_io_executor executor, Outbox& outbox, EdgeOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), outbox, std::move(options))) {}

EdgeClient::~EdgeClient() { stop(); }

Result<void> EdgeClient::start() { return impl_->start(); }

void EdgeClient::stop() { impl_->stop(); }

EdgeStats EdgeClient::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats_;
}

}  // namespace tally::edge
