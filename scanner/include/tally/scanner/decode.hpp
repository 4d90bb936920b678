// Barcode decoding of camera frames: pixels in, symbols out. Pure
// computation, no I/O (reading image files and the crash-isolating decode
// worker process live in firmware-host/: tally/device/image_file.hpp and
// tally/device/decode_worker.hpp).
//
// The decoder is ZXing-cpp, kept behind one adapter (scanner/src/
// zxing_adapter.cpp); nothing of ZXing appears in this header.
//
// Strategy: a fast pass (the frame as given, no try-harder, no rotation, no
// downscale) and, only when that finds nothing and try_harder_fallback is
// set, a slow pass (try-harder: linear codes on all rows, 90/180/270°
// rotation, a downscaled copy of large frames), then linear codes once more
// with a fixed binarisation threshold (DecodeOptions::threshold_fallback),
// then a 2x upscaled copy with fast settings and its linear codes with the
// fixed threshold (DecodeOptions::upscale_fallback_max_pixels). An easy frame therefore
// costs one fast pass. Note: ZXing's fast pass looks for linear codes only
// on scan lines around the middle rows of the frame and for one DataMatrix
// near the centre (QR codes anywhere); see DecodeOptions::exhaustive. Matrix codes
// are read in one multi-symbol call; linear codes one at a time (each found
// one is masked and the frame read again), because ZXing 1.4 can abort when
// it merges several linear results itself (issue 740).
//
// WARNING: Debian's ZXing-cpp 1.4.0 is built with assertions on and can
// abort() the process on some frames (upstream zxing-cpp issue 740 and
// relatives). The options used here avoid the combinations known to do so
// (see zxing_adapter.cpp), but a process that must not die (tallyd) runs
// decode() in tally::device::DecodeWorker, a child process.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tally/scanner/result.hpp"

