// ZXing-cpp 1.4 adapter; see zxing_adapter.hpp.
#define ZX_USE_UTF8 1
#include "zxing_adapter.hpp"

#include <ZXing/BarcodeFormat.h>
#include <ZXing/DecodeHints.h>
#include <ZXing/ImageView.h>
#include <ZXing/ReadBarcode.h>
#include <ZXing/Result.h>

#include <algorithm>

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

std::vector<Symbol> zxing_read(const LumView& view, ZxSettings settings) {
  const SymbologySet all = linear_symbologies() | matrix_symbologies();
  const SymbologySet formats = settings.formats == 0 ? all : (settings.formats & all);
  int max_symbols = std::clamp(settings.max_symbols, 1, 255);
  // Issue 740 guard: multi-symbol reads of linear codes merge per-line
  // results with an asserting operator== in 1.4.0 (see the header).
  if ((formats & linear_symbologies()) != 0) max_symbols = 1;

  ZXing::DecodeHints hints;
  hints.setFormats(to_zx(formats))
      .setTryHarder(settings.try_harder)
      .setTryRotate(settings.try_rotate)
      .setTryDownscale(settings.try_downscale)
      .setDownscaleThreshold(static_cast<std::uint16_t>(std::clamp(settings.downscale_threshold, 0, 65535)))
      .setMaxNumberOfSymbols(static_cast<std::uint8_t>(max_symbols));
  const ZXing::ImageView image(view.data, view.width, view.height, ZXing::ImageFormat::Lum, view.row_stride,
                               view.pix_stride);
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

}  // namespace tally::scanner::detail
