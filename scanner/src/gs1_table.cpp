// GS1 Application Identifiers known to Tally. Source: GS1 General
// Specifications §3 (AI definitions) and the GS1 Barcode Syntax Dictionary
// (lengths, predefined-length flag, req=/ex= association rules, titles).
#include "gs1_table.hpp"

#include <array>

namespace tally::scanner::gs1 {

namespace {

using K = Kind;

constexpr std::string_view kKey = "01,02,8006,8026";  // req of most trade item attributes

// clang-format off
constexpr std::array kTable = {
  // ai     kind            min max  pre   fam   n  title                        unit  req             ex
  AiSpec{"00",  K::digits_csum, 18, 18, true,  false, 0, "SSCC",                     "", "",              ""},
  AiSpec{"01",  K::digits_csum, 14, 14, true,  false, 0, "GTIN",                     "", "",              "02,255,37"},
  AiSpec{"02",  K::digits_csum, 14, 14, true,  false, 0, "CONTENT",                  "", "37",            "01"},
  AiSpec{"10",  K::text,         1, 20, false, false, 0, "BATCH/LOT",                "", kKey,            ""},
  AiSpec{"11",  K::date,         6,  6, true,  false, 0, "PROD DATE",                "", kKey,            ""},
  AiSpec{"12",  K::date,         6,  6, true,  false, 0, "DUE DATE",                 "", "8020",          ""},
  AiSpec{"13",  K::date,         6,  6, true,  false, 0, "PACK DATE",                "", kKey,            ""},
  AiSpec{"15",  K::date,         6,  6, true,  false, 0, "BEST BEFORE or BEST BY",   "", kKey,            ""},
  AiSpec{"16",  K::date,         6,  6, true,  false, 0, "SELL BY",                  "", kKey,            ""},
  AiSpec{"17",  K::date,         6,  6, true,  false, 0, "USE BY or EXPIRY",         "", "01,02,255,8006,8026", ""},
  AiSpec{"20",  K::digits,       2,  2, true,  false, 0, "VARIANT",                  "", kKey,            ""},
  AiSpec{"21",  K::text,         1, 20, false, false, 0, "SERIAL",                   "", "01,8006",       "235"},
  AiSpec{"22",  K::text,         1, 20, false, false, 0, "CPV",                      "", "01",            ""},
  AiSpec{"235", K::text,         1, 28, false, false, 0, "TPX",                      "", "01",            ""},
  AiSpec{"240", K::text,         1, 30, false, false, 0, "ADDITIONAL ID",            "", kKey,            ""},
  AiSpec{"241", K::text,         1, 30, false, false, 0, "CUST. PART No.",           "", kKey,            ""},
  AiSpec{"242", K::digits,       1,  6, false, false, 0, "MTO VARIANT",              "", kKey,            ""},
  AiSpec{"243", K::text,         1, 20, false, false, 0, "PCN",                      "", "01",            ""},
  AiSpec{"250", K::text,         1, 30, false, false, 0, "SECONDARY SERIAL",         "", "01,8006 21",    ""},
  AiSpec{"251", K::text,         1, 30, false, false, 0, "REF. TO SOURCE",           "", "01,8006",       ""},
  AiSpec{"253", K::gdti,        13, 30, false, false, 0, "GDTI",                     "", "",              ""},
  AiSpec{"254", K::text,         1, 20, false, false, 0, "GLN EXTENSION COMPONENT",  "", "414",           ""},
  AiSpec{"255", K::gcn,         13, 25, false, false, 0, "GCN",                      "", "",              "01,02,415,8006,8020,8026"},
  AiSpec{"30",  K::count,        1,  8, false, false, 0, "VAR. COUNT",               "", "01,02",         ""},
  AiSpec{"310", K::measure,      6,  6, true,  true,  5, "NET WEIGHT (kg)",       "kg", "01,02", ""},
  AiSpec{"311", K::measure,      6,  6, true,  true,  5, "LENGTH (m)",             "m", "01,02", ""},
  AiSpec{"312", K::measure,      6,  6, true,  true,  5, "WIDTH (m)",              "m", "01,02", ""},
  AiSpec{"313", K::measure,      6,  6, true,  true,  5, "HEIGHT (m)",             "m", "01,02", ""},
  AiSpec{"314", K::measure,      6,  6, true,  true,  5, "AREA (m2)",             "m2", "01,02", ""},
  AiSpec{"315", K::measure,      6,  6, true,  true,  5, "NET VOLUME (l)",         "l", "01,02", ""},
  AiSpec{"316", K::measure,      6,  6, true,  true,  5, "NET VOLUME (m3)",       "m3", "01,02", ""},
  AiSpec{"320", K::measure,      6,  6, true,  true,  5, "NET WEIGHT (lb)",       "lb", "01,02", ""},
  AiSpec{"321", K::measure,      6,  6, true,  true,  5, "LENGTH (in)",           "in", "01,02", ""},
  AiSpec{"322", K::measure,      6,  6, true,  true,  5, "LENGTH (ft)",           "ft", "01,02", ""},
  AiSpec{"323", K::measure,      6,  6, true,  true,  5, "LENGTH (yd)",           "yd", "01,02", ""},
  AiSpec{"324", K::measure,      6,  6, true,  true,  5, "WIDTH (in)",            "in", "01,02", ""},
  AiSpec{"325", K::measure,      6,  6, true,  true,  5, "WIDTH (ft)",            "ft", "01,02", ""},
  AiSpec{"326", K::measure,      6,  6, true,  true,  5, "WIDTH (yd)",            "yd", "01,02", ""},
  AiSpec{"327", K::measure,      6,  6, true,  true,  5, "HEIGHT (in)",           "in", "01,02", ""},
  AiSpec{"328", K::measure,      6,  6, true,  true,  5, "HEIGHT (ft)",           "ft", "01,02", ""},
  AiSpec{"329", K::measure,      6,  6, true,  true,  5, "HEIGHT (yd)",           "yd", "01,02", ""},
  AiSpec{"330", K::measure,      6,  6, true,  true,  5, "GROSS WEIGHT (kg)",     "kg", "00,01", ""},
  AiSpec{"331", K::measure,      6,  6, true,  true,  5, "LENGTH (m), log",        "m", "00,01", ""},
  AiSpec{"332", K::measure,      6,  6, true,  true,  5, "WIDTH (m), log",         "m", "00,01", ""},
  AiSpec{"333", K::measure,      6,  6, true,  true,  5, "HEIGHT (m), log",        "m", "00,01", ""},
  AiSpec{"334", K::measure,      6,  6, true,  true,  5, "AREA (m2), log",        "m2", "00,01", ""},
  AiSpec{"335", K::measure,      6,  6, true,  true,  5, "VOLUME (l), log",        "l", "00,01", ""},
  AiSpec{"336", K::measure,      6,  6, true,  true,  5, "VOLUME (m3), log",      "m3", "00,01", ""},
  AiSpec{"337", K::measure,      6,  6, true,  true,  5, "KG PER m2",          "kg/m2", "01",    ""},
  AiSpec{"340", K::measure,      6,  6, true,  true,  5, "GROSS WEIGHT (lb)",     "lb", "00,01", ""},
  AiSpec{"341", K::measure,      6,  6, true,  true,  5, "LENGTH (in), log",      "in", "00,01", ""},
  AiSpec{"342", K::measure,      6,  6, true,  true,  5, "LENGTH (ft), log",      "ft", "00,01", ""},
  AiSpec{"343", K::measure,      6,  6, true,  true,  5, "LENGTH (yd), log",      "yd", "00,01", ""},
  AiSpec{"344", K::measure,      6,  6, true,  true,  5, "WIDTH (in), log",       "in", "00,01", ""},
  AiSpec{"345", K::measure,      6,  6, true,  true,  5, "WIDTH (ft), log",       "ft", "00,01", ""},
  AiSpec{"346", K::measure,      6,  6, true,  true,  5, "WIDTH (yd), log",       "yd", "00,01", ""},
  AiSpec{"347", K::measure,      6,  6, true,  true,  5, "HEIGHT (in), log",      "in", "00,01", ""},
  AiSpec{"348", K::measure,      6,  6, true,  true,  5, "HEIGHT (ft), log",      "ft", "00,01", ""},
  AiSpec{"349", K::measure,      6,  6, true,  true,  5, "HEIGHT (yd), log",      "yd", "00,01", ""},
  AiSpec{"350", K::measure,      6,  6, true,  true,  5, "AREA (in2)",           "in2", "01,02", ""},
  AiSpec{"351", K::measure,      6,  6, true,  true,  5, "AREA (ft2)",           "ft2", "01,02", ""},
  AiSpec{"352", K::measure,      6,  6, true,  true,  5, "AREA (yd2)",           "yd2", "01,02", ""},
  AiSpec{"353", K::measure,      6,  6, true,  true,  5, "AREA (in2), log",      "in2", "00,01", ""},
  AiSpec{"354", K::measure,      6,  6, true,  true,  5, "AREA (ft2), log",      "ft2", "00,01", ""},
  AiSpec{"355", K::measure,      6,  6, true,  true,  5, "AREA (yd2), log",      "yd2", "00,01", ""},
  AiSpec{"356", K::measure,      6,  6, true,  true,  5, "NET WEIGHT (t oz)",   "oz t", "01,02", ""},
  AiSpec{"357", K::measure,      6,  6, true,  true,  5, "NET VOLUME (oz)",       "oz", "01,02", ""},
  AiSpec{"360", K::measure,      6,  6, true,  true,  5, "NET VOLUME (qt)",       "qt", "01,02", ""},
  AiSpec{"361", K::measure,      6,  6, true,  true,  5, "NET VOLUME (gal.)",    "gal", "01,02", ""},
  AiSpec{"362", K::measure,      6,  6, true,  true,  5, "VOLUME (qt), log",      "qt", "00,01", ""},
  AiSpec{"363", K::measure,      6,  6, true,  true,  5, "VOLUME (gal.), log",   "gal", "00,01", ""},
  AiSpec{"364", K::measure,      6,  6, true,  true,  5, "VOLUME (in3)",         "in3", "01,02", ""},
  AiSpec{"365", K::measure,      6,  6, true,  true,  5, "VOLUME (ft3)",         "ft3", "01,02", ""},
  AiSpec{"366", K::measure,      6,  6, true,  true,  5, "VOLUME (yd3)",         "yd3", "01,02", ""},
  AiSpec{"367", K::measure,      6,  6, true,  true,  5, "VOLUME (in3), log",    "in3", "00,01", ""},
  AiSpec{"368", K::measure,      6,  6, true,  true,  5, "VOLUME (ft3), log",    "ft3", "00,01", ""},
  AiSpec{"369", K::measure,      6,  6, true,  true,  5, "VOLUME (yd3), log",    "yd3", "00,01", ""},
  // 37: the dictionary's "req=00 req=02,8026" is 00 AND (02 or 8026), not "00 optional".
  AiSpec{"37",  K::count,        1,  8, false, false, 0, "COUNT",                    "", "00 02,8026",    ""},
  AiSpec{"390", K::amount,       1, 15, false, true,  9, "AMOUNT",                   "", "255,8020",      "391n,394n,8111"},
  AiSpec{"391", K::amount_iso,   4, 18, false, true,  9, "AMOUNT",                   "", "8020",          ""},
  AiSpec{"392", K::amount,       1, 15, false, true,  9, "PRICE",                    "", "01 30,31nn,32nn,35nn,36nn", "393n"},
  AiSpec{"393", K::amount_iso,   4, 18, false, true,  9, "PRICE",                    "", "30,31nn,32nn,35nn,36nn", ""},
  AiSpec{"400", K::text,         1, 30, false, false, 0, "ORDER NUMBER",             "", "",              ""},
  AiSpec{"401", K::text,         1, 30, false, false, 0, "GINC",                     "", "",              ""},
  AiSpec{"402", K::digits_csum, 17, 17, false, false, 0, "GSIN",                     "", "",              ""},
  AiSpec{"403", K::text,         1, 30, false, false, 0, "ROUTE",                    "", "00",            ""},
  AiSpec{"410", K::digits_csum, 13, 13, true,  false, 0, "SHIP TO LOC",              "", "",              ""},
  AiSpec{"411", K::digits_csum, 13, 13, true,  false, 0, "BILL TO",                  "", "",              ""},
  AiSpec{"412", K::digits_csum, 13, 13, true,  false, 0, "PURCHASE FROM",            "", "",              ""},
  AiSpec{"413", K::digits_csum, 13, 13, true,  false, 0, "SHIP FOR LOC",             "", "",              ""},
  AiSpec{"414", K::digits_csum, 13, 13, true,  false, 0, "LOC No.",                  "", "",              ""},
  AiSpec{"415", K::digits_csum, 13, 13, true,  false, 0, "PAY TO",                   "", "8020",          ""},
  AiSpec{"416", K::digits_csum, 13, 13, true,  false, 0, "PROD/SERV LOC",            "", "",              ""},
  AiSpec{"417", K::digits_csum, 13, 13, true,  false, 0, "PARTY",                    "", "",              ""},
  AiSpec{"420", K::text,         1, 20, false, false, 0, "SHIP TO POST",             "", "",              "421"},
  AiSpec{"421", K::post_iso,     4, 12, false, false, 0, "SHIP TO POST",             "", "",              ""},
  AiSpec{"422", K::country,      3,  3, false, false, 0, "ORIGIN",                   "", kKey,            ""},
  AiSpec{"7003", K::datetime,   10, 10, false, false, 0, "EXPIRY TIME",              "", "01,02",         ""},
  AiSpec{"8003", K::grai,       14, 30, false, false, 0, "GRAI",                     "", "",              ""},
  AiSpec{"8004", K::text,        1, 30, false, false, 0, "GIAI",                     "", "",              ""},
  AiSpec{"8006", K::itip,       18, 18, false, false, 0, "ITIP",                     "", "",              "01,37"},
  AiSpec{"8008", K::datetime,    8, 12, false, false, 0, "PROD TIME",                "", "01,02",         ""},
  AiSpec{"8012", K::text,        1, 20, false, false, 0, "VERSION",                  "", "01,8006",       ""},
  AiSpec{"8017", K::digits_csum, 18, 18, false, false, 0, "GSRN - PROVIDER",         "", "",              "8018"},
  AiSpec{"8018", K::digits_csum, 18, 18, false, false, 0, "GSRN - RECIPIENT",        "", "",              "8017"},
  AiSpec{"8020", K::text,        1, 25, false, false, 0, "REF No.",                  "", "415",           ""},
  AiSpec{"8026", K::itip,       18, 18, false, false, 0, "ITIP CONTENT",             "", "37",            "02,8006"},
  AiSpec{"8200", K::text,        1, 70, false, false, 0, "PRODUCT URL",              "", "01",            ""},
  AiSpec{"90",  K::text,         1, 30, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"91",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"92",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"93",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"94",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"95",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"96",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"97",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"98",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
  AiSpec{"99",  K::text,         1, 90, false, false, 0, "INTERNAL",                 "", "",              ""},
};
// clang-format on

constexpr DlSpec kDictionary[] = {
#include "gs1_dictionary.inc"
};

bool digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::span<const AiSpec> ai_table() { return kTable; }

const AiSpec* lookup(std::string_view s, std::size_t& ai_len) {
  ai_len = 0;
  for (const AiSpec& spec : kTable) {
    const std::size_t n = spec.family ? 4 : spec.ai.size();
    if (s.size() < n || !digits(s.substr(0, n))) continue;
    if (s.substr(0, spec.ai.size()) != spec.ai) continue;
    ai_len = n;
    return &spec;
  }
  return nullptr;
}

const AiSpec* find_ai(std::string_view ai) {
  std::size_t n = 0;
  const AiSpec* spec = lookup(ai, n);
  return spec != nullptr && n == ai.size() ? spec : nullptr;
}

const DlSpec* dl_spec(std::string_view ai) {
  if (!digits(ai)) return nullptr;
  for (const DlSpec& d : kDictionary)
    if (ai.size() == d.first.size() && ai >= d.first && ai <= d.last) return &d;
  return nullptr;
}

std::size_t unknown_ai_length(std::string_view s) {
  if (s.size() < 2) return 2;
  const int a = s[0] - '0';
  const int b = s[1] - '0';
  switch (a) {
    case 2:
      return b <= 2 ? 2 : 3;  // 20–22; 23x–29x
    case 3:
      return (b == 0 || b == 7) ? 2 : 4;  // 30, 37; 31nn–39nn
    case 4:
      return b == 3 ? 4 : 3;  // 43nn; 40x–49x
    case 7:
      return b == 1 ? 3 : 4;  // 71x; 70nn, 72nn…
    case 8:
      return 4;
    default:
      return 2;  // 0x, 1x, 5x, 6x, 9x
  }
}

}  // namespace tally::scanner::gs1
