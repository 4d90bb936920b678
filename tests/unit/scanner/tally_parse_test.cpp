// `tally parse`, run as a real process: JSON lines on stdout, exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "daemon.hpp"

namespace {

struct CliRun {
  int code = -1;
  std::vector<nlohmann::json> lines;
  std::string err;
};

CliRun parse(const std::vector<std::string>& args) {
  std::vector<std::string> all{"parse", "--reference-year", "2026"};
  all.insert(all.end(), args.begin(), args.end());
  tally::test::Daemon d(TALLY_CLI_PATH, all);
  const std::string out = d.read_stdout_to_end();
  CliRun r;
  r.code = d.wait().code;
  r.err = d.drain_stderr();
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) r.lines.push_back(nlohmann::json::parse(line));
  return r;
}

TEST(TallyParse, PrintsOneJsonObjectPerInput) {
  CliRun r = parse({"-e", "]C1010950600013435210ABC123\\x1D17261231", "(00)106141411234567897", "CMD:MOVE",
                 "https://example.com/01/09506000134352?3103=012500"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  ASSERT_EQ(r.lines.size(), 4U);
  const auto& item = r.lines[0];
  EXPECT_EQ(item["ok"], true);
  EXPECT_EQ(item["kind"], "item");
  EXPECT_EQ(item["item"]["gtin"], "09506000134352");
  EXPECT_EQ(item["item"]["lot"], "ABC123");
  EXPECT_EQ(item["item"]["expiry"], "2026-12-31");
  EXPECT_EQ(item["gs1"]["symbology"], "]C1");
  EXPECT_EQ(item["gs1"]["hri"], "(01)09506000134352(10)ABC123(17)261231");
  EXPECT_EQ(item["gs1"]["elements"][2]["date"], "2026-12-31");
  EXPECT_EQ(item["input"], "]C1010950600013435210ABC123\x1D" "17261231");
  EXPECT_EQ(r.lines[1]["kind"], "container");
  EXPECT_EQ(r.lines[1]["value"], "106141411234567897");
  EXPECT_EQ(r.lines[2]["kind"], "command");
  EXPECT_EQ(r.lines[2]["gs1"], nullptr);
  EXPECT_EQ(r.lines[3]["gs1"]["form"], "digital_link");
  EXPECT_EQ(r.lines[3]["gs1"]["elements"][1]["decimal"], "12.500");
  EXPECT_EQ(r.lines[3]["gs1"]["elements"][1]["unit"], "kg");
}

TEST(TallyParse, MalformedInputExits2WithOneLineErrorAndStillPrintsTheOthers) {
  CliRun r = parse({"(01)09506000134352(17)261331", "OP:alice"});
  EXPECT_EQ(r.code, 2);
  ASSERT_EQ(r.lines.size(), 2U);
  EXPECT_EQ(r.lines[0]["ok"], false);
  EXPECT_EQ(r.lines[0]["error"]["code"], "bad_gs1");
  EXPECT_EQ(r.lines[0]["error"]["message"], "AI 17 at offset 18: month 13");
  EXPECT_EQ(r.lines[1]["kind"], "operator_badge");
  EXPECT_EQ(r.err, "tally parse: \"(01)09506000134352(17)261331\": AI 17 at offset 18: month 13 [bad_gs1]\n");
}

TEST(TallyParse, WarningsAndOptions) {
  CliRun r = parse({"(02)09506000134352(37)24"});
  ASSERT_EQ(r.lines.size(), 1U);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.lines[0]["number"], 24);
  EXPECT_EQ(r.lines[0]["warnings"][0], "AI 37 requires one of AI 00 with 02, 00 with 8026");
  r = parse({"--unknown-ai", "error", "(01)09506000134352(89)X"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.lines[0]["error"]["code"], "unknown_ai");
  r = parse({"--gs-substitute", "~", "010950600013435210AB~17261231"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.lines[0]["item"]["lot"], "AB");
}

TEST(TallyParse, UsageErrorsExit2) {
  tally::test::Daemon d(TALLY_CLI_PATH, {"parse"});
  d.read_stdout_to_end();
  EXPECT_EQ(d.wait().code, 2);
  tally::test::Daemon none(TALLY_CLI_PATH, {});
  none.read_stdout_to_end();
  EXPECT_EQ(none.wait().code, 2);
}

}  // namespace
