// Feedback that tells the truth (issue 6): what the operator sees and hears
// after a scan, played only from the engine's reply — so "recorded" sounds
// only after the movement is durable in the journal — and, when the ledger
// has acknowledged the movements recorded so far, a quiet "acked".
//
// Outputs ([feedback] in tallyd's TOML; docs/HARDWARE.md "Feedback"):
//   - Linux LEDs: <leds_dir>/<name>/brightness (sysfs), on/off sequences
//   - an input beeper: EV_SND/SND_TONE written to /dev/input/eventN (evdev)
//   - other outputs told of each pattern (add_output: the USB scanners'
//     own beeper/LED through HID output reports, usb_feedback.hpp)
//   - a command: argv with "{pattern}" replaced, started without a shell
//     (posix_spawn), one at a time in pattern order (16 may wait), reaped
//     through a pidfd on the event loop, killed after command_timeout_ms
// Everything runs on the caller's io_context without blocking: sequences are
// timers, writes go to already-open non-blocking fds.
// Thread-safety: all methods on the io_context's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "tally/device/config.hpp"
#include "tally/edge/outbox.hpp"
#include "tally/scanner/result.hpp"
#include "tally/ui/device_api.hpp"

namespace tally::device {

enum class Pattern : std::uint8_t {
  good,      // accepted and journaled, no movement (a badge, a bin, a command)
  recorded,  // a movement is durable on the device
  warning,   // accepted, but look (unexpected item, short pick)
  error,     // refused: nothing changed (or the journal failed)
  acked,     // the ledger applied everything recorded so far (quiet)
};
std::string_view to_string(Pattern p);

// The pattern a scan's reply calls for (refused or failed: error; a warning;
// a self-test: good when it passed, else warning; a movement recorded;
// good), and a frame's: the loudest of its scans', error when it was not
// decoded, nullopt when nothing was found.
std::optional<Pattern> pattern_for(const ui::ScanReply& reply);
std::optional<Pattern> pattern_for(const ui::FrameReply& reply);

class Feedback {
 public:
  // Opens the LEDs and the beeper ("bad_config" naming the key and path when
  // one cannot be opened). With nothing configured it plays nothing.
  static Result<std::unique_ptr<Feedback>> open(boost::asio::io_context& io, const FeedbackConfig& config);
  ~Feedback();  // turns the outputs off, kills a running command
  Feedback(const Feedback&) = delete;
  Feedback& operator=(const Feedback&) = delete;

  // The engine's reply to one scan or frame: plays its pattern and
  // remembers the highest movement seq it recorded (for acked).
  void on_reply(const ui::ScanReply& reply);
  void on_reply(const ui::FrameReply& reply);
  // The ledger's applied_through, once persisted: plays "acked" when it
  // covers the movements recorded since the last acked.
  void on_ack(std::uint64_t applied_through);
  // Plays one pattern; a new one cuts the one playing short (acked never
  // cuts another short: it plays after it).
  void play(Pattern p);
  void stop();  // outputs off, nothing more played
  // Another output, told of each pattern as it starts playing (after the
  // same rules as the LED: acked after the pattern playing, nothing once
  // stopped); e.g. HID output reports to the scanner's own beeper.
  void add_output(std::function<void(Pattern)> output);

  struct Stats {
    std::uint64_t played = 0;
    std::uint64_t commands = 0;         // commands started
    std::uint64_t command_failures = 0;  // could not start, exited non-zero, killed
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit Feedback(std::shared_ptr<Impl> impl);
  // A reply that made movements durable up to `recorded_seq` (0: none).
  void on_reply(std::uint64_t recorded_seq, std::optional<Pattern> pattern);
  std::shared_ptr<Impl> impl_;
};

// The one sink of every input's scans (HTTP, stdin, USB, serial, camera):
// the engine's DeviceApi, with each scan and frame reply also posted to
// `feedback` on `io` (the reply itself goes on untouched).
class FeedbackDeviceApi final : public ui::ForwardingDeviceApi {
 public:
  FeedbackDeviceApi(boost::asio::io_context& io, ui::DeviceApi& inner, Feedback& feedback)
      : ForwardingDeviceApi(inner), io_(io), feedback_(feedback) {}
  void submit_scan(ui::ScanRequest request, ScanDone done) override;
  void submit_frame(ui::FrameRequest request, FrameDone done) override;

 private:
  boost::asio::io_context& io_;
  Feedback& feedback_;
};

// The Outbox the sync client gets: the engine's, with each persisted ack
// posted to `feedback` on `io`.
class FeedbackOutbox final : public edge::Outbox {
 public:
  FeedbackOutbox(boost::asio::io_context& io, edge::Outbox& inner, Feedback& feedback)
      : io_(io), inner_(inner), feedback_(feedback) {}
  edge::OutboxState outbox_state() const override { return inner_.outbox_state(); }
  void read_outbox(std::uint64_t after, std::size_t limit,
                   std::function<void(Result<std::vector<edge::OutboxItem>>)> done) override {
    inner_.read_outbox(after, limit, std::move(done));
  }
  void record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) override;
  void read_exceptions(std::int64_t after, std::size_t limit,
                       std::function<void(Result<std::vector<edge::ExceptionItem>>)> done) override {
    inner_.read_exceptions(after, limit, std::move(done));
  }
  void record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) override {
    inner_.record_exceptions_ack(through, std::move(done));
  }
  void store_master_data(std::string kind, std::int64_t version, std::string text,
                         std::function<void(Result<void>)> done) override {
    inner_.store_master_data(std::move(kind), version, std::move(text), std::move(done));
  }
  void set_append_listener(std::function<void(edge::OutboxState)> listener) override {
    inner_.set_append_listener(std::move(listener));
  }

 private:
  boost::asio::io_context& io_;
  edge::Outbox& inner_;
  Feedback& feedback_;
};

}  // namespace tally::device
