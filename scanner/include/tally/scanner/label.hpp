// Classification of one scan's text into what it means, using the label
// grammar of docs/DOMAIN.md (OP:, CMD:, bins, LOC:, TOTE:, PO:/ASN:/ORD:/
// TASK:, GTINs, GS1 element strings / HRI / Digital Link). The grammar is
// configurable per site through LabelOptions; the defaults are the design's.
// Pure; no I/O; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/gs1.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner {

enum class LabelKind : std::uint8_t {
  operator_badge,  // OP:<id>               value = id
  command,         // CMD:<VERB>            value = VERB (upper case)
  quantity,        // CMD:QTY:<n>           number = n (1..1'000'000)
  reason,          // CMD:REASON:<code>     value = code
  location,        // bin or LOC:<code>     location set
  container,       // TOTE:<id> or SSCC     value = id
  document,        // PO:/ASN:/ORD:/TASK:   value = "PO:4500012" (kept whole)
  item,            // GTIN-8/12/13/14       item set (gtin 14 digits)
  pin,             // PIN:<4-12 digits>     value = the digits (never log or journal it: redacted())
  state,           // CMD:STATE:<state>     value = the stock state's wire name ("damaged")
};
// GS1 data classifies as: (00) SSCC -> container, value = the 18 digits;
// (414) -> location, code = the (254) extension upper-cased, else the GLN;
// (01) or (02) -> item {gtin, lot (10), expiry (17, ISO), serial (21)},
// number = count (37), else variable count (30), else 0. Label::gs1 holds every element either way.

// What a document label is for (LabelOptions::documents decides by prefix).
enum class DocumentKind : std::uint8_t {
  none,            // not a document
  purchase_order,  // PO:  receive
  asn,             // ASN: receive
  order,           // ORD: pick, return
  task,            // TASK: a task of the master data
  other,           // a site document without a workflow of its own
};

struct Label {
  LabelKind kind{};
  DocumentKind document = DocumentKind::none;  // set for LabelKind::document
  std::string value;
  std::int64_t number = 0;
  Location location;
  Item item;
  std::optional<Gs1Data> gs1;  // set when the scan was GS1 data
};

// A site's label grammar. Defaults = docs/DOMAIN.md.
struct LabelOptions {
  // ECMAScript regex a bin must match in full (case-insensitive); empty =
  // the default <zone>-<aisle>-<rack>-<level> grammar. LOC:<code> always works.
  std::string bin_regex;
  // Document label prefixes per kind, matched case-insensitively, kept
  // upper-cased; the first kind (in this order) with a matching prefix wins.
  struct DocumentPrefixes {
    std::vector<std::string> purchase_order{"PO:"};
    std::vector<std::string> asn{"ASN:"};
    std::vector<std::string> order{"ORD:"};
    std::vector<std::string> task{"TASK:"};
    std::vector<std::string> other{};
  };
  DocumentPrefixes documents;
  // GS substitutes, unknown-AI policy, century reference year.
  Gs1Options gs1;
};

// Error codes: "empty_scan", "unknown_label", "bad_check_digit",
// "bad_command", "bad_quantity"; for GS1 data also "bad_gs1", "unknown_ai",
// "gs1_ambiguous", "bad_digital_link" (see gs1.hpp); "bad_options" for a
// bin_regex that does not compile.
//
// A symbology identifier prefix ("]C1", "]Q1", …) is understood first: GS1
// ones (]C1 ]e0 ]d2 ]Q3 ]J1) and EAN/UPC/ITF (]E0 ]E4 ]I0 ]I1) make the
// content GS1 data; any other is stripped and the rest classified.
Result<Label> classify(std::string_view text, const LabelOptions& options);
// Checks a site's grammar once (at start-up) instead of on every scan:
// bin_regex compiles, no empty or blank GS substitute or document prefix.
// Error code "bad_options", the message naming the option and the value.
Result<void> validate(const LabelOptions& options);
Result<Label> classify(std::string_view text);  // default LabelOptions

std::string_view to_string(LabelKind k);

// The CMD:<VERB> verbs classify() knows (upper case), besides CMD:QTY:,
// CMD:REASON: and CMD:STATE:.
std::span<const std::string_view> command_verbs();

// The scan text as it may be journaled, logged or shown: a PIN label
// (anything starting "PIN:", after blanks and a symbology identifier,
// well-formed or not) becomes "PIN:****"; every other text is returned as is.
std::string redacted(std::string_view text);

}  // namespace tally::scanner
