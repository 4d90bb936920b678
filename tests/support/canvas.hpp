// Test helper: a grey canvas to paste barcode images onto, so one frame can
// hold several symbols at chosen places. Header-only.
#pragma once

#include <cstdint>
#include <vector>

#include "tally/device/image_file.hpp"
#include "tally/scanner/decode.hpp"

namespace tally::test {

struct Canvas {
  int w, h;
  std::vector<std::uint8_t> px;
  Canvas(int width, int height) : w(width), h(height), px(static_cast<std::size_t>(width * height), 200) {}
  void paste(const device::GreyImage& g, int ox, int oy) {
    for (int y = 0; y < g.height && oy + y < h; ++y) {
      for (int x = 0; x < g.width && ox + x < w; ++x) {
        px[static_cast<std::size_t>((oy + y) * w + ox + x)] = g.pixels[static_cast<std::size_t>(y * g.width + x)];
      }
    }
  }
  scanner::Frame frame() const { return scanner::Frame{px.data(), w, h, 0, scanner::PixelFormat::grey}; }
};

}  // namespace tally::test
