// classify(): every label kind of the default grammar and every error code.
#include <gtest/gtest.h>

#include <string>

#include "tally/scanner/label.hpp"

namespace tally::scanner {
namespace {

Label ok(std::string_view text) {
  auto r = classify(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().code + " " + r.error().message);
  return r.ok() ? *r : Label{};
}

std::string err(std::string_view text) {
  auto r = classify(text);
  return r.ok() ? "ok:" + std::string(to_string(r->kind)) : r.error().code;
}

TEST(LabelClassify, EmptyScan) {
  EXPECT_EQ(err(""), "empty_scan");
  EXPECT_EQ(err(" \r\n\t"), "empty_scan");
}

TEST(LabelClassify, TrimsWhitespaceAndLineEnds) {
  Label l = ok("  OP:alice\r\n");
  EXPECT_EQ(l.kind, LabelKind::operator_badge);
  EXPECT_EQ(l.value, "alice");
}

TEST(LabelClassify, OperatorBadge) {
  EXPECT_EQ(ok("OP:alice").value, "alice");
  EXPECT_EQ(ok("op:B.Smith_2-x").value, "B.Smith_2-x");
  EXPECT_EQ(ok("OP:" + std::string(32, 'a')).kind, LabelKind::operator_badge);
  EXPECT_EQ(err("OP:"), "unknown_label");
  EXPECT_EQ(err("OP:al ice"), "unknown_label");
  EXPECT_EQ(err("OP:" + std::string(33, 'a')), "unknown_label");
}

TEST(LabelClassify, CommandsAllVerbsCaseInsensitive) {
  for (const char* verb : {"RECEIVE", "PUTAWAY", "PICK", "MOVE", "DAMAGE", "HOLD", "RELEASE", "RETURN", "COUNT",
                           "CONFIRM", "UNDO", "CANCEL", "DONE", "LOGOUT"}) {
    Label l = ok(std::string("CMD:") + verb);
    EXPECT_EQ(l.kind, LabelKind::command);
    EXPECT_EQ(l.value, verb);
  }
  Label l = ok("cmd:move");
  EXPECT_EQ(l.kind, LabelKind::command);
  EXPECT_EQ(l.value, "MOVE");
}

TEST(LabelClassify, BadCommand) {
  EXPECT_EQ(err("CMD:"), "bad_command");
  EXPECT_EQ(err("CMD:JUMP"), "bad_command");
  EXPECT_EQ(err("CMD:MOVE2"), "bad_command");
  EXPECT_EQ(err("CMD:REASON:"), "bad_command");
  EXPECT_EQ(err("CMD:REASON:a b"), "bad_command");
}

TEST(LabelClassify, Quantity) {
  Label l = ok("CMD:QTY:12");
  EXPECT_EQ(l.kind, LabelKind::quantity);
  EXPECT_EQ(l.number, 12);
  EXPECT_EQ(ok("CMD:QTY:1").number, 1);
  EXPECT_EQ(ok("cmd:qty:1000000").number, 1'000'000);
  EXPECT_EQ(ok("CMD:QTY:007").number, 7);
  for (const char* bad : {"CMD:QTY:0", "CMD:QTY:1000001", "CMD:QTY:", "CMD:QTY:-3", "CMD:QTY:+3", "CMD:QTY:3.5",
                          "CMD:QTY:12a", "CMD:QTY:99999999999999999999999"})
    EXPECT_EQ(err(bad), "bad_quantity") << bad;
}

TEST(LabelClassify, Reason) {
  Label l = ok("CMD:REASON:crushed");
  EXPECT_EQ(l.kind, LabelKind::reason);
  EXPECT_EQ(l.value, "CRUSHED");
}

TEST(LabelClassify, Locations) {
  Label l = ok("a-01-02-3");
  EXPECT_EQ(l.kind, LabelKind::location);
  EXPECT_EQ(l.location.code, "A-01-02-3");
  l = ok("LOC:Dock-2");
  EXPECT_EQ(l.kind, LabelKind::location);
  EXPECT_EQ(l.location.code, "DOCK-2");
  EXPECT_EQ(err("LOC:bad code"), "unknown_label");
  // External parties are not scannable labels.
  EXPECT_EQ(err("@customer"), "unknown_label");
}

TEST(LabelClassify, Containers) {
  Label l = ok("TOTE:17");
  EXPECT_EQ(l.kind, LabelKind::container);
  EXPECT_EQ(l.value, "17");
  EXPECT_EQ(ok("tote:cart-a").value, "CART-A");
  EXPECT_EQ(err("TOTE:"), "unknown_label");
  l = ok("106141411234567897");  // SSCC, valid check digit
  EXPECT_EQ(l.kind, LabelKind::container);
  EXPECT_EQ(l.value, "106141411234567897");
  EXPECT_EQ(err("106141411234567898"), "bad_check_digit");
}

TEST(LabelClassify, Documents) {
  for (const char* text : {"PO:4500012", "ASN:A-77", "ORD:991", "TASK:t1"}) {
    Label l = ok(text);
    EXPECT_EQ(l.kind, LabelKind::document) << text;
    EXPECT_EQ(l.value, text);
  }
  EXPECT_EQ(ok("po:4500012").value, "PO:4500012");
  EXPECT_EQ(ok("asn:x-1").value, "ASN:x-1");
  EXPECT_EQ(err("PO:"), "unknown_label");
  EXPECT_EQ(err("ORD:1 2"), "unknown_label");
}

TEST(LabelClassify, GtinsArePaddedTo14) {
  struct Case {
    const char* text;
    const char* gtin;
  };
  for (const Case& c : {Case{"40170725", "00000040170725"}, Case{"036000291452", "00036000291452"},
                        Case{"4006381333931", "04006381333931"}, Case{"09506000134352", "09506000134352"}}) {
    Label l = ok(c.text);
    EXPECT_EQ(l.kind, LabelKind::item) << c.text;
    EXPECT_EQ(l.item.gtin, c.gtin);
    EXPECT_TRUE(l.item.sku.empty());
  }
}

TEST(LabelClassify, GtinBadCheckDigit) {
  for (const char* bad : {"40170724", "036000291453", "4006381333932", "09506000134351"})
    EXPECT_EQ(err(bad), "bad_check_digit") << bad;
}

TEST(LabelClassify, UnknownLabel) {
  for (const char* text :
       {"hello", "1234567", "123456789", "400638133393100", "A-01-02", "FOO:bar", "https://example.com/about"})
    EXPECT_EQ(err(text), "unknown_label") << text;
}

TEST(LabelClassify, UnknownLabelMessageQuotesTruncated) {
  auto r = classify("hello world");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("\"hello world\""), std::string::npos) << r.error().message;

