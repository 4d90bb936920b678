// GS1 parsing: truth.csv rows, every AI family, dates, decimals, check
// digits, GS substitutes and lost GS, HRI, Digital Link, lints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tally/scanner/gs1.hpp"

namespace tally::scanner {
namespace {

Gs1Options opts() {
  Gs1Options o;
  o.reference_year = 2026;
  return o;
}

Gs1Data ok(std::string_view text, const Gs1Options& o = opts()) {
  auto r = parse_gs1(text, o);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().code + " " + r.error().message);
  return r.ok() ? *r : Gs1Data{};
}

Error err(std::string_view text, const Gs1Options& o = opts()) {
  auto r = parse_gs1(text, o);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->to_hri() : "");
  return r.ok() ? Error{"ok", r->to_hri()} : r.error();
}

std::string code(std::string_view text, const Gs1Options& o = opts()) {
  auto r = parse_gs1(text, o);
  return r.ok() ? "ok" : r.error().code;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 4, "\\x1D") == 0 || s.compare(i, 4, "\\x1d") == 0) {
      out.push_back('\x1D');
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

TEST(Gs1Truth, EveryGs1RowOfTruthCsvParsesToItsHri) {
  const char* dir = std::getenv("TALLY_TESTDATA");
  const std::filesystem::path csv = dir != nullptr ? std::filesystem::path(dir) / "barcodes" / "truth.csv" : "";
  if (dir == nullptr || !std::filesystem::exists(csv)) GTEST_SKIP() << "no testdata (TALLY_TESTDATA)";
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 9 || f[8].empty()) continue;
    const std::string input = f[6] + unescape(f[7]);
    auto r = parse_gs1(input, opts());
    ASSERT_TRUE(r.ok()) << f[0] << " " << input << ": " << r.error().message;
    EXPECT_EQ(r->to_hri(), f[8]) << f[0];
    // The HRI parses back to the same elements.
    auto again = parse_hri(r->to_hri(), opts());
    ASSERT_TRUE(again.ok()) << f[0];
    EXPECT_EQ(again->to_element_string(), r->to_element_string()) << f[0];
    ++rows;
  }
  EXPECT_GE(rows, 13);
}

TEST(Gs1ElementString, RawWithSymbologyAndGs) {
  Gs1Data d = ok("]C1010950600013435210ABC123\x1D" "17261231");
  EXPECT_EQ(d.source_form, "element_string");
  EXPECT_EQ(d.symbology, "]C1");
  ASSERT_EQ(d.elements.size(), 3U);
  EXPECT_EQ(d.find("01")->raw, "09506000134352");
  EXPECT_EQ(d.find("10")->raw, "ABC123");
  EXPECT_EQ(d.find("17")->date_iso, "2026-12-31");
  EXPECT_EQ(d.find("17")->offset, 28U);
  EXPECT_EQ(d.find("99"), nullptr);
  EXPECT_TRUE(d.warnings.empty());
  EXPECT_EQ(d.to_element_string(), "010950600013435210ABC123\x1D" "17261231");
  EXPECT_EQ(d.to_hri(), "(01)09506000134352(10)ABC123(17)261231");
  // Leading FNC1-as-GS and a trailing GS are tolerated.
  EXPECT_EQ(ok("]d2\x1D" "0109506000134352\x1D").to_hri(), "(01)09506000134352");
}

TEST(Gs1ElementString, SymbologyIdentifiers) {
  for (const char* p : {"]C1", "]e0", "]d2", "]Q3", "]J1"})
    EXPECT_EQ(ok(std::string(p) + "0109506000134352").to_hri(), "(01)09506000134352") << p;
  EXPECT_EQ(ok("]E04006381333931").to_hri(), "(01)04006381333931");
  EXPECT_EQ(ok("]E0042100005264").to_hri(), "(01)00042100005264");
  EXPECT_EQ(ok("]E440170725").to_hri(), "(01)00000040170725");
  EXPECT_EQ(ok("]I119506000134359").to_hri(), "(01)19506000134359");
  EXPECT_EQ(code("]E04006381333932"), "bad_check_digit");
  EXPECT_EQ(code("]E0ABC"), "bad_gs1");
  EXPECT_EQ(code("]I1123"), "bad_gs1");
  auto s = split_symbology("]Q1hello");
  EXPECT_EQ(s.id, "]Q1");
  EXPECT_EQ(s.rest, "hello");
  EXPECT_FALSE(s.gs1);
  EXPECT_TRUE(split_symbology("]C1x").gs1);
  EXPECT_TRUE(split_symbology("]E0x").gtin);
  EXPECT_TRUE(split_symbology("x]C1").id.empty());
}

