// Serial and CDC-ACM barcode scanners (type = "serial" in [[scanner]]):
// boost::asio::serial_port on the caller's io_context, reading whatever
// arrives and splitting it into scans at the configured suffix.
//
// The port is opened at start(); when it cannot be opened or goes away (USB
// unplugged: EIO/EOF on read) it is closed and opened again from a timer
// with doubling backoff (reopen_min_ms .. reopen_max_ms), never by polling.
// Thread-safety: every method and callback on the io_context's thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tally/device/config.hpp"
#include "tally/device/reopen_backoff.hpp"
#include "tally/device/hid_decoders.hpp"

namespace tally::device {

// Splits a byte stream into scans at `suffix` (pure). With a CR/LF suffix
// (cr, lf, crlf), CR and LF around a line are stripped and empty lines
// dropped, so a scanner sending CRLF works under any of them. A line over
// max_len bytes is refused whole (up to its suffix). aim_prefix: a leading
// AIM identifier becomes the symbology.
class LineSplitter {
 public:
  struct Item {
    DecodedScan scan;       // when !refused
    bool refused = false;   // an over-long line, dropped
  };
  LineSplitter(std::string suffix, std::size_t max_len, bool aim_prefix);
  // The scans (and refusals) completed by `bytes`, in order.
  std::vector<Item> feed(std::string_view bytes);
  void reset();  // forget a partial line (the port went away)

 private:
  std::string suffix_;
  std::size_t max_len_;
  bool aim_prefix_;
  bool crlf_family_;
  std::string line_;
  bool too_long_ = false;
};

class SerialScanner : public std::enable_shared_from_this<SerialScanner> {
 public:
  struct Events {
    std::function<void(DecodedScan)> scan;          // a complete scan
    std::function<void(std::string)> refused;       // why a line was dropped
    std::function<void(std::string)> status;        // "open /dev/…", "lost /dev/…: reason; reopening"
  };

  // REQUIRES: config.type == "serial" (load_config validated it).
  SerialScanner(boost::asio::io_context& io, ScannerConfig config, Events events);
  SerialScanner(const SerialScanner&) = delete;
  SerialScanner& operator=(const SerialScanner&) = delete;

  void start();  // opens now or schedules the reopen timer
  void stop();   // closes the port and cancels the timer; no more events

  const ScannerConfig& config() const { return config_; }
  bool is_open() const { return port_.is_open(); }

 private:
  void open();
  void schedule_reopen(const std::string& why);
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t n);

  ScannerConfig config_;
  Events events_;
  boost::asio::serial_port port_;
  ReopenBackoff reopen_;
  LineSplitter splitter_;
  std::array<char, 512> buffer_{};
  bool stopped_ = false;
};

}  // namespace tally::device
