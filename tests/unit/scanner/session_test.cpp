// The scan workflow: sign-in, move, putaway, blind receipt, undo/cancel,
// refusals that leave the session unchanged, snapshot/restore.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/scanner/session.hpp"

namespace tally::scanner {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

constexpr const char* kItemA = "4006381333931";  // GTIN-13
constexpr const char* kGtinA = "04006381333931";
constexpr const char* kItemB = "09506000134352";  // GTIN-14
constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr const char* kIdlePrompt =
    "Scan a mode to start: MOVE, RECEIVE, PUTAWAY, PICK, DAMAGE, HOLD, RELEASE, RETURN or COUNT";

SessionOptions options() { return SessionOptions{"hh-01", "site-a", "DOCK-1"}; }

class SessionTest : public ::testing::Test {
 protected:
  Session s{options()};
  std::int64_t now = kT0;

  Outcome scan(const std::string& text) { return s.handle(Scan{text, "", "test", ++now}); }

  // A scan that must be accepted.
  Outcome ok(const std::string& text) {
    Outcome o = scan(text);
    EXPECT_TRUE(o.accepted()) << text << " -> " << o.code << ": " << o.message;
    EXPECT_EQ(o.prompt, s.prompt());
    return o;
  }

  // Several accepted scans that must not produce a movement.
  void oks(const Strings& texts) {
    for (const auto& t : texts) EXPECT_FALSE(ok(t).movement) << t;
  }

  // A scan that must be refused with `code`, changing nothing.
  Outcome refused(const std::string& text, const std::string& code) {
    const json before = s.snapshot();
    const std::string prompt = s.prompt();
    Outcome o = scan(text);
    EXPECT_EQ(o.feedback, Feedback::error) << text;
    EXPECT_FALSE(o.accepted());
    EXPECT_EQ(o.code, code) << text << ": " << o.message;
    EXPECT_FALSE(o.movement);
    EXPECT_EQ(o.prompt, prompt);
    EXPECT_EQ(s.snapshot(), before) << text;
    return o;
  }

  // The accepted scan that completes a movement.
  Movement completes(const std::string& text) {
    Outcome o = ok(text);
    EXPECT_EQ(o.code, "movement_recorded");
    EXPECT_EQ(o.feedback, Feedback::good);
    EXPECT_TRUE(o.movement) << text;
    return o.movement.value_or(Movement{});
  }

