// scanner::decode() against the real test images of
// $TALLY_TESTDATA/barcodes (truth.csv), plus the frame formats, options and
// the ZXing-cpp 1.4 abort (issue 740) that decode() must steer around.
#define ZX_USE_UTF8 1
#include "tally/scanner/decode.hpp"

#include <gtest/gtest.h>
#include <ZXing/ReadBarcode.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "barcode_truth.hpp"
#include "canvas.hpp"
#include "quarter_turn.hpp"
#include "tally/device/image_file.hpp"

namespace tally::scanner {
namespace {

using test::BarcodeTruth;

std::vector<BarcodeTruth> rows(const std::string& kind) {
  std::vector<BarcodeTruth> out;
  for (auto& t : test::load_barcode_truth()) {
    if (t.kind == kind) out.push_back(t);
  }
  return out;
}

device::GreyImage load(const std::string& path) {
  auto img = device::load_image_file(path);
  if (!img) throw std::runtime_error("cannot load " + path + ": " + img.error().message);
  return std::move(img).value();
}

std::string show(const std::vector<Symbol>& syms) {
  std::string s;
  for (const auto& x : syms) s += "[" + x.format + " " + x.aim_id + " '" + x.text + "'] ";
  return s;
}

TEST(Decode, TestDataIsPresent) {
  // Fails with a clear message when $TALLY_TESTDATA or the barcodes are missing.
  ASSERT_NO_THROW(test::barcodes_dir());
  EXPECT_EQ(rows("clean").size(), 27u);
}

TEST(Decode, EveryCleanImageDecodesExactly) {
  const auto clean = rows("clean");
  ASSERT_FALSE(clean.empty());
  for (const auto& t : clean) {
    SCOPED_TRACE(t.file);
    const auto img = load(t.path);
    auto r = decode(img.frame());
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->size(), 1u) << show(*r);
    EXPECT_EQ(r->front().text, t.text);
    EXPECT_EQ(r->front().format, t.format);
    EXPECT_EQ(r->front().aim_id, t.aim_id);
  }
}

// No image of the corpus turned by 90°, 180° or 270° may crash the decoder
// (ZXing-cpp 1.4 asserts on some: zxing_adapter.hpp); an abort here ends the
// test binary, which fails the test. Clean images at every quarter turn
// keep their read; each degraded frame at one of them (in turn, to keep the
// sanitizer builds' time down).
TEST(Decode, NoCorpusImageCrashesTheDecoderAtAnyQuarterTurn) {
  int clean_read = 0;
  int clean_total = 0;
  int frame_index = 0;
  for (const char* kind : {"clean", "frame"}) {
    const bool clean = std::string(kind) == "clean";
    for (const auto& t : rows(kind)) {
      const auto img = load(t.path);
      const int first = clean ? 1 : 1 + frame_index % 3;
      const int last = clean ? 3 : first;
      ++frame_index;
      for (int q = first; q <= last; ++q) {
        SCOPED_TRACE(t.file + " turned " + std::to_string(90 * q));
        const auto rot = test::quarter_turned(img, q);
        auto r = decode(rot.frame());
        ASSERT_TRUE(r.ok()) << r.error().message;
        for (const auto& s : *r) EXPECT_EQ(s.text, t.text) << "false read";
        if (clean) {
          ++clean_total;
          clean_read += r->empty() ? 0 : 1;
        }
      }
    }
  }
  EXPECT_EQ(clean_read, clean_total);
}

TEST(Decode, DegradedFramesNeverGiveFalseText) {
  const auto frames = rows("frame");
  ASSERT_FALSE(frames.empty());
  std::map<std::string, std::pair<int, int>> by_class;  // class -> (read, total)
  int read = 0;
  for (const auto& t : frames) {
    SCOPED_TRACE(t.file);
    const auto img = load(t.path);
    auto r = decode(img.frame());
    ASSERT_TRUE(r.ok()) << r.error().message;
    for (const auto& s : *r) {
      EXPECT_EQ(s.text, t.text) << "false read";
      EXPECT_EQ(s.format, t.format);
    }
    const bool hit = std::any_of(r->begin(), r->end(), [&](const Symbol& s) { return s.text == t.text; });
    read += hit ? 1 : 0;
    by_class[t.degradation_class].first += hit ? 1 : 0;
    by_class[t.degradation_class].second += 1;
  }
  // A benchmark figure, not an assertion (tests/bench/decode_bench.cpp).
  std::printf("degraded frames read: %d/%zu (%.1f %%)\n", read, frames.size(), 100.0 * read / double(frames.size()));
  for (const auto& [cls, n] : by_class) std::printf("  %-14s %d/%d\n", cls.c_str(), n.first, n.second);
  RecordProperty("degraded_read", read);
  RecordProperty("degraded_total", static_cast<int>(frames.size()));
}

TEST(Decode, NegativeFramesFindNothing) {
  const auto neg = rows("negative");
  ASSERT_FALSE(neg.empty());
  for (const auto& t : neg) {
    SCOPED_TRACE(t.file);
    const auto img = load(t.path);
    auto r = decode(img.frame());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->empty()) << show(*r);
  }
}

