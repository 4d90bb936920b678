#include "tally/device/config.hpp"
#include "tally/mqtt/client.hpp"
#include "tally/service/command_line.hpp"
#include "tally/service/config_file.hpp"
#include "usb_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <utility>
#include <sstream>
#include <type_traits>

#include <toml++/toml.h>

namespace tally::device {
namespace {

// The loader pieces both daemons share (bad_config errors, typed keys,
// sections, ids, HOST:PORT).
using service::config::bad;
using service::config::is_identifier;
using service::config::parse_listen;
using service::config::read_key;
using service::config::section_table;

// [session] reason_codes (array of codes) and [session.pins] (operator = "digits").
// Messages never include a PIN.
Result<void> read_session(const toml::table& t, Config& c) {
  auto found = section_table(t, "session", {"idle_timeout_s", "require_pin", "reason_codes", "pins"});
  if (!found) return found.error();
  const toml::table* session = *found;
  if (session == nullptr) return {};
  if (const auto node = (*session)["reason_codes"]; node) {
    const auto* list = node.as_array();
    if (list == nullptr) return bad("config key session.reason_codes must be an array of strings");
    std::vector<std::string> codes;
    for (const auto& e : *list) {
      const auto v = e.value<std::string>();
      if (!v || v->empty() || v->size() > 32 || !is_identifier(*v)) {
        return bad("session.reason_codes entries must be 1-32 characters of A-Z a-z 0-9 _ . -");
      }
      std::string code = *v;
      for (char& ch : code) ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
      if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(std::move(code));
    }
    c.session_reason_codes = std::move(codes);
  }
  if (const auto node = (*session)["pins"]; node) {
    const auto* pins = node.as_table();
    if (pins == nullptr) return bad("config key session.pins must be a table of operator = \"digits\"");
    c.session_pins.clear();
    for (const auto& [k, v] : *pins) {
      const std::string id(k.str());
      if (!is_identifier(id)) return bad("session.pins: operator id '" + id + "' must be 1-64 of A-Z a-z 0-9 _ . -");
      const auto pin = v.value<std::string>();
      const bool digits = pin && std::all_of(pin->begin(), pin->end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!digits || pin->size() < 4 || pin->size() > 12) {
        return bad("session.pins." + id + " must be a string of 4-12 digits");
      }
      c.session_pins[id] = *pin;
    }
  }
  return {};
}

// [decode]: formats = ["EAN-13", "QRCode", …] (the names tally decode
// --formats takes) and the other scanner::DecodeOptions knobs.
Result<void> read_decode(const toml::table& t, scanner::DecodeOptions& o) {
  auto found = section_table(t, "decode", {"formats", "try_harder_fallback", "exhaustive", "max_symbols", "downscale_threshold",
                                            "upscale_fallback_max_pixels", "upscale_matrix_max_pixels"});
  if (!found) return found.error();
  const toml::table* decode = *found;
  if (decode == nullptr) return {};
  if (const auto node = (*decode)["formats"]; node) {
    const auto* list = node.as_array();
    if (list == nullptr || list->empty()) {
      return bad("config key decode.formats must be a non-empty array of format names, e.g. [\"EAN-13\", \"QRCode\"]");
    }
    scanner::SymbologySet set = 0;
    for (const auto& e : *list) {
      const auto name = e.value<std::string>();
      if (!name) return bad("config key decode.formats must be an array of strings");
      auto bits = scanner::parse_symbologies(*name);
      if (!bits || *bits == 0) {
        return bad("decode.formats: unknown barcode format '" + *name + "' (ZXing names, as tally decode --formats)");
      }
      set |= *bits;
    }
    o.formats = set;
  }
  std::int64_t max_symbols = o.max_symbols;
  std::int64_t downscale = o.downscale_threshold;
  std::int64_t upscale = o.upscale_fallback_max_pixels;
  std::int64_t upscale_matrix = o.upscale_matrix_max_pixels;
  for (const auto& r : {read_key(t, "decode", "try_harder_fallback", o.try_harder_fallback),
                 read_key(t, "decode", "exhaustive", o.exhaustive), read_key(t, "decode", "max_symbols", max_symbols),
                 read_key(t, "decode", "downscale_threshold", downscale),
                 read_key(t, "decode", "upscale_fallback_max_pixels", upscale),
                 read_key(t, "decode", "upscale_matrix_max_pixels", upscale_matrix)}) {
    if (!r) return r.error();
  }
  const auto in_range = [](const char* key, std::int64_t v, std::int64_t lo, std::int64_t hi) -> Result<int> {
    if (v < lo || v > hi) {
      return bad("decode." + std::string(key) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) +
                 ", got " + std::to_string(v));
    }
    return static_cast<int>(v);
  };
  auto m = in_range("max_symbols", max_symbols, 1, 255);
  if (!m) return m.error();
  auto d = in_range("downscale_threshold", downscale, 0, scanner::kMaxFrameSide);
  if (!d) return d.error();
  auto u = in_range("upscale_fallback_max_pixels", upscale, 0, static_cast<std::int64_t>(scanner::kMaxFramePixels));
  if (!u) return u.error();
  auto um = in_range("upscale_matrix_max_pixels", upscale_matrix, 0,
                     static_cast<std::int64_t>(scanner::kMaxFramePixels));
  if (!um) return um.error();
  o.max_symbols = *m;
  o.downscale_threshold = *d;
  o.upscale_fallback_max_pixels = *u;
  o.upscale_matrix_max_pixels = *um;
  if (o.exhaustive && !o.try_harder_fallback) {
    return bad("decode.exhaustive needs decode.try_harder_fallback = true");
  }
  return {};
}

// A TOML array of strings; `key` names it in the one-line error.
Result<std::vector<std::string>> string_list(const toml::node_view<const toml::node>& node, const std::string& key) {
  const auto* list = node.as_array();
  if (list == nullptr) return bad("config key " + key + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *list) {
    const auto v = e.value<std::string>();
    if (!v) return bad("config key " + key + " must be an array of strings");
    out.push_back(*v);
  }
  return out;
}

// [labels] and [labels.documents]: the site's label grammar, checked once here
// (scanner::validate) so a bad regex stops tallyd instead of every scan.
Result<void> read_labels(const toml::table& t, scanner::LabelOptions& o) {
  auto found = section_table(t, "labels", {"bin_pattern", "gs_substitutes", "unknown_ai", "documents"});
  if (!found) return found.error();
  const toml::table* labels = *found;
  if (labels == nullptr) return {};
  if (auto r = read_key(t, "labels", "bin_pattern", o.bin_regex); !r) return r.error();
  if (const auto node = (*labels)["gs_substitutes"]; node) {
    auto list = string_list(node, "labels.gs_substitutes");
    if (!list) return list.error();
    o.gs1.gs_substitutes = std::move(*list);
  }
  if (const auto node = (*labels)["unknown_ai"]; node) {
    const auto v = node.value<std::string>();
    if (v && *v == "warn") {
      o.gs1.unknown_ai = scanner::UnknownAiPolicy::warn;
    } else if (v && *v == "error") {
      o.gs1.unknown_ai = scanner::UnknownAiPolicy::error;
    } else {
      return bad("labels.unknown_ai must be \"warn\" or \"error\"");
    }
  }
  if (const auto node = (*labels)["documents"]; node) {
    const auto* docs = node.as_table();
    if (docs == nullptr) return bad("config key labels.documents must be a table of kind = [prefixes]");
    auto& d = o.documents;
    const std::pair<std::string_view, std::vector<std::string>*> kinds[] = {
        {"purchase_order", &d.purchase_order}, {"asn", &d.asn}, {"order", &d.order}, {"task", &d.task},
        {"other", &d.other}};
    for (const auto& [k, v] : *docs) {
      const std::string_view key = k.str();  // (clang 14 cannot capture a structured binding)
      const auto* kind = std::find_if(std::begin(kinds), std::end(kinds), [key](const auto& e) { return e.first == key; });
      if (kind == std::end(kinds)) {
        return bad("unknown config key labels.documents." + std::string(k.str()) +
                   " (purchase_order, asn, order, task, other)");
      }
      auto list = string_list((*docs)[k.str()], "labels.documents." + std::string(k.str()));
      if (!list) return list.error();
      *kind->second = std::move(*list);
    }
  }
  if (auto r = scanner::validate(o); !r) return bad("labels: " + r.error().message);
  return {};
}

// output_reports = { pattern = "03 01 00" }: hex bytes (spaces allowed),
// 1-64 per report, the report id first; patterns as feedback plays them.
Result<std::map<std::string, std::vector<std::uint8_t>>> read_output_reports(const toml::node_view<const toml::node>& node,
                                                                             const std::string& at) {
  const auto* t = node.as_table();
  if (t == nullptr) return bad(at + " must be a table of pattern = \"hex bytes\"");
  std::map<std::string, std::vector<std::uint8_t>> out;
  static constexpr std::string_view kPatterns[] = {"good", "recorded", "warning", "error", "acked"};
  for (const auto& [k, v] : *t) {
    const std::string name(k.str());
    if (std::find(std::begin(kPatterns), std::end(kPatterns), name) == std::end(kPatterns)) {
      return bad(at + "." + name + ": not a pattern (good, recorded, warning, error, acked)");
    }
    const auto text = v.value<std::string>();
    std::vector<std::uint8_t> bytes;
    std::string digits;
    bool ok = text.has_value();
    for (char ch : text.value_or("")) {
      if (ch == ' ') continue;
      ok = ok && std::isxdigit(static_cast<unsigned char>(ch)) != 0;
      digits += ch;
    }
    ok = ok && !digits.empty() && digits.size() % 2 == 0 && digits.size() <= 128;
    for (std::size_t i = 0; ok && i < digits.size(); i += 2) {
      bytes.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
    }
    if (!ok) return bad(at + "." + name + " must be 1-64 bytes in hex, report id first (e.g. \"03 01 00\")");
    out[name] = std::move(bytes);
  }
  return out;
}

// One [[scanner]] table; `at` ("scanner[0]") names it in errors. Long on
// purpose: one key after the other, each checked where it is read, so a
// section's keys stay in one place.
Result<ScannerConfig> read_scanner(const toml::table& table, std::size_t index) {
  const std::string at = "scanner[" + std::to_string(index) + "]";
  ScannerConfig sc;
  const auto type = table["type"].value<std::string>();
  if (!type) return bad(at + ".type is required: \"serial\", \"hid-pos\", \"keyboard\" or \"camera\"");
  sc.type = *type;
  static constexpr std::string_view kShared[] = {"type", "name", "aim_prefix", "max_len", "reopen_min_ms",
                                                 "reopen_max_ms"};
  static constexpr std::string_view kSerial[] = {"path", "baud", "character_size", "parity", "stop_bits",
                                                 "flow_control", "suffix", "suffix_custom"};
  static constexpr std::string_view kUsb[] = {"vid", "pid", "interface_class", "interface_subclass",
                                              "interface_protocol", "usage_page", "detach_kernel_driver",
                                              "output_reports"};
  static constexpr std::string_view kKeyboard[] = {"layout", "suffix", "gs_substitute", "suffix_timeout_ms"};
  static constexpr std::string_view kCamera[] = {"device", "format", "width", "height", "buffers", "mode",
                                                 "repeat_ms", "trigger", "trigger_key", "trigger_timeout_ms"};
  const bool serial = sc.type == "serial", keyboard = sc.type == "keyboard", hid_pos = sc.type == "hid-pos",
             camera = sc.type == "camera";
  if (!serial && !keyboard && !hid_pos && !camera) {
    return bad(at + ".type '" + sc.type + "' must be \"serial\", \"hid-pos\", \"keyboard\" or \"camera\"");
  }
  const auto in = [](std::string_view key, const auto& list) {
    return std::find(std::begin(list), std::end(list), key) != std::end(list);
  };
  for (const auto& [k, v] : table) {
    const std::string_view key = k.str();
    const bool known = in(key, kShared) || (serial && in(key, kSerial)) || ((keyboard || hid_pos) && in(key, kUsb)) ||
                       (keyboard && in(key, kKeyboard)) || (camera && in(key, kCamera));
    if (!known) return bad("unknown config key " + at + "." + std::string(key) + " for type \"" + sc.type + "\"");
  }
  // Reads key into out; the wrong type is an error naming the key.
  const auto get = [&](const char* key, auto& out) -> Result<void> {
    const auto node = table[key];
    if (!node) return {};
    if (auto v = node.template value<std::remove_reference_t<decltype(out)>>()) {
      out = *v;
      return {};
    }
    return bad("config key " + at + "." + key + " has the wrong type");
  };
  const auto range = [&](const char* key, std::int64_t v, std::int64_t lo, std::int64_t hi) -> Result<void> {
    if (v < lo || v > hi) {
      return bad(at + "." + key + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                 std::to_string(v));
    }
    return {};
  };
  sc.name = sc.type + "-" + std::to_string(index);
  std::int64_t max_len = static_cast<std::int64_t>(sc.max_len);
  for (const auto& r : {get("name", sc.name), get("aim_prefix", sc.aim_prefix), get("max_len", max_len),
                 get("reopen_min_ms", sc.reopen_min_ms), get("reopen_max_ms", sc.reopen_max_ms)}) {
    if (!r) return r.error();
  }
  if (!is_identifier(sc.name)) return bad(at + ".name '" + sc.name + "' must be 1-64 of A-Z a-z 0-9 _ . -");
  for (const auto& r : {range("max_len", max_len, 1, 65536), range("reopen_max_ms", sc.reopen_max_ms, 1, 3600000),
                 range("reopen_min_ms", sc.reopen_min_ms, 1, sc.reopen_max_ms)}) {
    if (!r) return r.error();
  }
  sc.max_len = static_cast<std::size_t>(max_len);

  if (serial) {
    auto& p = sc.serial;
    std::int64_t baud = p.baud, size = p.character_size, stop = p.stop_bits;
    std::string suffix = "cr", custom;
    for (const auto& r : {get("path", p.path), get("baud", baud), get("character_size", size), get("parity", p.parity),
                   get("stop_bits", stop), get("flow_control", p.flow_control), get("suffix", suffix),
                   get("suffix_custom", custom)}) {
      if (!r) return r.error();
    }
    if (p.path.empty()) return bad(at + ".path is required for a serial scanner (e.g. \"/dev/ttyACM0\")");
    static constexpr std::int64_t kBauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600};
    if (std::find(std::begin(kBauds), std::end(kBauds), baud) == std::end(kBauds)) {
      return bad(at + ".baud " + std::to_string(baud) + " is not a standard rate (1200 … 921600)");
    }
    if (auto r = range("character_size", size, 5, 8); !r) return r.error();
    if (stop != 1 && stop != 2) return bad(at + ".stop_bits must be 1 or 2");
    if (p.parity != "none" && p.parity != "odd" && p.parity != "even") {
      return bad(at + ".parity '" + p.parity + "' must be none, odd or even");
    }
    if (p.flow_control != "none" && p.flow_control != "software" && p.flow_control != "hardware") {
      return bad(at + ".flow_control '" + p.flow_control + "' must be none, software or hardware");
    }
    if (suffix == "cr") {
      p.suffix = "\r";
    } else if (suffix == "lf") {
      p.suffix = "\n";
    } else if (suffix == "crlf") {
      p.suffix = "\r\n";
    } else if (suffix == "custom") {
      if (custom.empty() || custom.size() > 8) return bad(at + ".suffix_custom must be 1-8 characters with suffix = \"custom\"");
      p.suffix = custom;
    } else {
      return bad(at + ".suffix '" + suffix + "' must be cr, lf, crlf or custom");
    }
    if (!custom.empty() && suffix != "custom") return bad(at + ".suffix_custom needs suffix = \"custom\"");
    p.baud = static_cast<unsigned>(baud);
    p.character_size = static_cast<unsigned>(size);
    p.stop_bits = static_cast<unsigned>(stop);
  }
  if (keyboard || hid_pos) {
    auto usb = read_usb_selection(table, at, keyboard ? UsbScannerKind::keyboard : UsbScannerKind::hid_pos);
    if (!usb) return usb.error();
    sc.usb = std::move(*usb);
    sc.usb.name = sc.name;
  }
  if (camera) {
    auto& c = sc.camera;
    std::int64_t width = c.width, height = c.height, buffers = c.buffers, key = c.trigger_key;
    for (const auto& r : {get("device", c.device), get("format", c.format), get("width", width), get("height", height),
                   get("buffers", buffers), get("mode", c.mode), get("repeat_ms", c.repeat_ms),
                   get("trigger", c.trigger), get("trigger_key", key),
                   get("trigger_timeout_ms", c.trigger_timeout_ms)}) {
      if (!r) return r.error();
    }
    if (c.device.empty()) return bad(at + ".device must name a V4L2 node (e.g. \"/dev/video0\")");
    if (c.format != "grey" && c.format != "yuyv" && c.format != "mjpeg") {
      return bad(at + ".format '" + c.format + "' must be grey, yuyv or mjpeg");
    }
    if (c.mode != "continuous" && c.mode != "trigger") {
      return bad(at + ".mode '" + c.mode + "' must be continuous or trigger");
    }
    if (!c.trigger.empty() && c.mode != "trigger") return bad(at + ".trigger needs mode = \"trigger\"");
    for (const auto& r : {range("width", width, 16, scanner::kMaxFrameSide), range("height", height, 16, scanner::kMaxFrameSide),
                   range("buffers", buffers, 2, 32), range("repeat_ms", c.repeat_ms, 0, 3600000),
                   range("trigger_key", key, 0, 0x2ff), range("trigger_timeout_ms", c.trigger_timeout_ms, 1, 60000)}) {
      if (!r) return r.error();
    }
    if (static_cast<std::size_t>(width * height) > scanner::kMaxFramePixels) {
      return bad(at + ": width x height must be at most " + std::to_string(scanner::kMaxFramePixels) + " pixels");
    }
    if (c.format == "yuyv" && width % 2 != 0) return bad(at + ".width must be even for format yuyv");
    c.width = static_cast<unsigned>(width);
    c.height = static_cast<unsigned>(height);
    c.buffers = static_cast<unsigned>(buffers);
    c.trigger_key = static_cast<unsigned>(key);
  }
  if ((keyboard || hid_pos) && table.contains("output_reports")) {
    auto reports = read_output_reports(table["output_reports"], at + ".output_reports");
    if (!reports) return reports.error();
    sc.output_reports = std::move(*reports);
  }
  if (keyboard) {
    auto& k = sc.keyboard;
    std::string gs;
    for (const auto& r : {get("layout", k.layout), get("suffix", k.suffix), get("gs_substitute", gs),
                   get("suffix_timeout_ms", sc.suffix_timeout_ms)}) {
      if (!r) return r.error();
    }
    if (table.contains("gs_substitute")) {
      if (gs.size() != 1) return bad(at + ".gs_substitute must be one character");
      k.gs_substitute = gs[0];
    }
    k.aim_prefix = sc.aim_prefix;
    k.max_len = sc.max_len;
    if (auto r = validate(k); !r) return bad(at + ": " + r.error().message);
    if (auto r = range("suffix_timeout_ms", sc.suffix_timeout_ms, 1, 10000); !r) return r.error();
    sc.usb.layout = k.layout;
  }
  return sc;
}