struct AiCase {
  const char* hri;
  const char* expect;  // "ok", or an error code
};

TEST(Gs1Ai, EveryFamily) {
  const std::vector<AiCase> cases = {
      {"(00)106141411234567897", "ok"},
      {"(00)106141411234567898", "bad_check_digit"},
      {"(00)10614141123456789", "bad_gs1"},
      {"(01)09506000134352", "ok"},
      {"(01)0950600013435A", "bad_gs1"},
      {"(02)09506000134352(37)5(00)106141411234567897", "ok"},
      {"(01)09506000134352(10)ABC-123/x", "ok"},
      {"(01)09506000134352(10)ABCDEFGHIJKLMNOPQRST", "ok"},
      {"(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU", "bad_gs1"},
      {"(01)09506000134352(10)AB C", "bad_gs1"},
      {"(01)09506000134352(10)", "bad_gs1"},
      {"(01)09506000134352(11)260115(12)260116(13)260117(15)260118(16)260119(17)260120", "ok"},
      {"(01)09506000134352(20)07", "ok"},
      {"(01)09506000134352(20)7", "bad_gs1"},
      {"(01)09506000134352(21)SER-1", "ok"},
      {"(01)09506000134352(22)CPV1", "ok"},
      {"(01)09506000134352(30)12", "ok"},
      {"(01)09506000134352(30)123456789", "bad_gs1"},
      {"(01)09506000134352(3103)012500(3203)001000(3300)000100(3370)000001(3450)000010(3695)000001", "ok"},
      {"(01)09506000134352(3103)01250", "bad_gs1"},
      {"(01)09506000134352(240)ADD(241)CUST(250)SEC(21)S(251)REF", "ok"},
      {"(253)9506000000008DOC1", "ok"},
      {"(253)9506000000009", "bad_check_digit"},
      {"(414)9506000000008(254)A-01-02", "ok"},
      {"(400)PO123(401)GINC1(402)95060000000012346(403)R1", "ok"},
      {"(402)95060000000012345", "bad_check_digit"},
      {"(410)9506000000008(411)9506000000008(412)9506000000008(413)9506000000008", "ok"},
      {"(415)9506000000008(8020)INV1(416)9506000000008(417)9506000000008", "ok"},
      {"(417)9506000000007", "bad_check_digit"},
      {"(00)106141411234567897(420)12345", "ok"},
      {"(00)106141411234567897(421)528AB1234", "ok"},
      {"(01)09506000134352(422)528", "ok"},
      {"(01)09506000134352(422)52", "bad_gs1"},
      {"(8003)09506000000008ASSET1", "ok"},
      {"(8003)19506000000008", "bad_gs1"},
      {"(8003)09506000000007", "bad_check_digit"},
      {"(8004)GIAI-42", "ok"},
      {"(01)09506000134352(8008)26011513", "ok"},
      {"(01)09506000134352(8008)2601151345", "ok"},
      {"(01)09506000134352(8008)260115134", "bad_gs1"},
      {"(01)09506000134352(8008)26011524", "bad_gs1"},
      {"(90)ABC(91)x(92)y(93)z(94)a(95)b(96)c(97)d(98)e(99)f", "ok"},
      {"(90)" "0123456789012345678901234567890", "bad_gs1"},
  };
  for (const auto& c : cases) EXPECT_EQ(code(c.hri), c.expect) << c.hri;
}

