// tallyd's scan inputs beside HTTP, started once the server listens and
// stopped first on a signal: USB HID scanners ([[scanner]] hid-pos /
// keyboard), the keyboard wedge on stdin (--stdin), serial scanners and
// V4L2 cameras ([[scanner]] serial / camera). Every scan goes to `sink`,
// the feedback-wrapped DeviceApi HTTP scans take too. Private to
// tally_device; everything on the Asio thread.
#pragma once

#include <memory>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "tally/device/camera.hpp"
#include "tally/device/config.hpp"
#include "tally/device/engine.hpp"
#include "tally/device/feedback.hpp"
#include "tally/device/serial_scanner.hpp"
#include "tally/device/usb.hpp"
#include "local_inputs.hpp"
#include "usb_feedback.hpp"

namespace tally::device {

class ScannerInputs {
 public:
  ScannerInputs(boost::asio::io_context& io, const Config& config, ui::DeviceApi& sink, Feedback& feedback,
                Engine& engine);
  ~ScannerInputs();  // release()s
  ScannerInputs(const ScannerInputs&) = delete;
  ScannerInputs& operator=(const ScannerInputs&) = delete;

  // Starts every configured input. USB trouble is logged and tallyd goes on
  // without (scanners may be plugged later); an error only when --stdin
  // cannot be read.
  std::error_code start();
  // Closes stdin, stops serial scanners, cameras and USB (on a signal).
  void stop();
  // After the event loop ended: waits (bounded) for the USB transfers.
  void release();

  // The camera scanners (their HTTP trigger and status); filled by start().
  const std::vector<std::shared_ptr<CameraScanner>>& cameras() const { return cameras_; }
  const UsbScannerManager* usb() const { return usb_.get(); }

 private:
  void start_usb();
  void start_serial_and_cameras();

  boost::asio::io_context& io_;
  const Config& config_;
  ui::DeviceApi& sink_;
  Feedback& feedback_;
  Engine& engine_;
  UsbScans usb_scans_;
  std::unique_ptr<UsbContext> usb_context_;
  std::unique_ptr<UsbFeedback> usb_feedback_;  // outlives the manager's transfers
  std::unique_ptr<UsbScannerManager> usb_;
  std::shared_ptr<StdinScans> stdin_;
  std::vector<std::shared_ptr<SerialScanner>> serial_;
  std::vector<std::shared_ptr<CameraScanner>> cameras_;
};

}  // namespace tally::device
