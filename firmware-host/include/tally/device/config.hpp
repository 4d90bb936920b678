// tallyd configuration: a TOML file (optional) overridden by command-line
// flags. Every field states its default; deploy/tallyd.example.toml shows
// them all. Pure parsing apart from reading the config file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tally/device/usb_spec.hpp"
#include "tally/scanner/decode.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

struct Config {
  std::filesystem::path config_file;  // empty: none given
  // [device]
  std::string device_id = "tally-dev";  // also the MQTT client id and topic level
  std::string site = "local";
  std::filesystem::path data_dir = "tally-data";  // holds journal.db
  // [http]
  std::string http_host = "127.0.0.1";  // loopback only until TLS/token exist
  std::uint16_t http_port = 8080;       // 0 picks an ephemeral port
  // [mqtt] (docs/PROTOCOL.md; an empty uri turns sync off)
  std::string mqtt_uri = "tcp://127.0.0.1:1883";
  std::int64_t mqtt_batch_max = 500;            // movements per batch, 1..10000
  std::int64_t mqtt_linger_ms = 20;             // wait to fill a batch, 0..10000
  std::int64_t mqtt_inflight_max = 8;           // batches not yet acked by the ledger, 1..1024
  std::int64_t mqtt_resend_timeout_ms = 10000;  // no ack: resend, 100..3600000
  std::int64_t mqtt_session_expiry_s = 7 * 24 * 3600;  // broker keeps the session, 0..2^31-1
  std::int64_t mqtt_keepalive_s = 30;           // 5..3600
  std::int64_t mqtt_backoff_min_ms = 250;       // reconnect backoff, 1..backoff_max_ms
  std::int64_t mqtt_backoff_max_ms = 30000;     // ..3600000
  // TLS for ssl:// (mqtts://) URIs, PEM files (deploy/certs); empty: unused.
  // A site broker requires a client certificate whose CN is the device id.
  std::string mqtt_ca_file;    // the site CA (verifies the broker)
  std::string mqtt_cert_file;  // this device's certificate
  std::string mqtt_key_file;   // its private key (0600)
  // [receiving]
  std::string receiving_location = "DOCK-1";  // where blind receipts land
  // [session] (docs/WORKFLOWS.md "Sessions")
  std::int64_t session_idle_timeout_s = 0;  // sign out after this long without a scan, 0..86400; 0: never
  bool session_require_pin = false;         // a PIN:<digits> scan after the badge
  // Reason codes for damage, hold, release, return and short picks, upper-
  // cased; nullopt: the built-in list (scanner SessionOptions); empty: any code.
  std::optional<std::vector<std::string>> session_reason_codes;
  // [session.pins] operator id = "PIN" (4-12 digits). Never logged; keep the
  // config file readable by the service only (0640 root:tally).
  std::map<std::string, std::string> session_pins;
  // [decode] POST /api/v1/frames (scanner::DecodeOptions; docs/OPERATIONS.md
  // "Decoding frames"): formats by ZXing name ("EAN-13", "Code128", "QRCode",
  // …), try_harder_fallback, exhaustive, max_symbols 1..255,
  // downscale_threshold 0..8192, upscale_fallback_max_pixels 0..16777216.
  scanner::DecodeOptions decode;
  // [labels] the site's label grammar (scanner::LabelOptions; docs/DOMAIN.md
  // "Site options"): bin_pattern (ECMAScript regex, full match; empty: the
  // default bin grammar), gs_substitutes, unknown_ai = "warn" | "error",
  // [labels.documents] purchase_order / asn / order / task / other = [prefixes].
  scanner::LabelOptions labels;
  // [engine]
  std::size_t queue_max = 256;  // scans/jobs waiting for the journal; beyond: 503
  // [[scanner]] entries of type "hid-pos" / "keyboard" (docs/HARDWARE.md
  // "USB scanners"); read by read_usb_scanners (usb_config.cpp).
  std::vector<UsbScannerSpec> usb_scanners;
  // [input]
  bool stdin_scans = false;  // --stdin: one scan per line (keyboard wedge)
  // [log]
  std::string log_level = "info";

  std::filesystem::path journal_path() const { return data_dir / "journal.db"; }
};

// What load_config decided besides the config itself.
struct LoadResult {
  Config config;
  bool exit_now = false;  // --help / --version printed; exit with exit_code
  int exit_code = 0;
  std::string output;     // text to print for --help / --version
};

// Parses argv (flags as in docs/OPERATIONS.md) and the TOML file named by
// --config. Error code "bad_config" with a one-line message naming the
// offending flag, key or value.
Result<LoadResult> load_config(const std::vector<std::string>& args);

// Validates identifiers and values (device id and site: [A-Za-z0-9_.-]{1,64},
// no MQTT wildcards or '/'; host:port syntax; queue_max 1..65536).
Result<void> validate(const Config& config);

}  // namespace tally::device
