// The pure sending logic of the edge client (no I/O, no clock of its own):
// which seqs to send next, when, and what an ack or a timeout changes.
// The edge client feeds it events with the current time and does what
// plan() says; unit tests drive it with a manual clock.
//
// Model (docs/PROTOCOL.md, "Device → ledger"):
// - acked: the ledger's applied_through (persisted by the journal).
// - sent_through: the highest seq handed to MQTT in this connection since
//   the last rewind; batches (first..last) in flight until an ack covers them.
// - A rewind (reconnect, resend timeout, an ack that shows the oldest batch
//   in flight was not applied) forgets the batches in flight and starts again
//   at acked + 1. The ledger ignores duplicates, so resending is always safe.
// - Acks come back in the order the batches were sent. After a rewind the
//   acks of the forgotten batches may still arrive; they advance `acked` but
//   cannot cause another rewind (stale_acks counts them down).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>

namespace tally::edge {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct WindowOptions {
  std::size_t batch_max = 500;                      // movements per batch
  std::chrono::milliseconds linger{20};             // wait this long to fill a batch
  std::size_t inflight_max = 8;                     // batches not yet acked by the ledger
  std::chrono::milliseconds resend_timeout{10000};  // no ack for the oldest batch: resend
};

class SendWindow {
 public:
  explicit SendWindow(WindowOptions options = {});

  // The journal's state when the client starts (acked_seq, last_seq).
  void reset(std::uint64_t acked, std::uint64_t last_seq);
  // New movements were journaled (last_seq is the newest seq).
  void on_appended(std::uint64_t last_seq, TimePoint now);

  struct Plan {
    // Read and send the movements after `after`, at most `count` of them.
    bool send = false;
    std::uint64_t after = 0;
    std::size_t count = 0;
    // Nothing to do before this time (linger or resend timeout); none: idle.
    std::optional<TimePoint> wake_at;
  };
  // What to do now. Call again after every event (and after on_sent).
  Plan plan(TimePoint now) const;

  // A batch first..last was handed to MQTT (first must be sent_through + 1).
  void on_sent(std::uint64_t first, std::uint64_t last, TimePoint now);

  enum class AckEffect {
    advanced,   // acked moved forward
    duplicate,  // nothing new (an old or repeated ack)
    rewind,     // the oldest batch in flight was not applied: resend from acked + 1
    beyond,     // applied_through > last_seq: ignored (a foreign or reset journal)
  };
  AckEffect on_ack(std::uint64_t applied_through, TimePoint now);

  // True (and rewound) when the oldest batch in flight waited resend_timeout.
  bool check_timeout(TimePoint now);
  // The connection was (re)established: everything above acked goes again.
  void on_reconnect();

  std::uint64_t acked() const { return acked_; }
  std::uint64_t last_seq() const { return last_seq_; }
  std::uint64_t sent_through() const { return sent_through_; }
  std::uint64_t pending() const { return last_seq_ > acked_ ? last_seq_ - acked_ : 0; }
  std::size_t inflight_batches() const { return inflight_.size(); }
  const WindowOptions& options() const { return options_; }

 private:
  struct Batch {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    TimePoint sent_at;
  };
  void rewind(std::size_t stale);
  void drop_acked();

  WindowOptions options_;
  std::uint64_t acked_ = 0;
  std::uint64_t last_seq_ = 0;
  std::uint64_t sent_through_ = 0;
  std::optional<TimePoint> unsent_since_;  // when the oldest unsent movement appeared
  std::deque<Batch> inflight_;
  std::size_t stale_acks_ = 0;
};

// Capped exponential backoff with full jitter: attempt n waits a uniformly
// random time in [min, min(max, min * 2^n)].
class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed = std::random_device{}());
  std::chrono::milliseconds next();  // and count the attempt
  void reset() { attempt_ = 0; }
  unsigned attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace tally::edge
