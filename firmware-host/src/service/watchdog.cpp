#include "tally/service/watchdog.hpp"

#include <atomic>
#include <cstdlib>

#include <spdlog/spdlog.h>

#ifdef TALLY_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace tally::service {

void notify([[maybe_unused]] const std::string& state) {
#ifdef TALLY_HAVE_SYSTEMD
  sd_notify(0, state.c_str());
#endif
}

std::optional<std::chrono::microseconds> watchdog_interval() {
#ifdef TALLY_HAVE_SYSTEMD
  std::uint64_t usec = 0;
  // 0: keep WATCHDOG_USEC/PID in the environment (nothing we exec needs them
  // gone; the decode worker is forked without exec).
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
  }
#endif
  return std::nullopt;
}

struct Watchdog::Answers {
  std::atomic<std::uint64_t> answered{0};  // the last probe generation that answered
};

Watchdog::Watchdog(boost::asio::any_io_executor executor, Probe probe, Status status)
    : timer_(std::move(executor)),
      probe_(std::move(probe)),
      status_(std::move(status)),
      answers_(std::make_shared<Answers>()) {}

Watchdog::~Watchdog() = default;

void Watchdog::start() {
  interval_ = watchdog_interval();
  if (!interval_) return;
  spdlog::info("systemd watchdog every {} ms; pinging every {} ms", interval_->count() / 1000,
               interval_->count() / 2000);
  stopped_ = false;
  tick();  // the first ping at once, then every half interval
}

void Watchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Watchdog::arm() {
  timer_.expires_after(*interval_ / 2);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) tick();
  });
}

void Watchdog::tick() {
  // Ping only when the last probe answered (or none is set): a stalled
  // worker then stops the pings like a stalled loop, and systemd restarts us.
  const bool alive = !probe_ || answers_->answered.load(std::memory_order_acquire) == asked_;
  if (alive) {
    std::string state = "WATCHDOG=1";
    if (status_) {
      const std::string s = status_();
      if (!s.empty()) state += "\nSTATUS=" + s;
    }
    notify(state);
    ++pings_;
    warned_ = false;
    if (probe_) {
      const std::uint64_t generation = ++asked_;
      probe_([answers = answers_, generation] {
        answers->answered.store(generation, std::memory_order_release);
      });
    }
  } else if (!warned_) {
    spdlog::warn("watchdog: the worker has not answered for {} ms; not pinging", interval_->count() / 2000);
    warned_ = true;
  }
  arm();
}

}  // namespace tally::service
