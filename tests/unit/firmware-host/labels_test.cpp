// `tally labels` (firmware-host/include/tally/device/labels.hpp): every
// generated PNG is decoded back with the project's own decode path
// (device::load_image_file + scanner::decode) and must give its text; every
// SVG must be well-formed XML; the self-test label read back diagnoses as OK.
#include "tally/device/labels.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tally/device/image_file.hpp"
#include "tally/scanner/decode.hpp"
#include "tally/scanner/label.hpp"
#include "tally/scanner/self_test.hpp"
#include "tally/scanner/session.hpp"
#include "temp_dir.hpp"

namespace tally::device {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A small XML well-formedness check (enough for what render_svg writes and
// for the mistakes it could make): one root, tags nested and closed in
// order, attribute values quoted, '&' only in the five predefined entities
// or numeric references, no '<' in text, no control characters but TAB/LF/CR.
std::string xml_problem(const std::string& x) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  int roots = 0;
  const auto check_text = [](std::string_view t) -> std::string {
    for (std::size_t k = 0; k < t.size(); ++k) {
      const auto c = static_cast<unsigned char>(t[k]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "control character in text";
      if (c == '&') {
        const auto semi = t.find(';', k);
        if (semi == std::string_view::npos) return "bare &";
        const std::string_view ent = t.substr(k + 1, semi - k - 1);
        const bool named = ent == "amp" || ent == "lt" || ent == "gt" || ent == "quot" || ent == "apos";
        const bool numeric = !ent.empty() && ent[0] == '#';
        if (!named && !numeric) return "unknown entity &" + std::string(ent) + ";";
      }
    }
    return {};
  };
  while (i < x.size()) {
    const auto lt = x.find('<', i);
    const std::string_view text = std::string_view(x).substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (auto p = check_text(text); !p.empty()) return p;
    if (stack.empty() && std::any_of(text.begin(), text.end(), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); })) {
      return "text outside the root";
    }
    if (lt == std::string::npos) break;
    if (x.compare(lt, 5, "<?xml") == 0) {
      const auto e = x.find("?>", lt);
      if (e == std::string::npos || lt != 0) return "bad XML declaration";
      i = e + 2;
      continue;
    }
    const auto gt = x.find('>', lt);
    if (gt == std::string::npos) return "unclosed tag";
    std::string tag = x.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag";
    i = gt + 1;
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "mismatched </" + name + ">";
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    const auto sp = tag.find_first_of(" \t\n");
    const std::string name = tag.substr(0, sp);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return "bad tag name";
    // attributes: name="value" pairs
    std::string_view attrs = sp == std::string::npos ? std::string_view{} : std::string_view(tag).substr(sp);
    std::set<std::string> seen;
    while (true) {
      const auto start = attrs.find_first_not_of(" \t\n");
      if (start == std::string_view::npos) break;
      attrs = attrs.substr(start);
      const auto eq = attrs.find('=');
      if (eq == std::string_view::npos || eq + 1 >= attrs.size() || attrs[eq + 1] != '"') return "unquoted attribute in <" + name + ">";
      const std::string an(attrs.substr(0, eq));
      if (!seen.insert(an).second) return "duplicate attribute " + an;
      const auto close = attrs.find('"', eq + 2);
      if (close == std::string_view::npos) return "unterminated attribute";
      if (auto p = check_text(attrs.substr(eq + 2, close - eq - 2)); !p.empty()) return p;
      attrs = attrs.substr(close + 1);
    }
    if (stack.empty()) ++roots;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "expected one root element";
  return {};
}

TEST(XmlCheck, CatchesMistakes) {
  EXPECT_EQ(xml_problem("<svg><g></g></svg>"), "");
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg a=b/>"), "");
  EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
  EXPECT_NE(xml_problem("<svg/><svg/>"), "");
}

class LabelsTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"labels-test"};

  // Decodes a PNG the way `tally decode` and tallyd do (in-process here).
  std::vector<scanner::Symbol> read_back(const std::filesystem::path& png) {
    auto image = load_image_file(png.string());
    EXPECT_TRUE(image) << png << ": " << image.error().message;
    if (!image) return {};
    auto symbols = scanner::decode(image->frame());
    EXPECT_TRUE(symbols) << png << ": " << symbols.error().message;
    return symbols ? *symbols : std::vector<scanner::Symbol>{};
  }
};

