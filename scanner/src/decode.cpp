// Frame decoding strategy on top of the ZXing adapter; see decode.hpp.
#include "tally/scanner/decode.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <vector>

#include "zxing_adapter.hpp"

namespace tally::scanner {

namespace {

using detail::LumView;
using detail::ZxSettings;

bool contains(const std::vector<Symbol>& found, const Symbol& s) {
  return std::any_of(found.begin(), found.end(),
                     [&](const Symbol& f) { return f.format == s.format && f.text == s.text; });
}

// Copies a luminance view into a tight buffer (1 byte per pixel).
std::vector<std::uint8_t> copy_lum(const LumView& v) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(v.width) * static_cast<std::size_t>(v.height));
  for (int y = 0; y < v.height; ++y) {
    const std::uint8_t* row = v.data + static_cast<std::ptrdiff_t>(y) * v.row_stride;
    std::uint8_t* dst = out.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(v.width);
    if (v.pix_stride == 1) {
      std::copy(row, row + v.width, dst);
    } else {
      for (int x = 0; x < v.width; ++x) dst[x] = row[static_cast<std::ptrdiff_t>(x) * v.pix_stride];
    }
  }
  return out;
}

// Paints over a found linear symbol so the next single-symbol read finds
// another one. ZXing reports a linear symbol's position as the span of the
// scan lines that read it, which may be thin: the box is widened across the
// bars by `spread` times the symbol's length (each side).
void mask_symbol(std::vector<std::uint8_t>& pixels, int width, int height, const Symbol& s, double spread) {
  int x0 = s.position[0].x, x1 = x0, y0 = s.position[0].y, y1 = y0;
  for (const Point& p : s.position) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  const int grow = static_cast<int>(spread * std::max(x1 - x0, y1 - y0));
  const int pad = 8;
  if (x1 - x0 >= y1 - y0) {  // bars run top-down: widen vertically
    y0 -= grow;
    y1 += grow;
  } else {
    x0 -= grow;
    x1 += grow;
  }
  x0 = std::max(0, x0 - pad);
  y0 = std::max(0, y0 - pad);
  x1 = std::min(width - 1, x1 + pad);
  y1 = std::min(height - 1, y1 + pad);
  for (int y = y0; y <= y1; ++y) {
    std::uint8_t* row = pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width);
    std::fill(row + x0, row + x1 + 1, std::uint8_t{255});
  }
}

// One pass: matrix symbols in one multi-symbol read, linear symbols one at a
// time (ZXing 1.4 cannot safely read several linear symbols in one call).
void read_pass(const LumView& view, SymbologySet formats, ZxSettings settings, int max_symbols, DecodePass pass,
               std::vector<Symbol>& found) {
  const SymbologySet matrix = formats & detail::matrix_symbologies();
  const SymbologySet linear = formats & detail::linear_symbologies();
  if (matrix != 0) {
    settings.formats = matrix;
    settings.max_symbols = max_symbols;
    for (Symbol& s : detail::zxing_read(view, settings)) {
      s.pass = pass;
      if (static_cast<int>(found.size()) < max_symbols && !contains(found, s)) found.push_back(std::move(s));
    }
  }
  if (linear == 0 || static_cast<int>(found.size()) >= max_symbols) return;
  settings.formats = linear;
  settings.max_symbols = 1;
  // One symbol per read; each one found is masked and the frame read again.
  // A symbol read a second time (on scan lines the mask missed, or found by
  // an earlier pass) is masked wider. The number of reads is bounded.
  std::vector<std::uint8_t> masked;  // copied only when a second read is wanted
  LumView current = view;
  const int max_reads = max_symbols + 6;
  double spread = 0.15;
  for (int reads = 0; reads < max_reads; ++reads) {
    std::vector<Symbol> next = detail::zxing_read(current, settings);
    if (next.empty()) return;
    Symbol s = std::move(next.front());
    s.pass = pass;
    if (contains(found, s)) {
      spread *= 2;
    } else {
      found.push_back(s);
      spread = 0.15;
      if (static_cast<int>(found.size()) >= max_symbols) return;
    }
    if (masked.empty()) masked = copy_lum(view);
    mask_symbol(masked, view.width, view.height, s, spread);
    current = LumView{masked.data(), view.width, view.height, view.width, 1};
  }
}

