// Inbound message handling of tally-ledger (see tally/ledger/ledger.hpp and
// docs/PROTOCOL.md "## Ledger").
#include "tally/ledger/ledger.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "tally/scanner/master_data.hpp"
#include "tally/wire/movement_json.hpp"
#include "tally/wire/protocol.hpp"

namespace tally::ledger {

using nlohmann::json;


namespace {

// Who handles a device-side exception, how urgent it is and what to do
// (docs/PROTOCOL.md "Device exceptions").
struct Triage {
  const char* owner;
  const char* priority;
  const char* action;
};
Triage triage(std::string_view kind) {
  if (kind == "expired_lot") return {"quality", "high", "move the expired lot out of pickable stock (hold or scrap) and check the bin for more of it"};
  if (kind == "short_pick") return {"inventory", "high", "count the bin: the picker found less than the task expected"};
  if (kind == "wrong_bin") return {"inventory", "low", "check the bin label and the task's bin; coach the picker if the scan was a slip"};
  if (kind == "wrong_item" || kind == "wrong_lot") return {"inventory", "medium", "check what the bin really holds against the ledger and the task"};
  if (kind == "unknown_item") return {"master_data", "medium", "add the scanned code to the catalog or relabel the goods"};
  if (kind == "over_receipt" || kind == "under_receipt" || kind == "unexpected_item") return {"receiving", "medium", "reconcile the receipt with the supplier's PO/ASN"};
  if (kind == "allowance_exceeded") return {"inventory", "high", "check the bin: this offline pick went beyond the device's allowance and may have taken stock escrowed for another device (see conflicting_picks / negative_balance on the same seq)"};
  if (kind == "not_suggested_bin") return {"inventory", "low", "confirm the goods are in the bin scanned, or move them to the suggested one"};
  return {"supervisor", "medium", "review the evidence with the operator"};
}

}  // namespace

std::optional<MovementsTopic> parse_movements_topic(std::string_view topic) {
  return wire::parse_device_topic(topic, "movements");
}

std::optional<MovementsTopic> parse_exceptions_topic(std::string_view topic) {
  return wire::parse_device_topic(topic, "exceptions");
}

std::optional<MovementsTopic> parse_status_topic(std::string_view topic) {
  return wire::parse_device_topic(topic, "status");
}

Result<DeviceStatus> parse_status(const MovementsTopic& topic, std::string_view payload, std::int64_t now_ms) {
  auto parsed = wire::parse_status(topic, payload);
  if (!parsed) return parsed.error();
  DeviceStatus st;
  st.device = topic.device;
  st.site = topic.site;
  st.received_ms = now_ms;
  st.online = parsed->online;
  st.pending = parsed->pending;
  st.last_seq = parsed->last_seq;
  st.version = std::move(parsed->version);
  return st;
}

Result<DeviceExceptionBatch> parse_exceptions(const MovementsTopic& topic, std::string_view payload,
                                              std::int64_t now_ms) {
  constexpr std::size_t kMaxElements = 1000;
  auto j = wire::parse_envelope(topic, payload, "exceptions");
  if (!j) return j.error();
  const json* list = &(*j)["exceptions"];
  if (list->size() > kMaxElements) return make_error("bad_batch", "more than 1000 exceptions in one message");
  DeviceExceptionBatch batch;
  batch.device = topic.device;
  batch.site = topic.site;
  batch.now_ms = now_ms;
  std::int64_t last_id = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& element = (*list)[i];
    const std::string where = "exception " + std::to_string(i) + ": ";
    if (!element.is_object()) return make_error("bad_batch", where + "must be an object");
    const auto id = element.find("id");
    if (id == element.end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0 ||
        id->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
      return make_error("bad_batch", where + "\"id\" must be a positive integer");
    }
    const auto id_value = id->get<std::int64_t>();
    if (id_value <= last_id) return make_error("bad_batch", where + "ids must be ascending");
    last_id = id_value;
    std::optional<std::uint64_t> seq;
    Result<scanner::DeviceException> x = make_error("bad_json", "\"seq\" must be null or a positive integer");
    if (const auto s = element.find("seq"); s == element.end() || s->is_null()) {
      x = wire::device_exception_from_json(element);
    } else if (s->is_number_unsigned() && s->get<std::uint64_t>() > 0) {
      seq = s->get<std::uint64_t>();
      x = wire::device_exception_from_json(element);
    }
    if (!x) {
      // The id is sound, so the cursor can pass it: the element itself is
      // kept as evidence for a person (never dropped, never retried forever).
      ExceptionRecord e;
      e.kind = "rejected_device_exception";
      e.device = batch.device;
      e.owner = "supervisor";
      e.priority = "medium";
      e.next_action = "read the element the device sent and fix the device (its software or journal)";
      e.subject = batch.device + ":device_exception:" + std::to_string(id_value);
      e.created_ms = now_ms;
      e.evidence = {{"device", batch.device},         {"site", batch.site},
                    {"seqs", json::array()},          {"scans", json::array()},
                    {"device_exception_id", id_value}, {"reason", reason_text(x.error())},
                    {"element", wire::dump(element).substr(0, 64 * 1024)}};
      batch.exceptions.emplace_back(id_value, std::move(e));
      continue;
    }
    const Triage t = triage(x->kind);
    ExceptionRecord e;
    e.kind = x->kind;
    e.device = batch.device;
    e.seq = seq.value_or(0);
    e.owner = t.owner;
    e.priority = t.priority;
    e.next_action = t.action;
    e.subject = batch.device + ":device_exception:" + std::to_string(id_value);
    e.created_ms = now_ms;
    e.evidence = {{"device", batch.device},
                  {"site", batch.site},
                  {"seqs", seq ? json::array({*seq}) : json::array()},
                  {"scans", x->evidence},
                  {"source", "device"},
                  {"device_exception_id", id_value},
                  {"operator", x->operator_id},
                  {"mode", x->mode},
                  {"expected", x->expected},
                  {"scanned", x->scanned},
                  {"task", x->task},
                  {"reason", x->reason},
                  {"device_time_ms", x->time_ms}};
    batch.exceptions.emplace_back(id_value, std::move(e));
  }
  return batch;
}