  void move_mode() { oks({"OP:alice", "CMD:MOVE"}); }
  void receive_mode() { oks({"OP:alice", "CMD:RECEIVE"}); }
};

// --- sign-in --------------------------------------------------------------

TEST_F(SessionTest, StartsSignedOut) {
  EXPECT_EQ(s.operator_id(), "");
  EXPECT_EQ(s.mode(), "idle");
  EXPECT_EQ(s.prompt(), "Scan your badge");
}

TEST_F(SessionTest, EveryScanButABadgeNeedsAnOperator) {
  for (const char* text : {"A-01-01-1", "CMD:MOVE", kItemA, "CMD:LOGOUT", "hello", "", "CMD:QTY:0"}) {
    Outcome o = refused(text, "no_operator");
    EXPECT_EQ(o.prompt, "Scan your badge");
  }
}

TEST_F(SessionTest, BadgeSignsIn) {
  Outcome o = ok("OP:alice");
  EXPECT_EQ(o.code, "signed_in");
  EXPECT_EQ(o.feedback, Feedback::good);
  EXPECT_EQ(s.operator_id(), "alice");
  EXPECT_EQ(s.mode(), "idle");
  EXPECT_EQ(o.prompt, kIdlePrompt);
}

TEST_F(SessionTest, OtherBadgeSwitchesOperatorWhenNoStepIsOpen) {
  move_mode();
  EXPECT_EQ(ok("OP:bob").code, "signed_in");
  EXPECT_EQ(s.operator_id(), "bob");
  EXPECT_EQ(s.mode(), "move");
}

TEST_F(SessionTest, OtherBadgeRefusedWhileStepOpen) {
  move_mode();
  ok("A-01-01-1");
  refused("OP:bob", "step_open");
  EXPECT_EQ(s.operator_id(), "alice");
}

TEST_F(SessionTest, LogoutSignsOutButNotWithAnOpenStep) {
  move_mode();
  ok("A-01-01-1");
  refused("CMD:LOGOUT", "step_open");
  EXPECT_EQ(ok("CMD:CANCEL").code, "step_cancelled");
  Outcome o = ok("CMD:LOGOUT");
  EXPECT_EQ(o.code, "signed_out");
  EXPECT_EQ(s.operator_id(), "");
  EXPECT_EQ(s.mode(), "idle");
  EXPECT_EQ(o.prompt, "Scan your badge");
}

// --- modes ---------------------------------------------------------------

// A USB or serial scanner with its AIM identifier split off into the
// symbology: the session reads the scan as sent, so the UPC-E "01234565"
// under "]E0" is the GTIN of its UPC-A, not the GTIN-8 its digits spell.
// The replayed evidence keeps the identifier (the restored step agrees).
TEST_F(SessionTest, TheSymbologySplitOffTheTextIsReadWithIt) {
  move_mode();
  ok("A-01-01-1");
  EXPECT_TRUE(s.handle(Scan{"01234565", "]E0", "usb:1", ++now}).accepted());
  auto restored = Session::restore(options(), s.snapshot());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  const Movement m = completes("B-02-01-1");
  EXPECT_EQ(m.item.gtin, "00012345000065");
  const Outcome again = restored->handle(Scan{"B-02-01-1", "", "test", ++now});
  ASSERT_TRUE(again.movement);
  EXPECT_EQ(again.movement->item.gtin, "00012345000065");
  // Text that carries its own identifier, and a format name, stay as they are.
  move_mode();
  ok("A-01-01-1");
  EXPECT_TRUE(s.handle(Scan{"]E001234565", "]E0", "frames", ++now}).accepted());
  EXPECT_EQ(completes("B-02-01-1").item.gtin, "00012345000065");
  move_mode();
  ok("A-01-01-1");
  EXPECT_TRUE(s.handle(Scan{kItemB, "DataBar", "camera", ++now}).accepted());
  EXPECT_EQ(completes("B-02-01-1").item.gtin, kItemB);
}

TEST_F(SessionTest, ModeCommands) {
  ok("OP:alice");
  EXPECT_EQ(ok("CMD:MOVE").code, "mode_changed");
  EXPECT_EQ(s.mode(), "move");
  EXPECT_EQ(s.prompt(), "Scan source bin");
  ok("CMD:RECEIVE");
  EXPECT_EQ(s.mode(), "receive");
  ok("CMD:PUTAWAY");
  EXPECT_EQ(s.mode(), "putaway");
}

TEST_F(SessionTest, EveryWorkflowVerbIsAMode) {
  ok("OP:alice");
  for (const char* verb : {"PICK", "DAMAGE", "HOLD", "RELEASE", "RETURN", "COUNT"}) {
    EXPECT_EQ(ok(std::string("CMD:") + verb).code, "mode_changed");
    std::string lower = verb;
    for (char& c : lower) c = static_cast<char>(c - 'A' + 'a');
    EXPECT_EQ(s.mode(), lower);
  }
}

TEST_F(SessionTest, ModeSwitchRefusedWhileStepOpen) {
  move_mode();
  ok("A-01-01-1");
  refused("CMD:RECEIVE", "step_open");
  refused("CMD:MOVE", "step_open");
  EXPECT_EQ(s.mode(), "move");
}

TEST_F(SessionTest, IdleRefusesStepScans) {
  ok("OP:alice");
  refused("A-01-01-1", "no_mode");
  refused(kItemA, "no_mode");
  refused("CMD:QTY:3", "no_mode");
  refused("CMD:UNDO", "nothing_to_undo");
  refused("CMD:CANCEL", "nothing_to_cancel");
  refused("CMD:CONFIRM", "nothing_to_confirm");
  refused("CMD:DONE", "nothing_to_finish");
}

TEST_F(SessionTest, LabelErrorsPassThroughUnchanged) {
  move_mode();
  ok("A-01-01-1");
  ok(kItemA);
  refused("", "empty_scan");
  refused("hello", "unknown_label");
  refused("4006381333932", "bad_check_digit");
  refused("CMD:JUMP", "bad_command");
  refused("CMD:QTY:0", "bad_quantity");
}

TEST_F(SessionTest, DoneLeavesAModeWithNothingOpen) {
  move_mode();
  EXPECT_EQ(ok("CMD:DONE").code, "mode_ended");
  EXPECT_EQ(s.mode(), "idle");
}

// --- move ----------------------------------------------------------------

// The design's example: OP:alice, CMD:MOVE, A-01-01-1, item x3, B-02-01-1.
TEST_F(SessionTest, MoveOfThreeUnits) {
  EXPECT_EQ(ok("OP:alice").prompt, kIdlePrompt);
  EXPECT_EQ(ok("CMD:MOVE").prompt, "Scan source bin");
  Outcome o = ok("A-01-01-1");
  EXPECT_EQ(o.code, "source_set");
  EXPECT_EQ(o.prompt, "Scan item");
  for (int i = 1; i <= 3; ++i) {
    o = ok(kItemA);
    EXPECT_EQ(o.code, "item_counted");
    EXPECT_EQ(o.prompt, "Scan item, quantity or destination bin");
    EXPECT_FALSE(o.movement);
  }
  o = ok("B-02-01-1");
  ASSERT_TRUE(o.movement);
  EXPECT_EQ(o.code, "movement_recorded");
  EXPECT_EQ(o.prompt, "Scan item from A-01-01-1, or another source bin");  // the source stays selected
  EXPECT_EQ(s.mode(), "move");

  Movement want;
  want.device = "hh-01";
  want.site = "site-a";
  want.operator_id = "alice";
  want.type = MovementType::move;
  want.item.gtin = kGtinA;
  want.qty = 3;
  want.from = {Location{"A-01-01-1"}, StockState::available};
  want.to = {Location{"B-02-01-1"}, StockState::available};
  // The step's scans: the source, three items and the destination. The badge
  // and the mode command belong to the session, not to the step.
  want.evidence = {"A-01-01-1", kItemA, kItemA, kItemA, "B-02-01-1"};
  want.wall_time_ms = kT0 + 7;  // the 7th scan
  EXPECT_EQ(*o.movement, want);
  EXPECT_EQ(o.movement->evidence.size(), 5U);
  EXPECT_TRUE(validate(*o.movement).ok());
}

TEST_F(SessionTest, MoveQuantityCommandSetsQty) {
  move_mode();
  oks({"A-01-01-1", kItemA});
  EXPECT_EQ(ok("CMD:QTY:10").code, "qty_set");
  ok(kItemA);  // one more
  Movement m = completes("B-02-01-1");
  EXPECT_EQ(m.qty, 11);
  EXPECT_EQ(m.evidence, (Strings{"A-01-01-1", kItemA, "CMD:QTY:10", kItemA, "B-02-01-1"}));
}

TEST_F(SessionTest, MoveCarriesReason) {
  move_mode();
  oks({"A-01-01-1", kItemA, "CMD:REASON:relabel"});
  EXPECT_EQ(completes("B-02-01-1").reason, "RELABEL");
}

TEST_F(SessionTest, NextMoveStartsClean) {
  move_mode();
  oks({"A-01-01-1", kItemA});
  completes("B-02-01-1");
  oks({"LOC:dock-1", kItemB});
  Movement m = completes("a-01-01-1");
  EXPECT_EQ(m.from.location.code, "DOCK-1");
  EXPECT_EQ(m.to.location.code, "A-01-01-1");
  EXPECT_EQ(m.item.gtin, kItemB);
  EXPECT_EQ(m.qty, 1);
  EXPECT_EQ(m.evidence, (Strings{"LOC:dock-1", kItemB, "a-01-01-1"}));
}

TEST_F(SessionTest, MoveRefusals) {
  move_mode();
  refused(kItemA, "unexpected_label");  // source first
  refused("PO:1", "unexpected_label");
  ok("A-01-01-1");
  refused("B-02-01-1", "no_item");
  refused("CMD:QTY:4", "no_item");
  refused("CMD:CONFIRM", "incomplete_step");
  refused("TOTE:1", "unexpected_label");
  ok(kItemA);
  refused(kItemB, "different_item");
  refused("A-01-01-1", "same_location");
  refused("LOC:a-01-01-1", "same_location");
  refused("CMD:DONE", "incomplete_step");
  EXPECT_EQ(completes("B-02-01-1").qty, 1);
}

TEST_F(SessionTest, MovementThatFailsValidationIsRefused) {
  s = Session(SessionOptions{"", "site-a", "DOCK-1"});  // no device id
  move_mode();
  oks({"A-01-01-1", kItemA});
  refused("B-02-01-1", "missing_field");
}

TEST_F(SessionTest, QuantityIsCappedAtOneMillion) {
  move_mode();
  oks({"A-01-01-1", kItemA, "CMD:QTY:1000000"});
  refused(kItemA, "invalid_qty");
  EXPECT_EQ(completes("B-02-01-1").qty, 1'000'000);
}

// --- undo / cancel -------------------------------------------------------

TEST_F(SessionTest, UndoTakesBackOneScanAtATime) {
  move_mode();
  oks({"A-01-01-1", kItemA, kItemA, "CMD:QTY:7"});
  EXPECT_EQ(ok("CMD:UNDO").code, "undone");  // qty 7 -> 2
  Outcome o = ok("CMD:UNDO");                // 2 -> 1
  EXPECT_EQ(o.prompt, "Scan item, quantity or destination bin");
  o = ok("CMD:UNDO");  // 1 -> 0
  EXPECT_EQ(o.prompt, "Scan item");
  o = ok("CMD:UNDO");  // source un-set
  EXPECT_EQ(o.prompt, "Scan source bin");
  refused("CMD:UNDO", "nothing_to_undo");
  EXPECT_EQ(s.mode(), "move");
}

TEST_F(SessionTest, UndoneScansAreNotEvidence) {
  move_mode();
  oks({"A-01-01-1", kItemA, kItemA, "CMD:QTY:7", "CMD:UNDO", "CMD:UNDO"});
  Movement m = completes("B-02-01-1");
  EXPECT_EQ(m.qty, 1);
  EXPECT_EQ(m.evidence, (Strings{"A-01-01-1", kItemA, "B-02-01-1"}));
}

TEST_F(SessionTest, UndoAllowsAnotherItem) {
  move_mode();
  oks({"A-01-01-1", kItemA, "CMD:UNDO", kItemB});
  EXPECT_EQ(completes("B-02-01-1").item.gtin, kItemB);
}

TEST_F(SessionTest, CancelClearsTheStep) {
  move_mode();
  oks({"A-01-01-1", kItemA, kItemA});
  Outcome o = ok("CMD:CANCEL");
  EXPECT_EQ(o.code, "step_cancelled");
  EXPECT_EQ(o.prompt, "Scan source bin");
  EXPECT_EQ(s.mode(), "move");
  refused("CMD:CANCEL", "nothing_to_cancel");
  refused("CMD:UNDO", "nothing_to_undo");
}

// --- putaway -------------------------------------------------------------

TEST_F(SessionTest, PutawayFromDockToBin) {
  oks({"OP:alice", "CMD:PUTAWAY"});
  EXPECT_EQ(s.prompt(), "Scan source location");
  oks({"LOC:DOCK-1", kItemA, "CMD:QTY:4"});
  Movement m = completes("A-01-01-1");
  EXPECT_EQ(m.type, MovementType::putaway);
  EXPECT_EQ(m.from, (Endpoint{Location{"DOCK-1"}, StockState::inbound}));
  EXPECT_EQ(m.to, (Endpoint{Location{"A-01-01-1"}, StockState::available}));
  EXPECT_EQ(m.qty, 4);
  EXPECT_EQ(s.prompt(), "Scan source location");
}

// --- blind receipt -------------------------------------------------------

TEST_F(SessionTest, BlindReceiptWithDocumentAndConfirm) {
  receive_mode();
  EXPECT_EQ(s.prompt(), "Scan item, document or dock");
  EXPECT_EQ(ok("PO:4500012").code, "reference_set");
  ok(kItemA);
  EXPECT_EQ(s.prompt(), "Scan item, quantity or CONFIRM");
  ok(kItemA);
  Movement m = completes("CMD:CONFIRM");
  EXPECT_EQ(m.type, MovementType::receipt);
  EXPECT_EQ(m.from, (Endpoint{kSupplier, std::nullopt}));
  EXPECT_EQ(m.to, (Endpoint{Location{"DOCK-1"}, StockState::inbound}));
  EXPECT_EQ(m.item.gtin, kGtinA);
  EXPECT_EQ(m.qty, 2);
  EXPECT_EQ(m.reference, "PO:4500012");
  EXPECT_EQ(m.operator_id, "alice");
  EXPECT_EQ(m.evidence, (Strings{"PO:4500012", kItemA, kItemA, "CMD:CONFIRM"}));
  EXPECT_EQ(s.prompt(), "Scan item, document or dock");

  // The receipt stays open: the next line carries the same reference.
  ok(kItemB);
  m = completes("CMD:CONFIRM");
  EXPECT_EQ(m.reference, "PO:4500012");
  EXPECT_EQ(m.evidence, (Strings{kItemB, "CMD:CONFIRM"}));
}

TEST_F(SessionTest, ReceiptDockAndItemChangeCommitsOpenLine) {
  receive_mode();
  EXPECT_EQ(ok("LOC:DOCK-2").code, "dock_set");
  oks({"ASN:77", kItemA, kItemA, kItemA});
  // A different item commits the open line and starts a new one of 1.
  Movement first = completes(kItemB);
  EXPECT_EQ(first.item.gtin, kGtinA);
  EXPECT_EQ(first.qty, 3);
  EXPECT_EQ(first.to.location.code, "DOCK-2");
  EXPECT_EQ(first.reference, "ASN:77");
  EXPECT_EQ(first.evidence, (Strings{"LOC:DOCK-2", "ASN:77", kItemA, kItemA, kItemA}));
  EXPECT_EQ(s.prompt(), "Scan item, quantity or CONFIRM");
  ok("CMD:QTY:5");
  // DONE commits the line and ends the receipt.
  Movement second = completes("CMD:DONE");
  EXPECT_EQ(second.item.gtin, kItemB);
  EXPECT_EQ(second.qty, 5);
  EXPECT_EQ(second.to.location.code, "DOCK-2");
  EXPECT_EQ(second.reference, "ASN:77");
  EXPECT_EQ(second.evidence, (Strings{kItemB, "CMD:QTY:5", "CMD:DONE"}));
  // Next receipt: default dock, no reference.
  ok(kItemA);
  Movement third = completes("CMD:DONE");
  EXPECT_EQ(third.to.location.code, "DOCK-1");
  EXPECT_EQ(third.reference, "");
  EXPECT_EQ(s.mode(), "receive");
}

TEST_F(SessionTest, DoneWithNothingOpenEndsTheReceipt) {
  receive_mode();
  oks({"PO:1", kItemA});
  completes("CMD:CONFIRM");
  refused("CMD:LOGOUT", "step_open");  // the receipt is still open
  Outcome o = ok("CMD:DONE");
  EXPECT_EQ(o.code, "receipt_done");
  EXPECT_FALSE(o.movement);
  EXPECT_EQ(s.mode(), "receive");
  ok(kItemA);
  EXPECT_EQ(completes("CMD:CONFIRM").reference, "");
  EXPECT_EQ(ok("CMD:DONE").code, "mode_ended");
  EXPECT_EQ(s.mode(), "idle");
}

TEST_F(SessionTest, ReceiveRefusals) {
  receive_mode();
  refused("CMD:CONFIRM", "nothing_to_confirm");
  refused("CMD:QTY:2", "no_item");
  refused("ORD:5", "unexpected_label");
  refused("TOTE:5", "unexpected_label");
  ok(kItemA);
  refused("PO:9", "step_open");
  refused("LOC:DOCK-3", "step_open");
  refused("CMD:MOVE", "step_open");
}

TEST_F(SessionTest, ReceiveUndoAndCancel) {
  receive_mode();
  oks({"PO:1", kItemA, kItemA, "CMD:UNDO"});
  EXPECT_EQ(completes("CMD:CONFIRM").qty, 1);
  oks({kItemB, "CMD:UNDO"});
  refused("CMD:CONFIRM", "nothing_to_confirm");
  oks({kItemB, kItemB});
  EXPECT_EQ(ok("CMD:CANCEL").code, "step_cancelled");  // the line; the PO stays
  ok(kItemB);
  EXPECT_EQ(completes("CMD:CONFIRM").reference, "PO:1");
  EXPECT_EQ(ok("CMD:CANCEL").code, "step_cancelled");  // now the receipt
  refused("CMD:CANCEL", "nothing_to_cancel");
  ok(kItemA);
  EXPECT_EQ(completes("CMD:CONFIRM").reference, "");
}

TEST_F(SessionTest, ReceiptIntoInvalidDockIsRefused) {
  s = Session(SessionOptions{"hh-01", "site-a", ""});
  receive_mode();
  ok(kItemA);
  refused("CMD:CONFIRM", "invalid_location");
  refused(kItemB, "invalid_location");  // the implicit commit is validated too
}

// --- snapshot / restore --------------------------------------------------

TEST_F(SessionTest, SnapshotHasVersion) {
  EXPECT_EQ(s.snapshot().at("v"), 1);
  move_mode();
  oks({"A-01-01-1", kItemA});
  const json j = s.snapshot();
  EXPECT_EQ(j.at("v"), 1);
  EXPECT_EQ(j.at("operator"), "alice");
  EXPECT_EQ(j.at("mode"), "move");
  EXPECT_EQ(j.at("evidence"), json::array({"A-01-01-1", kItemA}));
  EXPECT_EQ(j.at("state").at("qty"), 1);
}

TEST_F(SessionTest, HalfDoneMoveResumesToTheSameMovement) {
  move_mode();
  oks({"A-01-01-1", kItemA, kItemA});
  Session original = s;

  auto restored = Session::restore(options(), json::parse(s.snapshot().dump()));
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->operator_id(), "alice");
  EXPECT_EQ(restored->mode(), "move");
  EXPECT_EQ(restored->prompt(), s.prompt());
  EXPECT_EQ(restored->snapshot(), s.snapshot());

