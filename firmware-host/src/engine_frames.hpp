// Engine::Frames: the frame thread behind Engine::submit_frame (see
// engine.hpp). Private to tally_device.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "tally/device/engine.hpp"
#include "tally/service/work_queue.hpp"

namespace tally::device {

// The scanner self-test label (scanner/self_test.hpp) scanned through any
// input: its diagnosis as a reply of kind self_test (code "self_test_ok" or
// "self_test_failed", the message the summary and every problem with its
// fix); nothing is journaled and the session is untouched. nullopt for any
// other scan. The terminator is not checked (the inputs strip it).
std::optional<ui::ScanReply> self_test_reply(const ui::ScanRequest& request);

struct Engine::Frames {
  Frames(Engine& engine, std::shared_ptr<DecodeWorker> decoder, scanner::DecodeOptions options,
         std::size_t queue_max);
  ~Frames();  // stop()s
  Frames(const Frames&) = delete;
  Frames& operator=(const Frames&) = delete;

  // Queues a frame; false when the queue is full or stopping.
  bool submit(ui::FrameRequest request, FrameDone done);
  // Queues a camera frame for decoding only; false when full or stopping.
  bool submit(CapturedFrame frame, DecodeDone done);
  // Refuses new frames, finishes the queued ones, joins the thread. Idempotent.
  void stop();

 private:
  ui::FrameReply process(const ui::FrameRequest& request);
  Result<std::vector<scanner::Symbol>> decode(const CapturedFrame& frame);

  Engine& engine_;
  std::shared_ptr<DecodeWorker> decoder_;
  scanner::DecodeOptions options_;
  service::WorkQueue queue_;  // last: its thread runs the jobs that use the rest
};

}  // namespace tally::device
