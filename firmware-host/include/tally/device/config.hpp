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

#include "tally/device/hid_decoders.hpp"
#include "tally/device/usb_spec.hpp"
#include "tally/scanner/decode.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

// A serial or CDC-ACM port (type = "serial"); docs/HARDWARE.md "Serial scanners".
struct SerialPortConfig {
  std::string path;                   // e.g. /dev/ttyACM0 or a udev /dev/serial/by-id/... link
  unsigned baud = 9600;               // 1200 2400 4800 9600 19200 38400 57600 115200 230400 460800 921600
  unsigned character_size = 8;        // 5..8
  std::string parity = "none";        // none | odd | even
  unsigned stop_bits = 1;             // 1 | 2
  std::string flow_control = "none";  // none | software | hardware
  // The bytes that end a scan: suffix = "cr" (default), "lf", "crlf", or
  // "custom" with suffix_custom = "..." (1-8 characters). With cr/lf/crlf,
  // stray CR/LF around a line and empty lines are dropped.
  std::string suffix = "\r";
};

// A V4L2 camera (type = "camera"); docs/HARDWARE.md "Camera scanners".
struct CameraConfig {
  std::string device = "/dev/video0";  // a V4L2 capture node (or a /dev/v4l/by-id/ link)
  std::string format = "yuyv";         // grey | yuyv | mjpeg (what the camera is asked to send)
  unsigned width = 640;                // asked for; the driver may pick the nearest size it has
  unsigned height = 480;
  unsigned buffers = 4;                // mmap buffers, 2..32
  std::string mode = "continuous";     // continuous | trigger
  std::int64_t repeat_ms = 1500;       // the same code again within this window is no new scan, 0..3600000
  std::string trigger;                 // trigger mode: an evdev node whose key press triggers (optional)
  unsigned trigger_key = 0;            // the key code (linux/input-event-codes.h); 0: any key
  std::int64_t trigger_timeout_ms = 3000;  // a trigger decodes frames this long at most, 1..60000
};

// One [[scanner]] table. Shared fields first; the rest belong to one type.
// type = "serial" is driven by SerialScanner; "hid-pos" and "keyboard" by
// UsbScannerManager (usb.hpp) with a HID decoder (hid_decoders.hpp) each.
struct ScannerConfig {
  std::string type;              // "serial" | "hid-pos" | "keyboard" | "camera"
  std::string name;              // in logs and output; default "<type>-<index>"
  bool aim_prefix = true;        // a leading AIM id ("]E0") becomes the symbology
  std::size_t max_len = 4096;    // longer scans are refused whole, 1..65536
  std::int64_t reopen_min_ms = 250;   // reopen backoff after the device went away,
  std::int64_t reopen_max_ms = 5000;  // doubling from min to max (1..3600000)
  SerialPortConfig serial;       // type = "serial"
  UsbScannerSpec usb;            // hid-pos, keyboard: which USB device to claim
  // keyboard: layout, suffix (enter|tab|none), gs_substitute; aim_prefix and
  // max_len mirror the shared fields.
  KeyboardOptions keyboard;
  std::int64_t suffix_timeout_ms = 100;  // keyboard, suffix "none": idle time that ends a scan, 1..10000
  CameraConfig camera;           // type = "camera"
  // hid-pos, keyboard: output_reports = { error = "03 01 ..." }: the HID
  // output report (report id first) sent to the scanner when the pattern
  // (good, recorded, warning, error, acked) plays: its own beeper/LED.
  std::map<std::string, std::vector<std::uint8_t>> output_reports;
  bool is_usb() const { return type == "hid-pos" || type == "keyboard"; }
};

// [feedback]: where the patterns play (docs/HARDWARE.md "Feedback"). All
// empty: no hardware feedback (the HTTP/stdin replies still say it).
struct FeedbackConfig {
  std::vector<std::string> leds;                     // LED names under leds_dir
  std::filesystem::path leds_dir = "/sys/class/leds";
  std::string beeper;                                // an evdev node with EV_SND/SND_TONE
  std::vector<std::string> command;                  // argv; "{pattern}" is replaced
  std::int64_t command_timeout_ms = 5000;            // then SIGKILL, 1..600000
  bool acked = true;                                 // play "acked" when the ledger acknowledged
};

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
  // "USB scanners"), in the order of their [[scanner]] tables: the USB
  // driver's UsbDeviceId::scanner indexes this.
  std::vector<UsbScannerSpec> usb_scanners;
  // [input]
  bool stdin_scans = false;  // --stdin: one scan per line (keyboard wedge)
  // [[scanner]] hardware scanners (docs/HARDWARE.md)
  std::vector<ScannerConfig> scanners;
  FeedbackConfig feedback;  // [feedback]
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
