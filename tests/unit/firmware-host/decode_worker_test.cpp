// Image loading, the crash-isolating DecodeWorker process and
// `tally decode` (firmware-host/include/tally/device/{image_file,
// decode_worker,decode_command}.hpp).
#include "tally/device/decode_worker.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "barcode_truth.hpp"
#include "canvas.hpp"
#include "tally/device/decode_command.hpp"
#include "tally/device/image_file.hpp"
#include "temp_dir.hpp"
#ifdef TALLY_CLI_PATH
#include "daemon.hpp"
#endif

namespace tally::device {
namespace {

std::string clean(const char* name) { return (test::barcodes_dir() / "clean" / name).string(); }

GreyImage load(const std::string& path) {
  auto img = load_image_file(path);
  if (!img) throw std::runtime_error(img.error().message);
  return std::move(img).value();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---- image files ----------------------------------------------------------

TEST(ImageFile, LoadsPngAndJpegAsGrey) {
  auto png = load_image_file(clean("c001_ean13.png"));
  ASSERT_TRUE(png.ok()) << png.error().message;
  EXPECT_EQ(png->width, 452);
  EXPECT_EQ(png->height, 232);
  EXPECT_EQ(png->pixels.size(), 452u * 232u);
  auto jpg = load_image_file((test::barcodes_dir() / "frames/c001_ean13_v1_scene.jpg").string());
  ASSERT_TRUE(jpg.ok()) << jpg.error().message;
  EXPECT_EQ(jpg->width, 640);
  EXPECT_EQ(jpg->height, 480);
}

TEST(ImageFile, ClearErrors) {
  test::TempDir dir;
  EXPECT_EQ(load_image_file(dir.str() + "/missing.png").error().code, "io_error");
  EXPECT_EQ(load_image_file(dir.str()).error().code, "io_error");
  write_file(dir.str() + "/notes.txt", "hello, not an image\n");
  auto txt = load_image_file(dir.str() + "/notes.txt");
  EXPECT_EQ(txt.error().code, "not_an_image");
  EXPECT_NE(txt.error().message.find("notes.txt"), std::string::npos);
  write_file(dir.str() + "/empty.png", "");
  EXPECT_EQ(load_image_file(dir.str() + "/empty.png").error().code, "not_an_image");
  const std::string png = read_all(clean("c043_qr.png"));
  write_file(dir.str() + "/cut.png", png.substr(0, png.size() / 2));
  EXPECT_EQ(load_image_file(dir.str() + "/cut.png").error().code, "not_an_image");
  // A PNG header claiming 100000x100000 pixels: refused before decoding.
  std::string huge = png.substr(0, 33);
  const unsigned char dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
  huge.replace(16, 8, reinterpret_cast<const char*>(dims), 8);
  write_file(dir.str() + "/huge.png", huge);
  auto h = load_image_file(dir.str() + "/huge.png");
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(h.error().code == "image_too_large" || h.error().code == "not_an_image") << h.error().code;
}

// A DHT segment whose 16 code counts sum past 256: Debian's stb_image would
// write past its Huffman tables (UBSan in fuzz_image). Refused, with a reason.
TEST(ImageFile, JpegHuffmanTableWithTooManyCodesIsRefused) {
  const std::string jpg = read_all((test::barcodes_dir() / "frames/c001_ean13_v1_scene.jpg").string());
  const auto dht = jpg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  std::string bad = jpg;
  for (std::size_t k = 0; k < 16; ++k) bad[dht + 5 + k] = '\xFF';  // after marker, length and Tc/Th
  auto r = decode_image(std::span(reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_an_image");
  EXPECT_NE(r.error().message.find("Huffman table with 4080 codes"), std::string::npos) << r.error().message;
  // stb also takes fill bytes before SOI ("FF FF D8"): so does the check.
  const std::string filled = "\xFF" + bad;
  auto f = decode_image(std::span(reinterpret_cast<const std::uint8_t*>(filled.data()), filled.size()));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("Huffman table with 4080 codes"), std::string::npos) << f.error().message;
  // The unmodified image still decodes: the walk accepts real JPEGs.
  EXPECT_TRUE(decode_image(std::span(reinterpret_cast<const std::uint8_t*>(jpg.data()), jpg.size())).ok());
}

// A zero-length IDAT chunk before the image data (legal PNG) made Debian's
// stb memcpy to NULL (UB; image_fuzz under UBSan, seed regress-empty-idat):
// the image decodes, to the same pixels, without stb seeing that chunk.
TEST(ImageFile, PngWithAnEmptyIdatBeforeItsDataDecodes) {
  const std::string png = read_all(clean("c001_ean13.png"));
  const auto idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::string empty_idat("\0\0\0\0IDAT\x35\xAF\x06\x1E", 12);  // length 0, type, CRC-32 of "IDAT"
  std::string odd = png;
  odd.insert(idat - 4, empty_idat);
  odd.insert(idat - 4, empty_idat);  // two of them
  auto as_span = [](const std::string& b) { return std::span(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()); };
  auto want = decode_image(as_span(png));
  ASSERT_TRUE(want.ok()) << want.error().message;
  auto got = decode_image(as_span(odd));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->width, want->width);
  EXPECT_EQ(got->height, want->height);
  EXPECT_EQ(got->pixels, want->pixels);
}

// A chunk claiming more bytes than the data holds made Debian's stb reserve
// them first (2 GiB for a 261-byte file, image_fuzz, seed
// regress-chunk-past-end): refused before stb sees it, naming the chunk.
TEST(ImageFile, PngWhoseChunkRunsPastTheEndIsRefusedUpFront) {
  const std::string png = read_all(clean("c001_ean13.png"));
  const auto idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  auto as_span = [](const std::string& b) { return std::span(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()); };
  std::string huge = png;
  huge[idat - 4] = '\x7F';  // length 0x7Fxxxxxx
  auto r = decode_image(as_span(huge));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_an_image");
  EXPECT_NE(r.error().message.find("chunk IDAT of"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("runs past the end"), std::string::npos) << r.error().message;
  // Cut inside a chunk, or before IEND: refused too.
  for (std::size_t cut : {idat + 30, png.size() - 12, png.size() - 3}) {
    auto c = decode_image(as_span(png.substr(0, cut)));
    ASSERT_FALSE(c.ok()) << cut;
    EXPECT_NE(c.error().message.find("corrupt PNG"), std::string::npos) << c.error().message;
  }
}

// ---- decode worker --------------------------------------------------------

DecodeWorkerOptions test_options() {
  DecodeWorkerOptions o;
  o.test_hooks = true;
  o.timeout = std::chrono::milliseconds(3000);
  return o;
}

void expect_reads(DecodeWorker& w, const GreyImage& g, const std::string& text) {
  auto r = w.decode(g.frame());
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().text, text);
}

TEST(DecodeWorker, DecodesFramesAndImages) {
  DecodeWorker w(test_options());
  const auto gs1 = load(clean("c022_gs1-128.png"));
  auto r = w.decode(gs1.frame());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().text, "010950600013435210ABC123\x1d" "17261231");
  EXPECT_EQ(r->front().aim_id, "]C1");
  EXPECT_EQ(r->front().format, "Code128");
  const std::string bytes = read_all(clean("c033_gs1-dm.png"));
  auto r2 = w.decode_image(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ(r2->front().aim_id, "]d2");
  const std::string junk = "definitely not a PNG";
  auto r3 = w.decode_image(std::span(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()));
  EXPECT_EQ(r3.error().code, "not_an_image");
  EXPECT_EQ(w.restarts(), 0);
}

TEST(DecodeWorker, SurvivesAWorkerThatAborts) {
  DecodeWorker w(test_options());
  const auto ean = load(clean("c001_ean13.png"));
  expect_reads(w, ean, "4006381333931");
  const pid_t before = w.pid();
  auto crashed = w.test_crash();  // the child calls abort() (test seam)
  ASSERT_FALSE(crashed.ok());
  EXPECT_EQ(crashed.error().code, "decoder_crashed");
  EXPECT_NE(crashed.error().message.find("decoder crashed on this frame"), std::string::npos);
  EXPECT_NE(crashed.error().message.find("signal 6"), std::string::npos) << crashed.error().message;
  EXPECT_NE(w.pid(), before);
  EXPECT_EQ(w.restarts(), 1);
  EXPECT_EQ(::kill(before, 0), -1);  // the old child is gone (reaped)
  expect_reads(w, ean, "4006381333931");  // the next frame decodes
  ASSERT_FALSE(w.test_crash().ok());
  ASSERT_FALSE(w.test_crash().ok());
  expect_reads(w, ean, "4006381333931");
  EXPECT_EQ(w.restarts(), 3);
}

TEST(DecodeWorker, TestHooksAreOffByDefault) {
  DecodeWorker w;
  auto r = w.test_crash();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "worker_error");
  EXPECT_EQ(w.restarts(), 0);
}

TEST(DecodeWorker, KilledWorkerIsRestarted) {
  DecodeWorker w(test_options());
  const auto qr = load(clean("c043_qr.png"));
  ::kill(w.pid(), SIGKILL);  // dies between frames, e.g. OOM killer
  auto r = w.decode(qr.frame());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "decoder_crashed");
  expect_reads(w, qr, "BIN:B-12-04-1");
}

TEST(DecodeWorker, TimesOutAHangingFrame) {
  auto o = test_options();
  o.timeout = std::chrono::milliseconds(300);
  DecodeWorker w(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = w.test_hang();
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "decode_timeout");
  EXPECT_LT(took, std::chrono::seconds(10)) << "the per-frame timeout did not fire";
  expect_reads(w, load(clean("c043_qr.png")), "BIN:B-12-04-1");
}

TEST(DecodeWorker, BoundsFrameSize) {
  auto o = test_options();
  o.max_request_bytes = 1000;
  DecodeWorker w(o);
  std::vector<std::uint8_t> px(40 * 40, 128);
  auto r = w.decode(scanner::Frame{px.data(), 40, 40, 0, scanner::PixelFormat::grey});
  EXPECT_EQ(r.error().code, "frame_too_large");
  auto bad = w.decode(scanner::Frame{px.data(), 0, 40, 0, scanner::PixelFormat::grey});
  EXPECT_EQ(bad.error().code, "bad_frame");
  EXPECT_EQ(w.restarts(), 0);
}

std::vector<std::string> sorted_texts(const std::vector<scanner::Symbol>& syms) {
  std::vector<std::string> texts;
  for (const auto& s : syms) texts.push_back(s.text);
  std::sort(texts.begin(), texts.end());
  return texts;
}

// Linear symbols away from the middle rows, which only the exhaustive mode
// finds (as tests/unit/scanner/decode_test.cpp
// ExhaustiveFindsLinearSymbolsAwayFromTheMiddle).
test::Canvas frame_needing_exhaustive() {
  test::Canvas c(1400, 900);
  c.paste(load(clean("c001_ean13.png")), 20, 20);
  c.paste(load(clean("c015_code128.png")), 700, 20);
  c.paste(load(clean("c056_code39.png")), 20, 400);
  c.paste(load(clean("c043_qr.png")), 800, 400);
  c.paste(load(clean("c042_dm.png")), 1100, 400);
  return c;
}

// Every DecodeOptions field crosses the process boundary: the worker answers
// what scanner::decode() answers in-process with the same options.
TEST(DecodeWorker, CarriesEveryDecodeOption) {
  DecodeWorker w(test_options());
  const test::Canvas c = frame_needing_exhaustive();
  scanner::DecodeOptions plain;
  scanner::DecodeOptions exhaustive;
  exhaustive.exhaustive = true;
  auto fast = w.decode(c.frame(), plain);
  auto all = w.decode(c.frame(), exhaustive);
  ASSERT_TRUE(fast.ok()) << fast.error().message;
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(sorted_texts(*all), (std::vector<std::string>{"4006381333931", "BIN-A0102", "BIN:B-12-04-1",
                                                          "LPN00012345678", "PO-12345"}));
  EXPECT_GT(all->size(), fast->size());

  std::vector<scanner::DecodeOptions> variants(6);
  variants[0].exhaustive = true;
  variants[1].exhaustive = true;
  variants[1].max_symbols = 2;
  variants[2].formats = static_cast<scanner::SymbologySet>(scanner::Symbology::qrcode);
  variants[3].try_harder_fallback = false;
  variants[4].exhaustive = true;
  variants[4].downscale_threshold = 0;
  variants[5].upscale_fallback_max_pixels = 0;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    auto in_process = scanner::decode(c.frame(), variants[i]);
    auto via_worker = w.decode(c.frame(), variants[i]);
    ASSERT_TRUE(in_process.ok() && via_worker.ok()) << "variant " << i;
    EXPECT_EQ(sorted_texts(*via_worker), sorted_texts(*in_process)) << "variant " << i;
  }
  EXPECT_EQ(w.restarts(), 0);
}

