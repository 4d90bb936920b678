// Fuzz target: GS1 Digital Link URIs. Invariants: no crash/UB; a parsed URI
// yields at least its primary key and round-trips through to_hri().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "tally/scanner/gs1.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tally::scanner::Gs1Options o;
  o.reference_year = 2026;
  const bool looks = tally::scanner::looks_like_digital_link(text);
  auto r = tally::scanner::parse_digital_link(text, o);
  if (!r) {
    TALLY_FUZZ_CHECK(!r.error().code.empty() && !r.error().message.empty());
    return 0;
  }
  TALLY_FUZZ_CHECK(looks);
  TALLY_FUZZ_CHECK(!r->elements.empty());
  bool known = true;
  for (const auto& e : r->elements) known = known && e.known;
  if (known) {
    auto hri = tally::scanner::parse_hri(r->to_hri(), o);
    TALLY_FUZZ_CHECK(hri.ok() && hri->to_hri() == r->to_hri());
  }
  return 0;
}
