// What the edge client needs from the device: the journal's outbox, a place
// to record the ledger's acks and to store master data, and a wake-up when a
// movement was journaled. Implemented by tally::device::Engine (every call is
// queued on its journal worker); tests may implement it.
//
// Every call returns at once; its callback runs exactly once, on any thread
// (the edge client posts it to its own executor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tally/scanner/result.hpp"

namespace tally::edge {

// One journaled movement as sent: its seq and canonical wire JSON text.
struct OutboxItem {
  std::uint64_t seq = 0;
  std::int64_t wall_time_ms = 0;
  std::string json;
};

struct OutboxState {
  std::uint64_t last_seq = 0;
  std::uint64_t acked_seq = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;

  // The journal's current last_seq and acked_seq (non-blocking snapshot).
  virtual OutboxState outbox_state() const = 0;
  // Movements with seq > after, ascending, at most `limit` (bounded work).
  virtual void read_outbox(std::uint64_t after, std::size_t limit,
                           std::function<void(Result<std::vector<OutboxItem>>)> done) = 0;
  // Persists the ledger's applied_through as acked_seq (monotonic).
  virtual void record_ack(std::uint64_t applied_through, std::function<void(Result<void>)> done) = 0;
  // Stores one complete master-data version (JSON text).
  virtual void store_master_data(std::string kind, std::int64_t version, std::string text,
                                 std::function<void(Result<void>)> done) = 0;
  // `listener(last_seq)` is called (on any thread) after every journaled
  // movement. One listener; a new one replaces it; nullptr removes it.
  virtual void set_append_listener(std::function<void(std::uint64_t last_seq)> listener) = 0;
};

}  // namespace tally::edge