TEST(DecodeWorker, CarriesTheUpscaleMatrixCap) {
  // A blurred QR frame only the upscale pass reads (see the scanner test):
  // the worker honours upscale_matrix_max_pixels like decode() does.
  DecodeWorker w(test_options());
  const auto g = load((test::barcodes_dir() / "frames/c047_qr_v3_blur.jpg").string());
  scanner::DecodeOptions capped;
  capped.upscale_matrix_max_pixels = 0;
  auto read = w.decode(g.frame(), {});
  auto none = w.decode(g.frame(), capped);
  ASSERT_TRUE(read.ok() && none.ok());
  EXPECT_EQ(read->size(), 1u);
  EXPECT_TRUE(none->empty());
}

TEST(DecodeWorker, RealZxingAbortFramesAreSafe) {
  // Frames on which ZXing-cpp 1.4's multi-symbol read aborts (issue 740).
  DecodeWorker w(test_options());
  for (const char* name : {"zxing740_fast_multi.png", "zxing740_tryharder_multi.png"}) {
    const auto g = load(std::string(TALLY_TEST_DATA_DIR) + "/decode/" + name);
    auto r = w.decode(g.frame());
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    EXPECT_FALSE(r->empty());
  }
  EXPECT_EQ(w.restarts(), 0);
}

