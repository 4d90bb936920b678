// Domain rules: wire names, locations, GTIN check digits, the transition
// table and validate().
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tally/scanner/domain.hpp"

namespace tally::scanner {
namespace {

using S = StockState;
using T = MovementType;

constexpr S kStates[] = {S::inbound, S::available, S::reserved,     S::picked,  S::packed,
                         S::shipped, S::damaged,   S::quality_hold, S::returned};
constexpr T kTypes[] = {T::receipt, T::putaway, T::pick,    T::move,    T::pack,  T::ship,
                        T::damage,  T::hold,    T::release, T::return_, T::count, T::adjust};

Endpoint at(const char* code, S s) { return {Location{code}, s}; }
Endpoint party(const Location& l) { return {l, std::nullopt}; }

// A valid base movement; tests change one field.
Movement movement(T type, Endpoint from, Endpoint to, std::int64_t qty = 1) {
  Movement m;
  m.device = "hh-01";
  m.site = "site-a";
  m.operator_id = "alice";
  m.type = type;
  m.item.gtin = "04006381333931";
  m.qty = qty;
  m.from = std::move(from);
  m.to = std::move(to);
  return m;
}

std::string code_of(const Result<void>& r) { return r.ok() ? "ok" : r.error().code; }

TEST(DomainNames, StatesRoundTrip) {
  const std::vector<std::string> wire = {"inbound", "available", "reserved",     "picked",  "packed",
                                         "shipped", "damaged",   "quality_hold", "returned"};
  ASSERT_EQ(std::size(kStates), wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_EQ(to_string(kStates[i]), wire[i]);
    EXPECT_EQ(parse_stock_state(wire[i]), kStates[i]);
  }
  EXPECT_FALSE(parse_stock_state("Available"));
  EXPECT_FALSE(parse_stock_state(""));
  EXPECT_FALSE(parse_stock_state("lost"));
}

TEST(DomainNames, TypesRoundTrip) {
  const std::vector<std::string> wire = {"receipt", "putaway", "pick",    "move",   "pack",  "ship",
                                         "damage",  "hold",    "release", "return", "count", "adjust"};
  ASSERT_EQ(std::size(kTypes), wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_EQ(to_string(kTypes[i]), wire[i]);
    EXPECT_EQ(parse_movement_type(wire[i]), kTypes[i]);
  }
  EXPECT_FALSE(parse_movement_type("return_"));
  EXPECT_FALSE(parse_movement_type("MOVE"));
}

// Master data in the form scans give it: the device (prompts, wrong-bin
// checks) and the ledger (unknown-location checks, FEFO) both use these.
TEST(DomainMasterDataForms, LocationCodesAndGtinsAsScansGiveThem) {
  EXPECT_EQ(location_code("a-01-02-3"), "A-01-02-3");
  EXPECT_EQ(location_code("dock-1"), "DOCK-1");        // a named place, as LOC:DOCK-1 scans
  EXPECT_EQ(location_code("LOC:dock-1"), "DOCK-1");
  EXPECT_EQ(location_code("@supplier"), "@supplier");
  EXPECT_EQ(gtin14("4006381333931"), "04006381333931");
  EXPECT_EQ(gtin14("96385074"), "00000096385074");
  EXPECT_EQ(gtin14("09506000134352"), "09506000134352");
  EXPECT_EQ(gtin14("SKU-1"), "SKU-1");
  EXPECT_EQ(gtin14(""), "");
}

TEST(DomainLocation, ParsesBinsUpperCased) {
  EXPECT_EQ(Location::parse("A-01-02-3")->code, "A-01-02-3");
  EXPECT_EQ(Location::parse("a-01-02-3")->code, "A-01-02-3");
  EXPECT_EQ(Location::parse("Z9-1-22-333")->code, "Z9-1-22-333");
  EXPECT_EQ(Location::parse("12-01-02-3")->code, "12-01-02-3");
}

TEST(DomainLocation, ParsesLocCodesWithoutPrefix) {
  EXPECT_EQ(Location::parse("LOC:dock-1")->code, "DOCK-1");
  EXPECT_EQ(Location::parse("loc:Cold_Room.2")->code, "COLD_ROOM.2");
  EXPECT_EQ(Location::parse("LOC:" + std::string(32, 'x'))->code, std::string(32, 'X'));
}

TEST(DomainLocation, ParsesExternalPartiesExactly) {
  for (const Location& l : {kSupplier, kCustomer, kAdjustment, kScrap}) {
    auto r = Location::parse(l.code);
    ASSERT_TRUE(r.ok()) << l.code;
    EXPECT_EQ(*r, l);
    EXPECT_TRUE(r->external());
  }
  EXPECT_FALSE(Location{"A-01-01-1"}.external());
}

TEST(DomainLocation, RejectsEverythingElse) {
  for (const char* bad :
       {"", "A", "A-01-02", "A-01-02-3-4", "A-01-0B-3", "A--01-2", "-A-01-02-3", "A-01-02-", "A_1-01-02-3",
        " A-01-02-3", "LOC:", "LOC:has space", "LOC:a/b", "@Supplier", "@vendor", "@", "DOCK-1"}) {
    auto r = Location::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "invalid_location") << bad;
  }
  EXPECT_FALSE(Location::parse("LOC:" + std::string(33, 'x')).ok());
}

TEST(DomainGtin, CheckDigits) {
  for (const char* good : {"40170725", "036000291452", "4006381333931", "09506000134352", "00000000"})
    EXPECT_TRUE(gtin_check_digit_ok(good)) << good;
  for (const char* bad : {"40170724", "036000291453", "4006381333932", "09506000134351", "4006381333",
                          "400638133393100", "", "40063813339a1"})
    EXPECT_FALSE(gtin_check_digit_ok(bad)) << bad;
}

// Every row of every type's table is accepted by validate().
TEST(DomainTransitions, EveryTableRowValidates) {
  int rows = 0;
  for (T type : kTypes) {
    for (const Transition& t : transitions(type)) {
      ++rows;
      Endpoint from = t.from ? at("A-01-01-1", *t.from) : party(Location{std::string(t.from_party)});
      const bool same_location = type == T::count;
      Endpoint to =
          t.to ? at(same_location ? "A-01-01-1" : "B-02-01-1", *t.to) : party(Location{std::string(t.to_party)});
      auto r = validate(movement(type, from, to));
      EXPECT_TRUE(r.ok()) << to_string(type) << ": " << (r.ok() ? "" : r.error().message);
    }
  }
  // receipt 1, putaway 1, pick 2, move 9, pack 1, ship 2, damage 8, hold 3,
  // release 2, return 1, count 9, adjust 18.
  EXPECT_EQ(rows, 57);
}

// A correction (reason CORRECTION) may take every row backwards; without
// that reason a backwards row is refused unless it is a row itself.
TEST(DomainTransitions, CorrectionsTakeEveryRowBackwards) {
  for (T type : kTypes) {
    if (type == T::count) continue;  // an observation: counted again, never reversed
    for (const Transition& t : transitions(type)) {
      Endpoint from = t.from ? at("A-01-01-1", *t.from) : party(Location{std::string(t.from_party)});
      Endpoint to = t.to ? at("B-02-01-1", *t.to) : party(Location{std::string(t.to_party)});
      Movement back = movement(type, to, from);
      back.reason = std::string(kCorrectionReason);
      auto r = validate(back);
      EXPECT_TRUE(r.ok()) << to_string(type) << ": " << (r.ok() ? "" : r.error().message);
    }
  }
  Movement back = movement(T::receipt, at("DOCK-1", S::inbound), party(kSupplier));
  auto refused = validate(back);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "invalid_transition");
  back.reason = "correction";  // the exact code only
  EXPECT_FALSE(validate(back).ok());
  back.reason = std::string(kCorrectionReason);
  EXPECT_TRUE(validate(back).ok());
  // Backwards is all it adds: a correction receipt into available is still refused.
  Movement odd = movement(T::receipt, party(kSupplier), at("DOCK-1", S::available));
  odd.reason = std::string(kCorrectionReason);
  auto r = validate(odd);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("or back, as a CORRECTION"), std::string::npos) << r.error().message;
}

