// Domain types of Tally: items, locations, stock states and movements.
//
// Every change of stock is a Movement of a quantity of one item from one
// (location, state) to another. External parties are locations whose code
// starts with '@' (@supplier, @customer, @adjustment, @scrap) and carry no
// state, so the sum over all balances of an item is always zero.
//
// Pure values; no I/O. Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tally/scanner/result.hpp"

namespace tally::scanner {

enum class StockState : std::uint8_t {
  inbound,       // received at the dock, not put away
  available,
  reserved,
  picked,
  packed,
  shipped,
  damaged,
  quality_hold,
  returned,
};

enum class MovementType : std::uint8_t {
  receipt, putaway, pick, move, pack, ship, damage, hold, release,
  return_,  // "return" on the wire
  count,    // an observation; the ledger turns the difference into an adjust
  adjust,   // created by the ledger only
};

std::string_view to_string(StockState s);
std::string_view to_string(MovementType t);
std::optional<StockState> parse_stock_state(std::string_view s);
// Every stock state, in declaration order (label sheets, UIs).
std::span<const StockState> all_stock_states();
std::optional<MovementType> parse_movement_type(std::string_view s);

// A place stock can be: a bin ("A-01-02-3"), a named location ("DOCK-1",
// written LOC:DOCK-1 on a label) or an external party ("@supplier").
struct Location {
  std::string code;

  bool external() const { return !code.empty() && code.front() == '@'; }
  bool operator==(const Location&) const = default;

  // Accepts a bin in the default grammar <zone>-<aisle>-<rack>-<level>,
  // LOC:<code>, TOTE:<id> (code "TOTE:<ID>": a tote/cart holding picked
  // stock), or one of the external parties. Codes are upper-cased.
  static Result<Location> parse(std::string_view text);
};

// Master data written by people ("A-01-02-3", "dock-1", "4006381333931") in
// the form scans produce, so device and ledger compare like with like:
// a location code as a scan of its label gives it (a bin or LOC:<code>,
// upper-cased); a GTIN-8/12/13 left-padded with zeros to 14 digits (any
// other text unchanged).
std::string location_code(std::string_view code);
std::string gtin14(std::string_view gtin);

inline const Location kSupplier{"@supplier"};
inline const Location kCustomer{"@customer"};
inline const Location kAdjustment{"@adjustment"};
// The item SKU of an empty-bin count: "this bin holds nothing" (a qty-0
// count; the ledger zeroes every item it has booked there).
inline constexpr std::string_view kEmptyBinSku = "*EMPTY*";
inline const Location kScrap{"@scrap"};

struct Item {
  std::string gtin;    // 14 digits (GTIN-8/12/13 are left-padded) or empty
  std::string sku;     // catalog SKU when there is no GTIN
  std::string lot;     // GS1 (10)
  std::string expiry;  // ISO date YYYY-MM-DD or empty
  std::string serial;  // GS1 (21)

  bool operator==(const Item&) const = default;
  // The identity used for balances: gtin, else sku.
  const std::string& id() const { return gtin.empty() ? sku : gtin; }
};

// One side of a movement. External locations have no state.
struct Endpoint {
  Location location;
  std::optional<StockState> state;
  bool operator==(const Endpoint&) const = default;
};

struct Movement {
  std::string device;
  std::string site;
  std::uint64_t seq = 0;  // per device, gap-free, 0 until the journal assigns it
  std::string operator_id;
  MovementType type = MovementType::move;
  Item item;
  std::int64_t qty = 0;  // units; > 0, except count (>= 0)
  Endpoint from;         // for count: the counted (bin, state); equals `to`
  Endpoint to;
  std::string reason;     // reason code, e.g. for damage
  std::string reference;  // PO:…, ASN:…, ORD:…, TASK:…
  std::vector<std::string> evidence;  // raw scan texts that produced it
  std::int64_t wall_time_ms = 0;      // Unix ms when completed on the device
  std::uint64_t hlc = 0;              // hybrid logical clock, assigned by the journal

  bool operator==(const Movement&) const = default;
};

// One allowed (from → to) pair of a movement type. `nullopt` state means
// the side is an external location (which one is in `external`).
struct Transition {
  std::optional<StockState> from;  // nullopt: external party `from_party`
  std::optional<StockState> to;    // nullopt: external party `to_party`
  std::string_view from_party;     // e.g. "@supplier" when from is nullopt
  std::string_view to_party;
};

// The table of allowed pairs for a type (see docs/DOMAIN.md). `move`
// requires from.state == to.state and is listed once per state.
std::span<const Transition> transitions(MovementType type);

// The reason of a compensating movement (a correction). A movement with
// this reason may also take a row of its type's table backwards (to → from):
// it undoes a committed movement of that type, which is never edited.
inline constexpr std::string_view kCorrectionReason = "CORRECTION";

// Checks a movement against the domain rules: non-empty device/site/operator,
// an item id, qty > 0 (count: >= 0), from != to (count: from == to), the
// states/parties allowed for its type, external locations without state,
// internal ones with state (reason CORRECTION: a row backwards too). Error codes: "invalid_qty", "invalid_item",
// "invalid_location", "invalid_transition", "missing_field".
Result<void> validate(const Movement& m);

// GTIN check digit (mod 10, GS1). `digits` is 8, 12, 13 or 14 digits.
bool gtin_check_digit_ok(std::string_view digits);

}  // namespace tally::scanner
