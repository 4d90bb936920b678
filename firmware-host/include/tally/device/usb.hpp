// USB scanners through libusb-1.0 on the Boost.Asio loop (docs/HARDWARE.md
// "USB scanners").
//
// UsbContext owns a libusb context and runs its event handling on the Asio
// thread: every libusb poll fd is watched with an asio::posix::stream_descriptor
// (which never owns the fd) and libusb's next timeout with a steady_timer;
// libusb_handle_events_timeout_completed(zero) runs only when one of them is
// ready. No thread of ours, no polling loop. (libusb itself keeps one internal
// thread for its udev hot-plug monitor; it only wakes us through a poll fd.)
//
// UsbScannerManager finds configured scanners (VID:PID, interface
// class/subclass/protocol, HID POS usage page 0x8C), opens and claims them,
// keeps one interrupt-IN transfer in flight per scanner and hands every report
// to a callback. Unplug, replug and suspend/resume are survived without a
// restart. Every libusb call is made on the Asio thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "tally/device/usb_spec.hpp"
#include "tally/scanner/result.hpp"

struct libusb_context;

namespace tally::device {

// Which device a report came from. `scanner` indexes the UsbScannerSpec list
// the manager was built with (so the right decoder can be picked).
struct UsbDeviceId {
  std::size_t scanner = 0;
  std::uint8_t bus = 0;
  std::uint8_t address = 0;
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::uint8_t interface = 0;
  std::string text() const;  // "hid-pos 0c2e:0b61 @1-5 if0"
  bool operator==(const UsbDeviceId&) const = default;
};

// Seconds-scale knobs; defaults suit real hardware, tests shorten them.
struct UsbOptions {
  // Use libusb hot-plug events when libusb has them; false forces the
  // fallback (enumerate now, then every rescan_interval).
  bool hotplug = true;
  // Only without libusb hot-plug support: how often the bus is re-enumerated.
  std::chrono::milliseconds rescan_interval{2000};
  // After a transfer error (e.g. suspend/resume): first and longest pause
  // before the transfer is submitted again.
  std::chrono::milliseconds retry_min{50};
  std::chrono::milliseconds retry_max{2000};
  // Consecutive errors after which the device is closed and opened afresh.
  int errors_before_reopen = 5;
  // libusb log level 0 (none) .. 4 (debug); LIBUSB_DEBUG overrides it.
  int libusb_log_level = 0;
};

class UsbContext {
 public:
  // Creates the libusb context and starts watching its poll fds.
  // "usb_unavailable" when libusb_init fails (no usbfs, e.g. in a container).
  static Result<std::unique_ptr<UsbContext>> open(boost::asio::any_io_executor executor, int log_level = 0);
  ~UsbContext();
  UsbContext(const UsbContext&) = delete;
  UsbContext& operator=(const UsbContext&) = delete;

  libusb_context* get() const;
  boost::asio::any_io_executor executor() const;
  // Lets libusb run its completions now (zero timeout); what the fd and
  // timer handlers call. Also for shutdown code that must wait for callbacks.
  void handle_events();
  // libusb handles its own timeouts; call after submitting a transfer with one.
  void update_timer();
  std::uint64_t wakeups() const;  // times handle_events ran (for status/tests)
  // Stops watching (at shutdown, so the Asio loop can run out of work);
  // libusb events are then only handled by UsbScannerManager's destructor.
  void stop();

 private:
  struct Impl;
  explicit UsbContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What /api/v1/status shows per open scanner.
struct UsbScannerStatus {
  UsbDeviceId id;
  std::string name;
  UsbScannerKind kind = UsbScannerKind::hid_pos;
  std::uint64_t reports = 0;
  std::uint64_t errors = 0;
};

struct UsbStats {
  bool hotplug = false;  // libusb hot-plug events (else periodic rescans)
  std::vector<UsbScannerStatus> connected;
  std::uint64_t reports = 0;      // all reports delivered
  std::uint64_t connects = 0;     // devices opened and claimed
  std::uint64_t disconnects = 0;  // devices lost (unplug, too many errors)
  std::uint64_t transfer_errors = 0;
};

class UsbScannerManager {
 public:
  using ReportCallback = std::function<void(const UsbDeviceId&, std::span<const std::uint8_t>)>;
  using ConnectionCallback = std::function<void(const UsbDeviceId&, bool connected)>;
  using OutputDone = std::function<void(Result<void>)>;

  UsbScannerManager(UsbContext& context, std::vector<UsbScannerSpec> specs, ReportCallback on_report,
                    UsbOptions options = {});
  ~UsbScannerManager();  // stop()s, then waits (bounded) for cancelled transfers
  UsbScannerManager(const UsbScannerManager&) = delete;
  UsbScannerManager& operator=(const UsbScannerManager&) = delete;

  void on_connection(ConnectionCallback callback);

  // Registers for hot-plug (enumerating what is already there) or, where
  // libusb has no hot-plug, enumerates now and then every rescan_interval.
  Result<void> start();
  // Cancels every transfer; devices are closed as their callbacks arrive.
  void stop();

  // A HID output report (SET_REPORT, report type Output, via an async control
  // transfer on endpoint 0) for the scanner's beeper/LED. `report` starts with
  // the report id (0 when the device uses none). `done` runs on the Asio
  // thread; "usb_not_connected" if the device is gone.
  void send_output_report(const UsbDeviceId& device, std::vector<std::uint8_t> report, OutputDone done = {});

  UsbStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// True when a HID report descriptor declares usage page `page` (a global
// Usage Page item anywhere). Pure; bad or truncated input is false.
bool report_descriptor_uses_page(std::span<const std::uint8_t> descriptor, std::uint16_t page);

}  // namespace tally::device
