#include "camera_status.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "metrics_text.hpp"

namespace tally::device {

SyncReport with_camera_report(SyncReport base, const std::vector<std::shared_ptr<CameraScanner>>* cameras) {
  SyncReport out;
  out.status = [status = std::move(base.status), cameras](nlohmann::json& j) {
    if (status) status(j);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : *cameras) {
      const CameraScanner::Stats s = c->snapshot();
      list.push_back({{"name", c->config().name},
                      {"device", c->config().camera.device},
                      {"mode", c->config().camera.mode},
                      {"streaming", s.streaming},
                      {"triggered", s.triggered},
                      {"frames", s.frames},
                      {"decoded", s.decoded},
                      {"scans", s.scans},
                      {"repeats", s.repeats},
                      {"errors", s.errors},
                      {"opens", s.opens},
                      {"losses", s.losses}});
    }
    j["cameras"] = std::move(list);
  };
  out.metrics = [metrics = std::move(base.metrics), cameras]() -> std::string {
    std::string m = metrics ? metrics() : std::string();
    if (cameras->empty()) return m;
    CameraScanner::Stats sum;
    std::uint64_t streaming = 0;
    for (const auto& c : *cameras) {
      const CameraScanner::Stats s = c->snapshot();
      streaming += s.streaming ? 1 : 0;
      sum.frames += s.frames;
      sum.decoded += s.decoded;
      sum.scans += s.scans;
      sum.repeats += s.repeats;
      sum.errors += s.errors;
      sum.losses += s.losses;
    }
    const auto add = [&m](const char* name, const char* type, const char* help, std::uint64_t value) {
      add_metric(m, name, type, help, value);
    };
    add("tally_camera_streaming", "gauge", "Camera scanners open and streaming.", streaming);
    add("tally_camera_frames_total", "counter", "Frames dequeued from cameras.", sum.frames);
    add("tally_camera_decoded_total", "counter", "Camera frames decoded.", sum.decoded);
    add("tally_camera_scans_total", "counter", "Codes read by cameras and passed on as scans.", sum.scans);
    add("tally_camera_repeats_total", "counter", "Codes read again within repeat_ms (not scans).", sum.repeats);
    add("tally_camera_errors_total", "counter", "Camera frames that could not be decoded.", sum.errors);
    add("tally_camera_losses_total", "counter", "Camera streams lost (unplug, I/O error).", sum.losses);
    return m;
  };
  return out;
}

void CameraTriggerApi::trigger_camera(std::string id, Reply reply) {
  const auto it = std::find_if(cameras_.begin(), cameras_.end(), [&](const auto& c) { return c->config().name == id; });
  if (it == cameras_.end()) {
    return reply({404, ui::error_body("unknown_camera", "no camera scanner '" + id +
                                                            "' is configured (see [[scanner]] type = \"camera\")")});
  }
  CameraScanner& camera = **it;
  const CameraConfig& cc = camera.config().camera;
  if (cc.mode != "trigger") {
    return reply({409, ui::error_body("camera_not_in_trigger_mode",
                                      "camera '" + id + "' decodes continuously (mode = \"" + cc.mode +
                                          "\"): it needs no trigger; set mode = \"trigger\" to decode on demand")});
  }
  if (!camera.stats().streaming) {
    return reply({503, ui::error_body("camera_not_streaming",
                                      "camera '" + id + "' is not streaming from " + cc.device +
                                          "; tallyd keeps trying to open it: check the cable and the device node")});
  }
  camera.trigger();
  reply({202,
         {{"camera", id}, {"triggered", true}, {"timeout_ms", cc.trigger_timeout_ms}, {"triggers", camera.stats().triggers}}});
}

}  // namespace tally::device
