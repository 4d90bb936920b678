// GS1 data: element strings (raw scanner output with FNC1/GS separators),
// the bracketed human-readable interpretation "(01)…(10)…" and GS1 Digital
// Link URIs, all parsed into one Gs1Data. Pure; no I/O; never throws.
//
// Forms accepted by parse_gs1() (it picks the form from the text):
//   - a symbology identifier prefix ("]C1", "]e0", "]d2", "]Q3", "]J1") then
//     an element string: AI + data, a variable-length field ended by GS
//     (0x1D) or the end; the AIM prefixes of EAN/UPC ("]E0", "]E3", "]E4")
//     and ITF ("]I0", "]I1") carry a bare GTIN, which becomes (01) padded to
//     14: a UPC-E (8 digits under "]E0") expanded to its UPC-A first, an
//     add-on ("]E3": 13 digits + 2 or 5) kept apart in Gs1Data::addon;
//   - "(AI)data(AI)data…" (HRI; a literal "(" inside data may be written "\(");
//   - "http(s)://any.domain/…/01/<gtin>/10/<lot>?17=…&3103=…" (Digital Link,
//     uncompressed; non-AI query parameters are ignored);
//   - an element string without prefix (keyboard wedge). GS may have been
//     typed as one of Gs1Options::gs_substitutes ("<GS>", "{GS}", "^]", "|")
//     or lost: then a variable-length field runs to the end of the text, and
//     if its tail could itself be read as further AIs the parse fails with
//     code "gs1_ambiguous" instead of guessing.
//
// Validation: AI table lengths and character sets (N digits, X = GS1 CSET 82),
// check digits (00, 01, 02, 253, 255, 402, 410–417, 8003, 8006, 8017, 8018,
// 8026), dates YYMMDD (DD=00 means the last day of the month; the century by
// the GS1 General Specifications §7.12 sliding window around reference_year),
// decimal point indicators. Errors name the AI and the byte offset in the
// text given: `AI 17 at offset 18: month 13`.
//
// Lints (GS1 Syntax Dictionary req=/ex= rules, duplicate AIs, unknown AIs
// under UnknownAiPolicy::warn) do not fail the parse; they are returned as
// Gs1Data::warnings.
//
// Error codes: "bad_gs1" (syntax, length, charset, date, decimal),
// "bad_check_digit", "unknown_ai" (policy error), "gs1_ambiguous" (lost GS),
// "bad_digital_link" (URI structure, percent-encoding).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tally/scanner/result.hpp"

namespace tally::scanner {

enum class UnknownAiPolicy : std::uint8_t {
  error,  // an AI not in the table fails the parse ("unknown_ai")
  warn,   // kept as raw data up to the next GS (or the end), with a warning
};

struct Gs1Options {
  // Typed stand-ins for GS (0x1D) from keyboard-wedge scanners. Matched
  // literally, case-sensitively, anywhere in an element string (not in HRI
  // or Digital Link). None of the defaults is in GS1 CSET 82 except "<GS>",
  // whose "<" and ">" are; sites whose data can contain "<GS>" should drop it.
  std::vector<std::string> gs_substitutes{"<GS>", "{GS}", "^]", "|"};
  UnknownAiPolicy unknown_ai = UnknownAiPolicy::warn;
  // Year used for the two-digit-year century window; 0 = the current year
  // (UTC, from the system clock). Tests set it for determinism.
  int reference_year = 0;
};

struct Gs1Element {
  std::string ai;     // "01", "3103", "8008"
  std::string raw;    // the data field exactly as encoded (no AI, no GS)
  std::string title;  // GS1 data title, e.g. "NET WEIGHT (kg)"; "" if unknown
  // Dates (11–17, 7003, 8008): ISO "YYYY-MM-DD", with time for 7003/8008
  // ("YYYY-MM-DDTHH:MM" / "…THH" / "…THH:MM:SS").
  std::optional<std::string> date_iso;
  // Measures 31nn–36nn and amounts 390n–393n: the value with the decimal
  // point placed ("012500" with n=3 -> "12.500"); never floating point.
  std::optional<std::string> decimal;
  std::string unit;  // "kg", "m", "l", "m2", "m3", "lb", "in", …; ISO 4217 numeric for 391n/393n
  std::optional<std::int64_t> integer;  // counts: 30, 37
  std::size_t offset = 0;               // where the AI starts in the parsed text
  bool known = true;                    // false: an unknown AI kept by UnknownAiPolicy::warn
};

struct Gs1Data {
  std::vector<Gs1Element> elements;  // in the order of the input
  std::vector<std::string> warnings;  // lints, e.g. "AI 37 requires AI 00"
  std::string source_form;            // "element_string", "hri" or "digital_link"
  std::string symbology;              // the AIM prefix given ("]C1"), or ""
  // The 2- or 5-digit add-on of an EAN/UPC symbol ("]E3"): an issue number
  // or a price, beside the item and never part of its key. "" when none.
  std::string addon;

  // The first element with this AI, or nullptr.
  const Gs1Element* find(std::string_view ai) const;
  // "(01)09506000134352(10)ABC123"; "(" inside data is written "\(".
  std::string to_hri() const;
  // Unbracketed, GS (0x1D) after every variable-length (FNC1-requiring)
  // field that is not last; no symbology prefix.
  std::string to_element_string() const;
};

// Picks the form (see above) and parses. Surrounding whitespace is NOT
// trimmed here; classify() trims.
Result<Gs1Data> parse_gs1(std::string_view text, const Gs1Options& options = {});

// The single forms, for callers that know what they hold.
Result<Gs1Data> parse_element_string(std::string_view text, const Gs1Options& options = {});
Result<Gs1Data> parse_hri(std::string_view s, const Gs1Options& o = {});
Result<Gs1Data> parse_digital_link(std::string_view s, const Gs1Options& o = {});

// A symbology identifier "]" + letter + modifier character, split off.
struct SymbologyId {
  std::string_view id;    // "]C1", or empty when there is none
  std::string_view rest;  // the text after it
  // The identifier says the data is a GS1 element string (]C1 ]e0 ]d2 ]Q3 ]J1)
  // or a bare EAN/UPC/ITF GTIN (]E0 ]E3 ]E4 ]I0 ]I1 — GTIN-8/12/13/14).
  bool gs1 = false;
  bool gtin = false;
};
SymbologyId split_symbology(std::string_view text);

// True if the text looks like a GS1 Digital Link candidate: http(s)://host/…
bool looks_like_digital_link(std::string_view text);

}  // namespace tally::scanner
