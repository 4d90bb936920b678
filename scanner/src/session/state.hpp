// The state of one scan session, as the workflows see it. Private to
// tally::scanner: session.hpp's Session owns one State and copies it per
// scan, so a refused scan never changes anything (handle() in session.cpp).
//
// The open step is `evidence` (its effective scans, in order) applied on top
// of `base` (the context when the step began). Everything from `ctx` to
// `reason`/`short_pick` is derived from those two: undo and restore() replay
// them (replay() in session.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/master_data.hpp"
#include "tally/scanner/session.hpp"

namespace tally::scanner::workflow {

// A row of the workflow table (workflow.hpp) each; idle is no workflow.
enum class Mode : std::uint8_t { idle, move, putaway, receive, pick, damage, hold, release, return_, count };

// Context that outlives one step: a receipt (receive), a pick task, the bin
// being counted. Only non-default fields appear in the snapshot. Which
// fields a mode may carry: Workflow::context_fits.
struct Context {
  std::string reference;         // PO:/ASN: of a receipt, ORD: of a return or pick
  std::optional<Location> dock;  // scanned dock; options.receiving_location if none
  std::optional<Location> bin;   // count: the bin being counted
  std::string task;              // pick: the task id ("TASK:17")
  int line_index = 0;            // pick: index of the current line in the task
  // pick: a copy of the current task line, so replaying the step never
  // depends on the master data of the moment.
  std::optional<TaskLine> line;
  // receive against a receive task (matched by PO/ASN/TASK): units
  // received so far per item id, to flag over-, under- and unexpected receipts.
  std::map<std::string, std::int64_t> received;
  // move: the source bin, kept after a move for the next item until
  // CANCEL, DONE or a mode change. Not an open step (LOGOUT and mode
  // switches just drop it), like `state`.
  std::optional<Location> source;
  // move, damage, hold, release: the state of the goods handled, set by
  // CMD:STATE:<state> (a bin label cannot say it); unset = the mode's
  // default (Workflow::goods_default).
  std::optional<StockState> state;
  bool operator==(const Context&) const = default;
};

struct State {
  SessionOptions options;
  std::shared_ptr<const MasterData> master;  // null: none yet
  std::string operator_id;                   // empty when signed out
  Mode mode = Mode::idle;
  Context base;
  std::vector<std::string> evidence;
  Context ctx;
  std::optional<Location> from;  // move/putaway/pick/in place: source bin
  std::optional<Item> item;      // set exactly when qty > 0
  std::int64_t qty = 0;
  std::string reason;
  bool short_pick = false;              // pick: short pick confirmed for the open line
  std::vector<std::string> done_tasks;  // pick tasks finished in this session
  std::int64_t last_scan_ms = 0;        // time of the last accepted scan (idle timeout only)
  std::string pin_pending;              // badge scanned, PIN not yet (require_pin)
  // Units applied from the catalog's pack_size, by index into evidence
  // (only entries > 1). Part of the step's record, not derived: replay uses
  // it instead of the master data of the moment.
  std::map<std::size_t, std::int64_t> pack_units;
  // Scans of evidence that were catalog SKUs (texts the label grammar does
  // not own), by index, with the catalog GTIN of that SKU ("" if none).
  // Recorded like pack_units (snapshot "catalog_skus") so replay never needs
  // the master data.
  std::map<std::size_t, std::string> catalog_skus;
  // The last movement recorded since the operator signed in: CMD:CORRECT
  // records its reverse. A device fact like done_tasks, it is kept over mode
  // changes, dropped at sign-out or a change of operator.
  std::optional<Movement> last;
  // While replaying: the recorded pack units of the scan being replayed (1:
  // none recorded). nullopt: live, ask the master data.
  std::optional<std::int64_t> replay_pack;
  // While replaying: the recorded catalog entry of the scan being replayed
  // (nullopt inside: none recorded). Outer nullopt: live, ask the master data.
  std::optional<std::optional<std::string>> replay_sku;

  bool replaying() const { return replay_pack.has_value(); }
};

}  // namespace tally::scanner::workflow
