// The ledger's message handling, free of MQTT and threads: one inbound
// message (topic + payload) in, what to publish out. tally-ledger runs it on
// its worker thread; tests call it directly.
//
//   Ledger ledger(store, {});
//   auto out = ledger.handle_movements(topic, payload, now_ms);
//   if (out.ack) publish(out.ack->topic, out.ack->payload);  // after commit
//
// Thread-safety: thread-compatible; every call may block on disk I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/ledger/store.hpp"
#include "tally/scanner/result.hpp"
#include "tally/wire/protocol.hpp"

namespace tally::ledger {

struct LedgerOptions {
  std::size_t max_message_bytes = 1024 * 1024;  // larger messages are dead letters
  // A movement stamped further than this ahead of the ledger's clock raises
  // a clock_skew exception (once, until the device's time is sane again).
  std::int64_t clock_skew_ms = 10 * 60 * 1000;
};

struct Publish {
  std::string topic;
  std::string payload;
  bool retained = false;
};

struct Handled {
  std::optional<Publish> ack;            // QoS1, to …/{device}/ack, after the commit
  std::optional<ApplyOutcome> outcome;   // when a batch reached the store
  std::optional<std::string> dead_letter;  // the reason, when dead-lettered
};

// "tally/v1/{site}/{device}/movements" → site, device (wire/protocol.hpp).
using MovementsTopic = wire::DeviceTopic;
std::optional<MovementsTopic> parse_movements_topic(std::string_view topic);
// "tally/v1/{site}/{device}/exceptions" → site, device.
std::optional<MovementsTopic> parse_exceptions_topic(std::string_view topic);

// "tally/v1/{site}/{device}/status" → site, device.
std::optional<MovementsTopic> parse_status_topic(std::string_view topic);

// Parses one device status (docs/PROTOCOL.md "Device status at the
// ledger"): {"v":1,"online":bool,"pending":N,"last_seq":N,"version":"…"}
// with optional "device" and "site", which must then equal the topic's.
// Error codes: "bad_json", "bad_version", "bad_status" (a member missing or
// of the wrong type, a number above 2^63-1, pending > last_seq, a version
// longer than 64 bytes), "forged_device". Other members are ignored.
Result<DeviceStatus> parse_status(const MovementsTopic& topic, std::string_view payload, std::int64_t now_ms);

// Parses one device-exceptions message (docs/PROTOCOL.md "Device
// exceptions") against its topic. Error codes as parse_batch ("bad_batch"
// also for an element that is not a valid device exception with an id > 0,
// ids not ascending, or more than 1000 elements); each element becomes the
// ExceptionRecord the ledger raises (owner, priority, next action by kind).
Result<DeviceExceptionBatch> parse_exceptions(const MovementsTopic& topic, std::string_view payload,
                                              std::int64_t now_ms);

// Parses and checks one batch payload against its topic. Error codes:
// "bad_json", "bad_version", "bad_batch", "forged_device" (device or site
// differs from the topic's levels). Elements that are objects with an
// unsigned "seq" become Incoming (valid, or rejected with their reason);
// anything else makes the whole batch bad.
Result<Batch> parse_batch(const MovementsTopic& topic, std::string_view payload, std::int64_t now_ms);

// The ack payload {"v":1,"applied_through":N,"rejected":[{"seq","reason"}]}
// of the store's rejections (wire::ack_payload).
std::string ack_payload(std::uint64_t applied_through, const std::vector<Rejection>& rejected);

class Ledger {
 public:
  Ledger(Store& store, LedgerOptions options) : store_(store), options_(options) {}

  // One message from the movements, exceptions or status subscription. Oversized, unparseable,
  // wrong-version or forged messages are recorded as dead letters (a forged
  // device also raises a forged_device exception) and get no ack. A storage
  // failure is returned as an error and nothing is acked (the device resends).
  Result<Handled> handle_movements(std::string_view topic, std::string_view payload, std::int64_t now_ms);

