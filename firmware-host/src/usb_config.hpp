// [[scanner]] entries of type "hid-pos" and "keyboard" (USB scanners) in
// tallyd's TOML config. Private to firmware-host; config.cpp calls it.
#pragma once

#include <vector>

#include <toml++/toml.h>

#include "tally/device/usb_spec.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

// The USB device selection of one [[scanner]] table of type "hid-pos" or
// "keyboard" (vid, pid, interface_class/subclass/protocol, usage_page,
// detach_kernel_driver); config.cpp's read_scanner checks the keys and
// reads the rest (name, layout, …). `where` names it in errors
// ("scanner[2]"). Error code "bad_config", one line.
Result<UsbScannerSpec> read_usb_selection(const toml::table& entry, const std::string& where, UsbScannerKind kind);

}  // namespace tally::device
