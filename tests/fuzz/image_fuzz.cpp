// Fuzz target: device::decode_image(), the PNG/JPEG loader behind
// `tally decode` and POST /api/v1/frames (stb_image on untrusted bytes).
// Invariants: no crash/UB, no exception; an error is "not_an_image" or
// "image_too_large" with a message; an image is a valid decoder frame
// whose pixel buffer matches its size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "tally/device/image_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = tally::device::decode_image(std::span<const std::uint8_t>(data, size));
  if (!r) {
    TALLY_FUZZ_CHECK(r.error().code == "not_an_image" || r.error().code == "image_too_large");
    TALLY_FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  TALLY_FUZZ_CHECK(r->width > 0 && r->height > 0);
  TALLY_FUZZ_CHECK(r->pixels.size() == static_cast<std::size_t>(r->width) * static_cast<std::size_t>(r->height));
  TALLY_FUZZ_CHECK(tally::scanner::validate_frame(r->frame()).ok());
  return 0;
}
