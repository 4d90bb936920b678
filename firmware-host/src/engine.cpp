#include "tally/device/engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "tally/scanner/label.hpp"
#include "tally/service/work_queue.hpp"
#include "tally/wire/movement_json.hpp"

#include "engine_frames.hpp"
#include "metrics_text.hpp"

namespace tally::device {
namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// HTTP status for a journal error: the disk is full (507), anything else is
// the device's fault (500). Either way nothing was written.
}  // namespace

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<journal::Journal> journal;  // worker thread only (after open)
  scanner::Session session;                   // worker thread only (after open)
  std::shared_ptr<const scanner::MasterData> master;  // worker thread only

  // What status() shows without queueing behind appends. Updated by the worker.
  struct View {
    journal::Status journal;
    std::string operator_id;
    std::string mode;
    std::string prompt;
    std::string last_error;
    json tasks = json::array();  // the task list with progress (status "tasks")
    json allowances = nullptr;   // {"version","grants"} once the ledger grants allowances
  };
  mutable std::mutex view_mutex;
  View view;  // GUARDED_BY(view_mutex)

  // The bounded job queue in front of the worker (options.queue_max); the
  // worker starts last in the constructor, once everything it uses exists.
  std::optional<service::WorkQueue> queue;

  // Metrics (relaxed atomics: monotonic counters read for /metrics).
  std::atomic<std::uint64_t> scans_accepted{0}, scans_refused{0}, movements_recorded{0};
  std::atomic<std::uint64_t> journal_errors{0}, overloaded{0};
  std::atomic<std::uint64_t> append_us_sum{0}, append_count{0};

  // Sync client hooks (edge::Outbox, status/metrics additions).
  mutable std::mutex hooks_mutex;
  std::function<void(edge::OutboxState)> append_listener;  // GUARDED_BY(hooks_mutex)
  SyncReport sync_report;                                  // GUARDED_BY(hooks_mutex)
  edge::OutboxState notified;                              // worker thread only

  // Pick allowances (docs/PROTOCOL.md "Pick allowances"): the units this
  // device picked under each grant (by id) since its basis_seq, counted from
  // the journal the first time a pick needs it, then kept up to date by
  // handle_scan. Cleared when a new allowances version is stored.
  std::map<std::string, std::int64_t> allowance_used;  // worker thread only

  edge::OutboxState outbox_state() const {
    std::lock_guard lock(view_mutex);
    const journal::Status& j = view.journal;
    return {j.last_seq, j.acked_seq, j.last_exception_id, j.exceptions_acked};
  }

  // Worker thread: tells the append listener when last_seq or the last
  // device exception moved.
  void notify_appended() {
    const edge::OutboxState now = outbox_state();
    if (now.last_seq <= notified.last_seq && now.last_exception_id <= notified.last_exception_id) return;
    notified = now;
    std::function<void(edge::OutboxState)> listener;
    {
      std::lock_guard lock(hooks_mutex);
      listener = append_listener;
    }
    if (listener) listener(now);
  }

  Impl(EngineOptions o, std::unique_ptr<journal::Journal> j, scanner::Session s)
      : options(std::move(o)), journal(std::move(j)), session(std::move(s)) {
    if (auto r = load_master_data(); !r) {
      view.last_error = "stored master data ignored: " + r.error().message;
    }
    refresh_view();
    queue.emplace("journal worker", options.queue_max);
  }

  // Parses every stored master-data kind (worker thread or before it starts).
  // A stored version that no longer parses is skipped with a log line: the
  // device keeps working without it rather than refusing to start.
  Result<void> load_master_data() {
    auto data = std::make_shared<scanner::MasterData>();
    for (const char* kind : {"catalog", "locations", "tasks", "allowances"}) {
      const auto stored = journal->master_data(kind);
      if (!stored) continue;
      const json parsed = json::parse(stored->second, nullptr, /*allow_exceptions=*/false);
      if (auto r = scanner::apply_master_data(kind, parsed, *data); !r) return r;
    }
    master = data;
    session.set_master_data(master);
    return {};
  }

  Result<void> store_master_data(const std::string& kind, std::int64_t version, const std::string& payload) {
    if (!scanner::is_master_data_kind(kind)) {
      return make_error("bad_master_data", "unknown master data kind '" + kind + "'");
    }
    if (const auto stored = journal->master_data(kind); stored && stored->first >= version) return {};
    auto next = std::make_shared<scanner::MasterData>(master ? *master : scanner::MasterData{});
    const json parsed = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (auto r = scanner::apply_master_data(kind, parsed, *next); !r) return r;
    if (auto r = journal->put_master_data(kind, version, payload); !r) return r;
    master = std::move(next);
    session.set_master_data(master);
    if (kind == "allowances") allowance_used.clear();
    refresh_view();  // the task list in the status
    return {};
  }

  void refresh_view() {
    View v;
    v.journal = journal->status();
    v.operator_id = session.operator_id();
    v.mode = session.mode();
    v.prompt = session.prompt();
    v.tasks = task_list();
    if (master && master->allowances_version > 0) {
      v.allowances = {{"version", master->allowances_version}, {"grants", master->allowances.size()}};
    }
    std::lock_guard lock(view_mutex);
    v.last_error = view.last_error;
    view = std::move(v);
  }

  // The device's tasks (master data) and how far this session got with
  // each: [{"id","type","reference","lines","lines_done","current","done"}].
  json task_list() const {
    json out = json::array();
    for (const scanner::TaskProgress& t : session.task_progress()) {
      out.push_back({{"id", t.id},
                     {"type", t.type},
                     {"reference", t.reference},
                     {"lines", t.lines},
                     {"lines_done", t.lines_done},
                     {"current", t.current},
                     {"done", t.done}});
    }
    return out;
  }

  // Queues a job; false when the queue is full or the engine is stopping.
  // past_limit: queued even when full (the watchdog's probe, one at a time).
  bool enqueue(std::function<void()> job, bool past_limit = false) { return queue->post(std::move(job), past_limit); }

  void stop() { queue->stop(); }

  // Worker thread: this device's picks under `a` journaled so far (see allowance_used).
  Result<std::int64_t> allowance_used_of(const scanner::Allowance& a) {
    if (const auto it = allowance_used.find(a.id); it != allowance_used.end()) return it->second;
    constexpr std::size_t kPage = 1000;
    std::int64_t used = 0;
    for (std::uint64_t after = a.basis_seq;;) {
      auto rows = journal->movements_after(after, kPage);
      if (!rows) return rows.error();
      for (const auto& m : *rows) {
        if (scanner::allowance_applies(*master, m) && m.item.id() == a.item && m.item.lot == a.lot &&
            m.from.location.code == a.bin) {
          used += m.qty;
        }
        after = m.seq;
      }
      if (rows->size() < kPage) break;
    }
    allowance_used.emplace(a.id, used);
    return used;
  }

  // Worker thread: the whole life of one scan.
  ui::ScanReply handle_scan(const ui::ScanRequest& request, std::int64_t time_ms) {
    scanner::Session next = session;
    ui::ScanReply reply;
    reply.outcome = next.handle(scanner::Scan{request.text, request.symbology, request.source, time_ms});
    if (!reply.outcome.accepted()) return refuse(request, std::move(reply), time_ms);

    journal::Entry entry;
    entry.scan = journal::ScanRecord{scanner::redacted(request.text),  // PIN:**** (never a PIN in clear)
                                     request.symbology,
                                     request.source,
                                     next.operator_id(),
                                     next.mode(),
                                     std::string(scanner::to_string(reply.outcome.feedback)),
                                     reply.outcome.code,
                                     time_ms};
    entry.movement = reply.outcome.movement;
    entry.more_movements = reply.outcome.more_movements;
    entry.exception = reply.outcome.exception;  // e.g. unknown item, short pick (accepted with a warning)
    entry.session_snapshot = next.snapshot().dump();

    auto allowance = escrow(reply, entry, next.mode(), time_ms);
    if (!allowance) {
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      return ui::ScanReply::failure(allowance.error(), session.prompt());
    }

    const auto started = std::chrono::steady_clock::now();
    auto appended = journal->append(entry);
    const auto took = std::chrono::steady_clock::now() - started;
    append_us_sum.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
        std::memory_order_relaxed);
    append_count.fetch_add(1, std::memory_order_relaxed);

    if (!appended) {
      // Nothing was written: keep the old session and say so loudly.
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard lock(view_mutex);
        view.last_error = appended.error().code + ": " + appended.error().message;
      }
      return ui::ScanReply::failure(appended.error(), session.prompt());
    }

    session = std::move(next);
    reply.kind = reply.outcome.movement ? ui::ScanReply::Kind::recorded : ui::ScanReply::Kind::accepted;
    reply.scan_id = appended->scan_id;
    if (*allowance) {
      const scanner::AllowanceUse& use = **allowance;
      const std::int64_t qty = reply.outcome.movement->qty;
      if (use.grant != nullptr) allowance_used[use.grant->id] += qty;
      reply.allowance = ui::AllowanceReport{use.grant ? std::optional(use.grant->id) : std::nullopt,
                                            use.grant ? use.grant->qty : 0,
                                            std::max<std::int64_t>(0, use.remaining - qty),
                                            use.grant ? use.grant->expires_ms : 0, use.exceeded};
    }
    scans_accepted.fetch_add(1, std::memory_order_relaxed);
    if (reply.outcome.movement) {
      const auto stamped = [this](scanner::Movement m, std::uint64_t seq, std::uint64_t hlc) {
        m.device = options.journal.device;
        m.site = options.journal.site;
        m.seq = seq;
        m.hlc = hlc;
        return m;
      };
      reply.recorded.push_back(stamped(*reply.outcome.movement, appended->seq.value_or(0), appended->hlc));
      for (std::size_t k = 0; k < reply.outcome.more_movements.size(); ++k) {  // a pallet
        reply.recorded.push_back(
            stamped(reply.outcome.more_movements[k], appended->more.at(k).first, appended->more.at(k).second));
      }
      movements_recorded.fetch_add(reply.recorded.size(), std::memory_order_relaxed);
    }
    reply.operator_id = session.operator_id();
    reply.mode = session.mode();
    refresh_view();
    return reply;
  }

  // Worker thread: a scan the session refused. The session stays as it was;
  // a refusal that revealed a device-side exception (wrong bin, wrong item,
  // expired lot) journals the scan as evidence and the exception, no snapshot.
  ui::ScanReply refuse(const ui::ScanRequest& request, ui::ScanReply reply, std::int64_t time_ms) {
    scans_refused.fetch_add(1, std::memory_order_relaxed);
    reply.kind = ui::ScanReply::Kind::refused;
    reply.operator_id = session.operator_id();
    reply.mode = session.mode();
    if (!reply.outcome.exception) return reply;
    journal::Entry refused;
    refused.scan = journal::ScanRecord{scanner::redacted(request.text),
                                       request.symbology,
                                       request.source,
                                       session.operator_id(),
                                       session.mode(),
                                       "error",
                                       reply.outcome.code,
                                       time_ms};
    refused.exception = reply.outcome.exception;
    auto r = journal->append(refused);
    reply.exception_recorded = r.ok();
    if (!r) {
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(view_mutex);
      view.last_error = r.error().code + ": " + r.error().message;
    } else {
      refresh_view();
    }
    return reply;
  }

  // Worker thread. Escrow: a pick beyond this device's allowance is recorded
  // all the same, with an allowance_exceeded exception in the same
  // transaction (added to `entry` and `reply`). The use, if the pick counts
  // against an allowance; an error if its journaled picks cannot be read.
  Result<std::optional<scanner::AllowanceUse>> escrow(ui::ScanReply& reply, journal::Entry& entry,
                                                      const std::string& mode, std::int64_t time_ms) {
    const auto& movement = reply.outcome.movement;
    if (!movement || !master || !scanner::allowance_applies(*master, *movement)) {
      return std::optional<scanner::AllowanceUse>();
    }
    const scanner::Movement& pick = *movement;
    std::int64_t used = 0;
    if (const auto* grant = master->find_allowance(pick.item.id(), pick.item.lot, pick.from.location.code)) {
      auto u = allowance_used_of(*grant);
      if (!u) return u.error();
      used = *u;
    }
    const scanner::AllowanceUse use = scanner::allowance_use(*master, pick, used, time_ms);
    if (use.exceeded) {
      auto x = scanner::allowance_exception(use, pick, mode);
      x.time_ms = time_ms;
      if (entry.exception) {
        entry.more_exceptions.push_back(x);
        reply.more_exceptions.push_back(std::move(x));
      } else {
        entry.exception = x;
        reply.outcome.exception = std::move(x);
      }
      entry.scan.feedback = "warning";
      reply.outcome.feedback = scanner::Feedback::warning;
      reply.outcome.message += " Beyond this device's pick allowance (" + std::to_string(use.remaining) +
                               " left): recorded and flagged for the supervisor.";
    }
    return std::optional(use);
  }

  json status_body() const {
    std::lock_guard lock(view_mutex);
    json j = {{"device", options.journal.device},
              {"site", options.journal.site},
              {"version", options.version},
              {"operator", view.operator_id},
              {"mode", view.mode},
              {"prompt", view.prompt},
              {"journal",
               {{"last_seq", view.journal.last_seq},
                {"acked_seq", view.journal.acked_seq},
                {"pending", view.journal.pending},
                {"scans", view.journal.scans},
                {"exceptions",
                 {{"last_id", view.journal.last_exception_id},
                  {"acked_id", view.journal.exceptions_acked},
                  {"pending", view.journal.last_exception_id - view.journal.exceptions_acked}}},
                {"path", options.journal.path.string()}}},
              {"broker", {{"uri", options.mqtt_uri}, {"connected", false}}},
              {"last_ack", nullptr},
              {"tasks", view.tasks},
              {"allowances", view.allowances}};
    if (!view.last_error.empty()) j["last_error"] = view.last_error;
    std::function<void(json&)> sync_status;
    {
      std::lock_guard hooks(hooks_mutex);
      sync_status = sync_report.status;
    }
    if (sync_status) sync_status(j);
    return j;
  }

  std::string metrics_text() const {
    View v;
    {
      std::lock_guard lock(view_mutex);
      v = view;
    }
    const std::size_t depth = queue->queued();
    std::string m;
    const auto counter = [&m](const char* name, const char* help, auto value) {
      add_metric(m, name, "counter", help, value);
    };
    const auto gauge = [&m](const char* name, const char* help, std::uint64_t value) {
      add_metric(m, name, "gauge", help, value);
    };
    counter("tally_scans_accepted_total", "Scans accepted and journaled.", scans_accepted.load());
    counter("tally_scans_refused_total", "Scans the session refused (nothing changed).", scans_refused.load());
    counter("tally_movements_recorded_total", "Movements made durable in the journal.", movements_recorded.load());
    counter("tally_journal_errors_total", "Appends that failed (nothing written).", journal_errors.load());
    counter("tally_overloaded_total", "Requests refused because the queue was full.", overloaded.load());
    counter("tally_journal_append_seconds_sum", "Time spent in durable appends.",
            static_cast<double>(append_us_sum.load()) / 1e6);
    counter("tally_journal_append_seconds_count", "Durable appends.", append_count.load());
    gauge("tally_queue_depth", "Jobs waiting for the journal worker.", depth);
    gauge("tally_queue_depth_max", "Highest queue depth seen.", queue->depth_max());
    gauge("tally_journal_last_seq", "Highest movement seq written.", v.journal.last_seq);
    gauge("tally_journal_acked_seq", "Highest seq acknowledged by the ledger.", v.journal.acked_seq);
    gauge("tally_journal_pending", "Movements not yet acknowledged.", v.journal.pending);
    gauge("tally_device_exceptions_pending", "Device exceptions not yet acknowledged by the ledger.",
          static_cast<std::uint64_t>(v.journal.last_exception_id - v.journal.exceptions_acked));
    std::function<std::string()> sync_metrics;
    {
      std::lock_guard hooks(hooks_mutex);
      sync_metrics = sync_report.metrics;
    }
    if (sync_metrics) m += sync_metrics();
    return m;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  auto journal = journal::Journal::open(options.journal);
  if (!journal) return journal.error();
  scanner::Session session(options.session);
  if (auto snapshot = (*journal)->session_snapshot(); snapshot && !snapshot->empty()) {
    const json parsed = json::parse(*snapshot, nullptr, /*allow_exceptions=*/false);
    auto restored = scanner::Session::restore(options.session, parsed);
    if (!restored) return restored.error();
    session = std::move(restored).value();
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(journal).value(), std::move(session));
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  if (const auto& o = engine->impl_->options; o.frame_decoder) {  // POST /api/v1/frames (engine_frames.cpp)
    engine->frames_ = std::make_unique<Frames>(*engine, o.frame_decoder, o.frame_decode, o.frames_queue_max);
  }
  return engine;
}

