// WebSocket /api/v1/events (see event_hub.hpp).
#include "event_hub.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace tally::ui {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

constexpr std::size_t kClientMessageBytesMax = 4096;

// One WebSocket client. Owned by its pending operations (shared_ptr); the hub
// keeps a weak reference.
class EventSession : public std::enable_shared_from_this<EventSession> {
 public:
  EventSession(net::ip::tcp::socket socket, std::weak_ptr<EventHub> hub)
      : ws_(std::move(socket)), hub_(std::move(hub)) {}

  void run(beast::http::request<beast::http::string_body> request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "tallyd"); }));
    ws_.read_message_max(kClientMessageBytesMax);
    ws_.async_accept(request, beast::bind_front_handler(&EventSession::on_accept, shared_from_this()));
  }

  // Sends `message` (the newest wins while a write is in progress).
  void send(std::string message) {
    if (closed_ || !open_) return;
    if (writing_) {
      next_ = std::move(message);
      has_next_ = true;
      return;
    }
    write(std::move(message));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return close();
    open_ = true;
    if (auto hub = hub_.lock()) hub->joined(shared_from_this());
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&EventSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();  // closed by the peer, timeout, a message over the limit
    buffer_.consume(buffer_.size());
    do_read();
  }

  void write(std::string message) {
    writing_ = true;
    out_ = std::move(message);
    ws_.text(true);
    ws_.async_write(net::buffer(out_), beast::bind_front_handler(&EventSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    writing_ = false;
    if (ec) return close();
    if (has_next_) {
      has_next_ = false;
      write(std::move(next_));
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::weak_ptr<EventHub> hub_;
  beast::flat_buffer buffer_;
  std::string out_;   // the message being written
  std::string next_;  // the newest message waiting for it
  bool has_next_ = false;
  bool writing_ = false;
  bool open_ = false;
  bool closed_ = false;
};

EventHub::EventHub(net::any_io_executor executor, DeviceApi& api, std::size_t clients_max,
                   std::chrono::milliseconds status_interval)
    : executor_(std::move(executor)),
      api_(api),
      clients_max_(clients_max),
      interval_(status_interval),
      timer_(executor_) {}

std::size_t EventHub::live() {
  std::erase_if(sessions_, [](const std::weak_ptr<EventSession>& weak) { return weak.expired(); });
  return sessions_.size();
}

void EventHub::accept(net::ip::tcp::socket socket, beast::http::request<beast::http::string_body> request) {
  if (stopped_ || live() >= clients_max_) {
    beast::error_code ignored;
    socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    return;
  }
  auto session = std::make_shared<EventSession>(std::move(socket), weak_from_this());
  sessions_.push_back(session);  // counted from now on, joined() once the handshake is done
  session->run(std::move(request));
}

void EventHub::joined(const std::shared_ptr<EventSession>& session) {
  if (stopped_) return session->close();
  if (!last_.empty()) session->send(last_);
  nudge();
  arm_timer();
}

void EventHub::nudge() {
  if (stopped_ || live() == 0) return;
  if (querying_) {
    query_again_ = true;
    return;
  }
  query();
}

void EventHub::query() {
  querying_ = true;
  query_again_ = false;
  api_.status([self = shared_from_this()](ApiReply reply) mutable {
    net::post(self->executor_, [self, r = std::move(reply)]() mutable { self->on_status(std::move(r)); });
  });
}

void EventHub::on_status(ApiReply reply) {
  querying_ = false;
  if (stopped_) return;
  if (reply.status == 200) {
    const nlohmann::json message = {{"type", "status"}, {"status", std::move(reply.body)}};
    std::string text = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text != last_) {
      last_ = std::move(text);
      for (const auto& weak : sessions_) {
        if (auto s = weak.lock()) s->send(last_);
      }
    }
  }
  if (query_again_) nudge();
}

void EventHub::arm_timer() {
  if (timer_armed_ || stopped_) return;
  timer_armed_ = true;
  timer_.expires_after(interval_);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    self->timer_armed_ = false;
    if (ec || self->stopped_ || self->live() == 0) return;  // idle: no wake-ups without clients
    self->nudge();
    self->arm_timer();
  });
}

void EventHub::stop() {
  stopped_ = true;
  timer_.cancel();
  for (const auto& weak : sessions_) {
    if (auto s = weak.lock()) s->close();
  }
  sessions_.clear();
}

}  // namespace tally::ui
