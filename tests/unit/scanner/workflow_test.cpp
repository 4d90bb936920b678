// The task-driven and in-place workflows of docs/WORKFLOWS.md, table driven:
// scan sequences in → outcome codes, feedback, movements, device-side
// exceptions and prompts out. Pick (task and ad hoc), damage, hold,
// release, return, count; lot/expiry rules; unknown items.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tally/scanner/label.hpp"
#include "tally/scanner/session.hpp"

namespace tally::scanner {
namespace {

using nlohmann::json;

constexpr const char* kItemA = "4006381333931";   // GTIN-13 → 04006381333931
constexpr const char* kItemB = "09506000134352";  // GTIN-14
constexpr const char* kUnknown = "96385074";      // GTIN-8, not in the catalog
constexpr std::int64_t kT0 = 1'700'000'000'000;   // 2023-11-14

std::shared_ptr<const MasterData> master() {
  auto m = std::make_shared<MasterData>();
  const json catalog = {{"v", 1},
                        {"version", 3},
                        {"items",
                         {{{"gtin", "04006381333931"}, {"sku", "SKU-A"}, {"suggested_bin", "A-01-01-1"}},
                          {{"gtin", "09506000134352"}, {"sku", "SKU-B"}, {"suggested_bin", "B-02-01-1"}}}}};
  const json tasks = {
      {"v", 1},
      {"version", 5},
      {"tasks",
       {{{"id", "TASK:17"},
         {"type", "pick"},
         {"reference", "ORD:991"},
         {"lines",
          {{{"line", 1}, {"gtin", "4006381333931"}, {"qty", 3}, {"bin", "A-01-01-1"}},
           {{"line", 2}, {"gtin", "09506000134352"}, {"qty", 2}, {"bin", "B-02-01-1"}}}}},
        {{"id", "TASK:18"},
         {"type", "pick"},
         {"lines", {{{"line", 1}, {"sku", "SKU-A"}, {"qty", 1}, {"bin", "LOC:C-1"}}}}},
        {{"id", "TASK:20"}, {"type", "count"}, {"lines", json::array()}},
        {{"id", "TASK:30"},
         {"type", "receive"},
         {"reference", "PO:4500012"},
         {"lines",
          {{{"line", 1}, {"gtin", "04006381333931"}, {"qty", 2}}, {{"line", 2}, {"sku", "SKU-B"}, {"qty", 3}}}}}}}};
  EXPECT_TRUE(apply_master_data("catalog", catalog, *m).ok());
  EXPECT_TRUE(apply_master_data("tasks", tasks, *m).ok());
  return m;
}

// One scan and what must come of it. Empty strings are not checked, except
// `movement` and `exception`, which must then be absent.
struct Step {
  Step(std::string scan_, std::string code_, std::string movement_ = "", std::string exception_ = "",
       std::string prompt_ = "", Feedback feedback_ = Feedback::good)
      : scan(std::move(scan_)),
        code(std::move(code_)),
        movement(std::move(movement_)),
        exception(std::move(exception_)),
        prompt(std::move(prompt_)),
        feedback(feedback_) {}
  std::string scan;
  std::string code;
  std::string movement;   // summary(), see below
  std::string exception;  // DeviceException::kind
  std::string prompt;
  Feedback feedback;
  std::int64_t wait_ms = 0;  // extra time before this scan (idle timeout)
};

// `st`, scanned `ms` later than it would be.
Step after(std::int64_t ms, Step st) {
  st.wait_ms = ms;
  return st;
}

// "type qty x item from>to [ref=…] [reason=…]", states after ':'.
std::string summary(const Movement& m) {
  auto ep = [](const Endpoint& e) {
    return e.location.code + (e.state ? ":" + std::string(to_string(*e.state)) : "");
  };
  std::string s = std::string(to_string(m.type)) + " " + std::to_string(m.qty) + "x" + m.item.id() + " " +
                  ep(m.from) + ">" + ep(m.to);
  if (!m.reference.empty()) s += " ref=" + m.reference;
  if (!m.reason.empty()) s += " reason=" + m.reason;
  if (!m.item.lot.empty()) s += " lot=" + m.item.lot;
  if (!m.item.expiry.empty()) s += " exp=" + m.item.expiry;
  return s;
}

struct Case {
  std::string name;
  bool with_master = true;
  std::vector<Step> steps;
  std::shared_ptr<const MasterData> data{};  // with_master: this instead of master()
  std::int64_t idle_timeout_ms = 0;
};

constexpr Feedback kErr = Feedback::error;
constexpr Feedback kWarn = Feedback::warning;

void run(const Case& c) {
  SCOPED_TRACE(c.name);
  SessionOptions options{"hh-01", "site-a", "DOCK-1"};
  options.idle_timeout_ms = c.idle_timeout_ms;
  Session s(options);
  if (c.with_master) s.set_master_data(c.data ? c.data : master());
  std::int64_t now = kT0;
  int i = 0;
  for (const Step& st : c.steps) {
    SCOPED_TRACE("step " + std::to_string(++i) + ": " + st.scan);
    const json before = s.snapshot();
    now += st.wait_ms;
    const Outcome o = s.handle(Scan{st.scan, "", "test", ++now});
    if (!st.code.empty()) {
      EXPECT_EQ(o.code, st.code) << o.message;
    }
    EXPECT_EQ(o.feedback, st.feedback) << o.code << ": " << o.message;
    if (o.feedback == Feedback::error) {
      EXPECT_EQ(s.snapshot(), before) << "a refused scan changed the session";
    }
    if (st.movement.empty()) {
      EXPECT_FALSE(o.movement) << summary(*o.movement);
    } else if (!o.movement) {
      ADD_FAILURE() << "no movement, wanted " << st.movement;
    } else {
      EXPECT_EQ(summary(*o.movement), st.movement);
      EXPECT_TRUE(validate(*o.movement).ok()) << validate(*o.movement).error().message;
      EXPECT_EQ(o.movement->operator_id, "alice");
      EXPECT_EQ(o.movement->wall_time_ms, now);
      // A receipt line committed by the next line's item ends before that scan.
      const bool by_next_item = o.movement->type == MovementType::receipt && st.scan.rfind("CMD:", 0) != 0;
      if (!by_next_item) {
        EXPECT_EQ(o.movement->evidence.back(), st.scan);
      }
    }
    if (st.exception.empty()) {
      EXPECT_FALSE(o.exception) << o.exception->kind;
    } else if (!o.exception) {
      ADD_FAILURE() << "no exception, wanted " << st.exception;
    } else {
      EXPECT_EQ(o.exception->kind, st.exception);
      EXPECT_EQ(o.exception->operator_id, "alice");
      EXPECT_EQ(o.exception->time_ms, now);
      EXPECT_FALSE(o.exception->evidence.empty());
      EXPECT_EQ(o.exception->evidence.back(), st.scan);
    }
    if (!st.prompt.empty()) {
      EXPECT_EQ(o.prompt, st.prompt);
    }
    if (o.code != "idle_timeout") {
      EXPECT_EQ(o.prompt, s.prompt());
    }
    // Every state the session reaches restores exactly (crash at any point).
    auto r = Session::restore(options, json::parse(s.snapshot().dump()));
    if (!r.ok()) {
      ADD_FAILURE() << "restore: " << r.error().message;
    } else {
      EXPECT_EQ(r->snapshot(), s.snapshot());
    }
  }
}

const Step kBadge{"OP:alice", "signed_in"};

TEST(Workflows, Table) {
  const std::vector<Case> cases = {
      {"task pick: two lines, then the task is complete",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed", "", "", "Go to A-01-01-1, pick 3 x 04006381333931"},
        {"A-01-01-1", "source_set", "", "", "Pick 3 x 04006381333931"},
        {kItemA, "item_counted", "", "", "Picked 1 of 3 x 04006381333931: scan item, or REASON + CONFIRM if short"},
        {kItemA, "item_counted"},
        {kItemA, "item_counted", "", "", "Scan the tote"},
        {"TOTE:7", "movement_recorded", "pick 3x04006381333931 A-01-01-1:available>TOTE:7:picked ref=TASK:17/1", "",
         "Go to B-02-01-1, pick 2 x 09506000134352"},
        {"B-02-01-1", "source_set"},
        {kItemB, "item_counted"},
        {"CMD:QTY:2", "qty_set", "", "", "Scan the tote"},
        {"tote:7", "movement_recorded", "pick 2x09506000134352 B-02-01-1:available>TOTE:7:picked ref=TASK:17/2", "",
         "Scan TASK or bin to pick"},
        // TASK:17 is done: the next open pick task is TASK:18 (a SKU line).
        {"CMD:DONE", "mode_ended"},
        {"CMD:PICK", "mode_changed", "", "", "Go to C-1, pick 1 x SKU-A"},
        {"LOC:C-1", "source_set"},
        {kItemA, "item_counted"},  // its catalog SKU is the line's
        {"TOTE:8", "movement_recorded", "pick 1x04006381333931 C-1:available>TOTE:8:picked ref=TASK:18/1"}}},

      {"task pick: wrong bin, wrong item, over-pick are refused and flagged",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed"},
        {"TASK:17", "task_started", "", "", "Go to A-01-01-1, pick 3 x 04006381333931"},
        {"B-02-01-1", "wrong_bin", "", "wrong_bin", "Go to A-01-01-1, pick 3 x 04006381333931", kErr},
        {"A-01-01-1", "source_set"},
        {kItemB, "wrong_item", "", "wrong_item", "", kErr},
        {kItemA, "item_counted"},
        {"CMD:QTY:4", "over_pick", "", "", "", kErr},
        {"CMD:QTY:3", "qty_set"},
        {kItemA, "over_pick", "", "", "", kErr},
        {"TOTE:7", "movement_recorded", "pick 3x04006381333931 A-01-01-1:available>TOTE:7:picked ref=TASK:17/1"}}},

