#include "http_client.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tally::test {
namespace {

std::string lower(std::string_view s) {
  std::string key(s);
  for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return key;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

struct HttpClient::Impl {
  Impl(std::uint16_t port, std::string host_name, std::chrono::milliseconds limit)
      : endpoint(boost::asio::ip::make_address(host_name), port), host(std::move(host_name)), timeout(limit) {}

  // Starts one async operation with a completion handler taking (error_code,
  // …) and runs the client's io_context until it completes.
  template <typename Start>
  boost::system::error_code run(Start start) {
    boost::system::error_code result = boost::asio::error::would_block;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  void check(const boost::system::error_code& ec, const char* what) {
    if (!ec) return;
    close();
    throw std::runtime_error(std::string("HttpClient ") + what + ": " + ec.message());
  }

  void ensure_connected() {
    if (stream) return;
    stream.emplace(io);
    stream->expires_after(timeout);
    check(run([this](auto handler) { stream->async_connect(endpoint, std::move(handler)); }), "connect");
    ++connects;
  }

  void close() {
    if (!stream) return;
    boost::system::error_code ignored;
    stream->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream->close();
    stream.reset();
    buffer.clear();
  }

  boost::asio::io_context io;
  boost::asio::ip::tcp::endpoint endpoint;
  std::string host;
  std::chrono::milliseconds timeout;
  std::optional<boost::beast::tcp_stream> stream;
  boost::beast::flat_buffer buffer;
  int connects = 0;
};

HttpClient::HttpClient(std::uint16_t port, std::string host, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(port, std::move(host), timeout)) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                 std::string_view content_type, const Headers& extra) {
  namespace http = boost::beast::http;
  Impl& c = *impl_;
  c.ensure_connected();
  http::request<http::string_body> req;
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(http::field::host, c.host);
  req.set(http::field::user_agent, "tally-test");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [name, value] : extra) req.set(name, value);
  req.body() = std::string(body);
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put) req.prepare_payload();
  req.keep_alive(true);

  c.stream->expires_after(c.timeout);
  c.check(c.run([&c, &req](auto handler) { http::async_write(*c.stream, req, std::move(handler)); }), "write");
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  parser.skip(verb == http::verb::head);
  c.stream->expires_after(c.timeout);
  c.check(c.run([&c, &parser](auto handler) { http::async_read(*c.stream, c.buffer, parser, std::move(handler)); }),
          "read");
  auto res = parser.release();
  HttpResponse out;
  out.status = res.result_int();
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  for (const auto& field : res) out.headers[lower(field.name_string())] = std::string(field.value());
  if (!out.keep_alive) c.close();
  return out;
}

std::string HttpClient::send_raw(std::string_view bytes) {
  close();
  write_raw(bytes);
  return read_until_closed();
}

void HttpClient::write_raw(std::string_view bytes) {
  Impl& c = *impl_;
  c.ensure_connected();
  c.stream->expires_after(c.timeout);
  c.check(c.run([&c, bytes](auto handler) {
            boost::asio::async_write(*c.stream, boost::asio::buffer(bytes.data(), bytes.size()),
                                     std::move(handler));
          }),
          "write");
}

std::string HttpClient::read_until_closed() {
  Impl& c = *impl_;
  c.ensure_connected();
  std::string out(static_cast<const char*>(c.buffer.data().data()), c.buffer.size());
  c.buffer.consume(c.buffer.size());
  c.stream->expires_after(c.timeout);
  for (;;) {
    std::array<char, 4096> chunk{};
    std::size_t n = 0;
    const auto ec = c.run([&c, &chunk, &n](auto handler) {
      c.stream->async_read_some(boost::asio::buffer(chunk),
                                [&n, h = std::move(handler)](boost::system::error_code e, std::size_t got) mutable {
                                  n = got;
                                  h(e);
                                });
    });
    out.append(chunk.data(), n);
    if (ec) break;
  }
  c.close();
  return out;
}

bool HttpClient::closed_by_server(std::chrono::milliseconds wait) {
  Impl& c = *impl_;
  if (!c.stream) return false;
  c.stream->expires_after(wait);
  std::array<char, 1> byte{};
  const auto ec =
      c.run([&c, &byte](auto handler) { c.stream->async_read_some(boost::asio::buffer(byte), std::move(handler)); });
  c.close();
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
}

bool HttpClient::is_open() const { return impl_->stream.has_value(); }
int HttpClient::connects() const { return impl_->connects; }
void HttpClient::close() { impl_->close(); }

}  // namespace tally::test
