#include "tally/edge/send_window.hpp"

#include <algorithm>

namespace tally::edge {

SendWindow::SendWindow(WindowOptions options) : options_(options) {
  options_.batch_max = std::max<std::size_t>(options_.batch_max, 1);
  options_.inflight_max = std::max<std::size_t>(options_.inflight_max, 1);
}

void SendWindow::reset(std::uint64_t acked, std::uint64_t last_seq) {
  acked_ = acked;
  last_seq_ = std::max(last_seq, acked);
  sent_through_ = acked_;
  inflight_.clear();
  stale_acks_ = 0;
  unsent_since_ = last_seq_ > sent_through_ ? std::optional<TimePoint>(TimePoint::min()) : std::nullopt;
}

void SendWindow::on_appended(std::uint64_t last_seq, TimePoint now) {
  if (last_seq <= last_seq_) return;
  if (!unsent_since_ && sent_through_ >= last_seq_) unsent_since_ = now;
  last_seq_ = last_seq;
}

SendWindow::Plan SendWindow::plan(TimePoint now) const {
  Plan p;
  if (!inflight_.empty()) p.wake_at = inflight_.front().sent_at + options_.resend_timeout;
  const std::uint64_t unsent = last_seq_ > sent_through_ ? last_seq_ - sent_through_ : 0;
  if (unsent == 0 || inflight_.size() >= options_.inflight_max) return p;
  const bool full = unsent >= options_.batch_max;
  const bool lingered =
      unsent_since_ && (*unsent_since_ == TimePoint::min() || *unsent_since_ + options_.linger <= now);
  if (full || lingered) {
    p.send = true;
    p.after = sent_through_;
    p.count = static_cast<std::size_t>(std::min<std::uint64_t>(unsent, options_.batch_max));
    return p;
  }
  const TimePoint linger_end = unsent_since_ ? *unsent_since_ + options_.linger : now + options_.linger;
  if (!p.wake_at || linger_end < *p.wake_at) p.wake_at = linger_end;
  return p;
}

void SendWindow::on_sent(std::uint64_t first, std::uint64_t last, TimePoint now) {
  if (first != sent_through_ + 1 || last < first) return;
  inflight_.push_back(Batch{first, last, now});
  sent_through_ = last;
  last_seq_ = std::max(last_seq_, last);
  // What is left unsent is a backlog: send it without lingering.
  unsent_since_ = last_seq_ > sent_through_ ? std::optional<TimePoint>(TimePoint::min()) : std::nullopt;
}

void SendWindow::drop_acked() {
  while (!inflight_.empty() && inflight_.front().last <= acked_) inflight_.pop_front();
  if (sent_through_ < acked_) {
    // The ledger is ahead of what this connection sent (e.g. after a restart
    // that lost the last ack): skip what it already has.
    sent_through_ = acked_;
    inflight_.clear();
    unsent_since_ = last_seq_ > sent_through_ ? std::optional<TimePoint>(TimePoint::min()) : std::nullopt;
  }
}

SendWindow::AckEffect SendWindow::on_ack(std::uint64_t applied_through, TimePoint /*now*/) {
  if (applied_through > last_seq_) return AckEffect::beyond;
  const bool stale = stale_acks_ > 0;
  if (stale) --stale_acks_;
  if (applied_through > acked_) {
    acked_ = applied_through;
    drop_acked();
    // An ack that advanced but stopped inside the oldest batch in flight:
    // part of that batch was not applied. Resend (unless it is a stale ack).
    if (!stale && !inflight_.empty() && inflight_.front().first <= acked_) {
      rewind(inflight_.size() - 1);
      return AckEffect::rewind;
    }
    return AckEffect::advanced;
  }
  // Nothing new. If this ack answers the oldest batch in flight, that batch
  // was not applied (the ledger saw a gap): resend from acked + 1.
  if (!stale && !inflight_.empty()) {
    rewind(inflight_.size() - 1);
    return AckEffect::rewind;
  }
  return AckEffect::duplicate;
}

bool SendWindow::check_timeout(TimePoint now) {
  if (inflight_.empty() || inflight_.front().sent_at + options_.resend_timeout > now) return false;
  rewind(inflight_.size());
  return true;
}

void SendWindow::on_reconnect() { rewind(inflight_.size()); }

void SendWindow::rewind(std::size_t stale) {
  inflight_.clear();
  sent_through_ = acked_;
  stale_acks_ = stale;
  unsent_since_ = last_seq_ > sent_through_ ? std::optional<TimePoint>(TimePoint::min()) : std::nullopt;
}

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed)
    : min_(std::max(min, std::chrono::milliseconds(1))), max_(std::max(max, min_)), rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const unsigned shift = std::min(attempt_, 30U);
  const auto cap_count = std::min<long long>(max_.count(), min_.count() * (1LL << shift));
  ++attempt_;
  std::uniform_int_distribution<long long> dist(min_.count(), std::max<long long>(cap_count, min_.count()));
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace tally::edge
