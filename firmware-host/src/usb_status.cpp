#include "usb_status.hpp"

#include <string>
#include <utility>

#include "metrics_text.hpp"

namespace tally::device {

SyncReport with_usb_report(SyncReport base, const UsbScannerManager* usb) {
  SyncReport out;
  out.status = [status = std::move(base.status), usb](nlohmann::json& j) {
    if (status) status(j);
    if (usb == nullptr) {
      j["usb"] = {{"enabled", false}};
      return;
    }
    const UsbStats s = usb->stats();
    nlohmann::json scanners = nlohmann::json::array();
    for (const auto& c : s.connected) {
      char id[10];
      std::snprintf(id, sizeof id, "%04x:%04x", c.id.vid, c.id.pid);
      scanners.push_back({{"name", c.name},
                          {"type", std::string(to_string(c.kind))},
                          {"id", id},
                          {"bus", c.id.bus},
                          {"address", c.id.address},
                          {"interface", c.id.interface},
                          {"reports", c.reports},
                          {"errors", c.errors}});
    }
    j["usb"] = {{"enabled", true},      {"hotplug", s.hotplug},     {"scanners", std::move(scanners)},
                {"reports", s.reports}, {"connects", s.connects}, {"disconnects", s.disconnects}};
  };
  out.metrics = [metrics = std::move(base.metrics), usb]() -> std::string {
    std::string m = metrics ? metrics() : std::string();
    if (usb == nullptr) return m;
    const UsbStats s = usb->stats();
    const auto add = [&m](const char* name, const char* type, const char* help, std::uint64_t value) {
      add_metric(m, name, type, help, value);
    };
    add("tally_usb_scanners_connected", "gauge", "USB scanners open and claimed.", s.connected.size());
    add("tally_usb_reports_total", "counter", "HID reports read from USB scanners.", s.reports);
    add("tally_usb_connects_total", "counter", "USB scanners opened and claimed.", s.connects);
    add("tally_usb_disconnects_total", "counter", "USB scanners lost (unplug, repeated errors).", s.disconnects);
    add("tally_usb_transfer_errors_total", "counter", "Failed USB interrupt transfers (retried).", s.transfer_errors);
    return m;
  };
  return out;
}

}  // namespace tally::device
