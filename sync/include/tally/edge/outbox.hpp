// What the edge client needs from the device: the journal's outbox, a place
// to record the ledger's acks and to store master data, and a wake-up when a
// movement or a device exception was journaled. Implemented by
// tally::journal::Worker (every call is a job on the journal's thread);
// tests may implement it.
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

// One journaled device exception as sent: its id and wire JSON element
// (docs/PROTOCOL.md "Device exceptions").
struct ExceptionItem {
  std::int64_t id = 0;
  std::string json;
};

struct OutboxState {
  std::uint64_t last_seq = 0;
  std::uint64_t acked_seq = 0;
  std::int64_t last_exception_id = 0;  // highest journaled device exception
  std::int64_t exceptions_acked = 0;   // highest the ledger acknowledged
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
  // Device exceptions with id > after, ascending, at most `limit`.
  virtual void read_exceptions(std::int64_t after, std::size_t limit,
                               std::function<void(Result<std::vector<ExceptionItem>>)> done) = 0;
  // Persists the ledger's exceptions_through (monotonic).
  virtual void record_exceptions_ack(std::int64_t through, std::function<void(Result<void>)> done) = 0;
  // Stores one complete master-data version (JSON text).
  virtual void store_master_data(std::string kind, std::int64_t version, std::string text,
                                 std::function<void(Result<void>)> done) = 0;
  // `listener(state)` is called (on any thread) after every append that
  // journaled a movement or a device exception. One listener; a new one
  // replaces it; nullptr removes it.
  virtual void set_append_listener(std::function<void(OutboxState)> listener) = 0;
};

}  // namespace tally::edge
