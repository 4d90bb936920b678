// KPIs from the movements (tally/ledger/kpi.hpp; definitions in
// docs/OPERATIONS.md "## KPIs").
#include "tally/ledger/kpi.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace tally::ledger {
namespace {

using nlohmann::json;
using scanner::MovementType;
using scanner::StockState;

// The median of `v` (the mean of the middle two for an even count).
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

json kpi(const KpiBands& bands, const std::string& name, std::optional<double> value, json extra = json::object()) {
  json out = std::move(extra);
  if (!value) {
    out["value"] = nullptr;
    out["band"] = "no_data";
    return out;
  }
  out["value"] = *value;
  const auto it = bands.find(name);
  out["band"] = it == bands.end() ? std::string("normal") : kpi_band_of(it->second, *value);
  return out;
}

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
  if (den <= 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

KpiBands default_kpi_bands() {
  return KpiBands{
      {"inventory_accuracy", {0.98, 0.95, true}},
      {"pick_accuracy", {0.995, 0.98, true}},
      {"exception_rate", {0.02, 0.05, false}},
      {"exception_queue", {20, 50, false}},
      {"exception_oldest_age_s", {4 * 3600.0, 24 * 3600.0, false}},
      {"exception_median_age_s", {3600.0, 8 * 3600.0, false}},
      {"dock_to_stock_median_s", {4 * 3600.0, 8 * 3600.0, false}},
      {"damage_rate", {0.005, 0.01, false}},
      {"sync_lag_s", {300.0, 3600.0, false}},
  };
}

Result<void> set_kpi_band(KpiBands& bands, const std::string& name, double stressed, double critical) {
  const auto it = bands.find(name);
  if (it == bands.end()) return make_error("bad_config", "unknown KPI '" + name + "'");
  KpiBand& b = it->second;
  if (b.higher_is_better ? critical > stressed : critical < stressed) {
    return make_error("bad_config", "KPI " + name + ": critical must be " +
                                        (b.higher_is_better ? "at most" : "at least") + " stressed");
  }
  b.stressed = stressed;
  b.critical = critical;
  return {};
}

std::string kpi_band_of(const KpiBand& band, double value) {
  if (band.higher_is_better) {
    if (value < band.critical) return "critical";
    if (value < band.stressed) return "stressed";
    return "normal";
  }
  if (value > band.critical) return "critical";
  if (value > band.stressed) return "stressed";
  return "normal";
}

bool is_pick_error(const ExceptionRecord& e) {
  static const std::set<std::string, std::less<>> kCodes{"wrong_item", "wrong_bin", "wrong_lot"};
  if (kCodes.contains(e.kind)) return true;
  if (e.evidence.is_object()) {
    for (const char* key : {"code", "kind"}) {
      const auto it = e.evidence.find(key);
      if (it != e.evidence.end() && it->is_string() && kCodes.contains(it->get<std::string>())) return true;
    }
  }
  return false;
}

// Long on purpose: one KPI per paragraph, each formula with its band.
json compute_kpis(const KpiInput& in, const KpiBands& bands) {
  const std::string ledger_device(kLedgerDevice);

  // Inventory accuracy: counts whose ledger adjust (reference COUNT:dev:seq)
  // shows a difference, against all counts.
  std::set<std::string> adjusted_counts;
  for (const auto& km : in.movements) {
    const auto& m = km.movement;
    if (m.type == MovementType::adjust && m.device == ledger_device && m.reference.rfind("COUNT:", 0) == 0) {
      adjusted_counts.insert(m.reference);
    }
  }
  std::int64_t counts = 0;
  std::int64_t counts_off = 0;
  // Pick accuracy: picks with a wrong item/bin/lot exception on them.
  std::set<std::pair<std::string, std::uint64_t>> pick_errors;
  for (const auto& e : in.exceptions) {
    if (is_pick_error(e)) pick_errors.emplace(e.device, e.seq);
  }
  std::int64_t picks = 0;
  std::int64_t picks_wrong = 0;
  std::int64_t device_movements = 0;
  std::int64_t received_units = 0;
  std::int64_t damaged_units = 0;
  // Dock-to-stock: receipts waiting at (item, lot, dock) in arrival order,
  // each with the units not yet put away.
  std::map<std::tuple<std::string, std::string, std::string>, std::deque<std::pair<std::int64_t, std::int64_t>>>
      waiting;
  std::vector<double> dock_to_stock_s;
  struct Lag {
    std::vector<double> lags_s;
    std::int64_t last_applied_ms = 0;
  };
  std::map<std::string, Lag> lag;

  for (const auto& km : in.movements) {
    const auto& m = km.movement;
    if (m.device == ledger_device) continue;
    ++device_movements;
    Lag& l = lag[m.device];
    l.lags_s.push_back(static_cast<double>(std::max<std::int64_t>(0, km.applied_ms - m.wall_time_ms)) / 1000.0);
    l.last_applied_ms = std::max(l.last_applied_ms, km.applied_ms);
    // A correction (reason CORRECTION: the reverse of the device's previous
    // movement, same type) takes back what its original counted.
    const bool correction = m.reason == scanner::kCorrectionReason;
    switch (m.type) {
      case MovementType::count:
        ++counts;
        if (adjusted_counts.contains("COUNT:" + m.device + ":" + std::to_string(m.seq))) ++counts_off;
        break;
      case MovementType::pick:
        if (correction) {
          --picks;
          if (pick_errors.contains({m.device, m.seq - 1})) --picks_wrong;  // the original is seq - 1
          break;
        }
        ++picks;
        if (pick_errors.contains({m.device, m.seq})) ++picks_wrong;
        break;
      case MovementType::receipt: {
        if (!correction) {
          received_units += m.qty;
          waiting[{m.item.id(), m.item.lot, m.to.location.code}].emplace_back(m.wall_time_ms, m.qty);
          break;
        }
        // Taken back out of the dock: the newest receipts there go first.
        received_units -= m.qty;
        auto& queue = waiting[{m.item.id(), m.item.lot, m.from.location.code}];
        for (std::int64_t left = m.qty; left > 0 && !queue.empty();) {
          const std::int64_t take = std::min(left, queue.back().second);
          queue.back().second -= take;
          left -= take;
          if (queue.back().second == 0) queue.pop_back();
        }
        break;
      }
      case MovementType::putaway: {
        if (correction) break;  // back to the dock: the put-away's sample stands
        auto& queue = waiting[{m.item.id(), m.item.lot, m.from.location.code}];
        std::int64_t left = m.qty;
        // One sample per receipt the put-away (partly) clears, oldest first.
        while (left > 0 && !queue.empty()) {
          auto& [time_ms, units] = queue.front();
          dock_to_stock_s.push_back(static_cast<double>(m.wall_time_ms - time_ms) / 1000.0);
          const std::int64_t take = std::min(left, units);
          units -= take;
          left -= take;
          if (units == 0) queue.pop_front();
        }
        break;
      }
      default:
        break;
    }
    if (m.to.state == StockState::damaged && m.from.state != StockState::damaged) damaged_units += m.qty;
    if (correction && m.from.state == StockState::damaged && m.to.state != StockState::damaged) {
      damaged_units -= m.qty;
    }
  }

  // Exceptions: the rate is those raised about the window's device movements
  // (created in the window) per device movement; the queue is every open or
  // assigned one, whatever its age.
  const std::int64_t window_start = in.window_ms > 0 ? in.now_ms - in.window_ms : INT64_MIN;
  std::int64_t raised = 0;
  std::vector<double> ages_s;
  for (const auto& e : in.exceptions) {
    if (e.created_ms >= window_start) ++raised;
    if (e.status != "resolved") ages_s.push_back(static_cast<double>(in.now_ms - e.created_ms) / 1000.0);
  }

  json out;
  out["now_ms"] = in.now_ms;
  out["window_ms"] = in.window_ms;
  out["movements"] = device_movements;
  out["inventory_accuracy"] =
      kpi(bands, "inventory_accuracy", ratio(counts - counts_off, counts), {{"counts", counts}, {"differences", counts_off}});
  out["pick_accuracy"] =
      kpi(bands, "pick_accuracy", ratio(picks - picks_wrong, picks), {{"picks", picks}, {"wrong", picks_wrong}});
  out["exception_rate"] =
      kpi(bands, "exception_rate", ratio(raised, device_movements), {{"exceptions", raised}, {"movements", device_movements}});
  out["exception_queue"] = kpi(bands, "exception_queue", static_cast<double>(ages_s.size()));
  out["exception_oldest_age_s"] = kpi(
      bands, "exception_oldest_age_s",
      ages_s.empty() ? std::nullopt : std::optional<double>(*std::max_element(ages_s.begin(), ages_s.end())));
  out["exception_median_age_s"] =
      kpi(bands, "exception_median_age_s", ages_s.empty() ? std::nullopt : std::optional<double>(median(ages_s)));
  out["dock_to_stock_median_s"] =
      kpi(bands, "dock_to_stock_median_s",
          dock_to_stock_s.empty() ? std::nullopt : std::optional<double>(median(dock_to_stock_s)),
          {{"samples", dock_to_stock_s.size()}});
  out["damage_rate"] = kpi(bands, "damage_rate", ratio(damaged_units, received_units),
                           {{"damaged_units", damaged_units}, {"received_units", received_units}});
  json devices = json::object();
  for (const auto& [device, l] : lag) {
    const double worst = *std::max_element(l.lags_s.begin(), l.lags_s.end());
    devices[device] = kpi(bands, "sync_lag_s", worst,
                          {{"median_s", median(l.lags_s)}, {"movements", l.lags_s.size()},
                           {"last_applied_ms", l.last_applied_ms}});
  }
  out["sync_lag_s"] = std::move(devices);
  return out;
}

json kpi_sample(const json& kpis) {
  json out = json::object();
  out["movements"] = kpis.value("movements", json());
  for (const auto& [name, band] : default_kpi_bands()) {
    const auto it = kpis.find(name);
    if (it == kpis.end() || !it->is_object()) continue;
    if (name != "sync_lag_s") {
      out[name] = it->value("value", json());
      continue;
    }
    json devices = json::object();
    for (const auto& [device, k] : it->items()) {
      if (k.is_object()) devices[device] = k.value("value", json());
    }
    out[name] = std::move(devices);
  }
  return out;
}

}  // namespace tally::ledger
