#include "tally/device/engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "tally/scanner/label.hpp"
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
  scanner::Session session;                           // worker thread only (after open)
  std::shared_ptr<const scanner::MasterData> master;  // worker thread only

  // What status() shows without queueing behind appends. Updated by the
  // worker; the journal's own counters are the worker's status().
  struct View {
    std::string operator_id;
    std::string mode;
    std::string prompt;
    std::string last_error;
    json tasks = json::array();  // the task list with progress (status "tasks")
    json allowances = nullptr;   // {"version","grants"} once the ledger grants allowances
  };
  mutable std::mutex view_mutex;
  View view;  // GUARDED_BY(view_mutex)

  // Metrics (relaxed atomics: monotonic counters read for /metrics).
  std::atomic<std::uint64_t> scans_accepted{0}, scans_refused{0}, movements_recorded{0};
  std::atomic<std::uint64_t> journal_errors{0}, overloaded{0};
  std::atomic<std::uint64_t> append_us_sum{0}, append_count{0};

  // Sync client additions to status and metrics.
  mutable std::mutex hooks_mutex;
  SyncReport sync_report;  // GUARDED_BY(hooks_mutex)

  // Pick allowances (docs/PROTOCOL.md "Pick allowances"): the units this
  // device picked under each grant (by id) since its basis_seq, counted from
  // the journal the first time a pick needs it, then kept up to date by
  // handle_scan. Cleared when a new allowances version is stored.
  std::map<std::string, std::int64_t> allowance_used;  // worker thread only

  // The journal on its worker thread; last, so it stops (its queue drained)
  // before anything its jobs use goes away.
  std::unique_ptr<journal::Worker> worker;

  Impl(EngineOptions o, std::unique_ptr<journal::Journal> journal, scanner::Session s)
      : options(std::move(o)), session(std::move(s)) {
    if (auto r = load_master_data(*journal); !r) {
      view.last_error = "stored master data ignored: " + r.error().message;
    }
    refresh_view();
    worker = std::make_unique<journal::Worker>(std::move(journal), options.queue_max);
    worker->set_master_data_handler(
        [this](journal::Journal& j, const std::string& kind, std::int64_t version, const std::string& text) {
          return store_master_data(j, kind, version, text);
        });
  }

  // Parses every stored master-data kind (before the worker starts). A
  // stored version that no longer parses is skipped with a log line: the
  // device keeps working without it rather than refusing to start.
  Result<void> load_master_data(const journal::Journal& j) {
    auto data = std::make_shared<scanner::MasterData>();
    for (const char* kind : {"catalog", "locations", "tasks", "allowances"}) {
      const auto stored = j.master_data(kind);
      if (!stored) continue;
      const json parsed = json::parse(stored->second, nullptr, /*allow_exceptions=*/false);
      if (auto r = scanner::apply_master_data(kind, parsed, *data); !r) return r;
    }
    master = data;
    session.set_master_data(master);
    return {};
  }

  // Worker thread (the journal worker's master-data handler): checks and
  // applies a version, stores it, hands it to the session.
  Result<void> store_master_data(journal::Journal& j, const std::string& kind, std::int64_t version,
                                 const std::string& payload) {
    if (!scanner::is_master_data_kind(kind)) {
      return make_error("bad_master_data", "unknown master data kind '" + kind + "'");
    }
    if (const auto stored = j.master_data(kind); stored && stored->first >= version) return {};
    auto next = std::make_shared<scanner::MasterData>(master ? *master : scanner::MasterData{});
    const json parsed = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (auto r = scanner::apply_master_data(kind, parsed, *next); !r) return r;
    if (auto r = j.put_master_data(kind, version, payload); !r) return r;
    master = std::move(next);
    session.set_master_data(master);
    if (kind == "allowances") allowance_used.clear();
    refresh_view();  // the task list in the status
    return {};
  }

  void refresh_view() {
    View v;
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

  void set_last_error(const Error& e) {
    std::lock_guard lock(view_mutex);
    view.last_error = e.code + ": " + e.message;
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

  // Queues a job on the journal worker; false (and counted) when the queue
  // is full or the engine is stopping.
  bool enqueue(std::function<void(journal::Journal&)> job) {
    if (worker->post(std::move(job))) return true;
    overloaded.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // Worker thread: this device's picks under `a` journaled so far (see allowance_used).
  Result<std::int64_t> allowance_used_of(const journal::Journal& j, const scanner::Allowance& a) {
    if (const auto it = allowance_used.find(a.id); it != allowance_used.end()) return it->second;
    constexpr std::size_t kPage = 1000;
    std::int64_t used = 0;
    for (std::uint64_t after = a.basis_seq;;) {
      auto rows = j.movements_after(after, kPage);
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
  ui::ScanReply handle_scan(journal::Journal& j, const ui::ScanRequest& request, std::int64_t time_ms) {
    scanner::Session next = session;
    ui::ScanReply reply;
    reply.outcome = next.handle(scanner::Scan{request.text, request.symbology, request.source, time_ms});
    if (!reply.outcome.accepted()) return refuse(j, request, std::move(reply), time_ms);

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

    auto allowance = escrow(j, reply, entry, next.mode(), time_ms);
    if (!allowance) {
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      return ui::ScanReply::failure(allowance.error(), session.prompt());
    }

    const auto started = std::chrono::steady_clock::now();
    auto appended = j.append(entry);
    const auto took = std::chrono::steady_clock::now() - started;
    append_us_sum.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
        std::memory_order_relaxed);
    append_count.fetch_add(1, std::memory_order_relaxed);

    if (!appended) {
      // Nothing was written: keep the old session and say so loudly.
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      set_last_error(appended.error());
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
  ui::ScanReply refuse(journal::Journal& j, const ui::ScanRequest& request, ui::ScanReply reply,
                       std::int64_t time_ms) {
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
    auto r = j.append(refused);
    reply.exception_recorded = r.ok();
    if (!r) {
      journal_errors.fetch_add(1, std::memory_order_relaxed);
      set_last_error(r.error());
    }
    return reply;
  }

  // Worker thread. Escrow: the allowance this pick counts against, fed to
  // scanner::escrow with the device's journaled use; a pick beyond it gets
  // its allowance_exceeded exception in the same transaction (`entry`,
  // `reply`). nullopt when no allowance applies; an error when the
  // journaled picks cannot be read.
  Result<std::optional<scanner::AllowanceUse>> escrow(const journal::Journal& j, ui::ScanReply& reply,
                                                      journal::Entry& entry, const std::string& mode,
                                                      std::int64_t time_ms) {
    const auto& movement = reply.outcome.movement;
    if (!movement || !master || !scanner::allowance_applies(*master, *movement)) {
      return std::optional<scanner::AllowanceUse>();
    }
    std::int64_t used = 0;
    if (const auto* grant = master->find_allowance(movement->item.id(), movement->item.lot,
                                                   movement->from.location.code)) {
      auto u = allowance_used_of(j, *grant);
      if (!u) return u.error();
      used = *u;
    }
    auto decided = scanner::escrow(*master, reply.outcome, used, mode, time_ms);
    if (decided.exception) {
      entry.scan.feedback = std::string(scanner::to_string(reply.outcome.feedback));
      if (entry.exception) {
        entry.more_exceptions.push_back(*decided.exception);
        reply.more_exceptions.push_back(std::move(*decided.exception));
      } else {
        entry.exception = decided.exception;
        reply.outcome.exception = std::move(decided.exception);
      }
    }
    return std::optional(decided.use);
  }

  json status_body() const {
    const journal::Status js = worker->status();
    std::lock_guard lock(view_mutex);
    json j = {{"device", options.journal.device},
              {"site", options.journal.site},
              {"version", options.version},
              {"operator", view.operator_id},
              {"mode", view.mode},
              {"prompt", view.prompt},
              {"journal",
               {{"last_seq", js.last_seq},
                {"acked_seq", js.acked_seq},
                {"pending", js.pending},
                {"scans", js.scans},
                {"exceptions",
                 {{"last_id", js.last_exception_id},
                  {"acked_id", js.exceptions_acked},
                  {"pending", js.last_exception_id - js.exceptions_acked}}},
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
    const std::size_t depth = worker->queued();
    const journal::Status js = worker->status();
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
    gauge("tally_queue_depth_max", "Highest queue depth seen.", worker->depth_max());
    gauge("tally_journal_last_seq", "Highest movement seq written.", js.last_seq);
    gauge("tally_journal_acked_seq", "Highest seq acknowledged by the ledger.", js.acked_seq);
    gauge("tally_journal_pending", "Movements not yet acknowledged.", js.pending);
    gauge("tally_device_exceptions_pending", "Device exceptions not yet acknowledged by the ledger.",
          static_cast<std::uint64_t>(js.last_exception_id - js.exceptions_acked));
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
  // One job: the session's step, the escrow check and the append (one transaction).
  const bool queued = impl->enqueue([impl, request = std::move(request), time_ms, shared_done](journal::Journal& j) {
    auto answer = impl->handle_scan(j, request, time_ms);
    impl->worker->publish();  // the status shows the scan before its reply
    (*shared_done)(std::move(answer));
  });
  if (!queued) {
    (*shared_done)(ui::ScanReply::failure(make_error("overloaded", "the journal is busy or stopping; scan again")));
  }
}

void Engine::status(Reply reply) { reply({200, impl_->status_body()}); }

void Engine::movements(std::uint64_t after, std::size_t limit, Reply reply) {
  auto shared_reply = std::make_shared<Reply>(std::move(reply));
  const bool queued = impl_->enqueue([after, limit, shared_reply](journal::Journal& j) {
    auto rows = j.movements_after(after, limit);
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
  if (!queued) (*shared_reply)({503, ui::error_body("overloaded", "the journal is busy or stopping; try again")});
}

void Engine::metrics(std::function<void(std::string)> reply) { reply(impl_->metrics_text()); }

journal::Worker& Engine::journal_worker() { return *impl_->worker; }

void Engine::set_sync_report(SyncReport report) {
  std::lock_guard lock(impl_->hooks_mutex);
  impl_->sync_report = std::move(report);
}

void Engine::stop() {
  if (frames_) frames_->stop();  // first: its queued frames still submit scans
  impl_->worker->stop();
}

}  // namespace tally::device
