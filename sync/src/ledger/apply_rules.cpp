#include "apply_rules.hpp"

#include <algorithm>

namespace tally::ledger::rules {

using scanner::Movement;

std::string state_text(const scanner::Endpoint& e) {
  return e.state ? std::string(scanner::to_string(*e.state)) : std::string();
}

namespace {

// The item of a balance row's id: 14 digits are a GTIN, anything else a SKU.
scanner::Item item_of(const std::string& id, const std::string& lot) {
  scanner::Item item;
  const bool gtin = id.size() == 14 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
  (gtin ? item.gtin : item.sku) = id;
  item.lot = lot;
  return item;
}

}  // namespace

std::vector<std::pair<Movement, std::int64_t>> expand_count(
    const Movement& count, std::int64_t booked, const std::map<std::pair<std::string, std::string>, std::int64_t>& in_bin) {
  std::vector<std::pair<Movement, std::int64_t>> out;
  if (count.item.gtin.empty() && count.item.sku == scanner::kEmptyBinSku) {
    for (const auto& [item_lot, qty] : in_bin) {
      if (qty == 0 || item_lot.first == scanner::kEmptyBinSku) continue;
      Movement zero = count;
      zero.item = item_of(item_lot.first, item_lot.second);
      zero.qty = 0;
      out.emplace_back(std::move(zero), qty);
    }
    return out;
  }
  out.emplace_back(count, booked);
  return out;
}

Movement count_adjustment(const Movement& count, std::int64_t booked, std::uint64_t ledger_seq, std::int64_t now_ms) {
  const std::int64_t diff = count.qty - booked;
  Movement adjust;
  adjust.device = std::string(kLedgerDevice);
  adjust.site = count.site;
  adjust.seq = ledger_seq;
  adjust.operator_id = std::string(kLedgerDevice);
  adjust.type = scanner::MovementType::adjust;
  adjust.item = count.item;
  adjust.qty = diff > 0 ? diff : -diff;
  if (diff > 0) {
    adjust.from = scanner::Endpoint{scanner::kAdjustment, std::nullopt};
    adjust.to = count.from;
  } else {
    adjust.from = count.from;
    adjust.to = scanner::Endpoint{scanner::kAdjustment, std::nullopt};
  }
  adjust.reason = "count_difference";
  adjust.reference = "COUNT:" + count.device + ":" + std::to_string(count.seq);
  adjust.evidence = count.evidence;
  adjust.wall_time_ms = now_ms;
  return adjust;
}

ExceptionRecord count_exception(const Movement& count, std::int64_t booked, const Movement& adjust) {
  const std::int64_t diff = count.qty - booked;
  const std::string state = state_text(count.from);
  ExceptionRecord e;
  e.kind = "count_difference";
  e.device = count.device;
  e.seq = count.seq;
  e.owner = "inventory-control";
  e.priority = (diff < 0 ? -diff : diff) >= 10 ? "high" : "medium";
  e.evidence = {{"device", count.device},
                {"seqs", {count.seq}},
                {"scans", count.evidence},
                {"item", count.item.id()},
                {"lot", count.item.lot},
                {"location", count.from.location.code},
                {"state", state},
                {"booked", booked},
                {"counted", count.qty},
                {"difference", diff},
                {"adjust", {{"device", adjust.device}, {"seq", adjust.seq}}}};
  e.next_action = "review the adjustment of " + std::to_string(diff) + " at " + count.from.location.code +
                  " and recount if it is not explained";
  e.subject = subject_of(Key{count.item.id(), count.item.lot, count.from.location.code, state});
  return e;
}

}  // namespace tally::ledger::rules