// Grey -> YUYV with noise in the chroma bytes (they must be ignored) and a
// padded stride.
std::vector<std::uint8_t> to_yuyv(const device::GreyImage& g, int stride) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(stride) * static_cast<std::size_t>(g.height), 0x5A);
  std::mt19937 rng(7);
  for (int y = 0; y < g.height; ++y) {
    for (int x = 0; x < g.width; ++x) {
      const auto i = static_cast<std::size_t>(y) * static_cast<std::size_t>(stride) + 2 * static_cast<std::size_t>(x);
      out[i] = g.pixels[static_cast<std::size_t>(y * g.width + x)];
      out[i + 1] = static_cast<std::uint8_t>(rng());
    }
  }
  return out;
}

TEST(Decode, YuyvFramesDecodeLikeGrey) {
  int checked = 0;
  for (const auto& t : test::load_barcode_truth()) {
    if (t.kind == "negative") continue;
    const auto g = load(t.path);
    if (g.width % 2 != 0) continue;
    if (t.kind == "frame" && checked >= 6) break;
    SCOPED_TRACE(t.file);
    const int stride = g.width * 2 + 64;
    const auto yuyv = to_yuyv(g, stride);
    auto ry = decode(Frame{yuyv.data(), g.width, g.height, stride, PixelFormat::yuyv});
    auto rg = decode(g.frame());
    ASSERT_TRUE(ry.ok() && rg.ok());
    ASSERT_EQ(ry->size(), rg->size()) << show(*ry) << " vs " << show(*rg);
    for (std::size_t i = 0; i < ry->size(); ++i) {
      EXPECT_EQ((*ry)[i].text, (*rg)[i].text);
      EXPECT_EQ((*ry)[i].position, (*rg)[i].position);
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(Decode, PaddedGreyStride) {
  const auto g = load((test::barcodes_dir() / "clean/c043_qr.png").string());
  const int stride = g.width + 13;
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(stride * g.height), 0);
  for (int y = 0; y < g.height; ++y) {
    std::copy_n(g.pixels.begin() + y * g.width, g.width, buf.begin() + y * stride);
  }
  auto r = decode(Frame{buf.data(), g.width, g.height, stride, PixelFormat::grey});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().text, "BIN:B-12-04-1");
}

using test::Canvas;

std::vector<std::string> sorted_texts(const std::vector<Symbol>& syms) {
  std::vector<std::string> texts;
  for (const auto& s : syms) texts.push_back(s.text);
  std::sort(texts.begin(), texts.end());
  return texts;
}

TEST(Decode, SeveralSymbolsInOneFrame) {
  // Aimed: the linear symbols cross the middle rows, which the fast pass scans.
  const auto dir = test::barcodes_dir() / "clean";
  // The fast pass finds a DataMatrix only near the centre of the frame.
  Canvas c(2300, 600);
  c.paste(load((dir / "c001_ean13.png").string()), 20, 200);      // EAN-13
  c.paste(load((dir / "c015_code128.png").string()), 500, 150);   // Code 128
  c.paste(load((dir / "c042_dm.png").string()), 1080, 230);       // DataMatrix, centre
  c.paste(load((dir / "c056_code39.png").string()), 1250, 250);   // Code 39
  c.paste(load((dir / "c043_qr.png").string()), 1900, 10);        // QR
  auto r = decode(c.frame());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(sorted_texts(*r), (std::vector<std::string>{"4006381333931", "BIN-A0102", "BIN:B-12-04-1",
                                                        "LPN00012345678", "PO-12345"}))
      << show(*r);
  DecodeOptions two;
  two.max_symbols = 2;
  auto r2 = decode(c.frame(), two);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->size(), 2u);
}