Result<Batch> parse_batch(const MovementsTopic& topic, std::string_view payload, std::int64_t now_ms) {
  auto j = wire::parse_envelope(topic, payload, "movements");
  if (!j) return j.error();
  const json* list = &(*j)["movements"];
  Batch batch;
  batch.device = topic.device;
  batch.site = topic.site;
  batch.now_ms = now_ms;
  batch.movements.reserve(list->size());
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& element = (*list)[i];
    const auto seq = element.is_object() ? element.find("seq") : element.end();
    if (!element.is_object() || seq == element.end() || !seq->is_number_unsigned() ||
        seq->get<std::uint64_t>() == 0) {
      return make_error("bad_batch", "movement " + std::to_string(i) + " has no positive integer \"seq\"");
    }
    Incoming in;
    in.seq = seq->get<std::uint64_t>();
    if (in.seq <= last) return make_error("bad_batch", "seqs must ascend (movement " + std::to_string(i) + ")");
    last = in.seq;
    auto parsed = wire::movement_from_json(element);
    if (!parsed) {
      in.error = parsed.error();
    } else if (parsed->device != batch.device || parsed->site != batch.site) {
      in.error = make_error("forged_device", "movement " + std::to_string(in.seq) + " names " + parsed->device +
                                                 "@" + parsed->site + " in a batch of " + batch.device + "@" +
                                                 batch.site);
    } else {
      in.movement = std::move(*parsed);
    }
    if (in.movement) {
      wire::to_json_text(*in.movement, in.payload);
    } else {
      in.payload = wire::dump(element);
    }
    // Hash chain members (optional: a device without the chain omits both).
    for (auto [key, out] : {std::pair{"hash", &in.hash}, std::pair{"prev_hash", &in.prev_hash}}) {
      const auto h = element.find(key);
      if (h == element.end()) continue;
      *out = h->is_string() ? h->get<std::string>() : wire::dump(*h);
    }
    if (in.movement && !in.hash.empty()) in.computed_hash = wire::chain_hash(in.prev_hash, in.payload);
    batch.movements.push_back(std::move(in));
  }
  return batch;
}

