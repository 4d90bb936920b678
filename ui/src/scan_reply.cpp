// The typed replies' own helpers (scan_reply.hpp); their HTTP face is
// device_routes.cpp.
#include "tally/ui/scan_reply.hpp"

#include <algorithm>
#include <utility>

namespace tally::ui {

std::uint64_t ScanReply::max_seq() const {
  std::uint64_t seq = 0;
  for (const auto& m : recorded) seq = std::max(seq, m.seq);
  return seq;
}

ScanReply ScanReply::failure(Error error, std::string prompt) {
  ScanReply r;
  r.kind = Kind::failed;
  r.outcome.prompt = std::move(prompt);
  r.error = std::move(error);
  return r;
}

std::uint64_t FrameReply::max_seq() const {
  std::uint64_t seq = 0;
  for (const auto& s : scans)
    if (s.reply) seq = std::max(seq, s.reply->max_seq());
  return seq;
}

FrameReply FrameReply::failure(Error error) {
  FrameReply r;
  r.error = std::move(error);
  return r;
}

}  // namespace tally::ui
