// A small synchronous HTTP/1.1 client for tests (Boost.Beast).
//
//   tally::test::HttpClient client{port};
//   auto r = client.post_json("/api/v1/scans", R"({"text":"OP:alice"})");
//   EXPECT_EQ(r.status, 200u);  r.json(), r.header("Content-Type")
//
// It keeps one keep-alive connection (reopened after the server closed it;
// connects() counts how often it connected). Every operation is bounded by
// the timeout — it runs its own io_context with beast::tcp_stream deadlines —
// so a broken server fails a test instead of hanging it. Network failures
// throw std::runtime_error. Not thread-safe: one client per thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace tally::test {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  bool keep_alive = false;

  // The header's value, or "" when absent (name in any case).
  std::string header(std::string_view name) const {
    std::string key(name);
    for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    const auto it = headers.find(key);
    return it == headers.end() ? std::string{} : it->second;
  }
  // The body as JSON; a discarded value when it is not JSON.
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : endpoint_(boost::asio::ip::make_address(host), port), host_(std::move(host)), timeout_(timeout) {}

  HttpResponse get(std::string_view target) { return request(boost::beast::http::verb::get, target); }

  HttpResponse post_json(std::string_view target, std::string_view body) {
    return request(boost::beast::http::verb::post, target, body, "application/json");
  }

  // Any request; content_type is set when not empty, extra headers are added.
  HttpResponse request(boost::beast::http::verb method, std::string_view target,
                       std::string_view body = {}, std::string_view content_type = {},
                       const Headers& extra = {}) {
    namespace http = boost::beast::http;
    ensure_connected();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "tally-test");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [name, value] : extra) req.set(name, value);
    req.body() = std::string(body);
    if (!body.empty() || method == http::verb::post || method == http::verb::put) req.prepare_payload();
    req.keep_alive(true);

    stream_->expires_after(timeout_);
    check(run([this, &req](auto handler) { http::async_write(*stream_, req, std::move(handler)); }),
          "write");
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(method == http::verb::head);
    stream_->expires_after(timeout_);
    check(run([this, &parser](auto handler) {
            http::async_read(*stream_, buffer_, parser, std::move(handler));
          }),
          "read");
    auto res = parser.release();
    HttpResponse out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    out.keep_alive = res.keep_alive();
    for (const auto& field : res) {
      std::string key(field.name_string());
      for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      out.headers[key] = std::string(field.value());
    }
    if (!out.keep_alive) close();
    return out;
  }

  // Sends bytes as they are on a fresh connection and returns everything the
  // server sends back until it closes the connection (or the timeout).
  std::string send_raw(std::string_view bytes) {
    close();
    ensure_connected();
    write_raw(bytes);
    return read_until_closed();
  }

  // Writes bytes on the current connection (opened when needed).
  void write_raw(std::string_view bytes) {
    ensure_connected();
    stream_->expires_after(timeout_);
    check(run([this, bytes](auto handler) {
            boost::asio::async_write(*stream_, boost::asio::buffer(bytes.data(), bytes.size()),
                                     std::move(handler));
          }),
          "write");
  }

  // Reads until the server closes the connection or the timeout; returns what came.
  std::string read_until_closed() {
    ensure_connected();
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    stream_->expires_after(timeout_);
    for (;;) {
      std::array<char, 4096> chunk{};
      std::size_t n = 0;
      const auto ec = run([this, &chunk, &n](auto handler) {
        stream_->async_read_some(boost::asio::buffer(chunk),
                                 [&n, h = std::move(handler)](boost::system::error_code e,
                                                              std::size_t bytes) mutable {
                                   n = bytes;
                                   h(e);
                                 });
      });
      out.append(chunk.data(), n);
      if (ec) break;
    }
    close();
    return out;
  }

  // True when the server closes the current connection within `wait`
  // (false if it stays open, or there is none). Closes the connection.
  bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(500)) {
    if (!stream_) return false;
    stream_->expires_after(wait);
    std::array<char, 1> byte{};
    const auto ec = run([this, &byte](auto handler) {
      stream_->async_read_some(boost::asio::buffer(byte), std::move(handler));
    });
    close();
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  bool is_open() const { return stream_.has_value(); }
  int connects() const { return connects_; }

  void close() {
    if (!stream_) return;
    boost::system::error_code ignored;
    stream_->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
    buffer_.clear();
  }

 private:
  // Starts one async operation with a completion handler taking (error_code,
  // …) and runs the client's io_context until it completes.
  template <typename Start>
  boost::system::error_code run(Start start) {
    boost::system::error_code result = boost::asio::error::would_block;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  void check(const boost::system::error_code& ec, const char* what) {
    if (!ec) return;
    close();
    throw std::runtime_error(std::string("HttpClient ") + what + ": " + ec.message());
  }

  void ensure_connected() {
    if (stream_) return;
    stream_.emplace(io_);
    stream_->expires_after(timeout_);
    check(run([this](auto handler) { stream_->async_connect(endpoint_, std::move(handler)); }),
          "connect");
    ++connects_;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  int connects_ = 0;
};

}  // namespace tally::test
