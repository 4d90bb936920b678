// KPIs from hand-made movements and exceptions; every expected value is
// worked out by hand in the comments.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tally/ledger/kpi.hpp"

namespace tally::ledger {
namespace {

using scanner::Endpoint;
using scanner::Location;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

constexpr std::int64_t kT0 = 1'790'000'000'000;
constexpr std::int64_t kMin = 60'000;

Endpoint ext(const char* party) { return Endpoint{Location{party}, std::nullopt}; }
Endpoint at(const char* bin, StockState s) { return Endpoint{Location{bin}, s}; }

KpiMovement mv(const std::string& device, std::uint64_t seq, MovementType type, std::int64_t qty, Endpoint from,
               Endpoint to, std::int64_t wall_ms, std::int64_t applied_ms, const std::string& lot = "L1") {
  Movement m;
  m.device = device;
  m.site = "s1";
  m.seq = seq;
  m.operator_id = "alice";
  m.type = type;
  m.item.gtin = "09506000134352";
  m.item.lot = lot;
  m.qty = qty;
  m.from = std::move(from);
  m.to = std::move(to);
  m.wall_time_ms = wall_ms;
  return KpiMovement{m, applied_ms};
}

ExceptionRecord ex(const std::string& kind, const std::string& device, std::uint64_t seq, const std::string& status,
                   std::int64_t created_ms, nlohmann::json evidence = nlohmann::json::object()) {
  ExceptionRecord e;
  e.kind = kind;
  e.device = device;
  e.seq = seq;
  e.status = status;
  e.created_ms = created_ms;
  e.evidence = std::move(evidence);
  return e;
}

TEST(Kpi, HandComputedValuesAndBands) {
  const auto dock = at("DOCK-1", StockState::inbound);
  const auto bin = at("A-01-01-1", StockState::available);
  const auto tote = at("TOTE:1", StockState::picked);
  KpiInput in;
  in.now_ms = kT0 + 600 * kMin;
  in.window_ms = 24 * 60 * kMin;
  in.movements = {
      // d1: two receipts at DOCK-1 (10 at t0, 10 at t0+60min), applied 1 min / 0 min later.
      mv("d1", 1, MovementType::receipt, 10, ext("@supplier"), dock, kT0, kT0 + kMin),
      mv("d1", 2, MovementType::receipt, 10, ext("@supplier"), dock, kT0 + 60 * kMin, kT0 + 60 * kMin),
      // Put-away of 15 at t0+120: clears receipt 1 (120 min) and half of receipt 2 (60 min).
      mv("d1", 3, MovementType::putaway, 15, dock, bin, kT0 + 120 * kMin, kT0 + 120 * kMin),
      // Put-away of 5 at t0+240: the rest of receipt 2 (180 min). Samples 120, 60, 180 → median 120 min.
      mv("d1", 4, MovementType::putaway, 5, dock, bin, kT0 + 240 * kMin, kT0 + 240 * kMin),
      // Four picks; seq 6 has a wrong_bin device exception.
      mv("d1", 5, MovementType::pick, 1, bin, tote, kT0 + 300 * kMin, kT0 + 300 * kMin),
      mv("d1", 6, MovementType::pick, 1, bin, tote, kT0 + 301 * kMin, kT0 + 301 * kMin),
      mv("d1", 7, MovementType::pick, 1, bin, tote, kT0 + 302 * kMin, kT0 + 302 * kMin),
      mv("d1", 8, MovementType::pick, 1, bin, tote, kT0 + 303 * kMin, kT0 + 303 * kMin),
      // d2 (offline for 10 minutes): two counts, the second differs (ledger adjust).
      mv("d2", 1, MovementType::count, 16, bin, bin, kT0 + 310 * kMin, kT0 + 320 * kMin),
      mv("d2", 2, MovementType::count, 15, bin, bin, kT0 + 311 * kMin, kT0 + 320 * kMin),
      mv(std::string(kLedgerDevice), 1, MovementType::adjust, 1, bin, ext("@adjustment"), kT0 + 320 * kMin,
         kT0 + 320 * kMin),
      // d2: damage of 1 unit. Damaged 1 of 20 received → 0.05.
      mv("d2", 3, MovementType::damage, 1, bin, at("A-01-01-1", StockState::damaged), kT0 + 330 * kMin,
         kT0 + 330 * kMin),
  };
  in.movements[10].movement.reference = "COUNT:d2:2";
  in.exceptions = {
      ex("device_exception", "d1", 6, "open", kT0 + 301 * kMin, {{"code", "wrong_bin"}}),    // age 299 min
      ex("count_difference", "d2", 2, "assigned", kT0 + 320 * kMin),                         // age 280 min
      ex("negative_balance", "d1", 8, "resolved", kT0 + 303 * kMin),                         // not queued
  };

  const auto k = compute_kpis(in, default_kpi_bands());
  EXPECT_EQ(k["movements"], 11);  // the ledger's own adjust is not a device movement

  // 2 counts, 1 differs: 0.5 < 0.95 → critical.
  EXPECT_DOUBLE_EQ(k["inventory_accuracy"]["value"].get<double>(), 0.5);
  EXPECT_EQ(k["inventory_accuracy"]["differences"], 1);
  EXPECT_EQ(k["inventory_accuracy"]["band"], "critical");
  // 4 picks, 1 wrong: 0.75 → critical.
  EXPECT_DOUBLE_EQ(k["pick_accuracy"]["value"].get<double>(), 0.75);
  EXPECT_EQ(k["pick_accuracy"]["band"], "critical");
  // 3 exceptions raised in the window / 11 device movements.
  EXPECT_DOUBLE_EQ(k["exception_rate"]["value"].get<double>(), 3.0 / 11.0);
  EXPECT_EQ(k["exception_rate"]["band"], "critical");
  // Queue: open + assigned = 2 → normal (≤ 20).
  EXPECT_DOUBLE_EQ(k["exception_queue"]["value"].get<double>(), 2.0);
  EXPECT_EQ(k["exception_queue"]["band"], "normal");
  // Ages 299 min and 280 min: oldest 17940 s (> 4 h: stressed), median 17370 s (> 1 h: stressed).
  EXPECT_DOUBLE_EQ(k["exception_oldest_age_s"]["value"].get<double>(), 299 * 60.0);
  EXPECT_EQ(k["exception_oldest_age_s"]["band"], "stressed");
  EXPECT_DOUBLE_EQ(k["exception_median_age_s"]["value"].get<double>(), (299 + 280) * 60.0 / 2);
  EXPECT_EQ(k["exception_median_age_s"]["band"], "stressed");
  // Dock-to-stock samples 120, 60, 180 min → median 7200 s: normal (≤ 4 h).
  EXPECT_EQ(k["dock_to_stock_median_s"]["samples"], 3);
  EXPECT_DOUBLE_EQ(k["dock_to_stock_median_s"]["value"].get<double>(), 7200.0);
  EXPECT_EQ(k["dock_to_stock_median_s"]["band"], "normal");
  // Damage 1 / 20 received = 0.05 → critical (> 0.01).
  EXPECT_DOUBLE_EQ(k["damage_rate"]["value"].get<double>(), 0.05);
  EXPECT_EQ(k["damage_rate"]["band"], "critical");
  // Sync lag: d1 worst 60 s (receipt 1) → normal; d2 worst 600 s (count 1) → stressed (> 300 s).
  EXPECT_DOUBLE_EQ(k["sync_lag_s"]["d1"]["value"].get<double>(), 60.0);
  EXPECT_EQ(k["sync_lag_s"]["d1"]["band"], "normal");
  EXPECT_DOUBLE_EQ(k["sync_lag_s"]["d2"]["value"].get<double>(), 600.0);
  EXPECT_DOUBLE_EQ(k["sync_lag_s"]["d2"]["median_s"].get<double>(), 540.0);  // 600, 540, 0 → 540
  EXPECT_EQ(k["sync_lag_s"]["d2"]["band"], "stressed");
  EXPECT_FALSE(k["sync_lag_s"].contains(std::string(kLedgerDevice)));
}

TEST(Kpi, NoDataWithoutDenominators) {
  KpiInput in;
  in.now_ms = kT0;
  const auto k = compute_kpis(in, default_kpi_bands());
  for (const char* name : {"inventory_accuracy", "pick_accuracy", "exception_rate", "exception_oldest_age_s",
                           "dock_to_stock_median_s", "damage_rate"}) {
    EXPECT_TRUE(k[name]["value"].is_null()) << name;
    EXPECT_EQ(k[name]["band"], "no_data") << name;
  }
  EXPECT_EQ(k["exception_queue"]["value"], 0.0);
  EXPECT_TRUE(k["sync_lag_s"].empty());
}

TEST(Kpi, BandsFollowDirectionAndConfig) {
  auto bands = default_kpi_bands();
  EXPECT_EQ(kpi_band_of(bands["pick_accuracy"], 1.0), "normal");
  EXPECT_EQ(kpi_band_of(bands["pick_accuracy"], 0.99), "stressed");
  EXPECT_EQ(kpi_band_of(bands["pick_accuracy"], 0.97), "critical");
  EXPECT_EQ(kpi_band_of(bands["sync_lag_s"], 300), "normal");  // the threshold itself is still normal
  EXPECT_EQ(kpi_band_of(bands["sync_lag_s"], 301), "stressed");
  ASSERT_TRUE(set_kpi_band(bands, "sync_lag_s", 10, 20));
  EXPECT_EQ(kpi_band_of(bands["sync_lag_s"], 25), "critical");
  EXPECT_EQ(set_kpi_band(bands, "sync_lag_s", 20, 10).error().code, "bad_config");
  EXPECT_EQ(set_kpi_band(bands, "pick_accuracy", 0.9, 0.95).error().code, "bad_config");
  EXPECT_EQ(set_kpi_band(bands, "nope", 1, 2).error().code, "bad_config");
  EXPECT_TRUE(is_pick_error(ex("wrong_item", "d", 1, "open", 0)));
  EXPECT_FALSE(is_pick_error(ex("negative_balance", "d", 1, "open", 0)));
}

// A correction (the reverse of the previous movement, reason CORRECTION)
// takes back what its original counted: a reversed receipt is not received,
// a reversed pick is not a pick, a reversed damage is not damaged.
TEST(Kpi, CorrectionsNetOut) {
  const auto dock = at("DOCK-1", StockState::inbound);
  const auto bin = at("A-01-01-1", StockState::available);
  const auto tote = at("TOTE:1", StockState::picked);
  const auto damaged = at("A-01-01-1", StockState::damaged);
  KpiInput in;
  in.now_ms = kT0 + 100 * kMin;
  in.window_ms = 24 * 60 * kMin;
  in.movements = {
      mv("d1", 1, MovementType::receipt, 10, ext("@supplier"), dock, kT0, kT0),
      mv("d1", 2, MovementType::receipt, 5, ext("@supplier"), dock, kT0 + kMin, kT0 + kMin),
      mv("d1", 3, MovementType::receipt, 5, dock, ext("@supplier"), kT0 + 2 * kMin, kT0 + 2 * kMin),  // corrects 2
      mv("d1", 4, MovementType::putaway, 10, dock, bin, kT0 + 10 * kMin, kT0 + 10 * kMin),
      mv("d1", 5, MovementType::pick, 1, bin, tote, kT0 + 11 * kMin, kT0 + 11 * kMin),
      mv("d1", 6, MovementType::pick, 1, tote, bin, kT0 + 12 * kMin, kT0 + 12 * kMin),  // corrects 5
      mv("d1", 7, MovementType::pick, 1, bin, tote, kT0 + 13 * kMin, kT0 + 13 * kMin),
      mv("d1", 8, MovementType::damage, 2, bin, damaged, kT0 + 14 * kMin, kT0 + 14 * kMin),
      mv("d1", 9, MovementType::damage, 2, damaged, bin, kT0 + 15 * kMin, kT0 + 15 * kMin),  // corrects 8
      mv("d1", 10, MovementType::damage, 1, bin, damaged, kT0 + 16 * kMin, kT0 + 16 * kMin),
  };
  for (std::size_t i : {2U, 5U, 8U}) in.movements[i].movement.reason = std::string(scanner::kCorrectionReason);
  const auto k = compute_kpis(in, default_kpi_bands());
  EXPECT_EQ(k["pick_accuracy"]["picks"], 1);
  EXPECT_EQ(k["damage_rate"]["received_units"], 10);
  EXPECT_EQ(k["damage_rate"]["damaged_units"], 1);
  // The put-away of 10 clears receipt 1 only (receipt 2 was taken back): 10 min.
  EXPECT_DOUBLE_EQ(k["dock_to_stock_median_s"]["value"].get<double>(), 600.0);
}

TEST(KpiSample, KeepsTheValuesAndTheDevicesLags) {
  KpiInput in;
  in.now_ms = kT0 + 10 * kMin;
  in.window_ms = 24 * 60 * kMin;
  in.movements = {mv("hh-1", 1, MovementType::receipt, 4, ext("@supplier"), at("DOCK-1", StockState::inbound), kT0,
                     kT0 + kMin),
                  mv("hh-1", 2, MovementType::putaway, 4, at("DOCK-1", StockState::inbound),
                     at("A-01-01-1", StockState::available), kT0 + 2 * kMin, kT0 + 2 * kMin)};
  const auto kpis = compute_kpis(in, default_kpi_bands());
  const auto sample = kpi_sample(kpis);
  EXPECT_EQ(sample["movements"], 2);
  EXPECT_EQ(sample["dock_to_stock_median_s"], 120.0);  // put away 2 min after the receipt
  EXPECT_TRUE(sample["pick_accuracy"].is_null());      // no picks: no data
  EXPECT_EQ(sample["exception_queue"], 0.0);
  EXPECT_EQ(sample["sync_lag_s"]["hh-1"], 60.0);  // the receipt was applied a minute after it happened
  EXPECT_FALSE(sample.contains("now_ms"));
  EXPECT_FALSE(sample["sync_lag_s"]["hh-1"].is_object());  // values only, no bands
}

}  // namespace
}  // namespace tally::ledger