std::string side(const std::optional<S>& state, std::string_view party) {
  return state ? std::string(to_string(*state)) : std::string(party);
}

// The table, written out independently of the code (docs/DOMAIN.md).
TEST(DomainTransitions, TableIsExactlyTheDocumentedOne) {
  const std::vector<std::string> all = {"inbound", "available", "reserved",     "picked",  "packed",
                                        "shipped", "damaged",   "quality_hold", "returned"};
  std::vector<std::string> same, adjust;
  for (const auto& st : all) {
    same.push_back(st + ">" + st);
    adjust.push_back("@adjustment>" + st);
    adjust.push_back(st + ">@adjustment");
  }
  const std::vector<std::pair<T, std::vector<std::string>>> want = {
      {T::receipt, {"@supplier>inbound"}},
      {T::putaway, {"inbound>available"}},
      {T::pick, {"available>picked", "reserved>picked"}},
      {T::move, same},
      {T::pack, {"picked>packed"}},
      {T::ship, {"packed>@customer", "picked>@customer"}},
      {T::damage,
       {"available>damaged", "inbound>damaged", "reserved>damaged", "picked>damaged", "packed>damaged",
        "returned>damaged", "quality_hold>damaged", "damaged>@scrap"}},
      {T::hold, {"available>quality_hold", "inbound>quality_hold", "returned>quality_hold"}},
      {T::release, {"quality_hold>available", "returned>available"}},
      {T::return_, {"@customer>returned"}},
      {T::count, same},
      {T::adjust, adjust},
  };
  ASSERT_EQ(want.size(), std::size(kTypes));
  for (const auto& [type, rows] : want) {
    std::vector<std::string> got;
    for (const Transition& t : transitions(type))
      got.push_back(side(t.from, t.from_party) + ">" + side(t.to, t.to_party));
    std::sort(got.begin(), got.end());
    std::vector<std::string> expected = rows;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(got, expected) << to_string(type);
  }
}

