// The GS1 Application Identifier table (private to scanner/src). Lengths,
// predefined-length flags ("*", no FNC1 needed) and req=/ex= lint rules as in
// the GS1 Barcode Syntax Dictionary; the subset Tally needs, see gs1_table.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tally::scanner::gs1 {

enum class Kind : std::uint8_t {
  digits,       // N min..max
  digits_csum,  // N, fixed, GS1 mod-10 check digit over all of it
  text,         // X (GS1 CSET 82) min..max
  date,         // N6 YYMMDD, DD = 00 allowed (last day of the month)
  datetime,     // 7003 N10 YYMMDDHHMM; 8008 N8 YYMMDDHH + [MM[SS]]
  measure,      // 31nn–36nn: N6, decimal places = 4th AI digit (<= max_n)
  amount,       // 390n/392n: N..15, decimal places = 4th AI digit
  amount_iso,   // 391n/393n: N3 ISO 4217 + N..15
  count,        // N..8, an integer quantity (30, 37)
  gdti,         // 253: N13 check digit + [X..17]
  gcn,          // 255: N13 check digit + [N..12]
  grai,         // 8003: "0" + N13 check digit + [X..16]
  country,      // 422: N3 ISO 3166
  post_iso,     // 421: N3 ISO 3166 + X..9
  itip,         // 8006/8026: N14 check digit + N4
};

struct AiSpec {
  std::string_view ai;  // the AI; for a family (31nn…) its 3-digit prefix
  Kind kind;
  std::uint8_t min;  // data length bounds (fixed when min == max)
  std::uint8_t max;
  bool predefined;      // predefined length: no FNC1 needed after it
  bool family;          // `ai` is a prefix, the 4th digit is the decimal indicator n
  std::uint8_t max_n;   // family: highest n allowed
  std::string_view title;
  std::string_view unit;
  std::string_view req;  // groups separated by ' ', alternatives by ','; 'n' matches any digit
  std::string_view ex;   // alternatives separated by ','
};

std::span<const AiSpec> ai_table();

// The spec of the AI the digits `s` start with, and the AI's length (2–4).
// nullptr when no AI in the table matches.
const AiSpec* lookup(std::string_view s, std::size_t& ai_len);

// An exact AI ("3103", "01"), or nullptr.
const AiSpec* find_ai(std::string_view ai);

// Length of an AI not in the table, guessed from its first two digits the
// way the GS1 AI ranges are laid out (2, 3 or 4).
std::size_t unknown_ai_length(std::string_view s);

}  // namespace tally::scanner::gs1
