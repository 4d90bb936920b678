// The one place that knows ZXing-cpp (1.4 API). A move to ZXing-cpp 2.x
// changes zxing_adapter.cpp only. Private to tally_scanner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tally/scanner/decode.hpp"

namespace tally::scanner::detail {

// A luminance view: pixel (x, y) is data[y * row_stride + x * pix_stride].
struct LumView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int row_stride = 0;
  int pix_stride = 1;
};

// Which symbol classes one call looks for.
enum class SymbolClass : std::uint8_t { linear, matrix };

struct ZxSettings {
  SymbologySet formats = 0;  // 0 = all
  int max_symbols = 1;       // 1..255
  bool try_harder = false;
  bool try_rotate = false;
  bool try_downscale = false;
  int downscale_threshold = 500;  // shorter side at which ZXing also reads a downscaled copy
  // Binarise with one fixed threshold (ZXing's FixedThreshold) instead of
  // the default (local average; per-row histogram for linear codes).
  bool fixed_threshold = false;
};

// One ZXing read. Throws what ZXing throws (std::exception).
// SAFETY (ZXing-cpp 1.4.0, assertions on): ReadBarcodes with max_symbols > 1
// on linear formats aborts on some frames, with or without try-harder
// (issue 740: Result::operator== `lineCount() == 1` when merging per-line
// results). zxing_read() therefore reads at most ONE symbol whenever the
// formats include linear ones; decode.cpp finds further linear symbols by
// masking the ones found and reading again. A DataBar line may come with a
// line count above one, so even one symbol per call aborts when a later
// line of a DataBar meets an earlier one (ZXing's rss14 samples turned by
// 90° or 180°): DataBar is read in a call of its own that stops at its first
// line (minLineCount 1), only when the other linear formats found nothing.
std::vector<Symbol> zxing_read(const LumView& view, ZxSettings settings);

// Masks of ZXing's linear / matrix symbologies.
SymbologySet linear_symbologies();
SymbologySet matrix_symbologies();

// ZXing's name of one symbology ("EAN-13"); "" if not exactly one.
std::string symbology_name(SymbologySet one);
// All symbologies ZXing knows, as (name, bit).
std::vector<std::pair<std::string, SymbologySet>> all_symbologies();

}  // namespace tally::scanner::detail
