#include "tally/device/hid_decoders.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <utility>

namespace tally::device {
namespace {

Error hid_error(std::string code, std::string message) { return make_error(std::move(code), std::move(message)); }

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// Remembers `e` as the decoder's last error and counts it.
template <typename T>
Result<T> refuse(DecoderStats& stats, std::optional<Error>& last, Error e) {
  ++stats.errors;
  last = e;
  return e;
}

// ---- keyboard layouts ----------------------------------------------------

// What one key types: plain, with Shift, with AltGr ("" = nothing). `dead`
// marks dead keys: bit 0 plain, bit 1 shift, bit 2 AltGr.
struct Key {
  std::string_view plain, shift, altgr;
  std::uint8_t dead = 0;
};

constexpr std::size_t kUsages = 0x68;
using Table = std::array<Key, kUsages>;

enum Layout : int { kUs = 0, kUk = 1, kDe = 2, kFr = 3 };
constexpr std::string_view kLayoutNames[] = {"us", "uk", "de", "fr"};

// HID usages (Keyboard/Keypad page 0x07) with a fixed meaning.
constexpr std::uint8_t kEnter = 0x28, kTab = 0x2B, kSpace = 0x2C, kKpEnter = 0x58;
constexpr std::uint8_t kKp1 = 0x59, kKp0 = 0x62;

constexpr std::uint8_t kLCtrl = 0x01, kLShift = 0x02, kLAlt = 0x04, kRCtrl = 0x10, kRShift = 0x20, kRAlt = 0x40;

constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kDigits = "1234567890";

Table us_table() {
  Table t{};
  for (std::size_t i = 0; i < 26; ++i) t[0x04 + i] = {kLower.substr(i, 1), kUpper.substr(i, 1), ""};
  constexpr std::string_view shifted = "!@#$%^&*()";
  for (std::size_t i = 0; i < 10; ++i) t[0x1E + i] = {kDigits.substr(i, 1), shifted.substr(i, 1), ""};
  t[kEnter] = {"\r", "\r", ""};
  t[kTab] = {"\t", "\t", ""};
  t[kSpace] = {" ", " ", " "};
  t[0x2D] = {"-", "_", ""};
  t[0x2E] = {"=", "+", ""};
  t[0x2F] = {"[", "{", ""};
  t[0x30] = {"]", "}", ""};
  t[0x31] = {"\\", "|", ""};
  t[0x32] = {"\\", "|", ""};  // Linux maps Non-US # to the backslash key
  t[0x33] = {";", ":", ""};
  t[0x34] = {"'", "\"", ""};
  t[0x35] = {"`", "~", ""};
  t[0x36] = {",", "<", ""};
  t[0x37] = {".", ">", ""};
  t[0x38] = {"/", "?", ""};
  t[0x54] = {"/", "/", ""};
  t[0x55] = {"*", "*", ""};
  t[0x56] = {"-", "-", ""};
  t[0x57] = {"+", "+", ""};
  t[kKpEnter] = {"\r", "\r", ""};
  for (std::size_t i = 0; i < 9; ++i) t[kKp1 + i] = {kDigits.substr(i, 1), kDigits.substr(i, 1), ""};
  t[kKp0] = {"0", "0", ""};
  t[0x63] = {".", ".", ""};
  t[0x64] = {"<", ">", ""};
  return t;
}

Table with(Table t, std::initializer_list<std::pair<std::uint8_t, Key>> changes) {
  for (const auto& [usage, key] : changes) t[usage] = key;
  return t;
}

// xkb "gb".
Table uk_table() {
  return with(us_table(), {{0x1F, {"2", "\"", ""}},
                           {0x20, {"3", "\xC2\xA3", ""}},  // £
                           {0x21, {"4", "$", "\xE2\x82\xAC"}},  // €
                           {0x31, {"#", "~", ""}},
                           {0x32, {"#", "~", ""}},
                           {0x34, {"'", "@", ""}},
                           {0x35, {"`", "\xC2\xAC", "|"}},  // ¬
                           {0x64, {"\\", "|", ""}}});
}

// xkb "de" (QWERTZ, dead ^ ´ `).
Table de_table() {
  return with(us_table(), {{0x1C, {"z", "Z", ""}},
                           {0x1D, {"y", "Y", ""}},
                           {0x14, {"q", "Q", "@"}},
                           {0x08, {"e", "E", "\xE2\x82\xAC"}},
                           {0x10, {"m", "M", "\xC2\xB5"}},
                           {0x1E, {"1", "!", ""}},
                           {0x1F, {"2", "\"", "\xC2\xB2"}},
                           {0x20, {"3", "\xC2\xA7", "\xC2\xB3"}},  // §
                           {0x21, {"4", "$", ""}},
                           {0x22, {"5", "%", ""}},
                           {0x23, {"6", "&", ""}},
                           {0x24, {"7", "/", "{"}},
                           {0x25, {"8", "(", "["}},
                           {0x26, {"9", ")", "]"}},
                           {0x27, {"0", "=", "}"}},
                           {0x2D, {"\xC3\x9F", "?", "\\"}},  // ß
                           {0x2E, {"\xC2\xB4", "`", "", 0x03}},  // dead ´ `
                           {0x2F, {"\xC3\xBC", "\xC3\x9C", ""}},  // ü Ü
                           {0x30, {"+", "*", "~"}},
                           {0x31, {"#", "'", ""}},
                           {0x32, {"#", "'", ""}},
                           {0x33, {"\xC3\xB6", "\xC3\x96", ""}},  // ö Ö
                           {0x34, {"\xC3\xA4", "\xC3\x84", ""}},  // ä Ä
                           {0x35, {"^", "\xC2\xB0", "", 0x01}},  // dead ^, °
                           {0x36, {",", ";", ""}},
                           {0x37, {".", ":", ""}},
                           {0x38, {"-", "_", ""}},
                           {0x63, {",", ",", ""}},
                           {0x64, {"<", ">", "|"}}});
}

// xkb "fr" (AZERTY: digits on Shift; dead ^ ¨, AltGr ~ `).
Table fr_table() {
  return with(us_table(), {{0x04, {"q", "Q", ""}},
                           {0x14, {"a", "A", ""}},
                           {0x1A, {"z", "Z", ""}},
                           {0x1D, {"w", "W", ""}},
                           {0x33, {"m", "M", ""}},
                           {0x08, {"e", "E", "\xE2\x82\xAC"}},
                           {0x10, {",", "?", ""}},
                           {0x36, {";", ".", ""}},
                           {0x37, {":", "/", ""}},
                           {0x38, {"!", "\xC2\xA7", ""}},
                           {0x1E, {"&", "1", ""}},
                           {0x1F, {"\xC3\xA9", "2", "~", 0x04}},  // é, dead ~
                           {0x20, {"\"", "3", "#"}},
                           {0x21, {"'", "4", "{"}},
                           {0x22, {"(", "5", "["}},
                           {0x23, {"-", "6", "|"}},
                           {0x24, {"\xC3\xA8", "7", "`", 0x04}},  // è, dead `
                           {0x25, {"_", "8", "\\"}},
                           {0x26, {"\xC3\xA7", "9", "^"}},  // ç
                           {0x27, {"\xC3\xA0", "0", "@"}},  // à
                           {0x2D, {")", "\xC2\xB0", "]"}},
                           {0x2E, {"=", "+", "}"}},
                           {0x2F, {"^", "\xC2\xA8", "", 0x03}},  // dead ^ ¨
                           {0x30, {"$", "\xC2\xA3", "\xC2\xA4"}},
                           {0x31, {"*", "\xC2\xB5", ""}},
                           {0x32, {"*", "\xC2\xB5", ""}},
                           {0x34, {"\xC3\xB9", "%", ""}},  // ù
                           {0x35, {"\xC2\xB2", "", ""}},
                           {0x64, {"<", ">", ""}}});
}

const Table& table(int layout) {
  static const std::array<Table, 4> tables = {us_table(), uk_table(), de_table(), fr_table()};
  return tables[static_cast<std::size_t>(std::clamp(layout, 0, 3))];
}

// Latin-1 code point (1..255) as UTF-8.
std::string latin1_utf8(unsigned cp) {
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  std::string s;
  s += static_cast<char>(0xC0 | (cp >> 6));
  s += static_cast<char>(0x80 | (cp & 0x3F));
  return s;
}

}  // namespace

bool is_aim_identifier(std::string_view s) {
  return s.size() == 3 && s[0] == ']' && is_alpha(s[1]) && is_alnum(s[2]);
}

DecodedScan split_aim_prefix(std::string text, bool aim_prefix) {
  DecodedScan scan;
  if (aim_prefix && text.size() >= 3 && is_aim_identifier(std::string_view(text).substr(0, 3))) {
    scan.symbology = text.substr(0, 3);
    text.erase(0, 3);
  }
  scan.text = std::move(text);
  return scan;
}

// ---- HID POS ------------------------------------------------------------

std::optional<DecodedScan> HidPosDecoder::feed(std::span<const std::uint8_t> report) {
  auto r = check(report);
  if (!r) return std::nullopt;
  return std::move(*r);
}

void HidPosDecoder::reset() {
  text_.clear();
  symbology_.clear();
  in_scan_ = false;
  discarding_ = false;
}

Result<std::optional<DecodedScan>> HidPosDecoder::check(std::span<const std::uint8_t> report) {
  ++stats_.reports;
  using R = std::optional<DecodedScan>;
  const std::size_t min_size = 1 + 1 + 3 + options_.data_size + 1;
  const std::size_t max_size = std::max<std::size_t>(64, min_size);
  if (report.empty()) return refuse<R>(stats_, last_error_, hid_error("hid_bad_report", "empty HID POS report"));
  if (report[0] != options_.report_id) {  // attribute/status reports: not scan data
    ++stats_.ignored;
    return R{};
  }
  if (report.size() < min_size || report.size() > max_size) {
    const bool was_scanning = in_scan_;
    reset();
    return refuse<R>(stats_, last_error_,
                     hid_error("hid_bad_report", "HID POS scanned-data report of " + std::to_string(report.size()) +
                                                     " bytes (expected " + std::to_string(min_size) + ".." +
                                                     std::to_string(max_size) + ")" +
                                                     (was_scanning ? "; the scan in progress is dropped" : "")));
  }
  const bool continued = (report.back() & 0x01) != 0;
  const std::size_t count = report[1];
  if (discarding_) {  // the rest of a refused scan
    discarding_ = continued;
    ++stats_.ignored;
    return R{};
  }
  // Drops the scan in progress (and its remaining reports) with `e`.
  const auto drop = [&](Error e) -> Result<R> {
    reset();
    discarding_ = continued;
    return refuse<R>(stats_, last_error_, std::move(e));
  };
  if (count > options_.data_size) {
    return drop(hid_error("hid_bad_length", "HID POS byte count " + std::to_string(count) + " exceeds the " +
                                                std::to_string(options_.data_size) + "-byte data field"));
  }
  std::string symbology;
  if (report[2] != 0 || report[3] != 0 || report[4] != 0) {
    symbology.assign(reinterpret_cast<const char*>(report.data() + 2), 3);
  }
  if (in_scan_ && symbology != symbology_) {
    return drop(hid_error("hid_symbology_changed", "HID POS symbology identifier changed within one scan"));
  }
  if (!in_scan_) {
    symbology_ = symbology;
    in_scan_ = true;
  }
  if (text_.size() + count > options_.max_len) {
    return drop(hid_error("hid_too_long", "HID POS scan longer than " + std::to_string(options_.max_len) +
                                              " bytes refused"));
  }
  text_.append(reinterpret_cast<const char*>(report.data() + 5), count);
  if (continued) return R{};

  DecodedScan scan{std::move(text_), std::move(symbology_)};
  reset();
  if (scan.text.empty()) {
    return refuse<R>(stats_, last_error_, hid_error("hid_empty_scan", "HID POS scan without data"));
  }
  if (!scan.symbology.empty() && !is_aim_identifier(scan.symbology)) {
    ++stats_.unknown_symbology;  // keep the data, lose only the name
    scan.symbology.clear();
  }
  ++stats_.scans;
  last_error_.reset();
  return R{std::move(scan)};
}

// ---- keyboard -----------------------------------------------------------

Result<void> validate(const KeyboardOptions& o) {
  if (std::find(std::begin(kLayoutNames), std::end(kLayoutNames), o.layout) == std::end(kLayoutNames)) {
    return make_error("bad_config", "keyboard layout '" + o.layout + "' must be one of us uk de fr");
  }
  if (o.suffix != "enter" && o.suffix != "tab" && o.suffix != "none") {
    return make_error("bad_config", "keyboard suffix '" + o.suffix + "' must be enter, tab or none");
  }
  if (o.max_len < 1 || o.max_len > 65536) return make_error("bad_config", "keyboard max_len must be 1..65536");
  if (o.gs_substitute && (*o.gs_substitute < 0x21 || *o.gs_substitute > 0x7E)) {
    return make_error("bad_config", "keyboard gs_substitute must be one printable ASCII character");
  }
  return {};
}

KeyboardDecoder::KeyboardDecoder(KeyboardOptions options) : options_(std::move(options)) {
  const auto* it = std::find(std::begin(kLayoutNames), std::end(kLayoutNames), options_.layout);
  layout_ = it == std::end(kLayoutNames) ? kUs : static_cast<int>(it - std::begin(kLayoutNames));
}

void KeyboardDecoder::reset() {
  std::fill(std::begin(previous_keys_), std::end(previous_keys_), std::uint8_t{0});
  previous_modifiers_ = 0;
  text_.clear();
  dead_.clear();
  alt_digits_.clear();
  too_long_ = false;
}

std::optional<DecodedScan> KeyboardDecoder::feed(std::span<const std::uint8_t> report) {
  auto r = check(report);
  if (!r) return std::nullopt;
  return std::move(*r);
}

std::optional<DecodedScan> KeyboardDecoder::flush() {
  alt_digits_.clear();
  return finish();
}

std::optional<DecodedScan> KeyboardDecoder::finish() {
  std::string text = std::move(text_) + std::move(dead_);
  text_.clear();
  dead_.clear();
  if (too_long_) {
    too_long_ = false;
    return std::nullopt;
  }
  if (text.size() > options_.max_len) {  // a pending dead key pushed it over
    ++stats_.errors;
    last_error_ = hid_error("hid_too_long", "keyboard scan longer than " + std::to_string(options_.max_len) +
                                                " bytes refused");
    return std::nullopt;
  }
  DecodedScan scan = split_aim_prefix(std::move(text), options_.aim_prefix);
  if (scan.text.empty()) {
    ++stats_.ignored;
    return std::nullopt;
  }
  ++stats_.scans;
  return scan;
}

// Appends typed characters; the suffix character ends the scan.
Result<void> KeyboardDecoder::put(std::string_view chars) {
  const char suffix = options_.suffix == "enter" ? '\r' : options_.suffix == "tab" ? '\t' : '\0';
  for (char c : chars) {
    if (suffix != '\0' && c == suffix) {
      if (auto scan = finish()) pending_ = std::move(*scan);
      continue;
    }
    if (options_.gs_substitute && c == *options_.gs_substitute) c = '\x1D';
    if (too_long_) continue;
    if (text_.size() + 1 + dead_.size() > options_.max_len) {
      too_long_ = true;
      text_.clear();
      dead_.clear();
      ++stats_.errors;
      last_error_ = hid_error("hid_too_long", "keyboard scan longer than " + std::to_string(options_.max_len) +
                                                  " bytes refused");
      return *last_error_;
    }
    text_ += c;
  }
  return {};
}

Result<void> KeyboardDecoder::type_key(std::uint8_t usage, std::uint8_t mods) {
  const bool has_altgr = layout_ != kUs;
  const bool lctrl = (mods & kLCtrl) != 0, lalt = (mods & kLAlt) != 0;
  // Windows sends AltGr as left Ctrl + left Alt; then that Ctrl is AltGr's.
  const bool ctrl_alt_as_altgr = has_altgr && lctrl && lalt;
  const bool altgr = has_altgr && ((mods & kRAlt) != 0 || ctrl_alt_as_altgr);
  const bool ctrl = (mods & kRCtrl) != 0 || (lctrl && !ctrl_alt_as_altgr);
  const bool alt = (lalt && !ctrl_alt_as_altgr) || (!has_altgr && (mods & kRAlt) != 0);
  const bool shift = (mods & (kLShift | kRShift)) != 0;

  if (alt && !ctrl) {  // Alt codes: keypad digits while Alt is held
    if (usage >= kKp1 && usage <= kKp0) {
      alt_digits_ += usage == kKp0 ? '0' : static_cast<char>('1' + (usage - kKp1));
      if (alt_digits_.size() > 4) {
        alt_digits_.clear();
        ++stats_.errors;
        last_error_ = hid_error("hid_alt_code", "Alt code longer than 4 digits");
        return *last_error_;
      }
    } else {
      ++stats_.ignored;  // Alt + key: a shortcut, not text
    }
    return {};
  }
  if (usage >= kUsages) {
    ++stats_.ignored;
    return {};
  }
  const Key& key = table(layout_)[usage];
  const std::string_view chars = altgr ? key.altgr : shift ? key.shift : key.plain;
  const std::uint8_t dead_bit = altgr ? 0x04 : shift ? 0x02 : 0x01;
  if (chars.empty()) {
    ++stats_.ignored;
    return {};
  }
  if (ctrl) {  // the control character of what the key types: Ctrl+] = GS
    char c = chars.size() == 1 ? chars[0] : '\0';
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c >= '@' && c <= '_' && c != '@') {
      const char control = static_cast<char>(c - '@');
      return put(std::string_view(&control, 1));
    }
    ++stats_.ignored;
    return {};
  }
  if ((key.dead & dead_bit) != 0) {  // a dead key: wait for the next one
    std::string earlier = std::move(dead_);
    dead_ = std::string(chars);
    return put(earlier);
  }
  if (!dead_.empty()) {
    std::string earlier = std::move(dead_);
    dead_.clear();
    if (usage == kSpace) return put(earlier);
    if (auto r = put(earlier); !r) return r;
  }
  return put(chars);
}