      {"task pick: short picks need a reason and CONFIRM",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {"TOTE:1", "no_item", "", "", "", kErr},
        {kItemA, "item_counted"},
        {"TOTE:1", "short_pick", "", "", "", kErr},
        {"CMD:CONFIRM", "reason_required", "", "", "", kErr},
        {"CMD:REASON:BOGUS", "unknown_reason", "", "", "", kErr},
        {"CMD:REASON:NOT_FOUND", "reason_set"},
        {"CMD:CONFIRM", "short_confirmed", "", "", "Scan the tote", kWarn},
        {"CMD:CONFIRM", "incomplete_step", "", "", "", kErr},
        {"TOTE:1", "movement_recorded",
         "pick 1x04006381333931 A-01-01-1:available>TOTE:1:picked ref=TASK:17/1 reason=NOT_FOUND", "short_pick", "",
         kWarn},
        // Line 2: nothing there at all.
        {"CMD:REASON:SHORT", "reason_set"},
        {"CMD:CONFIRM", "line_short", "", "short_pick", "Scan TASK or bin to pick", kWarn}}},

      {"task pick: unknown task, cancel leaves the task, DONE closes it",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed"},
        {"TASK:99", "unknown_task", "", "", "", kErr},
        {"TASK:20", "unknown_task", "", "", "", kErr},  // a count task
        {"A-01-01-1", "source_set"},
        {"TASK:18", "step_open", "", "", "", kErr},
        {"CMD:LOGOUT", "step_open", "", "", "", kErr},
        {"CMD:CANCEL", "step_cancelled", "", "", "Go to A-01-01-1, pick 3 x 04006381333931"},
        {"TASK:18", "task_started", "", "", "Go to C-1, pick 1 x SKU-A"},
        {"CMD:DONE", "task_closed", "", "", "Scan TASK or bin to pick"},
        {"CMD:LOGOUT", "signed_out"}}},

      {"ad hoc pick: order, bin, items, tote",
       false,
       {kBadge,
        {"CMD:PICK", "mode_changed", "", "", "Scan TASK or bin to pick"},
        {"TASK:17", "unknown_task", "", "", "", kErr},  // no master data
        {"ORD:9", "reference_set"},
        {kItemA, "no_bin", "", "", "", kErr},
        {"A-01-01-1", "source_set", "", "", "Scan item"},
        {kItemA, "item_counted", "", "", "Scan item, quantity or tote"},
        {kItemB, "different_item", "", "", "", kErr},
        {kItemA, "item_counted"},
        {"TOTE:3", "movement_recorded", "pick 2x04006381333931 A-01-01-1:available>TOTE:3:picked ref=ORD:9", "",
         "Scan TASK or bin to pick"},
        {"A-01-01-1", "source_set"},
        {kItemB, "item_counted"},
        {"CMD:CONFIRM", "incomplete_step", "", "", "", kErr},
        {"TOTE:3", "movement_recorded", "pick 1x09506000134352 A-01-01-1:available>TOTE:3:picked ref=ORD:9"},
        {"CMD:DONE", "task_closed"},  // closes the order
        {"CMD:DONE", "mode_ended"}}},

      {"damage needs a reason from the list",
       true,
       {kBadge,
        {"CMD:DAMAGE", "mode_changed", "", "", "Scan bin"},
        {kItemA, "no_bin", "", "", "", kErr},
        {"A-01-01-1", "source_set", "", "", "Scan item"},
        {"CMD:CONFIRM", "no_item", "", "", "", kErr},
        {kItemA, "item_counted", "", "", "Scan item, quantity or reason"},
        {kItemA, "item_counted"},
        {"CMD:CONFIRM", "reason_required", "", "", "", kErr},
        {"CMD:REASON:SPILLED", "unknown_reason", "", "", "", kErr},
        {"CMD:REASON:wet", "reason_set", "", "", "Scan item, quantity or CONFIRM"},
        {"TOTE:1", "unexpected_label", "", "", "", kErr},
        {"CMD:CONFIRM", "movement_recorded",
         "damage 2x04006381333931 A-01-01-1:available>A-01-01-1:damaged reason=WET", "", "Scan bin"}}},

      {"hold then release",
       true,
       {kBadge,
        {"CMD:HOLD", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kItemB, "item_counted"},
        {"CMD:QTY:4", "qty_set"},
        {"CMD:CONFIRM", "reason_required", "", "", "", kErr},
        {"CMD:REASON:QA", "reason_set"},
        {"CMD:CONFIRM", "movement_recorded",
         "hold 4x09506000134352 A-01-01-1:available>A-01-01-1:quality_hold reason=QA"},
        {"CMD:RELEASE", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kItemB, "item_counted", "", "", "Scan item, quantity or CONFIRM"},  // no reason needed
        {"CMD:CONFIRM", "movement_recorded",
         "release 1x09506000134352 A-01-01-1:quality_hold>A-01-01-1:available"}}},

      {"return: order, items, reason, returns area",
       true,
       {kBadge,
        {"CMD:RETURN", "mode_changed", "", "", "Scan returned item or order"},
        {"PO:1", "unexpected_label", "", "", "", kErr},
        {"ORD:5", "reference_set"},
        {"LOC:RETURNS", "no_item", "", "", "", kErr},
        {kItemA, "item_counted", "", "", "Scan item, quantity or reason"},
        {"ORD:6", "step_open", "", "", "", kErr},
        {kItemA, "item_counted"},
        {"LOC:RETURNS", "reason_required", "", "", "", kErr},
        {"CMD:CONFIRM", "incomplete_step", "", "", "", kErr},
        {"CMD:REASON:CUSTOMER", "reason_set", "", "", "Scan item, quantity or returns location"},
        {"LOC:RETURNS", "movement_recorded", "return 2x04006381333931 @customer>RETURNS:returned ref=ORD:5 reason=CUSTOMER",
         "", "Scan returned item or order"},
        // The next return starts without the order.
        {kItemB, "item_counted"},
        {"CMD:REASON:DAMAGED", "reason_set"},
        {"LOC:RETURNS", "movement_recorded", "return 1x09506000134352 @customer>RETURNS:returned reason=DAMAGED"}}},

      {"count: items per bin, then an empty bin",
       true,
       {kBadge,
        {"CMD:COUNT", "mode_changed", "", "", "Scan bin to count"},
        {kItemA, "no_bin", "", "", "", kErr},
        {"CMD:CONFIRM", "nothing_to_confirm", "", "", "", kErr},
        {"A-01-01-1", "bin_set", "", "", "Scan item, or CONFIRM for an empty bin"},
        {kItemA, "item_counted", "", "", "Scan item, quantity or CONFIRM"},
        {kItemA, "item_counted"},
        {kItemB, "different_item", "", "", "", kErr},
        {"B-02-01-1", "step_open", "", "", "", kErr},
        {"CMD:CONFIRM", "movement_recorded", "count 2x04006381333931 A-01-01-1:available>A-01-01-1:available", "",
         "Scan next item in A-01-01-1, or DONE"},
        {kItemB, "item_counted"},
        {"CMD:QTY:5", "qty_set"},
        {"CMD:CONFIRM", "movement_recorded", "count 5x09506000134352 A-01-01-1:available>A-01-01-1:available"},
        {"CMD:CONFIRM", "nothing_to_confirm", "", "", "", kErr},  // not an empty bin: items were counted
        {"CMD:LOGOUT", "step_open", "", "", "", kErr},
        {"CMD:DONE", "bin_done", "", "", "Scan bin to count"},
        {"B-02-01-1", "bin_set"},
        {"CMD:CONFIRM", "movement_recorded", "count 0x*EMPTY* B-02-01-1:available>B-02-01-1:available", "",
         "Scan next item in B-02-01-1, or DONE"},
        {"CMD:DONE", "bin_done"},
        {"CMD:DONE", "mode_ended"}}},

      {"unknown items are accepted with a warning and flagged once",
       true,
       {kBadge,
        {"CMD:MOVE", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kUnknown, "item_counted", "", "unknown_item", "", kWarn},
        {kUnknown, "item_counted"},
        {"B-02-01-1", "movement_recorded", "move 2x00000096385074 A-01-01-1:available>B-02-01-1:available"}}},

      {"receive against a PO: over-receipt, unexpected item, under-receipt",
       true,
       {kBadge,
        {"CMD:RECEIVE", "mode_changed"},
        {"PO:4500012", "reference_set"},
        {kItemA, "item_counted"},
        {kItemA, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 2x04006381333931 @supplier>DOCK-1:inbound ref=PO:4500012"},
        {kItemA, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 1x04006381333931 @supplier>DOCK-1:inbound ref=PO:4500012",
         "over_receipt", "", kWarn},
        {kUnknown, "item_counted", "", "unknown_item", "", kWarn},
        {"CMD:CONFIRM", "movement_recorded", "receipt 1x00000096385074 @supplier>DOCK-1:inbound ref=PO:4500012",
         "unexpected_item", "", kWarn},
        {kItemB, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 1x09506000134352 @supplier>DOCK-1:inbound ref=PO:4500012"},
        {"CMD:DONE", "receipt_done", "", "under_receipt", "Scan item, document or dock", kWarn},
        // A receive TASK scanned instead of the PO; everything as expected.
        {"TASK:30", "reference_set"},
        {"TASK:17", "unknown_task", "", "", "", kErr},  // a pick task
        {kItemA, "item_counted"},
        {"CMD:QTY:2", "qty_set"},
        {kItemB, "movement_recorded", "receipt 2x04006381333931 @supplier>DOCK-1:inbound ref=TASK:30"},
        {"CMD:QTY:3", "qty_set"},
        {"CMD:DONE", "movement_recorded", "receipt 3x09506000134352 @supplier>DOCK-1:inbound ref=TASK:30"}}},

      {"put-away: the suggested bin is prompted, another bin is allowed and flagged",
       true,
       {kBadge,
        {"CMD:PUTAWAY", "mode_changed"},
        {"LOC:DOCK-1", "source_set"},
        {kItemA, "item_counted", "", "", "Scan item, quantity or destination bin (suggested A-01-01-1)"},
        {"A-01-01-1", "movement_recorded", "putaway 1x04006381333931 DOCK-1:inbound>A-01-01-1:available"},
        {"LOC:DOCK-1", "source_set"},
        {kItemB, "item_counted", "", "", "Scan item, quantity or destination bin (suggested B-02-01-1)"},
        {"C-03-01-1", "movement_recorded", "putaway 1x09506000134352 DOCK-1:inbound>C-03-01-1:available",
         "not_suggested_bin", "", kWarn}}},

      {"without a catalog nothing is unknown",
       false,
       {kBadge, {"CMD:RECEIVE", "mode_changed"}, {kUnknown, "item_counted"}}},
  };
  for (const Case& c : cases) run(c);
}

