// Fuzz target: diagnose_self_test() on whatever a scanner may type, with
// the default options and with terminator checks and no accepted GS
// stand-ins. Invariants: no crash/UB, no exception; a report always has a
// summary; every issue has a known code, a severity and operator text; "ok"
// means recognised with no error or warning.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "tally/scanner/self_test.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally::scanner;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::set<std::string> codes = {
      "gs_dropped",   "gs_replaced",    "gs_substituted", "keyboard_layout",    "caps_lock",
      "characters_changed", "aim_missing", "aim_unexpected", "prefix_added", "suffix_added",
      "terminator_missing", "terminator_wrong", "terminator_extra"};
  static const SelfTestOptions strict = [] {
    SelfTestOptions o;
    o.check_terminator = true;
    o.expected_terminator = "\r\n";
    o.accepted_gs_substitutes.clear();
    return o;
  }();
  (void)is_self_test(text);
  for (const SelfTestOptions* o : {static_cast<const SelfTestOptions*>(nullptr), &strict}) {
    const SelfTestReport r = o == nullptr ? diagnose_self_test(text) : diagnose_self_test(text, *o);
    TALLY_FUZZ_CHECK(!r.summary.empty());
    bool serious = false;
    for (const auto& i : r.issues) {
      TALLY_FUZZ_CHECK(codes.count(i.code) == 1);
      TALLY_FUZZ_CHECK(i.severity == "error" || i.severity == "warning" || i.severity == "info");
      TALLY_FUZZ_CHECK(!i.problem.empty() && !i.fix.empty());
      serious = serious || i.severity != "info";
    }
    if (r.ok) TALLY_FUZZ_CHECK(r.recognised && !serious);
  }
  return 0;
}
