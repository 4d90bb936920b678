// Test helper: the barcode test images under $TALLY_TESTDATA/barcodes and
// their ground truth (truth.csv, see that folder's README.md). Header-only.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tally::test {

struct BarcodeTruth {
  std::string file;    // relative to the barcodes folder, e.g. "clean/c001_ean13.png"
  std::string path;    // absolute
  std::string kind;    // clean / frame / negative
  std::string format;  // ZXing format name ("" for negative)
  std::string aim_id;
  std::string text;    // \x1D unescaped to the byte 0x1D
  std::string degradation_class;
};

// The barcodes folder; throws with a clear message if TALLY_TESTDATA is not
// set or the folder is missing.
inline std::filesystem::path barcodes_dir() {
  const char* root = std::getenv("TALLY_TESTDATA");
  if (root == nullptr || *root == '\0') {
    throw std::runtime_error("TALLY_TESTDATA is not set (run through ctest, or export TALLY_TESTDATA=…/shared/testdata)");
  }
  const auto dir = std::filesystem::path(root) / "barcodes";
  if (!std::filesystem::exists(dir / "truth.csv")) {
    throw std::runtime_error("barcode test data missing: " + (dir / "truth.csv").string());
  }
  return dir;
}

inline std::string unescape_gs(std::string s) {
  for (std::size_t i; (i = s.find("\\x1D")) != std::string::npos;) s.replace(i, 4, "\x1d");
  return s;
}

inline std::vector<BarcodeTruth> load_barcode_truth() {
  const auto dir = barcodes_dir();
  std::ifstream in(dir / "truth.csv");
  std::string line;
  std::getline(in, line);  // header
  std::vector<BarcodeTruth> out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    while (f.size() < 13) f.emplace_back();
    BarcodeTruth t;
    t.file = f[0];
    t.path = (dir / f[0]).string();
    t.kind = f[1];
    t.format = f[5];
    t.aim_id = f[6];
    t.text = unescape_gs(f[7]);
    t.degradation_class = f[9];
    out.push_back(std::move(t));
  }
  if (out.empty()) throw std::runtime_error("truth.csv has no rows");
  return out;
}

}  // namespace tally::test
