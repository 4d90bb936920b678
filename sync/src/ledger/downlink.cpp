// Downlink master data messages (see tally/ledger/downlink.hpp).
#include "tally/ledger/downlink.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tally/scanner/master_data.hpp"
#include "tally/wire/protocol.hpp"

namespace tally::ledger {

using nlohmann::json;

std::string master_data_topic(const MasterDataRecord& record) {
  return wire::topic(record.scope, record.kind);  // tasks, allowances: scope is "{site}/{device}"
}

namespace {

// The largest cut <= want that does not split a UTF-8 sequence.
std::size_t utf8_cut(const std::string& s, std::size_t from, std::size_t want) {
  std::size_t end = std::min(s.size(), from + want);
  if (end == s.size()) return end;
  std::size_t cut = end;
  while (cut > from && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut > from ? cut : end;  // a chunk smaller than one character: cut anyway
}

}  // namespace

std::vector<Publish> master_data_messages(const MasterDataRecord& record, std::size_t chunk_bytes) {
  chunk_bytes = std::max<std::size_t>(chunk_bytes, 16);
  std::vector<std::string> slices;
  for (std::size_t at = 0; at < record.payload.size();) {
    const std::size_t end = utf8_cut(record.payload, at, chunk_bytes);
    slices.push_back(record.payload.substr(at, end - at));
    at = end;
  }
  if (slices.empty()) slices.emplace_back();
  const std::string prefix = master_data_topic(record) + "/";
  std::vector<Publish> out;
  const auto n = static_cast<std::int64_t>(slices.size());
  for (std::int64_t i = 0; i < n; ++i) {
    json msg{{"v", 1},      {"kind", record.kind}, {"version", record.version},
             {"chunk", i},  {"chunks", n},         {"data", slices[static_cast<std::size_t>(i)]}};
    out.push_back(Publish{prefix + std::to_string(i), msg.dump(-1, ' ', false, json::error_handler_t::replace), true});
  }
  for (std::int64_t i = n; i < record.published_chunks; ++i) {
    out.push_back(Publish{prefix + std::to_string(i), std::string(), true});  // clears the retained chunk
  }
  return out;
}

Result<void> check_master_data(const std::string& kind, const json& payload) {
  if (!scanner::is_master_data_kind(kind)) return make_error("bad_request", "unknown master data kind " + kind);
  json copy = payload;
  if (!copy.is_object()) return make_error("bad_request", kind + " must be a JSON object");
  copy["v"] = 1;
  if (!copy.contains("version")) copy["version"] = 1;
  scanner::MasterData md;
  if (auto r = scanner::apply_master_data(kind, copy, md); !r) return make_error("bad_request", r.error().message);
  return {};
}

namespace {

// A task line's item as balances key it: a GTIN as 14 digits, else the SKU.
std::string item_key(const json& line) {
  const std::string gtin = scanner::gtin14(line.value("gtin", std::string()));
  return gtin.empty() ? line.value("sku", std::string()) : gtin;
}

}  // namespace

Result<json> assign_fefo_lots(Store& store, json task) {
  if (!task.is_object() || task.value("type", std::string()) != "pick" || !task.contains("lines") ||
      !task["lines"].is_array()) {
    return task;
  }
  for (json& line : task["lines"]) {
    if (!line.is_object() || line.value("lot_rule", std::string()) != "fefo") continue;
    if (!line.value("lot", std::string()).empty() || line.value("bin", std::string()).empty()) continue;
    const std::string item = item_key(line);
    if (item.empty()) continue;
    BalanceQuery q;
    q.item = item;
    q.location = scanner::location_code(line["bin"].get<std::string>());
    q.state = "available";
    auto rows = store.balances(q);
    if (!rows) return rows.error();
    auto expiries = store.lot_expiries(item);
    if (!expiries) return expiries.error();
    std::string best_lot, best_expiry;
    for (const Balance& b : *rows) {
      if (b.qty <= 0) continue;
      const auto e = expiries->find(b.lot);
      if (e == expiries->end()) continue;
      if (best_lot.empty() || e->second < best_expiry || (e->second == best_expiry && b.lot < best_lot)) {
        best_lot = b.lot;
        best_expiry = e->second;
      }
    }
    if (!best_lot.empty()) line["lot"] = best_lot;
  }
  return task;
}

Result<json> with_task(const json& current, const json& task) {
  if (!task.is_object() || !task.contains("id") || !task["id"].is_string()) {
    return make_error("bad_request", "task must be an object with a string \"id\"");
  }
  json snapshot = current.is_object() ? current : json{{"v", 1}, {"version", 0}, {"tasks", json::array()}};
  if (!snapshot.contains("tasks") || !snapshot["tasks"].is_array()) snapshot["tasks"] = json::array();
  auto& tasks = snapshot["tasks"];
  bool replaced = false;
  for (auto& t : tasks) {
    if (t.is_object() && t.value("id", std::string()) == task["id"].get<std::string>()) {
      t = task;
      replaced = true;
    }
  }
  if (!replaced) tasks.push_back(task);
  if (auto r = check_master_data("tasks", snapshot); !r) return r.error();
  return snapshot;
}

Result<void> load_catalog_file(Store& store, const std::filesystem::path& file, const std::string& site) {
  std::ifstream in(file);
  if (!in) return make_error("bad_config", "cannot read catalog " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  json catalog = json::parse(text.str(), nullptr, false);
  if (catalog.is_discarded()) return make_error("bad_config", "catalog " + file.string() + " is not JSON");
  if (auto r = check_master_data("catalog", catalog); !r) {
    return make_error("bad_config", "catalog " + file.string() + ": " + r.error().message);
  }
  auto current = store.master_data("catalog", site);
  if (!current) return current.error();
  if (*current) {
    json stored = json::parse((*current)->payload, nullptr, false);
    json a = catalog;
    a.erase("version");
    a["v"] = 1;
    if (stored.is_object()) stored.erase("version");
    if (stored == a) return {};
  }
  auto rec = store.put_master_data("catalog", site, catalog);
  if (!rec) return rec.error();
  return {};
}

}  // namespace tally::ledger
