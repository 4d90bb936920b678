// Engine::submit_frame: decode an image in the DecodeWorker child on the
// frame thread, then submit each symbol as a scan. See engine.hpp.
#include "engine_frames.hpp"

#include <future>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "tally/scanner/self_test.hpp"

namespace tally::device {
namespace {

using nlohmann::json;

constexpr std::size_t kScanTextMax = 4096;  // as POST /api/v1/scans

unsigned status_for_decode_error(const std::string& code) {
  if (code == "not_an_image") return 400;
  if (code == "image_too_large" || code == "frame_too_large") return 413;
  if (code == "decoder_crashed") return 422;
  if (code == "decode_timeout") return 503;
  return 500;
}

json symbol_json(const scanner::Symbol& s) {
  json position = json::array();
  for (const auto& p : s.position) position.push_back({p.x, p.y});
  return {{"format", s.format}, {"text", s.text}, {"aim_id", s.aim_id}, {"position", std::move(position)}};
}

}  // namespace

std::optional<ui::ApiReply> self_test_reply(const ui::ScanRequest& request) {
  if (!scanner::is_self_test(request.text)) return std::nullopt;
  const scanner::SelfTestReport r = scanner::diagnose_self_test(request.text);
  json issues = json::array();
  std::string message = r.summary;
  for (const auto& i : r.issues) {
    issues.push_back({{"code", i.code}, {"severity", i.severity}, {"problem", i.problem}, {"fix", i.fix}});
    if (i.severity != "info") message += "\n- " + i.problem + ". Fix: " + i.fix;
  }
  json body = {{"feedback", "self_test"},
               {"code", r.ok ? "self_test_ok" : "self_test_failed"},
               {"message", message},
               {"self_test", {{"ok", r.ok}, {"summary", r.summary}, {"issues", std::move(issues)}}}};
  return ui::ApiReply{200, std::move(body)};
}

Engine::Frames::Frames(Engine& engine, std::shared_ptr<DecodeWorker> decoder, scanner::DecodeOptions options,
                       std::size_t queue_max)
    : engine_(engine), decoder_(std::move(decoder)), options_(options), queue_("frame decoder", queue_max) {}

Engine::Frames::~Frames() { stop(); }

bool Engine::Frames::submit(ui::FrameRequest request, Reply reply) {
  auto shared = std::make_shared<std::pair<ui::FrameRequest, Reply>>(std::move(request), std::move(reply));
  return queue_.post([this, shared] {
    ui::ApiReply answer;
    try {
      answer = process(shared->first);
    } catch (const std::exception& e) {
      answer = {500, ui::error_body("internal", e.what())};
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

ui::ApiReply Engine::Frames::process(const ui::FrameRequest& request) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(request.body.data());
  auto decoded = decoder_->decode_image(std::span<const std::uint8_t>(bytes, request.body.size()), options_);
  if (!decoded) {
    return {status_for_decode_error(decoded.error().code),
            ui::error_body(decoded.error().code, decoded.error().message)};
  }
  json symbols = json::array();
  json scans = json::array();
  unsigned status = 200;
  for (const scanner::Symbol& s : *decoded) {
    symbols.push_back(symbol_json(s));
    ui::ScanRequest scan{s.aim_id + s.text, s.aim_id, request.source};
    json entry = {{"text", scan.text}, {"symbology", scan.symbology}};
    if (status >= 500) {
      entry["status"] = nullptr;
      entry["result"] = ui::error_body("not_processed", "skipped after an earlier scan of this frame failed");
    } else if (scan.text.size() > kScanTextMax) {
      entry["status"] = 400;
      entry["result"] = ui::error_body("bad_request", "symbol text longer than 4096 bytes: not submitted");
    } else {
      // The scan takes the same path as any other (the engine's queue); this
      // thread waits for it, so the frame's symbols are journaled in order.
      auto promise = std::make_shared<std::promise<ui::ApiReply>>();
      auto future = promise->get_future();
      engine_.submit_scan(std::move(scan), [promise](ui::ApiReply r) { promise->set_value(std::move(r)); });
      ui::ApiReply r = future.get();
      if (r.status >= 500) {
        status = r.status;
      } else if (r.status == 201 && status == 200) {
        status = 201;
      }
      entry["status"] = r.status;
      entry["result"] = std::move(r.body);
    }
    scans.push_back(std::move(entry));
  }
  json body = {{"found", symbols.size()}, {"symbols", std::move(symbols)}, {"scans", std::move(scans)}};
  if (status >= 500) {
    // The body of a 5xx must say what went wrong at the top level too.
    for (const auto& e : body["scans"]) {
      if (e["status"].is_number() && e["status"].get<unsigned>() >= 500 && e["result"].contains("error")) {
        body["error"] = e["result"]["error"];
        break;
      }
    }
  }
  return {status, std::move(body)};
}

void Engine::submit_frame(ui::FrameRequest request, Reply reply) {
  if (!frames_) {
    reply({501, ui::error_body("not_supported", "frame decoding is not enabled on this device")});
    return;
  }
  auto shared_reply = std::make_shared<Reply>(std::move(reply));
  if (!frames_->submit(std::move(request), [shared_reply](ui::ApiReply r) { (*shared_reply)(std::move(r)); })) {
    (*shared_reply)({503, ui::error_body("overloaded", "frames are queued or the device is stopping; try again")});
  }
}

bool Engine::decode_frame(CapturedFrame frame, DecodeDone done) {
  return frames_ && frames_->submit(std::move(frame), std::move(done));
}

}  // namespace tally::device
