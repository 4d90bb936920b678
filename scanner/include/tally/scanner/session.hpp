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
// Workflows (move, putaway, blind receipt, pick, damage, hold, release,
// return, count), their prompts and outcome codes: docs/DOMAIN.md and
// docs/WORKFLOWS.md. Quantity per item scan: GS1 (37)/(30) count when the
// scan has one, else the catalog's pack_size (> 1) for the scanned id, else
// 1. A pack size applied is recorded with the step (snapshot "pack_units")
// so undo and restore replay it without master data. A scan the label
// grammar does not own (unknown_label) that is a SKU of the catalog is an
// item with that SKU (and the catalog's GTIN, if it has one), recorded the
// same way (snapshot "catalog_skus"). In receive mode a different item while a line is open
// commits the open line (that outcome carries its receipt) and starts a new
// line of 1 for the new item.
//
// Thread-compatible: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/master_data.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner {

struct Scan {
  std::string text;
  // AIM id or format name when the reader knows it. An AIM id split off the
  // text ("]E0" + "01234565") is read with it again (a UPC-E, not a GTIN-8).
  std::string symbology;
  std::string source;     // "stdin", "http", "usb:…"
  std::int64_t time_ms = 0;
};

enum class Feedback : std::uint8_t {
  good,     // accepted; with a movement: recorded (durable once journaled)
  warning,  // accepted, but the operator should look (e.g. unexpected item)
  error,    // refused; the session did not change
};
std::string_view to_string(Feedback f);

// A device-side exception: something the operator did that does not match
// what the device expected (wrong bin, wrong item, expired lot, unknown
// item, short pick). It is recorded, with the raw scan as evidence, whether
// the scan was refused (wrong bin/item/lot: the session is unchanged) or
// accepted with a warning (unknown item, short pick). The engine journals it.
struct DeviceException {
  // "wrong_bin", "wrong_item", "wrong_lot", "expired_lot", "unknown_item", "short_pick",
  // "unexpected_item", "over_receipt", "under_receipt", "not_suggested_bin",
  // "allowance_exceeded" (a pick beyond the ledger's allowance; the engine adds it)
  std::string kind;
  std::string operator_id;  // who scanned
  std::string mode;         // session mode, e.g. "pick"
  std::string expected;     // what the device expected (bin, item id, lot, "5 x <item>")
  std::string scanned;      // what was scanned or done ("2 x <item>" for a short pick)
  std::vector<std::string> evidence;  // the raw scan(s); for a short pick the line's scans
  std::int64_t time_ms = 0;
  std::string task;    // "TASK:17/1" when it happened on a task line, else empty
  std::string reason;  // reason code given (short pick), else empty

  bool operator==(const DeviceException&) const = default;
};

struct Outcome {
  Feedback feedback = Feedback::error;
  std::string code;                  // stable, e.g. "scan_bin", "movement_recorded", "no_operator"
  std::string message;               // what happened, for the operator
  std::string prompt;                // what to scan next
  std::optional<Movement> movement;  // completed by this scan (seq/hlc unset)
  // Further movements the same scan completed, after `movement` (a pallet
  // SSCC received against an ASN: one receipt per line on the pallet).
  std::vector<Movement> more_movements;
  // Set when the scan revealed a device-side exception. May come with an
  // error (refused scan; journal the scan and the exception, nothing else)
  // or with a warning (accepted).
  std::optional<DeviceException> exception;

  // The scan changed the session (or made a movement) and must be journaled.
  bool accepted() const { return feedback != Feedback::error; }
};

// The reason codes of a site that configures none ([session] reason_codes in
// tallyd.toml): what damage, hold, release, return and short picks accept,
// and what `tally labels --commands` prints by default.
const std::vector<std::string>& default_reason_codes();

struct SessionOptions {
  std::string device;  // stamped on every movement
  std::string site;
  // Where blind receipts land (state inbound) when no dock is scanned.
  std::string receiving_location = "DOCK-1";
  // Reason codes accepted by damage, hold, release, return and short picks
  // (upper case). Empty: any code. Move and receive take any code.
  std::vector<std::string> reason_codes = default_reason_codes();
  // Signs the operator out when a scan comes more than this long after the
  // previous accepted one (scan times, ms); the open step is dropped and the
  // answer says so. 0: never.
  std::int64_t idle_timeout_ms = 0;
  // After a badge the operator must scan `PIN:<digits>` before anything is
  // recorded. PINs per operator id (4-12 digits); a badge without a PIN here
  // is refused while require_pin is on. The PIN is checked and forgotten: it
  // is never part of a snapshot, evidence or message (journal the scan text
  // through redacted(), label.hpp).
  bool require_pin = false;
  std::map<std::string, std::string> pins{};
  // The site's label grammar: every scan (and every replayed one) is
  // classified with it. Document kinds decide the workflows: receive takes
  // purchase_order / asn / task documents, pick task / order, return order.
  LabelOptions labels{};
};

