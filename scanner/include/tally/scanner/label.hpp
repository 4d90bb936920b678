// Classification of one scan's text into what it means, using the default
// label grammar of docs/DOMAIN.md (OP:, CMD:, bins, LOC:, TOTE:, PO:/ASN:/
// ORD:/TASK:, GTINs). Pure; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tally/scanner/domain.hpp"
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
};

struct Label {
  LabelKind kind{};
  std::string value;
  std::int64_t number = 0;
  Location location;
  Item item;
};

// Error codes: "empty_scan", "unknown_label", "bad_check_digit",
// "bad_command", "bad_quantity".
Result<Label> classify(std::string_view text);

std::string_view to_string(LabelKind k);

}  // namespace tally::scanner