void Engine::submit_scan(ui::ScanRequest request, ScanDone done) {
  // The scanner self-test label: answered with its diagnosis, nothing journaled.
  if (auto diagnosis = self_test_reply(request)) return done(std::move(*diagnosis));
  const std::int64_t time_ms = now_ms();
  auto shared_done = std::make_shared<ScanDone>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, request = std::move(request), time_ms, shared_done] {
    auto answer = impl->handle_scan(request, time_ms);
    impl->notify_appended();
    (*shared_done)(std::move(answer));
  });
  if (!queued) {
    impl->overloaded.fetch_add(1, std::memory_order_relaxed);
    (*shared_done)(ui::ScanReply::failure(make_error("overloaded", "the journal is busy or stopping; scan again")));
  }
}

void Engine::status(Reply reply) { reply({200, impl_->status_body()}); }

void Engine::movements(std::uint64_t after, std::size_t limit, Reply reply) {
  auto shared_reply = std::make_shared<Reply>(std::move(reply));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, after, limit, shared_reply] {
    auto rows = impl->journal->movements_after(after, limit);
    if (!rows) {
      (*shared_reply)({500, ui::error_body(rows.error().code, rows.error().message)});
      return;
    }
    json list = json::array();
    std::uint64_t next = after;
    for (const auto& m : *rows) {
      list.push_back(wire::to_json(m));
      next = m.seq;
    }
    (*shared_reply)({200, {{"movements", std::move(list)}, {"next_after", next}}});
  });
  if (!queued) {
    impl->overloaded.fetch_add(1, std::memory_order_relaxed);
    (*shared_reply)({503, ui::error_body("overloaded", "the journal is busy or stopping; try again")});
  }
}

