// Warehouse KPIs computed from the ledger's movements and exceptions
// (GET /api/v1/kpis; docs/OPERATIONS.md "## KPIs" has the definitions and
// the default bands). Pure: tally-ledger reads the store and calls
// compute_kpis on its worker thread; tests call it with hand-made input.
//
// Every KPI is {"value": number|null, "band": "normal"|"stressed"|"critical"|
// "no_data", plus its counts}; null / "no_data" when it has no denominator.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/store.hpp"
#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

// A value is "stressed" past `stressed` and "critical" past `critical`;
// "past" is below for higher_is_better KPIs (accuracies), above otherwise.
struct KpiBand {
  double stressed = 0;
  double critical = 0;
  bool higher_is_better = false;
};

// KPI name → band. Names: inventory_accuracy, pick_accuracy, exception_rate,
// exception_queue, exception_oldest_age_s, exception_median_age_s,
// dock_to_stock_median_s, damage_rate, sync_lag_s (per device: the largest
// lag of its movements in the window).
using KpiBands = std::map<std::string, KpiBand, std::less<>>;
KpiBands default_kpi_bands();

// Sets one band ("bad_config" for an unknown name or thresholds in the wrong
// order for the KPI's direction).
Result<void> set_kpi_band(KpiBands& bands, const std::string& name, double stressed, double critical);

// One applied movement: the parsed movement and when the ledger applied it.
struct KpiMovement {
  scanner::Movement movement;
  std::int64_t applied_ms = 0;
};

struct KpiInput {
  std::vector<KpiMovement> movements;       // the window's movements, in application order
  std::vector<ExceptionRecord> exceptions;  // all exceptions (any status)
  std::int64_t now_ms = 0;
  std::int64_t window_ms = 0;  // what `movements` covers (reported only)
};

// The exception kinds / evidence codes that make a pick inaccurate.
bool is_pick_error(const ExceptionRecord& e);

nlohmann::json compute_kpis(const KpiInput& input, const KpiBands& bands);

// What a KPI history sample keeps of compute_kpis' answer: {"movements":N,
// name: value|null for each KPI, "sync_lag_s": {device: value}} — the values
// the dashboard's trend lines draw, without bands or counts.
nlohmann::json kpi_sample(const nlohmann::json& kpis);

// "normal", "stressed" or "critical".
std::string kpi_band_of(const KpiBand& band, double value);

}  // namespace tally::ledger
