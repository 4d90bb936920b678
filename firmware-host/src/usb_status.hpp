// The USB scanners' part of /api/v1/status ("usb") and /metrics
// (tally_usb_*), added to the sync client's report. Private to tallyd.
#pragma once

#include "tally/device/engine.hpp"
#include "tally/device/usb.hpp"

namespace tally::device {

// `usb` may be null (no USB scanners configured or libusb unavailable); it
// must outlive the returned report's use. Both hooks are thread-safe.
SyncReport with_usb_report(SyncReport base, const UsbScannerManager* usb);

}  // namespace tally::device