  const std::string longtext = "X" + std::string(200, 'y');
  r = classify(longtext);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(longtext.substr(0, 64)), std::string::npos);
  EXPECT_EQ(r.error().message.find(longtext.substr(0, 65)), std::string::npos);
  EXPECT_LT(r.error().message.size(), 100U);

  r = classify("bad\x01\xff");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bad??"), std::string::npos) << r.error().message;
}

// GS1 content (HRI "(01)…" used to be unknown_label before the GS1 recogniser).
LabelOptions year2026() {
  LabelOptions o;
  o.gs1.reference_year = 2026;
  return o;
}

TEST(LabelClassifyGs1, ItemFromElementString) {
  auto r = classify("]C1010950600013435210ABC123\x1D" "17261231\r\n", year2026());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, LabelKind::item);
  EXPECT_EQ(r->value, "09506000134352");
  EXPECT_EQ(r->item.gtin, "09506000134352");
  EXPECT_EQ(r->item.lot, "ABC123");
  EXPECT_EQ(r->item.expiry, "2026-12-31");
  EXPECT_EQ(r->item.serial, "");
  ASSERT_TRUE(r->gs1.has_value());
  EXPECT_EQ(r->gs1->symbology, "]C1");
  EXPECT_EQ(r->gs1->elements.size(), 3U);
}

TEST(LabelClassifyGs1, ItemFromHriDigitalLinkAndWedge) {
  Label l = ok("(01)09506000134352(21)SER-9");
  EXPECT_EQ(l.kind, LabelKind::item);
  EXPECT_EQ(l.item.gtin, "09506000134352");
  EXPECT_EQ(l.item.serial, "SER-9");
  EXPECT_EQ(l.gs1->source_form, "hri");
  l = ok("https://id.example.com/01/09506000134352/10/L42?17=270100");
  EXPECT_EQ(l.kind, LabelKind::item);
  EXPECT_EQ(l.item.lot, "L42");
  EXPECT_EQ(l.item.expiry, "2027-01-31");
  l = ok("]Q1https://id.example.com/01/09506000134352");
  EXPECT_EQ(l.item.gtin, "09506000134352");
  l = ok("010950600013435210ABC123|17261231");
  EXPECT_EQ(l.item.lot, "ABC123");
  l = ok("]E04006381333931");
  EXPECT_EQ(l.kind, LabelKind::item);
  EXPECT_EQ(l.item.gtin, "04006381333931");
}

