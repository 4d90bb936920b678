// The apply rules both ledger stores share (sqlite_store.cpp,
// postgres_store.cpp): balance keys, and what a count turns into. Private to
// sync/src/ledger; the stores own the transaction and the SQL.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

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

inline bool external_location(std::string_view code) { return !code.empty() && code.front() == '@'; }

inline std::string subject_of(const Key& k) {
  return std::get<0>(k) + "|" + std::get<1>(k) + "|" + std::get<2>(k) + "|" + std::get<3>(k);
}

std::string state_text(const scanner::Endpoint& e);

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

}  // namespace tally::ledger::rules
