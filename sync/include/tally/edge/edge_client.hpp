// tally::edge::EdgeClient — syncs a device's journal to the ledger over MQTT
// (docs/PROTOCOL.md: "Device → ledger" and "Downlink").
//
// - Sends the outbox (every movement above acked_seq) in batches on
//   tally/v1/{site}/{device}/movements, QoS 1, with a bounded window of
//   batches in flight; only the ledger's ack (…/ack, applied_through)
//   advances acked_seq (persisted through the Outbox). A broker PUBACK means
//   nothing here.
// - Resends everything above acked_seq on every (re)connect and when the
//   oldest batch waited resend_timeout without an ack.
// - Reconnects with capped exponential backoff and full jitter; persistent
//   MQTT 5 session (clean_start=false, Session-Expiry-Interval).
// - Publishes retained status (birth on connect, last will online:false,
//   and at most once per status_interval when pending changes).
// - Assembles chunked retained master data and stores it via the Outbox.
//
// Threading: construct, start(), stop() and stats() on the executor's thread
// (stats() is also safe from any thread). Everything else happens there too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "tally/edge/outbox.hpp"
#include "tally/edge/send_window.hpp"
#include "tally/mqtt/client.hpp"
#include "tally/wire/protocol.hpp"

namespace tally::edge {

struct EdgeOptions {
  std::string uri;  // empty: the client does nothing
  std::string device;
  std::string site;
  std::string version;  // reported in status
  WindowOptions window;
  std::chrono::seconds session_expiry{7 * 24 * 3600};
  std::chrono::seconds keepalive{30};
  std::chrono::milliseconds backoff_min{250};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds status_interval{1000};
  std::size_t master_data_max_bytes = 16U * 1024U * 1024U;
  // A batch is cut before it grows beyond this many payload bytes (at least
  // one movement always goes), well below the ledger's 1 MiB message limit.
  std::size_t batch_max_bytes = 256U * 1024U;
  // Device exceptions go stop-and-wait (they are rare): at most this many
  // per message, one message in flight, resent after window.resend_timeout.
  std::size_t exception_batch_max = 100;
  mqtt::Tls tls;  // ssl:// URIs: CA, client certificate (CN = device) and key
};

// What /api/v1/status and /metrics show (a copy).
struct EdgeStats {
  std::string uri;
  bool enabled = false;
  bool connected = false;
  std::string last_connect_error;
  std::uint64_t connects = 0;
  std::uint64_t applied_through = 0;  // last ack's value
  std::int64_t last_ack_at_ms = 0;    // Unix ms of the last ack; 0: none yet
  std::uint64_t acked_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t pending = 0;
  std::int64_t oldest_unacked_ms = 0;  // Unix ms of the oldest movement sent and not acked; 0: none known
  std::uint64_t batches_sent = 0;
  std::uint64_t movements_sent = 0;
  std::uint64_t movements_resent = 0;
  std::uint64_t rewinds = 0;
  std::uint64_t acks = 0;
  std::uint64_t rejected = 0;
  std::uint64_t master_data_stored = 0;
  std::uint64_t bad_messages = 0;
  // Device exceptions (docs/PROTOCOL.md "Device exceptions").
  std::int64_t exceptions_acked = 0;     // the ledger's exceptions_through
  std::int64_t exceptions_pending = 0;   // journaled, not yet acknowledged
  std::uint64_t exception_batches_sent = 0;
};

// The ledger's ack on …/{device}/ack (wire/protocol.hpp).
using wire::Ack;
using wire::parse_ack;

class EdgeClient {
 public:
  EdgeClient(boost::asio::any_io_executor executor, Outbox& outbox, EdgeOptions options);
  ~EdgeClient();  // stop()s
  EdgeClient(const EdgeClient&) = delete;
  EdgeClient& operator=(const EdgeClient&) = delete;

  // Starts connecting (no-op with an empty uri). Error "mqtt_bad_options".
  Result<void> start();
  // Publishes online:false, disconnects, cancels timers; idempotent. Never
  // blocks: the DISCONNECT finishes in the background (at most 1 s), and the
  // executor's io_context keeps running until it has.
  void stop();

  EdgeStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tally::edge
