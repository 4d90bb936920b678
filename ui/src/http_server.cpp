// The local HTTP API and handheld UI of tallyd: Boost.Beast HTTP/1.1 on the
// caller's io_context (one thread). See tally/ui/http_server.hpp.
//
// Shape: HttpServer::Impl owns the acceptor and weak references to the open
// Sessions; each Session (a shared_ptr) owns one connection and handles one
// request at a time (keep-alive; pipelined requests wait in its buffer).
// Requests are parsed and validated here; only valid ones reach DeviceApi,
// whose reply (from any thread) is posted back to the session's executor.
//
// Behaviour worth knowing:
// - The idle timeout bounds reading a whole request (header and body) and
//   each write; a connection idle between requests is closed after it.
// - Waiting for DeviceApi is not bounded here (the engine answers exactly once).
// - Errors that leave the connection in an unknown state (malformed HTTP, a
//   body over the limit) are answered and then closed gracefully: send side
//   shut down, then up to 1 MiB / 2 s of the peer's input is drained so the
//   peer reads our answer instead of a reset.
// - GET /api/v1/movements: `after` defaults to 0, `limit` to 100; both must be
//   plain decimal digits that fit (else 400); `limit` 0 is refused; a `limit`
//   above movements_limit_max is clamped to it (the reply's next_after lets the
//   client page on). Unknown query parameters are ignored, repeated ones refused.
// - POST /api/v1/scans: unknown fields in the body are refused (400).
// - POST /api/v1/frames: the body limit is frame_bytes_max (chosen once the
//   header is read); Content-Type must be image/png or image/jpeg (415) and
//   the body must start with that format's signature (400). Decoding runs
//   in the DeviceApi (off this thread).
// - POST /api/v1/cameras/{id}/trigger: no body is read; the DeviceApi
//   answers (202, or 404/409/503 naming why not).
#include "tally/ui/http_server.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "assets.hpp"
#include "event_hub.hpp"
#include "tally/ui/device_routes.hpp"

