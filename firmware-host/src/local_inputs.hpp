// tallyd's local inputs besides HTTP: the keyboard wedge on stdin and the
// USB scanners' decoders. Like serial and camera scanners, they hand every
// scan to `sink`, the feedback-wrapped DeviceApi HTTP scans take too, and
// print its reply. Private to tally_device; all on the Asio thread.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>

#include "tally/device/config.hpp"
#include "tally/device/feedback.hpp"
#include "tally/device/hid_decoders.hpp"
#include "tally/device/usb.hpp"
#include "tally/ui/device_api.hpp"

namespace tally::device {

namespace asio = boost::asio;

// One line of terminal output for a scan reply, e.g.
//   [good] Moved 3 x 04006381333931 (seq 7) | next: Scan source bin
std::string describe(const ui::ScanReply& reply);

// Submits one scan of a local input (stdin, a USB, serial or camera scanner)
// to `sink`, the feedback-wrapped DeviceApi that HTTP scans take too (it
// plays the feedback); the reply is printed after `prefix` on the Asio
// thread.
void submit_and_print(asio::io_context& io, ui::DeviceApi& sink, ui::ScanRequest request, std::string prefix);

// Reads one scan per line from stdin (a keyboard-wedge scanner types into the
// terminal and ends with Enter). Lines over line_bytes_max are refused whole.
class StdinScans : public std::enable_shared_from_this<StdinScans> {
 public:
  static constexpr std::size_t kLineBytesMax = 4096;

  StdinScans(asio::io_context& io, ui::DeviceApi& sink, Feedback* feedback)
      : io_(io), sink_(sink), feedback_(feedback), in_(io), buffer_(kLineBytesMax + 1) {}

  // Fails for stdin that epoll cannot watch (a regular file).
  std::error_code start() {
    boost::system::error_code ec;
    in_.assign(::dup(STDIN_FILENO), ec);
    if (ec) return ec;
    read_next();
    return {};
  }

  void close() {
    boost::system::error_code ignored;
    in_.close(ignored);
  }

 private:
  void read_next() {
    asio::async_read_until(in_, buffer_, '\n',
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                             self->on_line(ec, n);
                           });
  }

  void on_line(const boost::system::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found) {  // a line longer than the limit
      std::cout << "[error] scan longer than " << kLineBytesMax << " bytes ignored" << std::endl;
      if (feedback_ != nullptr) feedback_->play(Pattern::error);
      skipping_ = true;
      buffer_.consume(buffer_.size());
      read_next();
      return;
    }
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        std::cout << "stdin closed; still serving HTTP (Ctrl-C stops)" << std::endl;
      }
      return;
    }
    std::string line(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
    buffer_.consume(n);
    const bool was_skipping = skipping_;
    skipping_ = false;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty() && !was_skipping) submit(std::move(line));
    read_next();
  }

  void submit(std::string text) {
    submit_and_print(io_, sink_, ui::ScanRequest{std::move(text), "", "stdin"}, "");
  }

  asio::io_context& io_;
  ui::DeviceApi& sink_;
  Feedback* feedback_;  // a line too long to be a scan
  asio::posix::stream_descriptor in_;
  asio::streambuf buffer_;
  bool skipping_ = false;
};

// USB scanners ([[scanner]] hid-pos / keyboard): each connected device gets
// its own decoder (a fresh one after a replug, so half a scan from before an
// unplug is never joined to the next); a keyboard scanner without a suffix
// ends a scan after suffix_timeout_ms without reports (an Asio timer).
class UsbScans {
 public:
  UsbScans(asio::io_context& io, ui::DeviceApi& sink, Feedback* feedback, const std::vector<ScannerConfig>& scanners)
      : io_(io), sink_(sink), feedback_(feedback) {
    for (const auto& sc : scanners) {
      if (sc.is_usb()) usb_.push_back(sc);
    }
  }

  void on_report(const UsbDeviceId& id, std::span<const std::uint8_t> report) {
    if (id.scanner >= usb_.size()) return;
    Device& d = device(id);
    const ScannerConfig& sc = usb_[id.scanner];
    Result<std::optional<DecodedScan>> r =
        d.keyboard ? d.keyboard->check(report) : d.hid_pos->check(report);
    if (!r) {
      std::cout << "scanner " << sc.name << ": [error] " << r.error().message << std::endl;
      if (feedback_ != nullptr) feedback_->play(Pattern::error);
      return;
    }
    if (*r) {
      submit(sc, std::move(**r));
    } else if (d.keyboard && sc.keyboard.suffix == "none") {
      d.idle->expires_after(std::chrono::milliseconds(sc.suffix_timeout_ms));
      d.idle->async_wait([this, key = key_of(id)](const boost::system::error_code& ec) {
        if (ec) return;
        const auto it = devices_.find(key);
        if (it == devices_.end() || !it->second.keyboard) return;
        if (auto scan = it->second.keyboard->flush()) submit(usb_[key.scanner], std::move(*scan));
      });
    }
  }

  void on_connection(const UsbDeviceId& id, bool connected) {
    if (!connected) devices_.erase(key_of(id));  // cancels its idle timer
  }

 private:
  struct Key {
    std::size_t scanner;
    std::uint8_t bus, address, interface;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
    auto operator<=>(const Key&) const = default;
  };
  struct Device {
    std::unique_ptr<KeyboardDecoder> keyboard;  // else hid_pos
    std::unique_ptr<HidPosDecoder> hid_pos;
    std::unique_ptr<asio::steady_timer> idle;
  };

  static Key key_of(const UsbDeviceId& id) { return {id.scanner, id.bus, id.address, id.interface}; }

  Device& device(const UsbDeviceId& id) {
    auto [it, fresh] = devices_.try_emplace(key_of(id));
    if (fresh) {
      const ScannerConfig& sc = usb_[id.scanner];
      if (sc.type == "keyboard") {
        it->second.keyboard = std::make_unique<KeyboardDecoder>(sc.keyboard);
        it->second.idle = std::make_unique<asio::steady_timer>(io_);
      } else {
        HidPosOptions o;
        o.max_len = sc.max_len;
        it->second.hid_pos = std::make_unique<HidPosDecoder>(o);
      }
    }
    return it->second;
  }

  void submit(const ScannerConfig& sc, DecodedScan scan) {
    if (!sc.aim_prefix) scan.symbology.clear();
    submit_and_print(io_, sink_, ui::ScanRequest{std::move(scan.text), std::move(scan.symbology), "usb"},
                     "scanner " + sc.name + ": ");
  }

  asio::io_context& io_;
  ui::DeviceApi& sink_;
  Feedback* feedback_;  // a report that does not decode
  std::vector<ScannerConfig> usb_;  // indexed like Config::usb_scanners
  std::map<Key, Device> devices_;
};

}  // namespace tally::device