TEST(DomainTransitions, TableContents) {
  auto pick = transitions(T::pick);
  ASSERT_EQ(pick.size(), 2U);
  EXPECT_EQ(pick[0].from, S::available);
  EXPECT_EQ(pick[1].from, S::reserved);
  EXPECT_EQ(pick[0].to, S::picked);
  auto receipt = transitions(T::receipt);
  ASSERT_EQ(receipt.size(), 1U);
  EXPECT_FALSE(receipt[0].from);
  EXPECT_EQ(receipt[0].from_party, "@supplier");
  EXPECT_EQ(receipt[0].to, S::inbound);
  for (const Transition& t : transitions(T::move)) EXPECT_EQ(t.from, t.to);
  EXPECT_EQ(transitions(T::move).size(), std::size(kStates));
  auto damage = transitions(T::damage);
  EXPECT_EQ(damage.back().from, S::damaged);
  EXPECT_EQ(damage.back().to_party, "@scrap");
}

using Case = std::tuple<T, Endpoint, Endpoint>;

TEST(DomainTransitions, ForbiddenPairsAreRefused) {
  const std::vector<Case> cases = {
      {T::receipt, party(kCustomer), at("D", S::inbound)},
      {T::receipt, party(kSupplier), at("D", S::available)},
      {T::putaway, at("D", S::available), at("A", S::available)},
      {T::pick, at("A", S::inbound), at("B", S::picked)},
      {T::pick, at("A", S::available), at("B", S::packed)},
      {T::move, at("A", S::available), at("B", S::damaged)},
      {T::pack, at("A", S::available), at("B", S::packed)},
      {T::ship, at("A", S::available), party(kCustomer)},
      {T::ship, at("A", S::packed), party(kScrap)},
      {T::damage, at("A", S::shipped), at("A", S::damaged)},
      {T::damage, at("A", S::available), party(kScrap)},
      {T::hold, at("A", S::picked), at("A", S::quality_hold)},
      {T::release, at("A", S::damaged), at("A", S::available)},
      {T::return_, party(kSupplier), at("A", S::returned)},
      {T::return_, party(kCustomer), at("A", S::available)},
      {T::adjust, party(kSupplier), at("A", S::available)},
      {T::adjust, at("A", S::available), at("B", S::available)},
  };
  for (const auto& [type, from, to] : cases) {
    auto r = validate(movement(type, from, to));
    EXPECT_EQ(code_of(r), "invalid_transition")
        << to_string(type) << " " << from.location.code << " -> " << to.location.code;
  }
}

