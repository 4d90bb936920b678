// damage, hold, release: bin → item(s) → (reason) → CONFIRM; the goods
// change state in place (damaged, quality_hold, available). Damage and hold
// need a reason; CMD:STATE says the state the goods leave (default
// available; release: quality_hold).
#include "session/steps.hpp"

namespace tally::scanner::workflow {

namespace {

Outcome in_place_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  switch (l.kind) {
    case LabelKind::location:
      if (s.from) return fail("step_open", "Bin " + s.from->code + " is set: scan the item or CANCEL");
      s.from = l.location;
      s.evidence.push_back(text);
      return good("source_set", "Bin " + l.location.code);
    case LabelKind::item:
      if (!s.from) return fail("no_bin", "Scan the bin first");
      return same_item(s, l, text, time_ms, "movement");
    default:
      return shared_label(s, l, text);
  }
}

Outcome in_place_confirm(State& s, const std::string& text, std::int64_t time_ms) {
  const Workflow& w = workflow_of(s);
  if (!s.item) return fail(s.evidence.empty() ? "nothing_to_confirm" : "no_item", "Scan the bin and the item");
  if (w.reason_required && s.reason.empty()) return fail("reason_required", "Scan a REASON first");
  const char* verb = s.mode == Mode::damage ? "Damaged " : s.mode == Mode::hold ? "On hold: " : "Released ";
  std::vector<std::string> ev = s.evidence;
  ev.push_back(text);
  auto m = make_movement(s, *w.state_movement, {*s.from, goods_state(s)}, {*s.from, *w.state_to}, std::move(ev),
                         time_ms);
  if (!m) return fail(m.error());
  Outcome o = good("movement_recorded", verb + qty_text(s.qty, *s.item) + " in " + s.from->code);
  o.movement = std::move(*m);
  next_step(s);
  return o;
}

std::string in_place_prompt(const State& s) {
  if (!s.from) return "Scan bin" + state_note(s);
  if (s.qty == 0) return "Scan item" + state_note(s);
  if (workflow_of(s).reason_required && s.reason.empty()) return "Scan item, quantity or reason";
  return "Scan item, quantity or CONFIRM";
}

}  // namespace

constinit const Workflow kDamage{
    .mode = Mode::damage,
    .name = "damage",
    .step = in_place_step,
    .confirm = in_place_confirm,
    .prompt = in_place_prompt,
    .reason_checked = true,
    .reason_required = true,
    .state_movement = MovementType::damage,
    .state_to = StockState::damaged,
};

constinit const Workflow kHold{
    .mode = Mode::hold,
    .name = "hold",
    .step = in_place_step,
    .confirm = in_place_confirm,
    .prompt = in_place_prompt,
    .reason_checked = true,
    .reason_required = true,
    .state_movement = MovementType::hold,
    .state_to = StockState::quality_hold,
};

constinit const Workflow kRelease{
    .mode = Mode::release,
    .name = "release",
    .step = in_place_step,
    .confirm = in_place_confirm,
    .prompt = in_place_prompt,
    .reason_checked = true,
    .state_movement = MovementType::release,
    .state_to = StockState::available,
    .goods_default = StockState::quality_hold,
};

}  // namespace tally::scanner::workflow
