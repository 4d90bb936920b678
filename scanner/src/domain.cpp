// Domain rules: wire names, location grammar, the transition table and
// movement validation. See docs/DOMAIN.md.
#include "tally/scanner/domain.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "text.hpp"

namespace tally::scanner {

namespace {

constexpr std::array<std::string_view, 9> kStateNames = {"inbound", "available", "reserved",     "picked",  "packed",
                                                         "shipped", "damaged",   "quality_hold", "returned"};

constexpr std::array<std::string_view, 12> kTypeNames = {"receipt", "putaway", "pick",    "move",   "pack",  "ship",
                                                         "damage",  "hold",    "release", "return", "count", "adjust"};

constexpr std::array<StockState, 9> kAllStates = {StockState::inbound, StockState::available,    StockState::reserved,
                                                  StockState::picked,  StockState::packed,       StockState::shipped,
                                                  StockState::damaged, StockState::quality_hold, StockState::returned};

constexpr std::array<std::string_view, 4> kParties = {"@supplier", "@customer", "@adjustment", "@scrap"};

using S = StockState;
constexpr std::optional<StockState> kExt = std::nullopt;

constexpr Transition st(S from, S to) { return Transition{from, to, {}, {}}; }
constexpr Transition from_party(std::string_view party, S to) { return Transition{kExt, to, party, {}}; }
constexpr Transition to_party(S from, std::string_view party) { return Transition{from, kExt, {}, party}; }

constexpr std::array kReceipt = {from_party("@supplier", S::inbound)};
constexpr std::array kPutaway = {st(S::inbound, S::available)};
constexpr std::array kPick = {st(S::available, S::picked), st(S::reserved, S::picked)};
constexpr std::array kPack = {st(S::picked, S::packed)};
constexpr std::array kShip = {to_party(S::packed, "@customer"), to_party(S::picked, "@customer")};
constexpr std::array kDamage = {st(S::available, S::damaged),    st(S::inbound, S::damaged),
                                st(S::reserved, S::damaged),     st(S::picked, S::damaged),
                                st(S::packed, S::damaged),       st(S::returned, S::damaged),
                                st(S::quality_hold, S::damaged), to_party(S::damaged, "@scrap")};
constexpr std::array kHold = {st(S::available, S::quality_hold), st(S::inbound, S::quality_hold),
                              st(S::returned, S::quality_hold)};
constexpr std::array kRelease = {st(S::quality_hold, S::available), st(S::returned, S::available)};
constexpr std::array kReturn = {from_party("@customer", S::returned)};

// S → S for every state (move: other location; count: same location).
constexpr std::array<Transition, 9> same_state_rows() {
  std::array<Transition, 9> rows{};
  for (std::size_t i = 0; i < kAllStates.size(); ++i) rows[i] = st(kAllStates[i], kAllStates[i]);
  return rows;
}
constexpr std::array<Transition, 9> kSameState = same_state_rows();

constexpr std::array<Transition, 18> adjust_rows() {
  std::array<Transition, 18> rows{};
  for (std::size_t i = 0; i < kAllStates.size(); ++i) {
    rows[2 * i] = from_party("@adjustment", kAllStates[i]);
    rows[2 * i + 1] = to_party(kAllStates[i], "@adjustment");
  }
  return rows;
}
constexpr std::array<Transition, 18> kAdjust = adjust_rows();

// What a type does, for error messages: "<rule>, not <from> to <to>".
std::string_view rule_text(MovementType t) {
  switch (t) {
    case MovementType::receipt:
      return "a receipt takes @supplier to inbound";
    case MovementType::putaway:
      return "a putaway takes inbound to available";
    case MovementType::pick:
      return "a pick takes available or reserved to picked";
    case MovementType::move:
      return "a move keeps the state and changes the location";
    case MovementType::pack:
      return "a pack takes picked to packed";
    case MovementType::ship:
      return "a ship takes packed or picked to @customer";
    case MovementType::damage:
      return "a damage takes available, inbound, reserved, picked, packed, returned or "
             "quality_hold to damaged, or damaged to @scrap";
    case MovementType::hold:
      return "a hold takes available, inbound or returned to quality_hold";
    case MovementType::release:
      return "a release takes quality_hold or returned to available";
    case MovementType::return_:
      return "a return takes @customer to returned";
    case MovementType::count:
      return "a count keeps the same location and state";
    case MovementType::adjust:
      return "an adjust takes @adjustment to a state, or a state to @adjustment";
  }
  return "unknown movement type";
}

std::string side_text(const Endpoint& e) {
  if (e.state) return std::string(to_string(*e.state));
  return e.location.code;
}

std::string endpoint_text(const Endpoint& e) {
  if (e.state) return e.location.code + " (" + std::string(to_string(*e.state)) + ")";
  return e.location.code;
}

bool side_matches(const Endpoint& e, const std::optional<StockState>& state, std::string_view party) {
  if (state) return !e.location.external() && e.state == state;
  return e.location.external() && e.location.code == party;
}

bool is_party(std::string_view code) {
  for (auto p : kParties)
    if (p == code) return true;
  return false;
}

Result<void> check_endpoint(const Endpoint& e, std::string_view side) {
  const std::string s(side);
  if (e.location.code.empty()) return make_error("invalid_location", s + " location is empty");
  if (e.location.external()) {
    if (!is_party(e.location.code))
      return make_error("invalid_location", s + " location " + e.location.code + " is not a known external party");
    if (e.state)
      return make_error("invalid_location",
                        s + " location " + e.location.code + " is external and cannot have a state");
  } else if (!e.state) {
    return make_error("invalid_location", s + " location " + e.location.code + " is internal and needs a state");
  }
  return {};
}

// Bin in the default grammar: <zone>-<aisle>-<rack>-<level>, zone letters or
// digits, the other three groups digits.
bool is_bin(std::string_view t) {
  if (t.size() > text::kMaxCodeLength) return false;
  std::size_t group = 0;
  std::size_t len = 0;
  for (char c : t) {
    if (c == '-') {
      if (len == 0) return false;
      ++group;
      len = 0;
      if (group > 3) return false;
      continue;
    }
    const bool ok = group == 0 ? text::is_alnum(c) : text::is_digit(c);
    if (!ok) return false;
    ++len;
  }
  return group == 3 && len > 0;
}

}  // namespace

std::string location_code(std::string_view code) {
  if (auto l = Location::parse(code)) return l->code;
  if (auto l = Location::parse("LOC:" + std::string(code))) return l->code;
  return text::upper(code);
}

std::string gtin14(std::string_view gtin) {
  if (!text::all_digits(gtin) || gtin.size() >= 14) return std::string(gtin);
  return std::string(14 - gtin.size(), '0') + std::string(gtin);
}

std::string_view to_string(StockState s) {
  const auto i = static_cast<std::size_t>(s);
  return i < kStateNames.size() ? kStateNames[i] : std::string_view("unknown");
}

std::string_view to_string(MovementType t) {
  const auto i = static_cast<std::size_t>(t);
  return i < kTypeNames.size() ? kTypeNames[i] : std::string_view("unknown");
}

std::optional<StockState> parse_stock_state(std::string_view s) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i)
    if (kStateNames[i] == s) return static_cast<StockState>(i);
  return std::nullopt;
}

