// EPCIS 2.0 JSON-LD export (see tally/ledger/epcis.hpp and docs/PROTOCOL.md
// "EPCIS export").
#include "tally/ledger/epcis.hpp"

#include <ctime>
#include <string_view>

#include "tally/wire/movement_json.hpp"

namespace tally::ledger {

using nlohmann::json;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

namespace {

constexpr std::string_view kContext = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
// CBV's "reserved" means EPCs reserved for future use, not stock set aside
// for an order, and CBV has no quality hold: Tally's own URIs for both.
constexpr std::string_view kReservedDisposition = "urn:tally:disposition:stock_reserved";
constexpr std::string_view kQualityHold = "urn:tally:disposition:quality_hold";

// RFC 3986 unreserved characters stay, everything else is %XX.
std::string pct(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string iso_time(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(frac));
  return out;
}

// The site-local URI of a location (bins, docks, totes): Tally's codes are
// not GLNs, so no urn:epc:id:sgln.
std::string location_uri(const std::string& site, const std::string& code) {
  return "urn:tally:loc:" + pct(site) + ":" + pct(code);
}

// The product class: GS1 Digital Link for a GTIN (lot-level with (10)),
// a site-local URI for a catalog SKU.
std::string class_uri(const Movement& m) {
  if (!m.item.gtin.empty()) {
    std::string uri = "https://id.gs1.org/01/" + m.item.gtin;
    if (!m.item.lot.empty()) uri += "/10/" + pct(m.item.lot);
    return uri;
  }
  std::string uri = "urn:tally:sku:" + pct(m.site) + ":" + pct(m.item.sku);
  if (!m.item.lot.empty()) uri += ":lot:" + pct(m.item.lot);
  return uri;
}

// One serialised GTIN unit: its instance URI (GS1 Digital Link with (21)).
std::optional<std::string> instance_uri(const Movement& m) {
  if (m.item.gtin.empty() || m.item.serial.empty() || m.qty != 1) return std::nullopt;
  return "https://id.gs1.org/01/" + m.item.gtin + "/21/" + pct(m.item.serial);
}

std::string_view disposition_of(StockState s) {
  switch (s) {
    case StockState::inbound: return "in_progress";
    case StockState::available: return "sellable_accessible";
    case StockState::reserved: return kReservedDisposition;
    case StockState::picked: return "in_progress";
    case StockState::packed: return "in_progress";
    case StockState::shipped: return "in_transit";
    case StockState::damaged: return "damaged";
    case StockState::quality_hold: return "non_sellable_other";
    case StockState::returned: return "returned";
  }
  return "unknown";
}

struct Mapping {
  std::string_view action;
  std::string_view biz_step;
  std::optional<std::string_view> disposition;
};

// CBV 2.0 for each movement type (docs/PROTOCOL.md "EPCIS export").
Mapping mapping_of(const Movement& m) {
  const auto state = [](const scanner::Endpoint& e) -> std::optional<std::string_view> {
    if (!e.state) return std::nullopt;
    return disposition_of(*e.state);
  };
  switch (m.type) {
    case MovementType::receipt: return {"ADD", "receiving", "in_progress"};
    case MovementType::putaway: return {"OBSERVE", "storing", state(m.to)};
    case MovementType::pick: return {"OBSERVE", "picking", "in_progress"};
    case MovementType::move: return {"OBSERVE", "storing", state(m.to)};
    case MovementType::pack: return {"OBSERVE", "packing", "in_progress"};
    case MovementType::ship: return {"OBSERVE", "shipping", "in_transit"};
    case MovementType::damage:
      if (m.to.location.external()) return {"DELETE", "destroying", "destroyed"};  // written off to @scrap
      return {"OBSERVE", "inspecting", "damaged"};
    case MovementType::hold: return {"OBSERVE", "holding", "non_sellable_other"};
    case MovementType::release: return {"OBSERVE", "inspecting", state(m.to)};
    case MovementType::return_: return {"ADD", "receiving", "returned"};
    case MovementType::count: return {"OBSERVE", "cycle_counting", state(m.from)};
    case MovementType::adjust:
      if (m.from.location.external()) return {"ADD", "cycle_counting", state(m.to)};  // booked up
      return {"DELETE", "cycle_counting", std::nullopt};                            // booked off
  }
  return {"OBSERVE", "other", std::nullopt};
}

std::optional<std::string_view> transaction_type(const std::string& reference) {
  if (reference.rfind("PO:", 0) == 0) return "po";
  if (reference.rfind("ASN:", 0) == 0) return "desadv";
  return std::nullopt;
}

std::optional<Movement> parse(const StoredMovement& row) {
  const json j = json::parse(row.payload, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  auto m = wire::movement_from_json(j);
  if (!m) return std::nullopt;
  return std::move(*m);
}

}  // namespace

std::string epcis_event_id(const std::string& device, std::uint64_t seq) {
  // A name-based UUID (version 8, RFC 9562) from SHA-256 of the movement's identity.
  std::string h = wire::chain_hash("", "tally-movement:" + device + ":" + std::to_string(seq));
  h[12] = '8';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return "urn:uuid:" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20, 12);
}

std::optional<json> epcis_event(const Movement& m, std::int64_t applied_ms) {
  if (m.reason == scanner::kCorrectionReason) return std::nullopt;
  const Mapping map = mapping_of(m);
  json e = json::object();
  e["type"] = "ObjectEvent";
  e["eventTime"] = iso_time(m.wall_time_ms);
  e["recordTime"] = iso_time(applied_ms);
  e["eventTimeZoneOffset"] = "+00:00";
  e["eventID"] = epcis_event_id(m.device, m.seq);
  json epcs = json::array();
  if (auto instance = instance_uri(m)) {
    epcs.push_back(*instance);
    e["epcList"] = std::move(epcs);
  } else {
    e["epcList"] = std::move(epcs);
    e["quantityList"] = json::array({{{"epcClass", class_uri(m)}, {"quantity", m.qty}}});
  }
  e["action"] = map.action;
  e["bizStep"] = map.biz_step;
  if (map.disposition) e["disposition"] = *map.disposition;
  if (m.type == MovementType::hold && m.to.state == StockState::quality_hold) {
    e["persistentDisposition"] = {{"set", json::array({kQualityHold})}};
  } else if (m.type == MovementType::release && m.from.state == StockState::quality_hold) {
    e["persistentDisposition"] = {{"unset", json::array({kQualityHold})}};
  }
  // Where it was scanned, and where the goods are after it (none once they
  // left for an external party).
  const scanner::Endpoint& read = m.type == MovementType::pick || m.to.location.external() ? m.from : m.to;
  e["readPoint"] = {{"id", location_uri(m.site, read.location.code)}};
  if (!m.to.location.external()) e["bizLocation"] = {{"id", location_uri(m.site, m.to.location.code)}};
  if (!m.reference.empty()) {
    json t = {{"bizTransaction", "urn:tally:doc:" + pct(m.site) + ":" + pct(m.reference)}};
    if (auto type = transaction_type(m.reference)) t["type"] = *type;
    e["bizTransactionList"] = json::array({std::move(t)});
  }
  if (map.action == "ADD" && (!m.item.lot.empty() || !m.item.expiry.empty())) {
    json ilmd = json::object();
    if (!m.item.lot.empty()) ilmd["cbvmda:lotNumber"] = m.item.lot;
    if (!m.item.expiry.empty()) ilmd["cbvmda:itemExpirationDate"] = m.item.expiry;
    e["ilmd"] = std::move(ilmd);
  }
  e["tally:device"] = m.device;
  e["tally:seq"] = m.seq;
  e["tally:operator"] = m.operator_id;
  e["tally:movementType"] = scanner::to_string(m.type);
  e["tally:from"] = {{"tally:location", m.from.location.code},
                     {"tally:state", m.from.state ? scanner::to_string(*m.from.state) : ""}};
  e["tally:to"] = {{"tally:location", m.to.location.code},
                   {"tally:state", m.to.state ? scanner::to_string(*m.to.state) : ""}};
  if (!m.reason.empty()) e["tally:reason"] = m.reason;
  return e;
}

json epcis_document(std::span<const StoredMovement> rows, const std::map<MovementKey, CorrectionContext>& corrections,
                    std::uint64_t after, std::int64_t now_ms) {
  json events = json::array();
  std::uint64_t next_after = after;
  for (const StoredMovement& row : rows) {
    next_after = static_cast<std::uint64_t>(row.id);
    const auto m = parse(row);
    if (!m) continue;
    if (m->reason != scanner::kCorrectionReason) {
      if (auto e = epcis_event(*m, row.applied_ms)) events.push_back(std::move(*e));
      continue;
    }
    const auto ctx = corrections.find(MovementKey{m->device, m->seq});
    if (ctx == corrections.end() || !ctx->second.original) continue;
    const auto original = parse(*ctx->second.original);
    if (!original) continue;
    auto e = epcis_event(*original, row.applied_ms);  // recorded when the correction was
    if (!e) continue;  // a correction of a correction: its original was already declared
    json declaration = {{"declarationTime", iso_time(m->wall_time_ms)}, {"reason", "incorrect_data"}};
    if (ctx->second.next) {
      if (const auto next = parse(*ctx->second.next);
          next && next->type == original->type && next->item.id() == original->item.id() &&
          next->reason != scanner::kCorrectionReason) {
        declaration["correctiveEventIDs"] = json::array({epcis_event_id(next->device, next->seq)});
      }
    }
    declaration["tally:correction"] = {{"tally:device", m->device}, {"tally:seq", m->seq}};
    (*e)["errorDeclaration"] = std::move(declaration);
    events.push_back(std::move(*e));
  }
  return {{"@context", json::array({kContext, {{"tally", kEpcisTallyNamespace}}})},
          {"type", "EPCISDocument"},
          {"schemaVersion", "2.0"},
          {"creationDate", iso_time(now_ms)},
          {"epcisBody", {{"eventList", std::move(events)}}},
          {"tally:nextAfter", next_after}};
}

Result<json> epcis_page(Store& store, std::uint64_t after, std::size_t limit, std::int64_t now_ms) {
  auto rows = store.movements("", after, limit);
  if (!rows) return rows.error();
  std::map<MovementKey, CorrectionContext> corrections;
  for (const StoredMovement& row : *rows) {
    if (row.payload.find(scanner::kCorrectionReason) == std::string::npos) continue;  // cheap pre-check
    const auto m = parse(row);
    if (!m || m->reason != scanner::kCorrectionReason) continue;
    CorrectionContext ctx;
    if (m->seq > 1) {
      auto before = store.movements(m->device, m->seq - 2, 1);
      if (!before) return before.error();
      if (!before->empty() && before->front().seq == m->seq - 1) ctx.original = before->front();
    }
    auto next = store.movements(m->device, m->seq, 1);
    if (!next) return next.error();
    if (!next->empty() && next->front().seq == m->seq + 1) ctx.next = next->front();
    corrections.emplace(MovementKey{m->device, m->seq}, std::move(ctx));
  }
  return epcis_document(*rows, corrections, after, now_ms);
}

}  // namespace tally::ledger
