#include "tally/scanner/label_json.hpp"

#include <string>

namespace tally::scanner {

nlohmann::json to_json(const Gs1Element& e) {
  nlohmann::json j = {{"ai", e.ai}, {"title", e.title}, {"raw", e.raw}};
  if (e.date_iso) j["date"] = *e.date_iso;
  if (e.decimal) {
    j["decimal"] = *e.decimal;
    j["unit"] = e.unit;
  }
  if (e.integer) j["integer"] = *e.integer;
  if (!e.known) j["known"] = false;
  return j;
}

nlohmann::json to_json(const Gs1Data& d) {
  nlohmann::json els = nlohmann::json::array();
  for (const auto& e : d.elements) els.push_back(to_json(e));
  nlohmann::json j = {{"form", d.source_form},
                      {"symbology", d.symbology},
                      {"hri", d.to_hri()},
                      {"elements", std::move(els)},
                      {"warnings", d.warnings}};
  if (!d.addon.empty()) j["addon"] = d.addon;
  return j;
}

nlohmann::json to_json(std::string_view input, const Result<Label>& label) {
  nlohmann::json j = {{"input", std::string(input)}, {"ok", label.ok()}};
  if (!label.ok()) {
    j["error"] = {{"code", label.error().code}, {"message", label.error().message}};
    return j;
  }
  const Label& l = *label;
  j["kind"] = std::string(to_string(l.kind));
  j["value"] = l.value;
  j["number"] = l.number;
  const Item& i = l.item;
  if (i.gtin.empty() && i.sku.empty()) {
    j["item"] = nullptr;
  } else {
    j["item"] = {{"gtin", i.gtin}, {"sku", i.sku}, {"lot", i.lot}, {"expiry", i.expiry}, {"serial", i.serial}};
  }
  j["location"] = l.location.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.location.code);
  j["gs1"] = l.gs1 ? to_json(*l.gs1) : nlohmann::json(nullptr);
  j["warnings"] = l.gs1 ? nlohmann::json(l.gs1->warnings) : nlohmann::json::array();
  return j;
}

}  // namespace tally::scanner
