// `tally labels`: see labels.hpp.
#include "tally/device/labels.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <system_error>

#include "tally/scanner/domain.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/self_test.hpp"

// stb_image_write / stb_easy_font are third-party C-style code: compiled
// here with our warnings off for them, static so they cannot clash.
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
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace tally::device {
namespace {

constexpr int kLinearQuietModules = 10;  // Code 128 needs >= 10 modules each side
constexpr int kMatrixQuietModules = 4;   // QR needs 4, DataMatrix 1
constexpr int kTextGapPx = 8;
constexpr int kSvgFontPx = 16;

std::string safe_name(std::string s) {
  for (char& c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return s;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no C0 controls but TAB/LF/CR: show them as '?'
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t') ? '?' : c;
    }
  }
  return out;
}

// Caption text for the PNG font: printable ASCII only.
std::string ascii_caption(std::string_view s) {
  std::string out;
  for (char c : s) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  return out;
}

int quiet_modules(const scanner::ModuleGrid& g) { return g.linear() ? kLinearQuietModules : kMatrixQuietModules; }

// Symbol size in px, quiet zone included.
struct Geometry {
  int symbol_w = 0;
  int symbol_h = 0;
  int module = 1;
  int quiet = 0;
};

Geometry geometry(const scanner::ModuleGrid& g, const RenderOptions& o, const LabelSpec& label) {
  Geometry geo;
  // Matrix codes get twice the module size: they have far fewer modules.
  geo.module = std::max(1, label.format == scanner::Symbology::code128 ? o.module_px : o.module_px * 2);
  geo.quiet = quiet_modules(g) * geo.module;
  geo.symbol_w = g.width * geo.module + 2 * geo.quiet;
  geo.symbol_h = (g.linear() ? std::max(1, o.bar_height_px) : g.height * geo.module) + 2 * geo.quiet;
  return geo;
}

// stb_easy_font glyphs, rasterised: each quad is an axis-aligned rectangle.
void draw_text(GreyRaster& r, const std::string& text, int x0, int y0, int scale) {
  std::string buf = ascii_caption(text);
  std::vector<char> vbuf(buf.size() * 270 + 64);  // ~270 bytes per char is stb's own estimate
  unsigned char black[4] = {0, 0, 0, 255};
  const int quads = stb_easy_font_print(0, 0, buf.data(), black, vbuf.data(), static_cast<int>(vbuf.size()));
  for (int q = 0; q < quads; ++q) {
    float xs[4];
    float ys[4];
    for (int v = 0; v < 4; ++v) {
      const char* vertex = vbuf.data() + (q * 4 + v) * 16;
      std::memcpy(&xs[v], vertex, sizeof(float));
      std::memcpy(&ys[v], vertex + 4, sizeof(float));
    }
    const int left = x0 + static_cast<int>(*std::min_element(xs, xs + 4) * static_cast<float>(scale));
    const int right = x0 + static_cast<int>(*std::max_element(xs, xs + 4) * static_cast<float>(scale));
    const int top = y0 + static_cast<int>(*std::min_element(ys, ys + 4) * static_cast<float>(scale));
    const int bottom = y0 + static_cast<int>(*std::max_element(ys, ys + 4) * static_cast<float>(scale));
    for (int y = std::max(0, top); y < std::min(r.height, bottom); ++y) {
      for (int x = std::max(0, left); x < std::min(r.width, right); ++x) {
        r.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(r.width) + static_cast<std::size_t>(x)] = 0;
      }
    }
  }
}

// One label as SVG elements, its top-left at (x, y); returns its size.
std::pair<int, int> svg_label(std::string& svg, const LabelSpec& label, const scanner::ModuleGrid& g,
                              const RenderOptions& o, int x, int y) {
  const Geometry geo = geometry(g, o, label);
  svg += "<g transform=\"translate(" + std::to_string(x) + "," + std::to_string(y) + ")\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(geo.symbol_w) + "\" height=\"" +
         std::to_string(geo.symbol_h + kTextGapPx + kSvgFontPx + 8) + "\" fill=\"#fff\"/>\n";
  svg += "<path fill=\"#000\" d=\"";
  const int rows = g.linear() ? 1 : g.height;
  const int row_h = g.linear() ? std::max(1, o.bar_height_px) : geo.module;
  for (int gy = 0; gy < rows; ++gy) {
    for (int gx = 0; gx < g.width;) {
      if (!g.at(gx, gy)) {
        ++gx;
        continue;
      }
      int run = 1;
      while (gx + run < g.width && g.at(gx + run, gy)) ++run;
      svg += "M" + std::to_string(geo.quiet + gx * geo.module) + " " + std::to_string(geo.quiet + gy * row_h) + "h" +
             std::to_string(run * geo.module) + "v" + std::to_string(row_h) + "h-" + std::to_string(run * geo.module) +
             "z";
      gx += run;
    }
  }
  svg += "\"/>\n";
  const int text_y = geo.symbol_h + kTextGapPx + kSvgFontPx - 4;
  svg += "<text x=\"" + std::to_string(geo.symbol_w / 2) + "\" y=\"" + std::to_string(text_y) +
         "\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"" + std::to_string(kSvgFontPx) +
         "\" text-anchor=\"middle\">" + xml_escape(label.caption) + "</text>\n</g>\n";
  return {geo.symbol_w, geo.symbol_h + kTextGapPx + kSvgFontPx + 8};
}