TEST_F(LabelsTest, EveryLabelDecodesBackToItsTextAndEverySvgIsWellFormed) {
  LabelsCommandOptions o;
  o.out_dir = dir_.str();
  o.bins = {"A-01-02-3", "LOC:DOCK-1", "B-12-04-1"};
  o.badges = {"alice", "bob.smith"};
  o.commands = true;
  o.self_test = true;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_labels_command(o, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");

  std::vector<LabelSpec> all = bin_labels(o.bins);
  for (auto& l : badge_labels(o.badges)) all.push_back(l);
  for (auto& l : command_labels(o.quantities, o.reasons)) all.push_back(l);
  all.push_back(self_test_label());
  // Every verb, every stock state, QTY 1..10 and the default reasons.
  EXPECT_EQ(command_labels(o.quantities, o.reasons).size(),
            scanner::command_verbs().size() + scanner::all_stock_states().size() + 10 + scanner::default_reason_codes().size());

  for (const auto& label : all) {
    SCOPED_TRACE(label.file);
    const auto png = dir_.path() / (label.file + ".png");
    const auto svg = dir_.path() / (label.file + ".svg");
    ASSERT_TRUE(std::filesystem::exists(png));
    ASSERT_TRUE(std::filesystem::exists(svg));
    const auto symbols = read_back(png);
    ASSERT_EQ(symbols.size(), 1u);
    EXPECT_EQ(symbols[0].text, label.text);
    EXPECT_EQ(symbols[0].format, label.format == scanner::Symbology::code128 ? "Code128" : "QRCode");
    const std::string svg_text = slurp(svg);
    EXPECT_EQ(xml_problem(svg_text), "");
    EXPECT_NE(svg_text.find(">" + label.caption + "<"), std::string::npos) << "caption under the symbol";
    // What the symbol says classifies as the label it is meant to be.
    if (label.file.rfind("self-test", 0) != 0) {
      auto c = scanner::classify(symbols[0].aim_id + symbols[0].text);
      EXPECT_TRUE(c) << c.error().message;
    }
  }
  for (const char* sheet : {"sheet-bins.svg", "sheet-badges.svg", "sheet-commands.svg"}) {
    const std::string s = slurp(dir_.path() / sheet);
    EXPECT_EQ(xml_problem(s), "") << sheet;
  }
  // The command sheet shows every label's caption.
  const std::string commands = slurp(dir_.path() / "sheet-commands.svg");
  for (const auto& l : command_labels(o.quantities, o.reasons)) {
    EXPECT_NE(commands.find(">" + l.caption + "<"), std::string::npos) << l.caption;
  }
}

// The command sheet follows the scanner's grammar: every verb classify()
// knows and every stock state CMD:STATE: takes, each as the kind it says.
TEST(CommandLabels, EveryVerbAndStateClassifiesAsWhatItSays) {
  std::size_t verbs = 0;
  std::size_t states = 0;
  for (const auto& l : command_labels({}, {})) {
    SCOPED_TRACE(l.text);
    auto c = scanner::classify(l.text);
    ASSERT_TRUE(c) << c.error().message;
    if (l.text.rfind("CMD:STATE:", 0) == 0) {
      EXPECT_EQ(c->kind, scanner::LabelKind::state);
      ++states;
    } else {
      EXPECT_EQ(c->kind, scanner::LabelKind::command);
      ++verbs;
    }
  }
  EXPECT_EQ(verbs, scanner::command_verbs().size());
  EXPECT_EQ(states, scanner::all_stock_states().size());
}

TEST_F(LabelsTest, SelfTestLabelReadBackDiagnosesOk) {
  LabelsCommandOptions o;
  o.out_dir = dir_.str();
  o.self_test = true;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_labels_command(o, out, err), 0) << err.str();
  const auto symbols = read_back(dir_.path() / "self-test.png");
  ASSERT_EQ(symbols.size(), 1u);
  EXPECT_EQ(symbols[0].aim_id, scanner::kSelfTestAimId);
  EXPECT_EQ(symbols[0].text, scanner::self_test_payload());
  const auto report = scanner::diagnose_self_test(symbols[0].aim_id + symbols[0].text + "\n", {true, "\n", {}});
  EXPECT_TRUE(report.ok) << report.summary;
  EXPECT_TRUE(report.issues.empty());
  // The same read by a scanner without AIM ids that drops the GS.
  std::string damaged = symbols[0].text;
  damaged.erase(damaged.find('\x1D'), 1);
  const auto bad = scanner::diagnose_self_test(damaged);
  EXPECT_FALSE(bad.ok);
  ASSERT_EQ(bad.issues.size(), 2u) << bad.summary;
  EXPECT_EQ(bad.issues[0].code, "gs_dropped");
  EXPECT_EQ(bad.issues[1].code, "aim_missing");
}

