// `tally labels`: printable bin labels, operator badges, a command sheet and
// the scanner self-test label, as PNG (one file per label) and SVG (one file
// per label plus one printable sheet per set), so a site can run Tally with
// scans alone.
//
// Symbols come from scanner::encode_symbol() (ZXing's writer behind the
// scanner adapter): Code 128 for bins, badges and the self-test label (what
// every handheld reads), QR for the command sheet (compact, read from any
// angle). Under each symbol its text is printed: as SVG <text>, and in the
// PNG with stb_easy_font's built-in vector font (ASCII only, rasterised).
//
// Files (in --out DIR, created if missing):
//   bin-<code>.png/.svg, badge-<id>.png/.svg, cmd-<verb>.png/.svg,
//   cmd-qty-<n>.png/.svg, cmd-reason-<code>.png/.svg, self-test.png/.svg,
//   sheet-bins.svg, sheet-badges.svg, sheet-commands.svg (every label of the
//   set tiled for printing). Characters other than [A-Za-z0-9._-] in a file
//   name become '_'. One line per written file on stdout.
// Exit code: 0 all written; 1 a label could not be encoded or a file not
// written (stderr says which; the others are still written); 2 usage error.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "tally/scanner/decode.hpp"
#include "tally/scanner/encode.hpp"
#include "tally/scanner/result.hpp"
#include "tally/scanner/session.hpp"

namespace tally::device {

struct LabelSpec {
  std::string file;     // file stem (no extension), already safe
  std::string text;     // what the symbol encodes
  std::string caption;  // printed under the symbol
  scanner::Symbology format = scanner::Symbology::code128;
};

std::vector<LabelSpec> bin_labels(const std::vector<std::string>& bins);            // Code 128, text = bin
std::vector<LabelSpec> badge_labels(const std::vector<std::string>& operators);     // Code 128, OP:<id>
std::vector<LabelSpec> command_labels(const std::vector<int>& quantities,           // QR: CMD:<VERB>, CMD:STATE:s,
                                      const std::vector<std::string>& reasons);     // CMD:QTY:n, CMD:REASON:c
                                                                                    // (verbs and states: scanner/)
LabelSpec self_test_label();                                                        // Code 128 with a GS

struct RenderOptions {
  int module_px = 3;        // pixels per module (linear: bar width unit)
  int bar_height_px = 100;  // linear symbols
  int text_scale = 2;       // PNG caption: stb_easy_font pixels (≈7 px tall) times this
};

struct GreyRaster {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // 0 = black, 255 = white
};

// The label as pixels: quiet zone, symbol, caption. Errors of encode_symbol().
Result<GreyRaster> render_raster(const LabelSpec& label, const RenderOptions& options = {});
// PNG bytes of a raster. Error code "png_failed".
Result<std::vector<std::uint8_t>> encode_png(const GreyRaster& raster);
// An SVG document with the labels tiled in rows (one label: just it), each
// with its caption as <text>. Errors of encode_symbol().
Result<std::string> render_svg(const std::vector<LabelSpec>& labels, const std::string& title,
                               const RenderOptions& options = {});

struct LabelsCommandOptions {
  std::string out_dir = ".";
  std::vector<std::string> bins;
  std::vector<std::string> badges;
  bool commands = false;
  std::vector<int> quantities{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  // Reason codes printed: a default session's (scanner::default_reason_codes).
  std::vector<std::string> reasons = scanner::default_reason_codes();
  bool self_test = false;
  bool png = true;
  bool svg = true;
  RenderOptions render;
};

int run_labels_command(const LabelsCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tally::device