// Checks a scanned item's lot/expiry against a task line: "wrong_lot" when
// the line names a lot, its rule is not "any" and the scanned lot differs;
// "expired_lot" when the item carries an expiry (YYYY-MM-DD) before the day
// of `time_ms` (UTC). nullopt when fine (also when the item has no lot or
// expiry: plain GTINs carry neither).
std::optional<std::string> lot_problem(const TaskLine& line, const Item& item, std::int64_t time_ms);

// Pick allowances (escrow, docs/PROTOCOL.md "Pick allowances"). They apply
// to a pick out of available stock on a device holding an allowances
// snapshot (allowances_version > 0).
bool allowance_applies(const MasterData& master, const Movement& m);
// What is left of the grant for the pick's (item, lot, bin) before this pick,
// `used` being this device's picks of that key with seq > basis_seq already
// journaled; a missing or expired (at time_ms) grant leaves 0. `exceeded`
// when the pick takes more than is left: the pick is still recorded, with an
// "allowance_exceeded" DeviceException (allowance_exception).
struct AllowanceUse {
  const Allowance* grant = nullptr;  // null: none for this key
  bool expired = false;
  std::int64_t remaining = 0;
  bool exceeded = false;
};
AllowanceUse allowance_use(const MasterData& master, const Movement& pick, std::int64_t used, std::int64_t time_ms);
// The device exception of a pick beyond its allowance: evidence = the pick's scans.
DeviceException allowance_exception(const AllowanceUse& use, const Movement& pick, const std::string& mode);
// The escrow decision on an accepted scan whose movement counts against an
// allowance (allowance_applies), fed this device's journaled use of the
// pick's grant (`used`, as allowance_use takes it). A pick beyond what is
// left is still recorded: `outcome` turns into a warning whose message says
// so, and `exception` is the allowance_exceeded exception (at time_ms) to
// journal with the scan.
struct Escrow {
  AllowanceUse use;
  std::optional<DeviceException> exception;
};
Escrow escrow(const MasterData& master, Outcome& outcome, std::int64_t used, const std::string& mode,
              std::int64_t time_ms);

// ISO date (YYYY-MM-DD, UTC) of a Unix time in ms. Pure arithmetic.
std::string iso_date(std::int64_t time_ms);

namespace workflow {
struct State;
}

// A task of the master data, and how far this session got with it.
struct TaskProgress {
  std::string id;
  std::string type;  // "pick", "receive", "count"
  std::string reference;
  int lines = 0;
  int lines_done = 0;    // the lines behind the current one, or all when done
  bool current = false;  // the task the session is on
  bool done = false;     // finished in this session
};

class Session {
 public:
  explicit Session(SessionOptions options);
  Session(const Session& other);  // copies the state: handle() keeps a copy only when accepted
  Session& operator=(const Session& other);
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Handles one scan. On error the session is unchanged.
  Outcome handle(const Scan& scan);

  const std::string& operator_id() const;  // empty when signed out
  std::string mode() const;                // "idle", "move", "receive", …
  std::string prompt() const;              // what the session waits for

  // The master data the workflows check against (catalog, locations,
  // tasks). Shared and immutable; the engine swaps in a new one when a new
  // version is stored. Null means none yet.
  void set_master_data(std::shared_ptr<const MasterData> data);

  // Every task of the master data with this session's progress on it (none
  // without master data).
  std::vector<TaskProgress> task_progress() const;

  // Serialisable state (operator, mode, the open step and its evidence).
  nlohmann::json snapshot() const;
  // Error code: "bad_snapshot".
  static Result<Session> restore(SessionOptions options, const nlohmann::json& snapshot);

 private:
  explicit Session(std::unique_ptr<workflow::State> state);
  // Never null but after a move. The state and the workflows that change it:
  // scanner/src/session/ (state.hpp, workflow.hpp is the table of modes).
  std::unique_ptr<workflow::State> state_;
};

}  // namespace tally::scanner
