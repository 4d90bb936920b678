// What a configured USB scanner is ([[scanner]] type "hid-pos" or
// "keyboard" in tallyd's config). Kept apart from usb.hpp so config.hpp does
// not pull in Asio or libusb.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally::device {

enum class UsbScannerKind { hid_pos, keyboard };
std::string_view to_string(UsbScannerKind kind);

// One configured USB scanner ([[scanner]] type "hid-pos" or "keyboard").
// A device matches when every field that is set matches. With neither vid nor
// an interface class, the kind supplies a default: keyboard = HID boot
// keyboard (3/1/1); hid-pos = any HID interface whose report descriptor (read
// from sysfs, where the kernel's usbhid driver publishes it) uses usage page
// 0x8C (HID POS).
struct UsbScannerSpec {
  std::string name;  // for logs and status; defaults to the type
  UsbScannerKind kind = UsbScannerKind::hid_pos;
  std::optional<std::uint16_t> vid;
  std::optional<std::uint16_t> pid;
  std::optional<std::uint8_t> interface_class;
  std::optional<std::uint8_t> interface_subclass;
  std::optional<std::uint8_t> interface_protocol;
  std::optional<std::uint16_t> usage_page;  // e.g. 0x8C; checked in sysfs
  bool detach_kernel_driver = true;         // libusb_set_auto_detach_kernel_driver
  std::string layout = "us";                // keyboard: passed to the decoder
};

}  // namespace tally::device