// [feedback]: leds, leds_dir, beeper, command, command_timeout_ms, acked.
Result<void> read_feedback(const toml::table& t, FeedbackConfig& f) {
  auto found = section_table(t, "feedback", {"leds", "leds_dir", "beeper", "command", "command_timeout_ms", "acked"});
  if (!found) return found.error();
  const toml::table* feedback = *found;
  if (feedback == nullptr) return {};
  std::string leds_dir = f.leds_dir.string();
  for (const auto& r : {read_key(t, "feedback", "leds_dir", leds_dir), read_key(t, "feedback", "beeper", f.beeper),
                 read_key(t, "feedback", "command_timeout_ms", f.command_timeout_ms),
                 read_key(t, "feedback", "acked", f.acked)}) {
    if (!r) return r.error();
  }
  f.leds_dir = leds_dir;
  if (const auto node = (*feedback)["leds"]; node) {
    auto list = string_list(node, "feedback.leds");
    if (!list) return list.error();
    for (const auto& name : *list) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        return bad("feedback.leds: '" + name + "' must be an LED name under feedback.leds_dir");
      }
    }
    f.leds = std::move(*list);
  }
  if (const auto node = (*feedback)["command"]; node) {
    auto list = string_list(node, "feedback.command");
    if (!list) return list.error();
    if (!list->empty() && (*list)[0].empty()) return bad("feedback.command[0] must name a program");
    f.command = std::move(*list);
  }
  if (f.command_timeout_ms < 1 || f.command_timeout_ms > 600000) {
    return bad("feedback.command_timeout_ms must be 1..600000, got " + std::to_string(f.command_timeout_ms));
  }
  return {};
}

