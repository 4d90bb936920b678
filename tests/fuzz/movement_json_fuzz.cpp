// Fuzz target: the movement and device-exception wire JSON
// (wire::movement_from_json, device_exception_from_json) on arbitrary text.
// Invariants: no crash/UB, no exception; an error has a code and a message;
// a parsed movement passes scanner::validate and round-trips through its
// canonical text (to_json_text → parse → the same text, which also equals
// to_json(m).dump()); the Stamp variant writes what a stamped copy writes.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "tally/wire/movement_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally;
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  auto m = wire::movement_from_json(j);
  if (!m) {
    TALLY_FUZZ_CHECK(!m.error().code.empty() && !m.error().message.empty());
  } else {
    TALLY_FUZZ_CHECK(scanner::validate(*m).ok());
    const std::string text = wire::to_json_text(*m);
    TALLY_FUZZ_CHECK(text == wire::to_json(*m).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const auto again = nlohmann::json::parse(text, nullptr, false);
    TALLY_FUZZ_CHECK(!again.is_discarded());
    auto m2 = wire::movement_from_json(again);
    TALLY_FUZZ_CHECK(m2.ok());
    TALLY_FUZZ_CHECK(wire::to_json_text(*m2) == text);
    scanner::Movement stamped = *m;
    stamped.device = "hh-9";
    stamped.site = "s9";
    stamped.seq = 42;
    stamped.hlc = 7;
    std::string out;
    wire::to_json_text(*m, wire::Stamp{"hh-9", "s9", 42, 7}, out);
    TALLY_FUZZ_CHECK(out == wire::to_json_text(stamped));
  }

  auto e = wire::device_exception_from_json(j);
  if (!e) {
    TALLY_FUZZ_CHECK(e.error().code == "bad_json" && !e.error().message.empty());
  } else {
    const std::string text = wire::to_json_text(*e);
    const auto again = nlohmann::json::parse(text, nullptr, false);
    TALLY_FUZZ_CHECK(!again.is_discarded());
    auto e2 = wire::device_exception_from_json(again);
    TALLY_FUZZ_CHECK(e2.ok());
    TALLY_FUZZ_CHECK(wire::to_json_text(*e2) == text);
  }
  return 0;
}
