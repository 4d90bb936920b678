// The tally-ledger HTTP routes (see tally/ui/ledger_api.hpp). Shapes are
// checked here (methods, query parameters, JSON bodies); only well-formed
// requests reach the LedgerApi.
//
// Query parameters are percent-decoded ('+' is a space); unknown ones are
// ignored, repeated ones refused; numbers are plain decimal digits.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "assets.hpp"
#include "responses.hpp"
#include "tally/scanner/result.hpp"
#include "tally/ui/ledger_api.hpp"

namespace tally::ui {
namespace {

using nlohmann::json;

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kPathEchoMax = 200;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return make_error("bad_request", "bad % escape in the query");
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return make_error("bad_request", "bad % escape in the query");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

using Params = std::map<std::string, std::string, std::less<>>;

Result<Params> parse_query(std::string_view query) {
  Params out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    if (!key) return key.error();
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) return value.error();
    if (out.contains(*key)) return make_error("bad_request", *key + " is given more than once");
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

std::string param(const Params& p, std::string_view key) {
  const auto it = p.find(key);
  return it == p.end() ? std::string() : it->second;
}

Result<std::uint64_t> unsigned_param(const Params& p, std::string_view key, std::uint64_t fallback) {
  const auto it = p.find(key);
  if (it == p.end()) return fallback;
  const std::string& v = it->second;
  std::uint64_t n = 0;
  const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (!digits || ec != std::errc{} || end != v.data() + v.size()) {
    return make_error("bad_request", std::string(key) + " must be a non-negative integer");
  }
  return n;
}

Result<std::size_t> limit_param(const Params& p, std::size_t limit_max) {
  auto n = unsigned_param(p, "limit", kDefaultLimit);
  if (!n) return n.error();
  if (*n == 0) return make_error("bad_request", "limit must be at least 1");
  return static_cast<std::size_t>(std::min<std::uint64_t>(*n, limit_max));
}

bool is_json(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view base = content_type.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  std::string lower(base);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return lower == "application/json";
}

class LedgerRouter final : public Router {
 public:
  LedgerRouter(LedgerApi& api, LedgerRoutesOptions options) : api_(api), options_(options) {}

