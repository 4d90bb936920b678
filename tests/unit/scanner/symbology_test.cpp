// Every retail and logistics symbology maps to the right key: real images
// rendered by zint (tests/data/symbologies, generate.sh) decoded by ZXing-cpp,
// turned into what a handheld would send (scan_data) and classified.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tally/device/image_file.hpp"
#include "tally/scanner/decode.hpp"
#include "tally/scanner/gs1.hpp"
#include "tally/scanner/label.hpp"

namespace tally::scanner {
namespace {

struct Row {
  std::string file, format, aim_id, text, scan_data, gtin, addon;
};

std::vector<Row> truth() {
  const std::string dir = std::string(TALLY_TEST_DATA_DIR) + "/symbologies/";
  std::ifstream in(dir + "truth.csv");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    f.resize(7);
    rows.push_back(Row{dir + f[0], f[1], f[2], f[3], f[4], f[5], f[6]});
  }
  return rows;
}

TEST(Symbology, EveryImageGivesTheRightKey) {
  const auto rows = truth();
  ASSERT_EQ(rows.size(), 13U);
  for (const Row& t : rows) {
    SCOPED_TRACE(t.file);
    auto img = device::load_image_file(t.file);
    ASSERT_TRUE(img.ok()) << img.error().message;
    auto r = decode(img->frame());
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (t.format.empty()) {  // ZXing-cpp 1.4 cannot read it (README.md)
      EXPECT_TRUE(r->empty()) << "read now: fill in its row of truth.csv";
      continue;
    }
    ASSERT_EQ(r->size(), 1U);
    const Symbol& s = r->front();
    EXPECT_EQ(s.format, t.format);
    EXPECT_EQ(s.aim_id, t.aim_id);
    EXPECT_EQ(s.text, t.text);
    const ScanData sd = scan_data(s);
    EXPECT_EQ(sd.aim_id + sd.data, t.scan_data);
    // With the AIM identifier, as a handheld or a camera with aim_prefix sends it.
    auto label = classify(sd.aim_id + sd.data);
    ASSERT_TRUE(label.ok()) << label.error().message;
    EXPECT_EQ(label->kind, LabelKind::item);
    EXPECT_EQ(label->item.gtin, t.gtin);
    ASSERT_TRUE(label->gs1.has_value());
    EXPECT_EQ(label->gs1->addon, t.addon);
    // Without it (a camera with aim_prefix = false): the same item.
    auto bare = classify(sd.without_aim());
    ASSERT_TRUE(bare.ok()) << bare.error().message;
    EXPECT_EQ(bare->item.gtin, t.gtin);
  }
}

// The same symbols as a scanner set to transmit them as printed sends them.
TEST(Symbology, ScanDataAsScannersSendIt) {
  struct Case {
    const char* scan;
    const char* gtin;
    const char* addon;
  };
  for (const Case& c :
       {Case{"]E001234565", "00012345000065", ""},       // UPC-E, last digit 5-9
        Case{"]E004252614", "00042100005264", ""},       // last digit 4
        Case{"]E001234531", "00012300000451", ""},       // 3 (check digit of the UPC-A)
        Case{"]E001200003", "00012000000003", ""},       // 0-2
        Case{"]E0042100005264", "00042100005264", ""},   // UPC-A, 12 digits
        Case{"]E00042100005264", "00042100005264", ""},  // UPC-A as EAN-13 (ISO)
        Case{"]E3400638133393105", "04006381333931", "05"}, Case{"]E3004210000526452495", "00042100005264", "52495"},
        Case{"]e00109506000134352", "09506000134352", ""}}) {  // DataBar Limited/Stacked
    SCOPED_TRACE(c.scan);
    auto d = parse_gs1(c.scan);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->find("01")->raw, c.gtin);
    EXPECT_EQ(d->addon, c.addon);
  }
}

TEST(Symbology, BadEanUpcScanDataIsRefused) {
  struct Case {
    const char* scan;
    const char* code;
    const char* says;
  };
  for (const Case& c :
       {Case{"]E021234565", "bad_gs1", "number system 2"},  // UPC-E: 0 or 1 only
        Case{"]E001234566", "bad_check_digit", "check digit"},
        Case{"]E34006381333931", "bad_gs1", "add-on"},  // no add-on
        Case{"]E3400638133393", "bad_gs1", "add-on"},   // 1 digit
        Case{"]E3400638133393212", "bad_check_digit", "check digit"}, Case{"]E440170725 05", "bad_gs1", "EAN-8"},
        Case{"]E01234567", "bad_gs1", "UPC-E (8)"}, Case{"]I11950600013435", "bad_gs1", "ITF-14"}}) {
    SCOPED_TRACE(c.scan);
    auto d = parse_gs1(c.scan);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, c.code);
    EXPECT_NE(d.error().message.find(c.says), std::string::npos) << d.error().message;
  }
}

}  // namespace
}  // namespace tally::scanner