Result<std::optional<DecodedScan>> KeyboardDecoder::check(std::span<const std::uint8_t> report) {
  using R = std::optional<DecodedScan>;
  ++stats_.reports;
  pending_.reset();
  if (report.size() != 8) {
    return refuse<R>(stats_, last_error_,
                     hid_error("hid_bad_report", "boot-keyboard report of " + std::to_string(report.size()) +
                                                     " bytes (expected 8)"));
  }
  const std::span<const std::uint8_t> keys = report.subspan(2, 6);
  if (std::any_of(keys.begin(), keys.end(), [](std::uint8_t k) { return k >= 0x01 && k <= 0x03; })) {
    ++stats_.ignored;  // ErrorRollOver / POSTFail / ErrorUndefined: the state is unknown, keep the last
    return R{};
  }
  const std::uint8_t mods = report[0];
  std::optional<Error> failed;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint8_t k = keys[i];
    if (k == 0 || (k >= 0xE0 && k <= 0xE7)) continue;
    const bool held = std::find(std::begin(previous_keys_), std::end(previous_keys_), k) != std::end(previous_keys_);
    const bool repeated = std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(i), k) !=
                          keys.begin() + static_cast<std::ptrdiff_t>(i);
    if (held || repeated) continue;  // a key counts on press, not while held
    if (auto r = type_key(k, mods); !r && !failed) failed = r.error();
  }
  // Alt released: the keypad digits typed meanwhile are one character code.
  const auto alt_held = [this](std::uint8_t m) {
    const bool has_altgr = layout_ != kUs;
    const bool lalt = (m & kLAlt) != 0, lctrl = (m & kLCtrl) != 0;
    return (lalt && !(has_altgr && lctrl)) || (!has_altgr && (m & kRAlt) != 0);
  };
  if (alt_held(previous_modifiers_) && !alt_held(mods) && !alt_digits_.empty()) {
    const std::string digits = std::move(alt_digits_);
    alt_digits_.clear();
    unsigned code = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), code);
    const bool ansi = digits.size() > 1 && digits[0] == '0';  // Alt+0nnn: Windows-1252/Latin-1
    if (code == 0 || code > 255 || (!ansi && code > 127)) {
      if (!failed) {
        ++stats_.errors;
        last_error_ = hid_error("hid_alt_code", "Alt+" + digits + " is not a character code (1..127, 0128..0255)");
        failed = *last_error_;
      }
    } else if (auto r = put(latin1_utf8(code)); !r && !failed) {
      failed = r.error();
    }
  }
  std::copy(keys.begin(), keys.end(), std::begin(previous_keys_));
  previous_modifiers_ = mods;
  R out = std::move(pending_);
  pending_.reset();
  if (out) return out;  // a completed scan wins over a later key's refusal (last_error() keeps it)
  if (failed) return *failed;
  return out;
}

}  // namespace tally::device