// The gaps an audit found: sign-out keeps device facts, moves in any state,
// returns disposition, corrections, under-receipt on cancel.
TEST(Workflows, AuditTable) {
  const std::vector<Case> cases = {
      {"idle timeout: a finished pick task stays finished after badging in again",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed", "", "", "Go to A-01-01-1, pick 3 x 04006381333931"},
        {"A-01-01-1", "source_set"},
        {"CMD:QTY:3", "no_item", "", "", "", kErr},
        {kItemA, "item_counted"},
        {"CMD:QTY:3", "qty_set"},
        {"TOTE:7", "movement_recorded", "pick 3x04006381333931 A-01-01-1:available>TOTE:7:picked ref=TASK:17/1"},
        {"B-02-01-1", "source_set"},
        {kItemB, "item_counted"},
        {"CMD:QTY:2", "qty_set"},
        {"TOTE:7", "movement_recorded", "pick 2x09506000134352 B-02-01-1:available>TOTE:7:picked ref=TASK:17/2", "",
         "Scan TASK or bin to pick"},
        after(60'001, {"OP:alice", "signed_in", "", "", "Scan a mode to start: MOVE, RECEIVE, PUTAWAY, PICK, DAMAGE, "
                                                        "HOLD, RELEASE, RETURN or COUNT"}),
        // TASK:17 was done before the timeout: the next open task is TASK:18.
        {"CMD:PICK", "mode_changed", "", "", "Go to C-1, pick 1 x SKU-A"}},
       {},
       60'000},

      {"move keeps the goods' state (CMD:STATE) and the source bin for the next item",
       true,
       {kBadge,
        {"CMD:STATE:DAMAGED", "no_mode", "", "", "", kErr},
        {"CMD:MOVE", "mode_changed", "", "", "Scan source bin"},
        {"CMD:STATE:NOPE", "bad_command", "", "", "", kErr},
        {"CMD:STATE:damaged", "state_set", "", "", "Scan source bin [damaged]"},
        {"A-01-01-1", "source_set", "", "", "Scan item [damaged]"},
        {kItemA, "item_counted"},
        {"B-02-01-1", "movement_recorded", "move 1x04006381333931 A-01-01-1:damaged>B-02-01-1:damaged", "",
         "Scan item from A-01-01-1 [damaged], or another source bin"},
        {kItemB, "item_counted"},
        {"CMD:QTY:2", "qty_set"},
        {"C-03-01-1", "movement_recorded", "move 2x09506000134352 A-01-01-1:damaged>C-03-01-1:damaged"},
        {"CMD:STATE:AVAILABLE", "state_set", "", "", "Scan item from A-01-01-1 [available], or another source bin"},
        {"LOC:RETURNS", "source_set", "", "", "Scan item [available]"},  // another bin replaces the kept one
        {"B-02-01-1", "no_item", "", "", "", kErr},                      // a second bin of this step is not
        {"CMD:UNDO", "undone", "", "", "Scan item from A-01-01-1 [available], or another source bin"},
        {"CMD:CANCEL", "step_cancelled", "", "", "Scan item from A-01-01-1 [damaged], or another source bin"},
        {"CMD:CANCEL", "step_cancelled", "", "", "Scan source bin"},  // drops the kept source and state
        {"A-01-01-1", "source_set"},
        {kItemA, "item_counted"},
        {"B-02-01-1", "movement_recorded", "move 1x04006381333931 A-01-01-1:available>B-02-01-1:available"},
        // The kept source is no open work: a mode change drops it.
        {"CMD:PUTAWAY", "mode_changed"},
        {"CMD:STATE:DAMAGED", "unexpected_label", "", "", "", kErr},  // put-away is inbound → available
        {"CMD:MOVE", "mode_changed", "", "", "Scan source bin"},
        {"A-01-01-1", "source_set"},
        {kItemA, "item_counted"},
        {"B-02-01-1", "movement_recorded", "move 1x04006381333931 A-01-01-1:available>B-02-01-1:available"},
        {"CMD:DONE", "mode_ended"}}},

      {"returns disposition: release, hold, damage and move take returned goods",
       true,
       {kBadge,
        {"CMD:RETURN", "mode_changed"},
        {"CMD:STATE:RETURNED", "unexpected_label", "", "", "", kErr},
        {kItemA, "item_counted"},
        {"CMD:QTY:5", "qty_set"},
        {"CMD:REASON:CUSTOMER", "reason_set"},
        {"LOC:RETURNS", "movement_recorded", "return 5x04006381333931 @customer>RETURNS:returned reason=CUSTOMER"},
        {"CMD:RELEASE", "mode_changed", "", "", "Scan bin"},
        {"CMD:STATE:returned", "state_set", "", "", "Scan bin [returned]"},
        {"LOC:RETURNS", "source_set", "", "", "Scan item [returned]"},
        {kItemA, "item_counted"},
        {"CMD:QTY:2", "qty_set"},
        {"CMD:CONFIRM", "movement_recorded", "release 2x04006381333931 RETURNS:returned>RETURNS:available", "",
         "Scan bin [returned]"},
        {"CMD:STATE:DAMAGED", "invalid_state", "", "", "", kErr},
        {"CMD:HOLD", "mode_changed", "", "", "Scan bin"},
        {"LOC:RETURNS", "source_set"},
        {"CMD:STATE:PICKED", "invalid_state", "", "", "", kErr},
        {"CMD:STATE:RETURNED", "state_set"},
        {kItemA, "item_counted"},
        {"CMD:REASON:QA", "reason_set"},
        {"CMD:CONFIRM", "movement_recorded",
         "hold 1x04006381333931 RETURNS:returned>RETURNS:quality_hold reason=QA"},
        {"CMD:DAMAGE", "mode_changed"},
        {"CMD:STATE:RETURNED", "state_set"},
        {"LOC:RETURNS", "source_set"},
        {kItemA, "item_counted"},
        {"CMD:REASON:WET", "reason_set"},
        {"CMD:CONFIRM", "movement_recorded", "damage 1x04006381333931 RETURNS:returned>RETURNS:damaged reason=WET"},
        {"CMD:MOVE", "mode_changed"},
        {"CMD:STATE:RETURNED", "state_set"},
        {"LOC:RETURNS", "source_set"},
        {kItemA, "item_counted"},
        {"A-01-01-1", "movement_recorded", "move 1x04006381333931 RETURNS:returned>A-01-01-1:returned"},
        // Without CMD:STATE a release still takes quality_hold.
        {"CMD:RELEASE", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kItemB, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "release 1x09506000134352 A-01-01-1:quality_hold>A-01-01-1:available"}}},

      {"corrections: a mistaken receipt and a put-away are reversed by compensating movements",
       true,
       {kBadge,
        {"CMD:CORRECT", "nothing_to_correct", "", "", "", kErr},
        {"CMD:RECEIVE", "mode_changed"},
        {"PO:4500012", "reference_set"},
        {kItemA, "item_counted"},
        {"CMD:QTY:3", "qty_set"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 3x04006381333931 @supplier>DOCK-1:inbound ref=PO:4500012",
         "over_receipt", "", kWarn},
        {"CMD:CORRECT", "correction_recorded",
         "receipt 3x04006381333931 DOCK-1:inbound>@supplier ref=PO:4500012 reason=CORRECTION"},
        {kItemA, "item_counted"},
        {"CMD:QTY:2", "qty_set"},
        // The correction took the 3 off the PO's tally: 2 of 2 is no over-receipt.
        {"CMD:CONFIRM", "movement_recorded", "receipt 2x04006381333931 @supplier>DOCK-1:inbound ref=PO:4500012"},
        {kItemB, "item_counted"},
        {"CMD:CORRECT", "step_open", "", "", "", kErr},
        {"CMD:QTY:3", "qty_set"},
        {"CMD:DONE", "movement_recorded", "receipt 3x09506000134352 @supplier>DOCK-1:inbound ref=PO:4500012"},
        {"CMD:PUTAWAY", "mode_changed"},
        {"LOC:DOCK-1", "source_set"},
        {kItemA, "item_counted"},
        {"A-01-01-1", "movement_recorded", "putaway 1x04006381333931 DOCK-1:inbound>A-01-01-1:available"},
        {"CMD:CORRECT", "correction_recorded",
         "putaway 1x04006381333931 A-01-01-1:available>DOCK-1:inbound reason=CORRECTION"},
        // A second correction reverses the first.
        {"CMD:CORRECT", "correction_recorded",
         "putaway 1x04006381333931 DOCK-1:inbound>A-01-01-1:available reason=CORRECTION"},
        {"CMD:COUNT", "mode_changed"},
        {"A-01-01-1", "bin_set"},
        {"CMD:CONFIRM", "movement_recorded", "count 0x*EMPTY* A-01-01-1:available>A-01-01-1:available"},
        {"CMD:CORRECT", "not_correctable", "", "", "", kErr},
        {"CMD:DONE", "bin_done"},
        {"CMD:LOGOUT", "signed_out"},
        kBadge,
        {"CMD:CORRECT", "nothing_to_correct", "", "", "", kErr}}},

      {"a task pick is not corrected (its task line already moved on)",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kItemA, "item_counted"},
        {kItemA, "item_counted"},
        {kItemA, "item_counted"},
        {"TOTE:1", "movement_recorded", "pick 3x04006381333931 A-01-01-1:available>TOTE:1:picked ref=TASK:17/1"},
        {"CMD:CORRECT", "not_correctable", "", "", "", kErr}}},

      {"under-receipt: closing a receipt against a task with CANCEL flags the short lines",
       true,
       {kBadge,
        {"CMD:RECEIVE", "mode_changed"},
        {"PO:4500012", "reference_set"},
        {kItemA, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 1x04006381333931 @supplier>DOCK-1:inbound ref=PO:4500012"},
        {"CMD:CANCEL", "step_cancelled", "", "under_receipt", "Scan item, document or dock", kWarn},
        // Nothing committed: cancelling the receipt's own scans is "nothing happened".
        {"PO:4500012", "reference_set"},
        {kItemA, "item_counted"},
        {"CMD:CANCEL", "step_cancelled"},
        {"CMD:CANCEL", "nothing_to_cancel", "", "", "", kErr},
        // A blind receipt has nothing to be short of.
        {"LOC:DOCK-2", "dock_set"},
        {kItemA, "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 1x04006381333931 @supplier>DOCK-2:inbound"},
        {"CMD:CANCEL", "step_cancelled"}}},
  };
  for (const Case& c : cases) run(c);
}