TEST(Gs1Dates, CenturyDd00LeapYearsAndErrors) {
  auto date = [](const std::string& yymmdd, int ref = 2026) {
    Gs1Options o = opts();
    o.reference_year = ref;
    auto r = parse_gs1("(01)09506000134352(17)" + yymmdd, o);
    return r.ok() ? r->find("17")->date_iso.value_or("?") : r.error().message;
  };
  EXPECT_EQ(date("261231"), "2026-12-31");
  EXPECT_EQ(date("250200"), "2025-02-28");
  EXPECT_EQ(date("240200"), "2024-02-29");
  EXPECT_EQ(date("240229"), "2024-02-29");
  EXPECT_EQ(date("000229"), "2000-02-29");
  EXPECT_EQ(date("261100"), "2026-11-30");
  EXPECT_EQ(date("250229"), "AI 17 at offset 18: day 29 of 2025-02");
  EXPECT_EQ(date("261331"), "AI 17 at offset 18: month 13");
  EXPECT_EQ(date("260001"), "AI 17 at offset 18: month 00");
  EXPECT_EQ(date("260432"), "AI 17 at offset 18: day 32 of 2026-04");
  // §7.12 window: up to 50 years ahead, 49 behind.
  EXPECT_EQ(date("760101"), "2076-01-01");
  EXPECT_EQ(date("770101"), "1977-01-01");
  EXPECT_EQ(date("100101", 2060), "2110-01-01");
  EXPECT_EQ(date("110101", 2060), "2011-01-01");
  EXPECT_EQ(date("090101", 2060), "2109-01-01");
  EXPECT_EQ(date("990101", 2001), "1999-01-01");
  // Offset in raw element strings and messages for the other date AIs.
  EXPECT_EQ(err("]C10109506000134352" "11261301").message, "AI 11 at offset 19: month 13");
  // 8008 is a date-time; DD=00 is not allowed there.
  Gs1Data d = ok("(01)09506000134352(8008)260115134530");
  EXPECT_EQ(d.find("8008")->date_iso, "2026-01-15T13:45:30");
  EXPECT_EQ(code("(01)09506000134352(8008)26010013"), "bad_gs1");
  EXPECT_EQ(ok("(01)09506000134352(7003)2601151345").find("7003")->date_iso, "2026-01-15T13:45");
}

TEST(Gs1Decimals, ExactStringsWithUnits) {
  auto dec = [](const std::string& ai, const std::string& v) {
    auto r = parse_gs1("(01)09506000134352(" + ai + ")" + v, opts());
    if (!r) return r.error().message;
    const auto* e = r->find(ai);
    return e->decimal.value_or("?") + " " + e->unit;
  };
  EXPECT_EQ(dec("3103", "012500"), "12.500 kg");
  EXPECT_EQ(dec("3100", "000150"), "150 kg");
  EXPECT_EQ(dec("3100", "000000"), "0 kg");
  EXPECT_EQ(dec("3105", "000001"), "0.00001 kg");
  EXPECT_EQ(dec("3102", "100000"), "1000.00 kg");
  EXPECT_EQ(dec("3111", "000255"), "25.5 m");
  EXPECT_EQ(dec("3153", "001500"), "1.500 l");
  EXPECT_EQ(dec("3163", "001500"), "1.500 m3");
  EXPECT_EQ(dec("3202", "002205"), "22.05 lb");
  EXPECT_EQ(dec("3922", "1999"), "19.99 ");
  EXPECT_EQ(dec("3932", "978123"), "1.23 978");
  EXPECT_EQ(dec("3106", "012500"), "AI 3106 at offset 18: decimal point indicator 6 is over 5");
  Gs1Data d = ok("]d20199506000999015310301250017250630");
  EXPECT_EQ(d.find("3103")->decimal, "12.500");
  EXPECT_EQ(d.find("3103")->unit, "kg");
  EXPECT_EQ(d.find("3103")->title, "NET WEIGHT (kg)");
}

TEST(Gs1Counts, ThirtySevenIsAnInteger) {
  Gs1Data d = ok("]C100195060001000034571020950600013435237120");
  EXPECT_EQ(d.find("37")->integer, 120);
  EXPECT_EQ(ok("(01)09506000134352(30)00000042").find("30")->integer, 42);
  EXPECT_FALSE(d.find("02")->integer.has_value());
}

TEST(Gs1CheckDigits, MessagesSayWhatIsExpected) {
  Error e = err("(01)09506000134351");
  EXPECT_EQ(e.code, "bad_check_digit");
  EXPECT_EQ(e.message, "AI 01 at offset 0: check digit of 09506000134351 is 1, expected 2");
  EXPECT_EQ(code("(414)9506000000009"), "bad_check_digit");
  EXPECT_EQ(code("(02)09506000134353(37)1"), "bad_check_digit");
}