TEST(DomainTransitions, MessageNamesTypeAndPair) {
  auto r = validate(movement(T::pick, at("A", S::inbound), at("B", S::picked)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "a pick takes available or reserved to picked, not inbound to picked");
  r = validate(movement(T::ship, at("A", S::available), party(kCustomer)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "a ship takes packed or picked to @customer, not available to @customer");
}

TEST(DomainValidate, MoveNeedsAnotherLocationCountTheSame) {
  EXPECT_EQ(code_of(validate(movement(T::move, at("A", S::available), at("A", S::available)))), "invalid_transition");
  EXPECT_EQ(code_of(validate(movement(T::count, at("A", S::available), at("B", S::available)))), "invalid_transition");
  EXPECT_EQ(code_of(validate(movement(T::count, at("A", S::available), at("A", S::damaged)))), "invalid_transition");
  EXPECT_EQ(code_of(validate(movement(T::count, at("A", S::available), at("A", S::available)))), "ok");
}

TEST(DomainValidate, MissingFields) {
  const Movement ok = movement(T::move, at("A", S::available), at("B", S::available));
  ASSERT_TRUE(validate(ok).ok());
  Movement m = ok;
  m.device.clear();
  EXPECT_EQ(code_of(validate(m)), "missing_field");
  m = ok;
  m.site.clear();
  EXPECT_EQ(code_of(validate(m)), "missing_field");
  m = ok;
  m.operator_id.clear();
  EXPECT_EQ(code_of(validate(m)), "missing_field");
}

TEST(DomainValidate, Items) {
  const Movement ok = movement(T::move, at("A", S::available), at("B", S::available));
  Movement m = ok;
  m.item = {};
  EXPECT_EQ(code_of(validate(m)), "invalid_item");
  m.item.sku = "SKU-1";
  EXPECT_EQ(code_of(validate(m)), "ok");
  for (const char* bad : {"4006381333931", "04006381333932", "0400638133393x", "404006381333931"}) {
    m = ok;
    m.item.gtin = bad;
    EXPECT_EQ(code_of(validate(m)), "invalid_item") << bad;
  }
  m = ok;
  m.item.gtin = "09506000134352";
  EXPECT_EQ(code_of(validate(m)), "ok");
}

TEST(DomainValidate, Quantities) {
  auto with_qty = [](T type, std::int64_t q) {
    Movement m = type == T::count ? movement(type, at("A", S::available), at("A", S::available), q)
                                  : movement(type, at("A", S::available), at("B", S::available), q);
    return code_of(validate(m));
  };
  EXPECT_EQ(with_qty(T::move, 1), "ok");
  EXPECT_EQ(with_qty(T::move, 1'000'000), "ok");
  EXPECT_EQ(with_qty(T::move, 0), "invalid_qty");
  EXPECT_EQ(with_qty(T::move, -1), "invalid_qty");
  EXPECT_EQ(with_qty(T::move, 1'000'001), "invalid_qty");
  EXPECT_EQ(with_qty(T::count, 0), "ok");
  EXPECT_EQ(with_qty(T::count, -1), "invalid_qty");
  EXPECT_EQ(with_qty(T::count, 1'000'001), "invalid_qty");
}

TEST(DomainValidate, Locations) {
  auto code = [](Endpoint from, Endpoint to) {
    return code_of(validate(movement(T::receipt, std::move(from), std::move(to))));
  };
  EXPECT_EQ(code(party(kSupplier), at("DOCK-1", S::inbound)), "ok");
  EXPECT_EQ(code(party(kSupplier), {Location{""}, S::inbound}), "invalid_location");
  EXPECT_EQ(code({kSupplier, S::available}, at("DOCK-1", S::inbound)), "invalid_location");
  EXPECT_EQ(code(party(kSupplier), {Location{"DOCK-1"}, std::nullopt}), "invalid_location");
  EXPECT_EQ(code(party(Location{"@vendor"}), at("DOCK-1", S::inbound)), "invalid_location");
}

}  // namespace
}  // namespace tally::scanner