void Ledger::verify_chain(Batch& batch) {
  auto it = chain_heads_.find(batch.device);
  if (it == chain_heads_.end()) {
    auto at = store_.applied_through(batch.device);
    if (!at) return;  // the apply will fail the same way; nothing to verify against
    // After a restart the last hash is not known: the chain re-anchors at the
    // next movement's prev_hash (seq 1 must start from the genesis hash).
    it = chain_heads_.emplace(batch.device, ChainHead{*at, {}}).first;
  }
  ChainHead& head = it->second;
  for (Incoming& in : batch.movements) {
    if (in.seq <= head.seq) continue;     // duplicate: the store ignores it
    if (in.seq != head.seq + 1) break;    // gap: the store stops here
    check_clock(batch, in);               // only movements the store will apply
    if (in.hash.empty() && in.prev_hash.empty()) {
      head = ChainHead{in.seq, {}};  // an unchained (older) device: nothing to verify
      continue;
    }
    std::vector<std::string> problems;
    const std::string& expected_prev = in.seq == 1 ? std::string(wire::kGenesisHash) : head.hash;
    if (!wire::is_chain_hash(in.hash)) problems.emplace_back("\"hash\" is missing or not 64 lower-case hex digits");
    if (!expected_prev.empty() && in.prev_hash != expected_prev) {
      problems.emplace_back("prev_hash differs from the hash of seq " + std::to_string(in.seq - 1));
    }
    if (in.movement && in.computed_hash != in.hash) {
      problems.emplace_back("the movement's content does not match its hash (altered after it was journaled)");
    }
    if (!problems.empty()) {
      ExceptionRecord e;
      e.kind = "hash_chain_break";
      e.device = batch.device;
      e.seq = in.seq;
      e.owner = "security";
      e.priority = "high";
      e.subject = batch.device + ":" + std::to_string(in.seq);
      json scans = json::array();
      if (in.movement) scans = in.movement->evidence;
      e.evidence = {{"device", batch.device},
                    {"site", batch.site},
                    {"seqs", json::array({in.seq})},
                    {"scans", std::move(scans)},
                    {"problems", problems},
                    {"expected_prev_hash", expected_prev.empty() ? json(nullptr) : json(expected_prev)},
                    {"prev_hash", in.prev_hash},
                    {"hash", in.hash},
                    {"computed_hash", in.movement ? json(in.computed_hash) : json(nullptr)},
                    {"movement", in.payload}};
      e.next_action = "compare seq " + std::to_string(in.seq) + " of " + batch.device +
                      " with the device's journal and find who changed it (the movement was " +
                      (in.movement ? "applied" : "rejected") + " as received)";
      e.created_ms = batch.now_ms;
      in.raise.push_back(std::move(e));
    }
    head = ChainHead{in.seq, in.hash};  // re-anchor: one break raises one exception
  }
}