TEST(Gs1Substitutes, TypedGsIsASeparator) {
  for (const char* sub : {"<GS>", "{GS}", "^]", "|"}) {
    const std::string text = std::string("010950600013435210ABC123") + sub + "17261231";
    EXPECT_EQ(ok(text).to_hri(), "(01)09506000134352(10)ABC123(17)261231") << sub;
  }
  Gs1Options o = opts();
  o.gs_substitutes = {"~"};
  EXPECT_EQ(ok("010950600013435210ABC123~17261231", o).to_hri(), "(01)09506000134352(10)ABC123(17)261231");
  // Without that substitute configured, "|" is not a separator (and not CSET 82).
  EXPECT_EQ(code("010950600013435210ABC123|17261231", o), "bad_gs1");
}

TEST(Gs1LostGs, GreedyOnlyWhenUnambiguous) {
  // The last variable field runs to the end; nothing in it reads as an AI.
  Gs1Data d = ok("010950600013435210ABC123");
  EXPECT_EQ(d.find("10")->raw, "ABC123");
  EXPECT_EQ(ok("0109506000134352" "17261231" "10LOT7").find("10")->raw, "LOT7");
  // "10ABC123" + "17261231": the lot could end before AI 17.
  Error e = err("010950600013435210ABC12317261231");
  EXPECT_EQ(e.code, "gs1_ambiguous");
  EXPECT_EQ(e.message,
            "AI 10 at offset 16: no GS separator: the data could end at offset 24 before AI 17; scan with GS "
            "(FNC1) or a GS substitute");
  // Two variable fields, GS lost between them.
  EXPECT_EQ(code("010950600013435210ABC21SER9"), "gs1_ambiguous");
  // Too long for the field: a GS must be missing.
  e = err("010950600013435210ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  EXPECT_EQ(e.code, "bad_gs1");
  EXPECT_NE(e.message.find("at most 20 (a missing GS separator?)"), std::string::npos) << e.message;
  // With a symbology identifier the data is as the symbol carried it.
  EXPECT_EQ(ok("]C1010950600013435210ABC12317261231").find("10")->raw, "ABC12317261231");
}

TEST(Gs1Hri, FormsAndErrors) {
  Gs1Data d = ok("(01)09506000134352(10)A\\(B)");
  EXPECT_EQ(d.source_form, "hri");
  EXPECT_EQ(d.find("10")->raw, "A(B)");
  EXPECT_EQ(d.to_hri(), "(01)09506000134352(10)A\\(B)");
  EXPECT_EQ(code("(01"), "bad_gs1");
  EXPECT_EQ(code("(1)5"), "bad_gs1");
  EXPECT_EQ(code("(01)0950600013435"), "bad_gs1");
  EXPECT_EQ(err("(01)0950600013435").message, "AI 01 at offset 0: 14 characters expected, 13 found");
}

TEST(Gs1DigitalLink, PathAndQueryAis) {
  Gs1Data d = ok("https://id.gs1.org/01/09506000134352/10/ABC123/21/S1?17=261231&3103=012500&linkType=all");
  EXPECT_EQ(d.source_form, "digital_link");
  EXPECT_EQ(d.to_hri(), "(01)09506000134352(10)ABC123(21)S1(17)261231(3103)012500");
  EXPECT_EQ(d.find("17")->date_iso, "2026-12-31");
  EXPECT_EQ(d.find("3103")->decimal, "12.500");
  EXPECT_TRUE(d.warnings.empty()) << d.warnings.front();
  // Any domain, a path prefix, GTIN-13 padded, http, fragment ignored.
  EXPECT_EQ(ok("http://shop.example.com/p/x/01/9506000134352#top").to_hri(), "(01)09506000134352");
  EXPECT_EQ(ok("HTTPS://EXAMPLE.COM/01/09506000134352").to_hri(), "(01)09506000134352");
  // Percent-decoding.
  EXPECT_EQ(ok("https://e.com/01/09506000134352/10/AB%2FC%2dD").find("10")->raw, "AB/C-D");
  EXPECT_EQ(ok("https://e.com/01/09506000134352/10/L%2B1").find("10")->raw, "L+1");
  // Location and SSCC keys.
  EXPECT_EQ(ok("https://example.com/414/9506000000008/254/A-01-02").to_hri(), "(414)9506000000008(254)A-01-02");
  EXPECT_EQ(ok("https://example.com/00/106141411234567897").to_hri(), "(00)106141411234567897");
  // Without query AIs, with only non-AI parameters.
  EXPECT_EQ(ok("https://example.com/01/09506000134352?linkType=gs1:pip&x").elements.size(), 1U);
}

TEST(Gs1DigitalLink, BadUris) {
  EXPECT_FALSE(looks_like_digital_link("https://example.com/"));
  EXPECT_FALSE(looks_like_digital_link("https://example.com/about/us"));
  EXPECT_FALSE(looks_like_digital_link("ftp://example.com/01/09506000134352"));
  EXPECT_TRUE(looks_like_digital_link("https://example.com/01/09506000134352"));
  EXPECT_EQ(parse_digital_link("https://example.com/about").error().code, "bad_digital_link");
  EXPECT_EQ(parse_digital_link("https:///01/09506000134352").error().code, "bad_digital_link");
  EXPECT_EQ(parse_digital_link("mailto:x@y").error().code, "bad_digital_link");
  Error e = parse_digital_link("https://e.com/01/09506000134352/10/AB%G1", opts()).error();
  EXPECT_EQ(e.code, "bad_digital_link");
  EXPECT_EQ(e.message, "offset 37: bad percent-encoding");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134352/10/AB%2", opts()).error().code, "bad_digital_link");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134351", opts()).error().code, "bad_check_digit");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134352?17=261331", opts()).error().message,
            "AI 17 at offset 32: month 13");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134352/10/A B", opts()).error().code, "bad_digital_link");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134352/10/A%20B", opts()).error().code, "bad_gs1");
}

