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
//
// Beast lives only in http_client.cpp (compiled once into
// tally_test_support): the tests that include this header do not
// instantiate it again, which took a third of their compile time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tally::test {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  bool keep_alive = false;

  // The header's value, or "" when absent (name in any case).
  std::string header(std::string_view name) const;
  // The body as JSON; a discarded value when it is not JSON.
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  HttpResponse get(std::string_view target) { return request("GET", target); }

  HttpResponse post_json(std::string_view target, std::string_view body) {
    return request("POST", target, body, "application/json");
  }

  // Any request ("GET", "POST", "DELETE", … or any other token as the
  // method); content_type is set when not empty, extra headers are added.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       std::string_view content_type = {}, const Headers& extra = {});

  // Sends bytes as they are on a fresh connection and returns everything the
  // server sends back until it closes the connection (or the timeout).
  std::string send_raw(std::string_view bytes);

  // Writes bytes on the current connection (opened when needed).
  void write_raw(std::string_view bytes);

  // Reads until the server closes the connection or the timeout; returns what came.
  std::string read_until_closed();

  // True when the server closes the current connection within `wait`
  // (false if it stays open, or there is none). Closes the connection.
  bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(500));

  bool is_open() const;
  int connects() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::test
