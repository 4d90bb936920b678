// Feedback on the USB scanners' own beeper/LED: each pattern Feedback plays
// is sent as the HID output report configured for it ([[scanner]]
// output_reports) to every connected scanner that has one, with SET_REPORT
// through UsbScannerManager (an asynchronous libusb control transfer on the
// Asio loop). Private to tally_device; wired in app.cpp.
// Thread-safety: the io_context's thread, like UsbScannerManager.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "tally/device/config.hpp"
#include "tally/device/feedback.hpp"
#include "tally/device/usb.hpp"

namespace tally::device {

class UsbFeedback {
 public:
  // `scanners`: all [[scanner]] entries; the USB ones are indexed like
  // Config::usb_scanners (UsbDeviceId::scanner).
  UsbFeedback(UsbScannerManager& usb, const std::vector<ScannerConfig>& scanners);
  void on_connection(const UsbDeviceId& id, bool connected);
  void play(Pattern p);

  std::uint64_t sent() const { return sent_; }
  std::uint64_t failed() const { return failed_; }

 private:
  UsbScannerManager& usb_;
  std::vector<std::map<std::string, std::vector<std::uint8_t>>> reports_;  // per USB scanner
  std::map<std::tuple<std::size_t, std::uint8_t, std::uint8_t, std::uint8_t>, UsbDeviceId> connected_;
  std::uint64_t sent_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace tally::device
