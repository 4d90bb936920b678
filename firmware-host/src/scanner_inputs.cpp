#include "scanner_inputs.hpp"

#include <iostream>
#include <span>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace tally::device {

ScannerInputs::ScannerInputs(boost::asio::io_context& io, const Config& config, ui::DeviceApi& sink,
                             Feedback& feedback, Engine& engine)
    : io_(io),
      config_(config),
      sink_(sink),
      feedback_(feedback),
      engine_(engine),
      usb_scans_(io, sink, &feedback, config.scanners) {}

ScannerInputs::~ScannerInputs() { release(); }

std::error_code ScannerInputs::start() {
  start_usb();
  if (config_.stdin_scans) {
    stdin_ = std::make_shared<StdinScans>(io_, sink_, &feedback_);
    if (auto ec = stdin_->start()) return ec;
  }
  start_serial_and_cameras();
  return {};
}

// Reports → UsbScans' decoders → the sink, like a serial scan; feedback also
// on the scanners' own beeper/LED ([[scanner]] output_reports).
void ScannerInputs::start_usb() {
  if (config_.usb_scanners.empty()) return;
  auto ctx = UsbContext::open(io_.get_executor());
  if (!ctx) {
    spdlog::warn("USB scanners off: {}", ctx.error().message);
    return;
  }
  usb_context_ = std::move(*ctx);
  usb_ = std::make_unique<UsbScannerManager>(
      *usb_context_, config_.usb_scanners, [this](const UsbDeviceId& id, std::span<const std::uint8_t> report) {
        spdlog::debug("usb: {}: report of {} bytes", id.text(), report.size());
        usb_scans_.on_report(id, report);
      });
  usb_feedback_ = std::make_unique<UsbFeedback>(*usb_, config_.scanners);
  feedback_.add_output([f = usb_feedback_.get()](Pattern p) { f->play(p); });
  usb_->on_connection([this](const UsbDeviceId& id, bool connected) {
    usb_scans_.on_connection(id, connected);
    usb_feedback_->on_connection(id, connected);
  });
  if (auto r = usb_->start(); !r) spdlog::warn("USB scanners off: {}", r.error().message);
}

// One SerialScanner per [[scanner]] type = "serial" (reopens by itself), one
// CameraScanner per type = "camera" (frames decoded on the engine's frame
// thread). Their scans take the path of a USB scan.
void ScannerInputs::start_serial_and_cameras() {
  for (const auto& sc : config_.scanners) {
    if (sc.is_usb()) continue;
    const std::string prefix = "scanner " + sc.name + ": ";
    const std::string source = sc.type;  // "serial" | "camera"
    auto scan = [this, prefix, source](DecodedScan s) {
      submit_and_print(io_, sink_, ui::ScanRequest{std::move(s.text), std::move(s.symbology), source}, prefix);
    };
    auto status = [prefix](const std::string& what) { std::cout << prefix << what << std::endl; };
    if (sc.type == "camera") {
      cameras_.push_back(std::make_shared<CameraScanner>(
          io_, sc, system_v4l2(),
          [this](CapturedFrame frame, CameraScanner::DecodeDone done) {
            return engine_.decode_frame(std::move(frame), std::move(done));
          },
          // A frame that could not be decoded is said, not beeped: the
          // operator did nothing wrong, and a continuous camera sees many.
          CameraScanner::Events{.scan = scan,
                                .status = status,
                                .refused = [prefix](const std::string& why) {
                                  std::cout << prefix << "[error] " << why << std::endl;
                                }}));
      cameras_.back()->start();
      continue;
    }
    auto refused = [this, prefix](const std::string& why) {
      std::cout << prefix << "[error] " << why << std::endl;
      feedback_.play(Pattern::error);
    };
    serial_.push_back(std::make_shared<SerialScanner>(
        io_, sc, SerialScanner::Events{.scan = scan, .refused = refused, .status = status}));
    serial_.back()->start();
  }
}

void ScannerInputs::stop() {
  if (stdin_) stdin_->close();
  for (auto& s : serial_) s->stop();
  for (auto& c : cameras_) c->stop();
  if (usb_) usb_->stop();
  if (usb_context_) usb_context_->stop();
}

void ScannerInputs::release() {
  usb_.reset();  // waits (bounded) for its cancelled transfers
  usb_context_.reset();
}

}  // namespace tally::device
