// The movement wire format: every field round-trips, empty optionals are
// omitted, and every bad shape is refused with "bad_json" naming the member.
#include "tally/wire/movement_json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tally::wire {
namespace {

using nlohmann::json;
using scanner::Endpoint;
using scanner::Location;
using scanner::Movement;
using scanner::MovementType;
using scanner::StockState;

Movement full_move() {
  Movement m;
  m.device = "hh-07";
  m.site = "berlin-1";
  m.seq = 42;
  m.operator_id = "alice";
  m.type = MovementType::move;
  m.item = {"09506000134352", "SKU-1", "L42", "2027-03-31", "S1001"};
  m.qty = 3;
  m.from = Endpoint{Location{"A-01-01-1"}, StockState::available};
  m.to = Endpoint{Location{"B-02-01-1"}, StockState::available};
  m.reason = "relocate";
  m.reference = "TASK:17";
  m.evidence = {"OP:alice", "CMD:MOVE", "A-01-01-1", "(01)09506000134352(10)L42", "B-02-01-1"};
  m.wall_time_ms = 1'790'000'000'123;
  m.hlc = (std::uint64_t{1'790'000'000'123} << 16) | 5U;
  return m;
}

Movement receipt() {
  Movement m;
  m.device = "hh-07";
  m.site = "berlin-1";
  m.seq = 1;
  m.operator_id = "bob";
  m.type = MovementType::receipt;
  m.item.gtin = "09506000134352";
  m.qty = 10;
  m.from = Endpoint{scanner::kSupplier, std::nullopt};
  m.to = Endpoint{Location{"DOCK-1"}, StockState::inbound};
  m.reference = "PO:4500012";
  m.evidence = {"PO:4500012"};
  m.wall_time_ms = 1'790'000'000'000;
  m.hlc = std::uint64_t{1'790'000'000'000} << 16;
  return m;
}

void expect_bad(const json& j, const std::string& field) {
  auto r = movement_from_json(j);
  ASSERT_FALSE(r.ok()) << j.dump();
  EXPECT_EQ(r.error().code, "bad_json") << r.error().message;
  EXPECT_NE(r.error().message.find(field), std::string::npos)
      << "message should name " << field << ": " << r.error().message;
}

TEST(MovementJson, WritesTheWireFieldNames) {
  const json j = to_json(full_move());
  EXPECT_EQ(j.at("device"), "hh-07");
  EXPECT_EQ(j.at("site"), "berlin-1");
  EXPECT_EQ(j.at("seq"), 42);
  EXPECT_EQ(j.at("operator"), "alice");
  EXPECT_EQ(j.at("type"), "move");
  EXPECT_EQ(j.at("item"), (json{{"gtin", "09506000134352"},
                                {"sku", "SKU-1"},
                                {"lot", "L42"},
                                {"expiry", "2027-03-31"},
                                {"serial", "S1001"}}));
  EXPECT_EQ(j.at("qty"), 3);
  EXPECT_EQ(j.at("from"), (json{{"location", "A-01-01-1"}, {"state", "available"}}));
  EXPECT_EQ(j.at("to"), (json{{"location", "B-02-01-1"}, {"state", "available"}}));
  EXPECT_EQ(j.at("reason"), "relocate");
  EXPECT_EQ(j.at("reference"), "TASK:17");
  EXPECT_EQ(j.at("evidence").size(), 5U);
  EXPECT_EQ(j.at("time_ms"), 1'790'000'000'123);
  EXPECT_EQ(j.at("hlc"), (std::uint64_t{1'790'000'000'123} << 16) | 5U);
  EXPECT_EQ(j.size(), 14U);
}

TEST(MovementJson, OmitsEmptyOptionalsAndExternalState) {
  const json j = to_json(receipt());
  EXPECT_EQ(j.at("item"), (json{{"gtin", "09506000134352"}}));
  EXPECT_EQ(j.at("from"), (json{{"location", "@supplier"}}));
  EXPECT_FALSE(j.contains("reason"));
  EXPECT_TRUE(j.contains("reference"));
  Movement m = receipt();
  m.reference.clear();
  EXPECT_FALSE(to_json(m).contains("reference"));
}

TEST(MovementJson, ReturnTypeIsSpelledReturn) {
  Movement m = receipt();
  m.type = MovementType::return_;
  EXPECT_EQ(to_json(m).at("type"), "return");
}

TEST(MovementJson, RoundTripsEveryField) {
  const Movement m = full_move();
  auto back = movement_from_json(to_json(m));
  ASSERT_TRUE(back.ok()) << back.error().code << ": " << back.error().message;
  EXPECT_EQ(*back, m);
}

TEST(MovementJson, RoundTripsThroughText) {
  const Movement m = receipt();
  auto back = movement_from_json(json::parse(to_json(m).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, m);
  EXPECT_FALSE(back->from.state.has_value());
}

TEST(MovementJson, RefusesANonObject) {
  for (const json& j : {json(nullptr), json(1), json("x"), json::array()}) {
    auto r = movement_from_json(j);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "bad_json");
  }
}

TEST(MovementJson, RefusesEachMissingRequiredMember) {
  for (const char* key :
       {"device", "site", "seq", "operator", "type", "item", "qty", "from", "to", "evidence", "time_ms", "hlc"}) {
    SCOPED_TRACE(key);
    json j = to_json(full_move());
    j.erase(key);
    expect_bad(j, key);
  }
  json j = to_json(full_move());
  j["from"].erase("location");
  expect_bad(j, "from.location");
}

TEST(MovementJson, AcceptsAbsentOptionalMembers) {
  json j = to_json(full_move());
  j.erase("reason");
  j.erase("reference");
  j["item"] = json{{"sku", "SKU-1"}};
  auto r = movement_from_json(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->reason.empty());
  EXPECT_TRUE(r->reference.empty());
  EXPECT_EQ(r->item.sku, "SKU-1");
  EXPECT_TRUE(r->item.gtin.empty());
}

TEST(MovementJson, RefusesWrongTypes) {
  struct Case {
    const char* field;  // named in the message
    void (*mutate)(json&);
  };
  const Case cases[] = {
      {"device", [](json& j) { j["device"] = 7; }},
      {"site", [](json& j) { j["site"] = json::array(); }},
      {"seq", [](json& j) { j["seq"] = "42"; }},
      {"seq", [](json& j) { j["seq"] = -1; }},
      {"seq", [](json& j) { j["seq"] = 4.5; }},
      {"operator", [](json& j) { j["operator"] = nullptr; }},
      {"type", [](json& j) { j["type"] = 3; }},
      {"type", [](json& j) { j["type"] = "teleport"; }},
      {"type", [](json& j) { j["type"] = "return_"; }},
      {"item", [](json& j) { j["item"] = json::array({"09506000134352"}); }},
      {"item.gtin", [](json& j) { j["item"]["gtin"] = 9506000134352; }},
      {"item.lot", [](json& j) { j["item"]["lot"] = true; }},
      {"qty", [](json& j) { j["qty"] = "3"; }},
      {"qty", [](json& j) { j["qty"] = 3.0; }},
      {"qty", [](json& j) { j["qty"] = 18446744073709551615U; }},
      {"from", [](json& j) { j["from"] = "A-01-01-1"; }},
      {"from.location", [](json& j) { j["from"]["location"] = 1; }},
      {"to.state", [](json& j) { j["to"]["state"] = 1; }},
      {"to.state", [](json& j) { j["to"]["state"] = "lost"; }},
      {"reason", [](json& j) { j["reason"] = 5; }},
      {"reference", [](json& j) { j["reference"] = json::object(); }},
      {"evidence", [](json& j) { j["evidence"] = "OP:alice"; }},
      {"evidence[1]", [](json& j) { j["evidence"][1] = 2; }},
      {"time_ms", [](json& j) { j["time_ms"] = "now"; }},
      {"hlc", [](json& j) { j["hlc"] = -5; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    json j = to_json(full_move());
    c.mutate(j);
    expect_bad(j, c.field);
  }
}

TEST(MovementJson, AppliesDomainValidationAfterShape) {
  json j = to_json(full_move());
  j["qty"] = 0;
  auto r = movement_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_qty");

  j = to_json(full_move());
  j["item"] = json::object();
  r = movement_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().code, "bad_json");
}

TEST(MovementJson, IgnoresUnknownMembers) {
  json j = to_json(full_move());
  j["v2_field"] = {{"x", 1}};
  auto r = movement_from_json(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, full_move());
}

// to_json_text is the fast path of the journal: it must write exactly the
// bytes of to_json(m).dump() (invalid UTF-8 replaced), for any content.
TEST(MovementJsonText, EqualsTheTreeDumpForEveryShape) {
  auto dump = [](const Movement& m) { return to_json(m).dump(-1, ' ', false, json::error_handler_t::replace); };
  std::vector<Movement> cases{full_move(), receipt(), Movement{}};
  Movement escapes = full_move();
  escapes.reason = "quote\" back\\ slash/ \b\f\n\r\t bell\x07 del\x7f nul" + std::string(1, '\0') + "end";
  escapes.evidence = {"", "\x1f", "]\"[", "(01)09506000134352\x1d(10)L42"};
  cases.push_back(escapes);
  Movement unicode = full_move();
  unicode.operator_id = "J\xc3\xbcrgen";             // valid UTF-8 (tree path)
  unicode.evidence.push_back("\xe2\x82\xac 5 \xf0\x9f\x93\xa6");
  cases.push_back(unicode);
  Movement invalid = full_move();
  invalid.evidence.push_back(std::string("\xff\xfe\xc3", 3));  // replaced by U+FFFD
  cases.push_back(invalid);
  Movement extremes = receipt();
  extremes.seq = UINT64_MAX;
  extremes.hlc = UINT64_MAX;
  extremes.qty = INT64_MIN;
  extremes.wall_time_ms = -1;
  extremes.item = {};
  extremes.evidence.clear();
  extremes.from.state = StockState::quality_hold;
  cases.push_back(extremes);
  for (auto type = 0; type <= static_cast<int>(MovementType::adjust); ++type) {
    Movement m = receipt();
    m.type = static_cast<MovementType>(type);
    m.item.sku = "S";
    m.item.serial = "X";
    m.item.expiry = "2026-01-01";
    m.reason = "r";
    cases.push_back(m);
  }
  for (const Movement& m : cases) {
    EXPECT_EQ(to_json_text(m), dump(m));
  }
  for (Movement m : cases) {
    std::string out = "stale content";
    to_json_text(m, Stamp{"dev-9", "site-9", 77, 88}, out);
    m.device = "dev-9";
    m.site = "site-9";
    m.seq = 77;
    m.hlc = 88;
    EXPECT_EQ(out, dump(m));
  }
  auto back = movement_from_json(json::parse(to_json_text(full_move())));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, full_move());
}

}  // namespace
}  // namespace tally::wire