bool write_file(const std::filesystem::path& path, const void* data, std::size_t size, std::ostream& out,
                std::ostream& err) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) {
    err << "tally labels: cannot write " << path.string() << '\n';
    return false;
  }
  out << path.string() << '\n';
  return true;
}

}  // namespace

std::vector<LabelSpec> bin_labels(const std::vector<std::string>& bins) {
  std::vector<LabelSpec> out;
  for (const auto& b : bins) out.push_back({"bin-" + safe_name(b), b, b, scanner::Symbology::code128});
  return out;
}

std::vector<LabelSpec> badge_labels(const std::vector<std::string>& operators) {
  std::vector<LabelSpec> out;
  for (const auto& op : operators) {
    out.push_back({"badge-" + safe_name(op), "OP:" + op, "OPERATOR " + op, scanner::Symbology::code128});
  }
  return out;
}

std::vector<LabelSpec> command_labels(const std::vector<int>& quantities, const std::vector<std::string>& reasons) {
  std::vector<LabelSpec> out;
  for (const auto verb : scanner::command_verbs()) {
    const std::string v(verb);
    out.push_back({"cmd-" + safe_name(v), "CMD:" + v, v, scanner::Symbology::qrcode});
  }
  for (const auto state : scanner::all_stock_states()) {
    std::string name(scanner::to_string(state));
    std::string upper = name;
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    out.push_back({"cmd-state-" + safe_name(name), "CMD:STATE:" + upper, "STATE " + upper, scanner::Symbology::qrcode});
  }
  for (int q : quantities) {
    const std::string n = std::to_string(q);
    out.push_back({"cmd-qty-" + n, "CMD:QTY:" + n, "QTY " + n, scanner::Symbology::qrcode});
  }
  for (const auto& r : reasons) {
    out.push_back({"cmd-reason-" + safe_name(r), "CMD:REASON:" + r, "REASON " + r, scanner::Symbology::qrcode});
  }
  return out;
}

LabelSpec self_test_label() {
  return {"self-test", scanner::self_test_payload(), std::string(scanner::kSelfTestCaption),
          scanner::Symbology::code128};
}

Result<GreyRaster> render_raster(const LabelSpec& label, const RenderOptions& o) {
  auto grid = scanner::encode_symbol(label.text, label.format);
  if (!grid) return grid.error();
  const scanner::ModuleGrid& g = *grid;
  const Geometry geo = geometry(g, o, label);
  const int scale = std::max(1, o.text_scale);
  std::string caption = ascii_caption(label.caption);
  const int text_w = stb_easy_font_width(caption.data()) * scale;
  const int text_h = 8 * scale;
  GreyRaster r;
  r.width = std::max(geo.symbol_w, text_w + 2 * geo.quiet);
  r.height = geo.symbol_h + text_h + kTextGapPx;
  r.pixels.assign(static_cast<std::size_t>(r.width) * static_cast<std::size_t>(r.height), 255);
  const int left = (r.width - geo.symbol_w) / 2 + geo.quiet;
  const int row_h = g.linear() ? std::max(1, o.bar_height_px) : geo.module;
  const int rows = g.linear() ? 1 : g.height;
  for (int gy = 0; gy < rows; ++gy) {
    for (int gx = 0; gx < g.width; ++gx) {
      if (!g.at(gx, gy)) continue;
      for (int y = geo.quiet + gy * row_h; y < geo.quiet + (gy + 1) * row_h; ++y) {
        auto* row = r.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(r.width);
        std::fill(row + left + gx * geo.module, row + left + (gx + 1) * geo.module, std::uint8_t{0});
      }
    }
  }
  draw_text(r, caption, (r.width - text_w) / 2, geo.symbol_h, scale);
  return r;
}