// [[scanner]]: an array of tables, one per scanner.
Result<void> read_scanners(const toml::table& t, Config& c) {
  if (!t.contains("scanner")) return {};
  const auto* list = t["scanner"].as_array();
  if (list == nullptr) return bad("config key scanner must be an array of tables: write [[scanner]]");
  c.scanners.clear();
  c.usb_scanners.clear();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto* table = (*list)[i].as_table();
    if (table == nullptr) return bad("scanner[" + std::to_string(i) + "] must be a table: write [[scanner]]");
    auto sc = read_scanner(*table, i);
    if (!sc) return sc.error();
    const bool taken = std::any_of(c.scanners.begin(), c.scanners.end(), [&](const auto& o) { return o.name == sc->name; });
    if (taken) return bad("scanner[" + std::to_string(i) + "].name '" + sc->name + "' is used twice");
    if (sc->is_usb()) c.usb_scanners.push_back(sc->usb);
    c.scanners.push_back(std::move(*sc));
  }
  return {};
}

Result<void> load_file(const std::filesystem::path& path, Config& c) {
  auto parsed = service::config::parse_file(path);
  if (!parsed) return parsed.error();
  const toml::table& t = *parsed;
  if (auto r = service::config::known_sections(t, {"device", "http", "mqtt", "receiving", "session", "decode", "labels",
                                                    "engine", "input", "log", "scanner", "feedback"},
                                               path);
      !r) {
    return r;
  }
  std::string data_dir = c.data_dir.string();
  std::string listen;
  std::int64_t queue_max = static_cast<std::int64_t>(c.queue_max);
  for (const auto& r : {read_key(t, "device", "id", c.device_id), read_key(t, "device", "site", c.site),
                 read_key(t, "device", "data_dir", data_dir), read_key(t, "http", "listen", listen),
                 read_key(t, "mqtt", "uri", c.mqtt_uri), read_key(t, "mqtt", "batch_max", c.mqtt_batch_max),
                 read_key(t, "mqtt", "linger_ms", c.mqtt_linger_ms),
                 read_key(t, "mqtt", "inflight_max", c.mqtt_inflight_max),
                 read_key(t, "mqtt", "resend_timeout_ms", c.mqtt_resend_timeout_ms),
                 read_key(t, "mqtt", "session_expiry_s", c.mqtt_session_expiry_s),
                 read_key(t, "mqtt", "keepalive_s", c.mqtt_keepalive_s),
                 read_key(t, "mqtt", "backoff_min_ms", c.mqtt_backoff_min_ms),
                 read_key(t, "mqtt", "backoff_max_ms", c.mqtt_backoff_max_ms),
                 read_key(t, "mqtt", "ca_file", c.mqtt_ca_file), read_key(t, "mqtt", "cert_file", c.mqtt_cert_file),
                 read_key(t, "mqtt", "key_file", c.mqtt_key_file),
                 read_key(t, "receiving", "location", c.receiving_location),
                 read_key(t, "session", "idle_timeout_s", c.session_idle_timeout_s),
                 read_key(t, "session", "require_pin", c.session_require_pin), read_session(t, c),
                 read_decode(t, c.decode), read_labels(t, c.labels),
                 read_key(t, "engine", "queue_max", queue_max), read_key(t, "input", "stdin", c.stdin_scans),
                 read_key(t, "log", "level", c.log_level), read_scanners(t, c), read_feedback(t, c.feedback)}) {
    if (!r) return r.error();
  }
  if (queue_max < 1 || queue_max > 65536) return bad("engine.queue_max must be 1..65536");
  c.queue_max = static_cast<std::size_t>(queue_max);
  c.data_dir = data_dir;
  if (!listen.empty()) {
    if (auto r = parse_listen(listen, c.http_host, c.http_port); !r) return r.error();
  }
  return {};
}

}  // namespace

