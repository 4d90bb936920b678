// The rules beside the scan workflows that the device checks with counts it
// keeps itself: lot and expiry against a task line, and pick allowances
// (escrow). session.hpp.
#include <algorithm>

#include "tally/scanner/session.hpp"

namespace tally::scanner {

const std::vector<std::string>& default_reason_codes() {
  static const std::vector<std::string> kCodes = {"DAMAGED", "CRUSHED",   "WET",      "EXPIRED",   "QA",
                                                  "SHORT",   "NOT_FOUND", "CUSTOMER", "WRONG_ITEM"};
  return kCodes;
}

std::string iso_date(std::int64_t time_ms) {
  // days since 1970-01-01 → civil date (H. Hinnant's algorithm), UTC.
  std::int64_t days = time_ms / 86'400'000;
  if (time_ms % 86'400'000 < 0) --days;
  days += 719'468;
  const std::int64_t era = (days >= 0 ? days : days - 146'096) / 146'097;
  const std::int64_t doe = days - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  auto two = [](std::int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  std::string year = std::to_string(y);
  if (y >= 0 && y < 1000) year = std::string(4 - year.size(), '0') + year;
  return year + "-" + two(m) + "-" + two(d);
}

std::optional<std::string> lot_problem(const TaskLine& line, const Item& item, std::int64_t time_ms) {
  if (!line.lot.empty() && line.lot_rule != "any" && !item.lot.empty() && item.lot != line.lot) return "wrong_lot";
  if (!item.expiry.empty() && item.expiry < iso_date(time_ms)) return "expired_lot";
  return std::nullopt;
}

bool allowance_applies(const MasterData& master, const Movement& m) {
  return master.allowances_version > 0 && m.type == MovementType::pick && m.from.state == StockState::available &&
         !m.from.location.external();
}

AllowanceUse allowance_use(const MasterData& master, const Movement& pick, std::int64_t used, std::int64_t time_ms) {
  AllowanceUse u;
  u.grant = master.find_allowance(pick.item.id(), pick.item.lot, pick.from.location.code);
  if (u.grant != nullptr) {
    u.expired = time_ms >= u.grant->expires_ms;
    u.remaining = u.expired ? 0 : std::max<std::int64_t>(0, u.grant->qty - used);
  }
  u.exceeded = pick.qty > u.remaining;
  return u;
}

DeviceException allowance_exception(const AllowanceUse& use, const Movement& pick, const std::string& mode) {
  DeviceException x;
  x.kind = "allowance_exceeded";
  x.operator_id = pick.operator_id;
  x.mode = mode;
  const std::string what = pick.item.id() + (pick.item.lot.empty() ? "" : " lot " + pick.item.lot) + " from " +
                           pick.from.location.code;
  x.expected = "at most " + std::to_string(use.remaining) + " x " + what +
               (use.grant == nullptr ? " (no allowance)"
                                     : " (allowance " + use.grant->id + (use.expired ? ", expired)" : ")"));
  x.scanned = std::to_string(pick.qty) + " x " + what;
  x.evidence = pick.evidence;
  x.time_ms = pick.wall_time_ms;
  x.task = pick.reference;
  return x;
}

Escrow escrow(const MasterData& master, Outcome& outcome, std::int64_t used, const std::string& mode,
              std::int64_t time_ms) {
  const Movement& pick = *outcome.movement;
  Escrow e{allowance_use(master, pick, used, time_ms), std::nullopt};
  if (!e.use.exceeded) return e;
  e.exception = allowance_exception(e.use, pick, mode);
  e.exception->time_ms = time_ms;
  outcome.feedback = Feedback::warning;
  outcome.message += " Beyond this device's pick allowance (" + std::to_string(e.use.remaining) +
                     " left): recorded and flagged for the supervisor.";
  return e;
}

}  // namespace tally::scanner