namespace tally::ui {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kTextBytesMax = 4096;
constexpr std::size_t kSymbologyBytesMax = 32;
constexpr std::size_t kDefaultMovementsLimit = 100;
constexpr std::size_t kDrainBytesMax = 1024 * 1024;
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::size_t kPathEchoMax = 200;

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

// What the server and its sessions share; outlives the HttpServer while a
// session still has handlers pending.
struct Config {
  DeviceApi* api = nullptr;
  HttpOptions options;
  Router* router = nullptr;  // when set, every request goes to it instead
  std::shared_ptr<EventHub> hub;  // WebSocket /api/v1/events (tallyd routes only)
};

// One response to send.
struct Outcome {
  unsigned status = 200;
  std::string content_type{kJsonType};
  std::string body;
  std::string allow;  // 405 only
  bool close = false;      // close the connection after it
  bool html = false;       // add the page's security headers
};

std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Outcome json_outcome(unsigned status, const nlohmann::json& body) {
  Outcome out;
  out.status = status;
  out.body = dump(body);
  return out;
}

Outcome error_outcome(unsigned status, const std::string& code, const std::string& message) {
  return json_outcome(status, error_body(code, message));
}

Outcome bad_request(const std::string& message) { return error_outcome(400, "bad_request", message); }

Outcome method_not_allowed(std::string_view allow, std::string_view path) {
  Outcome out = error_outcome(405, "method_not_allowed",
                              "use " + std::string(allow) + " for " + std::string(path));
  out.allow = allow;
  return out;
}

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
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return make_error("bad_request", "body is not valid JSON");
  if (!json.is_object()) return make_error("bad_request", "body must be a JSON object");
  ScanRequest request;
  const auto text = json.find("text");
  if (text == json.end()) return make_error("bad_request", "text is required");
  if (!text->is_string()) return make_error("bad_request", "text must be a string");
  request.text = text->get<std::string>();
  if (auto problem = text_problem(request.text)) return make_error("bad_request", *problem);
  if (const auto symbology = json.find("symbology"); symbology != json.end()) {
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
  for (const auto& item : json.items()) {
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

// POST /api/v1/frames (the target may carry a query).
bool is_frames_target(std::string_view target) {
  return target.substr(0, target.find('?')) == "/api/v1/frames";
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

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_target).category();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Config> config)
      : stream_(std::move(socket)), executor_(stream_.get_executor()), config_(std::move(config)) {}

  void start() {
    net::dispatch(executor_, beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // Closes the connection now; pending operations finish as aborted.
  void close() { do_close(); }

 private:
  const HttpOptions& options() const { return config_->options; }

  void do_read() {
    if (closed_) return;
    parser_.emplace();
    // The larger of the two limits until the header says which applies (a
    // Content-Length over it is refused while the header is parsed).
    body_limit_ = std::max(options().body_bytes_max, options().frame_bytes_max);
    parser_->body_limit(body_limit_);
    stream_.expires_after(options().idle_timeout);  // bounds header and body together
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    body_limit_ = req.method() == http::verb::post && is_frames_target(req.target()) ? options().frame_bytes_max
                                                                                    : options().body_bytes_max;
    if (const auto length = parser_->content_length(); length && *length > body_limit_) {
      return on_read_error(http::error::body_limit);
    }
    parser_->body_limit(body_limit_);  // bounds a chunked body
    if (!parser_->is_done() && req.version() >= 11 &&
        beast::iequals(req[http::field::expect], "100-continue")) {
      continue_ = {};
      continue_.version(11);
      continue_.result(http::status::continue_);
      http::async_write(stream_, continue_,
                        beast::bind_front_handler(&Session::on_continue_sent, shared_from_this()));
      return;
    }
    do_read_body();
  }

  void on_continue_sent(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return do_close();
    do_read_body();
  }

  void do_read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return on_read_error(ec);
    try {
      handle_request(parser_->release());
    } catch (const std::exception& e) {
      send_or_close(error_outcome(500, "internal", e.what()));
    }
  }

  void on_read_error(const beast::error_code& ec) {
    if (closed_ || ec == net::error::operation_aborted) return;
    version_ = 11;
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return send(error_outcome(413, "body_too_large",
                                "the body is larger than " +
                                    std::to_string(body_limit_) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return send(error_outcome(431, "headers_too_large", "the request header is too large"));
    }
    if (is_http_parse_error(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return send(bad_request("malformed HTTP request: " + ec.message()));
    }
    do_close();  // peer closed, timeout, reset
  }

  void handle_request(http::request<http::string_body> req) {
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    const std::string_view target = req.target();
    if (target.empty() || target.front() != '/') {
      return send(bad_request("the request target must be an absolute path"));
    }
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    const http::verb method = req.method();
    if (config_->router != nullptr) return route(req, path, query);

    if (path == "/api/v1/scans") {
      if (method != http::verb::post) return send(method_not_allowed("POST", path));
      return handle_scan(req);
    }
    if (path == "/api/v1/frames") {
      if (method != http::verb::post) return send(method_not_allowed("POST", path));
      return handle_frame(req);
    }
    if (path == "/api/v1/status") {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      return call_api(&Session::call_status);
    }
    if (path == "/api/v1/movements") {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      auto parsed = parse_movements_query(query, options().movements_limit_max);
      if (!parsed) return send(bad_request(parsed.error().message));
      movements_query_ = *parsed;
      return call_api(&Session::call_movements);
    }
    if (path == "/metrics") {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      return call_api(&Session::call_metrics);
    }
    if (auto camera = camera_trigger_id(path)) {
      if (method != http::verb::post) return send(method_not_allowed("POST", path));
      if (camera->empty() || camera->size() > 64) return send(bad_request("the camera id must be 1-64 characters"));
      camera_ = std::string(*camera);
      nudge_events_ = true;
      return call_api(&Session::call_trigger_camera);
    }
    if (path == "/api/v1/events") {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      if (!beast::websocket::is_upgrade(req)) {
        return send(error_outcome(426, "upgrade_required", "/api/v1/events is a WebSocket: send an Upgrade request"));
      }
      closed_ = true;  // the connection is the hub's from now on
      return config_->hub->accept(stream_.release_socket(), std::move(req));
    }
    if (const Asset* asset = find_asset(assets(), path)) {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      Outcome out;
      out.content_type = content_type_for(asset->path);
      out.body = std::string(asset->body);
      out.html = true;
      return send(std::move(out));
    }
    const std::string_view shown = path.substr(0, kPathEchoMax);
    send(error_outcome(404, "not_found", "no such path: " + std::string(shown)));
  }

  // Hands the request to the Router; its answer comes back like a DeviceApi reply.
  void route(http::request<http::string_body>& req, std::string_view path, std::string_view query) {
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.path = std::string(path);
    request.query = std::string(query);
    request.content_type = std::string(req[http::field::content_type]);
    request.body = std::move(req.body());
    try {
      awaiting_ = ++calls_;
      config_->router->handle(std::move(request), [self = shared_from_this(), id = awaiting_](HttpResponse r) mutable {
        net::post(self->executor_, [self, id, r = std::move(r)]() mutable { self->on_router_reply(id, std::move(r)); });
      });
    } catch (const std::exception& e) {
      awaiting_ = 0;
      send_or_close(error_outcome(500, "internal", e.what()));
    }
  }

  void on_router_reply(std::uint64_t id, HttpResponse reply) {
    if (!take_reply(id)) return;
    if (reply.status < 200 || reply.status > 599) {
      return send_or_close(error_outcome(500, "internal", "bad status " + std::to_string(reply.status)));
    }
    Outcome out;
    out.status = reply.status;
    out.content_type = std::move(reply.content_type);
    out.body = std::move(reply.body);
    out.allow = std::move(reply.allow);
    out.html = reply.html;
    send_or_close(std::move(out));
  }

  void handle_scan(const http::request<http::string_body>& req) {
    if (!is_json_content_type(req[http::field::content_type])) {
      return send(error_outcome(415, "unsupported_media_type",
                                "Content-Type must be application/json"));
    }
    auto parsed = parse_scan_body(req.body());
    if (!parsed) return send(bad_request(parsed.error().message));
    scan_ = std::move(*parsed);
    nudge_events_ = true;
    call_api(&Session::call_submit_scan);
  }

  void handle_frame(http::request<http::string_body>& req) {
    const auto type = image_content_type(req[http::field::content_type]);
    if (!type) {
      return send(error_outcome(415, "unsupported_media_type", "Content-Type must be image/png or image/jpeg"));
    }
    const std::string& body = req.body();
    if (body.empty()) return send(bad_request("the body is empty: send the PNG or JPEG bytes"));
    const bool png = *type == "image/png";
    const bool signature_ok = png ? body.rfind("\x89PNG\r\n\x1a\n", 0) == 0 : body.rfind("\xff\xd8\xff", 0) == 0;
    if (!signature_ok) {
      return send(bad_request(std::string("the body is not a ") + (png ? "PNG" : "JPEG") + " image"));
    }
    frame_ = FrameRequest{*type, std::move(req.body()), "frame"};
    nudge_events_ = true;
    call_api(&Session::call_submit_frame);
  }

  // Calls the DeviceApi through `call`; an exception from it becomes a 500.
  void call_api(void (Session::*call)()) {
    try {
      awaiting_ = ++calls_;
      (this->*call)();
    } catch (const std::exception& e) {
      awaiting_ = 0;
      send_or_close(error_outcome(500, "internal", e.what()));
    }
  }

  void call_submit_scan() {
    auto reply = make_reply();
    config_->api->submit_scan(std::move(scan_), [reply](ScanReply r) { reply(scan_response(r)); });
  }
  void call_submit_frame() {
    auto reply = make_reply();
    config_->api->submit_frame(std::move(frame_), [reply](FrameReply r) { reply(frame_response(r)); });
  }
  void call_status() { config_->api->status(make_reply()); }
  void call_trigger_camera() { config_->api->trigger_camera(std::move(camera_), make_reply()); }
  void call_movements() {
    config_->api->movements(movements_query_.after, movements_query_.limit, make_reply());
  }
  void call_metrics() {
    config_->api->metrics([self = shared_from_this(), id = awaiting_](std::string text) mutable {
      net::post(self->executor_, [self, id, t = std::move(text)]() mutable {
        self->on_metrics_reply(id, std::move(t));
      });
    });
  }

  // The callback handed to DeviceApi: may run on any thread, so it only posts.
  DeviceApi::Reply make_reply() {
    return [self = shared_from_this(), id = awaiting_](ApiReply reply) mutable {
      net::post(self->executor_, [self, id, r = std::move(reply)]() mutable {
        self->on_api_reply(id, std::move(r));
      });
    };
  }

  // Ignores a reply for a connection already closed, or a second reply.
  bool take_reply(std::uint64_t id) {
    if (closed_ || id == 0 || id != awaiting_) return false;
    awaiting_ = 0;
    return true;
  }

  void on_api_reply(std::uint64_t id, ApiReply reply) {
    if (std::exchange(nudge_events_, false) && config_->hub) config_->hub->nudge();  // a scan may change the status
    if (!take_reply(id)) return;
    try {
      if (reply.status < 200 || reply.status > 599) {
        return send(error_outcome(500, "internal",
                                  "the device answered with status " + std::to_string(reply.status)));
      }
      Outcome out;
      out.status = reply.status;
      if (reply.status != 204 && reply.status != 304) out.body = dump(reply.body);
      send(std::move(out));
    } catch (const std::exception& e) {
      send_or_close(error_outcome(500, "internal", e.what()));
    }
  }

  void on_metrics_reply(std::uint64_t id, std::string text) {
    if (!take_reply(id)) return;
    Outcome out;
    out.content_type = kMetricsType;
    out.body = std::move(text);
    send_or_close(std::move(out));
  }

  void send_or_close(Outcome out) {
    try {
      send(std::move(out));
    } catch (const std::exception&) {
      do_close();
    }
  }

  void send(Outcome out) {
    if (closed_) return;
    close_after_write_ = out.close || !keep_alive_;
    res_ = {};
    res_.version(version_);
    res_.result(out.status);
    res_.set(http::field::server, options().server_name);
    res_.set(http::field::content_type, out.content_type);
    res_.set(http::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    if (!out.allow.empty()) res_.set(http::field::allow, out.allow);
    if (out.html) {
      res_.set("Content-Security-Policy",
               "default-src 'self'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'");
    }
    res_.keep_alive(!close_after_write_);
    res_.body() = std::move(out.body);
    res_.prepare_payload();
    stream_.expires_after(options().idle_timeout);
    http::async_write(stream_, res_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return do_close();
    res_ = {};
    if (close_after_write_) return do_lingering_close();
    do_read();
  }

  // Shuts our side, then drains what the peer still sends, so it reads our
  // answer rather than a connection reset.
  void do_lingering_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return do_close();
    drained_ = 0;
    stream_.expires_after(std::min<std::chrono::steady_clock::duration>(kDrainTimeout,
                                                                          options().idle_timeout));
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(net::buffer(drain_),
                            beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > kDrainBytesMax) return do_close();
    do_drain();
  }

  void do_close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const net::any_io_executor executor_;
  std::shared_ptr<const Config> config_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> res_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  std::uint64_t calls_ = 0;
  std::uint64_t awaiting_ = 0;  // id of the DeviceApi call being waited for; 0: none
  bool nudge_events_ = false;   // the call awaited is a scan or frame: tell the event hub
  ScanRequest scan_;
  FrameRequest frame_;
  std::size_t body_limit_ = 0;  // of the request being read
  MovementsQuery movements_query_;
  std::string camera_;  // POST /api/v1/cameras/{id}/trigger
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& io_context, DeviceApi* api, Router* router, HttpOptions options)
      : config(make_config(io_context, api, router, std::move(options))),
        acceptor(io_context),
        retry_timer(io_context) {}

  static std::shared_ptr<const Config> make_config(net::io_context& io, DeviceApi* api, Router* router,
                                                   HttpOptions options) {
    std::shared_ptr<EventHub> hub;
    if (api != nullptr) {
      hub = std::make_shared<EventHub>(io.get_executor(), *api, options.connections_max, options.events_interval);
    }
    return std::make_shared<Config>(Config{api, std::move(options), router, std::move(hub)});
  }

  Result<tcp::endpoint> start() {
    const HttpOptions& options = config->options;
    if (acceptor.is_open()) return make_error("http_bind", "the HTTP server is already started");
    beast::error_code ec;
    net::ip::address address = options.host == "localhost"
                                   ? net::ip::address(net::ip::address_v4::loopback())
                                   : net::ip::make_address(options.host, ec);
    if (ec) return make_error("http_bind", "not an IP address: \"" + options.host + "\"");
    const tcp::endpoint endpoint{address, options.port};
    const auto fail = [this, &ec, &options](const char* what) {
      beast::error_code ignored;
      acceptor.close(ignored);
      return make_error("http_bind", std::string("cannot ") + what + " " + options.host + ":" +
                                         std::to_string(options.port) + ": " + ec.message());
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return fail("configure");
    acceptor.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen on");
    auto local = acceptor.local_endpoint(ec);
    if (ec) return fail("listen on");
    running = true;
    do_accept();
    return local;
  }

  void stop() {
    running = false;
    beast::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    for (const auto& weak : sessions) {
      if (auto session = weak.lock()) session->close();
    }
    sessions.clear();
    if (config->hub) config->hub->stop();
  }

  void do_accept() {
    acceptor.async_accept(beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (!running || ec == net::error::operation_aborted) return;
    if (ec) {  // e.g. out of file descriptors: pause rather than spin
      retry_timer.expires_after(kAcceptRetry);
      retry_timer.async_wait(beast::bind_front_handler(&Impl::on_retry, shared_from_this()));
      return;
    }
    serve(std::move(socket));
    do_accept();
  }

  void serve(tcp::socket socket) {
    std::erase_if(sessions, [](const std::weak_ptr<Session>& weak) { return weak.expired(); });
    if (sessions.size() >= config->options.connections_max) {
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(std::move(socket), config);
      sessions.push_back(session);
      session->start();
    }
  }

  void on_retry(beast::error_code ec) {
    if (ec || !running) return;
    do_accept();
  }

  std::shared_ptr<const Config> config;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::vector<std::weak_ptr<Session>> sessions;
  bool running = false;
};

HttpServer::HttpServer(boost::asio::io_context& io, DeviceApi& api, HttpOptions options)
    : impl_(std::make_shared<Impl>(io, &api, nullptr, std::move(options))) {}

HttpServer::HttpServer(boost::asio::io_context& io, Router& router, HttpOptions options)
    : impl_(std::make_shared<Impl>(io, nullptr, &router, std::move(options))) {}

HttpServer::~HttpServer() { impl_->stop(); }

Result<boost::asio::ip::tcp::endpoint> HttpServer::start() { return impl_->start(); }

void HttpServer::stop() { impl_->stop(); }

void HttpServer::serve(boost::asio::ip::tcp::socket socket) { impl_->serve(std::move(socket)); }

}  // namespace tally::ui
