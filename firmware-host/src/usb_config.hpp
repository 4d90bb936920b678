// [[scanner]] entries of type "hid-pos" and "keyboard" (USB scanners) in
// tallyd's TOML config. Private to firmware-host; config.cpp calls it.
#pragma once

#include <vector>

#include <toml++/toml.h>

#include "tally/device/usb_spec.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

// True for the [[scanner]] types read_usb_scanner handles.
bool is_usb_scanner_type(std::string_view type);

// One [[scanner]] table whose type is_usb_scanner_type; `where` names it in
// errors ("scanner[2]"). Error code "bad_config", one line.
Result<UsbScannerSpec> read_usb_scanner(const toml::table& entry, const std::string& where);

// Every USB entry of the [[scanner]] array (other types are left to their
// own readers); nothing is changed on error.
Result<void> read_usb_scanners(const toml::table& root, std::vector<UsbScannerSpec>& out);

}  // namespace tally::device