namespace tally::scanner {

enum class PixelFormat : std::uint8_t {
  grey,  // 8-bit luminance, 1 byte per pixel
  yuyv,  // YUYV 4:2:2 (V4L2_PIX_FMT_YUYV): Y0 U Y1 V, 2 bytes per pixel; only Y is used
};

// A view of caller-owned pixels; decode() does not keep it.
struct Frame {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row; 0 = tightly packed (width * bytes per pixel)
  PixelFormat fmt = PixelFormat::grey;
};

// Bytes per pixel of a format (1 for grey, 2 for yuyv).
int bytes_per_pixel(PixelFormat fmt);
// Bytes a frame spans: stride * (height - 1) + width * bytes_per_pixel.
// REQUIRES: frame passes validate_frame().
std::size_t frame_span(const Frame& frame);
// The frame's luminance upscaled 2x (bilinear; tight grey, 2*width x
// 2*height): what decode()'s last-resort pass reads. REQUIRES: frame passes
// validate_frame().
std::vector<std::uint8_t> upscale2x(const Frame& frame);

// Limits checked by validate_frame() / decode().
inline constexpr int kMaxFrameSide = 8192;                      // pixels per side
inline constexpr std::size_t kMaxFramePixels = 4096ull * 4096;  // 16 Mpx

// Error code "bad_frame": null data, non-positive or too large size, stride
// smaller than a row, odd width for yuyv.
Result<void> validate_frame(const Frame& frame);

// Symbologies (ZXing-cpp's names; the same strings appear in Symbol::format).
enum class Symbology : std::uint32_t {
  aztec = 1u << 0,
  codabar = 1u << 1,
  code39 = 1u << 2,
  code93 = 1u << 3,
  code128 = 1u << 4,
  databar = 1u << 5,
  databar_expanded = 1u << 6,
  datamatrix = 1u << 7,
  ean8 = 1u << 8,
  ean13 = 1u << 9,
  itf = 1u << 10,
  maxicode = 1u << 11,
  pdf417 = 1u << 12,
  qrcode = 1u << 13,
  upca = 1u << 14,
  upce = 1u << 15,
  micro_qrcode = 1u << 16,
};
using SymbologySet = std::uint32_t;  // bitwise OR of Symbology values; 0 = all
constexpr SymbologySet operator|(Symbology a, Symbology b) {
  return static_cast<SymbologySet>(a) | static_cast<SymbologySet>(b);
}
constexpr SymbologySet operator|(SymbologySet a, Symbology b) { return a | static_cast<SymbologySet>(b); }

// What a warehouse reads: EAN/UPC, ITF-14, Code 128/GS1-128, Code 39,
// DataBar, DataMatrix, QR, PDF417.
inline constexpr SymbologySet kWarehouseSymbologies =
    Symbology::ean8 | Symbology::ean13 | Symbology::upca | Symbology::upce | Symbology::itf |
    Symbology::code128 | Symbology::code39 | Symbology::databar | Symbology::databar_expanded |
    Symbology::datamatrix | Symbology::qrcode | Symbology::pdf417;

// Parses "EAN-13,QRCode|DataMatrix" (ZXing names, case/space/-/_ insensitive,
// separated by , | or space); "" = all. Error code "bad_format".
Result<SymbologySet> parse_symbologies(std::string_view names);

struct DecodeOptions {
  // Symbologies to look for; 0 = all ZXing supports. Default: the warehouse set.
  SymbologySet formats = kWarehouseSymbologies;
  // Run the slow pass (try-harder, 90° rotation, downscale) when the fast
  // pass finds nothing. Default on.
  bool try_harder_fallback = true;
  // At most this many symbols per frame (1..255). Default 16.
  int max_symbols = 16;
  // Run the slow pass even when the fast pass found something (needs
  // try_harder_fallback). The fast pass looks for linear codes (EAN, Code
  // 128, …) only on scan lines near the middle rows of the frame, like an
  // aimed scanner; exhaustive mode also finds linear codes elsewhere in a
  // frame that holds several symbols, at the slow pass's cost on every
  // frame. Default off.
  bool exhaustive = false;
  // Frames whose shorter side is at least this many pixels are also read
  // downscaled in the slow pass (helps blurred and oversized symbols).
  // 0 = never. Default 480.
  int downscale_threshold = 480;
  // Last resort when the other passes found nothing (needs
  // try_harder_fallback): the frame upscaled 2x and read again with fast
  // settings (and its linear codes with try-harder and the fixed threshold
  // when threshold_fallback is on), for thin or blurred bars and modules.
  // Only for frames of at most this many pixels (the upscaled copy has 4x
  // as many); 0 = never. Default 1280*720. See docs/PERFORMANCE.md for what
  // each pass costs.
  int upscale_fallback_max_pixels = 1280 * 720;
  // Matrix codes (QR, Data Matrix, …) are looked for in that upscaled copy
  // only for frames of at most this many pixels: on a 1280x720 frame the
  // copy's matrix read costs 4x a 640x480 one and rescued nothing on the
  // test frames, while its linear reads are cheap. 0 = linear codes only.
  // Default 640*480.
  int upscale_matrix_max_pixels = 640 * 480;
  // When the slow pass found nothing (needs try_harder_fallback): linear
  // codes read again with one fixed binarisation threshold instead of
  // ZXing's per-row one (blur, glare, low contrast), also in the upscale
  // pass. Default on.
  bool threshold_fallback = true;
};

struct Point {
  int x = 0;
  int y = 0;
  bool operator==(const Point&) const = default;
};

// Which pass of decode() found a symbol (see the strategy above).
enum class DecodePass : std::uint8_t {
  fast,     // the frame as given, no try-harder/rotation/downscale
  slow,       // try-harder, rotation, downscale
  threshold,  // the slow pass again for linear codes, with a fixed binarisation threshold
  upscale,    // the 2x-upscaled last resort
};
// "fast", "slow", "threshold", "upscale".
std::string_view pass_name(DecodePass pass);

struct Symbol {
  std::string format;  // ZXing name: "EAN-13", "Code128", "QRCode", "DataMatrix", …
  std::string text;    // as ZXing returns it (UTF-8); GS1 separators kept as 0x1D
  std::string aim_id;  // AIM symbology identifier, e.g. "]C1" (GS1-128), "]Q1"
  std::array<Point, 4> position{};  // corners in frame pixels: top-left, top-right, bottom-right, bottom-left
  DecodePass pass = DecodePass::fast;  // which pass found it
};

// What a scanner set to ISO/IEC 15424 transmission sends for this symbol:
// its AIM identifier and data, the form classify() and parse_gs1() read.
// ZXing-cpp 1.4 departs from it in three places, mended here so a camera
// books the same item as a handheld: UPC-A (12 digits) and UPC-E (8 digits)
// become the 13 digits of EAN-13 under "]E0" (ISO/IEC 15420 Annex B); an
// add-on follows its main symbol's 13 digits without a space under "]E3"
// (an EAN-8's too, as the 13 digits "00000" + EAN-8: the same GTIN); a
// DataBar Omnidirectional/Stacked/Limited, returned as its 14 digits, gets
// its AI (01) under "]e0". Anything else is passed on unchanged.
struct ScanData {
  std::string aim_id;
  std::string data;
  // The data to send without the AIM identifier: an add-on cannot be told
  // from the item without "]E3" (UPC-A + 5 digits has an SSCC's length), so
  // it is left out; the rest is `data`.
  std::string without_aim() const;
  bool operator==(const ScanData&) const = default;
};
ScanData scan_data(const Symbol& symbol);

// Decodes every symbol found in the frame (none found: an empty vector).
// Duplicates (same format and text) are reported once. Error codes:
// "bad_frame" (see validate_frame), "bad_options", "decode_failed" (the
// decoder threw).
Result<std::vector<Symbol>> decode(const Frame& frame, const DecodeOptions& options = {});

}  // namespace tally::scanner