std::span<const StockState> all_stock_states() { return kAllStates; }

std::optional<MovementType> parse_movement_type(std::string_view s) {
  for (std::size_t i = 0; i < kTypeNames.size(); ++i)
    if (kTypeNames[i] == s) return static_cast<MovementType>(i);
  return std::nullopt;
}

Result<Location> Location::parse(std::string_view t) {
  if (!t.empty() && t.front() == '@') {
    if (is_party(t)) return Location{std::string(t)};
  } else if (text::starts_with_ci(t, "LOC:")) {
    const auto code = t.substr(4);
    if (text::is_code(code)) return Location{text::upper(code)};
  } else if (text::starts_with_ci(t, "TOTE:")) {
    // A tote or cart as a location (where picked stock sits): the code
    // keeps the prefix, "TOTE:17", so it never collides with a bin.
    const auto id = t.substr(5);
    if (text::is_code(id)) return Location{"TOTE:" + text::upper(id)};
  } else if (is_bin(t)) {
    return Location{text::upper(t)};
  }
  return make_error("invalid_location", "not a location: \"" + text::quote(t) + "\"");
}

std::span<const Transition> transitions(MovementType type) {
  switch (type) {
    case MovementType::receipt:
      return kReceipt;
    case MovementType::putaway:
      return kPutaway;
    case MovementType::pick:
      return kPick;
    case MovementType::move:
      return kSameState;
    case MovementType::pack:
      return kPack;
    case MovementType::ship:
      return kShip;
    case MovementType::damage:
      return kDamage;
    case MovementType::hold:
      return kHold;
    case MovementType::release:
      return kRelease;
    case MovementType::return_:
      return kReturn;
    case MovementType::count:
      return kSameState;
    case MovementType::adjust:
      return kAdjust;
  }
  return {};
}

Result<void> validate(const Movement& m) {
  if (m.device.empty()) return make_error("missing_field", "device is empty");
  if (m.site.empty()) return make_error("missing_field", "site is empty");
  if (m.operator_id.empty()) return make_error("missing_field", "operator is empty");

  if (m.item.gtin.empty() && m.item.sku.empty())
    return make_error("invalid_item", "the item has neither a GTIN nor a SKU");
  if (!m.item.gtin.empty() && (m.item.gtin.size() != 14 || !gtin_check_digit_ok(m.item.gtin)))
    return make_error("invalid_item",
                      "GTIN " + text::quote(m.item.gtin) + " is not 14 digits with a valid check digit");

  const bool count = m.type == MovementType::count;
  constexpr std::int64_t kMaxQty = 1'000'000;
  if (m.qty > kMaxQty || m.qty < 0 || (m.qty == 0 && !count))
    return make_error("invalid_qty",
                      "quantity " + std::to_string(m.qty) + " is outside " + (count ? "0" : "1") + "..1000000");

  if (auto r = check_endpoint(m.from, "from"); !r) return r;
  if (auto r = check_endpoint(m.to, "to"); !r) return r;

  const std::string pair = side_text(m.from) + " to " + side_text(m.to);
  if (count && m.from != m.to)
    return make_error("invalid_transition",
                      std::string(rule_text(m.type)) + ", not " + endpoint_text(m.from) + " to " + endpoint_text(m.to));
  if (!count && m.from == m.to)
    return make_error("invalid_transition", "a " + std::string(to_string(m.type)) +
                                                " must change location or state, not " + endpoint_text(m.from) +
                                                " to itself");

  const bool correction = m.reason == kCorrectionReason && !count;
  for (const Transition& t : transitions(m.type)) {
    if (side_matches(m.from, t.from, t.from_party) && side_matches(m.to, t.to, t.to_party)) return {};
    if (correction && side_matches(m.from, t.to, t.to_party) && side_matches(m.to, t.from, t.from_party)) return {};
  }
  return make_error("invalid_transition", std::string(rule_text(m.type)) + (correction ? " (or back, as a CORRECTION)" : "") +
                                              ", not " + pair);
}

bool gtin_check_digit_ok(std::string_view digits) {
  const auto n = digits.size();
  if (n != 8 && n != 12 && n != 13 && n != 14) return false;
  return text::gs1_check_digit_ok(digits);
}

}  // namespace tally::scanner