void Engine::metrics(std::function<void(std::string)> reply) { reply(impl_->metrics_text()); }

void Engine::store_master_data(std::string kind, std::int64_t version, std::string payload,
                               std::function<void(Result<void>)> done) {
  auto shared_done = std::make_shared<std::function<void(Result<void>)>>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, kind = std::move(kind), version, payload = std::move(payload), shared_done] {
    (*shared_done)(impl->store_master_data(kind, version, payload));
  });
  if (!queued) (*shared_done)(make_error("overloaded", "the journal is busy or stopping"));
}

edge::OutboxState Engine::outbox_state() const { return impl_->outbox_state(); }

void Engine::read_outbox(std::uint64_t after, std::size_t limit,
                         std::function<void(Result<std::vector<edge::OutboxItem>>)> done) {
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, after, limit, shared_done] {
    // The stored canonical text as is (no parse, no re-serialisation), with
    // its hash-chain members added (docs/PROTOCOL.md "Hash chain").
    auto rows = impl->journal->movement_texts_after(after, limit);
    if (!rows) {
      (*shared_done)(rows.error());
      return;
    }
    std::vector<edge::OutboxItem> items;
    items.reserve(rows->size());
    for (const auto& m : *rows) {
      edge::OutboxItem item;
      item.seq = m.seq;
      item.wall_time_ms = m.wall_time_ms;
      item.json.reserve(m.payload.size() + 2 * m.hash.size() + 32);
      wire::append_chained(item.json, m.payload, m.prev_hash, m.hash);
      items.push_back(std::move(item));
    }
    (*shared_done)(std::move(items));
  });
  if (!queued) (*shared_done)(make_error("overloaded", "the journal is busy or stopping"));
}

