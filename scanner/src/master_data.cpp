#include "tally/scanner/master_data.hpp"

#include <algorithm>
#include <exception>

#include <nlohmann/json.hpp>

namespace tally::scanner {
namespace {

using nlohmann::json;

Error bad(std::string message) { return make_error("bad_master_data", std::move(message)); }

std::string str(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Field checks throw std::invalid_argument with the field name; caught below.
const json& require(const json& o, const char* key, json::value_t type) {
  const auto it = o.find(key);
  if (it == o.end()) throw std::invalid_argument(std::string("missing \"") + key + "\"");
  const bool ok = type == json::value_t::number_integer ? it->is_number_integer() : it->type() == type;
  if (!ok) throw std::invalid_argument(std::string("\"") + key + "\" has the wrong type");
  return *it;
}

CatalogItem parse_item(const json& o) {
  CatalogItem i;
  i.gtin = str(o, "gtin");
  i.sku = str(o, "sku");
  if (i.gtin.empty() && i.sku.empty()) throw std::invalid_argument("catalog item without gtin or sku");
  i.description = str(o, "description");
  if (o.contains("pack_size")) i.pack_size = require(o, "pack_size", json::value_t::number_integer).get<std::int64_t>();
  if (i.pack_size < 1) throw std::invalid_argument("pack_size must be >= 1");
  i.suggested_bin = str(o, "suggested_bin");
  return i;
}

Task parse_task(const json& o) {
  Task t;
  t.id = require(o, "id", json::value_t::string).get<std::string>();
  t.type = require(o, "type", json::value_t::string).get<std::string>();
  t.reference = str(o, "reference");
  for (const auto& l : require(o, "lines", json::value_t::array)) {
    if (!l.is_object()) throw std::invalid_argument("task line is not an object");
    TaskLine line;
    line.line = require(l, "line", json::value_t::number_integer).get<int>();
    line.gtin = str(l, "gtin");
    line.sku = str(l, "sku");
    line.qty = require(l, "qty", json::value_t::number_integer).get<std::int64_t>();
    line.bin = str(l, "bin");
    line.lot = str(l, "lot");
    if (l.contains("lot_rule")) line.lot_rule = require(l, "lot_rule", json::value_t::string).get<std::string>();
    line.sscc = str(l, "sscc");
    if (!line.sscc.empty() && (line.sscc.size() != 18 || !std::all_of(line.sscc.begin(), line.sscc.end(), [](char c) {
                                 return c >= '0' && c <= '9';
                               }))) {
      throw std::invalid_argument("\"sscc\" must be 18 digits");
    }
    t.lines.push_back(std::move(line));
  }
  return t;
}

Allowance parse_allowance(const json& o) {
  if (!o.is_object()) throw std::invalid_argument("allowance is not an object");
  Allowance a;
  a.id = require(o, "id", json::value_t::string).get<std::string>();
  a.item = require(o, "item", json::value_t::string).get<std::string>();
  a.lot = str(o, "lot");
  a.bin = require(o, "bin", json::value_t::string).get<std::string>();
  a.qty = require(o, "qty", json::value_t::number_integer).get<std::int64_t>();
  const json& basis = require(o, "basis_seq", json::value_t::number_integer);
  if (a.id.empty() || a.item.empty() || a.bin.empty()) throw std::invalid_argument("allowance with an empty id, item or bin");
  if (a.qty < 0 || basis.get<std::int64_t>() < 0) throw std::invalid_argument("allowance qty and basis_seq must be >= 0");
  a.basis_seq = basis.get<std::uint64_t>();
  a.granted_ms = require(o, "granted_ms", json::value_t::number_integer).get<std::int64_t>();
  a.expires_ms = require(o, "expires_ms", json::value_t::number_integer).get<std::int64_t>();
  return a;
}

}  // namespace

bool is_master_data_kind(const std::string& kind) {
  return kind == "catalog" || kind == "locations" || kind == "tasks" || kind == "allowances";
}

const Allowance* MasterData::find_allowance(const std::string& item, const std::string& lot,
                                            const std::string& bin) const {
  const auto it = std::find_if(allowances.begin(), allowances.end(), [&](const Allowance& a) {
    return a.item == item && a.lot == lot && a.bin == bin;
  });
  return it == allowances.end() ? nullptr : &*it;
}

const CatalogItem* MasterData::find_item(const std::string& id) const {
  const auto it = std::find_if(catalog.begin(), catalog.end(),
                               [&id](const CatalogItem& i) { return i.gtin == id || (!i.sku.empty() && i.sku == id); });
  return it == catalog.end() ? nullptr : &*it;
}

const Task* MasterData::find_task(const std::string& id) const {
  const auto it = std::find_if(tasks.begin(), tasks.end(), [&id](const Task& t) { return t.id == id; });
  return it == tasks.end() ? nullptr : &*it;
}

bool MasterData::knows_location(const std::string& code) const {
  return std::any_of(locations.begin(), locations.end(), [&code](const KnownLocation& l) { return l.code == code; });
}

Result<void> apply_master_data(const std::string& kind, const json& payload, MasterData& into) {
  if (!is_master_data_kind(kind)) return bad("unknown master data kind '" + kind + "'");
  try {
    if (!payload.is_object()) throw std::invalid_argument("payload is not an object");
    if (require(payload, "v", json::value_t::number_integer).get<int>() != 1) {
      throw std::invalid_argument("unsupported \"v\"");
    }
    const auto version = require(payload, "version", json::value_t::number_integer).get<std::int64_t>();
    if (kind == "catalog") {
      std::vector<CatalogItem> items;
      for (const auto& o : require(payload, "items", json::value_t::array)) items.push_back(parse_item(o));
      into.catalog = std::move(items);
      into.catalog_version = version;
    } else if (kind == "locations") {
      std::vector<KnownLocation> locations;
      for (const auto& o : require(payload, "locations", json::value_t::array)) {
        locations.push_back({require(o, "code", json::value_t::string).get<std::string>(), str(o, "kind")});
      }
      into.locations = std::move(locations);
      into.locations_version = version;
    } else if (kind == "allowances") {
      std::vector<Allowance> allowances;
      for (const auto& o : require(payload, "allowances", json::value_t::array)) {
        allowances.push_back(parse_allowance(o));
      }
      into.allowances = std::move(allowances);
      into.allowances_version = version;
    } else {
      std::vector<Task> tasks;
      for (const auto& o : require(payload, "tasks", json::value_t::array)) tasks.push_back(parse_task(o));
      into.tasks = std::move(tasks);
      into.tasks_version = version;
    }
  } catch (const std::exception& e) {
    return bad(kind + ": " + e.what());
  }
  return {};
}

}  // namespace tally::scanner
