// The scan engine of tallyd: owns the workflow session and the journal, and
// serialises all work on them on one worker thread fed by a bounded queue,
// so the Asio thread never blocks on SQLite or fsync.
//
// A scan is handled as: session.handle() on a copy → if accepted, journal
// append (scan + movement + session snapshot, one transaction, fsync) →
// only then the copy becomes the session and the reply says "recorded".
// If the append fails, the session is left as it was and the reply is an
// error (507 on a full disk).
//
// Thread-safety: the DeviceApi methods may be called from any thread; their
// replies are invoked on the worker thread (or the caller's, for refusals).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/device/decode_worker.hpp"
#include "tally/edge/outbox.hpp"
#include "tally/journal/journal.hpp"
#include "tally/scanner/result.hpp"
#include "tally/scanner/session.hpp"
#include "tally/ui/device_api.hpp"

namespace tally::device {

struct EngineOptions {
  scanner::SessionOptions session;
  journal::Options journal;
  std::size_t queue_max = 256;
  std::string version = TALLY_VERSION;
  std::string mqtt_uri;  // shown in status until the edge client exists
  // POST /api/v1/frames: the decoder child process (created by the caller
  // before any thread starts: it forks); null = frames answered 501.
  std::shared_ptr<DecodeWorker> frame_decoder;
  scanner::DecodeOptions frame_decode;
  std::size_t frames_queue_max = 4;  // frames waiting to be decoded; more: 503
};

// What the sync client adds to /api/v1/status and /metrics (set by app.cpp).
struct SyncReport {
  // Fills status["broker"], status["last_ack"], status["lag"]; any thread.
  std::function<void(nlohmann::json& status)> status;
  // Extra Prometheus text appended to /metrics; any thread.
  std::function<std::string()> metrics;
};

class Engine final : public ui::DeviceApi, public edge::Outbox {
 public:
  // Opens the journal (blocking; call before the event loop serves) and
  // restores the session from its snapshot. Journal errors pass through
  // (journal_corrupt, journal_foreign_device, …); "bad_snapshot" if the
  // stored session cannot be restored.
  static Result<std::unique_ptr<Engine>> open(EngineOptions options);
  ~Engine() override;  // stop()s

  void submit_scan(ui::ScanRequest request, ScanDone done) override;
  void status(Reply reply) override;
  void movements(std::uint64_t after, std::size_t limit, Reply reply) override;
  void metrics(std::function<void(std::string)> reply) override;
  // Decodes on a dedicated frame thread (never the caller's, never the
  // journal worker), then submits each symbol like submit_scan() with text =
  // AIM id + content (what a scanner with AIM ids on sends), symbology = the
  // AIM id, source "frame", one after the other; after a scan that failed
  // the rest are skipped. A decode error (not_an_image, image_too_large,
  // decoder_crashed, decode_timeout, worker_error) or overloaded is the
  // reply's error.
  void submit_frame(ui::FrameRequest request, FrameDone done) override;

  // A camera frame (CameraScanner) decoded on the same frame thread and
  // DecodeWorker child as submit_frame(), in the same bounded queue
  // (frames_queue_max), but nothing is submitted: `done` gets the symbols
  // (or the decode error), on the frame thread. false (done not called)
  // when frame decoding is off, the queue is full or the engine is stopping.
  using DecodeDone = std::function<void(Result<std::vector<scanner::Symbol>>)>;
  bool decode_frame(CapturedFrame frame, DecodeDone done);

  // Stores one complete master-data version received from the ledger
  // ("catalog", "locations", "tasks") in the journal, atomically, and hands
  // the parsed form to the session. An older or equal version is ignored
  // (ok). Queued on the worker; `done` is called there with the result
  // ("bad_master_data", journal errors, "overloaded").
  void store_master_data(std::string kind, std::int64_t version, std::string payload,
                         std::function<void(Result<void>)> done) override;

  // edge::Outbox (the sync client's view of the journal). read_outbox and
  // record_ack are queued on the worker like scans (bounded work each, so
  // scans interleave with a draining backlog); the append listener is called
  // on the worker after each journaled movement.
  edge::OutboxState outbox_state() const override;
  void read_outbox(std::uint64_t after, std::size_t limit,
                   std::function<void(Result<std::vector<edge::OutboxItem>>)> done) override;
  void record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) override;
  void read_exceptions(std::int64_t after, std::size_t limit,
                       std::function<void(Result<std::vector<edge::ExceptionItem>>)> done) override;
  void record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) override;
  void set_append_listener(std::function<void(edge::OutboxState)> listener) override;

  // The watchdog's liveness check of the worker (tally::service::Watchdog):
  // queues a no-op behind the queued work, past queue_max (the watchdog has
  // one in flight at most); `alive` is called on the worker when it runs.
  // Dropped once stopping.
  void probe(std::function<void()> alive);

  // Sync client additions to status and metrics (set before serving).
  void set_sync_report(SyncReport report);

  // Refuses new work, finishes what is queued (the in-flight append
  // included) and joins the worker. Idempotent. Blocks: not on the Asio thread
  // while it still serves.
  void stop();

 private:
  struct Impl;
  struct Frames;  // engine_frames.cpp
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Frames> frames_;  // null without options.frame_decoder
};

}  // namespace tally::device