// ------------------------------------------------ GS1 scans, pack sizes

constexpr const char* kCase = "19506000134359";  // a case of 12 x kItemB (catalog pack_size 12)

// A pick task with a lot rule, and a case GTIN with a pack size.
std::shared_ptr<const MasterData> gs1_master() {
  auto m = std::make_shared<MasterData>();
  const json catalog = {{"v", 1},
                        {"version", 4},
                        {"items",
                         {{{"gtin", "09506000134352"}, {"sku", "SKU-B"}},
                          {{"gtin", kCase}, {"sku", "SKU-B-12"}, {"pack_size", 12}}}}};
  const json tasks = {{"v", 1},
                      {"version", 6},
                      {"tasks",
                       {{{"id", "TASK:40"},
                         {"type", "pick"},
                         {"reference", "ORD:77"},
                         {"lines",
                          {{{"line", 1},
                            {"gtin", "09506000134352"},
                            {"qty", 5},
                            {"bin", "B-02-01-1"},
                            {"lot", "L42"},
                            {"lot_rule", "fefo"}}}}}}}};
  EXPECT_TRUE(apply_master_data("catalog", catalog, *m).ok());
  EXPECT_TRUE(apply_master_data("tasks", tasks, *m).ok());
  return m;
}

// kT0 is 2023-11-14: (17)231113 is expired, (17)261231 is not.
const std::string kGs1Good = "(01)09506000134352(10)L42(17)261231";
const std::string kGs1WrongLot = "(01)09506000134352(10)L43(17)261231";
const std::string kGs1ExpiredRaw = std::string("]C1") + "0109506000134352" + "10L42\x1D" + "17231113";
const std::string kGs1Count4Raw = std::string("]C1") + "0209506000134352" + "374\x1D" + "10L42\x1D" + "17261231";

