#include "apply_step.hpp"

#include <nlohmann/json.hpp>

#include "tally/wire/movement_json.hpp"

namespace tally::ledger::rules {

using scanner::Movement;
using scanner::MovementType;

Result<ApplyOutcome> ApplyStep::apply(const Batch& batch, ApplySql& sql) {
  sql_ = &sql;
  ApplyOutcome out;
  pending_.clear();
  lot_expiry_.clear();
  ledger_seq_.reset();
  ledger_applied_ = 0;
  auto at = sql.device_through(batch.device, batch.site, batch.now_ms);
  if (!at) return at.error();
  std::uint64_t through = *at;
  for (const Incoming& in : batch.movements) {
    if (in.seq <= through) {
      ++out.duplicates;
      continue;
    }
    if (in.seq != through + 1) {
      out.gap = true;
      break;
    }
    if (in.movement) {
      if (auto r = store_movement(*in.movement, in.payload, batch.now_ms); !r) return r.error();
      if (in.movement->type == MovementType::count) {
        if (auto r = apply_count(*in.movement, batch, out); !r) return r.error();
      }
      ++out.applied;
    } else {
      if (auto r = reject(batch, in, out); !r) return r.error();
    }
    for (const ExceptionRecord& e : in.raise) {  // raised by Ledger: hash chain, clock, master data
      if (auto r = raise(e, batch.now_ms, out); !r) return r.error();
    }
    through = in.seq;
  }
  out.applied_through = through;
  if (auto r = sql.upsert_device(batch.device, batch.site, through, batch.now_ms,
                                 static_cast<std::int64_t>(batch.movements.size()),
                                 static_cast<std::int64_t>(out.applied), static_cast<std::int64_t>(out.rejected.size()));
      !r) {
    return r.error();
  }
  if (ledger_seq_ && ledger_applied_ > 0) {
    const auto n = static_cast<std::int64_t>(ledger_applied_);
    if (auto r = sql.upsert_device(std::string(kLedgerDevice), batch.site, *ledger_seq_, batch.now_ms, n, n, 0); !r) {
      return r.error();
    }
  }
  if (auto r = flush(batch, out); !r) return r.error();
  return out;
}

Result<void> ApplyStep::raise(const ExceptionRecord& e, std::int64_t now_ms, ApplyOutcome& out) {
  auto id = sql_->insert_exception(e, now_ms);
  if (!id) return id.error();
  out.exceptions.push_back(*id);
  return {};
}

Result<void> ApplyStep::store_movement(const Movement& m, std::string_view payload, std::int64_t now_ms) {
  const std::string& item = m.item.id();
  const std::string from_state = state_text(m.from);
  const std::string to_state = state_text(m.to);
  if (auto r = sql_->insert_movement(m, payload, from_state, to_state, now_ms); !r) return r;
  if (m.type == MovementType::count) return {};
  Pending& from = pending_[Key{item, m.item.lot, m.from.location.code, from_state}];
  from.delta -= m.qty;
  if (m.device != kLedgerDevice) {  // count adjustments are not takes of a device
    from.device = m.device;
    from.seq = m.seq;
  }
  pending_[Key{item, m.item.lot, m.to.location.code, to_state}].delta += m.qty;
  if (!m.item.expiry.empty() && !m.item.lot.empty()) lot_expiry_.emplace(std::pair{item, m.item.lot}, m.item.expiry);
  return {};
}

// A count: the difference between counted and booked becomes an adjust
// movement of device "ledger" and a count_difference exception.
Result<void> ApplyStep::apply_count(const Movement& count, const Batch& batch, ApplyOutcome& out) {
  const std::string state = state_text(count.from);
  const Key key{count.item.id(), count.item.lot, count.from.location.code, state};
  auto booked = sql_->balance_of(key);
  if (!booked) return booked.error();
  if (const auto it = pending_.find(key); it != pending_.end()) *booked += it->second.delta;  // not yet written
  std::map<std::pair<std::string, std::string>, std::int64_t> in_bin;
  if (count.item.sku == scanner::kEmptyBinSku) {
    auto rows = sql_->bin_balances(count.from.location.code, state);
    if (!rows) return rows.error();
    in_bin = std::move(*rows);
    for (const auto& [k, pend] : pending_) {
      if (std::get<2>(k) == count.from.location.code && std::get<3>(k) == state) {
        in_bin[{std::get<0>(k), std::get<1>(k)}] += pend.delta;
      }
    }
  }
  for (const auto& [one, one_booked] : expand_count(count, *booked, in_bin)) {
    if (one.qty == one_booked) continue;
    if (!ledger_seq_) {
      auto at = sql_->device_through(std::string(kLedgerDevice), batch.site, batch.now_ms);
      if (!at) return at.error();
      ledger_seq_ = *at;
    }
    const Movement adjust = count_adjustment(one, one_booked, ++*ledger_seq_, batch.now_ms);
    if (auto v = scanner::validate(adjust); !v) return v.error();
    if (auto r = store_movement(adjust, wire::to_json_text(adjust), batch.now_ms); !r) return r;
    ++ledger_applied_;
    if (auto r = raise(count_exception(one, one_booked, adjust), batch.now_ms, out); !r) return r;
  }
  return {};
}

Result<void> ApplyStep::reject(const Batch& batch, const Incoming& in, ApplyOutcome& out) {
  const std::string reason = reason_text(in.error);
  if (auto r = sql_->insert_rejected(batch.device, in.seq, reason, in.payload, batch.now_ms); !r) return r;
  out.rejected.push_back(Rejection{in.seq, reason});
  ExceptionRecord e;
  const bool forged = in.error.code == "forged_device";
  e.kind = forged ? "forged_device" : "rejected_movement";
  e.device = batch.device;
  e.seq = in.seq;
  e.owner = forged ? "security" : "supervisor";
  e.priority = forged ? "high" : "medium";
  nlohmann::json raw = nlohmann::json::parse(in.payload, nullptr, false);
  nlohmann::json scans = nlohmann::json::array();
  if (raw.is_object() && raw.contains("evidence") && raw["evidence"].is_array()) scans = raw["evidence"];
  e.evidence = {{"device", batch.device}, {"site", batch.site}, {"seqs", {in.seq}}, {"scans", scans},
                {"reason", reason}};
  e.next_action = forged ? "check the credentials of device " + batch.device
                         : "correct the movement on device " + batch.device + " and record it again";
  return raise(e, batch.now_ms, out);
}

// Writes the batch's lots and balance rows (one write per row); a row the
// batch took below zero raises negative_balance or conflicting_picks.
Result<void> ApplyStep::flush(const Batch& batch, ApplyOutcome& out) {
  for (const auto& [item_lot, expiry] : lot_expiry_) {
    if (auto r = sql_->insert_lot(item_lot.first, item_lot.second, expiry); !r) return r;
  }
  for (const auto& [key, p] : pending_) {
    if (p.delta == 0) continue;  // e.g. put away and picked again in one batch: nothing to write
    // Only a net take can go below zero; only it records the row's taker.
    if (external_location(std::get<2>(key)) || p.delta > 0 || p.seq == 0) {
      if (auto r = sql_->add_balance(key, p.delta); !r) return r;
      continue;
    }
    auto taken = sql_->take_balance(key, p.delta, p.device, p.seq);
    if (!taken) return taken.error();
    if (taken->qty < 0) {
      if (auto r = raise_negative(key, *taken, p, batch, out); !r) return r;
    }
  }
  return {};
}

Result<void> ApplyStep::raise_negative(const Key& key, const Taken& taken, const Pending& who, const Batch& batch,
                                       ApplyOutcome& out) {
  auto open = sql_->negative_open(subject_of(key));
  if (!open) return open.error();
  if (*open) return {};
  auto last = sql_->movement_payload(who.device, who.seq);
  if (!last) return last.error();
  std::string other;
  if (taken.other_seq != 0) {
    auto text = sql_->movement_payload(taken.other_device, taken.other_seq);
    if (!text) return text.error();
    other = std::move(*text);
  }
  return raise(negative_exception(key, taken.qty, batch.site, *last, other), batch.now_ms, out);
}

}  // namespace tally::ledger::rules
