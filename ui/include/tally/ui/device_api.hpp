// What the tallyd HTTP API needs from the device: the seam between ui/
// (which owns no state) and firmware-host/ (which owns the session and the
// journal). Implemented by tally::device::Engine; tests may implement it.
//
// Every call is asynchronous: it returns at once and invokes its callback
// exactly once, from any thread. The HTTP server posts the callback back to
// the connection's executor, so implementations need not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tally/ui/scan_reply.hpp"

namespace tally::ui {

struct ApiReply {
  unsigned status = 200;  // HTTP status
  nlohmann::json body;    // errors: {"error":{"code","message"}}
};

struct ScanRequest {
  std::string text;
  std::string symbology;  // optional
  std::string source = "http";
};

inline nlohmann::json error_body(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

// POST /api/v1/frames: an encoded image (the HTTP layer has checked the
// Content-Type, the size limit and the PNG/JPEG signature).
struct FrameRequest {
  std::string content_type;  // "image/png" or "image/jpeg"
  std::string body;          // the encoded bytes
  std::string source = "frame";
};

class DeviceApi {
 public:
  using Reply = std::function<void(ApiReply)>;
  using ScanDone = std::function<void(ScanReply)>;
  using FrameDone = std::function<void(FrameReply)>;
  virtual ~DeviceApi() = default;

  // The path every scan takes, whatever its input (HTTP, stdin, USB, serial,
  // camera). recorded/accepted only after what it changed is durable;
  // refused: nothing changed; failed: overloaded, journal error, full disk.
  // ui/device_routes.hpp shows it as HTTP.
  virtual void submit_scan(ScanRequest request, ScanDone done) = 0;
  // GET /api/v1/status body.
  virtual void status(Reply reply) = 0;
  // GET /api/v1/movements body: {"movements":[…],"next_after":N}.
  virtual void movements(std::uint64_t after, std::size_t limit, Reply reply) = 0;
  // GET /metrics: Prometheus text exposition.
  virtual void metrics(std::function<void(std::string)> reply) = 0;
  // POST /api/v1/frames: decode the image and submit each symbol found as a
  // scan (in frame order), then answer with the symbols and each scan's
  // reply. Must not block the caller (decoding takes up to seconds).
  // Default: not_supported, for DeviceApi implementations without a decoder.
  virtual void submit_frame(FrameRequest request, FrameDone done) {
    (void)request;
    done(FrameReply::failure(make_error("not_supported", "this device does not decode frames")));
  }
  // POST /api/v1/cameras/{id}/trigger: opens a trigger window on a camera
  // scanner in trigger mode, as its trigger key does (202). 404 for an id
  // that is not a camera, 409 for a camera in continuous mode, 503 while the
  // camera is not streaming. Default: 404 (no cameras).
  virtual void trigger_camera(std::string id, Reply reply) {
    reply({404, error_body("unknown_camera", "no camera scanner '" + id + "' is configured")});
  }
};

// A DeviceApi that passes every call on to `inner`: the base of the
// decorators that change one or two calls (tallyd's feedback, its camera
// trigger), so none of them repeats the forwarding of the others.
class ForwardingDeviceApi : public DeviceApi {
 public:
  explicit ForwardingDeviceApi(DeviceApi& inner) : inner_(inner) {}
  void submit_scan(ScanRequest request, ScanDone done) override {
    inner_.submit_scan(std::move(request), std::move(done));
  }
  void status(Reply reply) override { inner_.status(std::move(reply)); }
  void movements(std::uint64_t after, std::size_t limit, Reply reply) override {
    inner_.movements(after, limit, std::move(reply));
  }
  void metrics(std::function<void(std::string)> reply) override { inner_.metrics(std::move(reply)); }
  void submit_frame(FrameRequest request, FrameDone done) override {
    inner_.submit_frame(std::move(request), std::move(done));
  }
  void trigger_camera(std::string id, Reply reply) override { inner_.trigger_camera(std::move(id), std::move(reply)); }

 protected:
  DeviceApi& inner() { return inner_; }

 private:
  DeviceApi& inner_;
};

}  // namespace tally::ui
