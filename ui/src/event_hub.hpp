// WebSocket /api/v1/events of tallyd: pushes the device status (the body of
// GET /api/v1/status) to the handheld UI whenever it changes.
//
// ui/ owns no state and the DeviceApi has no change feed, so the hub asks the
// DeviceApi for the status right after every scan or frame the HTTP server
// answered, and on a timer (status_interval) while at least one client is
// connected (sync progress, broker up/down happen without a scan). A message
// is sent only when the status differs from the last one sent. Nothing runs
// while no client is connected.
//
// Messages (text frames, JSON): {"type":"status","status":{…}}. Client
// messages are read and ignored (at most 4 KiB each). Each client gets the
// latest status once it is connected; a slow client is sent only the newest
// status once its previous write finishes (older ones are dropped).
//
// Thread-safety: all methods on the io_context's thread (one thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tally/ui/device_api.hpp"

namespace tally::ui {

class EventSession;

class EventHub : public std::enable_shared_from_this<EventHub> {
 public:
  EventHub(boost::asio::any_io_executor executor, DeviceApi& api, std::size_t clients_max,
           std::chrono::milliseconds status_interval);

  // Takes over a connection whose request is a WebSocket upgrade to
  // /api/v1/events (checked by the caller). Over clients_max: closed at once.
  void accept(boost::asio::ip::tcp::socket socket,
              boost::beast::http::request<boost::beast::http::string_body> request);
  // Something may have changed (a scan was answered): ask for the status now.
  void nudge();
  // Closes every client and stops the timer; accept() closes at once after.
  void stop();

  // Called by EventSession.
  void joined(const std::shared_ptr<EventSession>& session);

 private:
  void query();
  void on_status(ApiReply reply);
  void arm_timer();
  std::size_t live();

  boost::asio::any_io_executor executor_;
  DeviceApi& api_;
  std::size_t clients_max_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  std::vector<std::weak_ptr<EventSession>> sessions_;
  std::string last_;          // the last message sent; empty: none yet
  bool querying_ = false;     // a status call is in flight
  bool query_again_ = false;  // a nudge came while it was
  bool timer_armed_ = false;
  bool stopped_ = false;
};

}  // namespace tally::ui