Result<void> validate(const Config& c) {
  if (!is_identifier(c.device_id)) {
    return bad("device id '" + c.device_id + "' must be 1-64 characters of A-Z a-z 0-9 _ . -");
  }
  if (!is_identifier(c.site)) return bad("site '" + c.site + "' must be 1-64 characters of A-Z a-z 0-9 _ . -");
  if (c.data_dir.empty()) return bad("data dir must not be empty");
  if (c.http_host.empty()) return bad("http host must not be empty");
  if (c.queue_max < 1 || c.queue_max > 65536) return bad("queue_max must be 1..65536");
  const auto in_range = [](const char* key, std::int64_t v, std::int64_t lo, std::int64_t hi) -> Result<void> {
    if (v < lo || v > hi) {
      return bad("mqtt." + std::string(key) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                 std::to_string(v));
    }
    return {};
  };
  for (const auto& r : {in_range("batch_max", c.mqtt_batch_max, 1, 10000), in_range("linger_ms", c.mqtt_linger_ms, 0, 10000),
                 in_range("inflight_max", c.mqtt_inflight_max, 1, 1024),
                 in_range("resend_timeout_ms", c.mqtt_resend_timeout_ms, 100, 3600000),
                 in_range("session_expiry_s", c.mqtt_session_expiry_s, 0, 0x7fffffff),
                 in_range("keepalive_s", c.mqtt_keepalive_s, 5, 3600),
                 in_range("backoff_max_ms", c.mqtt_backoff_max_ms, 1, 3600000),
                 in_range("backoff_min_ms", c.mqtt_backoff_min_ms, 1, c.mqtt_backoff_max_ms)}) {
    if (!r) return r.error();
  }
  if (!c.mqtt_uri.empty() && c.mqtt_uri.rfind("tcp://", 0) != 0 && c.mqtt_uri.rfind("ssl://", 0) != 0 &&
      c.mqtt_uri.rfind("mqtt://", 0) != 0 && c.mqtt_uri.rfind("mqtts://", 0) != 0 &&
      c.mqtt_uri.rfind("ws://", 0) != 0 && c.mqtt_uri.rfind("wss://", 0) != 0) {
    return bad("mqtt uri '" + c.mqtt_uri + "' must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://");
  }
  if (c.session_idle_timeout_s < 0 || c.session_idle_timeout_s > 86400) {
    return bad("session.idle_timeout_s must be 0..86400, got " + std::to_string(c.session_idle_timeout_s));
  }
  if (c.session_require_pin && c.session_pins.empty()) {
    return bad("session.require_pin needs at least one operator in [session.pins]");
  }
  if (auto r = mqtt::check_tls_files(c.mqtt_uri, {c.mqtt_ca_file, c.mqtt_cert_file, c.mqtt_key_file}); !r) {
    return r.error();
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return bad("log level '" + c.log_level + "' must be one of trace debug info warn error off");
  }
  return {};
}

Result<LoadResult> load_config(const std::vector<std::string>& args) {
  LoadResult out;
  service::CommandLine cl{"tallyd", "tallyd: the Tally edge scanning daemon", "folder of the journal (journal.db)",
                          "MQTT broker URI"};
  std::string device_id, site;
  cl.app().add_option("--device-id", device_id, "this device's id (MQTT client id, journal owner)");
  cl.app().add_option("--site", site, "site id");
  cl.app().add_flag("--stdin", out.config.stdin_scans, "read one scan per line from stdin (keyboard wedge)");
  if (auto r = cl.parse(args, out); !r) return r.error();
  if (out.exit_now) return out;  // --help, --version

  Config& c = out.config;
  const bool stdin_flag = c.stdin_scans;
  if (auto r = cl.apply(c, load_file); !r) return r.error();
  c.stdin_scans = c.stdin_scans || stdin_flag;
  if (cl.given("--device-id")) c.device_id = device_id;
  if (cl.given("--site")) c.site = site;
  if (auto r = validate(c); !r) return r.error();
  return out;
}

}  // namespace tally::device
