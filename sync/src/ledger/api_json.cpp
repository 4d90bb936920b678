// What the ledger's HTTP API shows of store records (api_json.hpp).
#include "api_json.hpp"

#include <map>
#include <utility>

namespace tally::ledger {

using nlohmann::json;

json to_json(const ExceptionRecord& e) {
  return {{"id", e.id},           {"kind", e.kind},       {"device", e.device},
          {"seq", e.seq},         {"owner", e.owner},     {"priority", e.priority},
          {"evidence", e.evidence}, {"next_action", e.next_action}, {"status", e.status},
          {"note", e.note},       {"created_ms", e.created_ms}, {"resolved_ms", e.resolved_ms}};
}

// Stored movements as the API shows them: the wire movement plus the ledger's
// row "id" and "applied_ms".
json movements_json(const std::vector<StoredMovement>& rows) {
  json out = json::array();
  for (const auto& m : rows) {
    json j = json::parse(m.payload, nullptr, false);
    if (j.is_discarded()) j = json::object();
    j["id"] = m.id;
    j["applied_ms"] = m.applied_ms;
    out.push_back(std::move(j));
  }
  return out;
}

// GET /api/v1/devices: the ledger's view of each device (devices table) and
// the device's own last word (its retained status), by device id. A device
// known only from its status (it never synced) is listed too.
json devices_json(const std::vector<DeviceInfo>& rows, const std::vector<DeviceStatus>& statuses) {
  std::map<std::string, std::pair<const DeviceInfo*, const DeviceStatus*>> by_device;
  for (const auto& d : rows) by_device[d.device].first = &d;
  for (const auto& st : statuses) by_device[st.device].second = &st;
  json out = json::array();
  for (const auto& [device, both] : by_device) {
    const DeviceInfo none;
    const DeviceInfo& d = both.first != nullptr ? *both.first : none;
    const DeviceStatus* st = both.second;
    json j = {{"device", device},
              {"site", both.first != nullptr ? d.site : st->site},
              {"applied_through", d.applied_through},
              {"last_seen_ms", d.last_seen_ms},
              {"last_batch_size", d.last_batch_size},
              {"movements", d.movements},
              {"rejected", d.rejected},
              {"online", nullptr},
              {"pending", nullptr},
              {"last_seq", nullptr},
              {"version", nullptr},
              {"status_ms", nullptr},
              {"lag", nullptr},
              {"stale", false}};
    if (st != nullptr) {
      j["online"] = st->online;
      j["pending"] = st->pending;
      j["last_seq"] = st->last_seq;
      j["version"] = st->version;
      j["status_ms"] = st->received_ms;
      // Movements the device said it journaled that the ledger has not applied.
      j["lag"] = st->last_seq > d.applied_through ? st->last_seq - d.applied_through : 0;
      // The figures may be out of date: an offline device may have recorded
      // more since its last word, and a ledger past last_seq has seen newer.
      j["stale"] = !st->online || d.applied_through > st->last_seq;
    }
    out.push_back(std::move(j));
  }
  return out;
}

ui::ApiReply error_reply(const Error& e) {
  unsigned status = 500;
  if (e.code == "bad_request") status = 400;
  if (e.code == "not_found") status = 404;
  if (e.code == "conflict") status = 409;
  if (e.code == "disk_full") status = 507;
  return ui::ApiReply{status, ui::error_body(e.code, e.message)};
}

}  // namespace tally::ledger