void Engine::record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) {
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, applied_through, shared_done] {
    auto r = impl->journal->set_acked(applied_through);
    if (r) impl->refresh_view();
    (*shared_done)(std::move(r));
  });
  if (!queued) (*shared_done)(make_error("overloaded", "the journal is busy or stopping"));
}

void Engine::read_exceptions(std::int64_t after, std::size_t limit,
                             std::function<void(Result<std::vector<edge::ExceptionItem>>)> done) {
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, after, limit, shared_done] {
    // The stored text as is, with "id" and "seq" added: the ledger judges
    // each element (a bad one becomes its rejected_device_exception).
    auto rows = impl->journal->exception_texts_after(after, limit);
    if (!rows) {
      (*shared_done)(rows.error());
      return;
    }
    std::vector<edge::ExceptionItem> items;
    items.reserve(rows->size());
    for (auto& x : *rows) {
      std::string element = std::move(x.payload);
      element.pop_back();  // the closing brace
      element += (element.size() > 1 ? R"(,"id":)" : R"("id":)") + std::to_string(x.id) + R"(,"seq":)" +
                 (x.seq ? std::to_string(*x.seq) : std::string("null")) + "}";
      items.push_back({x.id, std::move(element)});
    }
    (*shared_done)(std::move(items));
  });
  if (!queued) (*shared_done)(make_error("overloaded", "the journal is busy or stopping"));
}

void Engine::record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) {
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  Impl* impl = impl_.get();
  const bool queued = impl->enqueue([impl, through, shared_done] {
    auto r = impl->journal->set_exceptions_acked(through);
    if (r) impl->refresh_view();
    (*shared_done)(std::move(r));
  });
  if (!queued) (*shared_done)(make_error("overloaded", "the journal is busy or stopping"));
}

void Engine::probe(std::function<void()> alive) {
  impl_->enqueue([alive = std::move(alive)] { alive(); }, /*past_limit=*/true);
}

void Engine::set_append_listener(std::function<void(edge::OutboxState)> listener) {
  std::lock_guard lock(impl_->hooks_mutex);
  impl_->append_listener = std::move(listener);
}

void Engine::set_sync_report(SyncReport report) {
  std::lock_guard lock(impl_->hooks_mutex);
  impl_->sync_report = std::move(report);
}

void Engine::stop() {
  if (frames_) frames_->stop();  // first: its queued frames still submit scans
  impl_->stop();
}

}  // namespace tally::device
