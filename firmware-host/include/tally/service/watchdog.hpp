// systemd notification for Tally's daemons (tallyd, tally-ledger): READY,
// STOPPING, STATUS and the watchdog the event loop feeds.
//
// Lives in firmware-host/ (DESIGN.md: firmware-host owns "systemd
// notify/watchdog"); tally::service depends on nothing else of Tally, so
// sync/'s tally-ledger links it without a cycle between the folders' targets.
//
// Without NOTIFY_SOCKET at run time every call does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tally::service {

// As sd_notify(0, state), e.g. "READY=1" or "STOPPING=1". Any thread.
void notify(const std::string& state);

// The watchdog interval systemd asks for (WATCHDOG_USEC, and WATCHDOG_PID is
// this process or unset); nullopt when there is no watchdog.
std::optional<std::chrono::microseconds> watchdog_interval();

// Feeds systemd's watchdog from the event loop: a steady_timer at half the
// interval sends WATCHDOG=1 (and STATUS=…) from the loop's thread, so a stuck
// loop stops the pings. A probe adds a second thread to the proof: every tick
// asks it again, and the next tick pings only if it answered meanwhile (a
// worker answering a queued no-op). No timer at all without a watchdog: an
// idle process does not wake up.
class Watchdog {
 public:
  // Calls `alive` (from any thread) once the checked part has shown it works.
  using Probe = std::function<void(std::function<void()> alive)>;
  // The STATUS= text sent with each ping (on the loop's thread); may be empty.
  using Status = std::function<std::string()>;

  Watchdog(boost::asio::any_io_executor executor, Probe probe, Status status);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts the ticks when systemd asked for a watchdog (watchdog_interval()),
  // else does nothing. Call on the loop's thread or before it runs.
  void start();
  // Cancels the timer. Loop thread.
  void stop();

  bool enabled() const { return interval_.has_value(); }
  std::uint64_t pings() const { return pings_; }  // sent so far (loop thread)

 private:
  void arm();
  void tick();

  boost::asio::steady_timer timer_;
  Probe probe_;
  Status status_;
  std::optional<std::chrono::microseconds> interval_;
  // The probe's answer may arrive after the Watchdog is gone: shared.
  struct Answers;
  std::shared_ptr<Answers> answers_;
  std::uint64_t asked_ = 0;  // probe generation last asked (loop thread)
  std::uint64_t pings_ = 0;
  bool warned_ = false;
  bool stopped_ = false;
};

}  // namespace tally::service