TEST(Workflows, Gs1Table) {
  const std::vector<Case> cases = {
      {"task pick with real GS1 scans: wrong and expired lots refused, (37) counts",
       true,
       {kBadge,
        {"CMD:PICK", "mode_changed", "", "", "Go to B-02-01-1, pick 5 x 09506000134352"},
        {"B-02-01-1", "source_set"},
        {kGs1WrongLot, "wrong_lot", "", "wrong_lot", "Pick 5 x 09506000134352", kErr},
        {kGs1ExpiredRaw, "expired_lot", "", "expired_lot", "", kErr},
        {"(02)09506000134352(37)9(10)L42(17)261231", "over_pick", "", "", "", kErr},
        {kGs1Good, "item_counted"},
        {kGs1Count4Raw, "item_counted", "", "", "Scan the tote"},
        {"TOTE:9", "movement_recorded",
         "pick 5x09506000134352 B-02-01-1:available>TOTE:9:picked ref=TASK:40/1 lot=L42 exp=2026-12-31"}},
       gs1_master()},

      {"ad hoc pick: an expired GS1 lot is refused without a task",
       false,
       {kBadge,
        {"CMD:PICK", "mode_changed"},
        {"B-02-01-1", "source_set"},
        {"(01)09506000134352(10)L1(17)231113", "expired_lot", "", "expired_lot", "", kErr},
        {"(01)09506000134352(10)L2(17)261231", "item_counted"},
        {"TOTE:3", "movement_recorded",
         "pick 1x09506000134352 B-02-01-1:available>TOTE:3:picked lot=L2 exp=2026-12-31"}}},

      {"blind receipt: (37) count, Digital Link, lot and expiry carried",
       true,
       {kBadge,
        {"CMD:RECEIVE", "mode_changed"},
        {"(02)09506000134352(37)24(10)24A117(17)261231", "item_counted"},
        {"CMD:CONFIRM", "movement_recorded",
         "receipt 24x09506000134352 @supplier>DOCK-1:inbound lot=24A117 exp=2026-12-31"},
        {"https://id.gs1.org/01/09506000134352/10/L7?17=261231", "item_counted"},
        {"https://id.gs1.org/01/09506000134352/10/L7?17=261231", "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 2x09506000134352 @supplier>DOCK-1:inbound lot=L7 exp=2026-12-31"},
        // Another lot of the same GTIN is another line.
        {"(01)09506000134352(10)L8", "item_counted"},
        {"(01)09506000134352(10)L9", "movement_recorded", "receipt 1x09506000134352 @supplier>DOCK-1:inbound lot=L8"},
        {"CMD:DONE", "movement_recorded", "receipt 1x09506000134352 @supplier>DOCK-1:inbound lot=L9"}},
       gs1_master()},

      {"pack size: a case GTIN counts its pack_size; undo takes one case back; (37) wins",
       true,
       {kBadge,
        {"CMD:RECEIVE", "mode_changed"},
        {kCase, "item_counted"},
        {kCase, "item_counted"},
        {"CMD:UNDO", "undone"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 12x19506000134359 @supplier>DOCK-1:inbound"},
        {"(01)19506000134359(37)3", "item_counted"},
        {"CMD:CONFIRM", "movement_recorded", "receipt 3x19506000134359 @supplier>DOCK-1:inbound"},
        {"CMD:MOVE", "mode_changed"},
        {"A-01-01-1", "source_set"},
        {kCase, "item_counted"},
        {"CMD:QTY:5", "qty_set"},  // a quantity command still sets the total
        {"B-01-01-1", "movement_recorded", "move 5x19506000134359 A-01-01-1:available>B-01-01-1:available"}},
       gs1_master()},
  };
  for (const Case& c : cases) run(c);
}

TEST(Workflows, PackSizeIsRecordedSoRestoreNeedsNoMasterData) {
  const SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  Session s(o);
  s.set_master_data(gs1_master());
  for (const std::string& t : {std::string("OP:alice"), std::string("CMD:RECEIVE"), std::string(kCase),
                               std::string(kItemB), std::string(kItemB), std::string(kCase)})
    ASSERT_TRUE(s.handle(Scan{t, "", "t", kT0}).accepted()) << t;
  // Each different item committed the open line: the open line is one case (12).
  EXPECT_EQ(s.snapshot().at("pack_units"), json::parse("[[0,12]]"));
  // Restored with no master data at all (and with a catalog that says
  // otherwise): the recorded pack size decides.
  auto other = std::make_shared<MasterData>();
  for (const bool with_other : {false, true}) {
    auto r = Session::restore(o, json::parse(s.snapshot().dump()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (with_other) r->set_master_data(other);
    EXPECT_EQ(r->snapshot(), s.snapshot());
    Outcome c = r->handle(Scan{"CMD:CONFIRM", "", "t", kT0 + 1});
    ASSERT_TRUE(c.movement);
    EXPECT_EQ(c.movement->qty, 12);
  }
  // Undo after a restore without master data replays the recorded size.
  ASSERT_TRUE(s.handle(Scan{kCase, "", "t", kT0}).accepted());
  auto r = Session::restore(o, s.snapshot());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->handle(Scan{"CMD:UNDO", "", "t", kT0}).code, "undone");
  Outcome c = r->handle(Scan{"CMD:CONFIRM", "", "t", kT0 + 1});
  ASSERT_TRUE(c.movement);
  EXPECT_EQ(c.movement->qty, 12);
  // A pack size on a scan that is not an item, or of 1, does not restore.
  json bad = s.snapshot();
  bad["pack_units"] = json::parse("[[0,12],[1,1]]");
  EXPECT_FALSE(Session::restore(o, bad).ok());
  bad["pack_units"] = json::parse("[[5,12]]");
  EXPECT_FALSE(Session::restore(o, bad).ok());
}

TEST(Workflows, PinAfterBadge) {
  SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  o.require_pin = true;
  o.pins = {{"alice", "1234"}, {"bob", "998877"}};
  Session s(o);
  std::int64_t t = kT0;
  auto scan = [&](const std::string& x) { return s.handle(Scan{x, "", "t", ++t}); };
  EXPECT_EQ(scan("OP:carol").code, "no_pin");
  EXPECT_EQ(scan("PIN:1234").code, "unexpected_label");
  Outcome b = scan("OP:alice");
  EXPECT_EQ(b.code, "pin_required");
  EXPECT_EQ(b.prompt, "Scan your PIN");
  EXPECT_EQ(s.operator_id(), "");
  EXPECT_EQ(scan("CMD:MOVE").code, "pin_required");
  Outcome wrong = scan("PIN:9999");
  EXPECT_EQ(wrong.code, "wrong_pin");
  EXPECT_EQ(wrong.message.find("9999"), std::string::npos);
  EXPECT_EQ(scan("PIN:12a4").code, "unknown_label");
  // A restart between badge and PIN keeps the pending badge, never a PIN.
  auto r = Session::restore(o, s.snapshot());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prompt(), "Scan your PIN");
  EXPECT_EQ(s.snapshot().dump().find("1234"), std::string::npos);
  Outcome ok = scan("PIN:1234");
  EXPECT_EQ(ok.code, "signed_in");
  EXPECT_EQ(s.operator_id(), "alice");
  EXPECT_EQ(scan("CMD:MOVE").code, "mode_changed");
  // Another badge: alice stays until bob's PIN is right; CANCEL keeps alice.
  EXPECT_EQ(scan("OP:bob").code, "pin_required");
  EXPECT_EQ(s.operator_id(), "alice");
  EXPECT_EQ(scan("CMD:CANCEL").code, "pin_cancelled");
  EXPECT_EQ(scan("A-01-01-1").code, "source_set");
  EXPECT_EQ(s.snapshot().dump().find("1234"), std::string::npos);
  // Without require_pin a PIN label is just unexpected.
  Session plain(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  EXPECT_EQ(plain.handle(Scan{"OP:alice", "", "t", 1}).code, "signed_in");
  EXPECT_EQ(plain.handle(Scan{"PIN:1234", "", "t", 2}).code, "unexpected_label");
}

TEST(Labels, PinsAreRedacted) {
  EXPECT_EQ(redacted("PIN:1234"), "PIN:****");
  EXPECT_EQ(redacted(" pin:12 "), "PIN:****");
  EXPECT_EQ(redacted("]Q0PIN:123456"), "PIN:****");
  EXPECT_EQ(redacted("OP:alice"), "OP:alice");
  EXPECT_EQ(redacted(kGs1ExpiredRaw), kGs1ExpiredRaw);
  auto l = classify("PIN:0042");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, LabelKind::pin);
  EXPECT_EQ(l->value, "0042");
  auto bad = classify("PIN:004299999999999");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("0042"), std::string::npos);
  auto v = classify("(01)09506000134352(30)7");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->number, 7);
}

