// The local HTTP API and UI of tallyd (Boost.Beast), on the caller's
// io_context. Routes: GET / (handheld UI), POST /api/v1/scans,
// POST /api/v1/frames (an image/png or image/jpeg body of at most
// frame_bytes_max, decoded and processed like scans), GET /api/v1/status,
// GET /api/v1/movements?after=SEQ&limit=N, GET /metrics, WebSocket
// /api/v1/events (status pushes, see ui/src/event_hub.hpp).
// Malformed requests get a 4xx JSON error and never reach the DeviceApi.
//
// Thread-safety: all methods on the io_context's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tally/scanner/result.hpp"
#include "tally/ui/device_api.hpp"
#include "tally/ui/router.hpp"

namespace tally::ui {

struct HttpOptions {
  std::string host = "127.0.0.1";  // loopback by default (no TLS/token yet)
  std::uint16_t port = 8080;       // 0: an ephemeral port
  std::size_t body_bytes_max = 64 * 1024;
  std::size_t frame_bytes_max = 8 * 1024 * 1024;  // POST /api/v1/frames only (413 above)
  std::size_t connections_max = 64;  // further connections are closed at once
  std::chrono::seconds idle_timeout{30};
  std::size_t movements_limit_max = 1000;
  std::string server_name = "tallyd";  // the Server header
  // WebSocket /api/v1/events: how often the status is checked for changes
  // while a client is connected (besides right after each scan).
  std::chrono::milliseconds events_interval{1000};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, DeviceApi& api, HttpOptions options);
  // Serves `router` instead of the tallyd routes (tally-ledger). The router
  // must outlive the server.
  HttpServer(boost::asio::io_context& io, Router& router, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Error code: "http_bind".
  Result<boost::asio::ip::tcp::endpoint> start();
  // Stops accepting and closes open connections.
  void stop();
  // Serves one already connected stream socket as if it had been accepted
  // (needs no start()). For tests and the HTTP fuzz target, which feed raw
  // bytes through one end of a socketpair; not used by the daemons.
  void serve(boost::asio::ip::tcp::socket socket);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tally::ui
