// The scanner self-test diagnosis (self_test.hpp), table-driven: each row is
// what a scanner set up one wrong way sends for the self-test label; and the
// symbol encoder (encode.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tally/scanner/encode.hpp"
#include "tally/scanner/self_test.hpp"

namespace tally::scanner {
namespace {

// The payload as a scanner sends it with GS = `gs` and the middle part `middle`.
std::string sent(std::string_view prefix, std::string_view middle, std::string_view gs, std::string_view suffix = "",
                 std::string_view marker = "SELFTEST", std::string_view end = "END") {
  return std::string(prefix) + std::string(marker) + std::string(middle) + std::string(gs) + std::string(end) +
         std::string(suffix);
}

std::vector<std::string> codes(const SelfTestReport& r) {
  std::vector<std::string> out;
  for (const auto& i : r.issues) out.push_back(i.code);
  return out;
}

struct Row {
  const char* name;
  std::string received;
  bool check_terminator;
  std::vector<std::string> expected_codes;  // in report order
  bool ok;
};

class SelfTestTable : public ::testing::TestWithParam<Row> {};

TEST_P(SelfTestTable, Diagnoses) {
  const Row& row = GetParam();
  SelfTestOptions o;
  o.check_terminator = row.check_terminator;
  const SelfTestReport r = diagnose_self_test(row.received, o);
  EXPECT_TRUE(r.recognised) << r.summary;
  EXPECT_EQ(codes(r), row.expected_codes) << r.summary;
  EXPECT_EQ(r.ok, row.ok) << r.summary;
  for (const auto& i : r.issues) {
    EXPECT_FALSE(i.problem.empty()) << i.code;
    EXPECT_FALSE(i.fix.empty()) << i.code;
    EXPECT_TRUE(i.severity == "error" || i.severity == "warning" || i.severity == "info") << i.code;
  }
  EXPECT_FALSE(r.summary.empty());
}

const std::string kMid = "yzYZaqwAQW@#[]";
const std::string kGs = "\x1D";

INSTANTIATE_TEST_SUITE_P(
    Faults, SelfTestTable,
    ::testing::Values(
        Row{"perfect", sent("]C0", kMid, kGs, "\n"), true, {}, true},
        Row{"perfect_no_terminator_check", sent("]C0", kMid, kGs), false, {}, true},
        Row{"gs_dropped", sent("]C0", kMid, ""), false, {"gs_dropped"}, false},
        Row{"gs_as_accepted_stand_in", sent("]C0", kMid, "^]"), false, {"gs_substituted"}, true},
        Row{"gs_as_unknown_stand_in", sent("]C0", kMid, "~"), false, {"gs_replaced"}, false},
        Row{"gs_as_word", sent("]C0", kMid, "[GS]"), false, {"gs_replaced"}, false},
        // US scanner, German host: y<->z, @ # [ ] -> " § ü +, and ']' of the AIM id -> '+'.
        Row{"us_scanner_de_host", sent("+C0", "zyZYaqwAQW\"\u00a7\u00fc+", kGs), false, {"keyboard_layout"}, false},
        Row{"de_scanner_us_host", sent("9C0", "zyZYaqwAQWq\\89", kGs), false, {"keyboard_layout"}, false},
        // US scanner, French host: a<->q, z<->w, @ # [ ] -> 2 3 ^ $, '0' -> 'à'.
        Row{"us_scanner_fr_host", sent("$C\u00e0", "ywYWqazQAZ23^$", kGs), false, {"keyboard_layout"}, false},
        Row{"fr_scanner_us_host", sent("-C0", "ywYWqazQAZ035-", kGs), false, {"keyboard_layout"}, false},
        Row{"caps_lock", sent("]c0", "YZyzAQWaqw@#[]", kGs, "", "selftest", "end"), false, {"caps_lock"}, false},
        Row{"unexplained_change", sent("]C0", "yzYZaqwAQW@#[)", kGs), false, {"characters_changed"}, false},
        Row{"aim_missing", sent("", kMid, kGs), false, {"aim_missing"}, false},
        Row{"other_identifier", sent("]C1", kMid, kGs), false, {"aim_unexpected"}, false},
        Row{"prefix_before_aim", sent("STX]C0", kMid, kGs), false, {"prefix_added"}, false},
        Row{"prefix_no_aim", sent("#1", kMid, kGs), false, {"prefix_added"}, false},
        Row{"suffix_added", sent("]C0", kMid, kGs, "XYZ"), false, {"suffix_added"}, false},
        Row{"terminator_missing", sent("]C0", kMid, kGs), true, {"terminator_missing"}, false},
        Row{"terminator_extra_crlf", sent("]C0", kMid, kGs, "\r\n"), true, {"terminator_extra"}, false},
        Row{"terminator_doubled", sent("]C0", kMid, kGs, "\n\n"), true, {"terminator_extra"}, false},
        Row{"terminator_tab", sent("]C0", kMid, kGs, "\t"), true, {"terminator_wrong"}, false},
        Row{"several_faults", sent("", "zyZYaqwAQW\"\u00a7\u00fc+", "", "\r\n"), true,
            {"keyboard_layout", "gs_dropped", "aim_missing", "terminator_extra"}, false}),
    [](const ::testing::TestParamInfo<Row>& row_info) { return std::string(row_info.param.name); });

TEST(SelfTest, PayloadHasOneGsAndIsRecognised) {
  const std::string p = self_test_payload();
  EXPECT_EQ(std::count(p.begin(), p.end(), '\x1D'), 1);
  EXPECT_TRUE(is_self_test(p));
  EXPECT_TRUE(is_self_test(std::string(kSelfTestAimId) + p + "\r\n"));
  EXPECT_FALSE(is_self_test("A-01-02-3"));
  EXPECT_FALSE(is_self_test("SELFTEST"));
  EXPECT_FALSE(is_self_test("SELFTESTEND"));
}

TEST(SelfTest, NotASelfTestIsSaidSo) {
  const auto r = diagnose_self_test("OP:alice");
  EXPECT_FALSE(r.recognised);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.summary.find("not the scanner self-test"), std::string::npos);
}

TEST(SelfTest, NeverThrowsOnOddInput) {
  for (std::string s : {std::string(), std::string("\xff\xfe"), std::string("SELFTEST\xc3"), std::string(200, '\n'),
                        std::string("selftest") + std::string(14, '\xe2') + "end", std::string("SELFTEST\0END", 12)}) {
    EXPECT_NO_THROW((void)diagnose_self_test(s, {true, "\n", {}}));
  }
}

TEST(Encode, Code128QrDataMatrix) {
  auto c = encode_symbol("A-01-02-3", Symbology::code128);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->linear());
  EXPECT_GT(c->width, 50);
  EXPECT_TRUE(c->at(0, 0));  // a symbol starts with a bar (no quiet zone in the grid)
  auto q = encode_symbol("CMD:MOVE", Symbology::qrcode);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->width, 21);  // version 1
  EXPECT_EQ(q->height, 21);
  auto d = encode_symbol("OP:alice", Symbology::datamatrix);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_FALSE(d->linear());
  auto gs = encode_symbol(self_test_payload(), Symbology::code128);
  ASSERT_TRUE(gs) << gs.error().message;
}

TEST(Encode, RefusesWhatItCannotPrint) {
  EXPECT_EQ(encode_symbol("x", Symbology::ean13).error().code, "bad_format");
  EXPECT_EQ(encode_symbol("x", Symbology::aztec).error().code, "bad_format");
  EXPECT_EQ(encode_symbol("", Symbology::code128).error().code, "bad_text");
  EXPECT_EQ(encode_symbol(std::string(1001, 'x'), Symbology::qrcode).error().code, "bad_text");
  EXPECT_EQ(encode_symbol("\xc3\xa9t\xc3\xa9", Symbology::code128).error().code, "bad_text");  // not ASCII
}

}  // namespace
}  // namespace tally::scanner
