#include "apply_rules.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tally/wire/movement_json.hpp"

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

// A stored movement (canonical text) as exception evidence.
std::optional<Movement> stored_movement(const std::string& payload) {
  if (payload.empty()) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  auto m = wire::movement_from_json(j);
  if (!m) return std::nullopt;
  return std::move(*m);
}

nlohmann::json take_evidence(const Movement& m) {
  return {{"device", m.device},
          {"seq", m.seq},
          {"type", scanner::to_string(m.type)},
          {"operator", m.operator_id},
          {"qty", m.qty},
          {"device_time_ms", m.wall_time_ms},
          {"reference", m.reference},
          {"to", m.to.location.code},
          {"scans", m.evidence}};
}

std::string who(const Movement& m) {
  return m.device + " seq " + std::to_string(m.seq) + " (" + m.operator_id + ")";
}

}  // namespace

ExceptionRecord negative_exception(const Key& key, std::int64_t qty, const std::string& site,
                                   const std::string& last_take, const std::string& other_take) {
  const auto& [item, lot, location, state] = key;
  const auto last = stored_movement(last_take);
  const auto other = stored_movement(other_take);
  const bool conflict = last && other && last->type == scanner::MovementType::pick &&
                        other->type == scanner::MovementType::pick && other->device != last->device;
  ExceptionRecord e;
  e.kind = conflict ? "conflicting_picks" : "negative_balance";
  e.device = last ? last->device : std::string();
  e.seq = last ? last->seq : 0;
  e.owner = "inventory-control";
  e.priority = "high";
  nlohmann::json seqs = nlohmann::json::array();
  nlohmann::json movements = nlohmann::json::array();
  nlohmann::json devices = nlohmann::json::array();
  for (const auto* m : {&last, &other}) {
    if (!*m) continue;
    seqs.push_back((*m)->seq);
    movements.push_back(take_evidence(**m));
    devices.push_back((*m)->device);
  }
  e.evidence = {{"device", e.device},
                {"site", site},
                {"seqs", seqs},
                {"scans", last ? nlohmann::json(last->evidence) : nlohmann::json::array()},
                {"item", item},
                {"lot", lot},
                {"location", location},
                {"state", state},
                {"qty", qty},
                {"movements", std::move(movements)}};
  if (conflict) {
    e.evidence["devices"] = std::move(devices);
    e.next_action = "count bin " + location + ": " + who(*other) + " and " + who(*last) + " both picked " + item +
                    " there and the bin had too little for both; correct the pick that got no goods";
  } else {
    e.next_action = "count bin " + location;
  }
  e.subject = subject_of(key);
  return e;
}

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

Result<void> check_exception_action(const std::string& action, const std::string& owner) {
  if (action != "assign" && action != "resolve") {
    return make_error("bad_request", "action must be \"assign\" or \"resolve\"");
  }
  if (action == "assign" && owner.empty()) return make_error("bad_request", "assign needs an owner");
  return {};
}

Result<ExceptionRecord> exception_after(ExceptionRecord current, const std::string& action, const std::string& owner,
                                        const std::string& note, std::int64_t now_ms) {
  if (auto ok = check_exception_action(action, owner); !ok) return ok.error();
  if (current.status == "resolved") {
    return make_error("conflict", "exception " + std::to_string(current.id) + " is resolved");
  }
  if (action == "assign") {
    current.status = "assigned";
    current.owner = owner;
  } else {
    current.status = "resolved";
    current.resolved_ms = now_ms;
    if (!owner.empty()) current.owner = owner;
  }
  if (!note.empty()) current.note = note;
  return current;
}

MasterDataRecord next_master_data(const std::optional<MasterDataRecord>& current, const std::string& kind,
                                  const std::string& scope, const nlohmann::json& payload) {
  MasterDataRecord rec;
  rec.kind = kind;
  rec.scope = scope;
  rec.version = current ? current->version + 1 : 1;
  rec.published_chunks = current ? current->published_chunks : 0;
  nlohmann::json copy = payload;
  copy["v"] = 1;
  copy["version"] = rec.version;
  rec.payload = copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return rec;
}

namespace {

// The balances the movements give (count movements excluded: their
// adjustments are movements of their own).
#define TALLY_DERIVED_BALANCES                                                                     \
  "WITH d(item, lot, location, state, qty) AS ("                                                   \
  " SELECT item, lot, from_location, from_state, -qty FROM movements WHERE type != 'count'"        \
  " UNION ALL SELECT item, lot, to_location, to_state, qty FROM movements WHERE type != 'count')," \
  " s AS (SELECT item, lot, location, state, SUM(qty) AS qty FROM d GROUP BY 1, 2, 3, 4) "

std::string key_text(const std::vector<std::string>& row) {
  return "item " + row.at(0) + " lot '" + row.at(1) + "' at " + row.at(2) + " (" + row.at(3) + ")";
}

std::string mismatch(const std::vector<std::string>& row) {
  return key_text(row) + ": movements sum to " + row.at(4) + ", balance is " + row.at(5);
}

}  // namespace

const std::vector<InvariantCheck>& invariant_checks() {
  static const std::vector<InvariantCheck> checks{
      {"sum_not_zero", "SELECT item, lot, SUM(qty) FROM balances GROUP BY item, lot HAVING SUM(qty) != 0",
       [](const std::vector<std::string>& row) {
         return "item " + row.at(0) + " lot '" + row.at(1) + "' sums to " + row.at(2) + ", not 0";
       }},
      {"external_state",
       "SELECT item, lot, location, state FROM balances WHERE (substr(location, 1, 1) = '@') != (state = '')",
       [](const std::vector<std::string>& row) {
         return key_text(row) + ": state must be empty exactly for external parties";
       }},
      {"balance_mismatch",
       TALLY_DERIVED_BALANCES "SELECT s.item, s.lot, s.location, s.state, s.qty, COALESCE(b.qty, 0) FROM s LEFT JOIN "
                              "balances AS b USING (item, lot, location, state) WHERE s.qty != COALESCE(b.qty, 0)",
       mismatch},
      {"balance_mismatch",
       TALLY_DERIVED_BALANCES "SELECT b.item, b.lot, b.location, b.state, 0, b.qty FROM balances AS b LEFT JOIN s "
                              "USING (item, lot, location, state) WHERE s.qty IS NULL AND b.qty != 0",
       mismatch},
  };
  return checks;
}

#undef TALLY_DERIVED_BALANCES

}  // namespace tally::ledger::rules
