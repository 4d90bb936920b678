// Pure decoders for USB HID barcode scanners: raw interrupt-IN reports in,
// scans out. No I/O, no threads, no clocks: the USB driver feeds every report
// it reads and submits what comes out; a timeout (keyboard suffix "none") is
// the caller's, which then calls flush().
//
// Both decoders are strict: a malformed report never crashes and never
// yields a half scan. feed() gives nullopt for it and counts it; check()
// (the same step) says why as a Result ("hid_bad_report", "hid_too_long",
// "hid_symbology_changed", "hid_alt_code", …), and last_error() keeps the
// last reason for the driver's log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tally/scanner/result.hpp"

namespace tally::device {

struct DecodedScan {
  std::string text;
  std::string symbology;  // AIM identifier like "]E0", or "" if none
  bool operator==(const DecodedScan&) const = default;
};

// What a decoder saw, for /metrics and the driver's log.
struct DecoderStats {
  std::uint64_t reports = 0;            // reports fed
  std::uint64_t scans = 0;              // scans returned
  std::uint64_t errors = 0;             // reports/scans refused (last_error says why)
  std::uint64_t ignored = 0;            // reports or keys that carry no scan data
  std::uint64_t unknown_symbology = 0;  // HID POS: identifier bytes that are no AIM id
};

// True for an AIM symbology identifier (ISO/IEC 15424): ']', a code
// character A-Z a-z, a modifier character 0-9 A-Z a-z.
bool is_aim_identifier(std::string_view s);

// The scan of `text`: with aim_prefix, a leading AIM identifier moves into
// the symbology (what scanners with "AIM ID prefix" on send).
DecodedScan split_aim_prefix(std::string text, bool aim_prefix);

struct HidPosOptions {
  std::uint8_t report_id = 0x02;  // the Scanned Data Report's id; other reports are ignored
  std::size_t data_size = 56;     // bytes of the Decoded Data field
  std::size_t max_len = 4096;     // a longer scan is refused whole
};

// HID Point of Sale scanners (usage page 0x8C, Barcode Scanner), the
// Scanned Data Report (usage 0x8C:0x12) as Honeywell, Zebra and Datalogic
// scanners in "HID POS" mode lay it out (the report descriptor's order of
// the usages, report size 8 for all but the flag):
//
//   offset  size  usage
//   0       1     Report ID (0x02)
//   1       1     Byte Count (Generic Desktop 0x01:0x3B): bytes of Decoded
//                 Data in this report, 0..data_size
//   2       3     Symbology Identifier 1..3 (0x8C:0xFB..0xFD): the AIM
//                 identifier, e.g. "]E0"; all zero when the scanner sends none
//   5       56    Decoded Data (0x8C:0xFE, buffered bytes), zero padded
//                 after Byte Count
//   61..    0..2  vendor bytes (Honeywell: its own code id), ignored
//   last    1     bit 0: Decoded Data Continued (0x8C:0xFF): the next
//                 report carries more of the same scan
//
// So a report is 62 bytes (the descriptor's minimum) to 64 (Honeywell: 2
// vendor bytes, the flag in byte 63). A scan longer than data_size comes as
// several reports, all but the last with Continued set; each repeats the
// identifier. Refused: a report shorter than 5 + data_size + 1 or longer
// than 64 bytes, a Byte Count above data_size, an empty scan, an identifier
// that changes within a scan, a scan over max_len (the rest of it is
// dropped up to its last report). An identifier that is no AIM id is not a
// reason to lose the scan: it comes with symbology "" and is counted.
class HidPosDecoder {
 public:
  HidPosDecoder() = default;
  explicit HidPosDecoder(HidPosOptions options) : options_(options) {}

  // A complete scan after its last report, else nullopt.
  std::optional<DecodedScan> feed(std::span<const std::uint8_t> report);
  // The same step with the reason for a refusal.
  Result<std::optional<DecodedScan>> check(std::span<const std::uint8_t> report);
  // Forgets a scan in progress (device unplugged mid-scan).
  void reset();

  const DecoderStats& stats() const { return stats_; }
  const std::optional<Error>& last_error() const { return last_error_; }

 private:
  HidPosOptions options_;
  std::string text_;
  std::string symbology_;
  bool in_scan_ = false;
  bool discarding_ = false;  // refusing the rest of a scan up to its last report
  DecoderStats stats_;
  std::optional<Error> last_error_;
};

struct KeyboardOptions {
  std::string layout = "us";      // us uk de fr
  std::string suffix = "enter";   // enter | tab | none (the caller's timeout calls flush())
  std::optional<char> gs_substitute;  // a character the scanner types for GS (0x1D)
  bool aim_prefix = true;         // split a leading "]Xm" into the symbology
  std::size_t max_len = 4096;     // a longer scan is refused whole
};

// Checks the layout and suffix names and max_len (1..65536).
Result<void> validate(const KeyboardOptions& options);

// Keyboard-wedge scanners as a HID boot keyboard: 8-byte reports
// [modifiers, reserved, key1..key6] (HID 1.11 appendix B). A key counts when
// it appears in a report and was not in the previous one, so a held key or a
// rollover report does not repeat it; ErrorRollOver (0x01) reports are
// ignored. Shift and AltGr (right Alt on uk/de/fr; left Ctrl + left Alt too,
// as Windows sends it) select the character in the layout; dead keys (de ^ ´
// `, fr ^ ¨ and AltGr ~ `) give their character followed by the next one
// (Space after a dead key gives the character alone). Ctrl + a key gives the
// control character of what it types in the layout (Ctrl+] = GS, 0x1D;
// de/fr: Ctrl+AltGr+9 / Ctrl+AltGr+) ); Alt held with keypad digits gives
// the character of that code when Alt is released (Alt+0029 = GS; 1..255,
// 128..255 as Latin-1). Text is UTF-8.
class KeyboardDecoder {
 public:
  // REQUIRES: validate(options) (an unknown layout decodes as "us").
  explicit KeyboardDecoder(KeyboardOptions options);

  // A complete scan when this report typed the suffix, else nullopt.
  std::optional<DecodedScan> feed(std::span<const std::uint8_t> report);
  Result<std::optional<DecodedScan>> check(std::span<const std::uint8_t> report);
  // Ends the scan typed so far (suffix "none": the caller's idle timeout);
  // nullopt when nothing was typed or the scan was refused.
  std::optional<DecodedScan> flush();
  void reset();

  const DecoderStats& stats() const { return stats_; }
  const std::optional<Error>& last_error() const { return last_error_; }

 private:
  Result<void> type_key(std::uint8_t usage, std::uint8_t modifiers);
  Result<void> put(std::string_view chars);
  std::optional<DecodedScan> finish();

  KeyboardOptions options_;
  int layout_ = 0;
  std::uint8_t previous_keys_[6] = {};
  std::uint8_t previous_modifiers_ = 0;
  std::string text_;
  std::string dead_;        // a dead key's character waiting for the next key
  std::string alt_digits_;  // keypad digits typed while Alt is held
  bool too_long_ = false;   // refusing the rest of a scan up to its suffix
  std::optional<DecodedScan> pending_;  // completed by the report being fed
  DecoderStats stats_;
  std::optional<Error> last_error_;
};

}  // namespace tally::device