Result<std::vector<Rejection>> Ledger::check_conflicts(const Batch& batch) {
  std::vector<Rejection> out;
  std::uint64_t at = 0;
  if (const auto head = chain_heads_.find(batch.device); head != chain_heads_.end()) {
    at = head->second.seq;
  } else if (auto stored = store_.applied_through(batch.device); stored) {
    at = *stored;
  } else {
    return stored.error();
  }
  std::uint64_t first = 0, last = 0;
  for (const Incoming& in : batch.movements) {
    if (in.seq > at) break;
    if (!in.movement) continue;  // a rejected element is compared with nothing
    if (first == 0) first = in.seq;
    last = in.seq;
  }
  if (first == 0) return out;  // no duplicates: the usual case costs nothing
  auto rows = store_.movements(batch.device, first - 1, static_cast<std::size_t>(last - first + 1));
  if (!rows) return rows.error();
  std::map<std::uint64_t, const std::string*> stored;
  for (const StoredMovement& r : *rows) stored[r.seq] = &r.payload;
  if (!conflicts_loaded_) {  // once per process: what is raised already
    for (const char* status : {"open", "assigned"}) {
      auto open = store_.exceptions(status);
      if (!open) return open.error();
      for (const ExceptionRecord& e : *open) {
        if (e.kind != "seq_conflict") continue;
        for (const auto& s : e.evidence.value("seqs", json::array())) {
          if (s.is_number_unsigned()) conflicts_raised_[e.device].insert(s.get<std::uint64_t>());
        }
      }
    }
    conflicts_loaded_ = true;
  }
  auto& raised = conflicts_raised_[batch.device];
  json seqs = json::array(), received = json::array(), held = json::array();
  std::size_t matching = 0;
  const Incoming* first_conflict = nullptr;
  for (const Incoming& in : batch.movements) {
    if (in.seq > at) break;
    const auto s = stored.find(in.seq);
    if (!in.movement || s == stored.end()) continue;
    if (*s->second == in.payload) {
      ++matching;
      continue;
    }
    out.push_back({in.seq, "seq_conflict: the ledger holds other content for seq " + std::to_string(in.seq) +
                               " of " + batch.device + "; not applied"});
    if (!raised.insert(in.seq).second) continue;  // raised before
    if (!first_conflict) first_conflict = &in;
    seqs.push_back(in.seq);
    received.push_back(in.payload);
    held.push_back(*s->second);
  }
  if (!first_conflict) return out;
  ExceptionRecord e;
  e.kind = "seq_conflict";
  e.device = batch.device;
  e.seq = first_conflict->seq;
  e.owner = "it";
  e.priority = "high";
  e.subject = batch.device + ":" + std::to_string(first_conflict->seq);
  e.evidence = {{"device", batch.device},
                {"site", batch.site},
                {"seqs", seqs},
                {"scans", first_conflict->movement->evidence},
                {"applied_through", at},
                {"received", std::move(received)},
                {"stored", std::move(held)},
                {"matching_duplicates", matching},
                {"likely", matching > 0 || first_conflict->seq > 1
                               ? "a journal restored from an older backup: it re-sent seqs it had sent, then "
                                 "recorded new movements under seqs the ledger already holds"
                               : "a new journal under an id the ledger already knows (a replaced device "
                                 "given a retired id)"}};
  e.next_action = "device " + batch.device + " sent seqs " + std::to_string(first_conflict->seq) + "…" +
                  std::to_string(seqs.back().get<std::uint64_t>()) +
                  " with other content than the ledger holds for them; they were NOT applied. Check with the "
                  "operator which of the received movements (evidence \"received\") happened and book them, then "
                  "give the device a new id with a new journal (or restore its latest journal)";
  e.created_ms = batch.now_ms;
  if (auto id = store_.raise_exception(e); !id) {
    for (const auto& s : seqs) raised.erase(s.get<std::uint64_t>());
    return id.error();
  }
  return out;
}

void Ledger::check_clock(const Batch& batch, Incoming& in) {
  if (!in.movement) return;
  bool& skewed = skewed_[batch.device];
  const std::int64_t ahead = in.movement->wall_time_ms - batch.now_ms;
  if (ahead <= options_.clock_skew_ms) {
    skewed = false;
    return;
  }
  if (skewed) return;
  skewed = true;
  {
    ExceptionRecord e;
    e.kind = "clock_skew";
    e.device = batch.device;
    e.seq = in.seq;
    e.owner = "it";
    e.priority = "medium";
    e.subject = batch.device;
    e.evidence = {{"device", batch.device},
                  {"site", batch.site},
                  {"seqs", json::array({in.seq})},
                  {"scans", in.movement->evidence},
                  {"device_time_ms", in.movement->wall_time_ms},
                  {"ledger_time_ms", batch.now_ms},
                  {"ahead_ms", ahead}};
    e.next_action = "set the clock of " + batch.device + " (NTP); its movements are " + std::to_string(ahead / 1000) +
                    " s in the future and their times are not to be trusted for KPIs";
    e.created_ms = batch.now_ms;
    in.raise.push_back(std::move(e));
  }
}

namespace {

// Locations the locations master data names: bins and named places.
// External parties and totes (containers that come and go) are not listed.
bool checked_location(const std::string& code) {
  return !code.empty() && code.front() != '@' && code.rfind("TOTE:", 0) != 0;
}

json endpoint_json(const scanner::Endpoint& e) {
  return {{"location", e.location.code}, {"state", e.state ? json(scanner::to_string(*e.state)) : json("")}};
}

// The ack's "rejected": the store's rejections and the batch's seq conflicts, by seq.
std::vector<Rejection> with_conflicts(std::vector<Rejection> rejected, const std::vector<Rejection>& conflicts) {
  if (conflicts.empty()) return rejected;
  rejected.insert(rejected.end(), conflicts.begin(), conflicts.end());
  std::sort(rejected.begin(), rejected.end(), [](const Rejection& a, const Rejection& b) { return a.seq < b.seq; });
  return rejected;
}
}  // namespace

