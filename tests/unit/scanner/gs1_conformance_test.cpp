// Conformance with the GS1 Barcode Syntax Engine: its own Digital Link test
// vectors (tests/data/gs1/dl_vectors.csv, derived by
// scanner/gs1/engine_vectors.py) as a table of verdicts and results. Every
// difference is listed below with its reason (and in docs/DOMAIN.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tally/scanner/gs1.hpp"

namespace tally::scanner {
namespace {

struct Vector {
  std::string mode, verdict, uri, expected;
};

// One CSV line: fields with "…" quoting ("" inside a quoted field is ").
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::vector<Vector> vectors() {
  std::ifstream in(std::string(TALLY_TEST_DATA_DIR) + "/gs1/dl_vectors.csv");
  std::vector<Vector> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("mode,", 0) == 0) continue;
    auto f = csv_fields(line);
    f.resize(4);
    rows.push_back(Vector{f[0], f[1], f[2], f[3]});
  }
  return rows;
}

// The engine's form of an element string: '^' for FNC1, first and as separator.
std::string engine_form(const Gs1Data& d) {
  std::string s = "^" + d.to_element_string();
  std::replace(s.begin(), s.end(), '\x1D', '^');
  return s;
}

// Where Tally decides otherwise, and why (docs/DOMAIN.md "Digital Link").
const std::map<std::string, std::string>& known_differences() {
  static const std::map<std::string, std::string> kDiffs = {};
  return kDiffs;
}

TEST(Gs1Conformance, DigitalLinkVectorsOfTheSyntaxEngine) {
  const auto rows = vectors();
  ASSERT_GT(rows.size(), 100U);
  int compared = 0;
  int agree = 0;
  // Tally reads GTIN-8/12/13 in a URI as GTIN-14, as the engine does with
  // permitZeroSuppressedGTINinDLuris: a URI tested in both modes counts in
  // that one (docs/DOMAIN.md says why).
  std::map<std::string, bool> zero_suppressed;
  for (const Vector& v : rows)
    if (v.mode == "zero_suppressed") zero_suppressed[v.uri] = true;
  for (const Vector& v : rows) {
    if (v.mode == "convenience") continue;  // "gtin"-style path names: not supported (off in the engine too)
    if (v.mode == "unknown_ais") continue;  // AIs outside the dictionary: Tally refuses them in a URI
    if (v.mode == "default" && zero_suppressed.count(v.uri) != 0) continue;
    ++compared;
    Gs1Options o;
    o.reference_year = 2026;
    const auto r = parse_digital_link(v.uri, o);
    const bool accepted = r.ok();
    const bool same = accepted == (v.verdict == "accept") && (!accepted || engine_form(*r) == v.expected);
    const auto known = known_differences().find(v.uri);
    if (same) {
      ++agree;
      EXPECT_EQ(known, known_differences().end()) << v.uri << ": agrees now, drop it from the known differences";
    } else {
      EXPECT_NE(known, known_differences().end())
          << v.uri << " [" << v.mode << "]: engine " << v.verdict << " " << v.expected << ", Tally "
          << (accepted ? "accept " + engine_form(*r) : "refuse (" + r.error().message + ")");
    }
  }
  const double pct = 100.0 * agree / compared;
  RecordProperty("agreement_pct", std::to_string(pct));
  std::printf("Digital Link vectors of the GS1 Syntax Engine: %d of %d agree (%.1f %%)\n", agree, compared, pct);
  EXPECT_GE(pct, 98.0);
}

}  // namespace
}  // namespace tally::scanner
