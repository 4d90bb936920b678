// return: (order) → item(s) → reason → returns location; the goods come
// back from @customer in state returned.
#include "session/steps.hpp"

namespace tally::scanner::workflow {

namespace {

Outcome to_returns_location(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  if (!s.item) return fail("no_item", "Scan the returned item first");
  if (s.reason.empty()) return fail("reason_required", "Scan a REASON for the return first");
  std::vector<std::string> ev = s.evidence;
  ev.push_back(text);
  auto m = make_movement(s, MovementType::return_, {kCustomer, std::nullopt}, {l.location, StockState::returned},
                         std::move(ev), time_ms);
  if (!m) return fail(m.error());
  Outcome o = good("movement_recorded", "Returned " + qty_text(s.qty, *s.item) + " to " + l.location.code);
  o.movement = std::move(*m);
  clear_all(s);
  return o;
}

Outcome return_step(State& s, const Label& l, const std::string& text, std::int64_t time_ms) {
  switch (l.kind) {
    case LabelKind::document:
      if (l.document != DocumentKind::order) return fail("unexpected_label", "Scan the order (ORD:) returned");
      if (s.item) return fail("step_open", "Scan the order before the items");
      s.ctx.reference = l.value;
      s.evidence.push_back(text);
      return good("reference_set", "Return of " + l.value);
    case LabelKind::item:
      return same_item(s, l, text, time_ms, "return line");
    case LabelKind::location:
      return to_returns_location(s, l, text, time_ms);
    default:
      return shared_label(s, l, text);
  }
}

Outcome return_confirm(State& s, const std::string&, std::int64_t) {
  if (!s.evidence.empty()) return fail("incomplete_step", "Scan the returns location to finish");
  return fail("nothing_to_confirm", "Nothing to confirm");
}

std::string return_prompt(const State& s) {
  if (s.qty == 0) return "Scan returned item or order";
  if (s.reason.empty()) return "Scan item, quantity or reason";
  return "Scan item, quantity or returns location";
}

}  // namespace

constinit const Workflow kReturn{
    .mode = Mode::return_,
    .name = "return",
    .step = return_step,
    .confirm = return_confirm,
    .prompt = return_prompt,
    .reason_checked = true,
};

}  // namespace tally::scanner::workflow
