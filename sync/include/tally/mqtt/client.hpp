// tally::mqtt — a small adapter over the Eclipse Paho MQTT C++ async client
// (1.2, MQTT 5) for Asio programs: tallyd's edge client and tally-ledger.
//
//   tally::mqtt::ConnectOptions o;
//   o.uri = "tcp://127.0.0.1:1883"; o.client_id = "dev-1";
//   o.will = tally::mqtt::Will{"tally/v1/s/dev-1/status", R"({"v":1,"online":false})"};
//   tally::mqtt::Handlers h;
//   h.connected = [](bool session_present) { … subscribe, publish … };
//   h.connect_failed = [](const std::string& why) { … schedule a retry … };
//   h.connection_lost = [](const std::string& why) { … schedule a reconnect … };
//   h.message = [](tally::mqtt::Message m) { … };
//   auto client = tally::mqtt::Client::create(io.get_executor(), o, h);  // Result<unique_ptr>
//   (*client)->connect();
//
// Threading: every handler (and every `done` callback) runs on the executor
// given to create(), never on a Paho thread: Paho's callbacks only copy their
// data and post it. The Client itself must be used from that executor's
// thread only (one thread running the io_context). Destroying the Client
// (on that thread) drops anything still queued for it; no handler runs after.
//
// Choices fixed here because every Tally client wants them:
// - MQTT 5 only; Paho persistence OFF (no files, nothing replayed from disk:
//   the caller's own store is the outbox; Paho does not fsync anyway).
// - No Paho automatic reconnect and no publishing while disconnected: the
//   caller decides when to reconnect (backoff) and what to resend.
// - clean_start=false with a Session-Expiry-Interval by default, so the
//   broker keeps the session (subscriptions, queued QoS 1 messages) across
//   disconnects. Without the property an MQTT 5 session ends at disconnect.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "tally/scanner/result.hpp"

namespace tally::mqtt {

// Last will: published by the broker when the connection dies without a
// DISCONNECT (the status topic's "online":false).
struct Will {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retain = true;
};

// Client certificates for ssl:// URIs (paths to PEM files; empty: unused).
struct Tls {
  std::string ca_file;    // trust store
  std::string cert_file;  // client certificate (its CN is the client id)
  std::string key_file;   // client private key
};

// The [mqtt] TLS keys of a config, checked at start (tallyd and
// tally-ledger) so a missing or unreadable file is one clear line instead of
// a TLS handshake failing on every reconnect: files only with an ssl:// or
// mqtts:// uri, cert and key together, each a readable non-empty file.
// Error code "bad_config" naming the key (mqtt.ca_file, …).
Result<void> check_tls_files(const std::string& uri, const Tls& tls);

struct ConnectOptions {
  std::string uri;        // tcp://host:port or ssl://host:port
  std::string client_id;  // unique on the broker (a device id)
  bool clean_start = false;
  // Session-Expiry-Interval sent in CONNECT; 0 = the session ends at disconnect.
  std::chrono::seconds session_expiry{7 * 24 * 3600};
  std::chrono::seconds keepalive{30};
  std::chrono::seconds connect_timeout{10};
  std::optional<Will> will;
  std::string username;  // empty: none
  std::string password;
  Tls tls;
};

// One received message (copied out of Paho's).
struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
  bool duplicate = false;
};

struct Handlers {
  // CONNACK success; session_present as the broker said.
  std::function<void(bool session_present)> connected;
  // A connect() attempt failed (reason: Paho's words and code).
  std::function<void(const std::string& reason)> connect_failed;
  // An established connection ended (network, broker DISCONNECT, keepalive).
  // Not called for disconnect() requested by the caller.
  std::function<void(const std::string& reason)> connection_lost;
  // A message on a subscribed topic.
  std::function<void(Message)> message;
};

class Client {
 public:
  // Creates the Paho client (does not connect). Error "mqtt_bad_options"
  // for a URI or client id Paho refuses.
  static Result<std::unique_ptr<Client>> create(boost::asio::any_io_executor executor, ConnectOptions options,
                                                Handlers handlers);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts one connection attempt; ends in handlers.connected or
  // handlers.connect_failed. Ignored while connected or connecting.
  void connect();
  // Sends DISCONNECT (the will is not published) and waits up to `timeout`
  // for Paho in a blocking call; for shutdown. Safe when not connected.
  void disconnect(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
  // The same without blocking: returns at once; `done` (optional) is posted
  // to the executor when Paho has finished (queued messages out, or
  // `timeout`), or at the latest 200 ms after `timeout`: when the
  // connection dies under it Paho reports nothing at all. Until then the
  // connection lives on inside, so the Client may be destroyed right away,
  // and the executor has outstanding work (its io_context's run() does not
  // return before the DISCONNECT is out or given up). Handlers are not
  // called any more. Not connected: `done` is posted at once.
  void disconnect_async(std::chrono::milliseconds timeout, std::function<void()> done = nullptr);

  // Queues a PUBLISH. Returns at once; an error ("mqtt_not_connected",
  // "mqtt_publish_failed") means it was not queued. Success is not delivery:
  // a PUBACK only means the broker has it.
  Result<void> publish(const std::string& topic, const std::string& payload, int qos = 1, bool retain = false);

  // Subscribes to filters (each with its QoS); `done` (optional) gets the
  // outcome on the executor.
  void subscribe(const std::vector<std::pair<std::string, int>>& filters,
                 std::function<void(Result<void>)> done = nullptr);

  // Replaces the will used by the next connect() (e.g. a status payload with
  // fresh counters). nullopt: no will.
  void set_will(std::optional<Will> will);

  bool connected() const;
  bool connecting() const;
  const ConnectOptions& options() const;

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace tally::mqtt