// The GS1 Digital Link standard's rules, as the GS1 Syntax Engine applies them.
TEST(Gs1DigitalLink, StandardRules) {
  struct Refused {
    const char* uri;
    const char* says;
  };
  for (const Refused& c : {
           Refused{"Https://e.com/01/09506000134352", "scheme \"Https\""},
           Refused{"https://e.com/01/09506000134352/", "the path ends in '/'"},
           Refused{"https://e.com/01/09506000134352?10=ABC", "AI 10 at offset 32: is a key qualifier of AI 01"},
           Refused{"https://e.com/01/09506000134352/21/S1/10/L", "AI 10 at offset 38: not a key qualifier of AI 01"},
           Refused{"https://e.com/01/09506000134352/22/X/235/Y", "(in order: 22 10 21, or 235)"},
           Refused{"https://e.com/414/9506000000008/10/L", "not a key qualifier of AI 414"},
           Refused{"https://e.com/01/09506000134352?21=S1", "AI 21 at offset 32: is not a Digital Link data attribute"},
           Refused{"https://e.com/01/09506000134352?3103=000+12", "offset 40: '+' in a query value"},
           Refused{"https://e.com/01/09506000134352/10/A<B", "offset 36: '<' is not allowed in a URI"},
           Refused{"https://e.com/01/09506000134352/10/A{B}", "'{' is not allowed"},
           Refused{"https://e.com/01/09506000134352?17=261231&17=261231", "AI 17 at offset 42: appears twice"},
           Refused{"https://e.com/01/09506000134352?17=", "AI 17 at offset 32: no value"},
           Refused{"https://id.gs1.org/AQnYUc1gnVUB", "compressed GS1 Digital Link URI: not supported"},
       }) {
    SCOPED_TRACE(c.uri);
    const auto r = parse_digital_link(c.uri, opts());
    ASSERT_FALSE(r.ok()) << r->to_hri();
    EXPECT_EQ(r.error().code, "bad_digital_link");
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
  // The primary key is the rightmost one: what comes before it is the stem.
  const Gs1Data d = ok("https://e.com/01/09506000134352/00/106141411234567897");
  EXPECT_EQ(d.to_hri(), "(00)106141411234567897");
  // Each qualifier optional, in order; the other sequence of 01 alone.
  EXPECT_EQ(ok("https://e.com/01/09506000134352/22/V1/21/S1").to_hri(), "(01)09506000134352(22)V1(21)S1");
  EXPECT_EQ(ok("https://e.com/01/09506000134352/235/TPX9").to_hri(), "(01)09506000134352(235)TPX9");
  EXPECT_EQ(ok("https://e.com/414/9506000000008/254/A1?17=261231").to_hri(), "(414)9506000000008(254)A1(17)261231");
  // A compressed URI goes to the Digital Link parser (and its clear refusal).
  EXPECT_TRUE(looks_like_digital_link("https://id.gs1.org/AQnYUc1gnVUB"));
  EXPECT_FALSE(looks_like_digital_link("https://example.com/products"));
}

// The Syntax Dictionary's linters, one AI each (gs1_linters.cpp).
TEST(Gs1Linters, EachRefusesWhatItShouldAndNamesWhere) {
  for (const char* good : {"(8007)GB82WEST12345698765432", "(3912)9781234", "(8026)095060001343520102",
                           "(4309)02790858483015297971", "(8013)1987654Ad4X4bL5ttr2310c2K", "(422)276",
                           "(4307)DE", "(8010)ABC-123/#", "(4321)1", "(8001)12341234512319", "(7040)1ABC",
                           "(7030)999ABC", "(7258)1/3", "(8030)Ab-_9=", "(7241)80", "(7041)BGE", "(4330)001234-",
                           "(423)528276"}) {
    const auto r = parse_hri(good, opts());
    EXPECT_TRUE(r.ok()) << good << ": " << r.error().message;
  }
  struct Bad {
    const char* hri;
    const char* message;
  };
  for (const Bad& b : {
           Bad{"(8007)GB83WEST12345698765432", "AI 8007 at offset 0: the IBAN's check digits do not match (offset 6)"},
           Bad{"(8007)XX82WEST12345698765432", "\"XX\" is not an IBAN country"},
           Bad{"(3912)0001234", "AI 3912 at offset 0: 000 is not an ISO 4217 currency code (offset 6)"},
           Bad{"(8026)095060001343520302", "piece 03 of 02 (offset 20)"},
           Bad{"(4309)18000000013015297971", "latitude beyond 90 degrees"},
           Bad{"(4309)02790858483600000001", "longitude beyond 180 degrees (offset 16)"},
           Bad{"(8013)1987654Ad4X4bL5ttr2310c2L", "check character pair does not match"},
           Bad{"(422)999", "999 is not an ISO 3166 country code"},
           Bad{"(4307)XX", "XX is not an ISO 3166 country code"},
           Bad{"(8010)abc", "'a' at offset 6 is not in GS1 CSET 39"},
           Bad{"(4321)2", "must be 0 or 1"},
           Bad{"(8001)00001234512319", "must not be 0 (offset 6)"},
           Bad{"(7258)3/1", "a position in a sequence"},
           Bad{"(7241)11", "11 is not an AIDC media type"},
           Bad{"(4330)00A234-", "'A' at offset 8 where a digit is required"},
           Bad{"(4330)001234+", "must be '-'"},
           Bad{"(423)5282761", "AI 423 at offset 0: the component at offset 11 has 1 of its 3 characters"},
           Bad{"(423)528999", "999 is not an ISO 3166 country code (offset 8)"},
           Bad{"(7041)ZZZ", "ZZZ is not a package type code"},
           Bad{"(8030)Ab=c", "'=' at offset 8 is not in GS1 CSET 64"},
       }) {
    SCOPED_TRACE(b.hri);
    const auto r = parse_hri(b.hri, opts());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "bad_gs1");
    EXPECT_NE(r.error().message.find(b.message), std::string::npos) << r.error().message;
  }
}

