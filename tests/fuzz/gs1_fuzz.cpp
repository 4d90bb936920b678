// Fuzz target: GS1 element strings and HRI (parse_gs1 picks the form).
// Invariants: no crash/UB; an error has a code and a message; parsed data
// round-trips through to_hri() and to_element_string(); an EAN/UPC/ITF
// identifier gives one GTIN-14 and an add-on only under ]E3.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "tally/scanner/gs1.hpp"

using tally::scanner::Gs1Data;

namespace {

bool all_known(const Gs1Data& d) {
  for (const auto& e : d.elements)
    if (!e.known) return false;
  return true;
}

bool same(const Gs1Data& a, const Gs1Data& b) {
  if (a.elements.size() != b.elements.size()) return false;
  for (std::size_t i = 0; i < a.elements.size(); ++i)
    if (a.elements[i].ai != b.elements[i].ai || a.elements[i].raw != b.elements[i].raw ||
        a.elements[i].date_iso != b.elements[i].date_iso || a.elements[i].decimal != b.elements[i].decimal)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tally::scanner::Gs1Options o;
  o.reference_year = 2026;
  for (auto policy : {tally::scanner::UnknownAiPolicy::warn, tally::scanner::UnknownAiPolicy::error}) {
    o.unknown_ai = policy;
    auto r = tally::scanner::parse_gs1(text, o);
    if (!r) {
      TALLY_FUZZ_CHECK(!r.error().code.empty() && !r.error().message.empty());
      continue;
    }
    TALLY_FUZZ_CHECK(!r->elements.empty());
    // EAN/UPC/ITF identifiers carry one GTIN-14, an add-on only under ]E3.
    const auto sym = tally::scanner::split_symbology(text);
    if (sym.gtin) {
      TALLY_FUZZ_CHECK(r->elements.size() == 1 && r->elements[0].ai == "01" && r->elements[0].raw.size() == 14);
      TALLY_FUZZ_CHECK(r->addon.empty() == (sym.id != "]E3") && (r->addon.empty() || r->addon.size() == 2 ||
                                                                 r->addon.size() == 5));
    }
    if (!all_known(*r)) continue;
    auto hri = tally::scanner::parse_hri(r->to_hri(), o);
    TALLY_FUZZ_CHECK(hri.ok() && same(*r, *hri));
    auto plain = o;  // the round trip is about the GS byte, not typed substitutes
    plain.gs_substitutes.clear();
    auto es = tally::scanner::parse_element_string("]C1" + r->to_element_string(), plain);
    TALLY_FUZZ_CHECK(es.ok() && same(*r, *es));
  }
  return 0;
}
