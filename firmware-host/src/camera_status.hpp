// The camera scanners' part of /api/v1/status ("cameras") and /metrics
// (tally_camera_*), added to the sync client's report, and their HTTP
// trigger. Private to tallyd.
#pragma once

#include <memory>
#include <string>
#include <utility>
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
class CameraTriggerApi final : public ui::DeviceApi {
 public:
  CameraTriggerApi(ui::DeviceApi& inner, const std::vector<std::shared_ptr<CameraScanner>>& cameras)
      : inner_(inner), cameras_(cameras) {}
  void submit_scan(ui::ScanRequest request, Reply reply) override { inner_.submit_scan(std::move(request), std::move(reply)); }
  void submit_frame(ui::FrameRequest request, Reply reply) override {
    inner_.submit_frame(std::move(request), std::move(reply));
  }
  void status(Reply reply) override { inner_.status(std::move(reply)); }
  void movements(std::uint64_t after, std::size_t limit, Reply reply) override {
    inner_.movements(after, limit, std::move(reply));
  }
  void metrics(std::function<void(std::string)> reply) override { inner_.metrics(std::move(reply)); }
  void trigger_camera(std::string id, Reply reply) override;

 private:
  ui::DeviceApi& inner_;
  const std::vector<std::shared_ptr<CameraScanner>>& cameras_;
};

}  // namespace tally::device
