// Image files (PNG, JPEG) loaded as 8-bit grey frames for the decoder.
// stb_image does the decoding; only PNG and JPEG are compiled in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tally/scanner/decode.hpp"
#include "tally/scanner/result.hpp"

namespace tally::device {

struct GreyImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // width * height bytes, row after row

  // A view for scanner::decode(); valid while this image lives.
  scanner::Frame frame() const {
    return scanner::Frame{pixels.data(), width, height, width, scanner::PixelFormat::grey};
  }
};

// Largest encoded file accepted (bytes).
inline constexpr std::size_t kMaxImageFileBytes = 64u * 1024 * 1024;

// Decodes PNG/JPEG bytes to grey (colour is converted to luminance).
// Error codes: "not_an_image" (not PNG/JPEG, truncated or corrupt; the
// message says why), "image_too_large" (over scanner::kMaxFrameSide per
// side or scanner::kMaxFramePixels, checked from the header before the
// pixels are decoded, or more than kMaxImageFileBytes).
Result<GreyImage> decode_image(std::span<const std::uint8_t> encoded);

// Reads a file and decode_image()s it. Extra error code: "io_error"
// (missing, unreadable, a directory).
Result<GreyImage> load_image_file(const std::string& path);

// Reads a whole file (at most max_bytes). Error codes: "io_error",
// "image_too_large".
Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::size_t max_bytes = kMaxImageFileBytes);

}  // namespace tally::device
