// The local HTTP API and handheld UI of tallyd: Boost.Beast HTTP/1.1 on the
// caller's io_context (one thread). See tally/ui/http_server.hpp.
//
// Shape: HttpServer::Impl owns the acceptor and weak references to the open
// Sessions; each Session (a shared_ptr) owns one connection and handles one
// request at a time (keep-alive; pipelined requests wait in its buffer).
// HTTP is parsed and bounded here; the request then goes to the Router
// (tallyd's device routes or tally-ledger's), whose reply (from any thread)
// is posted back to the session's executor.
//
// Behaviour worth knowing:
// - The idle timeout bounds reading a whole request (header and body) and
//   each write; a connection idle between requests is closed after it.
// - Waiting for the router is not bounded here (it answers exactly once).
// - Errors that leave the connection in an unknown state (malformed HTTP, a
//   body over the limit) are answered and then closed gracefully: send side
//   shut down, then up to 1 MiB / 2 s of the peer's input is drained so the
//   peer reads our answer instead of a reset.
// - POST /api/v1/frames: the body limit is frame_bytes_max (chosen once the
//   header is read); every other request's is body_bytes_max.
// - GET /api/v1/events with a DeviceApi: the WebSocket of status pushes
//   (event_hub.hpp); every other request goes to the router.
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

#include "event_hub.hpp"
#include "tally/ui/device_routes.hpp"

namespace tally::ui {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kDrainBytesMax = 1024 * 1024;
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::chrono::milliseconds kAcceptRetry{100};

constexpr std::string_view kJsonType = "application/json";

// What the server and its sessions share; outlives the HttpServer while a
// session still has handlers pending.
struct Config {
  HttpOptions options;
  Router* router = nullptr;
  std::shared_ptr<EventHub> hub;  // WebSocket /api/v1/events (with a DeviceApi only)
  std::unique_ptr<Router> owned_router;  // tallyd's device routes, when made here
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

// POST /api/v1/frames (the target may carry a query): the larger body limit.
bool is_frames_target(std::string_view target) {
  return target.substr(0, target.find('?')) == "/api/v1/frames";
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
    if (path == "/api/v1/events" && config_->hub) {
      if (method != http::verb::get) return send(method_not_allowed("GET", path));
      if (!beast::websocket::is_upgrade(req)) {
        return send(error_outcome(426, "upgrade_required", "/api/v1/events is a WebSocket: send an Upgrade request"));
      }
      closed_ = true;  // the connection is the hub's from now on
      return config_->hub->accept(stream_.release_socket(), std::move(req));
    }
    route(req, path, query);
  }

  // Hands the request to the Router; its answer is posted back here.
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
    if (reply.state_changed && config_->hub) config_->hub->nudge();  // e.g. a scan: push the status
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

  // Ignores a reply for a connection already closed, or a second reply.
  bool take_reply(std::uint64_t id) {
    if (closed_ || id == 0 || id != awaiting_) return false;
    awaiting_ = 0;
    return true;
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
  std::uint64_t awaiting_ = 0;  // id of the router call being waited for; 0: none
  std::size_t body_limit_ = 0;  // of the request being read
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
    auto config = std::make_shared<Config>();
    if (api != nullptr) {
      config->hub =
          std::make_shared<EventHub>(io.get_executor(), *api, options.connections_max, options.events_interval);
      config->owned_router = make_device_router(*api, options.movements_limit_max);
      router = config->owned_router.get();
    }
    config->router = router;
    config->options = std::move(options);
    return config;
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
