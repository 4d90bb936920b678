// Fuzz target: scanner::decode() on random frames, in-process, with the
// options tallyd uses (the decode path that must never abort, see
// tests/data/decode/README.md and ZXing-cpp issue 740).
//
// Input: 4 header bytes, then pixels.
//   [0] bit 0: YUYV (else grey); bits 1-3: extra stride bytes per row (0..7);
//       bit 4: exhaustive; bit 5: no try-harder fallback
//   [1] width - 1, [2] height - 1 (each 1..256; width*height capped at
//       kMaxPixels by cutting the height)
//   [3] max_symbols - 1 (mod 16)
// The pixel bytes are repeated to fill the frame, so a short input still
// makes a whole frame.
// Invariants: no crash/abort/UB, no exception; an error is "bad_frame" (only
// for an odd YUYV width) or "decode_failed"; at most max_symbols symbols,
// each with a format, no duplicates; positions within a frame's reach.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "tally/scanner/decode.hpp"

namespace {

constexpr int kMaxPixels = 128 * 96;  // keeps one run in the milliseconds

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tally::scanner;
  if (size < 5) return 0;
  const bool yuyv = (data[0] & 1) != 0;
  const int pad = (data[0] >> 1) & 7;
  DecodeOptions o;
  o.exhaustive = (data[0] & 0x10) != 0;
  o.try_harder_fallback = (data[0] & 0x20) == 0;
  const int width = data[1] + 1;
  int height = data[2] + 1;
  if (width * height > kMaxPixels) height = kMaxPixels / width;
  o.max_symbols = 1 + data[3] % 16;
  const std::uint8_t* px = data + 4;
  const std::size_t npx = size - 4;

  const int bpp = yuyv ? 2 : 1;
  const int stride = width * bpp + pad;
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(stride) * static_cast<std::size_t>(height));
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = px[i % npx];
  const Frame frame{buf.data(), width, height, stride, yuyv ? PixelFormat::yuyv : PixelFormat::grey};

  auto r = decode(frame, o);
  if (!r) {
    const std::string& code = r.error().code;
    TALLY_FUZZ_CHECK(!r.error().message.empty());
    TALLY_FUZZ_CHECK(code == "decode_failed" || (code == "bad_frame" && yuyv && width % 2 != 0));
    return 0;
  }
  TALLY_FUZZ_CHECK(!(yuyv && width % 2 != 0));
  TALLY_FUZZ_CHECK(static_cast<int>(r->size()) <= o.max_symbols);
  for (std::size_t i = 0; i < r->size(); ++i) {
    const Symbol& s = (*r)[i];
    TALLY_FUZZ_CHECK(!s.format.empty());
    for (std::size_t j = i + 1; j < r->size(); ++j)
      TALLY_FUZZ_CHECK(!(s.format == (*r)[j].format && s.text == (*r)[j].text));
    for (const Point& p : s.position) {  // ZXing may extrapolate corners a little past the edge
      TALLY_FUZZ_CHECK(p.x >= -width && p.x <= 2 * width);
      TALLY_FUZZ_CHECK(p.y >= -height && p.y <= 2 * height);
    }
  }
  return 0;
}
