// PNG/JPEG loading with stb_image; see image_file.hpp.
#include "tally/device/image_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <system_error>
#include <filesystem>

// stb_image is third-party C-style code: compiled here, with our warnings
// off for it, static so it cannot clash with Debian's libstb.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wduplicated-branches"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_MAX_DIMENSIONS 8192
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace tally::device {

Result<GreyImage> decode_image(std::span<const std::uint8_t> encoded) {
  if (encoded.size() > kMaxImageFileBytes) {
    return make_error("image_too_large", "image data larger than " + std::to_string(kMaxImageFileBytes) + " bytes");
  }
  if (encoded.empty()) return make_error("not_an_image", "empty file");
  const int len = static_cast<int>(encoded.size());
  int w = 0;
  int h = 0;
  int channels = 0;
  if (stbi_info_from_memory(encoded.data(), len, &w, &h, &channels) == 0) {
    return make_error("not_an_image", std::string("not a PNG or JPEG image (") + stbi_failure_reason() + ")");
  }
  if (w <= 0 || h <= 0 || w > scanner::kMaxFrameSide || h > scanner::kMaxFrameSide ||
      static_cast<std::size_t>(w) * static_cast<std::size_t>(h) > scanner::kMaxFramePixels) {
    return make_error("image_too_large", "image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(encoded.data(), len, &w, &h, &channels, 1),
                                               stbi_image_free);
  if (!px) return make_error("not_an_image", std::string("cannot decode image (") + stbi_failure_reason() + ")");
  GreyImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(px.get(), px.get() + static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
  return img;
}

Result<std::vector<std::uint8_t>> read_file_bytes(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return make_error("io_error", path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("io_error", path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (bytes.size() + n > max_bytes) {
      return make_error("image_too_large", path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  if (in.bad()) return make_error("io_error", path + ": read error");
  return bytes;
}

Result<GreyImage> load_image_file(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.error();
  auto img = decode_image(*bytes);
  if (!img) return make_error(img.error().code, path + ": " + img.error().message);
  return img;
}

}  // namespace tally::device
