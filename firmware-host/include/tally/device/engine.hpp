// The scan engine of tallyd: owns the workflow session and the journal's
// worker (tally::journal::Worker: one thread, a bounded queue), and posts
// each scan there as one job, so the Asio thread never blocks on SQLite or
// fsync. The worker is also the sync client's Outbox (journal_worker()).
//
// A scan is handled as: session.handle() on a copy → the escrow decision
// (scanner::escrow, fed the device's journaled picks) → if accepted, journal
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
#include "tally/journal/journal.hpp"
#include "tally/journal/worker.hpp"
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

class Engine final : public ui::DeviceApi {
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

  // The journal's worker: the sync client's Outbox, the watchdog's probe
  // (post a no-op past the limit) and the journal status. Master data it
  // stores ("catalog", "locations", "tasks", "allowances") is checked and
  // handed to the session on the worker first ("bad_master_data"); an older
  // or equal version is ignored (ok).
  journal::Worker& journal_worker();

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
