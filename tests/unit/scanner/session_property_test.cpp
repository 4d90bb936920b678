// Property test of the session: 20 000 random scans (valid labels of every
// kind, invalid labels and garbage bytes), seeded and reproducible. For
// every scan: no crash, every movement passes validate() and names an
// operator, every exception names an operator, a refused scan leaves
// snapshot() unchanged, and the snapshot always restores to the same state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/scanner/session.hpp"

namespace tally::scanner {
namespace {

using nlohmann::json;

std::shared_ptr<const MasterData> master() {
  auto m = std::make_shared<MasterData>();
  const json catalog = {{"v", 1},
                        {"version", 1},
                        {"items",
                         {{{"gtin", "04006381333931"}, {"sku", "SKU-A"}},
                          {{"sku", "SKU-C"}},
                          {{"gtin", "19506000134359"}, {"sku", "SKU-B-12"}, {"pack_size", 12}}}}};
  const json tasks = {{"v", 1},
                      {"version", 1},
                      {"tasks",
                       {{{"id", "TASK:1"},
                         {"type", "pick"},
                         {"lines",
                          {{{"line", 1}, {"gtin", "04006381333931"}, {"qty", 2}, {"bin", "A-01-01-1"}},
                           {{"line", 2}, {"gtin", "09506000134352"}, {"qty", 1}, {"bin", "B-02-01-1"}}}}},
                        {{"id", "TASK:2"},
                         {"type", "pick"},
                         {"lines", {{{"line", 1}, {"sku", "SKU-A"}, {"qty", 3}, {"bin", "A-01-01-1"}}}}},
                        {{"id", "TASK:3"},
                         {"type", "receive"},
                         {"reference", "PO:1"},
                         {"lines",
                          {{{"line", 1}, {"gtin", "04006381333931"}, {"qty", 2}},
                           {{"line", 2}, {"gtin", "19506000134359"}, {"qty", 24}}}}}}}};
  EXPECT_TRUE(apply_master_data("catalog", catalog, *m).ok());
  EXPECT_TRUE(apply_master_data("tasks", tasks, *m).ok());
  return m;
}

const std::vector<std::string> kLabels = {
    // badges and commands
    "OP:alice", "OP:bob", "CMD:MOVE", "CMD:RECEIVE", "CMD:PUTAWAY", "CMD:PICK", "CMD:DAMAGE", "CMD:HOLD",
    "CMD:RELEASE", "CMD:RETURN", "CMD:COUNT", "CMD:CONFIRM", "CMD:CONFIRM", "CMD:UNDO", "CMD:CANCEL", "CMD:DONE",
    "CMD:DONE", "CMD:LOGOUT", "CMD:QTY:1", "CMD:QTY:2", "CMD:QTY:3", "CMD:QTY:1000000", "CMD:REASON:WET",
    "CMD:REASON:QA", "CMD:REASON:SHORT", "CMD:REASON:CUSTOMER", "CMD:REASON:NOPE",
    // places, containers, documents
    "A-01-01-1", "A-01-01-1", "B-02-01-1", "LOC:DOCK-1", "LOC:RETURNS", "TOTE:1", "TOTE:2",
    "123456789012345675", "PO:1", "ASN:2", "ORD:3", "TASK:1", "TASK:2", "TASK:9",
    // sign-in PINs (only the require_pin walk expects them), goods states, corrections
    "PIN:1234", "PIN:998877", "PIN:9999", "PIN:12", "CMD:STATE:damaged", "CMD:STATE:RETURNED",
    "CMD:STATE:quality_hold", "CMD:STATE:available", "CMD:STATE:picked", "CMD:STATE:BOGUS", "CMD:CORRECT",
    "CMD:CORRECT", "TASK:3",
    // items: plain GTINs, a case with a catalog pack size, GS1 with lot/expiry/count
    // (the walk starts on 2023-11-14: (17)231113 is expired)
    "4006381333931", "4006381333931", "4006381333931", "09506000134352", "09506000134352", "96385074",
    "19506000134359", "(01)09506000134352(10)L42(17)261231", "(01)09506000134352(10)L1(17)231113",
    "(02)09506000134352(37)4(10)L42", "]C10109506000134352" "10L42\x1D" "17261231", "(01)19506000134359(37)2",
    // invalid labels
    "", "hello", "4006381333932", "CMD:JUMP", "CMD:QTY:0", "CMD:QTY:-1", "LOC:", "OP:", "TOTE:", "A-1",
    "CMD:REASON:", "@customer", "PO:", "OP:has space"};

std::string garbage(std::mt19937& rng) {
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255);
  std::string s(static_cast<std::size_t>(len(rng)), '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// With idle_timeout_ms > 0 the clock jumps sometimes exceed it; with
// require_pin a badge needs its PIN.
void random_walk(std::uint32_t seed, std::int64_t idle_timeout_ms, bool require_pin = false) {
  const std::uint32_t kSeed = seed;
  constexpr int kScans = 20'000;
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<std::size_t> pick(0, kLabels.size() - 1);
  std::uniform_int_distribution<int> kind(0, 99);

  SessionOptions opts{"hh-01", "site-a", "DOCK-1"};
  opts.idle_timeout_ms = idle_timeout_ms;
  opts.require_pin = require_pin;
  if (require_pin) opts.pins = {{"alice", "1234"}, {"bob", "998877"}};
  Session s(opts);
  s.set_master_data(master());
  std::int64_t now = 1'700'000'000'000;
  int movements = 0, refused = 0, exceptions = 0, timeouts = 0, corrections = 0;
  std::vector<std::string> types_seen;
  std::set<std::string> codes_seen;

  for (int i = 0; i < kScans; ++i) {
    const int k = kind(rng);
    const std::string text = k < 90 ? kLabels[pick(rng)] : garbage(rng);
    const json before = s.snapshot();
    const std::string op_before = s.operator_id();
    now += 1 + kind(rng);
    if (idle_timeout_ms > 0 && kind(rng) == 0) now += idle_timeout_ms;  // 1 %: past the timeout
    const Outcome o = s.handle(Scan{text, "", "prop", now});
    SCOPED_TRACE("scan " + std::to_string(i) + " (seed " + std::to_string(kSeed) + "): " + json(text).dump(-1, ' ', true, json::error_handler_t::replace) +
                 " -> " + o.code);

    ASSERT_FALSE(o.code.empty());
    codes_seen.insert(o.code);
    ASSERT_EQ(o.prompt, o.code == "idle_timeout" ? "Scan your badge" : s.prompt());
    if (o.code == "idle_timeout" || o.message.find(" s idle") != std::string::npos) ++timeouts;
    if (!o.accepted()) {
      ++refused;
      ASSERT_FALSE(o.movement);
      ASSERT_EQ(s.snapshot(), before) << "a refused scan changed the session";
    }
    if (o.movement) {
      ++movements;
      auto valid = validate(*o.movement);
      ASSERT_TRUE(valid.ok()) << valid.error().code << ": " << valid.error().message;
      ASSERT_FALSE(o.movement->operator_id.empty());
      ASSERT_EQ(o.movement->operator_id, op_before);
      ASSERT_FALSE(o.movement->evidence.empty());
      // The completing scan is the last piece of evidence, except for a
      // receipt line committed by the next line's (different) item.
      if (o.movement->type != MovementType::receipt) {
        ASSERT_EQ(o.movement->evidence.back(), text);
      }
      if (o.movement->reason == kCorrectionReason) ++corrections;
      const std::string type(to_string(o.movement->type));
      if (std::find(types_seen.begin(), types_seen.end(), type) == types_seen.end()) types_seen.push_back(type);
    }
    if (o.exception) {
      ++exceptions;
      ASSERT_FALSE(o.exception->operator_id.empty());
      ASSERT_FALSE(o.exception->evidence.empty());
    }
    if (s.operator_id().empty()) {
      ASSERT_EQ(s.mode(), "idle");
    }
    if (require_pin) {  // a PIN is checked and forgotten
      const std::string snap = s.snapshot().dump();
      ASSERT_EQ(snap.find("PIN:"), std::string::npos);
      ASSERT_EQ(snap.find("998877"), std::string::npos);  // ("1234" is part of a SSCC in the pool)
    }
    if (i % 50 == 0) {
      auto r = Session::restore(opts, json::parse(s.snapshot().dump()));
      ASSERT_TRUE(r.ok()) << r.error().message << "\n" << s.snapshot().dump();
      ASSERT_EQ(r->snapshot(), s.snapshot());
    }
  }
  // The walk really exercised the workflows.
  EXPECT_GT(movements, 150);
  if (idle_timeout_ms > 0) {
    EXPECT_GT(timeouts, 10);
  }
  EXPECT_GT(refused, 2000);
  EXPECT_GT(exceptions, 20);
  EXPECT_GE(types_seen.size(), 8U) << json(types_seen).dump();
  EXPECT_GT(corrections, 10);
  // The newer paths were reached, not just listed.
  for (const char* code : {"state_set", "invalid_state", "correction_recorded", "nothing_to_correct", "reference_set",
                           "item_counted", "qty_set"}) {
    EXPECT_TRUE(codes_seen.count(code)) << code;
  }
  if (require_pin) {
    for (const char* code : {"pin_required", "wrong_pin", "signed_in"}) EXPECT_TRUE(codes_seen.count(code)) << code;
  }
}

TEST(SessionProperty, RandomScansKeepEveryInvariant) { random_walk(20261123, 0); }

TEST(SessionProperty, RandomScansWithIdleTimeout) { random_walk(4242, 5'000); }

TEST(SessionProperty, RandomScansWithPins) { random_walk(777, 0, true); }

}  // namespace
}  // namespace tally::scanner
