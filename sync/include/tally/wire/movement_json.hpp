// The wire format of a movement (MQTT contract v1, HTTP API): JSON with the
// fields of docs/PROTOCOL.md. Parsing validates shape and types and then the
// domain rules, so a parsed movement is always valid.
#pragma once

#include <nlohmann/json.hpp>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/result.hpp"

namespace tally::wire {

nlohmann::json to_json(const scanner::Movement& m);
// Error codes: "bad_json" (shape/type), then scanner::validate's codes.
Result<scanner::Movement> movement_from_json(const nlohmann::json& j);

}  // namespace tally::wire
