// Fuzz target: boot-keyboard reports (device::KeyboardDecoder). The first
// byte picks the options (layout, suffix, AIM prefix, GS substitute), the rest
// is fed as reports of 8 bytes (a shorter tail as one bad report).
// Invariants: no crash/UB; a scan has text within max_len and an empty or AIM
// symbology; a refusal has a code and a message.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "tally/device/hid_decoders.hpp"

namespace {

void check_scan(const tally::device::DecodedScan& scan, const tally::device::KeyboardOptions& o) {
  TALLY_FUZZ_CHECK(!scan.text.empty() && scan.text.size() <= o.max_len);
  TALLY_FUZZ_CHECK(scan.symbology.empty() || tally::device::is_aim_identifier(scan.symbology));
  if (!o.aim_prefix) TALLY_FUZZ_CHECK(scan.symbology.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kLayouts[] = {"us", "uk", "de", "fr"};
  static const char* const kSuffixes[] = {"enter", "tab", "none"};
  tally::device::KeyboardOptions o;
  o.layout = kLayouts[data[0] & 3];
  o.suffix = kSuffixes[((data[0] >> 2) & 3) % 3];
  o.aim_prefix = (data[0] & 0x10) != 0;
  if ((data[0] & 0x20) != 0) o.gs_substitute = '~';
  o.max_len = (data[0] & 0x40) != 0 ? 16 : 4096;
  TALLY_FUZZ_CHECK(tally::device::validate(o).ok());
  tally::device::KeyboardDecoder decoder(o);
  for (std::size_t at = 1; at < size; at += 8) {
    const std::size_t len = size - at < 8 ? size - at : 8;
    auto r = decoder.check(std::span<const std::uint8_t>(data + at, len));
    if (!r) {
      TALLY_FUZZ_CHECK(!r.error().code.empty() && !r.error().message.empty());
      continue;
    }
    if (*r) check_scan(**r, o);
  }
  if (auto rest = decoder.flush()) check_scan(*rest, o);
  TALLY_FUZZ_CHECK(!decoder.flush().has_value());
  return 0;
}