TEST(Workflows, IdleTimeoutSignsOutFirstAndSaysSo) {
  SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  o.idle_timeout_ms = 60'000;
  Session s(o);
  std::int64_t t = kT0;
  for (const char* x : {"OP:alice", "CMD:MOVE", "A-01-01-1", kItemA}) ASSERT_TRUE(s.handle(Scan{x, "", "t", t += 1000}).accepted());
  // Within the timeout: nothing happens.
  t += 60'000;
  ASSERT_TRUE(s.handle(Scan{kItemA, "", "t", t}).accepted());
  // Past it: a step scan is refused and says why; nothing changes, so the
  // next scan says the same.
  t += 60'001;
  const json before = s.snapshot();
  Outcome o1 = s.handle(Scan{kItemA, "", "t", t});
  EXPECT_EQ(o1.code, "idle_timeout");
  EXPECT_EQ(o1.feedback, Feedback::error);
  EXPECT_NE(o1.message.find("Signed out alice after 60 s idle"), std::string::npos) << o1.message;
  EXPECT_EQ(o1.prompt, "Scan your badge");
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_EQ(s.handle(Scan{"B-02-01-1", "", "t", t + 1}).code, "idle_timeout");
  // A badge signs out (dropping the open step) and in again.
  Outcome o2 = s.handle(Scan{"OP:bob", "", "t", t + 2});
  EXPECT_EQ(o2.code, "signed_in");
  EXPECT_NE(o2.message.find("Signed out alice"), std::string::npos) << o2.message;
  EXPECT_EQ(s.operator_id(), "bob");
  EXPECT_EQ(s.mode(), "idle");
  EXPECT_FALSE(s.handle(Scan{"CMD:DONE", "", "t", t + 3}).accepted());  // nothing open any more
  auto r = Session::restore(o, s.snapshot());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->snapshot(), s.snapshot());
}

