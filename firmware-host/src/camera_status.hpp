// The camera scanners' part of /api/v1/status ("cameras") and /metrics
// (tally_camera_*), added to the sync client's report. Private to tallyd.
#pragma once

#include <memory>
#include <vector>

#include "tally/device/camera.hpp"
#include "tally/device/engine.hpp"

namespace tally::device {

// `cameras` must outlive the returned report's use (it is read, never
// changed, from any thread: CameraScanner::snapshot()).
SyncReport with_camera_report(SyncReport base, const std::vector<std::shared_ptr<CameraScanner>>* cameras);

}  // namespace tally::device
