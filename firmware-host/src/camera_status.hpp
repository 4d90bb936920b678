// The camera scanners' part of /api/v1/status ("cameras") and /metrics
// (tally_camera_*), added to the sync client's report, and their HTTP
// trigger. Private to tallyd.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tally/device/camera.hpp"
#include "tally/device/engine.hpp"
#include "tally/ui/device_api.hpp"

namespace tally::device {

// `cameras` must outlive the returned report's use (it is read, never
// changed, from any thread: CameraScanner::snapshot()).
SyncReport with_camera_report(SyncReport base, const std::vector<std::shared_ptr<CameraScanner>>* cameras);

// The DeviceApi the HTTP server gets: `inner`'s, plus
// POST /api/v1/cameras/{name}/trigger for the camera scanners in `cameras`
// (filled after the server starts; read and triggered on the io_context's
// thread, where the server calls the API).
class CameraTriggerApi final : public ui::ForwardingDeviceApi {
 public:
  CameraTriggerApi(ui::DeviceApi& inner, const std::vector<std::shared_ptr<CameraScanner>>& cameras)
      : ForwardingDeviceApi(inner), cameras_(cameras) {}
  void trigger_camera(std::string id, Reply reply) override;

 private:
  const std::vector<std::shared_ptr<CameraScanner>>& cameras_;
};

}  // namespace tally::device