void Ledger::refresh_master_data(const std::string& site) {
  SiteMasterData& md = master_[site];
  auto catalog = store_.master_data_version("catalog", site);
  auto locations = store_.master_data_version("locations", site);
  if (!catalog || !locations) return;  // the apply will fail the same way
  const auto load = [&](const char* kind, std::int64_t version, std::int64_t& have, auto fill) {
    if (version == have) return;
    auto rec = store_.master_data(kind, site);
    if (!rec || !*rec) return;
    scanner::MasterData parsed;
    const json payload = json::parse((*rec)->payload, nullptr, false);
    if (!scanner::apply_master_data(kind, payload, parsed)) return;  // stored snapshots were checked on the way in
    fill(parsed);
    have = (*rec)->version;
  };
  if (*catalog == 0) {
    md.catalog_version = 0;
    md.items.clear();
  }
  load("catalog", *catalog, md.catalog_version, [&](const scanner::MasterData& parsed) {
    md.items.clear();
    for (const auto& item : parsed.catalog) {
      if (!item.gtin.empty()) md.items.insert(scanner::gtin14(item.gtin));
      if (!item.sku.empty()) md.items.insert(item.sku);
    }
  });
  if (*locations == 0) {
    md.locations_version = 0;
    md.locations.clear();
  }
  load("locations", *locations, md.locations_version, [&](const scanner::MasterData& parsed) {
    md.locations.clear();
    for (const auto& l : parsed.locations) md.locations.insert(scanner::location_code(l.code));
  });
}

void Ledger::check_master_data(Batch& batch) {
  const auto site = master_.find(batch.site);
  if (site == master_.end()) return;
  const SiteMasterData& md = site->second;
  if (md.catalog_version == 0 && md.locations_version == 0) return;
  for (Incoming& in : batch.movements) {
    if (!in.movement) continue;  // rejected: its own exception
    const scanner::Movement& m = *in.movement;
    const auto raise = [&](const char* kind, json what, std::string action) {
      ExceptionRecord e;
      e.kind = kind;
      e.device = batch.device;
      e.seq = in.seq;
      e.owner = "master_data";
      e.priority = "medium";
      e.subject = batch.device + ":" + std::to_string(in.seq);
      e.evidence = {{"device", batch.device},
                    {"site", batch.site},
                    {"seqs", json::array({in.seq})},
                    {"scans", m.evidence},
                    {"source", "ledger"},
                    {"operator", m.operator_id},
                    {"type", scanner::to_string(m.type)},
                    {"item", m.item.id()},
                    {"lot", m.item.lot},
                    {"qty", m.qty},
                    {"from", endpoint_json(m.from)},
                    {"to", endpoint_json(m.to)},
                    {"device_time_ms", m.wall_time_ms}};
      e.evidence.update(what);
      e.next_action = std::move(action);
      e.created_ms = batch.now_ms;
      in.raise.push_back(std::move(e));
    };
    const std::string where = " (seq " + std::to_string(in.seq) + " of " + batch.device + ")";
    if (md.catalog_version > 0 && m.item.sku != scanner::kEmptyBinSku && md.items.count(m.item.id()) == 0) {
      raise("unknown_item", {{"catalog_version", md.catalog_version}},
            "add item " + m.item.id() + " to the catalog of site " + batch.site + " or correct the movement" + where);
    }
    if (md.locations_version > 0) {
      std::set<std::string> unknown;
      for (const auto* e : {&m.from, &m.to}) {
        if (checked_location(e->location.code) && md.locations.count(e->location.code) == 0) {
          unknown.insert(e->location.code);
        }
      }
      if (!unknown.empty()) {
        std::string list;
        for (const auto& code : unknown) list += (list.empty() ? "" : ", ") + code;
        raise("unknown_location", {{"locations", unknown}, {"locations_version", md.locations_version}},
              "add location " + list + " to the locations of site " + batch.site + " or correct the movement" +
                  where);
      }
    }
  }
}