TEST(Decode, ExhaustiveFindsLinearSymbolsAwayFromTheMiddle) {
  const auto dir = test::barcodes_dir() / "clean";
  Canvas c(1400, 900);
  c.paste(load((dir / "c001_ean13.png").string()), 20, 20);       // EAN-13, top
  c.paste(load((dir / "c015_code128.png").string()), 700, 20);    // Code 128, top
  c.paste(load((dir / "c056_code39.png").string()), 20, 400);     // Code 39, middle
  c.paste(load((dir / "c043_qr.png").string()), 800, 400);        // QR
  c.paste(load((dir / "c042_dm.png").string()), 1100, 400);       // DataMatrix
  auto fast = decode(c.frame());
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(sorted_texts(*fast), (std::vector<std::string>{"BIN:B-12-04-1", "LPN00012345678", "PO-12345"}))
      << show(*fast);
  DecodeOptions all;
  all.exhaustive = true;
  auto r = decode(c.frame(), all);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(sorted_texts(*r), (std::vector<std::string>{"4006381333931", "BIN-A0102", "BIN:B-12-04-1",
                                                        "LPN00012345678", "PO-12345"}))
      << show(*r);
}

// Corners as min/max box.
struct Box {
  int x0, y0, x1, y1;
};
Box box_of(const Symbol& s) {
  Box b{s.position[0].x, s.position[0].y, s.position[0].x, s.position[0].y};
  for (const Point& p : s.position) {
    b.x0 = std::min(b.x0, p.x);
    b.y0 = std::min(b.y0, p.y);
    b.x1 = std::max(b.x1, p.x);
    b.y1 = std::max(b.y1, p.y);
  }
  return b;
}

TEST(Decode, PositionIsWhereTheSymbolIs) {
  const auto dir = test::barcodes_dir() / "clean";
  for (const char* name : {"c043_qr.png", "c042_dm.png", "c001_ean13.png", "c015_code128.png"}) {
    SCOPED_TRACE(name);
    const auto g = load((dir / name).string());
    // The clean image alone: every corner inside the image.
    auto plain = decode(g.frame());
    ASSERT_TRUE(plain.ok());
    ASSERT_EQ(plain->size(), 1u);
    for (const Point& p : plain->front().position) {
      EXPECT_GE(p.x, 0);
      EXPECT_GE(p.y, 0);
      EXPECT_LT(p.x, g.width);
      EXPECT_LT(p.y, g.height);
    }
    // Pasted at two places on a larger frame (both crossing the middle rows,
    // where the fast pass looks for linear codes): the corners lie on the
    // pasted symbol, span a good part of it, and move exactly with it.
    const int w = g.width + 500, h = g.height + 400;
    Canvas a(w, h), b(w, h);
    a.paste(g, 100, 150);
    b.paste(g, 430, 250);
    auto ra = decode(a.frame());
    auto rb = decode(b.frame());
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->size(), 1u);
    ASSERT_EQ(rb->size(), 1u);
    const Box ba = box_of(ra->front());
    EXPECT_GE(ba.x0, 100);
    EXPECT_GE(ba.y0, 150);
    EXPECT_LT(ba.x1, 100 + g.width);
    EXPECT_LT(ba.y1, 150 + g.height);
    EXPECT_GT(ba.x1 - ba.x0, g.width / 2) << "the corners span the symbol's width";
    const Box bb = box_of(rb->front());
    EXPECT_GE(bb.y0, 250);
    EXPECT_LT(bb.y1, 250 + g.height);
    // A linear symbol's corners are the ends of the scan lines that read it
    // (the frame's middle rows): exact across the bars, not along them.
    const bool linear = ra->front().format == "EAN-13" || ra->front().format == "Code128";
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(rb->front().position[i].x - ra->front().position[i].x, 330) << "corner " << i;
      if (!linear) {
        EXPECT_EQ(rb->front().position[i].y - ra->front().position[i].y, 100) << "corner " << i;
      }
    }
  }
}

// A copy of a grey image turned by 90 degrees (clockwise).
device::GreyImage rotate90(const device::GreyImage& g) {
  device::GreyImage r;
  r.width = g.height;
  r.height = g.width;
  r.pixels.resize(g.pixels.size());
  for (int y = 0; y < g.height; ++y)
    for (int x = 0; x < g.width; ++x)
      r.pixels[static_cast<std::size_t>(x * r.width + (g.height - 1 - y))] =
          g.pixels[static_cast<std::size_t>(y * g.width + x)];
  return r;
}