  // Several messages at once (what the worker found queued): dead letters
  // are written first, then every valid batch in one transaction
  // (Store::apply_batches). One result per message, in order.
  struct Inbound {
    std::string topic;
    std::string payload;
    bool retained = false;  // delivered as the broker's retained copy (statuses)
  };
  std::vector<Result<Handled>> handle_many(const std::vector<Inbound>& messages, std::int64_t now_ms);

  // handle_many in two steps, so the CPU-bound parsing can run on another
  // thread than the store (tally-ledger pipelines them). prepare() touches
  // no store and is safe on any thread.
  struct Prepared {
    Inbound message;
    std::optional<MovementsTopic> where;
    std::optional<Error> error;  // dead letter reason
    std::optional<Batch> batch;  // when no error, a movements message
    std::optional<DeviceExceptionBatch> exceptions;  // when no error, an exceptions message
    std::optional<DeviceStatus> status;  // when no error, a status message
    bool ignored = false;  // an empty status payload (a cleared retained status): nothing to do
  };
  static Prepared prepare(const LedgerOptions& options, Inbound message, std::int64_t now_ms);
  std::vector<Result<Handled>> apply_prepared(std::vector<Prepared>& prepared, std::int64_t now_ms);

  Store& store() { return store_; }
  const LedgerOptions& options() const { return options_; }

 private:
  // Hash chain (docs/PROTOCOL.md "Hash chain"): checks each new element of
  // the batch against the device's last hash and adds a hash_chain_break
  // exception to the element (raised in the apply transaction) on a break.
  void verify_chain(Batch& batch);
  struct ChainHead {
    std::uint64_t seq = 0;  // the device's applied_through as the chain knows it
    std::string hash;       // hash of that seq; empty: unknown (re-anchor)
  };
  std::map<std::string, ChainHead> chain_heads_;
  // Device clocks ahead of the ledger's (called by verify_chain for each
  // movement the store will apply): adds a clock_skew exception to the first
  // such movement of a device (again only after a sane one).
  void check_clock(const Batch& batch, Incoming& in);
  std::map<std::string, bool> skewed_;  // device -> a clock_skew is raised and not yet cleared
  // Seq conflicts (docs/PROTOCOL.md "Seq conflicts"): elements at or below
  // the device's applied_through whose content differs from the movement
  // the ledger holds for that seq (a journal restored from an old backup, a
  // new device under a retired id). Nothing of them is applied; one
  // seq_conflict exception (its own transaction, before the batch) lists
  // them with what was stored and what was received; each (device, seq) is
  // raised once (also across restarts: open ones are loaded on the first
  // conflict). The conflicting seqs are returned for the ack's "rejected".
  Result<std::vector<Rejection>> check_conflicts(const Batch& batch);
  std::map<std::string, std::set<std::uint64_t>> conflicts_raised_;  // device -> seqs with a seq_conflict
  bool conflicts_loaded_ = false;

  // Master data checks (docs/PROTOCOL.md "Unknown items and locations"): a
  // valid movement whose item is not in its site's catalog, or whose bin is
  // not in the site's locations, is applied as the device recorded it and
  // raises unknown_item / unknown_location in the same transaction. Only
  // kinds the site has a snapshot of are checked.
  void check_master_data(Batch& batch);
  // Reloads a site's catalog/locations when their stored version changed.
  void refresh_master_data(const std::string& site);
  struct SiteMasterData {
    std::int64_t catalog_version = 0;    // 0: no catalog, items are not checked
    std::int64_t locations_version = 0;  // 0: no locations, bins are not checked
    std::unordered_set<std::string> items;      // GTIN-14s and SKUs
    std::unordered_set<std::string> locations;  // location codes as movements carry them
  };
  std::map<std::string, SiteMasterData> master_;

  // A forged status is retained at the broker and comes again on every
  // (re)subscribe: true when its forged_device exception is still unresolved.
  bool forged_status_raised(const std::string& topic);

  Result<Handled> dead_letter(std::string_view topic, std::string_view payload, const Error& why,
                              std::int64_t now_ms);

  Store& store_;
  LedgerOptions options_;
};

}  // namespace tally::ledger
