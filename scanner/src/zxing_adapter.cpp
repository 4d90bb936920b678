// ZXing-cpp 1.4 adapter; see zxing_adapter.hpp.
#define ZX_USE_UTF8 1
#include "zxing_adapter.hpp"

#include <ZXing/BarcodeFormat.h>
#include <ZXing/DecodeHints.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/CharacterSet.h>
#include <ZXing/ImageView.h>
#include <ZXing/MultiFormatWriter.h>
#include <ZXing/ReadBarcode.h>
#include <ZXing/Result.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>

#include "tally/scanner/encode.hpp"
#include "text.hpp"

namespace tally::scanner::detail {

namespace {

// Our Symbology bits are ZXing 1.4's BarcodeFormat bits; checked here so a
// ZXing upgrade that renumbers them fails to compile instead of misreading.
static_assert(static_cast<std::uint32_t>(Symbology::ean13) == static_cast<std::uint32_t>(ZXing::BarcodeFormat::EAN13));
static_assert(static_cast<std::uint32_t>(Symbology::qrcode) == static_cast<std::uint32_t>(ZXing::BarcodeFormat::QRCode));
static_assert(static_cast<std::uint32_t>(Symbology::micro_qrcode) ==
              static_cast<std::uint32_t>(ZXing::BarcodeFormat::MicroQRCode));

ZXing::BarcodeFormats to_zx(SymbologySet set) {
  return ZXing::BarcodeFormats(static_cast<ZXing::BarcodeFormat>(set));
}

}  // namespace

SymbologySet linear_symbologies() { return static_cast<SymbologySet>(ZXing::BarcodeFormat::LinearCodes); }
SymbologySet matrix_symbologies() { return static_cast<SymbologySet>(ZXing::BarcodeFormat::MatrixCodes); }

std::string symbology_name(SymbologySet one) {
  if (one == 0 || (one & (one - 1)) != 0) return {};
  return ZXing::ToString(static_cast<ZXing::BarcodeFormat>(one));
}

std::vector<std::pair<std::string, SymbologySet>> all_symbologies() {
  std::vector<std::pair<std::string, SymbologySet>> out;
  for (SymbologySet bit = 1; bit <= static_cast<SymbologySet>(Symbology::micro_qrcode); bit <<= 1) {
    out.emplace_back(symbology_name(bit), bit);
  }
  return out;
}

namespace {

// ZXing-cpp 1.4's EAN/UPC text → the 13 digits of EAN-13 (nullopt: not
// digits of a known length).
std::optional<std::string> ean13_digits(const std::string& format, std::string_view main) {
  using ZXing::BarcodeFormat;
  if (format == ZXing::ToString(BarcodeFormat::UPCE)) {
    auto upca = text::upce_to_upca(main);
    return upca ? std::optional<std::string>("0" + *upca) : std::nullopt;
  }
  if (!text::all_digits(main)) return std::nullopt;
  if (main.size() == 13) return std::string(main);
  if (main.size() == 12 || main.size() == 8) return std::string(13 - main.size(), '0') + std::string(main);
  return std::nullopt;
}

}  // namespace

}  // namespace tally::scanner::detail

namespace tally::scanner {

std::string ScanData::without_aim() const { return aim_id == "]E3" ? data.substr(0, 13) : data; }

ScanData scan_data(const Symbol& s) {
  using ZXing::BarcodeFormat;
  ScanData out{s.aim_id, s.text};
  const bool upc = s.format == ZXing::ToString(BarcodeFormat::UPCA) || s.format == ZXing::ToString(BarcodeFormat::UPCE);
  const auto space = s.text.find(' ');
  if ((s.aim_id == "]E3" || s.aim_id == "]E4") && space != std::string::npos) {  // with an add-on
    const std::string_view addon = std::string_view(s.text).substr(space + 1);
    auto main = detail::ean13_digits(s.format, std::string_view(s.text).substr(0, space));
    if (main && (addon.size() == 2 || addon.size() == 5) && text::all_digits(addon))
      out = ScanData{"]E3", *main + std::string(addon)};
  } else if (s.aim_id == "]E0" && upc) {
    if (auto main = detail::ean13_digits(s.format, s.text)) out.data = *main;
  } else if (s.aim_id == "]e0" && s.text.size() == 14 && text::all_digits(s.text) &&
             (s.format == ZXing::ToString(BarcodeFormat::DataBar) || s.format == "DataBarLimited")) {
    out.data = "01" + s.text;  // "DataBarLimited": ZXing-cpp 2's name; 1.4 does not read it
  }
  return out;
}

}  // namespace tally::scanner