TEST(LabelClassifyGs1, ContentsAndCount) {
  Label l = ok("]C102095060001343523724\x1D" "1024A117");
  EXPECT_EQ(l.kind, LabelKind::item);
  EXPECT_EQ(l.item.gtin, "09506000134352");
  EXPECT_EQ(l.item.lot, "24A117");
  EXPECT_EQ(l.number, 24);
  EXPECT_FALSE(l.gs1->warnings.empty());  // (37) without (00)
}

TEST(LabelClassifyGs1, SsccIsAContainer) {
  Label l = ok("]C100195060001000034571020950600013435237120");
  EXPECT_EQ(l.kind, LabelKind::container);
  EXPECT_EQ(l.value, "195060001000034571");
  EXPECT_EQ(l.item.gtin, "09506000134352");
  EXPECT_EQ(l.number, 120);
  EXPECT_EQ(ok("(00)106141411234567897").value, "106141411234567897");
}

TEST(LabelClassifyGs1, GlnWithExtensionIsALocation) {
  Label l = ok("]C14149506000000008254A-01-02");
  EXPECT_EQ(l.kind, LabelKind::location);
  EXPECT_EQ(l.location.code, "A-01-02");
  EXPECT_EQ(l.value, "A-01-02");
  l = ok("https://example.com/414/9506000000008/254/a-01-02");
  EXPECT_EQ(l.location.code, "A-01-02");
  l = ok("(414)9506000000008");
  EXPECT_EQ(l.location.code, "9506000000008");
}

TEST(LabelClassifyGs1, Errors) {
  EXPECT_EQ(err("(01)09506000134351"), "bad_check_digit");
  EXPECT_EQ(err("(01)09506000134352(17)261331"), "bad_gs1");
  EXPECT_EQ(err("010950600013435210ABC12317261231"), "gs1_ambiguous");
  EXPECT_EQ(err("https://e.com/01/09506000134352/10/%zz"), "bad_digital_link");
  EXPECT_EQ(err("(400)PO1"), "unknown_label");  // GS1 data without a key Tally acts on
  EXPECT_EQ(err("]C1"), "bad_gs1");
  EXPECT_EQ(err("]Q1"), "empty_scan");
  auto r = classify("(01)09506000134352(17)261331");
  EXPECT_EQ(r.error().message, "AI 17 at offset 18: month 13");
}

TEST(LabelClassifySymbology, NonGs1PrefixIsStripped) {
  EXPECT_EQ(ok("]Q1LOC:DOCK-07").location.code, "DOCK-07");
  EXPECT_EQ(ok("]Q1TOTE:000123").value, "000123");
  EXPECT_EQ(err("]A0PO-12345"), "unknown_label");
}

TEST(LabelOptionsTest, SiteGrammar) {
  LabelOptions o;
  o.bin_regex = R"(BIN:[A-Z]-\d{2}-\d{2}-\d)";
  o.documents = {.purchase_order = {"PO"}, .asn = {}, .order = {}, .task = {}, .other = {"LPN"}};
  auto r = classify("]d1BIN:A-01-02-3", o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, LabelKind::location);
  EXPECT_EQ(r->location.code, "BIN:A-01-02-3");
  r = classify("A-01-02-3", o);  // the default bin grammar no longer applies
  EXPECT_FALSE(r.ok());
  r = classify("LOC:DOCK-1", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->location.code, "DOCK-1");
  r = classify("]C0PO4500123456", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, LabelKind::document);
  EXPECT_EQ(r->value, "PO4500123456");
  r = classify("LPN00012345678", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, "LPN00012345678");
  o.bin_regex = "(";
  r = classify("X-1", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_options");
  LabelOptions subs;
  subs.gs1.gs_substitutes = {"#"};
  EXPECT_TRUE(classify("010950600013435210ABC#17261231", subs).ok());
  subs.gs1.unknown_ai = UnknownAiPolicy::error;
  EXPECT_EQ(classify("(01)09506000134352(89)X", subs).error().code, "unknown_ai");
}

TEST(LabelKindNames, AllKinds) {
  EXPECT_EQ(to_string(LabelKind::operator_badge), "operator_badge");
  EXPECT_EQ(to_string(LabelKind::command), "command");
  EXPECT_EQ(to_string(LabelKind::quantity), "quantity");
  EXPECT_EQ(to_string(LabelKind::reason), "reason");
  EXPECT_EQ(to_string(LabelKind::location), "location");
  EXPECT_EQ(to_string(LabelKind::container), "container");
  EXPECT_EQ(to_string(LabelKind::document), "document");
  EXPECT_EQ(to_string(LabelKind::item), "item");
}

}  // namespace
}  // namespace tally::scanner
