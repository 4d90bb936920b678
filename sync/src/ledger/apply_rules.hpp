// The apply rules both ledger stores share (sqlite_store.cpp,
// postgres_store.cpp): balance keys, and what a count turns into. Private to
// sync/src/ledger; the stores own the transaction and the SQL.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/store.hpp"
#include "tally/scanner/domain.hpp"

namespace tally::ledger::rules {

// One balance row: item id (gtin, else sku), lot, location, state.
using Key = std::tuple<std::string, std::string, std::string, std::string>;

// A balance change of the batch not yet written, and the last movement that
// took from the row (the evidence of a negative_balance).
struct Pending {
  std::int64_t delta = 0;
  std::string device;
  std::uint64_t seq = 0;
};

// Ledger schema v2 → v3, the same on both stores (SQLite reads BIGINT as
// INTEGER): per balance row the last movement that took from it and the last
// one of another device (the evidence of conflicting_picks).
inline constexpr const char* kTakersMigration = R"sql(
ALTER TABLE balances ADD COLUMN taker_device TEXT NOT NULL DEFAULT '';
ALTER TABLE balances ADD COLUMN taker_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE balances ADD COLUMN other_device TEXT NOT NULL DEFAULT '';
ALTER TABLE balances ADD COLUMN other_seq BIGINT NOT NULL DEFAULT 0;
)sql";

inline bool external_location(std::string_view code) { return !code.empty() && code.front() == '@'; }

inline std::string subject_of(const Key& k) {
  return std::get<0>(k) + "|" + std::get<1>(k) + "|" + std::get<2>(k) + "|" + std::get<3>(k);
}

std::string state_text(const scanner::Endpoint& e);

// A balance row that a batch left below zero (qty < 0) raises one exception
// (unless one of these kinds is already open for the row):
// conflicting_picks when the movement that took last from it in the batch
// (`last_take`) is a pick and the last movement of another device that took
// from it before (`other_take`, empty when none) is a pick too (two devices
// picked the same units, e.g. both offline); else negative_balance. Both
// takes are the stored canonical texts; the evidence names both devices and
// both movements (seq, operator, time, qty, scans).
inline constexpr std::string_view kNegativeKinds[] = {"negative_balance", "conflicting_picks"};
ExceptionRecord negative_exception(const Key& key, std::int64_t qty, const std::string& site,
                                   const std::string& last_take, const std::string& other_take);

// The counts one count movement stands for, each with what is booked for it:
// the count itself, or, for an empty-bin count (item sku
// scanner::kEmptyBinSku), a zero count of every (item, lot) booked non-zero
// at that bin and state (`in_bin`: the stored balances with the batch's
// pending deltas added).
std::vector<std::pair<scanner::Movement, std::int64_t>> expand_count(
    const scanner::Movement& count, std::int64_t booked,
    const std::map<std::pair<std::string, std::string>, std::int64_t>& in_bin);

// The ledger's adjust movement for a count that differs from the booked qty
// (count.qty != booked), with seq `ledger_seq` of the ledger's own device.
scanner::Movement count_adjustment(const scanner::Movement& count, std::int64_t booked, std::uint64_t ledger_seq,
                                   std::int64_t now_ms);
// The count_difference exception about it.
ExceptionRecord count_exception(const scanner::Movement& count, std::int64_t booked, const scanner::Movement& adjust);

// The exception lifecycle (open → assigned → resolved) both stores run in
// one transaction of theirs (Store::update_exception). check_exception_action
// refuses a bad request before anything is read (error "bad_request");
// exception_after is the record as the action leaves it, given the record as
// it stands, read in that transaction (error "conflict": resolved already).
Result<void> check_exception_action(const std::string& action, const std::string& owner);
Result<ExceptionRecord> exception_after(ExceptionRecord current, const std::string& action, const std::string& owner,
                                        const std::string& note, std::int64_t now_ms);

// The record put_master_data stores next for (kind, scope): version one
// past `current` (1 without), its published chunk count carried over, the
// payload with "v":1 and that "version" (invalid UTF-8 replaced).
MasterDataRecord next_master_data(const std::optional<MasterDataRecord>& current, const std::string& kind,
                                  const std::string& scope, const nlohmann::json& payload);

// Store::check_invariants written once: each check's SQL (the same text in
// both dialects) and the sentence a row of it makes (its columns as text).
struct InvariantCheck {
  const char* kind;  // Violation::kind
  const char* sql;
  std::string (*describe)(const std::vector<std::string>& row);
};
const std::vector<InvariantCheck>& invariant_checks();

}  // namespace tally::ledger::rules