TEST(Workflows, NoIdleTimeoutByDefault) {
  Session s(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  ASSERT_TRUE(s.handle(Scan{"OP:alice", "", "t", 1}).accepted());
  EXPECT_EQ(s.handle(Scan{"CMD:MOVE", "", "t", kT0}).code, "mode_changed");
  EXPECT_FALSE(s.snapshot().contains("last_scan_ms"));
}

TEST(Workflows, ExceptionsCarryTheContext) {
  Session s(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  s.set_master_data(master());
  for (const char* t : {"OP:alice", "CMD:PICK", "A-01-01-1"}) ASSERT_TRUE(s.handle(Scan{t, "", "t", 1}).accepted());
  Outcome o = s.handle(Scan{kItemB, "", "t", 42});
  ASSERT_TRUE(o.exception);
  EXPECT_EQ(o.exception->kind, "wrong_item");
  EXPECT_EQ(o.exception->mode, "pick");
  EXPECT_EQ(o.exception->expected, "04006381333931");
  EXPECT_EQ(o.exception->scanned, kItemB);
  EXPECT_EQ(o.exception->evidence, std::vector<std::string>{kItemB});
  EXPECT_EQ(o.exception->task, "TASK:17/1");
  EXPECT_EQ(o.exception->time_ms, 42);
}

// Task progress is the session's to say (issue 16: tallyd read it back out
// of the session's snapshot JSON): the current task's lines behind it, a
// finished task whole, the others untouched.
TEST(Workflows, TaskProgressFollowsThePicks) {
  Session s(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  EXPECT_TRUE(s.task_progress().empty()) << "no master data, no tasks";
  s.set_master_data(master());
  const auto of = [&s](const std::string& id) {
    for (const auto& t : s.task_progress())
      if (t.id == id) return t;
    ADD_FAILURE() << "no task " << id;
    return TaskProgress{};
  };
  EXPECT_EQ(s.task_progress().size(), 4U);
  for (const char* t : {"OP:alice", "CMD:PICK"}) ASSERT_TRUE(s.handle(Scan{t, "", "t", 1}).accepted()) << t;
  TaskProgress t17 = of("TASK:17");
  EXPECT_TRUE(t17.current);
  EXPECT_EQ(t17.type, "pick");
  EXPECT_EQ(t17.reference, "ORD:991");
  EXPECT_EQ(t17.lines, 2);
  EXPECT_EQ(t17.lines_done, 0);
  for (const char* t : {"A-01-01-1", kItemA, kItemA, kItemA, "TOTE:7"})
    ASSERT_TRUE(s.handle(Scan{t, "", "t", 2}).accepted()) << t;
  EXPECT_EQ(of("TASK:17").lines_done, 1);
  for (const char* t : {"B-02-01-1", kItemB, kItemB, "TOTE:7"}) ASSERT_TRUE(s.handle(Scan{t, "", "t", 3}).accepted()) << t;
  t17 = of("TASK:17");
  EXPECT_TRUE(t17.done);
  EXPECT_EQ(t17.lines_done, 2);
  EXPECT_FALSE(t17.current);
  EXPECT_FALSE(of("TASK:18").current);
  for (const char* t : {"CMD:DONE", "CMD:PICK"}) ASSERT_TRUE(s.handle(Scan{t, "", "t", 4}).accepted()) << t;
  EXPECT_TRUE(of("TASK:18").current) << "the next open pick task";
  EXPECT_TRUE(of("TASK:17").done) << "a finished task stays finished";
  EXPECT_FALSE(of("TASK:30").current || of("TASK:30").done);
  EXPECT_EQ(of("TASK:30").lines_done, 0);
}

TEST(Workflows, HalfDoneTaskPickResumesWithoutMasterData) {
  Session s(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  s.set_master_data(master());
  for (const char* t : {"OP:alice", "CMD:PICK", "A-01-01-1", kItemA, "CMD:REASON:SHORT", "CMD:CONFIRM"})
    ASSERT_TRUE(s.handle(Scan{t, "", "t", 1}).accepted()) << t;
  auto r = Session::restore(SessionOptions{"hh-01", "site-a", "DOCK-1"}, json::parse(s.snapshot().dump()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->snapshot(), s.snapshot());
  EXPECT_EQ(r->prompt(), "Scan the tote");
  Outcome a = s.handle(Scan{"TOTE:4", "", "t", 9});
  Outcome b = r->handle(Scan{"TOTE:4", "", "t", 9});
  ASSERT_TRUE(a.movement && b.movement);
  EXPECT_EQ(*a.movement, *b.movement);
  EXPECT_EQ(b.movement->evidence,
            (std::vector<std::string>{"A-01-01-1", kItemA, "CMD:REASON:SHORT", "CMD:CONFIRM", "TOTE:4"}));
  ASSERT_TRUE(b.exception);
  EXPECT_EQ(b.exception->kind, "short_pick");

  // A count in progress and a finished task round-trip too.
  auto again = Session::restore(SessionOptions{"hh-01", "site-a", "DOCK-1"}, s.snapshot());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->snapshot(), s.snapshot());
  // A pick context in a move snapshot is refused.
  json bad = s.snapshot();
  bad["mode"] = "move";
  EXPECT_FALSE(Session::restore(SessionOptions{"hh-01", "site-a", "DOCK-1"}, bad).ok());
}

TEST(Workflows, OpenCountRoundTrips) {
  Session s(SessionOptions{"hh-01", "site-a", "DOCK-1"});
  for (const char* t : {"OP:alice", "CMD:COUNT", "A-01-01-1", kItemA, "CMD:CONFIRM", kItemB})
    ASSERT_TRUE(s.handle(Scan{t, "", "t", 1}).accepted()) << t;
  auto r = Session::restore(SessionOptions{"hh-01", "site-a", "DOCK-1"}, s.snapshot());
  ASSERT_TRUE(r.ok()) << r.error().message;
  Outcome o = r->handle(Scan{"CMD:CONFIRM", "", "t", 2});
  ASSERT_TRUE(o.movement);
  EXPECT_EQ(o.movement->from.location.code, "A-01-01-1");
  EXPECT_EQ(o.movement->item.gtin, kItemB);
}

TEST(LotRules, WrongAndExpiredLots) {
  TaskLine fefo;
  fefo.lot = "L42";
  fefo.lot_rule = "fefo";
  TaskLine any = fefo;
  any.lot_rule = "any";
  Item item;
  item.gtin = "04006381333931";
  EXPECT_EQ(lot_problem(fefo, item, kT0), std::nullopt);  // no lot on the scan: nothing to check
  item.lot = "L42";
  EXPECT_EQ(lot_problem(fefo, item, kT0), std::nullopt);
  item.lot = "L43";
  EXPECT_EQ(lot_problem(fefo, item, kT0), "wrong_lot");
  EXPECT_EQ(lot_problem(any, item, kT0), std::nullopt);
  item.expiry = "2023-11-13";  // the day before kT0
  EXPECT_EQ(lot_problem(any, item, kT0), "expired_lot");
  item.expiry = "2023-11-14";  // expires today: still good
  EXPECT_EQ(lot_problem(any, item, kT0), std::nullopt);
}

TEST(LotRules, IsoDate) {
  EXPECT_EQ(iso_date(0), "1970-01-01");
  EXPECT_EQ(iso_date(kT0), "2023-11-14");
  EXPECT_EQ(iso_date(951'782'400'000), "2000-02-29");
  EXPECT_EQ(iso_date(-1), "1969-12-31");
}

TEST(Totes, AreLocations) {
  auto l = Location::parse("tote:17");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->code, "TOTE:17");
  EXPECT_FALSE(Location::parse("TOTE:").ok());
  EXPECT_FALSE(Location::parse("TOTE:a b").ok());
}

// A site's own label grammar reaches every scan of the session: bins like
// 12.345, "|" typed for GS by a keyboard wedge, purchase orders as BE:…
TEST(Workflows, SiteLabelGrammarRunsAMoveAndAReceiptWithLot) {
  SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  o.labels.bin_regex = R"(^[0-9]{2}\.[0-9]{3}$)";
  o.labels.gs1.gs_substitutes = {"|"};
  o.labels.gs1.reference_year = 2026;
  o.labels.documents.purchase_order = {"BE:"};
  Session s(o);
  std::int64_t t = kT0;
  auto scan = [&](const std::string& x) { return s.handle(Scan{x, "", "t", ++t}); };
  for (const char* x : {"OP:alice", "CMD:MOVE"}) ASSERT_TRUE(scan(x).accepted()) << x;
  EXPECT_EQ(scan("A-01-01-1").code, "unknown_label");  // the default bin grammar is off
  EXPECT_EQ(scan("12.345").code, "source_set");
  EXPECT_EQ(scan(kItemA).code, "item_counted");
  EXPECT_EQ(scan(kItemA).code, "item_counted");
  // Half a move survives a restore with the same grammar.
  auto restored = Session::restore(o, json::parse(s.snapshot().dump()));
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  Outcome moved = restored->handle(Scan{"12.346", "", "t", ++t});
  ASSERT_TRUE(moved.movement) << moved.code << ": " << moved.message;
  EXPECT_EQ(summary(*moved.movement), "move 2x04006381333931 12.345:available>12.346:available");
  EXPECT_TRUE(validate(*moved.movement).ok());

  s = std::move(*restored);
  for (const char* x : {"CMD:DONE", "CMD:RECEIVE"}) ASSERT_TRUE(scan(x).accepted()) << x;
  EXPECT_EQ(scan("PO:4500012").code, "unknown_label");  // PO: is not this site's prefix
  EXPECT_EQ(scan("BE:4500012").code, "reference_set");
  EXPECT_EQ(scan("010950600013435210LOT42|17261231").code, "item_counted");
  Outcome r = scan("CMD:CONFIRM");
  ASSERT_TRUE(r.movement) << r.code << ": " << r.message;
  EXPECT_EQ(summary(*r.movement),
            "receipt 1x09506000134352 @supplier>DOCK-1:inbound ref=BE:4500012 lot=LOT42 exp=2026-12-31");
  // With the default substitutes gone, "<GS>" is data, not a separator.
  EXPECT_NE(scan("010950600013435210LOT42<GS>17261231").code, "item_counted");
}

std::shared_ptr<const MasterData> sku_master() {
  auto m = std::make_shared<MasterData>();
  const json catalog = {{"v", 1},
                        {"version", 4},
                        {"items",
                         {{{"sku", "WIDGET-9"}, {"description", "SKU only"}},
                          {{"gtin", "04006381333931"}, {"sku", "SKU-A"}},
                          {{"gtin", "9506000134352"}, {"sku", "SKU-C"}},  // a GTIN-13 as a catalog may hold it
                          {{"sku", "OP:bob"}}}}};
  EXPECT_TRUE(apply_master_data("catalog", catalog, *m).ok());
  return m;
}

// A catalog SKU whose catalog GTIN is written with 13 digits moves under the
// 14 digits a barcode scan gives, and the session restores (the snapshot
// only holds 14-digit GTINs).
TEST(Workflows, CatalogSkuTakesTheFourteenDigitGtin) {
  const SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  Session s(o);
  s.set_master_data(sku_master());
  std::int64_t t = kT0;
  auto scan = [&](const std::string& x) { return s.handle(Scan{x, "", "t", ++t}); };
  for (const char* x : {"OP:alice", "CMD:MOVE", "A-01-01-1", "SKU-C"}) ASSERT_TRUE(scan(x).accepted()) << x;
  auto r = Session::restore(o, json::parse(s.snapshot().dump()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  Outcome m = scan("B-02-01-1");
  ASSERT_TRUE(m.movement) << m.code;
  EXPECT_EQ(m.movement->item.gtin, "09506000134352");
}

// A scan of a catalog SKU is an item with that SKU, and restore replays it
// without the master data (snapshot "catalog_skus").
TEST(Workflows, CatalogSkuIsAnItemAndRestoresWithoutMasterData) {
  const SessionOptions o{"hh-01", "site-a", "DOCK-1"};
  Session s(o);
  std::int64_t t = kT0;
  auto scan = [&](const std::string& x) { return s.handle(Scan{x, "", "t", ++t}); };
  for (const char* x : {"OP:alice", "CMD:MOVE", "A-01-01-1"}) ASSERT_TRUE(scan(x).accepted()) << x;
  EXPECT_EQ(scan("WIDGET-9").code, "unknown_label");  // no catalog yet
  s.set_master_data(sku_master());
  EXPECT_EQ(scan("WIDGET-9").code, "item_counted");
  EXPECT_EQ(scan("]C0WIDGET-9").code, "item_counted");  // as a frame's Code 128 arrives
  EXPECT_EQ(scan("widget-9").code, "unknown_label");     // SKUs match exactly
  EXPECT_EQ(s.snapshot().at("catalog_skus"), json::parse(R"([[1,""],[2,""]])"));
  // Restored with no master data, or with a catalog that no longer has it.
  for (const bool with_empty : {false, true}) {
    auto r = Session::restore(o, json::parse(s.snapshot().dump()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (with_empty) r->set_master_data(std::make_shared<MasterData>());
    EXPECT_EQ(r->snapshot(), s.snapshot());
    EXPECT_EQ(r->handle(Scan{"CMD:UNDO", "", "t", ++t}).code, "undone");
    EXPECT_EQ(r->snapshot().at("catalog_skus"), json::parse(R"([[1,""]])"));
    Outcome m = r->handle(Scan{"B-02-01-1", "", "t", ++t});
    ASSERT_TRUE(m.movement) << m.code << ": " << m.message;
    EXPECT_EQ(summary(*m.movement), "move 1xWIDGET-9 A-01-01-1:available>B-02-01-1:available");
  }
  Outcome m = scan("B-02-01-1");
  ASSERT_TRUE(m.movement) << m.code << ": " << m.message;
  EXPECT_EQ(summary(*m.movement), "move 2xWIDGET-9 A-01-01-1:available>B-02-01-1:available");
  EXPECT_EQ(m.movement->item.sku, "WIDGET-9");
  EXPECT_TRUE(m.movement->item.gtin.empty());
  EXPECT_TRUE(validate(*m.movement).ok());
  EXPECT_FALSE(s.snapshot().contains("catalog_skus"));
  // A SKU that has a GTIN in the catalog moves under that GTIN; a SKU
  // spelled like a badge is still a badge.
  EXPECT_EQ(scan("A-01-01-1").code, "source_set");
  EXPECT_EQ(scan("SKU-A").code, "item_counted");
  EXPECT_EQ(s.snapshot().at("catalog_skus"), json::parse(R"([[1,"04006381333931"]])"));
  Outcome a = scan("B-02-01-1");
  ASSERT_TRUE(a.movement);
  EXPECT_EQ(a.movement->item.gtin, "04006381333931");
  EXPECT_EQ(a.movement->item.sku, "SKU-A");
  EXPECT_EQ(scan("OP:bob").code, "signed_in");
  // A recorded SKU on a scan that is not one does not restore.
  ASSERT_TRUE(scan("A-01-01-1").accepted());
  json bad = s.snapshot();
  bad["catalog_skus"] = json::parse(R"([[0,""]])");
  EXPECT_FALSE(Session::restore(o, bad).ok());
  bad["catalog_skus"] = json::parse(R"([[3,""]])");
  EXPECT_FALSE(Session::restore(o, bad).ok());
}

}  // namespace
}  // namespace tally::scanner

namespace tally::scanner {
namespace {

// A pallet SSCC scanned while receiving against an ASN receives every line
// that arrives on it (one receipt each, all or nothing); a pallet label that
// names its contents is received without an ASN; an unknown pallet is
// refused and changes nothing; the open receipt restores exactly.
TEST(Workflows, PalletSsccExpandsToItsAsnLines) {
  constexpr const char* kMixed = "106141411234567897";
  constexpr const char* kSingle = "009506000134000015";
  auto md = std::make_shared<MasterData>();
  const json tasks = {
      {"v", 1},
      {"version", 1},
      {"tasks",
       {{{"id", "TASK:40"},
         {"type", "receive"},
         {"reference", "ASN:77"},
         {"lines",
          {{{"line", 1}, {"gtin", "04006381333931"}, {"qty", 24}, {"sscc", kMixed}},
           {{"line", 2}, {"gtin", "09506000134352"}, {"qty", 10}, {"lot", "L7"}, {"sscc", kMixed}},
           {{"line", 3}, {"gtin", "09506000134352"}, {"qty", 5}, {"sscc", kSingle}}}}}}}};
  ASSERT_TRUE(apply_master_data("tasks", tasks, *md).ok());
  EXPECT_FALSE(apply_master_data("tasks", json{{"v", 1}, {"version", 2}, {"tasks", {{{"id", "TASK:41"},
                                                                                     {"type", "receive"},
                                                                                     {"lines", {{{"line", 1},
                                                                                                 {"gtin", "04006381333931"},
                                                                                                 {"qty", 1},
                                                                                                 {"sscc", "123"}}}}}}}},
                                   *md)
                   .ok());
  const SessionOptions options{"hh-01", "site-a", "DOCK-1"};
  Session s(options);
  s.set_master_data(md);
  std::int64_t now = kT0;
  const auto scan = [&](const std::string& text) { return s.handle(Scan{text, "", "test", ++now}); };
  ASSERT_EQ(scan("OP:alice").code, "signed_in");
  ASSERT_EQ(scan("CMD:RECEIVE").code, "mode_changed");
  ASSERT_EQ(scan("ASN:77").code, "reference_set");

  Outcome o = scan(std::string("(00)") + kMixed);
  ASSERT_EQ(o.code, "movement_recorded") << o.message;
  EXPECT_EQ(o.feedback, Feedback::good) << o.message;
  ASSERT_TRUE(o.movement);
  ASSERT_EQ(o.more_movements.size(), 1U);
  EXPECT_EQ(summary(*o.movement), "receipt 24x04006381333931 @supplier>DOCK-1:inbound ref=ASN:77");
  EXPECT_EQ(summary(o.more_movements[0]), "receipt 10x09506000134352 @supplier>DOCK-1:inbound ref=ASN:77 lot=L7");
  for (const Movement& m : {*o.movement, o.more_movements[0]}) {
    EXPECT_TRUE(validate(m).ok());
    EXPECT_EQ(m.evidence, (std::vector<std::string>{"ASN:77", std::string("(00)") + kMixed}));
  }

  // An unknown pallet: refused, nothing changes.
  const json before = s.snapshot();
  o = scan("009506000134000022");
  EXPECT_EQ(o.code, "unknown_pallet");
  EXPECT_EQ(o.feedback, Feedback::error);
  EXPECT_FALSE(o.movement);
  EXPECT_EQ(s.snapshot(), before);
  // A tote is not a pallet.
  EXPECT_EQ(scan("TOTE:5").code, "unexpected_label");

  // The session (with what the ASN has received) survives a restart.
  auto restored = Session::restore(options, s.snapshot());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  restored->set_master_data(md);
  EXPECT_EQ(restored->snapshot(), s.snapshot());
  s = std::move(*restored);

  o = scan(kSingle);  // the bare 18 digits, as a wedge scanner types them
  ASSERT_EQ(o.code, "movement_recorded") << o.message;
  EXPECT_EQ(summary(*o.movement), "receipt 5x09506000134352 @supplier>DOCK-1:inbound ref=ASN:77");
  EXPECT_TRUE(o.more_movements.empty());
  o = scan("CMD:DONE");
  EXPECT_EQ(o.code, "receipt_done");
  EXPECT_FALSE(o.exception) << o.exception->kind;  // every line arrived: no under-receipt
  // One CORRECT does not take back one line of a pallet.
  ASSERT_EQ(scan(std::string("(00)") + kMixed).code, "unknown_pallet");  // no ASN open any more
  ASSERT_EQ(scan("ASN:77").code, "reference_set");
  ASSERT_EQ(scan(std::string("(00)") + kMixed).code, "movement_recorded");
  EXPECT_EQ(scan("CMD:CORRECT").code, "nothing_to_correct");
  ASSERT_EQ(scan("CMD:DONE").code, "receipt_done");

  // Blind: a pallet label naming its contents ((02) + (37)).
  o = scan("(00)009506000134000039(02)04006381333931(37)12(10)B1");
  ASSERT_EQ(o.code, "movement_recorded") << o.message;
  EXPECT_EQ(summary(*o.movement), "receipt 12x04006381333931 @supplier>DOCK-1:inbound lot=B1");
  // A new receipt against the ASN (after DONE) counts afresh.
  ASSERT_EQ(scan("ASN:77").code, "reference_set");
  o = scan(kSingle);
  EXPECT_EQ(o.code, "movement_recorded");
  // The mixed pallet scanned twice: both of its lines are over-received,
  // and the one exception names both (neither finding is lost).
  ASSERT_EQ(scan(std::string("(00)") + kMixed).code, "movement_recorded");
  o = scan(std::string("(00)") + kMixed);
  ASSERT_EQ(o.code, "movement_recorded");
  EXPECT_EQ(o.feedback, Feedback::warning);
  ASSERT_TRUE(o.exception);
  EXPECT_EQ(o.exception->kind, "over_receipt");
  EXPECT_NE(o.exception->expected.find("04006381333931"), std::string::npos) << o.exception->expected;
  EXPECT_NE(o.exception->expected.find("09506000134352"), std::string::npos) << o.exception->expected;
}

}  // namespace
}  // namespace tally::scanner
