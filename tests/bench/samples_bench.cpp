// ZXing-cpp's own blackbox samples (test/samples of zxing-cpp v1.4.0) read
// at 0°, 90°, 180° and 270°: per folder, the images Tally reads
// (scanner::decode in a DecodeWorker child, as `tally decode` and tallyd do)
// beside ZXing-cpp 1.4 with its default DecodeHints (ReadBarcodes in a
// forked child per image: it aborts on some, upstream issue 740), and how
// often each one crashed. See docs/PERFORMANCE.md "ZXing-cpp's samples".
//
//   samples_bench --samples=DIR [--folders=ean13-1,upce-1]
//
// An image counts as read when a returned text equals its <stem>.txt
// (trailing whitespace trimmed; an EAN/UPC add-on after a space is ignored
// when the .txt has none: Tally reads add-ons, ZXing's defaults do not);
// in a folder without .txt files
// (falsepositives-*) anything found counts as false. Not Google Benchmark:
// one pass, counts only. ctest runs it on tests/data as a smoke test.
#include <sys/wait.h>
#include <unistd.h>

#define ZX_USE_UTF8 1  // text() as UTF-8 std::string (ZXing-cpp 1.4)
#include <ZXing/ReadBarcode.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_args.hpp"
#include "quarter_turn.hpp"
#include "tally/device/decode_worker.hpp"
#include "tally/device/image_file.hpp"

namespace fs = std::filesystem;
using tally::device::GreyImage;

namespace {

struct Reads {
  std::vector<std::string> texts;
  bool crashed = false;
};

// ZXing-cpp's defaults in a child process: the texts, or crashed.
Reads zxing_defaults(const GreyImage& img) {
  int fds[2];
  if (::pipe(fds) != 0) return {{}, true};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    try {
      const ZXing::ImageView view(img.pixels.data(), img.width, img.height, ZXing::ImageFormat::Lum);
      for (const auto& r : ZXing::ReadBarcodes(view, ZXing::DecodeHints()))
        if (r.isValid()) out += r.text() + std::string(1, '\0');
    } catch (...) {
    }
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Reads r;
  r.crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  std::size_t b = 0;
  for (std::size_t e = got.find('\0'); e != std::string::npos; b = e + 1, e = got.find('\0', b))
    r.texts.push_back(got.substr(b, e - b));
  return r;
}

Reads tally_decode(tally::device::DecodeWorker& worker, const GreyImage& img) {
  auto r = worker.decode(img.frame());
  Reads out;
  if (!r) {
    out.crashed = r.error().code == "decoder_crashed";
    return out;
  }
  for (const auto& s : *r) out.texts.push_back(s.text);
  return out;
}

std::string expected_text(const fs::path& image) {
  fs::path txt = image;
  txt.replace_extension(".txt");
  std::ifstream in(txt, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return t;
}

struct Tally {
  int images = 0, read = 0, crashes = 0, false_reads = 0;
  Tally& operator+=(const Tally& o) {
    images += o.images;
    read += o.read;
    crashes += o.crashes;
    false_reads += o.false_reads;
    return *this;
  }
};

void print_row(const char* name, const Tally& t, const Tally& z) {
  std::printf("%-24s %7d %11d %11d %8d %8d %7d %7d\n", name, t.images, t.read, z.read, t.crashes, z.crashes,
              t.false_reads, z.false_reads);
}

void count(Tally& t, const Reads& r, const std::string& want) {
  ++t.images;
  t.crashes += r.crashed ? 1 : 0;
  if (want.empty()) {
    t.false_reads += r.texts.empty() ? 0 : 1;
  } else if (std::any_of(r.texts.begin(), r.texts.end(), [&](const std::string& text) {
               // An EAN/UPC add-on read where the truth leaves it out (upce-3)
               return text == want || (want.find(' ') == std::string::npos && text.substr(0, text.find(' ')) == want);
             })) {
    ++t.read;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string samples = tally::bench::arg_value(argc, argv, "samples", "");
  const std::string only = tally::bench::arg_value(argc, argv, "folders", "");
  if (samples.empty() || !fs::is_directory(samples)) {
    std::cerr << "usage: samples_bench --samples=DIR (zxing-cpp v1.4.0 test/samples) [--folders=a,b]\n";
    return 2;
  }
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(samples))
    if (e.is_directory() &&
        (only.empty() || ("," + only + ",").find("," + e.path().filename().string() + ",") != std::string::npos))
      folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());

  tally::device::DecodeWorker worker;
  Tally all_t, all_z;
  std::printf("%-24s %7s %11s %11s %8s %8s %7s %7s\n", "folder", "images", "tally read", "zxing read", "tally!",
              "zxing!", "tally?", "zxing?");
  for (const auto& folder : folders) {
    std::vector<fs::path> images;
    for (const auto& e : fs::directory_iterator(folder)) {
      const auto ext = e.path().extension().string();
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") images.push_back(e.path());
    }
    std::sort(images.begin(), images.end());
    Tally t, z;
    for (const auto& image : images) {
      auto img = tally::device::load_image_file(image.string());
      if (!img) {
        std::cerr << image.string() << ": " << img.error().message << " (skipped)\n";
        continue;
      }
      const std::string want = expected_text(image);
      for (int q = 0; q < 4; ++q) {
        const GreyImage turned = tally::test::quarter_turned(*img, q);
        count(t, tally_decode(worker, turned), want);
        count(z, zxing_defaults(turned), want);
      }
    }
    if (t.images == 0) continue;
    print_row(folder.filename().c_str(), t, z);
    all_t += t;
    all_z += z;
  }
  print_row("total", all_t, all_z);
  std::printf("(images: each at 0/90/180/270; !: decoder crashed; ?: found something where nothing is)\n");
  return all_t.crashes == 0 ? 0 : 1;
}
