// tallyd's routes and replies as HTTP (device_routes.hpp): paths, methods
// and bodies are checked here, so only well-formed requests reach the
// DeviceApi; its typed replies become status codes and JSON here too.
//
// - GET /api/v1/movements: `after` defaults to 0, `limit` to 100; both must be
//   plain decimal digits that fit (else 400); `limit` 0 is refused; a `limit`
//   above movements_limit_max is clamped to it (the reply's next_after lets the
//   client page on). Unknown query parameters are ignored, repeated ones refused.
// - POST /api/v1/scans: unknown fields in the body are refused (400).
// - POST /api/v1/frames: Content-Type must be image/png or image/jpeg (415)
//   and the body must start with that format's signature (400). Decoding
//   runs in the DeviceApi (off the server's thread).
// - POST /api/v1/cameras/{id}/trigger: no body is read; the DeviceApi
//   answers (202, or 404/409/503 naming why not).
#include "tally/ui/device_routes.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/core/string.hpp>

#include "assets.hpp"
#include "responses.hpp"
#include "tally/wire/movement_json.hpp"

namespace tally::ui {
namespace {

namespace beast = boost::beast;
using nlohmann::json;

constexpr std::size_t kTextBytesMax = 4096;
constexpr std::size_t kSymbologyBytesMax = 32;
constexpr std::size_t kDefaultMovementsLimit = 100;
constexpr std::size_t kPathEchoMax = 200;
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

// application/json, optionally with parameters; a charset must be UTF-8.
bool is_json_content_type(std::string_view value) {
  auto semi = value.find(';');
  if (!beast::iequals(trim(value.substr(0, semi)), kJsonType)) return false;
  while (semi != std::string_view::npos) {
    value = value.substr(semi + 1);
    semi = value.find(';');
    const std::string_view param = trim(value.substr(0, semi));
    if (param.empty()) continue;
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view val = trim(param.substr(eq + 1));
    if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
    if (beast::iequals(trim(param.substr(0, eq)), "charset") && !beast::iequals(val, "utf-8")) {
      return false;
    }
  }
  return true;
}

// Scan text: 1..4096 bytes of UTF-8 (nlohmann has checked the encoding), no
// control characters (C0, DEL, C1) other than TAB and GS (the GS1 separator).
std::optional<std::string> text_problem(std::string_view text) {
  if (text.empty()) return "text must not be empty";
  if (text.size() > kTextBytesMax) {
    return "text is " + std::to_string(text.size()) + " bytes, at most " +
           std::to_string(kTextBytesMax) + " are allowed";
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c0 = c < 0x20 && c != 0x09 && c != 0x1D;
    const bool c1 = c == 0xC2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if (c0 || c == 0x7F || c1) {
      return "text contains a control character at byte " + std::to_string(i) +
             " (only TAB and GS are allowed)";
    }
  }
  return std::nullopt;
}

// The POST /api/v1/scans body, or the 400 naming what is wrong with it.
Result<ScanRequest> parse_scan_body(const std::string& body) {
  const auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("bad_request", "body is not valid JSON");
  if (!j.is_object()) return make_error("bad_request", "body must be a JSON object");
  ScanRequest request;
  const auto text = j.find("text");
  if (text == j.end()) return make_error("bad_request", "text is required");
  if (!text->is_string()) return make_error("bad_request", "text must be a string");
  request.text = text->get<std::string>();
  if (auto problem = text_problem(request.text)) return make_error("bad_request", *problem);
  if (const auto symbology = j.find("symbology"); symbology != j.end()) {
    if (!symbology->is_string()) return make_error("bad_request", "symbology must be a string");
    request.symbology = symbology->get<std::string>();
    if (request.symbology.size() > kSymbologyBytesMax) {
      return make_error("bad_request", "symbology is longer than " +
                                           std::to_string(kSymbologyBytesMax) + " bytes");
    }
    const bool printable = std::all_of(request.symbology.begin(), request.symbology.end(),
                                       [](char c) { return c >= 0x20 && c < 0x7F; });
    if (!printable) return make_error("bad_request", "symbology must be printable ASCII");
  }
  for (const auto& item : j.items()) {
    if (item.key() != "text" && item.key() != "symbology") {
      return make_error("bad_request", "unknown field \"" + item.key() + "\"");
    }
  }
  return request;
}

// "/api/v1/cameras/{id}/trigger" → id (maybe empty); anything else → nullopt.
std::optional<std::string_view> camera_trigger_id(std::string_view path) {
  constexpr std::string_view kPrefix = "/api/v1/cameras/";
  constexpr std::string_view kSuffix = "/trigger";
  if (path.size() < kPrefix.size() + kSuffix.size() || path.substr(0, kPrefix.size()) != kPrefix ||
      path.substr(path.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  const auto id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return id;
}

// "image/png" / "image/jpeg" (parameters ignored), or nullopt.
std::optional<std::string> image_content_type(std::string_view value) {
  const std::string_view media = trim(value.substr(0, value.find(';')));
  if (beast::iequals(media, "image/png")) return std::string("image/png");
  if (beast::iequals(media, "image/jpeg")) return std::string("image/jpeg");
  return std::nullopt;
}

struct MovementsQuery {
  std::uint64_t after = 0;
  std::size_t limit = kDefaultMovementsLimit;
};

Result<std::uint64_t> parse_unsigned(std::string_view name, std::string_view value) {
  std::uint64_t n = 0;
  const bool digits = !value.empty() && std::all_of(value.begin(), value.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return make_error("bad_request", std::string(name) + " must be a non-negative integer");
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    return make_error("bad_request", std::string(name) + " is out of range");
  }
  return n;
}

Result<MovementsQuery> parse_movements_query(std::string_view query, std::size_t limit_max) {
  MovementsQuery out;
  out.limit = std::min(out.limit, limit_max);
  bool seen_after = false;
  bool seen_limit = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    const bool is_after = key == "after";
    if (!is_after && key != "limit") continue;  // unknown parameters are ignored
    bool& seen = is_after ? seen_after : seen_limit;
    if (seen) return make_error("bad_request", std::string(key) + " is given more than once");
    seen = true;
    auto n = parse_unsigned(key, value);
    if (!n) return n.error();
    if (is_after) {
      out.after = *n;
    } else {
      if (*n == 0) return make_error("bad_request", "limit must be at least 1");
      out.limit = static_cast<std::size_t>(std::min<std::uint64_t>(*n, limit_max));
    }
  }
  if (out.limit == 0) return make_error("bad_request", "movements are disabled (limit max 0)");
  return out;
}


json exception_json(const scanner::DeviceException& x) {
  return {{"kind", x.kind}, {"expected", x.expected}, {"scanned", x.scanned}, {"task", x.task}};
}

json allowance_json(const AllowanceReport& a) {
  return {{"id", a.id ? json(*a.id) : json(nullptr)},
          {"granted", a.granted},
          {"remaining", a.remaining},
          {"expires_ms", a.expires_ms},
          {"exceeded", a.exceeded}};
}

json self_test_json(const ScanReply& r) {
  json issues = json::array();
  bool ok = false;
  std::string summary;
  if (r.self_test) {
    ok = r.self_test->ok;
    summary = r.self_test->summary;
    for (const auto& i : r.self_test->issues) {
      issues.push_back({{"code", i.code}, {"severity", i.severity}, {"problem", i.problem}, {"fix", i.fix}});
    }
  }
  return {{"feedback", "self_test"},
          {"code", r.outcome.code},
          {"message", r.outcome.message},
          {"self_test", {{"ok", ok}, {"summary", summary}, {"issues", std::move(issues)}}}};
}

json symbol_json(const scanner::Symbol& s) {
  json position = json::array();
  for (const auto& p : s.position) position.push_back({p.x, p.y});
  return {{"format", s.format}, {"text", s.text}, {"aim_id", s.aim_id}, {"position", std::move(position)}};
}

json outcome_json(const ScanReply& r) {
  const scanner::Outcome& o = r.outcome;
  json body = {{"feedback", scanner::to_string(o.feedback)},
               {"code", o.code},
               {"message", o.message},
               {"prompt", o.prompt},
               {"operator", r.operator_id},
               {"mode", r.mode}};
  if (o.exception) body["exception"] = exception_json(*o.exception);
  return body;
}

// A DeviceApi reply as the HTTP response the router gives.
HttpResponse from_api(ApiReply reply, bool state_changed = false) {
  HttpResponse r;
  r.status = reply.status;
  if (reply.status != 204 && reply.status != 304) r.body = dump_json(reply.body);
  r.state_changed = state_changed;
  return r;
}

class DeviceRouter final : public Router {
 public:
  DeviceRouter(DeviceApi& api, std::size_t movements_limit_max) : api_(api), limit_max_(movements_limit_max) {}

  void handle(HttpRequest request, Respond respond) override {
    const std::string& path = request.path;
    const bool get = request.method == "GET";
    const bool post = request.method == "POST";
    if (path == "/api/v1/scans") {
      if (!post) return respond(method_not_allowed("POST", path));
      return submit_scan(std::move(request), std::move(respond));
    }
    if (path == "/api/v1/frames") {
      if (!post) return respond(method_not_allowed("POST", path));
      return submit_frame(std::move(request), std::move(respond));
    }
    if (path == "/api/v1/status") {
      if (!get) return respond(method_not_allowed("GET", path));
      return api_.status([respond](ApiReply r) { respond(from_api(std::move(r))); });
    }
    if (path == "/api/v1/movements") {
      if (!get) return respond(method_not_allowed("GET", path));
      auto q = parse_movements_query(request.query, limit_max_);
      if (!q) return respond(bad_request(q.error().message));
      return api_.movements(q->after, q->limit, [respond](ApiReply r) { respond(from_api(std::move(r))); });
    }
    if (path == "/metrics") {
      if (!get) return respond(method_not_allowed("GET", path));
      return api_.metrics([respond](std::string text) {
        HttpResponse r;
        r.content_type = std::string(kMetricsType);
        r.body = std::move(text);
        respond(std::move(r));
      });
    }
    if (auto camera = camera_trigger_id(path)) {
      if (!post) return respond(method_not_allowed("POST", path));
      if (camera->empty() || camera->size() > 64) return respond(bad_request("the camera id must be 1-64 characters"));
      return api_.trigger_camera(std::string(*camera),
                                 [respond](ApiReply r) { respond(from_api(std::move(r), /*state_changed=*/true)); });
    }
    if (const Asset* asset = find_asset(assets(), path)) {
      if (!get) return respond(method_not_allowed("GET", path));
      HttpResponse r;
      r.content_type = std::string(content_type_for(asset->path));
      r.body = std::string(asset->body);
      r.html = true;
      return respond(std::move(r));
    }
    respond(error_response(404, "not_found", "no such path: " + std::string(std::string_view(path).substr(0, kPathEchoMax))));
  }

 private:
  void submit_scan(HttpRequest request, Respond respond) {
    if (!is_json_content_type(request.content_type)) {
      return respond(error_response(415, "unsupported_media_type", "Content-Type must be application/json"));
    }
    auto parsed = parse_scan_body(request.body);
    if (!parsed) return respond(bad_request(parsed.error().message));
    api_.submit_scan(std::move(*parsed), [respond](ScanReply r) { respond(from_api(scan_response(r), true)); });
  }

  void submit_frame(HttpRequest request, Respond respond) {
    const auto type = image_content_type(request.content_type);
    if (!type) return respond(error_response(415, "unsupported_media_type", "Content-Type must be image/png or image/jpeg"));
    const std::string& body = request.body;
    if (body.empty()) return respond(bad_request("the body is empty: send the PNG or JPEG bytes"));
    const bool png = *type == "image/png";
    const bool signature_ok = png ? body.rfind("\x89PNG\r\n\x1a\n", 0) == 0 : body.rfind("\xff\xd8\xff", 0) == 0;
    if (!signature_ok) return respond(bad_request(std::string("the body is not a ") + (png ? "PNG" : "JPEG") + " image"));
    api_.submit_frame(FrameRequest{*type, std::move(request.body), "frame"},
                      [respond](FrameReply r) { respond(from_api(frame_response(r), true)); });
  }

  DeviceApi& api_;
  const std::size_t limit_max_;
};

}  // namespace

std::unique_ptr<Router> make_device_router(DeviceApi& api, std::size_t movements_limit_max) {
  return std::make_unique<DeviceRouter>(api, movements_limit_max);
}

unsigned status_for_error(const Error& e) {
  const std::string& c = e.code;
  if (c == "disk_full") return 507;
  if (c == "overloaded" || c == "decode_timeout") return 503;
  if (c == "not_supported") return 501;
  if (c == "bad_request" || c == "not_an_image") return 400;
  if (c == "image_too_large" || c == "frame_too_large") return 413;
  if (c == "decoder_crashed") return 422;
  return 500;
}

ApiReply scan_response(const ScanReply& r) {
  switch (r.kind) {
    case ScanReply::Kind::self_test:
      return {200, self_test_json(r)};
    case ScanReply::Kind::failed: {
      const Error e = r.error.value_or(make_error("internal", "no reply"));
      json body = error_body(e.code, e.message);
      if (!r.outcome.prompt.empty()) {  // the session's prompt, when the device knew it
        body["feedback"] = "error";
        body["prompt"] = r.outcome.prompt;
      }
      return {status_for_error(e), std::move(body)};
    }
    case ScanReply::Kind::refused: {
      json body = outcome_json(r);
      body["error"] = {{"code", r.outcome.code}, {"message", r.outcome.message}};
      if (r.outcome.exception) body["exception"]["recorded"] = r.exception_recorded;
      return {422, std::move(body)};
    }
    case ScanReply::Kind::recorded:
    case ScanReply::Kind::accepted:
      break;
  }
  json body = outcome_json(r);
  body["scan_id"] = r.scan_id;
  if (!r.more_exceptions.empty()) {
    json more = json::array();
    for (const auto& x : r.more_exceptions) more.push_back(exception_json(x));
    body["more_exceptions"] = std::move(more);
  }
  if (r.allowance) body["allowance"] = allowance_json(*r.allowance);
  if (!r.recorded.empty()) {
    body["movement"] = wire::to_json(r.recorded.front());
    if (r.recorded.size() > 1) {  // a pallet: every movement, the first included
      json all = json::array();
      for (const auto& m : r.recorded) all.push_back(wire::to_json(m));
      body["movements"] = std::move(all);
    }
  }
  return {r.kind == ScanReply::Kind::recorded ? 201U : 200U, std::move(body)};
}

ApiReply frame_response(const FrameReply& r) {
  if (r.error) return {status_for_error(*r.error), error_body(r.error->code, r.error->message)};
  json symbols = json::array();
  for (const auto& s : r.symbols) symbols.push_back(symbol_json(s));
  json scans = json::array();
  unsigned status = 200;
  json failure;  // the body of a 5xx must say what went wrong at the top level too
  for (const auto& s : r.scans) {
    json entry = {{"text", s.text}, {"symbology", s.symbology}};
    if (!s.reply) {
      entry["status"] = nullptr;
      entry["result"] = error_body("not_processed", "skipped after an earlier scan of this frame failed");
    } else {
      ApiReply one = scan_response(*s.reply);
      if (one.status >= 500 && status < 500) {
        status = one.status;
        if (one.body.contains("error")) failure = one.body["error"];
      } else if (one.status == 201 && status == 200) {
        status = 201;
      }
      entry["status"] = one.status;
      entry["result"] = std::move(one.body);
    }
    scans.push_back(std::move(entry));
  }
  json body = {{"found", r.symbols.size()}, {"symbols", std::move(symbols)}, {"scans", std::move(scans)}};
  if (!failure.is_null()) body["error"] = std::move(failure);
  return {status, std::move(body)};
}

}  // namespace tally::ui