bool has_warning(const Gs1Data& d, const std::string& w) {
  for (const auto& x : d.warnings)
    if (x == w) return true;
  return false;
}

TEST(Gs1Lint, RequisitesAndExclusions) {
  Gs1Data d = ok("(01)09506000134352(02)09506000134352(37)1");
  EXPECT_TRUE(has_warning(d, "AI 01 and AI 02 are mutually exclusive"));
  EXPECT_TRUE(has_warning(d, "AI 01 and AI 37 are mutually exclusive"));
  EXPECT_TRUE(has_warning(d, "AI 37 requires one of AI 00 with 02, 00 with 8026"));
  EXPECT_TRUE(has_warning(ok("(10)ABC"), "AI 10 requires one of AI 01, 02, 03, 8006, 8026"));
  EXPECT_TRUE(has_warning(ok("(00)106141411234567897(37)5"), "AI 37 requires one of AI 00 with 02, 00 with 8026"));
  EXPECT_TRUE(has_warning(ok("(00)106141411234567897(02)09506000134352"), "AI 02 requires AI 37"));
  EXPECT_TRUE(has_warning(ok("(254)A-1"), "AI 254 requires AI 414"));
  EXPECT_TRUE(has_warning(ok("(01)09506000134352(3102)000100(3103)000100"),
                          "AI 3102 and AI 3103 are mutually exclusive"));
  EXPECT_TRUE(ok("(00)106141411234567897(02)09506000134352(37)5").warnings.empty());
  EXPECT_TRUE(ok("(01)09506000134352(10)A(17)260101(21)S").warnings.empty());
  // Repeats: identical is a warning, different is an error.
  EXPECT_TRUE(has_warning(ok("(01)09506000134352(10)A(10)A"), "AI 10 appears more than once"));
  EXPECT_EQ(err("(01)09506000134352(10)A(10)B").message, "AI 10 at offset 23: repeated with a different value");
}