// Random frames and mangled image files through the worker: every answer is
// a result or a known error, and the worker keeps serving. Bounded: a fixed
// seed and count (TALLY_FUZZ_ITERATIONS overrides the count).
TEST(DecodeWorker, FuzzRandomFramesAndFiles) {
  int iterations = 250;
  if (const char* n = std::getenv("TALLY_FUZZ_ITERATIONS")) iterations = std::atoi(n);
  auto o = test_options();
  o.timeout = std::chrono::milliseconds(10000);
  DecodeWorker w(o);
  std::mt19937 rng(20261123);
  const std::string png = read_all(clean("c054_gs1-qr.png"));
  const std::string jpg = read_all((test::barcodes_dir() / "frames/c001_ean13_v1_scene.jpg").string());
  const auto base = load(clean("c012_itf14.png"));
  int ok = 0, errors = 0, crashes = 0;
  for (int i = 0; i < iterations; ++i) {
    Result<std::vector<scanner::Symbol>> r = make_error("unset", "");
    switch (i % 4) {
      case 0: {  // random noise / stripes, grey or yuyv, random stride
        const bool yuyv = rng() % 2 == 0;
        const int width = 2 * static_cast<int>(1 + rng() % 160);
        const int height = static_cast<int>(1 + rng() % 160);
        const int bpp = yuyv ? 2 : 1;
        const int stride = width * bpp + static_cast<int>(rng() % 8);
        std::vector<std::uint8_t> px(static_cast<std::size_t>(stride * height));
        const int bar = static_cast<int>(1 + rng() % 5);
        for (std::size_t k = 0; k < px.size(); ++k) {
          px[k] = rng() % 3 == 0 ? static_cast<std::uint8_t>(rng()) : ((k / static_cast<std::size_t>(bar)) % 2 ? 0 : 255);
        }
        r = w.decode(scanner::Frame{px.data(), width, height, stride,
                                    yuyv ? scanner::PixelFormat::yuyv : scanner::PixelFormat::grey});
        break;
      }
      case 1: {  // a real symbol with random pixels overwritten
        auto g = base;
        const int n = static_cast<int>(rng() % 2000);
        for (int k = 0; k < n; ++k) g.pixels[rng() % g.pixels.size()] = static_cast<std::uint8_t>(rng());
        scanner::DecodeOptions d;
        d.max_symbols = static_cast<int>(1 + rng() % 4);
        d.try_harder_fallback = rng() % 2 == 0;
        r = w.decode(g.frame(), d);
        break;
      }
      default: {  // PNG/JPEG bytes with flipped bytes or cut short
        std::string bytes = (i % 4 == 2) ? png : jpg;
        const int flips = static_cast<int>(rng() % 20);
        for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
        if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
        r = w.decode_image(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
        break;
      }
    }
    if (r.ok()) {
      ++ok;
    } else if (r.error().code == "decoder_crashed") {
      ++crashes;
    } else {
      ++errors;
      EXPECT_TRUE(r.error().code == "not_an_image" || r.error().code == "image_too_large" ||
                  r.error().code == "bad_frame")
          << r.error().code << ": " << r.error().message;
    }
  }
  std::printf("fuzz: %d ok, %d refused, %d worker crashes contained, %d restarts\n", ok, errors, crashes,
              w.restarts());
  EXPECT_EQ(w.restarts(), crashes);
  expect_reads(w, load(clean("c043_qr.png")), "BIN:B-12-04-1");
}

// ---- tally decode -----------------------------------------------------------

TEST(DecodeCommand, JsonLinesPerSymbolAndPerFileErrors) {
  test::TempDir dir;
  write_file(dir.str() + "/bad.png", "not an image");
  DecodeCommandOptions o;
  o.json = true;
  o.files = {clean("c022_gs1-128.png"), dir.str() + "/bad.png", dir.str() + "/missing.jpg",
             (test::barcodes_dir() / "negative/n005_text_label.jpg").string(), clean("c015_code128.png")};
  std::ostringstream out, err;
  const int rc = run_decode_command(o, out, err);
  EXPECT_EQ(rc, 1);
  std::istringstream lines(out.str());
  std::vector<std::string> l;
  for (std::string s; std::getline(lines, s);) l.push_back(s);
  ASSERT_EQ(l.size(), 3u) << out.str();
  EXPECT_NE(l[0].find(R"("format":"Code128","text":"010950600013435210ABC123\u001d17261231")"), std::string::npos)
      << l[0];
  EXPECT_NE(l[0].find(R"("aim_id":"]C1")"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find(R"("pass":"fast")"), std::string::npos) << l[0];
  {  // four [x,y] corners inside the image
    const auto j = nlohmann::json::parse(l[0]);
    ASSERT_TRUE(j["position"].is_array()) << l[0];
    ASSERT_EQ(j["position"].size(), 4u) << l[0];
    const auto img = load(clean("c022_gs1-128.png"));
    for (const auto& p : j["position"]) {
      EXPECT_GE(p[0].get<int>(), 0);
      EXPECT_LT(p[0].get<int>(), img.width);
      EXPECT_GE(p[1].get<int>(), 0);
      EXPECT_LT(p[1].get<int>(), img.height);
    }
  }
  EXPECT_NE(l[1].find(R"("format":null)"), std::string::npos) << l[1];
  EXPECT_NE(l[1].find(R"("position":null,"pass":null)"), std::string::npos) << l[1];
  EXPECT_NE(l[2].find(R"("text":"BIN-A0102")"), std::string::npos);
  EXPECT_NE(l[2].find(R"("gs1":null)"), std::string::npos);
  EXPECT_NE(err.str().find("bad.png: not a PNG or JPEG image"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("missing.jpg"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("[io_error]"), std::string::npos) << err.str();
}

TEST(DecodeCommand, Gs1FieldWhenTheSymbolCarriesGs1) {
  DecodeCommandOptions o;
  o.json = true;
  o.files = {clean("c022_gs1-128.png"), clean("c001_ean13.png"), clean("c053_qr-dl.png"), clean("c048_qr.png")};
  std::ostringstream out, err;
  EXPECT_EQ(run_decode_command(o, out, err), 0) << err.str();
  const std::string s = out.str();
  EXPECT_NE(s.find(R"("gs1":{"01":"09506000134352","10":"ABC123","17":"261231"})"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("gs1":{"01":"04006381333931"})"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("gs1":{"414":"9506000000008","254":"A-01-02"})"), std::string::npos) << s;
  // A plain QR whose text merely looks like HRI is not GS1.
  EXPECT_NE(s.find(R"("text":"(01)09506000134352(10)ABC123","aim_id":"]Q1","gs1":null)"), std::string::npos) << s;
}

#ifdef TALLY_CLI_PATH
TEST(DecodeCommand, TallyBinary) {
  test::Daemon cli(TALLY_CLI_PATH, {"decode", "--json", clean("c043_qr.png"), "/nonexistent.png"});
  const std::string out = cli.read_stdout_to_end();
  const auto st = cli.wait();
  EXPECT_EQ(st.code, 1);
  EXPECT_NE(out.find(R"({"file":")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("format":"QRCode","text":"BIN:B-12-04-1")"), std::string::npos) << out;
  EXPECT_NE(cli.drain_stderr().find("/nonexistent.png"), std::string::npos);
  test::Daemon ok(TALLY_CLI_PATH, {"decode", clean("c001_ean13.png")});
  EXPECT_NE(ok.read_stdout_to_end().find("EAN-13 4006381333931"), std::string::npos);
  EXPECT_EQ(ok.wait().code, 0);
}
#endif

}  // namespace
}  // namespace tally::device