  const Scan item{kItemA, "", "test", kT0 + 100};
  const Scan dest{"B-02-01-1", "", "test", kT0 + 101};
  EXPECT_FALSE(original.handle(item).movement);
  EXPECT_FALSE(restored->handle(item).movement);
  auto a = original.handle(dest);
  auto b = restored->handle(dest);
  ASSERT_TRUE(a.movement);
  ASSERT_TRUE(b.movement);
  EXPECT_EQ(*a.movement, *b.movement);
  EXPECT_EQ(b.movement->qty, 3);
  EXPECT_EQ(b.movement->evidence, (Strings{"A-01-01-1", kItemA, kItemA, kItemA, "B-02-01-1"}));
}

TEST_F(SessionTest, OpenReceiptRoundTrips) {
  receive_mode();
  oks({"LOC:DOCK-2", "PO:9", kItemA});
  completes("CMD:CONFIRM");
  oks({kItemB, "CMD:QTY:6", "CMD:REASON:short"});
  auto restored = Session::restore(options(), s.snapshot());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->snapshot(), s.snapshot());
  Outcome o = restored->handle(Scan{"CMD:CONFIRM", "", "test", 5});
  ASSERT_TRUE(o.movement);
  EXPECT_EQ(o.movement->qty, 6);
  EXPECT_EQ(o.movement->reference, "PO:9");
  EXPECT_EQ(o.movement->reason, "SHORT");
  EXPECT_EQ(o.movement->to.location.code, "DOCK-2");
}

