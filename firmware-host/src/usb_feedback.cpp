#include "usb_feedback.hpp"

#include <string>

#include <spdlog/spdlog.h>

namespace tally::device {

UsbFeedback::UsbFeedback(UsbScannerManager& usb, const std::vector<ScannerConfig>& scanners) : usb_(usb) {
  for (const auto& sc : scanners) {
    if (sc.is_usb()) reports_.push_back(sc.output_reports);
  }
}

void UsbFeedback::on_connection(const UsbDeviceId& id, bool connected) {
  const auto key = std::make_tuple(id.scanner, id.bus, id.address, id.interface);
  if (connected) {
    connected_.insert_or_assign(key, id);
  } else {
    connected_.erase(key);
  }
}

void UsbFeedback::play(Pattern p) {
  const std::string name(to_string(p));
  for (const auto& [key, id] : connected_) {
    if (id.scanner >= reports_.size()) continue;
    const auto it = reports_[id.scanner].find(name);
    if (it == reports_[id.scanner].end()) continue;
    usb_.send_output_report(id, it->second, [this, text = id.text(), name](Result<void> r) {
      if (r) {
        ++sent_;
        return;
      }
      ++failed_;  // the scanner may have gone: the pattern still plays elsewhere
      spdlog::warn("usb: {}: output report for {}: {}", text, name, r.error().message);
    });
  }
}

}  // namespace tally::device