Result<std::vector<std::uint8_t>> encode_png(const GreyRaster& raster) {
  std::vector<std::uint8_t> out;
  const auto sink = [](void* context, void* data, int size) {
    auto* v = static_cast<std::vector<std::uint8_t>*>(context);
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    v->insert(v->end(), bytes, bytes + size);
  };
  if (raster.width <= 0 || raster.height <= 0 ||
      stbi_write_png_to_func(sink, &out, raster.width, raster.height, 1, raster.pixels.data(), raster.width) == 0) {
    return make_error("png_failed", "cannot encode the PNG");
  }
  return out;
}

Result<std::string> render_svg(const std::vector<LabelSpec>& labels, const std::string& title,
                               const RenderOptions& o) {
  constexpr int kGap = 24;
  constexpr int kSheetWidth = 1600;  // px; the sheet scales to the paper when printed
  std::string body;
  int x = kGap;
  int y = kGap + (labels.size() > 1 ? 40 : 0);
  int row_h = 0;
  int width = 0;
  for (const auto& label : labels) {
    auto grid = scanner::encode_symbol(label.text, label.format);
    if (!grid) return Error{grid.error().code, label.file + ": " + grid.error().message};
    const Geometry geo = geometry(*grid, o, label);
    if (x > kGap && x + geo.symbol_w > kSheetWidth) {
      x = kGap;
      y += row_h + kGap;
      row_h = 0;
    }
    const auto [w, h] = svg_label(body, label, *grid, o, x, y);
    x += w + kGap;
    width = std::max(width, x);
    row_h = std::max(row_h, h);
  }
  const int height = y + row_h + kGap;
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" shape-rendering=\"crispEdges\">\n<title>" + xml_escape(title) + "</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  if (labels.size() > 1) {
    svg += "<text x=\"" + std::to_string(kGap) + "\" y=\"" + std::to_string(kGap + 20) +
           "\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"22\">" + xml_escape(title) + "</text>\n";
  }
  svg += body + "</svg>\n";
  return svg;
}

int run_labels_command(const LabelsCommandOptions& o, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  const std::filesystem::path dir(o.out_dir);
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err << "tally labels: cannot create " << dir.string() << ": " << ec.message() << '\n';
    return 1;
  }
  struct Set {
    std::string name;
    std::string title;
    std::vector<LabelSpec> labels;
  };
  std::vector<Set> sets;
  if (!o.bins.empty()) sets.push_back({"bins", "Tally bin labels", bin_labels(o.bins)});
  if (!o.badges.empty()) sets.push_back({"badges", "Tally operator badges", badge_labels(o.badges)});
  if (o.commands) sets.push_back({"commands", "Tally command sheet", command_labels(o.quantities, o.reasons)});
  if (o.self_test) sets.push_back({"", "Tally scanner self-test", {self_test_label()}});
  if (sets.empty()) {
    err << "tally labels: nothing to print: give --bin, --badge, --commands or --self-test\n";
    return 2;
  }
  bool ok = true;
  for (const auto& set : sets) {
    std::vector<LabelSpec> printable;
    for (const auto& label : set.labels) {
      bool good = true;
      if (o.png) {
        auto raster = render_raster(label, o.render);
        auto png = raster ? encode_png(*raster) : Result<std::vector<std::uint8_t>>(raster.error());
        if (!png) {
          err << "tally labels: " << label.file << ": " << png.error().message << " [" << png.error().code << "]\n";
          good = false;
        } else {
          ok = write_file(dir / (label.file + ".png"), png->data(), png->size(), out, err) && ok;
        }
      }
      if (o.svg && good) {
        auto svg = render_svg({label}, label.caption, o.render);
        if (!svg) {
          err << "tally labels: " << label.file << ": " << svg.error().message << " [" << svg.error().code << "]\n";
          good = false;
        } else {
          ok = write_file(dir / (label.file + ".svg"), svg->data(), svg->size(), out, err) && ok;
        }
      }
      ok = ok && good;
      if (good) printable.push_back(label);
    }
    if (o.svg && !set.name.empty() && !printable.empty()) {
      auto sheet = render_svg(printable, set.title, o.render);
      if (sheet) ok = write_file(dir / ("sheet-" + set.name + ".svg"), sheet->data(), sheet->size(), out, err) && ok;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace tally::device
