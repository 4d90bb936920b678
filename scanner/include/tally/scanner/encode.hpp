// Barcode encoding: text in, a module grid out (what `tally labels` prints).
// Pure computation, no I/O; rendering to PNG/SVG and file writing live in
// firmware-host/ (tally/device/labels.hpp).
//
// The encoder is ZXing-cpp's writer (MultiFormatWriter), kept behind the same
// adapter as decoding (scanner/src/zxing_adapter.cpp); nothing of ZXing
// appears in this header.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tally/scanner/decode.hpp"
#include "tally/scanner/result.hpp"

namespace tally::scanner {

// One module per cell, without a quiet zone. Linear symbols have height 1
// (one row of bars; the renderer chooses the bar height).
struct ModuleGrid {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> dark;  // width * height cells, row after row; 1 = dark

  bool linear() const { return height == 1; }
  bool at(int x, int y) const { return dark[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)] != 0; }
};

// Symbologies encode_symbol() accepts.
inline constexpr SymbologySet kEncodableSymbologies =
    Symbology::code128 | Symbology::qrcode | Symbology::datamatrix;

// Encodes `text` (UTF-8; for Code 128 printable ASCII plus control
// characters such as GS 0x1D) as one symbol of `format`. Error codes:
// "bad_format" (not exactly one symbology of kEncodableSymbologies),
// "bad_text" (empty, longer than 1000 bytes, or not encodable in that
// symbology; the message says why). Never throws.
Result<ModuleGrid> encode_symbol(std::string_view text, Symbology format);

}  // namespace tally::scanner