std::string ack_payload(std::uint64_t applied_through, const std::vector<Rejection>& rejected) {
  std::vector<std::pair<std::uint64_t, std::string>> r;
  r.reserve(rejected.size());
  for (const auto& x : rejected) r.emplace_back(x.seq, x.reason);
  return wire::ack_payload(applied_through, r);
}

Result<Handled> Ledger::dead_letter(std::string_view topic, std::string_view payload, const Error& why,
                                    std::int64_t now_ms) {
  DeadLetter d;
  d.topic = std::string(topic);
  d.payload = std::string(payload.substr(0, options_.max_message_bytes));
  d.reason = reason_text(why);
  d.time_ms = now_ms;
  if (auto r = store_.record_dead_letter(d); !r) return r.error();
  Handled h;
  h.dead_letter = d.reason;
  return h;
}

bool Ledger::forged_status_raised(const std::string& topic) {
  if (!parse_status_topic(topic)) return false;
  for (const char* status : {"open", "assigned"}) {
    auto open = store_.exceptions(status);
    if (!open) return false;  // raise it: better twice than never
    for (const ExceptionRecord& e : *open) {
      if (e.kind == "forged_device" && e.subject == topic) return true;
    }
  }
  return false;
}

Result<Handled> Ledger::handle_movements(std::string_view topic, std::string_view payload, std::int64_t now_ms) {
  std::vector<Inbound> one{Inbound{std::string(topic), std::string(payload)}};
  auto results = handle_many(one, now_ms);
  return std::move(results.front());
}

std::vector<Result<Handled>> Ledger::handle_many(const std::vector<Inbound>& messages, std::int64_t now_ms) {
  std::vector<Prepared> prepared;
  prepared.reserve(messages.size());
  for (const Inbound& m : messages) prepared.push_back(prepare(options_, m, now_ms));
  return apply_prepared(prepared, now_ms);
}

Ledger::Prepared Ledger::prepare(const LedgerOptions& options, Inbound message, std::int64_t now_ms) {
  Prepared p;
  p.message = std::move(message);
  const std::string& topic = p.message.topic;
  const std::string& payload = p.message.payload;
  p.where = parse_movements_topic(topic);
  const auto exceptions_topic = p.where ? std::nullopt : parse_exceptions_topic(topic);
  const auto status_topic = p.where || exceptions_topic ? std::nullopt : parse_status_topic(topic);
  if (!p.where && !exceptions_topic && !status_topic) {
    p.error = make_error("bad_topic", "not a movements, exceptions or status topic");
  } else if (payload.size() > options.max_message_bytes) {
    if (!p.where) p.where = exceptions_topic ? exceptions_topic : status_topic;
    p.error = make_error("too_large", "the message is " + std::to_string(payload.size()) + " bytes, at most " +
                                          std::to_string(options.max_message_bytes) + " are accepted");
  } else if (status_topic) {
    p.where = status_topic;
    if (payload.empty()) {
      p.ignored = true;  // a cleared retained status: the stored one stays (the device's last word)
    } else if (auto st = parse_status(*status_topic, payload, now_ms); !st) {
      p.error = st.error();
    } else {
      st->retained = p.message.retained;
      p.status = std::move(*st);
    }
  } else if (exceptions_topic) {
    p.where = exceptions_topic;
    if (auto batch = parse_exceptions(*exceptions_topic, payload, now_ms); !batch) {
      p.error = batch.error();
    } else {
      p.exceptions = std::move(*batch);
      p.message.payload.clear();
      p.message.payload.shrink_to_fit();
    }
  } else if (auto batch = parse_batch(*p.where, payload, now_ms); !batch) {
    p.error = batch.error();
  } else {
    p.batch = std::move(*batch);
    p.message.payload.clear();  // not needed any more
    p.message.payload.shrink_to_fit();
  }
  return p;
}

