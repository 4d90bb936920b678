// tallyd's HTTP routes over a DeviceApi, and the HTTP face of its typed
// replies (scan_reply.hpp): status codes and JSON bodies. HttpServer serves
// the router for tallyd; tests and tools use scan_response to see a reply as
// the API shows it.
#pragma once

#include <cstddef>
#include <memory>

#include "tally/scanner/result.hpp"
#include "tally/ui/device_api.hpp"
#include "tally/ui/router.hpp"
#include "tally/ui/scan_reply.hpp"

namespace tally::ui {

// GET / (the handheld UI and its assets), POST /api/v1/scans, POST
// /api/v1/frames, GET /api/v1/status, GET /api/v1/movements?after&limit
// (limit clamped to movements_limit_max), GET /metrics, POST
// /api/v1/cameras/{id}/trigger. Malformed requests get a 4xx JSON error
// and never reach `api`. Scans, frames and triggers answer with
// state_changed (the server tells its WebSocket listeners).
std::unique_ptr<Router> make_device_router(DeviceApi& api, std::size_t movements_limit_max);

// 201 recorded, 200 accepted or self-test, 422 refused, a failure by its
// error code (status_for_error).
ApiReply scan_response(const ScanReply& reply);
// 201 if a scan recorded a movement, else 200 (nothing found included); the
// first 5xx of a scan (the scans after it are skipped); a frame not decoded
// by its error code.
ApiReply frame_response(const FrameReply& reply);
// disk_full 507, overloaded / decode_timeout 503, not_supported 501,
// bad_request / not_an_image 400, image_too_large / frame_too_large 413,
// decoder_crashed 422, anything else 500.
unsigned status_for_error(const Error& e);

}  // namespace tally::ui
