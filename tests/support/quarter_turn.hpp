// A grey image turned clockwise by quarter turns, for the decode tests and
// benches that read every symbol at 0°, 90°, 180° and 270°.
#pragma once

#include <cstddef>
#include <utility>

#include "tally/device/image_file.hpp"

namespace tally::test {

inline device::GreyImage quarter_turned(const device::GreyImage& img, int quarters) {
  device::GreyImage out = img;
  for (int q = 0; q < ((quarters % 4) + 4) % 4; ++q) {
    device::GreyImage next;
    next.width = out.height;
    next.height = out.width;
    next.pixels.resize(out.pixels.size());
    const auto w = static_cast<std::size_t>(out.width);
    const auto nw = static_cast<std::size_t>(next.width);
    for (std::size_t y = 0; y < static_cast<std::size_t>(out.height); ++y)
      for (std::size_t x = 0; x < w; ++x) next.pixels[x * nw + (nw - 1 - y)] = out.pixels[y * w + x];
    out = std::move(next);
  }
  return out;
}

}  // namespace tally::test