// Long on purpose: the messages of one store job (dead letters, batches,
// statuses) gathered into one group commit and answered in the order they
// came; split, the bookkeeping between `out` and the groups would spread.
std::vector<Result<Handled>> Ledger::apply_prepared(std::vector<Prepared>& prepared, std::int64_t now_ms) {
  std::vector<Result<Handled>> out;
  out.reserve(prepared.size());
  std::vector<Batch> batches;
  std::vector<std::size_t> batch_of;  // index in `out` of each batch
  std::vector<DeviceStatus> statuses;
  std::vector<std::size_t> status_of;  // index in `out` of each status
  for (Prepared& p : prepared) {
    const std::string& topic = p.message.topic;
    if (p.error) {
      auto handled = dead_letter(topic, p.message.payload, *p.error, now_ms);
      if (handled && p.where && p.error->code == "forged_device" && !forged_status_raised(topic)) {
        ExceptionRecord e;
        e.kind = "forged_device";
        e.device = p.where->device;
        e.owner = "security";
        e.priority = "high";
        e.evidence = {{"device", p.where->device}, {"site", p.where->site},   {"topic", topic},
                      {"seqs", json::array()},     {"scans", json::array()}, {"reason", reason_text(*p.error)}};
        e.next_action = "check the broker ACL and the certificate of the client publishing as " + p.where->device;
        e.created_ms = now_ms;
        if (parse_status_topic(topic)) e.subject = topic;  // retained: redelivered on every ledger connect
        if (auto id = store_.raise_exception(e); !id) handled = id.error();
      }
      out.push_back(std::move(handled));
      continue;
    }
    if (p.ignored || p.status) {  // statuses: one transaction for the group's, below
      if (p.status) {
        status_of.push_back(out.size());
        statuses.push_back(std::move(*p.status));
      }
      out.push_back(Handled{});
      continue;
    }
    if (p.exceptions) {  // rare: its own transaction
      auto through = store_.apply_device_exceptions(*p.exceptions);
      if (!through) {
        out.emplace_back(through.error());
        continue;
      }
      Handled h;
      h.ack = Publish{wire::device_topic(p.exceptions->site, p.exceptions->device, "ack"),
                      wire::exceptions_ack_payload(*through), false};
      out.push_back(std::move(h));
      continue;
    }
    batch_of.push_back(out.size());
    out.push_back(Handled{});  // filled below
    batches.push_back(std::move(*p.batch));
  }
  if (!statuses.empty()) {
    if (auto r = store_.put_device_statuses(statuses); !r) {
      for (const std::size_t i : status_of) out[i] = r.error();
    }
  }
  if (batches.empty()) return out;
  std::vector<Result<std::vector<Rejection>>> conflicts;
  conflicts.reserve(batches.size());
  {
    std::set<std::string> sites;
    for (const Batch& b : batches) sites.insert(b.site);
    for (const std::string& site : sites) refresh_master_data(site);
  }
  for (Batch& b : batches) {
    conflicts.push_back(check_conflicts(b));
    verify_chain(b);  // and the clocks
    check_master_data(b);
  }
  auto applied = store_.apply_batches(batches);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    Result<Handled>& slot = out[batch_of[i]];
    if (!conflicts[i]) {  // the exception could not be stored: no ack, the device resends
      slot = conflicts[i].error();
      continue;
    }
    if (!applied) {
      chain_heads_.erase(batches[i].device);  // reload from the store next time
      skewed_.erase(batches[i].device);       // its clock_skew was not stored
      slot = applied.error();
      continue;
    }
    auto& outcome = (*applied)[i];
    if (!outcome) {
      chain_heads_.erase(batches[i].device);
      skewed_.erase(batches[i].device);
      slot = outcome.error();
      continue;
    }
    if (auto head = chain_heads_.find(batches[i].device);
        head != chain_heads_.end() && head->second.seq != outcome->applied_through) {
      // The store and the chain disagree (another ledger instance applied
      // some seqs): re-anchor after the store's applied_through.
      head->second = ChainHead{outcome->applied_through, {}};
    }
    Handled h;
    h.ack = Publish{wire::device_topic(batches[i].site, batches[i].device, "ack"),
                    ack_payload(outcome->applied_through, with_conflicts(outcome->rejected, *conflicts[i])), false};
    h.outcome = std::move(*outcome);
    slot = std::move(h);
  }
  return out;
}

}  // namespace tally::ledger
