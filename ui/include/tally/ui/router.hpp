// What tally::ui::HttpServer serves: every parsed request goes to a Router
// (tallyd's, ui/src/device_routes.cpp; tally-ledger's,
// ui/src/ledger_routes.cpp). The server owns the connection machinery
// (keep-alive, limits, timeouts, lingering close, malformed HTTP → 4xx, the
// WebSocket upgrade of /api/v1/events); the router owns paths, methods and
// bodies.
//
// handle() is called on the server's thread; `respond` must be called exactly
// once, from any thread (the server posts it back to the connection).
#pragma once

#include <functional>
#include <string>

namespace tally::ui {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // without the query
  std::string query;   // after '?', undecoded; empty when none
  std::string content_type;
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // for 405
  bool html = false;  // adds the page's security headers
  // The request may have changed what GET /api/v1/status shows (a scan):
  // the server pushes the status to its WebSocket listeners, if any.
  bool state_changed = false;
};

class Router {
 public:
  using Respond = std::function<void(HttpResponse)>;
  virtual ~Router() = default;
  virtual void handle(HttpRequest request, Respond respond) = 0;
};

}  // namespace tally::ui