  // Long on purpose: the ledger API's route table, one route per few lines.
  void handle(HttpRequest req, Respond respond) override {
    auto query = parse_query(req.query);
    if (!query) return respond(bad_request(query.error().message));
    const Params& q = *query;
    const std::string& path = req.path;
    const bool get = req.method == "GET";
    const bool post = req.method == "POST";
    auto reply = [respond](ApiReply r) {
      if (r.status == 204) {
        HttpResponse none;
        none.status = 204;
        return respond(std::move(none));
      }
      respond(json_response(r.status, r.body));
    };

    if (const Asset* asset = find_asset(ledger_assets(), path)) {  // the dashboard
      if (!get) return respond(method_not_allowed("GET", path));
      HttpResponse page;
      page.content_type = std::string(content_type_for(asset->path));
      page.body = std::string(asset->body);
      page.html = true;
      return respond(std::move(page));
    }
    if (path == "/api/v1/balances") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto limit = limit_param(q, options_.limit_max);
      if (!limit) return respond(bad_request(limit.error().message));
      return api_.balances(param(q, "item"), param(q, "location"), param(q, "state"), *limit, reply);
    }
    if (path == "/api/v1/movements") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto page = paging(q);
      if (!page) return respond(bad_request(page.error().message));
      return api_.movements(param(q, "device"), page->first, page->second, reply);
    }
    if (path == "/api/v1/history") {
      if (!get) return respond(method_not_allowed("GET", path));
      const std::string item = param(q, "item");
      const std::string location = param(q, "location");
      if (item.empty() && location.empty()) return respond(bad_request("item or location is required"));
      auto before = unsigned_param(q, "before", 0);
      if (!before) return respond(bad_request(before.error().message));
      if (*before > static_cast<std::uint64_t>(INT64_MAX)) return respond(bad_request("before is out of range"));
      auto limit = limit_param(q, options_.limit_max);
      if (!limit) return respond(bad_request(limit.error().message));
      return api_.history(item, location, *before, *limit, reply);
    }
    if (path == "/api/v1/exceptions") {
      if (!get) return respond(method_not_allowed("GET", path));
      const std::string status = param(q, "status");
      if (!status.empty() && status != "open" && status != "assigned" && status != "resolved") {
        return respond(bad_request("status must be open, assigned or resolved"));
      }
      return api_.exceptions(status, reply);
    }
    constexpr std::string_view kExceptionPrefix = "/api/v1/exceptions/";
    if (path.rfind(kExceptionPrefix, 0) == 0) {
      if (!post) return respond(method_not_allowed("POST", path));
      const std::string id_text = path.substr(kExceptionPrefix.size());
      Params one{{"id", id_text}};
      auto id = unsigned_param(one, "id", 0);
      if (!id || *id == 0 || *id > static_cast<std::uint64_t>(INT64_MAX)) {
        return respond(error_response(404, "not_found", "no such exception: " + id_text.substr(0, kPathEchoMax)));
      }
      auto body = json_body(req);
      if (!body) return respond(bad_request(body.error().message));
      return api_.update_exception(static_cast<std::int64_t>(*id), std::move(*body), reply);
    }
    if (path == "/api/v1/devices") {
      if (!get) return respond(method_not_allowed("GET", path));
      return api_.devices(reply);
    }
    if (path == "/api/v1/tasks") {
      if (get) return api_.tasks(param(q, "device"), reply);
      if (!post) return respond(method_not_allowed("GET, POST", path));
      auto body = json_body(req);
      if (!body) return respond(bad_request(body.error().message));
      return api_.create_task(std::move(*body), reply);
    }
    if (path == "/api/v1/catalog" || path == "/api/v1/locations") {
      if (!post) return respond(method_not_allowed("POST", path));
      const std::string site = param(q, "site");
      if (site.empty()) return respond(bad_request("site is required"));
      auto body = json_body(req);
      if (!body) return respond(bad_request(body.error().message));
      return api_.put_master_data(path.substr(std::string_view("/api/v1/").size()), site, std::move(*body), reply);
    }
    if (path == "/api/v1/dead-letters") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto limit = limit_param(q, options_.limit_max);
      if (!limit) return respond(bad_request(limit.error().message));
      return api_.dead_letters(*limit, reply);
    }
    if (path == "/api/v1/kpis") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto window = unsigned_param(q, "window_s", 24 * 3600);
      if (!window) return respond(bad_request(window.error().message));
      if (*window == 0 || *window > 366ULL * 24 * 3600) return respond(bad_request("window_s must be 1..31622400"));
      return api_.kpis(*window, reply);
    }
    if (path == "/api/v1/kpis/history") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto since = unsigned_param(q, "since", 0);
      if (!since) return respond(bad_request(since.error().message));
      auto before = unsigned_param(q, "before", 0);
      if (!before) return respond(bad_request(before.error().message));
      if (*since > static_cast<std::uint64_t>(INT64_MAX) || *before > static_cast<std::uint64_t>(INT64_MAX)) {
        return respond(bad_request("since and before are milliseconds since 1970 (at most 2^63-1)"));
      }
      auto limit = limit_param(q, options_.kpi_history_limit_max);
      if (!limit) return respond(bad_request(limit.error().message));
      return api_.kpi_history(static_cast<std::int64_t>(*since), static_cast<std::int64_t>(*before), *limit, reply);
    }
    if (path == "/api/v1/epcis/events") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto page = paging(q);
      if (!page) return respond(bad_request(page.error().message));
      return api_.epcis_events(page->first, page->second, reply);
    }
    if (path == "/api/v1/invariants") {
      if (!get) return respond(method_not_allowed("GET", path));
      return api_.invariants(reply);
    }
    respond(error_response(404, "not_found", "no such path: " + path.substr(0, kPathEchoMax)));
  }

 private:
  // ?after=&limit= of the paged feeds.
  Result<std::pair<std::uint64_t, std::size_t>> paging(const Params& q) const {
    auto after = unsigned_param(q, "after", 0);
    if (!after) return after.error();
    auto limit = limit_param(q, options_.limit_max);
    if (!limit) return limit.error();
    return std::pair{*after, *limit};
  }

  static Result<json> json_body(const HttpRequest& req) {
    if (!is_json(req.content_type)) return make_error("bad_request", "Content-Type must be application/json");
    json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return make_error("bad_request", "body is not valid JSON");
    if (!body.is_object()) return make_error("bad_request", "body must be a JSON object");
    return body;
  }

  LedgerApi& api_;
  LedgerRoutesOptions options_;
};

}  // namespace

std::unique_ptr<Router> make_ledger_router(LedgerApi& api, LedgerRoutesOptions options) {
  return std::make_unique<LedgerRouter>(api, options);
}

}  // namespace tally::ui