// A 2x bilinear upscale of a luminance view (tight, 1 byte per pixel).
// Output pixel x samples the source at (x - 0.5) / 2: in quarter steps, odd
// x = 2k+1 weighs columns k, k+1 as 3:1 and even x = 2k+2 as 1:3 (x = 0 is
// column 0); rows likewise. Separable: each output row blends its two source
// rows once into `col` (weights sum to 4), then the pairs of columns (sum 16).
std::vector<std::uint8_t> upscale2(const LumView& v) {
  const int w = v.width;
  const int w2 = w * 2;
  const int h2 = v.height * 2;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(w2) * static_cast<std::size_t>(h2));
  std::vector<std::uint16_t> col(static_cast<std::size_t>(w) + 1);
  const auto row_ptr = [&](int y) { return v.data + static_cast<std::ptrdiff_t>(y) * v.row_stride; };
  for (int y = 0; y < h2; ++y) {
    const int sy4 = std::max(0, 2 * y - 1);
    const int y0 = std::min(sy4 / 4, v.height - 1);
    const int y1 = std::min(y0 + 1, v.height - 1);
    const int fy = sy4 % 4;
    const std::uint8_t* r0 = row_ptr(y0);
    const std::uint8_t* r1 = row_ptr(y1);
    const std::ptrdiff_t ps = v.pix_stride;
    for (int x = 0; x < w; ++x) {
      col[static_cast<std::size_t>(x)] =
          static_cast<std::uint16_t>(r0[x * ps] * (4 - fy) + r1[x * ps] * fy);
    }
    col[static_cast<std::size_t>(w)] = col[static_cast<std::size_t>(w - 1)];  // the right edge repeats
    std::uint8_t* dst = out.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(w2);
    dst[0] = static_cast<std::uint8_t>((col[0] * 4 + 8) / 16);
    for (int k = 0; k < w; ++k) {
      const int a = col[static_cast<std::size_t>(k)];
      const int b = col[static_cast<std::size_t>(k) + 1];
      dst[2 * k + 1] = static_cast<std::uint8_t>((a * 3 + b + 8) / 16);
      if (2 * k + 2 < w2) dst[2 * k + 2] = static_cast<std::uint8_t>((a + b * 3 + 8) / 16);
    }
  }
  return out;
}

}  // namespace

int bytes_per_pixel(PixelFormat fmt) { return fmt == PixelFormat::yuyv ? 2 : 1; }

namespace {

// The luminance of a frame, read in place (YUYV: Y0 U Y1 V — every other byte).
LumView luminance(const Frame& frame) {
  const int bpp = bytes_per_pixel(frame.fmt);
  return LumView{frame.data, frame.width, frame.height, frame.stride == 0 ? frame.width * bpp : frame.stride, bpp};
}

// The slow pass: try-harder, rotation, downscale.
ZxSettings slow_settings(const DecodeOptions& options) {
  ZxSettings slow;
  slow.try_harder = true;
  slow.try_rotate = true;
  slow.try_downscale = options.downscale_threshold > 0;
  slow.downscale_threshold = options.downscale_threshold;
  return slow;
}

}  // namespace

std::string_view pass_name(DecodePass pass) {
  switch (pass) {
    case DecodePass::fast:
      return "fast";
    case DecodePass::slow:
      return "slow";
    case DecodePass::threshold:
      return "threshold";
    case DecodePass::upscale:
      return "upscale";
  }
  return "fast";
}

std::size_t frame_span(const Frame& frame) {
  const int bpp = bytes_per_pixel(frame.fmt);
  const std::size_t row = static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(bpp);
  const std::size_t stride = frame.stride == 0 ? row : static_cast<std::size_t>(frame.stride);
  return stride * static_cast<std::size_t>(frame.height - 1) + row;
}

std::vector<std::uint8_t> upscale2x(const Frame& frame) { return upscale2(luminance(frame)); }

Result<void> validate_frame(const Frame& frame) {
  if (frame.data == nullptr) return make_error("bad_frame", "frame has no pixel data");
  if (frame.fmt != PixelFormat::grey && frame.fmt != PixelFormat::yuyv) {
    return make_error("bad_frame", "unknown pixel format");
  }
  if (frame.width <= 0 || frame.height <= 0) return make_error("bad_frame", "frame width and height must be positive");
  if (frame.width > kMaxFrameSide || frame.height > kMaxFrameSide ||
      static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height) > kMaxFramePixels) {
    return make_error("bad_frame", "frame too large: " + std::to_string(frame.width) + "x" +
                                       std::to_string(frame.height) + " (max " + std::to_string(kMaxFrameSide) +
                                       " per side, " + std::to_string(kMaxFramePixels) + " pixels)");
  }
  if (frame.fmt == PixelFormat::yuyv && frame.width % 2 != 0) {
    return make_error("bad_frame", "yuyv frame width must be even");
  }
  if (frame.stride != 0 && frame.stride < frame.width * bytes_per_pixel(frame.fmt)) {
    return make_error("bad_frame", "stride smaller than one row");
  }
  return {};
}

