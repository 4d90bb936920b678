// What became of one scan, and of one frame, as typed values: the device
// (tallyd's Engine) builds them, ui/device_routes turns them into HTTP status
// codes and JSON, the feedback (beeper, LEDs, scanner outputs) chooses its
// pattern from them, and tallyd's local inputs print them. Nothing parses a
// reply back from JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tally/scanner/decode.hpp"
#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"
#include "tally/scanner/self_test.hpp"
#include "tally/scanner/session.hpp"

namespace tally::ui {

// A pick against the ledger's pick allowance (escrow, docs/PROTOCOL.md
// "Pick allowances"), as the reply reports it.
struct AllowanceReport {
  std::optional<std::string> id;  // the grant; nullopt: no grant for the pick's key
  std::int64_t granted = 0;
  std::int64_t remaining = 0;  // after this pick
  std::int64_t expires_ms = 0;
  bool exceeded = false;  // recorded all the same, with an allowance_exceeded exception
};

struct ScanReply {
  enum class Kind : std::uint8_t {
    recorded,   // accepted and journaled with at least one movement (durable): HTTP 201
    accepted,   // accepted and journaled, no movement: 200
    refused,    // the session refused it; nothing changed (a revealed device exception may be journaled): 422
    self_test,  // the scanner self-test label: diagnosed, nothing journaled: 200
    failed,     // not handled: `error` says why (journal error, full disk, overloaded, too long)
  };
  Kind kind = Kind::failed;
  // What the session answered. For failed: only the prompt, when known.
  // Feedback and message include what the device added (a pick beyond its
  // allowance is a warning).
  scanner::Outcome outcome;
  std::string operator_id;  // the session's after the scan (refused: as it was)
  std::string mode;
  std::int64_t scan_id = 0;  // the journal's id of the scan (recorded, accepted)
  // The movements made durable, device, site, seq and hlc set: outcome's
  // `movement` first, then its `more_movements`.
  std::vector<scanner::Movement> recorded;
  // Device exceptions journaled beyond outcome.exception (an allowance
  // exceeded by a scan that revealed another exception too).
  std::vector<scanner::DeviceException> more_exceptions;
  // refused with outcome.exception: whether the scan and the exception were journaled.
  bool exception_recorded = false;
  std::optional<AllowanceReport> allowance;
  std::optional<Error> error;                      // failed
  std::optional<scanner::SelfTestReport> self_test;  // self_test

  // The highest seq made durable by this scan (0: none).
  std::uint64_t max_seq() const;
  static ScanReply failure(Error error, std::string prompt = {});
};

// POST /api/v1/frames: the symbols found and what became of each as a scan.
struct FrameReply {
  struct Scan {
    std::string text;       // AIM id + content, as submitted
    std::string symbology;  // the AIM id
    // nullopt: not submitted, skipped after an earlier scan of the frame failed.
    std::optional<ScanReply> reply;
  };
  std::optional<Error> error;  // the frame was not decoded (or decoding is off, or overloaded)
  std::vector<scanner::Symbol> symbols;
  std::vector<Scan> scans;

  std::uint64_t max_seq() const;
  static FrameReply failure(Error error);
};

}  // namespace tally::ui
