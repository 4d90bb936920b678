// JSON responses both route tables build (device_routes.cpp,
// ledger_routes.cpp): one shape for bodies and errors. Private to tally::ui.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tally/ui/device_api.hpp"
#include "tally/ui/router.hpp"

namespace tally::ui {

// JSON text, invalid UTF-8 replaced by U+FFFD (never throws).
inline std::string dump_json(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline HttpResponse json_response(unsigned status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

inline HttpResponse error_response(unsigned status, const std::string& code, const std::string& message) {
  return json_response(status, error_body(code, message));
}

inline HttpResponse bad_request(const std::string& message) { return error_response(400, "bad_request", message); }

inline HttpResponse method_not_allowed(std::string_view allow, std::string_view path) {
  HttpResponse r = error_response(405, "method_not_allowed", "use " + std::string(allow) + " for " + std::string(path));
  r.allow = std::string(allow);
  return r;
}

}  // namespace tally::ui
