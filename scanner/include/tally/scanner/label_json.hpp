// JSON rendering of a classified scan (what `tally parse` prints). Pure.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "tally/scanner/gs1.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner {

// {"ai","title","raw"[,"date"][,"decimal","unit"][,"integer"][,"known":false]}
nlohmann::json to_json(const Gs1Element& e);
// {"form","symbology","hri","elements":[…],"warnings":[…]}
nlohmann::json to_json(const Gs1Data& d);
// {"input","ok":true,"kind","value","number","item":{…}|null,
//  "location":"…"|null,"gs1":{…}|null,"warnings":[…]}
// or {"input","ok":false,"error":{"code","message"}}.
// Dump it with nlohmann::json::error_handler_t::replace: `input` is the
// scan as given and need not be UTF-8.
nlohmann::json to_json(std::string_view input, const Result<Label>& label);

}  // namespace tally::scanner
