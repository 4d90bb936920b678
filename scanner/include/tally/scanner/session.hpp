// The scan workflow of one device: an operator signs in with a badge, picks
// a mode with a command label and scans; the session answers every scan with
// feedback and the next prompt and, when a step completes, a Movement.
//
// Pure state machine, no I/O and no clock of its own: the caller passes the
// scan time in. A session is a copyable value so the caller can keep the old
// state and roll back when journaling the outcome fails. Its state
// serialises to JSON (snapshot/restore) so an unfinished step survives a
// crash: the journal stores the snapshot in the same transaction as the scan.
//
// Workflows (move, putaway, blind receipt), their prompts and outcome codes:
// docs/DOMAIN.md. In receive mode a different item while a line is open
// commits the open line (that outcome carries its receipt) and starts a new
// line of 1 for the new item.
//
// Thread-compatible: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/master_data.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner {

struct Scan {
  std::string text;
  std::string symbology;  // AIM id or format name when the reader knows it
  std::string source;     // "stdin", "http", "usb:…"
  std::int64_t time_ms = 0;
};

enum class Feedback : std::uint8_t {
  good,     // accepted; with a movement: recorded (durable once journaled)
  warning,  // accepted, but the operator should look (e.g. unexpected item)
  error,    // refused; the session did not change
};
std::string_view to_string(Feedback f);

struct Outcome {
  Feedback feedback = Feedback::error;
  std::string code;                  // stable, e.g. "scan_bin", "movement_recorded", "no_operator"
  std::string message;               // what happened, for the operator
  std::string prompt;                // what to scan next
  std::optional<Movement> movement;  // completed by this scan (seq/hlc unset)

  // The scan changed the session (or made a movement) and must be journaled.
  bool accepted() const { return feedback != Feedback::error; }
};

struct SessionOptions {
  std::string device;  // stamped on every movement
  std::string site;
  // Where blind receipts land (state inbound) when no dock is scanned.
  std::string receiving_location = "DOCK-1";
};

class Session {
 public:
  explicit Session(SessionOptions options);

  // Handles one scan. On error the session is unchanged.
  Outcome handle(const Scan& scan);

  const std::string& operator_id() const;  // empty when signed out
  std::string mode() const;                // "idle", "move", "receive", …
  std::string prompt() const;              // what the session waits for

  // The master data the workflows check against (catalog, locations,
  // tasks). Shared and immutable; the engine swaps in a new one when a new
  // version is stored. Null means none yet.
  void set_master_data(std::shared_ptr<const MasterData> data);

  // Serialisable state (operator, mode, the open step and its evidence).
  nlohmann::json snapshot() const;
  // Error code: "bad_snapshot".
  static Result<Session> restore(SessionOptions options, const nlohmann::json& snapshot);

 private:
  struct Impl;  // the step machines (session.cpp)
  friend struct Impl;

  enum class Mode : std::uint8_t { idle, move, putaway, receive };

  // Receipt-level context (receive mode); outlives the lines of a receipt.
  struct Context {
    std::string reference;         // PO:/ASN: scanned for the receipt
    std::optional<Location> dock;  // scanned dock; options.receiving_location if none
    bool operator==(const Context&) const = default;
  };

  SessionOptions options_;
  std::shared_ptr<const MasterData> master_;
  std::string operator_;
  Mode mode_ = Mode::idle;
  // The open step is `evidence_` (its effective scans, in order) applied on
  // top of `base_` (the context when the step began). Everything below is
  // derived from those two: undo and restore() replay them.
  Context base_;
  std::vector<std::string> evidence_;
  Context ctx_;
  std::optional<Location> from_;  // move/putaway: source
  std::optional<Item> item_;      // set exactly when qty_ > 0
  std::int64_t qty_ = 0;
  std::string reason_;
};

}  // namespace tally::scanner
