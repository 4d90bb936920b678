// Fuzz target: classify() with the default grammar and a site grammar, and
// the JSON rendering `tally parse` prints. Invariants: no crash/UB, no
// exception; item labels carry a 14-digit GTIN.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/label_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const tally::scanner::LabelOptions site = [] {
    tally::scanner::LabelOptions o;
    o.bin_regex = "BIN:[A-Z]-[0-9]{2}-[0-9]{2}-[0-9]";
    o.documents = {.purchase_order = {"PO"}, .asn = {}, .order = {}, .task = {}, .other = {"LPN"}};
    o.gs1.gs_substitutes = {"~", "<GS>"};
    o.gs1.unknown_ai = tally::scanner::UnknownAiPolicy::error;
    o.gs1.reference_year = 2026;
    return o;
  }();
  for (const auto* o : {static_cast<const tally::scanner::LabelOptions*>(nullptr), &site}) {
    auto r = o == nullptr ? tally::scanner::classify(text) : tally::scanner::classify(text, *o);
    if (r && r->kind == tally::scanner::LabelKind::item) TALLY_FUZZ_CHECK(r->item.gtin.size() == 14);
    if (!r) TALLY_FUZZ_CHECK(!r.error().code.empty());
    const auto json = tally::scanner::to_json(text, r);
    (void)json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