TEST_F(SessionTest, FreshAndSignedOutSessionsRoundTrip) {
  auto r = Session::restore(options(), s.snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt(), "Scan your badge");
  ok("OP:bob");
  r = Session::restore(options(), s.snapshot());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->operator_id(), "bob");
}

TEST_F(SessionTest, RestoreRefusesGarbage) {
  move_mode();
  oks({"A-01-01-1", kItemA});
  const json good = s.snapshot();
  ASSERT_TRUE(Session::restore(options(), good).ok());

  auto edited = [&](auto change) {
    json j = good;
    change(j);
    return j;
  };
  const std::vector<json> bad = {
      json(),
      json::array(),
      json("snapshot"),
      json(42),
      json::object(),
      edited([](json& j) { j["v"] = 2; }),
      edited([](json& j) { j["v"] = "1"; }),
      edited([](json& j) { j.erase("v"); }),
      edited([](json& j) { j.erase("evidence"); }),
      edited([](json& j) { j["evidence"] = "A-01-01-1"; }),
      edited([](json& j) {
        j["evidence"] = json::array({1, 2});
      }),
      edited([](json& j) { j["operator"] = 7; }),
      edited([](json& j) { j["operator"] = "has space"; }),
      edited([](json& j) { j["operator"] = ""; }),  // a mode without an operator
      edited([](json& j) { j["mode"] = "dance"; }),
      edited([](json& j) { j["mode"] = "idle"; }),  // idle with an open step
      edited([](json& j) { j["base"] = nullptr; }),
      edited([](json& j) { j["base"]["reference"] = "PO:1"; }),  // context outside receive
      edited([](json& j) { j["state"]["qty"] = 5; }),
      edited([](json& j) { j["state"]["from"] = "B-02-01-1"; }),
      edited([](json& j) { j.erase("state"); }),
      edited([](json& j) { j["extra"] = true; }),
      edited([](json& j) {
        j["evidence"] = json::array({kItemA, "A-01-01-1"});
      }),
      edited([](json& j) {
        j["evidence"] = json::array({"A-01-01-1", "hello"});
      }),
      edited([](json& j) { j["evidence"].push_back("CMD:UNDO"); }),
      edited([](json& j) { j["evidence"].push_back("OP:bob"); }),
      edited([](json& j) { j["evidence"].push_back("B-02-01-1"); }),  // completes a move
  };
  for (const json& j : bad) {
    auto r = Session::restore(options(), j);
    ASSERT_FALSE(r.ok()) << j.dump();
    EXPECT_EQ(r.error().code, "bad_snapshot") << j.dump();
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST_F(SessionTest, RestoreRefusesBadReceiptContext) {
  receive_mode();
  oks({"PO:1", kItemA});
  completes("CMD:CONFIRM");
  const json good = s.snapshot();
  ASSERT_TRUE(Session::restore(options(), good).ok());
  json j = good;
  j["base"]["reference"] = "TOTE:1";
  j["state"]["reference"] = "TOTE:1";
  EXPECT_FALSE(Session::restore(options(), j).ok());
  j = good;
  j["base"]["dock"] = "not a dock";
  j["state"]["dock"] = "not a dock";
  EXPECT_FALSE(Session::restore(options(), j).ok());
}

TEST(FeedbackNames, All) {
  EXPECT_EQ(to_string(Feedback::good), "good");
  EXPECT_EQ(to_string(Feedback::warning), "warning");
  EXPECT_EQ(to_string(Feedback::error), "error");
}


// ------------------------------------------------------------------ escrow
// scanner::escrow, fed the device's journaled use (the engine counts it).

struct EscrowCase {
  MasterData master;
  Outcome outcome;
  EscrowCase(std::int64_t grant_qty, std::int64_t expires_ms, std::int64_t pick_qty) {
    master.allowances_version = 3;
    master.allowances.push_back(Allowance{"g3", "09506000134352", "L1", "A-01-01-1", grant_qty, 0, 0, expires_ms});
    Movement m;
    m.type = MovementType::pick;
    m.operator_id = "alice";
    m.item.gtin = "09506000134352";
    m.item.lot = "L1";
    m.qty = pick_qty;
    m.from = Endpoint{Location{"A-01-01-1"}, StockState::available};
    m.to = Endpoint{Location{"TOTE-1"}, StockState::picked};
    m.evidence = {"A-01-01-1", "(01)09506000134352(10)L1", "TOTE-1"};
    outcome.feedback = Feedback::good;
    outcome.code = "movement_recorded";
    outcome.message = "Picked.";
    outcome.movement = m;
  }
};

TEST(Escrow, APickWithinTheAllowanceChangesNothing) {
  EscrowCase c(10, 2'000, 4);
  ASSERT_TRUE(allowance_applies(c.master, *c.outcome.movement));
  const Escrow e = escrow(c.master, c.outcome, /*used=*/6, "pick", 1'000);
  EXPECT_FALSE(e.use.exceeded);
  EXPECT_EQ(e.use.remaining, 4);
  ASSERT_NE(e.use.grant, nullptr);
  EXPECT_EQ(e.use.grant->id, "g3");
  EXPECT_FALSE(e.exception.has_value());
  EXPECT_EQ(c.outcome.feedback, Feedback::good);
  EXPECT_EQ(c.outcome.message, "Picked.");
}

TEST(Escrow, APickBeyondTheAllowanceIsAWarningWithItsException) {
  EscrowCase c(10, 2'000, 5);
  const Escrow e = escrow(c.master, c.outcome, /*used=*/6, "pick", 1'000);
  EXPECT_TRUE(e.use.exceeded);
  EXPECT_EQ(e.use.remaining, 4);
  EXPECT_EQ(c.outcome.feedback, Feedback::warning);  // still recorded
  EXPECT_TRUE(c.outcome.accepted());
  EXPECT_NE(c.outcome.message.find("Beyond this device's pick allowance (4 left)"), std::string::npos)
      << c.outcome.message;
  ASSERT_TRUE(e.exception.has_value());
  EXPECT_EQ(e.exception->kind, "allowance_exceeded");
  EXPECT_EQ(e.exception->time_ms, 1'000);
  EXPECT_EQ(e.exception->mode, "pick");
  EXPECT_EQ(e.exception->scanned, "5 x 09506000134352 lot L1 from A-01-01-1");
  EXPECT_EQ(e.exception->evidence, c.outcome.movement->evidence);
}

TEST(Escrow, AnExpiredOrMissingGrantLeavesNothing) {
  EscrowCase expired(10, 1'000, 1);
  const Escrow e = escrow(expired.master, expired.outcome, 0, "pick", 1'000);
  EXPECT_TRUE(e.use.expired);
  EXPECT_TRUE(e.use.exceeded);
  ASSERT_TRUE(e.exception.has_value());
  EXPECT_NE(e.exception->expected.find("expired"), std::string::npos) << e.exception->expected;

  EscrowCase other_bin(10, 2'000, 1);
  other_bin.outcome.movement->from.location.code = "B-02-01-1";
  const Escrow none = escrow(other_bin.master, other_bin.outcome, 0, "pick", 1'000);
  EXPECT_EQ(none.use.grant, nullptr);
  EXPECT_TRUE(none.use.exceeded);
  ASSERT_TRUE(none.exception.has_value());
  EXPECT_NE(none.exception->expected.find("(no allowance)"), std::string::npos);
}

}  // namespace
}  // namespace tally::scanner
