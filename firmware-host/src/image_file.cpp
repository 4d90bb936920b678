// PNG/JPEG loading with stb_image; see image_file.hpp.
#include "tally/device/image_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>
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
namespace {

// Debian 12's stb_image (git 2022-09-08) builds a JPEG Huffman table from the
// 16 code counts of a DHT segment without checking that they sum to at most
// 256, and writes past its fixed tables when they do (found by fuzz_image
// under UBSan). Newer stb checks this; until Debian's does, walk the marker
// segments first and refuse such a table, or one that runs past its segment
// (which stb refuses too, but only after building it).
std::optional<std::string> bad_jpeg_huffman_table(std::span<const std::uint8_t> d) {
  // SOI, after any number of 0xFF fill bytes (stb accepts "FF FF D8" too).
  std::size_t i = 0;
  while (i < d.size() && d[i] == 0xFF) ++i;
  if (i == 0 || i >= d.size() || d[i] != 0xD8) return std::nullopt;  // not a JPEG
  ++i;
  while (i + 1 < d.size()) {
    if (d[i] != 0xFF) {  // entropy-coded data after SOS: up to the next marker
      ++i;
      continue;
    }
    const std::uint8_t m = d[i + 1];
    if (m == 0xFF || m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {  // fill, stuffed byte, RSTn, TEM
      i += (m == 0xFF) ? 1 : 2;
      continue;
    }
    if (m == 0xD9) return std::nullopt;  // EOI
    if (i + 4 > d.size()) return std::nullopt;
    const std::size_t len = (std::size_t{d[i + 2]} << 8) | d[i + 3];
    if (len < 2) return std::string("corrupt JPEG: marker segment shorter than its length field");
    const std::size_t start = i + 4;
    const std::size_t end = std::min(d.size(), i + 2 + len);
    if (m == 0xC4) {
      std::size_t t = start;
      while (t < end) {
        if (t + 17 > end) return std::string("corrupt JPEG: Huffman table runs past its DHT segment");
        std::size_t n = 0;
        for (std::size_t k = 1; k <= 16; ++k) n += d[t + k];
        if (n > 256) return "corrupt JPEG: Huffman table with " + std::to_string(n) + " codes (at most 256)";
        if (t + 17 + n > end) return std::string("corrupt JPEG: Huffman table runs past its DHT segment");
        t += 17 + n;
      }
    }
    i = i + 2 + len;  // past the segment; after SOS the loop skips the scan data
  }
  return std::nullopt;
}

// A walk over a PNG's chunks before stb sees it, for two faults of Debian
// 12's stb_image that image_fuzz found:
// - stb reserves a chunk's claimed length before it checks that the bytes
//   are there: a 261-byte file asked for 2 GiB. A chunk that runs past the
//   end of the data (or data that ends inside a chunk, or before IEND) is
//   refused here, as stb would refuse it after that allocation.
// - stb allocates the IDAT buffer only for a non-empty chunk, so a
//   zero-length IDAT before the image data (legal PNG) makes it memcpy
//   0 bytes to NULL (UB under UBSan). stb gets a copy without those chunks.
// Returns the copy, or nullopt when stb can have the data as it is (and for
// anything that is not a PNG).
Result<std::optional<std::vector<std::uint8_t>>> checked_png(std::span<const std::uint8_t> d) {
  static constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  using Out = std::optional<std::vector<std::uint8_t>>;
  if (d.size() < 8 || !std::equal(std::begin(kSignature), std::end(kSignature), d.begin())) return Out{};
  std::vector<std::pair<std::size_t, std::size_t>> drop;  // [begin, end) of each chunk to leave out
  bool data_seen = false;
  std::size_t i = 8;
  for (;;) {
    if (i + 12 > d.size()) return make_error("not_an_image", "corrupt PNG: the data ends before its IEND chunk");
    const std::size_t len =
        (std::size_t{d[i]} << 24) | (std::size_t{d[i + 1]} << 16) | (std::size_t{d[i + 2]} << 8) | d[i + 3];
    const std::string_view type(reinterpret_cast<const char*>(d.data() + i + 4), 4);
    if (len > d.size() - i - 12) {
      std::string shown;
      for (char c : type) shown += (c >= 0x20 && c < 0x7F) ? c : '?';
      return make_error("not_an_image", "corrupt PNG: chunk " + shown + " of " + std::to_string(len) +
                                            " bytes runs past the end of the " + std::to_string(d.size()) +
                                            " bytes");
    }
    if (type == "IDAT") {
      if (len == 0 && !data_seen) drop.emplace_back(i, i + 12);
      if (len != 0) data_seen = true;
    } else if (type == "IEND") {
      break;
    }
    i += 12 + len;
  }
  if (drop.empty()) return Out{};
  std::vector<std::uint8_t> out;
  out.reserve(d.size());
  std::size_t from = 0;
  for (const auto& [b, e] : drop) {
    out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(from), d.begin() + static_cast<std::ptrdiff_t>(b));
    from = e;
  }
  out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(from), d.end());
  return Out{std::move(out)};
}

}  // namespace

Result<GreyImage> decode_image(std::span<const std::uint8_t> encoded) {
  if (encoded.size() > kMaxImageFileBytes) {
    return make_error("image_too_large", "image data larger than " + std::to_string(kMaxImageFileBytes) + " bytes");
  }
  if (encoded.empty()) return make_error("not_an_image", "empty file");
  auto png = checked_png(encoded);
  if (!png) return png.error();
  if (*png) encoded = **png;
  const int len = static_cast<int>(encoded.size());
  int w = 0;
  int h = 0;
  int channels = 0;
  // Before stbi_info too: it reads the DHT segments before the frame header.
  if (auto bad = bad_jpeg_huffman_table(encoded)) return make_error("not_an_image", *bad);
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
