// The HTTP face of tallyd's typed replies (scan_reply.hpp): their status
// codes and JSON bodies, docs/UI.md "The device API". Used by the HTTP
// server's device routes, and by tests and tools that want a reply as the
// API shows it.
#pragma once

#include "tally/scanner/result.hpp"
#include "tally/ui/device_api.hpp"
#include "tally/ui/scan_reply.hpp"

namespace tally::ui {

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