TEST_F(LabelsTest, PngOnlyAndSvgOnlyAndNothingToPrint) {
  LabelsCommandOptions o;
  o.out_dir = (dir_.path() / "sub" / "dir").string();  // created
  o.bins = {"A-01-01-1"};
  o.svg = false;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run_labels_command(o, out, err), 0) << err.str();
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(o.out_dir) / "bin-A-01-01-1.png"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(o.out_dir) / "bin-A-01-01-1.svg"));
  EXPECT_EQ(out.str(), (std::filesystem::path(o.out_dir) / "bin-A-01-01-1.png").string() + "\n");

  LabelsCommandOptions none;
  none.out_dir = dir_.str();
  EXPECT_EQ(run_labels_command(none, out, err), 2);
  EXPECT_NE(err.str().find("nothing to print"), std::string::npos);
}

TEST_F(LabelsTest, UnencodableTextIsReportedAndTheRestWritten) {
  LabelsCommandOptions o;
  o.out_dir = dir_.str();
  o.bins = {"B\xc3\xa9-1", "A-01-01-1"};  // é is not Code 128
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_labels_command(o, out, err), 1);
  EXPECT_NE(err.str().find("bad_text"), std::string::npos) << err.str();
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "bin-A-01-01-1.png"));
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "sheet-bins.svg"));
}

TEST(LabelFiles, NamesAreSafe) {
  const auto labels = bin_labels({"../etc/passwd", "LOC:A B"});
  EXPECT_EQ(labels[0].file, "bin-.._etc_passwd");
  EXPECT_EQ(labels[1].file, "bin-LOC_A_B");
}

// Every label `tally labels` prints by default means something to a default
// session (issue 16): there is a moment in a shift where scanning it is
// accepted, and every printed reason is accepted where reasons are checked
// (damage). Before, TORN, MISSING, WRONG and QUALITY were printed and refused.
TEST(LabelsAndSession, EveryDefaultLabelIsAcceptedByADefaultSession) {
  const LabelsCommandOptions defaults;
  std::vector<LabelSpec> all = bin_labels({"A-01-02-3", "LOC:DOCK-1"});
  for (auto& l : badge_labels({"alice"})) all.push_back(l);
  for (auto& l : command_labels(defaults.quantities, defaults.reasons)) all.push_back(l);

  // Scans that lead to a moment where a label may be scanned.
  const std::string item = "(01)09506000134352";
  const std::vector<std::vector<std::string>> moments = {
      {},
      {"OP:bob"},
      {"OP:alice"},
      {"OP:alice", "CMD:MOVE"},
      {"OP:alice", "CMD:MOVE", "A-01-01-1", item},
      {"OP:alice", "CMD:MOVE", "A-01-01-1", item, "B-01-01-1"},  // CORRECT
      {"OP:alice", "CMD:DAMAGE"},
      {"OP:alice", "CMD:HOLD"},
      {"OP:alice", "CMD:RELEASE"},
      {"OP:alice", "CMD:DAMAGE", "A-01-01-1", item},
      {"OP:alice", "CMD:DAMAGE", "A-01-01-1", item, "CMD:REASON:WET"},  // CONFIRM
  };
  const auto accepted_after = [](const std::vector<std::string>& before, const std::string& text) {
    scanner::Session s{scanner::SessionOptions{"hh-01", "site-a"}};
    std::int64_t t = 1'700'000'000'000;
    for (const auto& b : before) {
      auto o = s.handle({b, "", "test", t++});
      EXPECT_TRUE(o.accepted()) << b << ": " << o.code;
    }
    return s.handle({text, "", "test", t}).accepted();
  };
  for (const auto& label : all) {
    SCOPED_TRACE(label.text);
    bool somewhere = false;
    for (const auto& m : moments) somewhere = somewhere || accepted_after(m, label.text);
    EXPECT_TRUE(somewhere) << "no moment of a default session accepts " << label.text;
    if (label.text.rfind("CMD:REASON:", 0) == 0) {
      EXPECT_TRUE(accepted_after(moments[9], label.text)) << "damage refuses a printed reason";
    }
  }
}

}  // namespace
}  // namespace tally::device