namespace tally::scanner::detail {

namespace {

std::vector<Symbol> read_once(const ZXing::ImageView& image, const ZxSettings& settings, SymbologySet formats,
                              int max_symbols, int min_line_count) {
  ZXing::DecodeHints hints;
  hints.setFormats(to_zx(formats))
      .setTryHarder(settings.try_harder)
      .setTryRotate(settings.try_rotate)
      .setTryDownscale(settings.try_downscale)
      .setDownscaleThreshold(static_cast<std::uint16_t>(std::clamp(settings.downscale_threshold, 0, 65535)))
      .setMaxNumberOfSymbols(static_cast<std::uint8_t>(max_symbols))
      .setEanAddOnSymbol(ZXing::EanAddOnSymbol::Read);  // kept beside the item (scan_data)
  if (min_line_count > 0) hints.setMinLineCount(static_cast<std::uint8_t>(min_line_count));
  if (settings.fixed_threshold) hints.setBinarizer(ZXing::Binarizer::FixedThreshold);
  const ZXing::Results results = ZXing::ReadBarcodes(image, hints);

  std::vector<Symbol> out;
  out.reserve(results.size());
  for (const ZXing::Result& r : results) {
    if (!r.isValid()) continue;
    Symbol s;
    s.format = ZXing::ToString(r.format());
    s.text = r.text();
    s.aim_id = r.symbologyIdentifier();
    const auto& pos = r.position();
    for (std::size_t i = 0; i < 4; ++i) s.position[i] = Point{pos[i].x, pos[i].y};
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<Symbol> zxing_read(const LumView& view, ZxSettings settings) {
  const SymbologySet all = linear_symbologies() | matrix_symbologies();
  const SymbologySet formats = settings.formats == 0 ? all : (settings.formats & all);
  const ZXing::ImageView image(view.data, view.width, view.height, ZXing::ImageFormat::Lum, view.row_stride,
                               view.pix_stride);
  if ((formats & linear_symbologies()) == 0)
    return read_once(image, settings, formats, std::clamp(settings.max_symbols, 1, 255), 0);
  // Issue 740 guard, linear formats: one symbol per call (see the header),
  // and DataBar in a call of its own, after the others found nothing, that
  // ends at its first line: a DataBar line can carry a line count of more
  // than one, and meeting an earlier line of the same symbol asserts.
  const SymbologySet databar = static_cast<SymbologySet>(ZXing::BarcodeFormat::DataBar) |
                               static_cast<SymbologySet>(ZXing::BarcodeFormat::DataBarExpanded);
  std::vector<Symbol> out;
  if ((formats & ~databar) != 0) out = read_once(image, settings, formats & ~databar, 1, 0);
  if (out.empty() && (formats & databar) != 0) out = read_once(image, settings, formats & databar, 1, 1);
  return out;
}

}  // namespace tally::scanner::detail

namespace tally::scanner {

// Encoding (encode.hpp) with ZXing 1.4's MultiFormatWriter: margin 0 and
// size 0 give one pixel per module (linear codes: one row).
Result<ModuleGrid> encode_symbol(std::string_view text, Symbology format) {
  const auto bits = static_cast<SymbologySet>(format);
  if ((bits & (bits - 1)) != 0 || (bits & kEncodableSymbologies) == 0) {
    return make_error("bad_format", "cannot print symbology '" + detail::symbology_name(bits) +
                                        "' (Code128, QRCode and DataMatrix can be printed)");
  }
  if (text.empty()) return make_error("bad_text", "nothing to encode");
  if (text.size() > 1000) return make_error("bad_text", "text longer than 1000 bytes");
  try {
    ZXing::MultiFormatWriter writer(static_cast<ZXing::BarcodeFormat>(bits));
    writer.setMargin(0);
    if (format == Symbology::qrcode) writer.setEncoding(ZXing::CharacterSet::UTF8).setEccLevel(4);
    const ZXing::BitMatrix matrix = writer.encode(std::string(text), 0, 0);
    ModuleGrid grid;
    grid.width = matrix.width();
    grid.height = matrix.height();
    if (grid.width <= 0 || grid.height <= 0) return make_error("bad_text", "the encoder returned an empty symbol");
    grid.dark.resize(static_cast<std::size_t>(grid.width) * static_cast<std::size_t>(grid.height));
    for (int y = 0; y < grid.height; ++y) {
      for (int x = 0; x < grid.width; ++x) {
        grid.dark[static_cast<std::size_t>(y) * static_cast<std::size_t>(grid.width) + static_cast<std::size_t>(x)] =
            matrix.get(x, y) ? 1 : 0;
      }
    }
    // Linear writers return a single row already; keep it that way.
    return grid;
  } catch (const std::exception& e) {
    return make_error("bad_text", std::string("cannot encode as ") + detail::symbology_name(bits) + ": " + e.what());
  }
}

}  // namespace tally::scanner