TEST(Decode, EasyFramesAreReadByTheFastPassAlone) {
  const auto clean = rows("clean");
  ASSERT_FALSE(clean.empty());
  DecodeOptions fast_only;
  fast_only.try_harder_fallback = false;
  for (const auto& t : clean) {
    SCOPED_TRACE(t.file);
    const auto img = load(t.path);
    auto r = decode(img.frame());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front().pass, DecodePass::fast);
    auto f = decode(img.frame(), fast_only);  // the fast pass alone finds the same
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(f->size(), 1u);
    EXPECT_EQ(f->front().text, t.text);
  }
  // A linear symbol turned by 90 degrees needs the slow pass (rotation), and says so.
  const auto turned = rotate90(load((test::barcodes_dir() / "clean/c001_ean13.png").string()));
  auto f = decode(turned.frame(), fast_only);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->empty()) << show(*f);
  auto r = decode(turned.frame());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u) << show(*r);
  EXPECT_EQ(r->front().text, "4006381333931");
  EXPECT_EQ(r->front().pass, DecodePass::slow);
  EXPECT_EQ(pass_name(DecodePass::fast), "fast");
  EXPECT_EQ(pass_name(DecodePass::slow), "slow");
  EXPECT_EQ(pass_name(DecodePass::upscale), "upscale");
}

TEST(Decode, FixedThresholdPassReadsGlaredLinearCodes) {
  // A GS1-128 under shading/glare: ZXing's per-row threshold misses it at
  // every setting and scale; one fixed threshold reads it.
  const auto g = load((test::barcodes_dir() / "frames/c022_gs1-128_v2_shading_glare.jpg").string());
  DecodeOptions without;
  without.threshold_fallback = false;
  auto r0 = decode(g.frame(), without);
  ASSERT_TRUE(r0.ok());
  EXPECT_TRUE(r0->empty()) << show(*r0);
  auto r = decode(g.frame());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u) << show(*r);
  EXPECT_EQ(r->front().text, "010950600013435210ABC123\x1d" "17261231");
  EXPECT_EQ(r->front().pass, DecodePass::threshold);
  EXPECT_EQ(pass_name(DecodePass::threshold), "threshold");
}

TEST(Decode, UpscalePassReadsBlurredQrOnSmallFramesOnly) {
  // A blurred QR code in a 640x480 frame: only the 2x upscaled copy reads
  // it; with matrix codes kept out of that copy it stays unread.
  const auto g = load((test::barcodes_dir() / "frames/c047_qr_v3_blur.jpg").string());
  auto r = decode(g.frame());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u) << show(*r);
  EXPECT_EQ(r->front().pass, DecodePass::upscale);
  EXPECT_EQ(r->front().format, "QRCode");
  DecodeOptions linear_only;
  linear_only.upscale_matrix_max_pixels = 0;
  auto r0 = decode(g.frame(), linear_only);
  ASSERT_TRUE(r0.ok());
  EXPECT_TRUE(r0->empty()) << show(*r0);
  DecodeOptions cap_below;  // the cap compares the frame's own pixels
  cap_below.upscale_matrix_max_pixels = 640 * 480 - 1;
  auto r1 = decode(g.frame(), cap_below);
  ASSERT_TRUE(r1.ok());
  EXPECT_TRUE(r1->empty()) << show(*r1);
}

TEST(Decode, Upscale2xIsBilinearAtHalfPixelCentres) {
  // Reference: output (x, y) samples the source at ((x-0.5)/2, (y-0.5)/2),
  // clamped at the edges, weights in quarters, rounded.
  std::mt19937 rng(7);
  for (const auto& [w, h] : {std::pair{1, 1}, std::pair{2, 3}, std::pair{7, 5}, std::pair{33, 17}}) {
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h));
    for (auto& p : px) p = static_cast<std::uint8_t>(rng() & 0xFF);
    const auto up = upscale2x(Frame{px.data(), w, h, 0, PixelFormat::grey});
    ASSERT_EQ(up.size(), static_cast<std::size_t>(4 * w * h));
    const auto at = [&](int x, int y) { return static_cast<int>(px[static_cast<std::size_t>(y * w + x)]); };
    for (int y = 0; y < 2 * h; ++y) {
      for (int x = 0; x < 2 * w; ++x) {
        const int sx4 = std::max(0, 2 * x - 1), sy4 = std::max(0, 2 * y - 1);
        const int x0 = std::min(sx4 / 4, w - 1), x1 = std::min(x0 + 1, w - 1), fx = sx4 % 4;
        const int y0 = std::min(sy4 / 4, h - 1), y1 = std::min(y0 + 1, h - 1), fy = sy4 % 4;
        const int top = at(x0, y0) * (4 - fx) + at(x1, y0) * fx;
        const int bottom = at(x0, y1) * (4 - fx) + at(x1, y1) * fx;
        ASSERT_EQ(up[static_cast<std::size_t>(y * 2 * w + x)], (top * (4 - fy) + bottom * fy + 8) / 16)
            << w << "x" << h << " at " << x << "," << y;
      }
    }
    // YUYV: the luminance bytes only, the same result.
    std::vector<std::uint8_t> yuyv;
    if (w % 2 == 0) {
      for (auto p : px) {
        yuyv.push_back(p);
        yuyv.push_back(0x80);
      }
      EXPECT_EQ(upscale2x(Frame{yuyv.data(), w, h, 0, PixelFormat::yuyv}), up);
    }
  }
}

