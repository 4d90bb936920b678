// Fuzz target: HID POS scanned-data reports (device::HidPosDecoder). The
// input is a sequence of reports, each a length byte and that many bytes.
// Invariants: no crash/UB; a scan has text within max_len and an empty or
// AIM symbology; a refusal has a code and a message; counts add up.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "tally/device/hid_decoders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tally::device::HidPosOptions options;
  options.max_len = 200;
  tally::device::HidPosDecoder decoder(options);
  std::uint64_t fed = 0, scans = 0;
  for (std::size_t at = 0; at < size;) {
    const std::size_t n = data[at++];
    const std::size_t len = n < size - at ? n : size - at;
    auto r = decoder.check(std::span<const std::uint8_t>(data + at, len));
    at += len;
    ++fed;
    if (!r) {
      TALLY_FUZZ_CHECK(!r.error().code.empty() && !r.error().message.empty());
      TALLY_FUZZ_CHECK(decoder.last_error().has_value());
      continue;
    }
    if (!*r) continue;
    ++scans;
    const auto& scan = **r;
    TALLY_FUZZ_CHECK(!scan.text.empty() && scan.text.size() <= options.max_len);
    TALLY_FUZZ_CHECK(scan.symbology.empty() || tally::device::is_aim_identifier(scan.symbology));
  }
  const auto& s = decoder.stats();
  TALLY_FUZZ_CHECK(s.reports == fed && s.scans == scans && s.scans + s.errors <= s.reports);
  decoder.reset();
  return 0;
}
