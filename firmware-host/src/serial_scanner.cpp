#include "tally/device/serial_scanner.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/buffer.hpp>

namespace tally::device {

namespace asio = boost::asio;

LineSplitter::LineSplitter(std::string suffix, std::size_t max_len, bool aim_prefix)
    : suffix_(std::move(suffix)),
      max_len_(max_len),
      aim_prefix_(aim_prefix),
      crlf_family_(suffix_ == "\r" || suffix_ == "\n" || suffix_ == "\r\n") {}

void LineSplitter::reset() {
  line_.clear();
  too_long_ = false;
}

std::vector<LineSplitter::Item> LineSplitter::feed(std::string_view bytes) {
  std::vector<Item> out;
  const auto is_crlf = [](char c) { return c == '\r' || c == '\n'; };
  for (char c : bytes) {
    line_ += c;
    const bool ends = line_.size() >= suffix_.size() &&
                      line_.compare(line_.size() - suffix_.size(), std::string::npos, suffix_) == 0;
    if (ends) {
      line_.resize(line_.size() - suffix_.size());
      std::string line = std::move(line_);
      line_.clear();
      if (too_long_) {  // the end of a refused line
        too_long_ = false;
        continue;
      }
      if (crlf_family_) {
        const auto first = std::find_if_not(line.begin(), line.end(), is_crlf);
        line.erase(line.begin(), first);
        while (!line.empty() && is_crlf(line.back())) line.pop_back();
      }
      if (line.empty()) continue;
      if (line.size() > max_len_) {
        out.push_back({{}, true});
        continue;
      }
      out.push_back({split_aim_prefix(std::move(line), aim_prefix_), false});
      continue;
    }
    if (too_long_) {  // keep only what may become the suffix
      if (line_.size() > suffix_.size()) line_.erase(0, line_.size() - suffix_.size());
      continue;
    }
    if (line_.size() > max_len_ + suffix_.size()) {
      too_long_ = true;
      out.push_back({{}, true});
      line_.erase(0, line_.size() - suffix_.size());
    }
  }
  return out;
}

SerialScanner::SerialScanner(asio::io_context& io, ScannerConfig config, Events events)
    : config_(std::move(config)),
      events_(std::move(events)),
      port_(io),
      reopen_(io.get_executor(), std::chrono::milliseconds(config_.reopen_min_ms),
              std::chrono::milliseconds(config_.reopen_max_ms)),
      splitter_(config_.serial.suffix, config_.max_len, config_.aim_prefix) {}

void SerialScanner::start() {
  stopped_ = false;
  open();
}

void SerialScanner::stop() {
  stopped_ = true;
  reopen_.cancel();
  boost::system::error_code ignored;
  port_.close(ignored);
}

void SerialScanner::open() {
  if (stopped_) return;
  const auto& p = config_.serial;
  using base = asio::serial_port_base;
  boost::system::error_code ec;
  port_.open(p.path, ec);  // O_NONBLOCK | O_NOCTTY, raw mode: never blocks the loop
  std::string what = "cannot open " + p.path;
  if (!ec) {
    what = "cannot set " + p.path + " to " + std::to_string(p.baud) + " baud " + std::to_string(p.character_size) +
           p.parity.substr(0, 1) + std::to_string(p.stop_bits);
    const auto parity = p.parity == "odd"    ? base::parity::odd
                        : p.parity == "even" ? base::parity::even
                                             : base::parity::none;
    const auto flow = p.flow_control == "software"   ? base::flow_control::software
                      : p.flow_control == "hardware" ? base::flow_control::hardware
                                                     : base::flow_control::none;
    const auto stop = p.stop_bits == 2 ? base::stop_bits::two : base::stop_bits::one;
    port_.set_option(base::baud_rate(p.baud), ec);
    if (!ec) port_.set_option(base::character_size(p.character_size), ec);
    if (!ec) port_.set_option(base::parity(parity), ec);
    if (!ec) port_.set_option(base::stop_bits(stop), ec);
    if (!ec) port_.set_option(base::flow_control(flow), ec);
  }
  if (ec) {
    boost::system::error_code ignored;
    port_.close(ignored);
    schedule_reopen(what + ": " + ec.message());
    return;
  }
  reopen_.opened();
  splitter_.reset();
  if (events_.status) events_.status("open " + p.path);
  read();
}

void SerialScanner::schedule_reopen(const std::string& why) {
  if (stopped_) return;
  reopen_.schedule(why, events_.status, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->open();
  });
}

void SerialScanner::read() {
  port_.async_read_some(asio::buffer(buffer_),
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                          self->on_read(ec, n);
                        });
}

void SerialScanner::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (stopped_) return;
  if (ec) {  // unplugged (EIO), hung up (EOF): close, reopen from the timer
    boost::system::error_code ignored;
    port_.close(ignored);
    splitter_.reset();
    schedule_reopen("lost " + config_.serial.path + ": " + ec.message());
    return;
  }
  for (auto& item : splitter_.feed(std::string_view(buffer_.data(), n))) {
    if (stopped_) return;
    if (item.refused) {
      if (events_.refused) events_.refused("scan longer than " + std::to_string(config_.max_len) + " bytes ignored");
    } else if (events_.scan) {
      events_.scan(std::move(item.scan));
    }
  }
  if (!stopped_) read();
}

}  // namespace tally::device
