// Reopening a device that failed or went away (a serial scanner, a camera,
// a camera's trigger input): the delay doubles from reopen_min_ms up to
// reopen_max_ms, each new reason is said once, and an open that works starts
// over from the shortest delay. On the Asio loop; no thread of its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tally::device {

class ReopenBackoff {
 public:
  ReopenBackoff(const boost::asio::any_io_executor& executor, std::chrono::milliseconds min,
                std::chrono::milliseconds max)
      : timer_(executor), min_(min), max_(std::max(min, max)), delay_(min) {}

  // Says "`why`; retrying" through `status` unless it was the last reason
  // said, then calls `retry` after the current delay (not when cancelled),
  // and doubles the delay.
  void schedule(const std::string& why, const std::function<void(std::string)>& status,
                std::function<void()> retry) {
    if (why != last_reason_ && status) status(why + "; retrying");
    last_reason_ = why;
    timer_.expires_after(delay_);
    delay_ = std::min(delay_ * 2, max_);
    timer_.async_wait([retry = std::move(retry)](const boost::system::error_code& ec) {
      if (!ec) retry();
    });
  }

  // The device opened: the next failure waits the shortest delay and is said.
  void opened() {
    delay_ = min_;
    last_reason_.clear();
  }

  void cancel() { timer_.cancel(); }

  std::chrono::milliseconds next_delay() const { return delay_; }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds delay_;
  std::string last_reason_;
};

}  // namespace tally::device