// AI 37 (COUNT), as the GS1 Barcode Syntax Dictionary has it:
//   37  N..8  req=00+02,00+8026  # COUNT
// i.e. (00) together with (02) or with (8026): a count of contained trade
// items belongs on a logistic unit. ('+' joins AIs that must all be there.)
TEST(Gs1Lint, CountRequiresSsccAndContent) {
  const Gs1Data without_sscc = ok("(02)09506000134352(37)5");
  EXPECT_TRUE(has_warning(without_sscc, "AI 37 requires one of AI 00 with 02, 00 with 8026"));
  EXPECT_EQ(without_sscc.warnings.size(), 1u);
  EXPECT_TRUE(ok("(00)106141411234567897(02)09506000134352(37)5").warnings.empty());
  EXPECT_TRUE(ok("(02)09506000134352(37)5(00)106141411234567897").warnings.empty());  // order does not matter
  EXPECT_TRUE(ok("(00)106141411234567897(8026)095060001343520102(37)5").warnings.empty());
  const Gs1Data alone = ok("(37)5");
  EXPECT_TRUE(has_warning(alone, "AI 37 requires one of AI 00 with 02, 00 with 8026"));
  EXPECT_EQ(alone.warnings.size(), 1u);
}

TEST(Gs1UnknownAi, ByPolicy) {
  Gs1Data d = ok("(01)09506000134352(89)XYZ");
  ASSERT_NE(d.find("89"), nullptr);
  EXPECT_FALSE(d.find("89")->known);
  EXPECT_TRUE(has_warning(d, "unknown AI 89 at offset 18: kept as raw data"));
  d = ok("]C10109506000134352" "89XYZ\x1D" "10A");
  EXPECT_EQ(d.find("89")->raw, "XYZ");
  EXPECT_EQ(d.find("10")->raw, "A");
  Gs1Options strict = opts();
  strict.unknown_ai = UnknownAiPolicy::error;
  EXPECT_EQ(err("(01)09506000134352(89)XYZ", strict).code, "unknown_ai");
  EXPECT_EQ(err("]C10109506000134352" "89XYZ", strict).message, "AI 89 at offset 19: unknown AI");
  EXPECT_EQ(parse_digital_link("https://e.com/01/09506000134352?89=x", strict).error().code, "unknown_ai");
}

TEST(Gs1Robustness, GarbageIsAnErrorNotACrash) {
  for (std::string_view t : {std::string_view(""), std::string_view("]"), std::string_view("]C1"),
                             std::string_view("\x1D\x1D"), std::string_view("("), std::string_view("()"),
                             std::string_view("(0)"), std::string_view("https://"), std::string_view("01"),
                             std::string_view("\0\0", 2), std::string_view("]C1(")})
    EXPECT_FALSE(parse_gs1(t, opts()).ok()) << t;
  EXPECT_FALSE(parse_gs1(std::string(5000, '1'), opts()).ok());
}

}  // namespace
}  // namespace tally::scanner
