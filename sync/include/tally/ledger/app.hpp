// The tally-ledger process: configuration (a TOML file overridden by flags)
// and run(). The executable (sync/tally-ledger/main.cpp) only calls run().
//
//   tally-ledger [--config FILE] [--data-dir DIR | --postgres CONNINFO] [--http HOST:PORT] [--mqtt URI]
//                [--log-level L] [--client-id ID] [--catalog FILE --site SITE]
//
// One Asio io_context thread runs HTTP, MQTT (tally::mqtt) and signals; the
// store runs on one worker thread behind a bounded queue. Prints
// "listening on http://HOST:PORT" once the HTTP server is bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tally/ledger/allowances.hpp"
#include "tally/ledger/kpi.hpp"
#include "tally/scanner/result.hpp"

namespace tally::ledger {

struct AppConfig {
  std::filesystem::path config_file;
  // [ledger]
  std::filesystem::path data_dir = "tally-ledger-data";  // holds ledger.db
  // libpq conninfo; when set the store is PostgreSQL (postgres_store.hpp), not data_dir/ledger.db.
  std::string postgres;
  std::size_t queue_max = 4096;  // messages/requests waiting for the store; beyond: dropped (no ack) / 503
  std::size_t max_message_bytes = 1024 * 1024;
  // Group commit: at most this many queued batches share one transaction
  // (each stays atomic); 1 = one transaction per batch.
  std::size_t group_max = 16;
  // [http]
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 8090;
  // [mqtt]
  std::string mqtt_uri = "tcp://127.0.0.1:1883";  // empty: no MQTT (HTTP only)
  std::string client_id = "tally-ledger";          // unique per instance (shared subscription members)
  // TLS for ssl:// (mqtts://) URIs, PEM files (deploy/certs); empty: unused.
  // A site broker requires a client certificate; the ledger's CN is "ledger".
  std::string mqtt_ca_file;
  std::string mqtt_cert_file;
  std::string mqtt_key_file;
  // [downlink]
  std::size_t chunk_bytes = 64 * 1024;
  std::filesystem::path catalog_file;  // loaded at start for `site` when set
  std::string site = "local";
  // [allowances] enabled ttl_s grant_to active_s refresh_ms max_per_device clock_margin_s
  // (tally/ledger/allowances.hpp, docs/PROTOCOL.md "Pick allowances")
  AllowancePolicy allowances;
  // [log]
  std::string log_level = "info";
  // [kpi] name = [stressed, critical] (tally/ledger/kpi.hpp, docs/OPERATIONS.md "## KPIs")
  KpiBands kpi_bands = default_kpi_bands();
  // [kpi] sample_interval_s, history_retention_s: the ledger stores its KPIs
  // (last 24 h) every interval for GET /api/v1/kpis/history and deletes
  // samples older than the retention. 0: no sampling.
  std::uint64_t kpi_sample_interval_s = 60;
  std::uint64_t kpi_history_retention_s = 7 * 24 * 3600;
  // --check-invariants: recompute balances, check that every item sums to
  // zero, print the violations and exit (0 clean, 1 violations) instead of
  // serving.
  bool check_invariants = false;

  std::filesystem::path db_path() const { return data_dir / "ledger.db"; }
};

struct AppLoad {
  AppConfig config;
  bool exit_now = false;
  int exit_code = 0;
  std::string output;
};

// Error code "bad_config" with a one-line message.
Result<AppLoad> load_app_config(const std::vector<std::string>& args);

// Runs until SIGINT/SIGTERM. Exit codes: 0 clean stop, 2 bad config,
// 3 unusable data dir or store, 4 cannot listen. With --check-invariants:
// 0 when the store is consistent, 1 with one line per violation.
int run(const std::vector<std::string>& args);

}  // namespace tally::ledger
