// What the workflows share: outcomes, the step's life (reset, next, clear),
// labels under the site grammar, item counting, quantity, reason, state,
// movements and device exceptions. Private to tally::scanner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session/state.hpp"
#include "session/workflow.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner::workflow {

inline constexpr std::int64_t kMaxQty = 1'000'000;

Outcome good(std::string code, std::string message);
Outcome fail(std::string code, std::string message);
Outcome fail(const Error& e);

std::string qty_text(std::int64_t qty, const Item& item);  // "2 x <item id>"
// What the picker is told to pick: the SKU when the line names one.
std::string line_item_id(const TaskLine& l);
// A task line as the session keeps it: a SKU-only line gets its GTIN from
// the catalog now, so checking a scan against it never needs master data
// later (undo and restore replay without it).
TaskLine resolved(const TaskLine& l, const MasterData* master);
// Only the line itself decides (see resolved()): replays need no master data.
bool line_item_matches(const TaskLine& line, const Item& item);

// The step's life. reset_to_base: back to the step's base context (CANCEL).
// next_step: a fresh step after a commit; the context carries over.
// clear_all: no step, no context.
void reset_to_base(State& s);
void next_step(State& s);
void clear_all(State& s);
// A step holds scans, or a receipt, task or counted bin is open. A move's
// kept source and a chosen state are not open work: they just drop.
bool step_open(const State& s);

// A scan's meaning under the site's grammar (SessionOptions::labels). A
// text the grammar does not own that is a SKU of the catalog is an item
// with that SKU (and the catalog's GTIN); `catalog_gtin` then says so.
// While replaying, the recorded catalog_skus decide, not the master data.
Result<Label> label_of(const State& s, std::string_view text, std::optional<std::string>* catalog_gtin = nullptr);
// Records that the scan just added to the evidence was a catalog SKU.
void note_catalog_sku(State& s, const std::string& text, const std::optional<std::string>& gtin);

std::string prompt(const State& s);  // what the session waits for
Outcome unexpected(const State& s, const Label& l);

// An item scan: the first unit(s), or more of the same item (units_of).
Outcome count_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms);
// How many units one item scan adds: the GS1 count (37)/(30) it carries,
// else the catalog's pack_size for its id (recorded when > 1, see
// State::pack_units), else 1. `from_pack` says the pack size decided.
struct Units {
  std::int64_t n = 1;
  bool from_pack = false;
};
Units units_of(const State& s, const Label& l);
// The open item again (count_item), unless another item is open: one item
// per `what` ("movement", "pick", …), "different_item".
Outcome same_item(State& s, const Label& l, const std::string& text, std::int64_t time_ms, std::string_view what);
// What every step takes alike: CMD:QTY (set_qty), CMD:REASON (set_reason);
// any other label is unexpected here.
Outcome shared_label(State& s, const Label& l, const std::string& text);
Outcome set_qty(State& s, const Label& l, const std::string& text);
Outcome set_reason(State& s, const Label& l, const std::string& text);
// CMD:STATE:<state> in a mode with Workflow::state_movement.
Outcome set_state(State& s, const Label& l, const std::string& text);
// The goods' state: CMD:STATE's, else the mode's default.
StockState goods_state(const State& s);
// " [returned]" in a prompt when CMD:STATE chose a state.
std::string state_note(const State& s);

// A validated movement of the open item and quantity, with the session's
// device, site, operator, reason and reference.
Result<Movement> make_movement(const State& s, MovementType type, Endpoint from, Endpoint to,
                               std::vector<std::string> evidence, std::int64_t time_ms);
// A device-side exception of the current operator/mode (and task line).
DeviceException exception(const State& s, std::string kind, std::string expected, std::string scanned,
                          std::vector<std::string> evidence, std::int64_t time_ms);
// A refused scan that is still a fact worth recording.
Outcome refuse(const State& s, std::string code, std::string message, std::string expected, const std::string& text,
               std::int64_t time_ms);
// "TASK:17/1" on a task line, else empty.
std::string task_ref(const State& s);

}  // namespace tally::scanner::workflow