TEST(Decode, FormatsOptionRestrictsSymbologies) {
  const auto g = load((test::barcodes_dir() / "clean/c001_ean13.png").string());
  DecodeOptions qr_only;
  qr_only.formats = static_cast<SymbologySet>(Symbology::qrcode);
  auto r = decode(g.frame(), qr_only);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  DecodeOptions all;
  all.formats = 0;
  auto r2 = decode(g.frame(), all);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->size(), 1u);
}

TEST(Decode, RejectsBadFramesAndOptions) {
  std::uint8_t px[16] = {};
  EXPECT_EQ(decode(Frame{nullptr, 4, 4, 0, PixelFormat::grey}).error().code, "bad_frame");
  EXPECT_EQ(decode(Frame{px, 0, 4, 0, PixelFormat::grey}).error().code, "bad_frame");
  EXPECT_EQ(decode(Frame{px, 3, 2, 0, PixelFormat::yuyv}).error().code, "bad_frame");
  EXPECT_EQ(decode(Frame{px, 4, 4, 3, PixelFormat::grey}).error().code, "bad_frame");
  EXPECT_EQ(decode(Frame{px, 100000, 1, 0, PixelFormat::grey}).error().code, "bad_frame");
  EXPECT_EQ(decode(Frame{px, 4, 4, 0, static_cast<PixelFormat>(9)}).error().code, "bad_frame");
  DecodeOptions o;
  o.max_symbols = 0;
  EXPECT_EQ(decode(Frame{px, 4, 4, 0, PixelFormat::grey}, o).error().code, "bad_options");
  DecodeOptions negative_cap;
  negative_cap.upscale_matrix_max_pixels = -1;
  EXPECT_EQ(decode(Frame{px, 4, 4, 0, PixelFormat::grey}, negative_cap).error().code, "bad_options");
  auto ok = decode(Frame{px, 4, 4, 0, PixelFormat::grey});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->empty());
}

TEST(Decode, ParseSymbologies) {
  auto r = parse_symbologies("EAN-13, qrcode|data_matrix");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Symbology::ean13 | Symbology::qrcode | Symbology::datamatrix);
  EXPECT_EQ(*parse_symbologies(""), 0u);
  EXPECT_EQ(parse_symbologies("EAN-14").error().code, "bad_format");
}

// ZXing-cpp 1.4.0 (Debian, assertions on) aborts on these frames when asked
// for several symbols at once (upstream issue 740: Result::operator==
// `lineCount() == 1`). They were found by pasting the clean test symbols
// at random onto frames (tests/data/decode/README.md). decode() must read
// them without dying.
std::string data_file(const char* name) { return std::string(TALLY_TEST_DATA_DIR) + "/decode/" + name; }

TEST(DecodeZxing740DeathTest, RawZxingMultiSymbolReadAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto g = load(data_file("zxing740_fast_multi.png"));
  const ZXing::ImageView view(g.pixels.data(), g.width, g.height, ZXing::ImageFormat::Lum);
  ZXing::DecodeHints fast;  // multi-symbol (the default), nothing expensive
  fast.setTryHarder(false).setTryRotate(false).setTryDownscale(false);
  EXPECT_DEATH((void)ZXing::ReadBarcodes(view, fast), "lineCount");

  const auto g2 = load(data_file("zxing740_tryharder_multi.png"));
  const ZXing::ImageView view2(g2.pixels.data(), g2.width, g2.height, ZXing::ImageFormat::Lum);
  ZXing::DecodeHints harder;
  harder.setTryHarder(true).setTryRotate(false).setTryDownscale(false);
  EXPECT_DEATH((void)ZXing::ReadBarcodes(view2, harder), "lineCount");
}

TEST(Decode, Zxing740FramesDecodeWithoutAborting) {
  for (const char* name : {"zxing740_fast_multi.png", "zxing740_tryharder_multi.png"}) {
    SCOPED_TRACE(name);
    const auto g = load(data_file(name));
    auto r = decode(g.frame());  // in this process: an abort would end the test run
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->empty());
    std::printf("%s: %s\n", name, show(*r).c_str());
  }
}

}  // namespace
}  // namespace tally::scanner
