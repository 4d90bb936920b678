// Engine::submit_frame: decode an image in the DecodeWorker child on the
// frame thread, then submit each symbol as a scan. See engine.hpp.
#include "engine_frames.hpp"

#include <future>
#include <span>
#include <string>

#include "tally/scanner/self_test.hpp"

namespace tally::device {
namespace {

constexpr std::size_t kScanTextMax = 4096;  // as POST /api/v1/scans

}  // namespace

std::optional<ui::ScanReply> self_test_reply(const ui::ScanRequest& request) {
  if (!scanner::is_self_test(request.text)) return std::nullopt;
  scanner::SelfTestReport r = scanner::diagnose_self_test(request.text);
  ui::ScanReply reply;
  reply.kind = ui::ScanReply::Kind::self_test;
  reply.outcome.feedback = r.ok ? scanner::Feedback::good : scanner::Feedback::warning;
  reply.outcome.code = r.ok ? "self_test_ok" : "self_test_failed";
  reply.outcome.message = r.summary;
  for (const auto& i : r.issues)
    if (i.severity != "info") reply.outcome.message += "\n- " + i.problem + ". Fix: " + i.fix;
  reply.self_test = std::move(r);
  return reply;
}

Engine::Frames::Frames(Engine& engine, std::shared_ptr<DecodeWorker> decoder, scanner::DecodeOptions options,
                       std::size_t queue_max)
    : engine_(engine), decoder_(std::move(decoder)), options_(options), queue_("frame decoder", queue_max) {}

Engine::Frames::~Frames() { stop(); }

bool Engine::Frames::submit(ui::FrameRequest request, FrameDone done) {
  auto shared = std::make_shared<std::pair<ui::FrameRequest, FrameDone>>(std::move(request), std::move(done));
  return queue_.post([this, shared] {
    ui::FrameReply answer;
    try {
      answer = process(shared->first);
    } catch (const std::exception& e) {
      answer = ui::FrameReply::failure(make_error("internal", e.what()));
    }
    shared->second(std::move(answer));
  });
}

bool Engine::Frames::submit(CapturedFrame frame, DecodeDone done) {
  auto shared = std::make_shared<std::pair<CapturedFrame, DecodeDone>>(std::move(frame), std::move(done));
  return queue_.post([this, shared] {
    Result<std::vector<scanner::Symbol>> r = make_error("internal", "not decoded");
    try {
      r = decode(shared->first);
    } catch (const std::exception& e) {
      r = make_error("internal", e.what());
    }
    shared->second(std::move(r));
  });
}

Result<std::vector<scanner::Symbol>> Engine::Frames::decode(const CapturedFrame& frame) {
  if (frame.jpeg) return decoder_->decode_image(frame.bytes, options_);
  const scanner::Frame view{frame.bytes.data(), frame.width, frame.height, frame.width, scanner::PixelFormat::grey};
  if (frame.bytes.size() != static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height)) {
    return make_error("bad_frame", "grey frame of " + std::to_string(frame.bytes.size()) + " bytes is not " +
                                       std::to_string(frame.width) + "x" + std::to_string(frame.height));
  }
  return decoder_->decode(view, options_);
}

void Engine::Frames::stop() { queue_.stop(); }

ui::FrameReply Engine::Frames::process(const ui::FrameRequest& request) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(request.body.data());
  auto decoded = decoder_->decode_image(std::span<const std::uint8_t>(bytes, request.body.size()), options_);
  if (!decoded) return ui::FrameReply::failure(decoded.error());
  ui::FrameReply reply;
  reply.symbols = std::move(*decoded);
  bool failed = false;  // a scan failed: the rest are skipped
  for (const scanner::Symbol& s : reply.symbols) {
    scanner::ScanData data = scanner::scan_data(s);  // as a handheld sends it
    ui::ScanRequest scan{data.aim_id + data.data, data.aim_id, request.source};
    ui::FrameReply::Scan entry{scan.text, scan.symbology, std::nullopt};
    if (failed) {
      // skipped: entry.reply stays empty
    } else if (scan.text.size() > kScanTextMax) {
      entry.reply = ui::ScanReply::failure(make_error("bad_request", "symbol text longer than 4096 bytes: not submitted"));
    } else {
      // The scan takes the same path as any other (the engine's queue); this
      // thread waits for it, so the frame's symbols are journaled in order.
      auto promise = std::make_shared<std::promise<ui::ScanReply>>();
      auto future = promise->get_future();
      engine_.submit_scan(std::move(scan), [promise](ui::ScanReply r) { promise->set_value(std::move(r)); });
      entry.reply = future.get();
      // Not handled (journal error, full disk, overloaded): the frame stops here.
      failed = entry.reply->kind == ui::ScanReply::Kind::failed;
    }
    reply.scans.push_back(std::move(entry));
  }
  return reply;
}

void Engine::submit_frame(ui::FrameRequest request, FrameDone done) {
  if (!frames_) {
    done(ui::FrameReply::failure(make_error("not_supported", "frame decoding is not enabled on this device")));
    return;
  }
  auto shared_done = std::make_shared<FrameDone>(std::move(done));
  if (!frames_->submit(std::move(request), [shared_done](ui::FrameReply r) { (*shared_done)(std::move(r)); })) {
    (*shared_done)(
        ui::FrameReply::failure(make_error("overloaded", "frames are queued or the device is stopping; try again")));
  }
}

bool Engine::decode_frame(CapturedFrame frame, DecodeDone done) {
  return frames_ && frames_->submit(std::move(frame), std::move(done));
}

}  // namespace tally::device
