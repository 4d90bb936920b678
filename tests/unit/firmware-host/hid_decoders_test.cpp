// HID POS and boot-keyboard decoders (firmware-host/include/tally/device/
// hid_decoders.hpp), table-driven. The keyboard strokes are written by hand
// from the layouts (xkb us, gb, de, fr), not derived from the decoder's tables.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tally/device/hid_decoders.hpp"

namespace {

using tally::device::DecodedScan;
using tally::device::HidPosDecoder;
using tally::device::HidPosOptions;
using tally::device::KeyboardDecoder;
using tally::device::KeyboardOptions;
using Report = std::vector<std::uint8_t>;

// ---- HID POS --------------------------------------------------------------

// A Scanned Data Report: id 2, count, 3 identifier bytes, 56 data bytes,
// `vendor` bytes, flags (bit 0 Continued). `count` overrides the byte count.
Report pos_report(const std::string& symbology, const std::string& data, bool continued, std::size_t vendor = 0,
                  std::optional<int> count = std::nullopt) {
  Report r(1 + 1 + 3 + 56 + vendor + 1, 0);
  r[0] = 0x02;
  r[1] = static_cast<std::uint8_t>(count.value_or(static_cast<int>(data.size())));
  for (std::size_t i = 0; i < symbology.size() && i < 3; ++i) r[2 + i] = static_cast<std::uint8_t>(symbology[i]);
  for (std::size_t i = 0; i < data.size() && i < 56; ++i) r[5 + i] = static_cast<std::uint8_t>(data[i]);
  if (vendor > 0) r[61] = 0x6A;  // Honeywell code id of Code 128
  r.back() = continued ? 0x01 : 0x00;
  return r;
}

struct PosCase {
  const char* name;
  std::vector<Report> reports;
  std::optional<DecodedScan> expected;  // after the last report
  std::string error;                    // the last report's error code, "" if none
  std::uint64_t unknown_symbology = 0;
};

void PrintTo(const PosCase& c, std::ostream* os) { *os << c.name; }

class HidPos : public ::testing::TestWithParam<PosCase> {};

TEST_P(HidPos, Decodes) {
  const PosCase& c = GetParam();
  HidPosDecoder d;
  std::optional<DecodedScan> got;
  std::string error;
  for (std::size_t i = 0; i < c.reports.size(); ++i) {
    auto r = d.check(c.reports[i]);
    if (i + 1 < c.reports.size()) {
      ASSERT_TRUE(r.ok()) << "report " << i << ": " << r.error().message;
      EXPECT_FALSE(r->has_value()) << "report " << i << " completed a scan early";
      continue;
    }
    if (r) {
      got = *r;
    } else {
      error = r.error().code;
      EXPECT_FALSE(r.error().message.empty());
      ASSERT_TRUE(d.last_error().has_value());
      EXPECT_EQ(d.last_error()->code, error);
    }
  }
  EXPECT_EQ(error, c.error);
  ASSERT_EQ(got.has_value(), c.expected.has_value());
  if (got) {
    EXPECT_EQ(got->text, c.expected->text);
    EXPECT_EQ(got->symbology, c.expected->symbology);
  }
  EXPECT_EQ(d.stats().unknown_symbology, c.unknown_symbology);
}

const std::string k56a(56, 'A');
const std::string k56b(56, 'B');
const std::string kGs1 = "0109506000134352\x1D" "10L42";

INSTANTIATE_TEST_SUITE_P(
    Reports, HidPos,
    ::testing::Values(
        PosCase{"single", {pos_report("]C1", kGs1, false)}, DecodedScan{kGs1, "]C1"}, ""},
        PosCase{"honeywell_64_bytes", {pos_report("]E0", "4006381333931", false, 2)},
                DecodedScan{"4006381333931", "]E0"}, ""},
        PosCase{"no_identifier", {pos_report("", "A-01-01-1", false)}, DecodedScan{"A-01-01-1", ""}, ""},
        PosCase{"continued_3_reports",
                {pos_report("]Q1", k56a, true), pos_report("]Q1", k56b, true), pos_report("]Q1", "tail", false)},
                DecodedScan{k56a + k56b + "tail", "]Q1"}, ""},
        PosCase{"bad_length", {pos_report("]E0", "123", false, 0, 57)}, std::nullopt, "hid_bad_length"},
        PosCase{"short_report", {Report{0x02, 3, ']', 'E', '0', '1', '2', '3'}}, std::nullopt, "hid_bad_report"},
        PosCase{"long_report", {Report(65, 0x02)}, std::nullopt, "hid_bad_report"},
        PosCase{"unknown_symbology", {pos_report("\x7F\x01Z", "4006381333931", false)},
                DecodedScan{"4006381333931", ""}, "", 1},
        PosCase{"symbology_changed", {pos_report("]Q1", k56a, true), pos_report("]E0", "x", false)}, std::nullopt,
                "hid_symbology_changed"},
        PosCase{"empty_scan", {pos_report("]E0", "", false)}, std::nullopt, "hid_empty_scan"},
        PosCase{"other_report_id_ignored", {Report(62, 0x04)}, std::nullopt, ""}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(HidPosDecoder, RefusedScanSkipsItsRemainingReportsThenRecovers) {
  HidPosDecoder d;
  EXPECT_FALSE(d.check(pos_report("]Q1", k56a, true, 0, 99)).ok());  // bad count, Continued set
  auto rest = d.check(pos_report("]Q1", "rest", false));            // the same scan's last part
  ASSERT_TRUE(rest.ok());
  EXPECT_FALSE(rest->has_value());
  auto next = d.feed(pos_report("]E0", "4006381333931", false));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->text, "4006381333931");
  EXPECT_EQ(d.stats().errors, 1U);
  EXPECT_EQ(d.stats().scans, 1U);
}

TEST(HidPosDecoder, OverlongScanIsRefusedWhole) {
  HidPosOptions o;
  o.max_len = 100;
  HidPosDecoder d(o);
  EXPECT_TRUE(d.check(pos_report("]Q1", k56a, true)).ok());
  auto r = d.check(pos_report("]Q1", k56b, true));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "hid_too_long");
  EXPECT_FALSE(d.feed(pos_report("]Q1", "end", false)).has_value());  // still the refused scan
  EXPECT_EQ(d.feed(pos_report("]Q1", "ok", false)), (DecodedScan{"ok", "]Q1"}));
}

TEST(HidPosDecoder, ResetDropsAScanInProgress) {
  HidPosDecoder d;
  EXPECT_FALSE(d.feed(pos_report("]Q1", k56a, true)).has_value());
  d.reset();  // unplugged mid-scan
  EXPECT_EQ(d.feed(pos_report("]E0", "1", false)), (DecodedScan{"1", "]E0"}));
}

// ---- keyboard ---------------------------------------------------------------

constexpr std::uint8_t kLCtrl = 0x01, kShift = 0x02, kLAlt = 0x04, kAltGr = 0x40;
constexpr std::uint8_t kEnter = 0x28, kTab = 0x2B;

struct Stroke {
  std::uint8_t mods;
  std::uint8_t usage;
};

Report key_report(std::uint8_t mods, std::vector<std::uint8_t> keys) {
  Report r(8, 0);
  r[0] = mods;
  for (std::size_t i = 0; i < keys.size() && i < 6; ++i) r[2 + i] = keys[i];
  return r;
}

// Each stroke as a press report and an all-up report, as scanners type.
std::vector<Report> type(const std::vector<Stroke>& strokes) {
  std::vector<Report> out;
  for (const auto& s : strokes) {
    out.push_back(key_report(s.mods, {s.usage}));
    out.push_back(key_report(0, {}));
  }
  return out;
}

std::vector<Stroke> operator+(std::vector<Stroke> a, const std::vector<Stroke>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Digits 0-9 on the number row; FR needs Shift.
std::vector<Stroke> digits(const std::string& s, bool azerty) {
  std::vector<Stroke> out;
  for (char c : s) {
    const std::uint8_t usage = c == '0' ? 0x27 : static_cast<std::uint8_t>(0x1E + (c - '1'));
    out.push_back({azerty ? kShift : std::uint8_t{0}, usage});
  }
  return out;
}

// GS typed as Alt+0029 on the keypad (KP0 = 0x62, KP2 = 0x5A, KP9 = 0x61).
std::vector<Report> alt_0029() {
  return {key_report(kLAlt, {0x62}), key_report(kLAlt, {}), key_report(kLAlt, {0x62}), key_report(kLAlt, {}),
          key_report(kLAlt, {0x5A}), key_report(kLAlt, {}), key_report(kLAlt, {0x61}), key_report(kLAlt, {}),
          key_report(0, {})};
}

struct KeyCase {
  const char* name;
  std::string layout;
  std::vector<Report> reports;
  DecodedScan expected;
};

// "]C1" + "0109506000134352" + "10" + lot + GS + "17261231" + Enter, where the
// AIM prefix, lot letters and GS are typed the layout's way.
std::vector<Report> gs1_scan(const std::vector<Stroke>& aim, bool azerty, const std::vector<Stroke>& lot,
                             const std::vector<Report>& gs) {
  std::vector<Report> r = type(aim + digits("0109506000134352", azerty) + digits("10", azerty) + lot);
  r.insert(r.end(), gs.begin(), gs.end());
  auto tail = type(digits("17261231", azerty) + std::vector<Stroke>{{0, kEnter}});
  r.insert(r.end(), tail.begin(), tail.end());
  return r;
}

const std::string kGs1Text = std::string("0109506000134352") + "10AQZYWM" + "\x1D" + "17261231";

// Uppercase A Q Z Y W M: US/UK positions a=04 q=14 z=1D y=1C w=1A m=10;
// DE swaps y (1D) and z (1C); FR has a on 14, q on 04, z on 1A, w on 1D, m on 33.
const std::vector<Stroke> kLotUs = {{kShift, 0x04}, {kShift, 0x14}, {kShift, 0x1D},
                                    {kShift, 0x1C}, {kShift, 0x1A}, {kShift, 0x10}};
const std::vector<Stroke> kLotDe = {{kShift, 0x04}, {kShift, 0x14}, {kShift, 0x1C},
                                    {kShift, 0x1D}, {kShift, 0x1A}, {kShift, 0x10}};
const std::vector<Stroke> kLotFr = {{kShift, 0x14}, {kShift, 0x04}, {kShift, 0x1A},
                                    {kShift, 0x1C}, {kShift, 0x1D}, {kShift, 0x33}};
// "]C1": ']' is 30 on US/UK, AltGr+9 (26) on DE, AltGr+) (2D) on FR.
const std::vector<Stroke> kAimUs = {{0, 0x30}, {kShift, 0x06}, {0, 0x1E}};
const std::vector<Stroke> kAimDe = {{kAltGr, 0x26}, {kShift, 0x06}, {0, 0x1E}};
const std::vector<Stroke> kAimFr = {{kAltGr, 0x2D}, {kShift, 0x06}, {kShift, 0x1E}};

const std::vector<KeyCase>& key_cases() {
  static const std::vector<KeyCase> cases = {
      // A full GS1 string, GS as Ctrl+] the layout's way.
      {"us_gs1_ctrl_bracket", "us", gs1_scan(kAimUs, false, kLotUs, type({{kLCtrl, 0x30}})), {kGs1Text, "]C1"}},
      {"uk_gs1_ctrl_bracket", "uk", gs1_scan(kAimUs, false, kLotUs, type({{kLCtrl, 0x30}})), {kGs1Text, "]C1"}},
      {"de_gs1_ctrl_altgr_9", "de", gs1_scan(kAimDe, false, kLotDe, type({{kLCtrl | kAltGr, 0x26}})),
       {kGs1Text, "]C1"}},
      {"fr_gs1_ctrl_altgr_paren", "fr", gs1_scan(kAimFr, true, kLotFr, type({{kLCtrl | kAltGr, 0x2D}})),
       {kGs1Text, "]C1"}},
      // GS as Alt+0029 on the keypad.
      {"us_gs1_alt_0029", "us", gs1_scan(kAimUs, false, kLotUs, alt_0029()), {kGs1Text, "]C1"}},
      {"uk_gs1_alt_0029", "uk", gs1_scan(kAimUs, false, kLotUs, alt_0029()), {kGs1Text, "]C1"}},
      {"de_gs1_alt_0029", "de", gs1_scan(kAimDe, false, kLotDe, alt_0029()), {kGs1Text, "]C1"}},
      {"fr_gs1_alt_0029", "fr", gs1_scan(kAimFr, true, kLotFr, alt_0029()), {kGs1Text, "]C1"}},
      // Shift and AltGr characters barcodes use.
      {"us_symbols", "us",
       type({{kShift, 0x1E}, {kShift, 0x1F}, {kShift, 0x20}, {0, 0x2D}, {kShift, 0x2D}, {0, 0x38}, {kShift, 0x34},
             {0, 0x31}, {0, 0x37}, {kShift, 0x33}, {0, kEnter}}),
       {"!@#-_/\"\\.:", ""}},
      {"uk_symbols", "uk",
       type({{kShift, 0x1F}, {kShift, 0x34}, {0, 0x32}, {0, 0x64}, {kShift, 0x32}, {kAltGr, 0x21}, {kShift, 0x20},
             {0, kEnter}}),
       {"\"@#\\~\xE2\x82\xAC\xC2\xA3", ""}},
      {"de_symbols", "de",
       type({{kAltGr, 0x14}, {kAltGr, 0x24}, {kAltGr, 0x27}, {kAltGr, 0x2D}, {kAltGr, 0x64}, {kShift, 0x24},
             {kShift, 0x27}, {0, 0x38}, {kShift, 0x38}, {0, 0x30}, {kShift, 0x37}, {0, 0x2D}, {0, kEnter}}),
       {"@{}\\|/=-_+:\xC3\x9F", ""}},
      {"fr_symbols", "fr",
       type({{kAltGr, 0x27}, {kAltGr, 0x20}, {kAltGr, 0x25}, {kAltGr, 0x21}, {0, 0x23}, {0, 0x25}, {kShift, 0x37},
             {0, 0x37}, {0, 0x10}, {0, 0x1F}, {0, kEnter}}),
       {"@#\\{-_/:,\xC3\xA9", ""}},
      // Dead keys: DE ^ then Space gives ^; FR ^ then 'e' gives ^e (no composition).
      {"de_dead_circumflex", "de", type({{0, 0x35}, {0, 0x2C}, {0, 0x1E}, {0, kEnter}}), {"^1", ""}},
      {"fr_dead_circumflex", "fr", type({{0, 0x2F}, {0, 0x08}, {0, kEnter}}), {"^e", ""}},
      // Rollover: the next key goes down before the last is released.
      {"us_rollover", "us",
       {key_report(0, {0x04}), key_report(0, {0x04, 0x05}), key_report(0, {0x05}), key_report(0, {0x05, 0x06}),
        key_report(0, {}), key_report(0, {0x04}), key_report(0, {}), key_report(0, {kEnter})},
       {"abca", ""}},
      // A held key reported again does not repeat; ErrorRollOver is ignored.
      {"us_held_and_phantom", "us",
       {key_report(0, {0x04}), key_report(0, {0x04}), key_report(0, {1, 1, 1, 1, 1, 1}), key_report(0, {0x04}),
        key_report(0, {}), key_report(0, {kEnter})},
       {"a", ""}},
  };
  return cases;
}

void PrintTo(const KeyCase& c, std::ostream* os) { *os << c.name; }

class Keyboard : public ::testing::TestWithParam<KeyCase> {};

TEST_P(Keyboard, Decodes) {
  const KeyCase& c = GetParam();
  KeyboardOptions o;
  o.layout = c.layout;
  ASSERT_TRUE(tally::device::validate(o).ok());
  KeyboardDecoder d(o);
  std::vector<DecodedScan> scans;
  for (const auto& r : c.reports) {
    auto got = d.check(r);
    ASSERT_TRUE(got.ok()) << got.error().message;
    if (*got) scans.push_back(**got);
  }
  ASSERT_EQ(scans.size(), 1U);
  EXPECT_EQ(scans[0].text, c.expected.text);
  EXPECT_EQ(scans[0].symbology, c.expected.symbology);
  EXPECT_FALSE(d.flush().has_value());
}

INSTANTIATE_TEST_SUITE_P(Layouts, Keyboard, ::testing::ValuesIn(key_cases()),
                         [](const auto& p) { return std::string(p.param.name); });

// "12" then the suffix key, per suffix setting.
struct SuffixCase {
  const char* name;
  std::string suffix;
  std::uint8_t key;
  std::vector<std::string> scans;  // from feed
  std::string flushed;             // from flush() afterwards, "" if none
};

void PrintTo(const SuffixCase& c, std::ostream* os) { *os << c.name; }

class KeyboardSuffix : public ::testing::TestWithParam<SuffixCase> {};

TEST_P(KeyboardSuffix, EndsTheScan) {
  const auto& c = GetParam();
  KeyboardOptions o;
  o.suffix = c.suffix;
  KeyboardDecoder d(o);
  std::vector<std::string> scans;
  for (const auto& r : type({{0, 0x1E}, {0, 0x1F}, {0, c.key}, {0, 0x20}})) {
    if (auto s = d.feed(r)) scans.push_back(s->text);
  }
  EXPECT_EQ(scans, c.scans);
  auto rest = d.flush();
  EXPECT_EQ(rest ? rest->text : std::string(), c.flushed);
}

INSTANTIATE_TEST_SUITE_P(
    Suffixes, KeyboardSuffix,
    ::testing::Values(SuffixCase{"enter", "enter", kEnter, {"12"}, "3"},
                      SuffixCase{"enter_keypad", "enter", 0x58, {"12"}, "3"},
                      SuffixCase{"tab", "tab", kTab, {"12"}, "3"},
                      SuffixCase{"tab_keeps_enter_as_cr", "tab", kEnter, {}, "12\r3"},
                      SuffixCase{"none_flushes", "none", kTab, {}, "12\t3"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(KeyboardDecoder, AimPrefixOffKeepsItInTheText) {
  KeyboardOptions o;
  o.aim_prefix = false;
  KeyboardDecoder d(o);
  std::optional<DecodedScan> got;
  for (const auto& r : type({{0, 0x30}, {kShift, 0x08}, {0, 0x27}, {0, 0x1E}, {0, kEnter}})) {
    if (auto s = d.feed(r)) got = s;
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->text, "]E01");
  EXPECT_EQ(got->symbology, "");
}

TEST(KeyboardDecoder, GsSubstituteBecomesGs) {
  KeyboardOptions o;
  o.gs_substitute = '~';
  KeyboardDecoder d(o);
  std::optional<DecodedScan> got;
  for (const auto& r : type({{0, 0x1E}, {kShift, 0x35}, {0, 0x1F}, {0, kEnter}})) {
    if (auto s = d.feed(r)) got = s;
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->text, "1\x1D" "2");
}

TEST(KeyboardDecoder, OverlongScanIsRefusedWholeThenRecovers) {
  KeyboardOptions o;
  o.max_len = 3;
  KeyboardDecoder d(o);
  std::vector<std::string> codes;
  std::vector<std::string> scans;
  for (const auto& r : type({{0, 0x1E}, {0, 0x1F}, {0, 0x20}, {0, 0x21}, {0, kEnter}, {0, 0x22}, {0, kEnter}})) {
    auto got = d.check(r);
    if (!got) codes.push_back(got.error().code);
    if (got && *got) scans.push_back((*got)->text);
  }
  EXPECT_EQ(codes, std::vector<std::string>{"hid_too_long"});
  EXPECT_EQ(scans, std::vector<std::string>{"5"});
}

TEST(KeyboardDecoder, BadReportsAreRefused) {
  KeyboardDecoder d(KeyboardOptions{});
  auto r = d.check(Report(7, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "hid_bad_report");
  // Alt+300 is no character.
  std::optional<std::string> code;
  for (const auto& rep : {key_report(kLAlt, {0x5B}), key_report(kLAlt, {0x62}), key_report(kLAlt, {}),
                          key_report(kLAlt, {0x62}), key_report(0, {})}) {
    auto got = d.check(rep);
    if (!got) code = got.error().code;
  }
  EXPECT_EQ(code, "hid_alt_code");
  EXPECT_EQ(d.stats().errors, 2U);
}

TEST(KeyboardDecoder, ValidateNamesTheBadOption) {
  KeyboardOptions o;
  o.layout = "dvorak";
  auto r = tally::device::validate(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("dvorak"), std::string::npos);
  o.layout = "fr";
  o.suffix = "space";
  EXPECT_FALSE(tally::device::validate(o).ok());
}

}  // namespace