Result<SymbologySet> parse_symbologies(std::string_view names) {
  auto norm = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '-' || c == '_' || c == ' ') continue;
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
  };
  SymbologySet set = 0;
  std::size_t i = 0;
  while (i <= names.size()) {
    const std::size_t end = names.find_first_of(",| ", i);
    const std::string_view token = names.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    if (!token.empty()) {
      const std::string want = norm(token);
      bool known = false;
      for (const auto& [name, bit] : detail::all_symbologies()) {
        if (norm(name) == want) {
          set |= bit;
          known = true;
        }
      }
      if (!known) return make_error("bad_format", "unknown barcode format: " + std::string(token));
    }
    if (end == std::string_view::npos) break;
    i = end + 1;
  }
  return set;
}

Result<std::vector<Symbol>> decode(const Frame& frame, const DecodeOptions& options) {
  if (auto ok = validate_frame(frame); !ok) return ok.error();
  if (options.max_symbols < 1 || options.max_symbols > 255) {
    return make_error("bad_options", "max_symbols must be 1..255");
  }
  if (options.downscale_threshold < 0) return make_error("bad_options", "downscale_threshold must be >= 0");
  if (options.upscale_matrix_max_pixels < 0) return make_error("bad_options", "upscale_matrix_max_pixels must be >= 0");
  const LumView view = luminance(frame);
  const SymbologySet formats = options.formats == 0
                                   ? (detail::linear_symbologies() | detail::matrix_symbologies())
                                   : options.formats;
  // The rescue passes (fixed threshold, upscaled) leave DataBar out: each
  // linear read without a find costs a second ZXing call for DataBar
  // (zxing_adapter.hpp), and those passes were made for thin and glared
  // EAN/UPC and Code 128 bars.
  const SymbologySet rescue_linear = formats & detail::linear_symbologies() &
                                     ~(static_cast<SymbologySet>(Symbology::databar) |
                                       static_cast<SymbologySet>(Symbology::databar_expanded));
  std::vector<Symbol> found;
  try {
    ZxSettings fast;  // no try-harder, no rotation, no downscale
    read_pass(view, formats, fast, options.max_symbols, DecodePass::fast, found);
    if (options.try_harder_fallback && (found.empty() || options.exhaustive)) {
      read_pass(view, formats, slow_settings(options), options.max_symbols, DecodePass::slow, found);
    }
    if (found.empty() && options.try_harder_fallback && options.threshold_fallback) {
      // Blurred, low-contrast or glared linear codes: the per-row histogram
      // threshold ZXing uses for them fails where one fixed threshold reads.
      ZxSettings fixed = slow_settings(options);
      fixed.fixed_threshold = true;
      read_pass(view, rescue_linear, fixed, options.max_symbols, DecodePass::threshold, found);
    }
    if (found.empty() && options.try_harder_fallback && options.upscale_fallback_max_pixels > 0 &&
        static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height) <=
            static_cast<std::size_t>(options.upscale_fallback_max_pixels)) {
      // Last resort: thin bars and small modules (downscaled, blurred) read
      // better at 2x. Fast settings are enough there (try-harder and rotation
      // on a 4x larger frame cost 3x as much and read no more on the test
      // frames); linear codes once more with the fixed threshold.
      const std::vector<std::uint8_t> up = upscale2(view);
      const LumView uv{up.data(), view.width * 2, view.height * 2, view.width * 2, 1};
      const bool matrix_too = static_cast<std::size_t>(frame.width) * static_cast<std::size_t>(frame.height) <=
                              static_cast<std::size_t>(std::max(0, options.upscale_matrix_max_pixels));
      std::vector<Symbol> big;
      read_pass(uv, rescue_linear | (matrix_too ? formats & detail::matrix_symbologies() : 0), ZxSettings{},
                options.max_symbols, DecodePass::upscale, big);
      if (big.empty() && options.threshold_fallback) {
        ZxSettings fixed;
        fixed.try_harder = true;
        fixed.fixed_threshold = true;
        read_pass(uv, rescue_linear, fixed, options.max_symbols, DecodePass::upscale, big);
      }
      for (Symbol& s : big) {
        for (Point& p : s.position) p = Point{p.x / 2, p.y / 2};
        found.push_back(std::move(s));
      }
    }
  } catch (const std::exception& e) {
    return make_error("decode_failed", std::string("decoder error: ") + e.what());
  }
  return found;
}

}  // namespace tally::scanner
